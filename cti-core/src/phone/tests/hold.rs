//! Hold and resume, by us and by the far end; glare.

use super::*;

/// An answered outgoing call; the server's side of its dialog.
fn connected(h: &mut Harness) -> (CallId, Request, Peer) {
    let id = h.ua.call(h.now, "202", addr(RTP)).unwrap();
    let invite = h.one_request();
    h.deliver_response(&with_sdp(
        reply(&invite, 200, "OK"),
        &sdp(20000, "0 101", "sendrecv"),
    ));
    h.sent();
    h.take_events();
    let peer = Peer {
        call_id: invite.call_id().to_string(),
        our_tag: invite.from_tag().unwrap(),
        their_tag: "srv".into(),
        cseq: 100,
        branch: 0,
    };
    (id, invite, peer)
}

fn origin_version(body: &[u8]) -> u64 {
    let s = body_sdp(body);
    let o = &s.session.iter().find(|(k, _)| *k == 'o').unwrap().1;
    o.split_whitespace().nth(2).unwrap().parse().unwrap()
}

#[test]
fn hold_and_resume_by_reinvite() {
    let mut h = Harness::new();
    let (id, invite, _) = connected(&mut h);
    h.ua.hold(h.now, id).unwrap();
    let hold = h.one_request();
    assert_eq!(hold.method, Method::Invite);
    assert_eq!(hold.cseq().0, invite.cseq().0 + 1);
    assert_eq!(hold.to_tag().as_deref(), Some("srv"));
    let offer = body_sdp(&hold.body);
    assert!(offer.is_hold(0));
    assert!(origin_version(&hold.body) > origin_version(&invite.body));
    // Nothing changes until the answer.
    assert!(h.take_events().is_empty());
    h.deliver_response(&with_sdp(
        reply(&hold, 200, "OK"),
        &sdp(20000, "0 101", "recvonly"),
    ));
    assert_eq!(h.one_request().method, Method::Ack);
    let ev = h.take_events();
    assert!(has_event(&ev, |e| *e
        == UaEvent::Hold {
            call: id,
            local: true,
            remote: false
        }));
    let m = media_of(&ev).unwrap();
    assert!(!m.send && !m.recv);

    h.ua.resume(h.now, id).unwrap();
    let resume = h.one_request();
    assert!(!body_sdp(&resume.body).is_hold(0));
    assert!(origin_version(&resume.body) > origin_version(&hold.body));
    h.deliver_response(&with_sdp(
        reply(&resume, 200, "OK"),
        &sdp(20000, "0 101", "sendrecv"),
    ));
    let ev = h.take_events();
    assert!(has_event(&ev, |e| *e
        == UaEvent::Hold {
            call: id,
            local: false,
            remote: false
        }));
    assert!(media_of(&ev).is_some_and(|m| m.send && m.recv));
}

#[test]
fn hold_and_resume_while_a_reinvite_is_pending_are_sent_in_turn() {
    let mut h = Harness::new();
    let (id, _, _) = connected(&mut h);
    h.ua.hold(h.now, id).unwrap();
    let hold = h.one_request();
    h.ua.resume(h.now, id).unwrap();
    assert!(h.sent_requests().is_empty(), "one offer at a time");
    h.deliver_response(&with_sdp(
        reply(&hold, 200, "OK"),
        &sdp(20000, "0", "recvonly"),
    ));
    let sent = h.sent_requests();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].method, Method::Ack);
    assert!(!body_sdp(&sent[1].body).is_hold(0));
}

#[test]
fn the_far_end_holds_us() {
    let mut h = Harness::new();
    let (id, _, mut peer) = connected(&mut h);
    h.deliver_request(&peer.request(Method::Invite, Some(&sdp(20000, "0 101", "sendonly"))));
    let ok = h.sent_responses().pop().unwrap();
    assert_eq!(ok.status, 200);
    let answer = body_sdp(&ok.body);
    assert_eq!(answer.direction(0), sip_core::sdp::Direction::RecvOnly);
    let ev = h.take_events();
    assert!(has_event(&ev, |e| *e
        == UaEvent::Hold {
            call: id,
            local: false,
            remote: true
        }));
    let m = media_of(&ev).unwrap();
    assert!(!m.send && m.recv);
    // Resumed at a new relay address.
    h.deliver_request(&peer.request(Method::Invite, Some(&sdp(20010, "0 101", "sendrecv"))));
    assert_eq!(h.sent_responses().pop().unwrap().status, 200);
    let m = media_of(&h.take_events()).unwrap();
    assert!(m.send && m.recv);
    assert_eq!(m.remote, Some(addr("10.0.0.1:20010")));
    // An unusable offer keeps the call as it is.
    h.deliver_request(&peer.request(Method::Invite, Some(&sdp(20010, "9", "sendrecv"))));
    assert_eq!(h.sent_responses().pop().unwrap().status, 488);
    assert_eq!(h.ua.call_state(id), Some(CallState::Connected));
}

#[test]
fn glare_is_retried_after_a_random_wait() {
    let mut h = Harness::new();
    let (id, _, mut peer) = connected(&mut h);
    h.ua.hold(h.now, id).unwrap();
    let hold = h.one_request();
    // Their re-INVITE crosses ours: we refuse it, they refuse ours.
    h.deliver_request(&peer.request(Method::Invite, Some(&sdp(20000, "0", "sendrecv"))));
    assert_eq!(h.sent_responses().pop().unwrap().status, 491);
    h.deliver_response(&reply(&hold, 491, "Request Pending"));
    assert_eq!(h.one_request().method, Method::Ack);
    h.advance(Duration::from_millis(2000));
    assert!(h.sent_requests().is_empty());
    h.advance(Duration::from_millis(2000));
    let again = h.sent_requests().remove(0);
    assert_eq!(again.method, Method::Invite);
    assert!(body_sdp(&again.body).is_hold(0));
    assert!(again.cseq().0 > hold.cseq().0);
}

#[test]
fn hold_is_refused_on_a_call_not_connected() {
    let mut h = Harness::new();
    let id = h.ua.call(h.now, "202", addr(RTP)).unwrap();
    assert!(matches!(
        h.ua.hold(h.now, id),
        Err(CallError::InvalidState { action: "hold", .. })
    ));
    assert_eq!(
        h.ua.resume(h.now, CallId(99)),
        Err(CallError::NoSuchCall(CallId(99)))
    );
}
