//! Queues against real SIPp phones: agents are SIPp UAS registered as their extensions,
//! callers are SIPp UAC. Each strategy's choice is read from the records (who answered) and
//! from the agents' own message logs (who was rung at all); queues are configured with
//! `pbx-server set-queue` before the start (docs/decisions/010-call-center.md).

use centralino_e2e::cti::CtiClient;
use centralino_e2e::{
    free_media_port, free_udp_port, refused_scenario, register, Pbx, Sipp, SippChild,
};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

pub(crate) const WAIT: Duration = Duration::from_secs(20);

/// An agent's phone: SIPp registered as `ext`, then a UAS on the same port answering (or not)
/// per its scenario, logging every message it sees.
pub(crate) struct Agent {
    log: PathBuf,
    _tmp: tempfile::TempDir,
    _child: SippChild,
}

impl Agent {
    /// Registers `ext` and starts its UAS for at most `max_calls` calls.
    pub(crate) fn start(pbx: &Pbx, ext: &str, scenario: &str, max_calls: u32) -> Agent {
        let port = free_udp_port();
        register(pbx, ext, port);
        let tmp = tempfile::tempdir().unwrap();
        let log = tmp.path().join(format!("{ext}.log"));
        let child = Sipp::new(scenario, pbx.sip)
            .args(&[
                "-p",
                &port.to_string(),
                "-mp",
                &free_media_port().to_string(),
                "-m",
                &max_calls.to_string(),
                "-trace_msg",
                "-message_file",
                &log.display().to_string(),
            ])
            .spawn();
        Agent {
            log,
            _tmp: tmp,
            _child: child,
        }
    }

    /// Calls offered to this phone: distinct Call-IDs of the INVITEs it received.
    pub(crate) fn invites(&self) -> usize {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let mut ids = BTreeSet::new();
        for entry in text.split("\n----------------------------------------------- ") {
            let Some(start) = entry.find("INVITE sip:") else {
                continue;
            };
            let msg = &entry[start..];
            if let Some(id) = msg
                .lines()
                .find_map(|l| l.strip_prefix("Call-ID:").map(str::trim))
            {
                ids.insert(id.to_string());
            }
        }
        ids.len()
    }
}

/// A SIPp caller (`from`, not a queue member) dialling `to`.
pub(crate) fn caller(pbx: &Pbx, scenario: &str, from: &str, to: &str) -> Sipp {
    Sipp::new(scenario, pbx.sip).args(&[
        "-p",
        &free_udp_port().to_string(),
        "-mp",
        &free_media_port().to_string(),
        "-s",
        to,
        "-set",
        "caller",
        from,
        "-au",
        from,
        "-ap",
        &format!("demo{from}"),
        "-m",
        "1",
    ])
}

/// One answered call from 201 to `queue`, talking `talk_ms`.
pub(crate) fn answered_call(pbx: &Pbx, queue: &str, talk_ms: u32) {
    caller(pbx, "uac_call.xml", "201", queue)
        .args(&["-d", &talk_ms.to_string()])
        .run_ok();
}

/// Who answered each record, oldest first, once `n` are closed.
fn answered_by(pbx: &Pbx, n: usize) -> Vec<String> {
    pbx.closed_cdrs(n)
        .iter()
        .map(|r| r["answered_by"].as_str().unwrap_or("-").to_string())
        .collect()
}

/// The record's queue row.
fn queue_row(r: &Value) -> &Value {
    r["details"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["detail_destination_type"] == "queue")
        .unwrap_or_else(|| panic!("no queue row: {r:#}"))
}

#[test]
fn rrmemory_cycles_through_the_members() {
    let pbx = Pbx::start_with(&[
        &["set-queue", "600", "wrapup_s=0"],
        &["set-queue-member", "600", "204", "0"],
    ]);
    let agents: Vec<Agent> = ["202", "203", "204"]
        .iter()
        .map(|e| Agent::start(&pbx, e, "uas_answer.xml", 2))
        .collect();
    for _ in 0..6 {
        answered_call(&pbx, "600", 300);
    }
    assert_eq!(
        answered_by(&pbx, 6),
        ["202", "203", "204", "202", "203", "204"]
    );
    // One agent at a time: each phone was offered exactly the calls it took.
    for a in &agents {
        assert_eq!(a.invites(), 2);
    }
    for r in pbx.cdr() {
        let q = queue_row(&r);
        assert_eq!(
            (
                &r["destination_type"],
                &q["detail_destination_id"],
                &q["detail_destination_name"],
                &q["detail_exit_cause"],
                &q["detail_answered_by"]
            ),
            (
                &Value::from("queue"),
                &Value::from("600"),
                &Value::from("Sales"),
                &Value::from("NCC"),
                &r["answered_by"]
            )
        );
        assert_eq!(q["detail_enter_datetime"], q["detail_enqueue_datetime"]);
        assert!(!q["detail_answer_datetime"].is_null() && !q["detail_exit_datetime"].is_null());
        assert!(q["detail_waiting_time"].is_u64(), "{q}");
    }
}

/// Queue 610 with `strategy` and members 202, 203, 204 (in that order, penalty 0, no wrap-up):
/// three calls while 204 has no phone, then 204 registers and two more calls come. Returns who
/// answered each call.
fn strategy_sequence(strategy: &str) -> Vec<String> {
    let pbx = Pbx::start_with(&[
        &[
            "set-queue",
            "610",
            &format!("strategy={strategy}"),
            "wrapup_s=0",
        ],
        &["set-queue-member", "610", "202", "0"],
        &["set-queue-member", "610", "203", "0"],
        &["set-queue-member", "610", "204", "0"],
    ]);
    let _a = Agent::start(&pbx, "202", "uas_answer.xml", 10);
    let _b = Agent::start(&pbx, "203", "uas_answer.xml", 10);
    for _ in 0..3 {
        answered_call(&pbx, "610", 300);
    }
    let _c = Agent::start(&pbx, "204", "uas_answer.xml", 10);
    answered_call(&pbx, "610", 300);
    answered_call(&pbx, "610", 300);
    answered_by(&pbx, 5)
}

#[test]
fn leastrecent_picks_the_member_whose_last_queue_call_is_oldest() {
    // 204 comes after three calls: it never took one, so it is the one idle longest; then
    // 203, whose last call (the second) is older than 202's (the third).
    assert_eq!(
        strategy_sequence("leastrecent"),
        ["202", "203", "202", "204", "203"]
    );
}

#[test]
fn fewestcalls_picks_the_member_with_fewest_calls_today() {
    // Ties go to member order: 202 (0-0), 203 (1-0), 202 (1-1); then 204 with none, then 203
    // (one call, as 204 now, but before it in order).
    assert_eq!(
        strategy_sequence("fewestcalls"),
        ["202", "203", "202", "204", "203"]
    );
}

#[test]
fn rrmemory_and_rrordered_continue_the_cycle_when_a_member_comes() {
    // After 202, 203, 202 the cycle goes on from the last one tried: 203, then the newcomer.
    for s in ["rrmemory", "rrordered"] {
        assert_eq!(
            strategy_sequence(s),
            ["202", "203", "202", "203", "204"],
            "{s}"
        );
    }
}

#[test]
fn linear_starts_from_the_top_for_each_caller() {
    assert_eq!(strategy_sequence("linear"), ["202"; 5]);
}

#[test]
fn ringall_rings_every_free_member_and_the_first_answer_takes_the_call() {
    let pbx = Pbx::start_with(&[
        &["set-queue", "610", "strategy=ringall", "wrapup_s=0"],
        &["set-queue-member", "610", "202", "0"],
        &["set-queue-member", "610", "203", "0"],
    ]);
    let quiet = Agent::start(&pbx, "202", "uas_noanswer.xml", 10);
    let quick = Agent::start(&pbx, "203", "uas_answer.xml", 10);
    answered_call(&pbx, "610", 300);
    answered_call(&pbx, "610", 300);
    assert_eq!(answered_by(&pbx, 2), ["203", "203"]);
    assert_eq!((quiet.invites(), quick.invites()), (2, 2));
}

#[test]
fn a_lower_penalty_holds_back_higher_ones_while_it_is_free() {
    let pbx = Pbx::start_with(&[
        &["set-queue", "610", "strategy=ringall", "wrapup_s=0"],
        &["set-queue-member", "610", "202", "0"],
        &["set-queue-member", "610", "203", "1"],
    ]);
    let low = Agent::start(&pbx, "202", "uas_answer.xml", 2);
    let high = Agent::start(&pbx, "203", "uas_answer.xml", 1);
    // 202 takes a long call; while it talks, the next caller reaches 203.
    let long = caller(&pbx, "uac_call.xml", "201", "610")
        .args(&["-d", "4000"])
        .spawn();
    pbx.wait_for("202 talking", WAIT, |p| {
        p.cdr()
            .iter()
            .any(|r| r["status"].is_null() && r["answered_by"] == "202")
    });
    caller(&pbx, "uac_call.xml", "205", "610")
        .args(&["-d", "300"])
        .run_ok();
    let (ok, out) = long.wait(WAIT);
    assert!(ok, "{out}");
    // Both free again: only 202 rings.
    answered_call(&pbx, "610", 300);
    pbx.closed_cdrs(3);
    let mut pairs: Vec<(String, String)> = pbx
        .cdr()
        .iter()
        .map(|r| {
            (
                r["caller"].as_str().unwrap().to_string(),
                r["answered_by"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    pairs.sort();
    assert_eq!(
        pairs,
        [
            ("201".to_string(), "202".to_string()),
            ("201".to_string(), "202".to_string()),
            ("205".to_string(), "203".to_string())
        ]
    );
    assert_eq!(low.invites(), 2);
    assert_eq!(high.invites(), 1, "203 rang only while 202 was busy");
}

#[test]
fn max_wait_sends_the_caller_to_the_overflow() {
    let pbx = Pbx::start_with(&[
        &[
            "set-queue",
            "610",
            "strategy=ringall",
            "ring_timeout_s=2",
            "retry_s=1",
            "max_wait_s=6",
            "overflow=extension:205",
        ],
        &["set-queue-member", "610", "202", "0"],
    ]);
    let deaf = Agent::start(&pbx, "202", "uas_noanswer.xml", 10);
    let _overflow = Agent::start(&pbx, "205", "uas_answer.xml", 1);
    answered_call(&pbx, "610", 300);
    let cdrs = pbx.closed_cdrs(1);
    let r = &cdrs[0];
    assert_eq!(
        (&r["status"], &r["answered_by"]),
        (&"OK".into(), &"205".into())
    );
    let d = r["details"].as_array().unwrap();
    assert_eq!(d.len(), 2, "{r:#}");
    assert_eq!(
        (
            &d[0]["detail_destination_type"],
            &d[0]["detail_exit_cause"],
            &d[0]["detail_answered_by"],
            &d[0]["detail_answer_datetime"]
        ),
        (
            &"queue".into(),
            &"NOANSWER".into(),
            &Value::Null,
            &Value::Null
        )
    );
    assert_eq!(
        (
            &d[1]["detail_destination_type"],
            &d[1]["detail_destination_id"],
            &d[1]["detail_exit_cause"]
        ),
        (&"local_exten".into(), &"205".into(), &"NCC".into())
    );
    assert!(deaf.invites() >= 2, "rung again after the retry pause");
}

#[test]
fn a_queue_without_available_agents_overflows_at_once() {
    // The demo queues overflow at once when every member is paused or unavailable; nobody
    // of 600 (202, 203) or 601 (204, 205) has a phone here.
    let pbx = Pbx::start_with(&[&["set-queue", "600", "overflow=extension:206"]]);
    let _overflow = Agent::start(&pbx, "206", "uas_answer.xml", 1);
    answered_call(&pbx, "600", 300);
    // 601 keeps the default overflow: hang up, 480.
    let tmp = tempfile::tempdir().unwrap();
    caller(
        &pbx,
        refused_scenario(tmp.path(), 480).to_str().unwrap(),
        "201",
        "601",
    )
    .run_ok();
    let cdrs = pbx.closed_cdrs(2);
    let to = |q: &str| {
        cdrs.iter()
            .find(|r| r["called"] == q)
            .unwrap_or_else(|| panic!("no call to {q}: {cdrs:#?}"))
    };
    let r = to("600");
    assert_eq!(r["answered_by"], "206");
    assert_eq!(queue_row(r)["detail_exit_cause"], "UNAVAILABLE");
    assert_eq!(r["details"][1]["detail_destination_id"], "206");
    let r = to("601");
    assert_eq!(r["status"], "UNAVAILABLE");
    assert_eq!(queue_row(r)["detail_exit_cause"], "UNAVAILABLE");
    assert_eq!(r["details"].as_array().unwrap().len(), 1);
}

#[test]
fn an_agent_who_lets_a_call_ring_out_is_paused_and_rung_no_more() {
    let pbx = Pbx::start_with(&[
        &[
            "set-queue",
            "610",
            "strategy=rrmemory",
            "ring_timeout_s=2",
            "retry_s=1",
            "wrapup_s=0",
            "autopause=1",
        ],
        &["set-queue-member", "610", "202", "0"],
        &["set-queue-member", "610", "203", "0"],
    ]);
    let mut sup = CtiClient::logged_in(pbx.cti, "201", "demo201");
    let deaf = Agent::start(&pbx, "202", "uas_noanswer.xml", 10);
    let good = Agent::start(&pbx, "203", "uas_answer.xml", 2);
    answered_call(&pbx, "610", 300);
    let ev = sup.wait_event("202 autopaused", WAIT, |e| {
        e["kind"] == "agent" && e["agent"]["extension"] == "202" && e["agent"]["state"] == "paused"
    });
    // Paused in every queue of 202 (the demo's 600 too), with the autopause reason.
    for q in ev["agent"]["queues"].as_array().unwrap() {
        assert_eq!(q["paused"]["reason"], "autopause", "{ev:#}");
    }
    answered_call(&pbx, "610", 300);
    assert_eq!(answered_by(&pbx, 2), ["203", "203"]);
    assert_eq!(deaf.invites(), 1, "a paused agent is not rung");
    assert_eq!(good.invites(), 2);
}
