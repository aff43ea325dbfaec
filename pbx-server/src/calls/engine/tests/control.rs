//! Call-control operations: the SIP each one sends, the views and the records.

use super::*;
use crate::calls::legs::sdp_is_hold;
use shared_protocol::CallSide;

fn ok_200(h: &mut Harness, ext: &str) -> Response {
    h.finals(ext)
        .into_iter()
        .find(|r| r.status == 200)
        .expect("a 200")
}

#[tokio::test]
async fn hangup_of_a_ringing_call_cancels_and_answers_487() {
    let mut h = Harness::new(&["201", "202"], |_| {});
    h.dial("201", "202");
    let _ = h.request("202", Method::Invite);
    let uid = h.last_record().unique_id;
    assert_eq!(
        h.op(CallOp::Hangup { call: uid.clone() }),
        Ok(CallOpOk::Done)
    );
    let _ = h.request("202", Method::Cancel);
    assert_eq!(h.finals("201").last().map(|r| r.status), Some(487));
    assert_eq!(h.record(&uid).status.as_deref(), Some("CANCELED"));
    assert!(h.view(&uid).is_none(), "the call ended");
    assert_eq!(
        h.op(CallOp::Hangup { call: uid }),
        Err(CallOpError::NotFound(format!(
            "call {}",
            h.last_record().unique_id
        )))
    );
}

#[tokio::test]
async fn hangup_of_a_connected_call_byes_both_sides() {
    let mut h = Harness::new(&["201", "202"], |_| {});
    let (uid, ..) = connected(&mut h, "201", "202");
    h.op(CallOp::Hangup { call: uid.clone() }).unwrap();
    let _ = h.request("201", Method::Bye);
    let _ = h.request("202", Method::Bye);
    let rec = h.record(&uid);
    assert_eq!(rec.status.as_deref(), Some("OK"));
    assert_eq!(Harness::steps(&rec), [("202".into(), "NCC".into())]);
}

#[tokio::test]
async fn hold_and_resume_reinvite_the_other_party() {
    let mut h = Harness::new(&["201", "202", "203"], |_| {});
    let (uid, ..) = connected(&mut h, "201", "202");
    let hold = |by: &str| CallOp::Hold {
        call: uid.clone(),
        by: by.into(),
    };
    assert_eq!(h.op(hold("203")), Err(CallOpError::NotAParty("203".into())));
    h.op(hold("201")).unwrap();
    let re = h.request("202", Method::Invite);
    assert_eq!(sdp_is_hold(&re.body), Some(true), "{}", body_text(&re.body));
    assert!(body_text(&re.body).contains("a=sendonly"));
    assert!(h.requests("201").is_empty(), "the holder is not re-INVITEd");
    // Not yet held: the lamps change on the answer.
    assert_eq!(h.view(&uid).unwrap().held_by, None);
    assert!(matches!(
        h.op(hold("201")),
        Err(CallOpError::InvalidState(_))
    ));
    let answer = sdp("202").replace("a=sendrecv", "a=recvonly");
    h.reply_sdp("202", &re, &answer);
    assert_eq!(h.request("202", Method::Ack).cseq().0, re.cseq().0);
    assert_eq!(h.view(&uid).unwrap().held_by, Some(CallSide::Caller));
    assert!(matches!(
        h.op(CallOp::Resume {
            call: uid.clone(),
            by: "202".into()
        }),
        Err(CallOpError::InvalidState(_))
    ));
    h.op(CallOp::Resume {
        call: uid.clone(),
        by: "201".into(),
    })
    .unwrap();
    let re2 = h.request("202", Method::Invite);
    assert!(body_text(&re2.body).contains("a=sendrecv"));
    assert!(re2.cseq().0 > re.cseq().0);
    h.reply("202", &re2, 200, true);
    assert_eq!(h.view(&uid).unwrap().held_by, None);
}

#[tokio::test]
async fn hold_needs_an_answered_call() {
    let mut h = Harness::new(&["201", "202"], |_| {});
    h.dial("201", "202");
    let uid = h.last_record().unique_id;
    assert!(matches!(
        h.op(CallOp::Hold {
            call: uid,
            by: "201".into()
        }),
        Err(CallOpError::InvalidState(_))
    ));
    assert!(matches!(
        h.op(CallOp::Hold {
            call: "nope".into(),
            by: "201".into()
        }),
        Err(CallOpError::NotFound(_))
    ));
}

#[tokio::test]
async fn blind_transfer_by_the_callee_rings_the_target_for_the_caller() {
    let mut h = Harness::new(&["201", "202", "203"], |_| {});
    let (uid, a, _, fork) = connected(&mut h, "201", "202");
    let relay_b = sdp_port(&fork.body);
    let op = |target: &str| CallOp::BlindTransfer {
        call: uid.clone(),
        by: "202".into(),
        target: target.into(),
    };
    assert!(matches!(h.op(op("999")), Err(CallOpError::NotFound(_))));
    assert!(matches!(h.op(op("2x")), Err(CallOpError::BadArguments(_))));
    assert!(matches!(h.op(op("201")), Err(CallOpError::BadArguments(_))));
    h.op(op("203")).unwrap();
    let _ = h.request("202", Method::Bye);
    let inv = h.request("203", Method::Invite);
    assert!(inv.headers.get("From").unwrap().contains("sip:201@"));
    assert_eq!(
        sdp_port(&inv.body),
        relay_b,
        "the new callee takes B's relay port"
    );
    assert!(
        h.requests("201").is_empty(),
        "the caller's media stays as it is"
    );
    let v = h.view(&uid).unwrap();
    assert_eq!(v.phase, CallPhase::Ringing);
    assert_eq!(v.caller.number, "201");
    assert_eq!(v.callee.unwrap().number, "203");
    h.reply("203", &inv, 200, true);
    let _ = h.request("203", Method::Ack);
    let v = h.view(&uid).unwrap();
    assert_eq!(
        (v.phase, v.callee.unwrap().number.as_str()),
        (CallPhase::Connected, "203")
    );
    // The caller hangs up: the target gets the BYE.
    let bye = h.in_dialog("201", &a, Method::Bye);
    h.deliver(phone("201"), SipMessage::Request(bye));
    let _ = h.request("203", Method::Bye);
    let rec = h.record(&uid);
    assert_eq!(rec.status.as_deref(), Some("OK"));
    assert_eq!(rec.answered_by.as_deref(), Some("202"), "the first answer");
    assert_eq!(
        Harness::steps(&rec),
        [
            ("202".into(), "BLINDXFER".into()),
            ("203".into(), "NCC".into())
        ]
    );
    assert_eq!(rec.details[1].source_num, "201");
}

#[tokio::test]
async fn blind_transfer_by_the_caller_moves_the_callee_to_the_caller_side() {
    let mut h = Harness::new(&["201", "202", "203"], |_| {});
    let (uid, _, b, fork) = connected(&mut h, "201", "202");
    let relay_b = sdp_port(&fork.body);
    h.op(CallOp::BlindTransfer {
        call: uid.clone(),
        by: "201".into(),
        target: "203".into(),
    })
    .unwrap();
    let _ = h.request("201", Method::Bye);
    let inv = h.request("203", Method::Invite);
    assert!(inv.headers.get("From").unwrap().contains("sip:202@"));
    assert_ne!(
        sdp_port(&inv.body),
        relay_b,
        "the new callee takes A's relay port"
    );
    assert!(body_text(&inv.body).contains("m=audio"));
    let v = h.view(&uid).unwrap();
    assert_eq!(v.caller.number, "202");
    h.reply("203", &inv, 200, true);
    let _ = h.take("203");
    // The kept party (now side A) hangs up.
    let bye = h.in_dialog("202", &b, Method::Bye);
    h.deliver(phone("202"), SipMessage::Request(bye));
    let _ = h.request("203", Method::Bye);
    let rec = h.record(&uid);
    assert_eq!(
        Harness::steps(&rec),
        [
            ("202".into(), "BLINDXFER".into()),
            ("203".into(), "NCC".into())
        ]
    );
    assert_eq!(rec.details[1].source_num, "202");
}

#[tokio::test]
async fn blind_transfer_to_a_busy_target_ends_the_call() {
    let mut h = Harness::new(&["201", "202", "203"], |_| {});
    let (uid, ..) = connected(&mut h, "201", "202");
    h.op(CallOp::BlindTransfer {
        call: uid.clone(),
        by: "202".into(),
        target: "203".into(),
    })
    .unwrap();
    let inv = h.request("203", Method::Invite);
    h.reply("203", &inv, 486, false);
    let _ = h.request("201", Method::Bye);
    let rec = h.record(&uid);
    assert_eq!(rec.status.as_deref(), Some("OK"), "it was answered before");
    assert_eq!(
        Harness::steps(&rec),
        [
            ("202".into(), "BLINDXFER".into()),
            ("203".into(), "BUSY".into())
        ]
    );
}

#[tokio::test]
async fn blind_transfer_before_answer_is_refused() {
    let mut h = Harness::new(&["201", "202", "203"], |_| {});
    h.dial("201", "202");
    let uid = h.last_record().unique_id;
    assert!(matches!(
        h.op(CallOp::BlindTransfer {
            call: uid,
            by: "201".into(),
            target: "203".into()
        }),
        Err(CallOpError::InvalidState(_))
    ));
}

#[tokio::test]
async fn attended_transfer_joins_the_two_other_parties() {
    let mut h = Harness::new(&["201", "202", "203"], |_| {});
    let (x, _, b2, fork2) = connected(&mut h, "201", "202");
    // 201 holds 202 while consulting 203.
    h.op(CallOp::Hold {
        call: x.clone(),
        by: "201".into(),
    })
    .unwrap();
    let re = h.request("202", Method::Invite);
    h.reply_sdp("202", &re, &sdp("202").replace("a=sendrecv", "a=recvonly"));
    let _ = h.take("202");
    let (y, ..) = connected(&mut h, "201", "203");
    let bad = |call: &str, consult: &str, by: &str| CallOp::AttendedTransfer {
        call: call.into(),
        consult: consult.into(),
        by: by.into(),
    };
    assert!(matches!(
        h.op(bad(&x, &x, "201")),
        Err(CallOpError::BadArguments(_))
    ));
    assert!(matches!(
        h.op(bad(&x, &y, "202")),
        Err(CallOpError::NotAParty(_))
    ));
    h.op(bad(&x, &y, "201")).unwrap();
    // 201 leaves both calls.
    let byes: Vec<_> = h
        .requests("201")
        .into_iter()
        .filter(|r| r.method == Method::Bye)
        .collect();
    assert_eq!(byes.len(), 2, "{byes:#?}");
    // 203 is pointed at call X's relay, then 202 is taken off hold.
    let re = h.request("203", Method::Invite);
    assert!(body_text(&re.body).contains("a=sendrecv"));
    assert_ne!(sdp_port(&re.body), sdp_port(&fork2.body));
    h.reply("203", &re, 200, true);
    let unhold = h
        .requests("202")
        .into_iter()
        .find(|r| r.method == Method::Invite)
        .expect("202 taken off hold");
    assert!(body_text(&unhold.body).contains("a=sendrecv"));
    h.reply("202", &unhold, 200, true);
    let v = h.view(&x).unwrap();
    assert_eq!(v.phase, CallPhase::Connected);
    assert_eq!(v.caller.number, "203");
    assert_eq!(v.callee.unwrap().number, "202");
    assert_eq!(v.held_by, None);
    assert!(h.view(&y).is_none(), "the consultation ended");
    let ry = h.record(&y);
    assert_eq!(ry.status.as_deref(), Some("OK"));
    assert_eq!(Harness::steps(&ry), [("203".into(), "ATXFER".into())]);
    // 202 hangs up: 203 gets the BYE and the record closes.
    let bye = h.in_dialog("202", &b2, Method::Bye);
    h.deliver(phone("202"), SipMessage::Request(bye));
    let _ = h.request("203", Method::Bye);
    let rx = h.record(&x);
    assert_eq!(
        Harness::steps(&rx),
        [
            ("202".into(), "ATXFER".into()),
            ("203".into(), "NCC".into())
        ]
    );
    assert_eq!(rx.details[1].source_num, "202");
}

#[tokio::test]
async fn click_to_call_rings_the_requester_first_then_the_number() {
    let mut h = Harness::new(&["201", "202"], |_| {});
    assert_eq!(
        h.op(CallOp::Dial {
            by: "203".into(),
            number: "202".into()
        }),
        Err(CallOpError::NoDevice("203".into()))
    );
    assert!(matches!(
        h.op(CallOp::Dial {
            by: "209".into(),
            number: "202".into()
        }),
        Err(CallOpError::NotFound(_))
    ));
    assert!(matches!(
        h.op(CallOp::Dial {
            by: "201".into(),
            number: "20 2".into()
        }),
        Err(CallOpError::BadArguments(_))
    ));
    let Ok(CallOpOk::Call(uid)) = h.op(CallOp::Dial {
        by: "201".into(),
        number: "202".into(),
    }) else {
        panic!("dial refused")
    };
    let inv = h.request("201", Method::Invite);
    assert!(inv.body.is_empty(), "late offer");
    let from = inv.headers.get("From").unwrap();
    assert!(
        from.contains("c2c: 202") && from.contains("sip:202@"),
        "{from}"
    );
    assert!(
        h.requests("202").is_empty(),
        "the number waits for the requester"
    );
    assert_eq!(h.view(&uid).unwrap().caller.number, "201");
    // The requester answers with its offer; the number is called with it.
    h.reply("201", &inv, 200, true);
    assert!(
        h.requests("201").is_empty(),
        "no ACK before the number answers"
    );
    let fork = h.request("202", Method::Invite);
    assert!(fork.headers.get("From").unwrap().contains("sip:201@"));
    assert!(body_text(&fork.body).contains("192.0.2.1"));
    h.reply("202", &fork, 200, true);
    let ack = h.request("201", Method::Ack);
    assert!(
        body_text(&ack.body).contains("m=audio"),
        "the answer rides the ACK"
    );
    assert!(body_text(&ack.body).contains("192.0.2.1"));
    // A retransmitted 2xx from 201 gets the same ACK.
    h.reply("201", &inv, 200, true);
    assert_eq!(h.request("201", Method::Ack), ack);
    let v = h.view(&uid).unwrap();
    assert_eq!(v.phase, CallPhase::Connected);
    assert_eq!(v.callee.unwrap().number, "202");
    let rec = h.record(&uid);
    assert_eq!(rec.caller, "201");
    assert_eq!(rec.called, "202");
    assert_eq!(rec.answered_by.as_deref(), Some("202"));
    assert_eq!(rec.src_peer_name.as_deref(), Some("201"));
    h.op(CallOp::Hangup { call: uid.clone() }).unwrap();
    let _ = h.request("201", Method::Bye);
    let _ = h.request("202", Method::Bye);
    assert_eq!(h.record(&uid).status.as_deref(), Some("OK"));
}

#[tokio::test]
async fn click_to_call_applies_services_and_unanswered_requester_ends_it() {
    let mut h = Harness::new(&["201", "202"], |_| {});
    h.service("202", ServiceChange::Dnd(true));
    let Ok(CallOpOk::Call(uid)) = h.op(CallOp::Dial {
        by: "201".into(),
        number: "202".into(),
    }) else {
        panic!("dial refused")
    };
    let inv = h.request("201", Method::Invite);
    h.reply("201", &inv, 200, true);
    // 202 refuses (DND): 201 gets its ACK (refusing the offer) and a BYE.
    let msgs = h.requests("201");
    let methods: Vec<_> = msgs.iter().map(|r| r.method.clone()).collect();
    assert_eq!(methods, [Method::Ack, Method::Bye]);
    assert!(body_text(&msgs[0].body).contains("m=audio 0 "));
    assert_eq!(h.record(&uid).status.as_deref(), Some("UNAVAILABLE"));

    let Ok(CallOpOk::Call(uid)) = h.op(CallOp::Dial {
        by: "201".into(),
        number: "202".into(),
    }) else {
        panic!("dial refused")
    };
    let _ = h.request("201", Method::Invite);
    h.advance(Duration::from_secs(11));
    let _ = h.request("201", Method::Cancel);
    assert_eq!(h.record(&uid).status.as_deref(), Some("NOANSWER"));
    assert!(h.view(&uid).is_none());
}

#[tokio::test]
async fn pickup_rings_the_picker_with_the_caller_shown_and_takes_the_call() {
    let mut h = Harness::new(&["201", "202", "203"], |_| {});
    let invite = h.dial("201", "202");
    let orig = h.request("202", Method::Invite);
    let uid = h.last_record().unique_id;
    assert!(matches!(
        h.op(CallOp::Pickup {
            by: "203".into(),
            ringing: "204".into()
        }),
        Err(CallOpError::NotFound(_))
    ));
    assert!(matches!(
        h.op(CallOp::Pickup {
            by: "202".into(),
            ringing: "202".into()
        }),
        Err(CallOpError::BadArguments(_))
    ));
    assert_eq!(
        h.op(CallOp::Pickup {
            by: "203".into(),
            ringing: "202".into()
        }),
        Ok(CallOpOk::Call(uid.clone()))
    );
    let inv = h.request("203", Method::Invite);
    assert!(inv.headers.get("From").unwrap().contains("sip:201@"));
    assert_eq!(sdp_port(&inv.body), sdp_port(&orig.body));
    assert!(h.requests("202").is_empty(), "the original keeps ringing");
    h.reply("203", &inv, 200, true);
    let _ = h.request("202", Method::Cancel);
    let ok = ok_200(&mut h, "201");
    assert_eq!(ok.call_id(), invite.call_id());
    let v = h.view(&uid).unwrap();
    assert_eq!(
        (v.phase, v.callee.unwrap().number.as_str()),
        (CallPhase::Connected, "203")
    );
    let rec = h.record(&uid);
    assert_eq!(rec.answered_by.as_deref(), Some("203"));
    assert_eq!(
        Harness::steps(&rec),
        [
            ("202".into(), "PICKUP".into()),
            ("203".into(), String::new())
        ]
    );
}
