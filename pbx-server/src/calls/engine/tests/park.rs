//! Feature codes in the numbering plan (forwards, DND, pickups) and call park.

use super::*;
use crate::calls::legs::sdp_is_hold;
use shared_protocol::{CallSide, ForwardKind};

fn ok_200(h: &mut Harness, ext: &str) -> Response {
    h.finals(ext)
        .into_iter()
        .find(|r| r.status == 200)
        .expect("a 200")
}

#[tokio::test]
async fn forward_and_dnd_codes_set_the_services() {
    let mut h = Harness::new(&["201", "202", "203"], |_| {});
    h.dial("202", "811203");
    let _ = ok_200(&mut h, "202");
    h.advance(Duration::from_secs(2));
    let _ = h.request("202", Method::Bye);
    assert_eq!(
        h.dir.services("202").forwards.unconditional.as_deref(),
        Some("203")
    );
    let rec = h.last_record();
    assert_eq!(rec.destination_type, "service");
    assert_eq!(rec.details[0].destination_id, "cfim_on");
    assert_eq!(rec.answered_by.as_deref(), Some("811203"));
    h.dial("201", "202");
    let _ = h.request("203", Method::Invite);
    for (code, check) in [
        ("821204", "busy"),
        ("831204", "no_answer"),
        ("861204", "unavailable"),
    ] {
        h.dial("202", code);
        let f = h.dir.services("202").forwards;
        let got = match check {
            "busy" => f.busy,
            "no_answer" => f.no_answer,
            _ => f.unavailable,
        };
        assert_eq!(got.as_deref(), Some("204"), "{code}");
    }
    h.dial("202", "810");
    h.dial("202", "820");
    h.dial("202", "830");
    h.dial("202", "860");
    assert_eq!(h.dir.services("202").forwards, Default::default());
    h.dial("202", "871");
    assert!(h.dir.services("202").dnd);
    h.dial("202", "870");
    assert!(!h.dir.services("202").dnd);
    // A destination that is no number of the plan is refused.
    h.dial("202", "811999");
    assert_eq!(h.finals("202").last().map(|r| r.status), Some(404));
    assert_eq!(h.dir.services("202").forwards.unconditional, None);
    let _ = ForwardKind::Busy;
}

#[tokio::test]
async fn directed_pickup_code_joins_the_picker_to_the_ringing_call() {
    let mut h = Harness::new(&["201", "202", "203"], |_| {});
    h.dial("201", "202");
    let _ring = h.request("202", Method::Invite);
    let uid = h.last_record().unique_id;
    let _ = h.finals("201");
    let pick = h.dial("203", "**202");
    let ok = ok_200(&mut h, "203");
    assert!(
        body_text(&ok.body).contains("m=audio"),
        "{}",
        body_text(&ok.body)
    );
    let _ = h.request("202", Method::Cancel);
    let ok201 = ok_200(&mut h, "201");
    // Both phones send to the same call's relay, each to its own port.
    assert_ne!(sdp_port(&ok.body), sdp_port(&ok201.body));
    let rec = h.record(&uid);
    assert_eq!(rec.answered_by.as_deref(), Some("203"));
    assert_eq!(
        Harness::steps(&rec),
        [
            ("202".into(), "PICKUP".into()),
            ("203".into(), String::new())
        ]
    );
    let picker_rec = h
        .records
        .iter()
        .rev()
        .find(|r| r.unique_id != uid)
        .cloned()
        .unwrap();
    assert_eq!(
        Harness::steps(&picker_rec),
        [("direct_pickup".into(), "PICKUP".into())]
    );
    assert_eq!(h.view(&uid).unwrap().callee.unwrap().number, "203");
    // The picker hangs up: the caller gets the BYE.
    let d = DialogOf::from_their_invite(&pick, &ok);
    let bye = h.in_dialog("203", &d, Method::Bye);
    h.deliver(phone("203"), SipMessage::Request(bye));
    let _ = h.request("201", Method::Bye);
    let rec = h.record(&uid);
    assert_eq!(
        Harness::steps(&rec),
        [
            ("202".into(), "PICKUP".into()),
            ("203".into(), "NCC".into())
        ]
    );
    // Nothing rings any more.
    h.dial("203", "**202");
    assert_eq!(h.finals("203").last().map(|r| r.status), Some(404));
}

#[tokio::test]
async fn group_pickup_takes_the_newest_call_of_the_picker_groups() {
    let mut h = Harness::new(&["201", "202", "203", "204", "205", "206"], |e| {
        match e.number.as_str() {
            "202" | "203" => e.pickup_groups = vec!["office".into()],
            "204" => e.pickup_allowed = vec!["office".into()],
            _ => {}
        }
    });
    h.dial("201", "202");
    let first = h.last_record().unique_id;
    h.dial("206", "203");
    let newest = h.last_record().unique_id;
    let _ = h.take("202");
    let _ = h.take("203");
    // 205 is in no group: nothing to pick up.
    h.dial("205", "*9");
    assert_eq!(h.finals("205").last().map(|r| r.status), Some(404));
    h.dial("204", "*9");
    let _ = ok_200(&mut h, "204");
    let _ = h.request("203", Method::Cancel);
    let rec = h.record(&newest);
    assert_eq!(rec.answered_by.as_deref(), Some("204"));
    assert_eq!(
        Harness::steps(&rec),
        [
            ("203".into(), "PICKUP".into()),
            ("204".into(), String::new())
        ]
    );
    assert_eq!(h.view(&first).unwrap().phase, CallPhase::Ringing);
}

/// Parks 201 (caller) by 202's blind transfer to 888; returns the call's unique id.
fn parked(h: &mut Harness) -> String {
    let (uid, ..) = connected(h, "201", "202");
    h.op(CallOp::BlindTransfer {
        call: uid.clone(),
        by: "202".into(),
        target: "888".into(),
    })
    .unwrap();
    let _ = h.request("202", Method::Bye);
    let hold = h.request("201", Method::Invite);
    assert_eq!(sdp_is_hold(&hold.body), Some(true));
    let answer = sdp("201").replace("a=sendrecv", "a=recvonly");
    h.reply_sdp("201", &hold, &answer);
    let _ = h.take("201");
    uid
}

#[tokio::test]
async fn park_by_transfer_to_888_then_retrieve_by_slot() {
    let mut h = Harness::new(&["201", "202", "203"], |_| {});
    let uid = parked(&mut h);
    let v = h.view(&uid).unwrap();
    let slot = v.callee.unwrap();
    assert_eq!(slot.number, "890");
    assert_eq!(slot.extension.as_deref(), Some("890"));
    assert_eq!(v.held_by, Some(CallSide::Callee));
    assert_eq!(
        Harness::steps(&h.record(&uid)),
        [("202".into(), "PARKED".into())]
    );
    h.dial("203", "890");
    let ok = ok_200(&mut h, "203");
    assert!(body_text(&ok.body).contains("m=audio"));
    let unhold = h.request("201", Method::Invite);
    assert_eq!(sdp_is_hold(&unhold.body), Some(false));
    h.reply("201", &unhold, 200, true);
    let v = h.view(&uid).unwrap();
    assert_eq!(v.callee.unwrap().number, "203");
    assert_eq!(v.held_by, None);
    let rec = h.record(&uid);
    assert_eq!(
        Harness::steps(&rec),
        [
            ("202".into(), "PARKED".into()),
            ("203".into(), String::new())
        ]
    );
    assert_eq!(rec.details[1].answered_by.as_deref(), Some("203"));
    // The slot is free again.
    h.dial("203", "890");
    assert_eq!(h.finals("203").last().map(|r| r.status), Some(404));
}

#[tokio::test]
async fn an_unretrieved_park_rings_the_parker_again() {
    let mut h = Harness::new(&["201", "202"], |_| {});
    let uid = parked(&mut h);
    h.advance(Duration::from_secs(89));
    assert!(h.requests("202").iter().all(|r| r.method != Method::Invite));
    h.advance(Duration::from_secs(1));
    let again = h.request("202", Method::Invite);
    assert!(
        again.headers.get("From").unwrap().contains("Park 890"),
        "{again:?}"
    );
    assert!(!body_text(&again.body).contains("recvonly"));
    assert_eq!(h.view(&uid).unwrap().callee.unwrap().number, "202");
    h.reply("202", &again, 200, true);
    let _ = h.request("201", Method::Invite); // off hold
    let rec = h.record(&uid);
    assert_eq!(
        Harness::steps(&rec),
        [
            ("202".into(), "PARKED".into()),
            ("202".into(), String::new())
        ]
    );
}

#[tokio::test]
async fn a_call_to_888_and_an_attended_transfer_to_it_park_the_other_party() {
    let mut h = Harness::new(&["201", "202", "203"], |_| {});
    let (x, ..) = connected(&mut h, "201", "202");
    h.dial("202", "888");
    let f = h.finals("202");
    assert!(f.iter().any(|r| r.status == 200), "{f:#?}");
    let y = h.last_record().unique_id;
    assert_eq!(h.view(&y).unwrap().callee.unwrap().number, "890");
    h.op(CallOp::AttendedTransfer {
        call: x.clone(),
        consult: y.clone(),
        by: "202".into(),
    })
    .unwrap();
    assert!(h.view(&y).is_none(), "the call to 888 ended");
    assert_eq!(h.view(&x).unwrap().callee.unwrap().number, "890");
    assert_eq!(
        Harness::steps(&h.record(&x)),
        [("202".into(), "PARKED".into())]
    );
    assert_eq!(
        Harness::steps(&h.record(&y)),
        [("park".into(), "PARKED".into())]
    );
    let hold = h
        .requests("201")
        .into_iter()
        .find(|r| r.method == Method::Invite)
        .unwrap();
    assert_eq!(sdp_is_hold(&hold.body), Some(true));
    h.reply("201", &hold, 200, true);
    h.dial("203", "890");
    let _ = ok_200(&mut h, "203");
    assert_eq!(h.view(&x).unwrap().callee.unwrap().number, "203");
}
