//! Transfer by REFER, the transferor's side: blind, attended with Replaces, refusals.

use super::*;

fn connected_to(h: &mut Harness, number: &str) -> (CallId, Request, Peer) {
    let id = h.ua.call(h.now, number, addr(RTP)).unwrap();
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

fn notify(peer: &mut Peer, frag: &str, state: &str) -> Request {
    let mut n = peer.request(Method::Notify, None);
    n.headers.push("Event", "refer");
    n.headers.push("Subscription-State", state);
    n.headers.set("Content-Type", "message/sipfrag;version=2.0");
    n.body = frag.as_bytes().to_vec();
    n
}

fn transfer_events(events: &[UaEvent]) -> Vec<TransferState> {
    events
        .iter()
        .filter_map(|e| match e {
            UaEvent::Transfer { state, .. } => Some(state.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn blind_transfer_refers_reports_progress_and_hangs_up_on_success() {
    let mut h = Harness::new();
    let (id, invite, mut peer) = connected_to(&mut h, "202");
    h.ua.transfer(h.now, id, "203").unwrap();
    let refer = h.one_request();
    assert_eq!(refer.method, Method::Refer);
    assert_eq!(refer.cseq().0, invite.cseq().0 + 1);
    assert_eq!(refer.headers.get("Refer-To"), Some("<sip:203@pbx.test>"));
    assert_eq!(refer.headers.get("Referred-By"), Some("<sip:201@pbx.test>"));
    assert_eq!(refer.to_tag().as_deref(), Some("srv"));
    // One transfer at a time.
    assert!(matches!(
        h.ua.transfer(h.now, id, "204"),
        Err(CallError::InvalidState { .. })
    ));
    h.deliver_response(&reply(&refer, 202, "Accepted"));
    h.deliver_request(&notify(&mut peer, "SIP/2.0 100 Trying\r\n", "active"));
    h.deliver_request(&notify(&mut peer, "SIP/2.0 180 Ringing\r\n", "active"));
    let ok: Vec<u16> = h.sent_responses().iter().map(|r| r.status).collect();
    assert_eq!(ok, vec![200, 200]);
    assert_eq!(h.ua.call_state(id), Some(CallState::Connected));
    h.deliver_request(&notify(
        &mut peer,
        "SIP/2.0 200 OK\r\n",
        "terminated;reason=noresource",
    ));
    let sent = h.sent();
    assert!(sent
        .iter()
        .any(|m| matches!(m, SipMessage::Request(r) if r.method == Method::Bye)));
    let ev = h.take_events();
    assert_eq!(
        transfer_events(&ev),
        vec![
            TransferState::Accepted,
            TransferState::Progress(100),
            TransferState::Progress(180),
            TransferState::Succeeded
        ]
    );
    assert!(has_event(&ev, |e| *e
        == UaEvent::CallState {
            call: id,
            state: CallState::Ended(EndReason::Transferred)
        }));
}

#[test]
fn a_refused_refer_or_a_failed_target_leaves_the_call_up() {
    let mut h = Harness::new();
    let (id, _, mut peer) = connected_to(&mut h, "202");
    h.ua.transfer(h.now, id, "203").unwrap();
    let refer = h.one_request();
    h.deliver_response(&reply(&refer, 405, "Method Not Allowed"));
    assert_eq!(
        transfer_events(&h.take_events()),
        vec![TransferState::Failed(405)]
    );
    h.ua.transfer(h.now, id, "203").unwrap();
    let refer = h.one_request();
    h.deliver_response(&reply(&refer, 202, "Accepted"));
    h.deliver_request(&notify(
        &mut peer,
        "SIP/2.0 486 Busy Here\r\n",
        "terminated",
    ));
    assert_eq!(
        transfer_events(&h.take_events()),
        vec![TransferState::Accepted, TransferState::Failed(486)]
    );
    assert_eq!(h.ua.call_state(id), Some(CallState::Connected));
    assert!(matches!(
        h.ua.transfer(h.now, CallId(77), "203"),
        Err(CallError::NoSuchCall(_))
    ));
}

#[test]
fn attended_transfer_replaces_the_consult_call() {
    let mut h = Harness::new();
    let (first, _, _) = connected_to(&mut h, "202");
    let (consult, consult_invite, _) = connected_to(&mut h, "203");
    h.ua.transfer_attended(h.now, first, consult).unwrap();
    let refer = h.one_request();
    assert_eq!(refer.call_id(), h.ua.calls[&first].dialog.call_id);
    let replaces = format!(
        "{};to-tag=srv;from-tag={}",
        consult_invite.call_id(),
        consult_invite.from_tag().unwrap()
    )
    .replace('@', "%40")
    .replace(';', "%3B")
    .replace('=', "%3D");
    assert_eq!(
        refer.headers.get("Refer-To"),
        Some(format!("<sip:203@pbx.test?Replaces={replaces}>").as_str())
    );
    let ringing = h.ua.call(h.now, "204", addr(RTP)).unwrap();
    assert!(matches!(
        h.ua.transfer_attended(h.now, consult, ringing),
        Err(CallError::InvalidState { .. })
    ));
}
