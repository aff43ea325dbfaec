//! Queues in the engine: agents rung by strategy, the answer, retries, overflow, autopause,
//! the caller abandoning, feature codes, and the records' queue steps.

use super::*;
use crate::callcenter::{CallCenter, EmptyRule, MemberConfig, QueueConfig};
use crate::calls::FeatureCodes;
use crate::directory::OverflowAction;
use shared_protocol::{AgentState, QueueStrategy};

fn queue(
    strategy: QueueStrategy,
    members: &[&str],
    tweak: impl Fn(&mut QueueConfig),
) -> QueueConfig {
    let mut q = QueueConfig {
        number: "600".into(),
        name: "Sales".into(),
        enabled: true,
        priority: 0,
        strategy,
        ring_timeout_s: 15,
        retry_s: 5,
        wrapup_s: 0,
        max_wait_s: 120,
        max_callers: 0,
        autopause: false,
        ring_busy: false,
        overflow: OverflowAction::Hangup,
        join_empty: EmptyRule::default(),
        leave_empty: EmptyRule::default(),
        service_level_s: 20,
        members: members
            .iter()
            .map(|e| MemberConfig {
                extension: (*e).into(),
                penalty: 0,
                dynamic: false,
            })
            .collect(),
    };
    tweak(&mut q);
    q
}

fn with_queue(registered: &[&str], q: QueueConfig) -> Harness {
    let mut h = Harness::new(registered, |_| {});
    let cc = CallCenter::new(vec![q], h.now.wall_ms, 7);
    h.engine.set_call_center(cc, FeatureCodes::default());
    h
}

/// Which agents got an INVITE since the last take; each phone answers 180 at once (so our
/// INVITE is not retransmitted).
fn rung(h: &mut Harness, agents: &[&str]) -> Vec<(String, Request)> {
    let mut out = Vec::new();
    for a in agents {
        for r in h.requests(a) {
            if r.method == Method::Invite {
                h.reply(a, &r, 180, false);
                out.push((a.to_string(), r));
            }
        }
    }
    out
}

fn agent_state(h: &Harness, ext: &str) -> AgentState {
    let lines = super::super::queue::EngineLines {
        dir: &h.dir,
        load: &h.engine.load,
    };
    h.engine.cc.agent_status(ext, &lines, h.now.mono).state
}

#[tokio::test]
async fn rrmemory_cycles_through_the_agents_and_the_caller_hears_ringback() {
    let mut h = with_queue(
        &["201", "202", "203", "204"],
        queue(QueueStrategy::Rrmemory, &["202", "203"], |_| {}),
    );
    let mut answered = Vec::new();
    for _ in 0..3 {
        h.dial("201", "600");
        let ringing = h
            .take("201")
            .into_iter()
            .any(|m| matches!(m, SipMessage::Response(r) if r.status == 180));
        assert!(ringing, "the caller hears ringback while it waits");
        let uid = h.last_record().unique_id;
        let r = rung(&mut h, &["202", "203"]);
        assert_eq!(r.len(), 1, "one agent at a time");
        let (agent, inv) = r.into_iter().next().unwrap();
        let v = h.view(&uid).unwrap();
        assert_eq!(v.callee.as_ref().unwrap().number, "600");
        assert_eq!(v.also_ringing, std::slice::from_ref(&agent));
        h.advance(Duration::from_secs(2));
        h.reply(&agent, &inv, 200, true);
        let v = h.view(&uid).unwrap();
        assert_eq!(
            (v.phase, v.callee.unwrap().number, v.also_ringing.len()),
            (CallPhase::Connected, agent.clone(), 0)
        );
        h.op(CallOp::Hangup { call: uid.clone() }).unwrap();
        let rec = h.record(&uid);
        assert_eq!(
            (
                rec.status.as_deref(),
                rec.answered_by.as_deref(),
                rec.destination_type.as_str()
            ),
            (Some("OK"), Some(agent.as_str()), "queue")
        );
        let d = &rec.details[0];
        assert_eq!(
            (
                d.destination_type.as_str(),
                d.destination_id.as_str(),
                d.exit_cause.as_deref(),
                d.waiting_time_s,
                d.answered_by.as_deref()
            ),
            ("queue", "600", Some("NCC"), Some(2), Some(agent.as_str()))
        );
        assert_eq!(d.enqueue_ms, Some(d.enter_ms));
        answered.push(agent);
    }
    assert_eq!(answered, ["202", "203", "202"]);
}

#[tokio::test]
async fn ringall_rings_every_free_agent_and_the_first_answer_wins() {
    let mut h = with_queue(
        &["201", "202", "203", "204", "205"],
        queue(QueueStrategy::Ringall, &["202", "203", "204"], |_| {}),
    );
    // 204 is on another call: it is not rung.
    let (_busy, ..) = connected(&mut h, "204", "205");
    h.dial("201", "600");
    let uid = h.last_record().unique_id;
    let r = rung(&mut h, &["202", "203", "204"]);
    let names: Vec<&str> = r.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(names, ["202", "203"]);
    assert_eq!(h.view(&uid).unwrap().also_ringing, ["202", "203"]);
    assert_eq!(agent_state(&h, "202"), AgentState::Ringing);
    h.reply("203", &r[1].1, 200, true);
    let _ = h.request("202", Method::Cancel);
    assert_eq!(agent_state(&h, "203"), AgentState::Talking);
    assert_eq!(agent_state(&h, "202"), AgentState::Free);
    assert_eq!(h.record(&uid).answered_by.as_deref(), Some("203"));
}

#[tokio::test]
async fn no_answer_retries_after_the_pause_and_max_wait_overflows_to_an_extension() {
    let mut h = with_queue(
        &["201", "202", "205"],
        queue(QueueStrategy::Linear, &["202"], |q| {
            q.max_wait_s = 30;
            q.overflow = OverflowAction::Extension("205".into());
        }),
    );
    h.dial("201", "600");
    let uid = h.last_record().unique_id;
    assert_eq!(rung(&mut h, &["202"]).len(), 1);
    h.advance(Duration::from_secs(15));
    assert!(h.requests("202").iter().any(|r| r.method == Method::Cancel));
    h.advance(Duration::from_secs(4));
    assert!(
        rung(&mut h, &["202"]).is_empty(),
        "nobody rings during the retry pause"
    );
    h.advance(Duration::from_secs(1));
    assert_eq!(rung(&mut h, &["202"]).len(), 1, "second attempt");
    h.advance(Duration::from_secs(10));
    assert!(h.requests("202").iter().any(|r| r.method == Method::Cancel));
    let inv = h.request("205", Method::Invite);
    h.reply("205", &inv, 200, true);
    let rec = h.record(&uid);
    assert_eq!(
        Harness::steps(&rec),
        [
            ("600".into(), "NOANSWER".into()),
            ("205".into(), String::new())
        ]
    );
    assert_eq!(rec.answered_by.as_deref(), Some("205"));
    let d = &rec.details[0];
    assert_eq!(d.exit_ms.unwrap() - d.enter_ms, 30_000);
}

#[tokio::test]
async fn an_empty_queue_overflows_at_once_and_a_refusal_autopauses() {
    let mut h = with_queue(
        &["201", "203"],
        queue(QueueStrategy::Rrmemory, &["202", "203"], |q| {
            q.join_empty = EmptyRule {
                busy: false,
                paused: true,
                unavailable: true,
            };
            q.autopause = true;
        }),
    );
    // 202 is not registered; 203 refuses: autopaused, then nobody is left.
    h.dial("201", "600");
    let uid = h.last_record().unique_id;
    let (agent, inv) = rung(&mut h, &["203"]).into_iter().next().unwrap();
    assert_eq!(agent, "203");
    h.reply("203", &inv, 486, false);
    assert_eq!(agent_state(&h, "203"), AgentState::Paused);
    assert!(h.view(&uid).is_some(), "still waiting");
    h.op(CallOp::Hangup { call: uid.clone() }).unwrap();
    assert_eq!(h.record(&uid).status.as_deref(), Some("CANCELED"));
    // The next caller finds nobody: overflow (hang up) at once with 480.
    h.dial("201", "600");
    let rec = h.last_record();
    assert_eq!(h.finals("201").last().map(|r| r.status), Some(480));
    assert_eq!(rec.status.as_deref(), Some("UNAVAILABLE"));
    assert_eq!(Harness::steps(&rec), [("600".into(), "UNAVAILABLE".into())]);
}

#[tokio::test]
async fn a_caller_who_hangs_up_while_an_agent_rings_abandons_without_autopause() {
    let mut h = with_queue(
        &["201", "202"],
        queue(QueueStrategy::Linear, &["202"], |q| q.autopause = true),
    );
    let invite = h.dial("201", "600");
    let uid = h.last_record().unique_id;
    assert_eq!(rung(&mut h, &["202"]).len(), 1);
    let mut cancel = Request::new(Method::Cancel, invite.uri.clone());
    for name in ["Via", "From", "To", "Call-ID"] {
        cancel
            .headers
            .push(name, invite.headers.get(name).unwrap().to_string());
    }
    cancel
        .headers
        .push("CSeq", format!("{} CANCEL", invite.cseq().0));
    cancel.headers.push("Max-Forwards", "70");
    h.deliver(phone("201"), SipMessage::Request(cancel));
    let _ = h.request("202", Method::Cancel);
    let rec = h.record(&uid);
    assert_eq!(rec.status.as_deref(), Some("CANCELED"));
    assert_eq!(Harness::steps(&rec), [("600".into(), "CANCELED".into())]);
    assert_eq!(agent_state(&h, "202"), AgentState::Free);
}

#[tokio::test]
async fn pause_and_resume_by_feature_code() {
    let mut h = with_queue(
        &["201", "202"],
        queue(QueueStrategy::Ringall, &["202"], |_| {}),
    );
    h.dial("202", "*81*2");
    let ok = h
        .finals("202")
        .into_iter()
        .find(|r| r.status == 200)
        .expect("the PBX answers the code");
    assert_eq!(ok.headers.get("Content-Type"), Some("application/sdp"));
    assert_eq!(agent_state(&h, "202"), AgentState::Paused);
    let uid = h.last_record().unique_id;
    h.advance(Duration::from_millis(1000));
    let _ = h.request("202", Method::Bye);
    let rec = h.record(&uid);
    assert_eq!(
        (rec.status.as_deref(), rec.answered_by.as_deref()),
        (Some("OK"), Some("*81*2"))
    );
    assert_eq!(
        (
            rec.details[0].destination_type.as_str(),
            rec.details[0].destination_id.as_str()
        ),
        ("service", "queue_pause")
    );
    let lines = super::super::queue::EngineLines {
        dir: &h.dir,
        load: &h.engine.load,
    };
    let st = h.engine.cc.agent_status("202", &lines, h.now.mono);
    assert_eq!(
        st.queues[0]
            .paused
            .as_ref()
            .and_then(|p| p.reason.as_deref()),
        Some("2")
    );
    // A paused agent is not rung.
    h.dial("201", "600");
    assert!(rung(&mut h, &["202"]).is_empty());
    // Resume: the waiting caller is offered as soon as the code's own call ends.
    h.dial("202", "*80");
    assert!(rung(&mut h, &["202"]).is_empty(), "202 is on the *80 call");
    h.advance(Duration::from_millis(1000));
    assert_eq!(rung(&mut h, &["202"]).len(), 1);
    // Not a member of 601 (no such queue): refused with 404.
    h.dial("203", "*81601");
    assert_eq!(h.finals("203").last().map(|r| r.status), Some(404));
}
