//! Ring groups: tiers in order, each for its ring time, overflow after the last; members in
//! DND or unregistered skipped, their own forwards ignored.

use super::*;
use crate::calls::engine::groups::{RingGroup, Tier};
use crate::directory::OverflowAction;
use shared_protocol::ForwardKind;

/// Group 650: 202 and 203 for 5 s, then 204 for 5 s, then `overflow`.
fn with_group(h: &mut Harness, overflow: OverflowAction) {
    let g = RingGroup {
        number: "650".into(),
        name: "Front desk".into(),
        enabled: true,
        overflow,
        tiers: vec![
            Tier {
                ring_s: 5,
                members: vec!["202".into(), "203".into()],
            },
            Tier {
                ring_s: 5,
                members: vec!["204".into()],
            },
        ],
    };
    h.engine
        .set_ring_groups([("650".to_string(), g)].into_iter().collect());
}

#[tokio::test]
async fn tiers_ring_in_order_and_the_second_answers() {
    let mut h = Harness::new(&["201", "202", "203", "204", "205"], |_| {});
    with_group(&mut h, OverflowAction::Extension("205".into()));
    h.dial("201", "650");
    let a = h.request("202", Method::Invite);
    let _b = h.request("203", Method::Invite);
    assert!(h.requests("204").is_empty(), "tier 2 waits");
    let uid = h.last_record().unique_id;
    let v = h.view(&uid).unwrap();
    assert_eq!(v.callee.as_ref().map(|c| c.number.as_str()), Some("650"));
    assert_eq!(v.also_ringing, ["202", "203"]);
    h.reply("202", &a, 180, false);
    h.advance(Duration::from_secs(5));
    assert_eq!(h.request("202", Method::Cancel).method, Method::Cancel);
    let c = h.request("204", Method::Invite);
    assert_eq!(h.view(&uid).unwrap().also_ringing, ["204"]);
    h.reply("204", &c, 200, true);
    let rec = h.record(&uid);
    assert_eq!(rec.destination_type, "callg");
    assert_eq!(rec.answered_by.as_deref(), Some("204"));
    assert_eq!(rec.details.len(), 1, "{rec:#?}");
    assert_eq!(rec.details[0].destination_type, "callg");
    assert_eq!(rec.details[0].answered_by.as_deref(), Some("204"));
    let v = h.view(&uid).unwrap();
    assert_eq!(v.phase, CallPhase::Connected);
    assert_eq!(v.callee.unwrap().number, "204");
    assert!(h.requests("205").is_empty());
}

#[tokio::test]
async fn no_answer_in_any_tier_runs_the_overflow() {
    let mut h = Harness::new(&["201", "202", "203", "204", "205"], |_| {});
    with_group(&mut h, OverflowAction::Extension("205".into()));
    h.dial("201", "650");
    h.advance(Duration::from_secs(5));
    let _ = h.request("204", Method::Invite);
    h.advance(Duration::from_secs(5));
    let inv = h.request("205", Method::Invite);
    h.reply("205", &inv, 200, true);
    let rec = h.last_record();
    assert_eq!(
        Harness::steps(&rec),
        [
            ("650".into(), "NOANSWER".into()),
            ("205".into(), String::new())
        ]
    );
    assert_eq!(rec.answered_by.as_deref(), Some("205"));
}

#[tokio::test]
async fn refusals_move_on_and_hangup_overflow_ends_the_call() {
    let mut h = Harness::new(&["201", "202", "203", "204"], |_| {});
    with_group(&mut h, OverflowAction::Hangup);
    h.dial("201", "650");
    let a = h.request("202", Method::Invite);
    let b = h.request("203", Method::Invite);
    h.reply("202", &a, 486, false);
    assert!(h.requests("204").is_empty(), "203 still rings");
    h.reply("203", &b, 603, false);
    let c = h.request("204", Method::Invite);
    h.reply("204", &c, 486, false);
    let finals = h.finals("201");
    assert_eq!(finals.last().map(|r| r.status), Some(480));
    let rec = h.last_record();
    assert_eq!(rec.status.as_deref(), Some("NOANSWER"));
    assert_eq!(Harness::steps(&rec), [("650".into(), "NOANSWER".into())]);
}

#[tokio::test]
async fn dnd_and_unregistered_members_are_skipped_and_forwards_ignored() {
    // 203 is not registered; 202 is in DND: tier 1 has nobody, tier 2 rings at once.
    let mut h = Harness::new(&["201", "202", "204", "205"], |_| {});
    with_group(&mut h, OverflowAction::Hangup);
    h.service("202", ServiceChange::Dnd(true));
    h.service(
        "204",
        ServiceChange::Forward(ForwardKind::Unconditional, Some("205".into())),
    );
    h.dial("201", "650");
    assert!(h.requests("202").is_empty());
    let inv = h.request("204", Method::Invite);
    assert!(
        h.requests("205").is_empty(),
        "204's own forward is not used"
    );
    h.reply("204", &inv, 200, true);
    assert_eq!(h.last_record().answered_by.as_deref(), Some("204"));

    // Nobody at all: the overflow runs with "unavailable".
    h.service("204", ServiceChange::Dnd(true));
    h.dial("201", "650");
    let rec = h.last_record();
    assert_eq!(Harness::steps(&rec), [("650".into(), "UNAVAILABLE".into())]);
}
