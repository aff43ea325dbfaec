//! DND and the four forwards, with their precedence over overflow, loops and records.

use super::*;
use shared_protocol::ForwardKind;

fn forward(h: &mut Harness, ext: &str, kind: ForwardKind, to: &str) {
    h.service(ext, ServiceChange::Forward(kind, Some(to.into())));
}

#[tokio::test]
async fn dnd_counts_as_unavailable_without_ringing() {
    let mut h = Harness::new(&["201", "202"], |_| {});
    h.service("202", ServiceChange::Dnd(true));
    h.dial("201", "202");
    assert!(h.requests("202").is_empty(), "the DND phone is not rung");
    let finals = h.finals("201");
    assert_eq!(finals.last().map(|r| r.status), Some(480));
    let rec = h.last_record();
    assert_eq!(rec.status.as_deref(), Some("UNAVAILABLE"));
    assert_eq!(Harness::steps(&rec), [("202".into(), "UNAVAILABLE".into())]);
}

#[tokio::test]
async fn dnd_runs_the_unavailable_forward_or_overflow() {
    let mut h = Harness::new(&["201", "202", "203", "204"], |e| {
        if e.number == "202" {
            e.overflow_unavailable = "extension:204".into();
        }
    });
    h.service("202", ServiceChange::Dnd(true));
    h.dial("201", "202");
    let _ = h.request("204", Method::Invite);
    forward(&mut h, "202", ForwardKind::Unavailable, "203");
    h.dial("201", "202");
    let _ = h.request("203", Method::Invite);
    assert!(
        h.requests("204").is_empty(),
        "the forward wins over the overflow"
    );
    let rec = h.last_record();
    assert_eq!(
        Harness::steps(&rec),
        [("202".into(), "CFWD".into()), ("203".into(), String::new())]
    );
}

#[tokio::test]
async fn unconditional_forward_rings_the_target_only() {
    let mut h = Harness::new(&["201", "202", "203"], |_| {});
    forward(&mut h, "202", ForwardKind::Unconditional, "203");
    h.service("202", ServiceChange::Dnd(true)); // CFIM comes first
    h.dial("201", "202");
    assert!(h.requests("202").is_empty());
    let inv = h.request("203", Method::Invite);
    assert!(inv.headers.get("From").unwrap().contains("sip:201@"));
    h.reply("203", &inv, 200, true);
    let rec = h.last_record();
    assert_eq!(rec.answered_by.as_deref(), Some("203"));
    assert_eq!(rec.called, "202");
    assert_eq!(
        Harness::steps(&rec),
        [("202".into(), "UFWD".into()), ("203".into(), String::new())]
    );
}

#[tokio::test]
async fn busy_forward_after_a_486() {
    let mut h = Harness::new(&["201", "202", "203"], |_| {});
    forward(&mut h, "202", ForwardKind::Busy, "203");
    h.dial("201", "202");
    let inv = h.request("202", Method::Invite);
    h.reply("202", &inv, 486, false);
    let inv = h.request("203", Method::Invite);
    h.reply("203", &inv, 200, true);
    let rec = h.last_record();
    assert_eq!(
        Harness::steps(&rec),
        [("202".into(), "CFWD".into()), ("203".into(), String::new())]
    );
    assert_eq!(rec.answered_by.as_deref(), Some("203"));
}

#[tokio::test]
async fn no_answer_forward_after_the_ring_timeout() {
    let mut h = Harness::new(&["201", "202", "203"], |e| e.ring_timeout_s = 5);
    forward(&mut h, "202", ForwardKind::NoAnswer, "203");
    h.dial("201", "202");
    let _ = h.request("202", Method::Invite);
    h.advance(Duration::from_secs(4));
    assert!(h.requests("203").is_empty(), "not before the timeout");
    h.advance(Duration::from_secs(2));
    assert_eq!(h.request("202", Method::Cancel).method, Method::Cancel);
    let _ = h.request("203", Method::Invite);
    let rec = h.last_record();
    assert_eq!(Harness::steps(&rec)[0], ("202".into(), "CFWD".into()));
}

#[tokio::test]
async fn unavailable_forward_when_nothing_is_registered() {
    let mut h = Harness::new(&["201", "203"], |_| {});
    forward(&mut h, "202", ForwardKind::Unavailable, "203");
    forward(&mut h, "202", ForwardKind::Busy, "204"); // not this condition
    h.dial("201", "202");
    let _ = h.request("203", Method::Invite);
    assert_eq!(
        Harness::steps(&h.last_record())[0],
        ("202".into(), "CFWD".into())
    );
}

#[tokio::test]
async fn forward_loops_end_with_482() {
    let mut h = Harness::new(&["201", "202", "203"], |_| {});
    forward(&mut h, "202", ForwardKind::Unconditional, "203");
    forward(&mut h, "203", ForwardKind::Unconditional, "202");
    h.dial("201", "202");
    assert!(h.requests("202").is_empty() && h.requests("203").is_empty());
    assert_eq!(h.finals("201").last().map(|r| r.status), Some(482));
    let rec = h.last_record();
    assert_eq!(rec.status.as_deref(), Some("FAILED"));
    assert_eq!(rec.details.len(), 6, "five hops, then the refusal");
}

#[tokio::test]
async fn forward_to_an_unknown_number_fails_404() {
    let mut h = Harness::new(&["201", "202"], |_| {});
    forward(&mut h, "202", ForwardKind::Unconditional, "999");
    h.dial("201", "202");
    assert_eq!(h.finals("201").last().map(|r| r.status), Some(404));
    assert_eq!(h.last_record().status.as_deref(), Some("FAILED"));
}

#[tokio::test]
async fn clearing_services_restores_normal_ringing() {
    let mut h = Harness::new(&["201", "202"], |_| {});
    h.service("202", ServiceChange::Dnd(true));
    forward(&mut h, "202", ForwardKind::Unconditional, "203");
    h.service("202", ServiceChange::Dnd(false));
    h.service(
        "202",
        ServiceChange::Forward(ForwardKind::Unconditional, None),
    );
    assert_eq!(h.dir.services("202"), shared_protocol::Services::default());
    h.dial("201", "202");
    let _ = h.request("202", Method::Invite);
}
