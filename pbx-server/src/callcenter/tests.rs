//! The call center alone, with virtual time and fake phones: attempts, retries, overflow,
//! autopause, wrap-up, priorities and statistics.

#![allow(clippy::unwrap_used)]

use super::*;
use std::cell::RefCell;
use std::collections::HashMap;

#[derive(Default)]
struct Phones {
    unreachable: RefCell<Vec<String>>,
    load: RefCell<HashMap<String, u32>>,
}

impl Lines for Phones {
    fn reachable(&self, ext: &str) -> bool {
        !self.unreachable.borrow().iter().any(|e| e == ext)
    }
    fn load(&self, ext: &str) -> u32 {
        self.load.borrow().get(ext).copied().unwrap_or(0)
    }
    fn name(&self, ext: &str) -> String {
        format!("Agent {ext}")
    }
}

impl Phones {
    fn busy(&self, ext: &str, n: u32) {
        self.load.borrow_mut().insert(ext.to_string(), n);
    }
    fn gone(&self, ext: &str) {
        self.unreachable.borrow_mut().push(ext.to_string());
    }
}

fn queue(number: &str, strategy: QueueStrategy, members: &[(&str, u32)]) -> QueueConfig {
    QueueConfig {
        number: number.into(),
        name: format!("Queue {number}"),
        enabled: true,
        priority: 0,
        strategy,
        ring_timeout_s: 15,
        retry_s: 5,
        wrapup_s: 20,
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
            .map(|(e, p)| MemberConfig {
                extension: (*e).into(),
                penalty: *p,
                dynamic: false,
            })
            .collect(),
    }
}

struct Clock {
    t0: Instant,
    now: Instant,
    ms: i64,
}

impl Clock {
    fn new() -> Clock {
        let t0 = Instant::now();
        // Noon of a day, far from midnight in any time zone's day.
        let (day, _) = local_day(1_700_000_000_000);
        Clock {
            t0,
            now: t0,
            ms: day + 12 * 3_600_000,
        }
    }
    fn advance(&mut self, s: f64) {
        let d = Duration::from_secs_f64(s);
        self.now += d;
        self.ms += d.as_millis() as i64;
    }
    fn at(&self) -> f64 {
        (self.now - self.t0).as_secs_f64()
    }
}

fn ring_of(actions: &[Action]) -> Vec<(u64, Vec<String>)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Ring { call, agents } => Some((*call, agents.clone())),
            _ => None,
        })
        .collect()
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn ringall_rings_everyone_free_then_retries_after_the_ring_time() {
    let mut c = Clock::new();
    let phones = Phones::default();
    let mut cc = CallCenter::new(
        vec![queue(
            "600",
            QueueStrategy::Ringall,
            &[("202", 0), ("203", 0)],
        )],
        c.ms,
        1,
    );
    cc.enter(c.now, c.ms, 1, "600", &phones).unwrap();
    let a = cc.poll(c.now, c.ms, &phones);
    assert_eq!(ring_of(&a), [(1, names(&["202", "203"]))]);
    assert_eq!(cc.next_deadline(), Some(c.now + Duration::from_secs(15)));
    c.advance(15.0);
    let a = cc.poll(c.now, c.ms, &phones);
    assert_eq!(
        a,
        [Action::StopRinging {
            call: 1,
            agents: names(&["202", "203"])
        }]
    );
    // Nobody rings during the retry pause, then everyone again.
    c.advance(4.9);
    assert!(cc.poll(c.now, c.ms, &phones).is_empty());
    c.advance(0.1);
    assert_eq!(ring_of(&cc.poll(c.now, c.ms, &phones)).len(), 1);
}

#[test]
fn max_wait_sends_the_caller_to_the_overflow() {
    let mut c = Clock::new();
    let phones = Phones::default();
    let mut q = queue("600", QueueStrategy::Ringall, &[("202", 0)]);
    q.max_wait_s = 30;
    q.overflow = OverflowAction::Extension("205".into());
    let mut cc = CallCenter::new(vec![q], c.ms, 1);
    cc.enter(c.now, c.ms, 7, "600", &phones).unwrap();
    cc.poll(c.now, c.ms, &phones);
    let mut overflow = None;
    while overflow.is_none() {
        c.advance(1.0);
        for a in cc.poll(c.now, c.ms, &phones) {
            if let Action::Overflow { cond, action, .. } = a {
                overflow = Some((c.at(), cond, action));
            }
        }
    }
    let (t, cond, action) = overflow.unwrap();
    assert_eq!(t.round() as i64, 30);
    assert_eq!(cond, Condition::NoAnswer);
    assert_eq!(action, OverflowAction::Extension("205".into()));
    assert!(!cc.is_waiting(7));
    let st = cc.queue_status("600", &phones, c.now).unwrap();
    assert_eq!(
        (st.waiting, st.stats.offered, st.stats.overflowed),
        (0, 1, 1)
    );
    assert_eq!(st.stats.longest_wait_ms, 30_000);
}

#[test]
fn join_empty_and_full_queues_overflow_at_once() {
    let c = Clock::new();
    let phones = Phones::default();
    let mut q = queue("600", QueueStrategy::Ringall, &[("202", 0), ("203", 0)]);
    q.join_empty = EmptyRule {
        busy: false,
        paused: true,
        unavailable: true,
    };
    q.max_callers = 1;
    let mut cc = CallCenter::new(vec![q], c.ms, 1);
    phones.gone("202");
    cc.pause(c.ms, "203", None, Some("lunch".into())).unwrap();
    assert_eq!(
        cc.enter(c.now, c.ms, 1, "600", &phones),
        Err((Condition::Unavailable, OverflowAction::Hangup))
    );
    cc.resume(c.ms, "203", Some("600")).unwrap();
    phones.busy("203", 1);
    // Busy does not count under this rule: the caller waits.
    cc.enter(c.now, c.ms, 2, "600", &phones).unwrap();
    // One caller waits already and the queue takes one.
    assert_eq!(
        cc.enter(c.now, c.ms, 3, "600", &phones),
        Err((Condition::Busy, OverflowAction::Hangup))
    );
    let st = cc.queue_status("600", &phones, c.now).unwrap();
    assert_eq!(
        (st.stats.offered, st.stats.overflowed, st.waiting),
        (3, 2, 1)
    );
}

#[test]
fn autopause_after_no_answer_but_not_with_ringall_nor_on_abandon() {
    let mut c = Clock::new();
    let phones = Phones::default();
    let mut q = queue("600", QueueStrategy::Rrmemory, &[("202", 0), ("203", 0)]);
    q.autopause = true;
    let mut cc = CallCenter::new(vec![q], c.ms, 1);
    cc.enter(c.now, c.ms, 1, "600", &phones).unwrap();
    assert_eq!(
        ring_of(&cc.poll(c.now, c.ms, &phones)),
        [(1, names(&["202"]))]
    );
    c.advance(15.0);
    cc.poll(c.now, c.ms, &phones);
    let a = cc.agent_status("202", &phones, c.now);
    assert_eq!(a.state, AgentState::Paused);
    assert_eq!(
        a.queues[0]
            .paused
            .as_ref()
            .and_then(|p| p.reason.as_deref()),
        Some(AUTOPAUSE_REASON)
    );
    assert!(matches!(cc.writes.last(), Some(CcWrite::PauseStart { .. })));
    // The next attempt skips the paused agent.
    c.advance(5.0);
    assert_eq!(
        ring_of(&cc.poll(c.now, c.ms, &phones)),
        [(1, names(&["203"]))]
    );
    // The caller hangs up while 203 rings: no autopause.
    cc.abandoned(c.ms, 1);
    assert_eq!(
        cc.agent_status("203", &phones, c.now).state,
        AgentState::Free
    );

    // Ringall never autopauses.
    let mut q = queue("601", QueueStrategy::Ringall, &[("204", 0)]);
    q.autopause = true;
    let mut cc = CallCenter::new(vec![q], c.ms, 1);
    cc.enter(c.now, c.ms, 2, "601", &phones).unwrap();
    cc.poll(c.now, c.ms, &phones);
    cc.leg_failed(c.ms, 2, "204");
    cc.ring_failed(c.now, 2);
    assert_eq!(
        cc.agent_status("204", &phones, c.now).state,
        AgentState::Free
    );
}

#[test]
fn a_refusal_autopauses_and_the_caller_retries_after_the_pause() {
    let mut c = Clock::new();
    let phones = Phones::default();
    let mut q = queue("600", QueueStrategy::Linear, &[("202", 0), ("203", 0)]);
    q.autopause = true;
    let mut cc = CallCenter::new(vec![q], c.ms, 1);
    cc.enter(c.now, c.ms, 1, "600", &phones).unwrap();
    assert_eq!(
        ring_of(&cc.poll(c.now, c.ms, &phones)),
        [(1, names(&["202"]))]
    );
    cc.leg_failed(c.ms, 1, "202");
    cc.ring_failed(c.now, 1);
    assert!(cc.poll(c.now, c.ms, &phones).is_empty(), "retry pause");
    c.advance(5.0);
    assert_eq!(
        ring_of(&cc.poll(c.now, c.ms, &phones)),
        [(1, names(&["203"]))]
    );
    assert_eq!(
        cc.agent_status("202", &phones, c.now).state,
        AgentState::Paused
    );
}

#[test]
fn answered_calls_give_wait_talk_service_level_and_wrapup() {
    let mut c = Clock::new();
    let phones = Phones::default();
    let mut cc = CallCenter::new(
        vec![queue(
            "600",
            QueueStrategy::Rrmemory,
            &[("202", 0), ("203", 0)],
        )],
        c.ms,
        1,
    );
    cc.enter(c.now, c.ms, 1, "600", &phones).unwrap();
    cc.poll(c.now, c.ms, &phones);
    c.advance(3.0);
    assert_eq!(cc.answered(c.ms, 1, "202"), Some(vec![]));
    phones.busy("202", 1);
    assert_eq!(
        cc.agent_status("202", &phones, c.now).state,
        AgentState::Talking
    );
    c.advance(10.0);
    phones.busy("202", 0);
    cc.ended(c.now, c.ms, 1, c.ms);
    assert_eq!(
        cc.agent_status("202", &phones, c.now).state,
        AgentState::Wrapup
    );
    // During 202's wrap-up a new caller gets 203 even though rrmemory would pick 203 anyway;
    // then 203 is busy and 202 still rests: nobody rings.
    cc.enter(c.now, c.ms, 2, "600", &phones).unwrap();
    assert_eq!(
        ring_of(&cc.poll(c.now, c.ms, &phones)),
        [(2, names(&["203"]))]
    );
    c.advance(25.0);
    assert_eq!(cc.answered(c.ms, 2, "203"), Some(vec![]));
    c.advance(5.0);
    cc.ended(c.now, c.ms, 2, c.ms);
    cc.poll(c.now, c.ms, &phones);
    assert_eq!(
        cc.agent_status("202", &phones, c.now).state,
        AgentState::Free
    );
    let st = cc.queue_status("600", &phones, c.now).unwrap();
    let s = st.stats;
    assert_eq!((s.offered, s.answered, s.answered_in_sl), (2, 2, 1));
    assert_eq!(
        (s.avg_wait_ms, s.longest_wait_ms, s.avg_talk_ms),
        (14_000, 25_000, 7_500)
    );
    let a = cc.agent_status("202", &phones, c.now);
    assert_eq!(a.calls_taken, 1);
    assert!(a.last_call_ms.is_some());
}

#[test]
fn pauses_count_their_time_and_apply_per_queue_or_everywhere() {
    let mut c = Clock::new();
    let phones = Phones::default();
    let mut cc = CallCenter::new(
        vec![
            queue("600", QueueStrategy::Ringall, &[("202", 0)]),
            queue("601", QueueStrategy::Ringall, &[("202", 0)]),
        ],
        c.ms,
        1,
    );
    cc.pause(c.ms, "202", Some("600"), Some("lunch".into()))
        .unwrap();
    let a = cc.agent_status("202", &phones, c.now);
    assert_eq!(a.state, AgentState::Free, "still free in 601");
    assert_eq!(a.queues[0].state, AgentState::Paused);
    cc.pause(c.ms, "202", None, Some("meeting".into())).unwrap();
    assert_eq!(
        cc.agent_status("202", &phones, c.now).state,
        AgentState::Paused
    );
    c.advance(60.0);
    cc.resume(c.ms, "202", None).unwrap();
    let a = cc.agent_status("202", &phones, c.now);
    assert_eq!(a.state, AgentState::Free);
    assert_eq!(
        a.queues.iter().map(|q| q.pause_ms).collect::<Vec<_>>(),
        [60_000, 60_000]
    );
    assert_eq!(a.pause_ms, 60_000);
    assert_eq!(
        cc.pause(c.ms, "209", None, None),
        Err(AgentError::NotAgent("209".into()))
    );
    assert_eq!(
        cc.pause(c.ms, "202", Some("699"), None),
        Err(AgentError::NoQueue("699".into()))
    );
    let starts = cc
        .writes
        .iter()
        .filter(|w| matches!(w, CcWrite::PauseStart { .. }))
        .count();
    assert_eq!(starts, 2, "a pause already running is not restarted");
}

#[test]
fn dynamic_members_log_in_and_out_configured_ones_stay() {
    let c = Clock::new();
    let phones = Phones::default();
    let mut cc = CallCenter::new(
        vec![queue("600", QueueStrategy::Ringall, &[("202", 0)])],
        c.ms,
        1,
    );
    cc.login("205", "600", 2).unwrap();
    assert_eq!(
        cc.login("205", "600", 2),
        Err(AgentError::AlreadyMember("205".into(), "600".into()))
    );
    assert_eq!(
        cc.logout(c.ms, "202", "600"),
        Err(AgentError::Static("202".into(), "600".into()))
    );
    let st = cc.queue_status("600", &phones, c.now).unwrap();
    assert_eq!(st.agents.free, 2);
    cc.pause(c.ms, "205", None, None).unwrap();
    cc.logout(c.ms, "205", "600").unwrap();
    assert!(cc.agent_status("205", &phones, c.now).queues.is_empty());
    assert!(matches!(
        cc.writes.as_slice(),
        [
            CcWrite::MemberAdd { .. },
            CcWrite::PauseStart { .. },
            CcWrite::PauseEnd { .. },
            CcWrite::MemberRemove { .. }
        ]
    ));
}

#[test]
fn a_shared_agent_serves_the_higher_priority_queue_first() {
    let c = Clock::new();
    let phones = Phones::default();
    let low = queue("600", QueueStrategy::Ringall, &[("202", 0)]);
    let mut high = queue("601", QueueStrategy::Ringall, &[("202", 0)]);
    high.priority = 10;
    let mut cc = CallCenter::new(vec![low, high], c.ms, 1);
    phones.busy("202", 1);
    cc.enter(c.now, c.ms, 1, "600", &phones).unwrap();
    cc.enter(c.now, c.ms, 2, "601", &phones).unwrap();
    assert!(ring_of(&cc.poll(c.now, c.ms, &phones)).is_empty());
    phones.busy("202", 0);
    assert_eq!(
        ring_of(&cc.poll(c.now, c.ms, &phones)),
        [(2, names(&["202"]))]
    );
}

#[test]
fn leave_empty_sends_waiting_callers_away_when_everyone_pauses() {
    let c = Clock::new();
    let phones = Phones::default();
    let mut q = queue("600", QueueStrategy::Ringall, &[("202", 0)]);
    q.leave_empty.paused = true;
    let mut cc = CallCenter::new(vec![q], c.ms, 1);
    phones.busy("202", 1);
    cc.enter(c.now, c.ms, 1, "600", &phones).unwrap();
    assert!(cc.poll(c.now, c.ms, &phones).is_empty());
    cc.pause(c.ms, "202", None, None).unwrap();
    let a = cc.poll(c.now, c.ms, &phones);
    assert!(
        matches!(
            a.as_slice(),
            [Action::Overflow {
                call: 1,
                cond: Condition::Unavailable,
                ..
            }]
        ),
        "{a:?}"
    );
}

#[test]
fn the_statistics_rebuilt_from_records_match() {
    let c = Clock::new();
    let rows = vec![
        QueueRowFacts {
            queue: "600".into(),
            enter_ms: c.ms - 60_000,
            answer_ms: Some(c.ms - 50_000),
            exit_ms: Some(c.ms - 20_000),
            exit_cause: Some("NCC".into()),
            answered_by: Some("202".into()),
        },
        QueueRowFacts {
            queue: "600".into(),
            enter_ms: c.ms - 10_000,
            answer_ms: None,
            exit_ms: Some(c.ms - 4_000),
            exit_cause: Some("CANCELED".into()),
            answered_by: None,
        },
    ];
    let phones = Phones::default();
    let mut cc = CallCenter::new(
        vec![queue("600", QueueStrategy::Ringall, &[("202", 0)])],
        c.ms,
        1,
    );
    cc.seed_rows(&rows);
    let s = cc.queue_status("600", &phones, c.now).unwrap().stats;
    assert_eq!((s.offered, s.answered, s.abandoned), (2, 1, 1));
    assert_eq!(
        (s.avg_wait_ms, s.longest_wait_ms, s.avg_talk_ms),
        (10_000, 10_000, 30_000)
    );
    let a = cc.agent_status("202", &phones, c.now);
    assert_eq!((a.calls_taken, a.last_call_ms), (1, Some(c.ms - 50_000)));
}

#[test]
fn reconfigure_keeps_waiting_callers_pauses_and_dynamic_members() {
    let mut c = Clock::new();
    let phones = Phones::default();
    let mut cc = CallCenter::new(
        vec![queue(
            "600",
            QueueStrategy::Ringall,
            &[("202", 0), ("203", 0)],
        )],
        c.ms,
        1,
    );
    cc.pause(c.ms, "202", Some("600"), Some("lunch".into()))
        .unwrap();
    cc.login("205", "600", 3).unwrap();
    phones.busy("203", 1);
    phones.busy("205", 1);
    cc.enter(c.now, c.ms, 1, "600", &phones).unwrap();
    assert!(ring_of(&cc.poll(c.now, c.ms, &phones)).is_empty());
    let _ = cc.drain_dirty();
    // 203 leaves the configuration, 204 joins it; the store's copy of the dynamic member is
    // ignored (the call center's own is kept).
    let mut new = queue("600", QueueStrategy::Ringall, &[("202", 1), ("204", 0)]);
    new.name = "Renamed".into();
    let out = cc.reconfigure(c.ms, vec![new]);
    assert!(out.is_empty());
    assert!(cc.is_waiting(1), "the caller still waits");
    assert_eq!(cc.queue_name("600"), Some("Renamed"));
    let a202 = cc.agent_status("202", &phones, c.now);
    assert_eq!(a202.queues[0].penalty, 1);
    assert!(a202.queues[0].paused.is_some(), "the pause goes on");
    assert!(cc.agent_status("203", &phones, c.now).queues.is_empty());
    let a205 = cc.agent_status("205", &phones, c.now);
    assert!(a205.queues[0].dynamic && a205.queues[0].penalty == 3);
    let (_, agents) = cc.drain_dirty();
    assert!(agents.contains(&"203".to_string()), "{agents:?}");
    // The new member takes the waiting caller at the next attempt.
    c.advance(0.1);
    assert_eq!(
        ring_of(&cc.poll(c.now, c.ms, &phones)),
        [(1, names(&["204"]))]
    );
    // A configured member with a dynamic one's extension takes over.
    let out = cc.reconfigure(
        c.ms,
        vec![queue(
            "600",
            QueueStrategy::Ringall,
            &[("202", 1), ("204", 0), ("205", 2)],
        )],
    );
    assert!(out.is_empty());
    let a205 = cc.agent_status("205", &phones, c.now);
    assert_eq!((a205.queues[0].dynamic, a205.queues[0].penalty), (false, 2));
}

#[test]
fn reconfigure_sends_callers_of_a_removed_queue_to_its_overflow_and_adds_new_queues() {
    let c = Clock::new();
    let phones = Phones::default();
    let mut q = queue("600", QueueStrategy::Ringall, &[("202", 0)]);
    q.overflow = OverflowAction::Extension("208".into());
    let mut cc = CallCenter::new(vec![q], c.ms, 1);
    cc.enter(c.now, c.ms, 1, "600", &phones).unwrap();
    assert_eq!(
        ring_of(&cc.poll(c.now, c.ms, &phones)),
        [(1, names(&["202"]))]
    );
    let out = cc.reconfigure(
        c.ms,
        vec![queue("610", QueueStrategy::Linear, &[("203", 0)])],
    );
    assert_eq!(
        out,
        [Action::Overflow {
            call: 1,
            agents: names(&["202"]),
            cond: Condition::Unavailable,
            action: OverflowAction::Extension("208".into()),
        }]
    );
    assert!(!cc.is_waiting(1) && !cc.is_queue("600") && cc.is_queue("610"));
    assert_eq!(cc.drain_removed(), ["600"]);
    assert!(cc.agent_status("202", &phones, c.now).queues.is_empty());
    assert!(cc.agent_numbers().contains(&"203".to_string()));
    cc.enter(c.now, c.ms, 2, "610", &phones).unwrap();
    assert_eq!(
        ring_of(&cc.poll(c.now, c.ms, &phones)),
        [(2, names(&["203"]))]
    );
}
