//! Outgoing calls: offer, 407, ringing, answer, ACK, BYE, CANCEL, refusals, timeouts.

use super::*;
use crate::media::codec::G711;

/// Places a call to 202 through a 407 round; returns the authorised INVITE.
fn dial(h: &mut Harness) -> (CallId, Request) {
    let id = h.ua.call(h.now, "202", addr(RTP)).unwrap();
    let first = h.one_request();
    assert_eq!(first.method, Method::Invite);
    assert_eq!(first.uri, "sip:202@pbx.test");
    h.deliver_response(&challenge(&first, 407, "c1"));
    // The transaction layer acknowledges the 407 itself.
    let sent = h.sent_requests();
    assert_eq!(sent.len(), 2, "{sent:#?}");
    assert_eq!(sent[0].method, Method::Ack);
    let invite = sent[1].clone();
    assert!(authorized(&invite, "Proxy-Authorization", "201", "demo201"));
    assert_eq!(invite.call_id(), first.call_id());
    assert_eq!(invite.from_tag(), first.from_tag());
    assert_eq!(invite.cseq().0, first.cseq().0 + 1);
    assert_eq!(invite.body, first.body);
    (id, invite)
}

fn answered(h: &mut Harness) -> (CallId, Request) {
    let (id, invite) = dial(h);
    let ok = with_sdp(reply(&invite, 200, "OK"), &sdp(20000, "0 101", "sendrecv"));
    h.deliver_response(&ok);
    let ack = h.one_request();
    assert_eq!(ack.method, Method::Ack);
    h.take_events();
    (id, invite)
}

#[test]
fn an_answered_call_offers_g711_acks_and_hangs_up_with_bye() {
    let mut h = Harness::new();
    let (id, invite) = dial(&mut h);
    let offer = body_sdp(&invite.body);
    assert_eq!(offer.media[0].formats, vec!["0", "8", "111", "101"]);
    assert_eq!(offer.media[0].port, 30000);
    assert_eq!(
        offer.connection_address(0),
        Some("10.0.0.2".parse().unwrap())
    );
    assert_eq!(invite.contact().unwrap().uri, format!("sip:201@{LOCAL}"));
    assert_eq!(
        h.take_events(),
        vec![UaEvent::CallState {
            call: id,
            state: CallState::Calling
        }]
    );

    h.deliver_response(&reply(&invite, 100, "Trying"));
    h.deliver_response(&reply(&invite, 180, "Ringing"));
    h.deliver_response(&reply(&invite, 180, "Ringing"));
    assert_eq!(
        h.take_events(),
        vec![UaEvent::CallState {
            call: id,
            state: CallState::Ringing
        }]
    );

    let mut ok = with_sdp(reply(&invite, 200, "OK"), &sdp(20000, "8 101", "sendrecv"));
    ok.headers.push("Contact", "<sip:202@10.0.0.1:5060>");
    h.deliver_response(&ok);
    let ack = h.one_request();
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(ack.uri, "sip:202@10.0.0.1:5060");
    assert_eq!(ack.cseq(), (invite.cseq().0, Some(Method::Ack)));
    assert_eq!(ack.to_tag().as_deref(), Some("srv"));
    let ev = h.take_events();
    assert!(has_event(&ev, |e| *e
        == UaEvent::CallState {
            call: id,
            state: CallState::Connected
        }));
    let m = media_of(&ev).unwrap();
    assert_eq!(m.codec.law, G711::Pcma);
    assert_eq!(m.remote, Some(addr("10.0.0.1:20000")));
    assert_eq!(m.dtmf_pt, Some(101));
    assert!(m.send && m.recv);

    // The 2xx retransmitted (our ACK was lost): the same ACK again.
    h.deliver_response(&ok);
    assert_eq!(h.one_request(), ack);

    h.ua.hangup(h.now, id).unwrap();
    let bye = h.one_request();
    assert_eq!(bye.method, Method::Bye);
    assert_eq!(bye.cseq().0, invite.cseq().0 + 1);
    assert_eq!(bye.uri, "sip:202@10.0.0.1:5060");
    assert!(has_event(&h.take_events(), |e| *e
        == UaEvent::CallState {
            call: id,
            state: CallState::Ended(EndReason::LocalHangup)
        }));
    assert!(h.ua.active_calls().is_empty());
    assert_eq!(h.ua.hangup(h.now, id), Err(CallError::NoSuchCall(id)));
}

#[test]
fn the_far_end_hangs_up() {
    let mut h = Harness::new();
    let (id, invite) = answered(&mut h);
    let mut peer = Peer {
        call_id: invite.call_id().to_string(),
        our_tag: invite.from_tag().unwrap(),
        their_tag: "srv".into(),
        cseq: 10,
        branch: 0,
    };
    h.deliver_request(&peer.request(Method::Bye, None));
    let r = h.sent_responses();
    assert_eq!(r.last().map(|r| r.status), Some(200));
    assert!(has_event(&h.take_events(), |e| *e
        == UaEvent::CallState {
            call: id,
            state: CallState::Ended(EndReason::RemoteHangup)
        }));
    assert!(h.ua.call_info(id).is_none());
}

#[test]
fn hanging_up_before_any_provisional_cancels_when_one_arrives() {
    let mut h = Harness::new();
    let (id, invite) = dial(&mut h);
    h.ua.hangup(h.now, id).unwrap();
    assert!(
        h.sent_requests().is_empty(),
        "no CANCEL before a provisional"
    );
    assert!(has_event(&h.take_events(), |e| *e
        == UaEvent::CallState {
            call: id,
            state: CallState::Ended(EndReason::LocalHangup)
        }));
    h.deliver_response(&reply(&invite, 180, "Ringing"));
    let cancel = h.one_request();
    assert_eq!(cancel.method, Method::Cancel);
    assert_eq!(cancel.cseq().0, invite.cseq().0);
    assert_eq!(
        cancel.top_via().unwrap().branch(),
        invite.top_via().unwrap().branch()
    );
    h.deliver_response(&reply(&cancel, 200, "OK"));
    h.deliver_response(&reply(&invite, 487, "Request Terminated"));
    assert_eq!(h.one_request().method, Method::Ack);
    assert!(h.take_events().is_empty(), "ended once");
    assert!(h.ua.call_info(id).is_none());
}

#[test]
fn an_answer_racing_the_cancel_is_acked_and_hung_up() {
    let mut h = Harness::new();
    let (id, invite) = dial(&mut h);
    h.deliver_response(&reply(&invite, 180, "Ringing"));
    h.ua.hangup(h.now, id).unwrap();
    assert_eq!(h.one_request().method, Method::Cancel);
    h.deliver_response(&with_sdp(
        reply(&invite, 200, "OK"),
        &sdp(20000, "0", "sendrecv"),
    ));
    let sent: Vec<Method> = h.sent_requests().into_iter().map(|r| r.method).collect();
    assert_eq!(sent, vec![Method::Ack, Method::Bye]);
    assert!(h.ua.call_info(id).is_none());
}

#[test]
fn refusals_and_silence_end_the_call_with_their_reason() {
    let mut h = Harness::new();
    let (id, invite) = dial(&mut h);
    h.deliver_response(&reply(&invite, 486, "Busy Here"));
    assert!(has_event(&h.take_events(), |e| *e
        == UaEvent::CallState {
            call: id,
            state: CallState::Ended(EndReason::Refused {
                status: 486,
                reason: "Busy Here".into()
            })
        }));

    // No answer at all: Timer B after 64·T1.
    let id = h.ua.call(h.now, "203", addr(RTP)).unwrap();
    h.advance(Duration::from_secs(31));
    assert!(h.ua.call_info(id).is_some());
    h.advance(Duration::from_secs(2));
    assert!(has_event(&h.take_events(), |e| *e
        == UaEvent::CallState {
            call: id,
            state: CallState::Ended(EndReason::Timeout)
        }));

    // Credentials refused twice.
    h.sent();
    let id = h.ua.call(h.now, "204", addr(RTP)).unwrap();
    let r = h.one_request();
    h.deliver_response(&challenge(&r, 407, "x1"));
    let r = h.sent_requests().pop().unwrap();
    h.deliver_response(&challenge(&r, 407, "x2"));
    assert!(has_event(&h.take_events(), |e| *e
        == UaEvent::CallState {
            call: id,
            state: CallState::Ended(EndReason::AuthFailed)
        }));

    assert_eq!(
        h.ua.call(h.now, "20 2", addr(RTP)),
        Err(CallError::BadNumber("20 2".into()))
    );
}

#[test]
fn early_media_is_played_until_the_answer() {
    let mut h = Harness::new();
    let (id, invite) = dial(&mut h);
    h.deliver_response(&with_sdp(
        reply(&invite, 183, "Session Progress"),
        &sdp(20002, "0", "sendrecv"),
    ));
    let ev = h.take_events();
    let m = media_of(&ev).unwrap();
    assert!(m.recv && !m.send, "listen only before the answer");
    assert_eq!(h.ua.call_state(id), Some(CallState::Ringing));
    h.deliver_response(&with_sdp(
        reply(&invite, 200, "OK"),
        &sdp(20002, "0", "sendrecv"),
    ));
    let m = media_of(&h.take_events()).unwrap();
    assert!(m.send && m.recv);
}
