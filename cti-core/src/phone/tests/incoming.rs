//! Incoming calls: ringing, answer with the offerer's first common codec, reject, CANCEL,
//! late offer, unusable offers, a second call while one is up.

use super::*;
use crate::media::codec::G711;

/// Delivers an incoming INVITE; returns its call and the server's side of the dialog.
fn ring(h: &mut Harness, call_id: &str, body: Option<&str>) -> (CallId, Request, Peer) {
    let (invite, mut peer) = incoming_invite(call_id, body);
    h.deliver_request(&invite);
    let r = h.sent_responses();
    let statuses: Vec<u16> = r.iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![100, 180]);
    peer.our_tag = r[1].to_tag().unwrap();
    let ev = h.take_events();
    let id = match ev.as_slice() {
        [UaEvent::IncomingCall { call, remote }] => {
            assert_eq!(remote.number, "202");
            assert_eq!(remote.display.as_deref(), Some("Bob"));
            *call
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(h.ua.call_state(id), Some(CallState::Incoming));
    (id, invite, peer)
}

#[test]
fn an_incoming_call_is_answered_and_the_caller_hangs_up() {
    let mut h = Harness::new();
    let (id, invite, mut peer) = ring(&mut h, "in1", Some(&sdp(21000, "8 0 101", "sendrecv")));
    h.ua.answer(h.now, id, addr(RTP)).unwrap();
    let ok = h.sent_responses().pop().unwrap();
    assert_eq!(ok.status, 200);
    assert_eq!(ok.to_tag().as_deref(), Some(peer.our_tag.as_str()));
    assert_eq!(ok.contact().unwrap().uri, format!("sip:201@{LOCAL}"));
    let answer = body_sdp(&ok.body);
    assert_eq!(
        answer.media[0].formats,
        vec!["8", "101"],
        "the offerer's first codec"
    );
    assert_eq!(answer.media[0].port, 30000);
    let ev = h.take_events();
    assert!(has_event(&ev, |e| *e
        == UaEvent::CallState {
            call: id,
            state: CallState::Connected
        }));
    let m = media_of(&ev).unwrap();
    assert_eq!(m.codec.law, G711::Pcma);
    assert_eq!(m.remote, Some(addr("10.0.0.1:21000")));

    // The ACK stops the 2xx retransmissions; no timeout later.
    let mut ack = peer.request(Method::Ack, None);
    ack.headers.set("CSeq", format!("{} ACK", invite.cseq().0));
    peer.cseq -= 1;
    h.deliver_request(&ack);
    h.advance(Duration::from_secs(40));
    assert!(h.sent().is_empty());
    assert_eq!(h.ua.call_state(id), Some(CallState::Connected));

    h.deliver_request(&peer.request(Method::Bye, None));
    assert_eq!(h.sent_responses()[0].status, 200);
    assert!(has_event(&h.take_events(), |e| *e
        == UaEvent::CallState {
            call: id,
            state: CallState::Ended(EndReason::RemoteHangup)
        }));
}

#[test]
fn an_answer_never_acknowledged_is_hung_up() {
    let mut h = Harness::new();
    let (id, _, _) = ring(&mut h, "in2", Some(&sdp(21000, "0", "sendrecv")));
    h.ua.answer(h.now, id, addr(RTP)).unwrap();
    h.sent();
    h.advance(Duration::from_secs(33));
    let sent = h.sent();
    assert!(sent
        .iter()
        .any(|m| matches!(m, SipMessage::Request(r) if r.method == Method::Bye)));
    assert!(has_event(&h.take_events(), |e| *e
        == UaEvent::CallState {
            call: id,
            state: CallState::Ended(EndReason::Timeout)
        }));
}

#[test]
fn reject_and_cancel() {
    let mut h = Harness::new();
    let (id, _, _) = ring(&mut h, "in3", Some(&sdp(21000, "0", "sendrecv")));
    h.ua.reject(h.now, id).unwrap();
    assert_eq!(h.sent_responses()[0].status, 486);
    assert!(has_event(&h.take_events(), |e| *e
        == UaEvent::CallState {
            call: id,
            state: CallState::Ended(EndReason::Rejected)
        }));
    assert_eq!(
        h.ua.answer(h.now, id, addr(RTP)),
        Err(CallError::NoSuchCall(id))
    );

    let (id, invite, _) = ring(&mut h, "in4", Some(&sdp(21000, "0", "sendrecv")));
    let cancel = String::from_utf8(invite.to_bytes())
        .unwrap()
        .replacen("INVITE sip", "CANCEL sip", 1)
        .replace("1 INVITE", "1 CANCEL")
        .replace("Content-Type: application/sdp\r\n", "");
    let cancel = cancel.split("\r\n\r\n").next().unwrap().replace(
        &format!("Content-Length: {}", invite.body.len()),
        "Content-Length: 0",
    ) + "\r\n\r\n";
    h.deliver(cancel.as_bytes());
    let statuses: Vec<u16> = h.sent_responses().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![200, 487]);
    assert!(has_event(&h.take_events(), |e| *e
        == UaEvent::CallState {
            call: id,
            state: CallState::Ended(EndReason::Cancelled)
        }));
}

#[test]
fn an_offer_without_a_codec_we_speak_is_refused_with_488() {
    let mut h = Harness::new();
    let (invite, _) = incoming_invite("in5", Some(&sdp(21000, "9", "sendrecv")));
    h.deliver_request(&invite);
    let statuses: Vec<u16> = h.sent_responses().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![100, 488]);
    assert!(h.take_events().is_empty());
}

#[test]
fn a_late_offer_is_answered_in_the_ack() {
    let mut h = Harness::new();
    let (id, invite, mut peer) = ring(&mut h, "in6", None);
    h.ua.answer(h.now, id, addr(RTP)).unwrap();
    let ok = h.sent_responses().pop().unwrap();
    let offer = body_sdp(&ok.body);
    assert_eq!(offer.media[0].formats, vec!["0", "8", "111", "101"]);
    assert!(
        media_of(&h.take_events()).is_none(),
        "no media before the answer"
    );
    let mut ack = peer.request(Method::Ack, Some(&sdp(21000, "8 101", "sendrecv")));
    ack.headers.set("CSeq", format!("{} ACK", invite.cseq().0));
    h.deliver_request(&ack);
    let m = media_of(&h.take_events()).unwrap();
    assert_eq!(m.codec.law, G711::Pcma);
    assert!(m.send && m.recv);
}

#[test]
fn a_second_call_rings_while_the_first_is_up() {
    let mut h = Harness::new();
    let (first, invite, mut peer) = ring(&mut h, "cw1", Some(&sdp(21000, "0", "sendrecv")));
    h.ua.answer(h.now, first, addr(RTP)).unwrap();
    let mut ack = peer.request(Method::Ack, None);
    ack.headers.set("CSeq", format!("{} ACK", invite.cseq().0));
    h.deliver_request(&ack);
    h.sent();
    h.take_events();

    let (second, _, _) = ring(&mut h, "cw2", Some(&sdp(21002, "0", "sendrecv")));
    assert_ne!(first, second);
    assert_eq!(h.ua.active_calls(), vec![first, second]);
    // The user holds the first and takes the second.
    h.ua.hold(h.now, first).unwrap();
    let reinvite = h.one_request();
    assert_eq!(reinvite.call_id(), "cw1");
    h.ua.answer(h.now, second, addr("10.0.0.2:30002")).unwrap();
    assert_eq!(h.sent_responses().pop().unwrap().status, 200);
    assert_eq!(h.ua.call_state(first), Some(CallState::Connected));
    assert_eq!(h.ua.call_state(second), Some(CallState::Connected));
}

#[test]
fn invites_from_anyone_but_the_server_are_ignored() {
    let mut h = Harness::new();
    let (invite, _) = incoming_invite("ghost", Some(&sdp(21000, "0", "sendrecv")));
    h.ua.handle_datagram(h.now, addr("203.0.113.9:5060"), &invite.to_bytes());
    h.ua.handle_datagram(h.now, addr("10.0.0.1:5099"), &invite.to_bytes());
    assert!(h.sent().is_empty());
    assert!(h.take_events().is_empty());
    assert_eq!(h.ua.foreign_datagrams(), 2);
}
