//! The CPU cost of the call center's live statistics (issue 4, acceptance 5), driving the
//! sans-IO call center directly on a simulated clock: 50 queues × 200 agents (2,000 agents,
//! each a member of 5 queues), callers arriving, agents rung by strategy, answering, talking,
//! wrapping up, some callers abandoning. After every event the bench does what the engine does
//! (`Engine::settle` + `Engine::drain_queue_updates`): poll the call center, then rebuild the
//! views of the queues and agents that changed and keep those that differ from the last sent.
//!
//! Prints `key value` lines (bench/run.py formats them):
//! events, simulated seconds, calls offered/answered/abandoned, CPU µs per event for the call
//! center's decisions and for the live statistics, the statistics' share of one core at the
//! simulated load, views sent per event, and for comparison the cost of rebuilding every queue's
//! statistics from scratch on every event.
//!
//! Usage: callcenter-bench [--quick]

use pbx_server::callcenter::{Action, CallCenter, EmptyRule, Lines, MemberConfig, QueueConfig};
use pbx_server::directory::OverflowAction;
use shared_protocol::{AgentStatus, QueueStatus, QueueStrategy};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::{Duration, Instant};

const QUEUES: usize = 50;
const PER_QUEUE: usize = 200;
const AGENTS: usize = 2_000;
/// Mean seconds between callers (all queues together).
const ARRIVAL_MEAN_S: f64 = 0.036;
const RING_S: u64 = 3;
const TALK_MIN_S: u64 = 30;
const TALK_SPAN_S: u64 = 90;
/// One caller in ten hangs up after this long if still waiting.
const PATIENCE_S: u64 = 20;

struct Phones {
    load: HashMap<String, u32>,
}

impl Lines for Phones {
    fn reachable(&self, _ext: &str) -> bool {
        true
    }
    fn load(&self, ext: &str) -> u32 {
        self.load.get(ext).copied().unwrap_or(0)
    }
    fn name(&self, _ext: &str) -> String {
        String::new()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    Arrive,
    Answer(u64, String),
    End(u64, String),
    Abandon(u64),
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn ext(i: usize) -> String {
    format!("{}", 10_000 + i)
}

fn configs() -> Vec<QueueConfig> {
    let strategies = [
        QueueStrategy::Rrmemory,
        QueueStrategy::Leastrecent,
        QueueStrategy::Fewestcalls,
        QueueStrategy::Linear,
        QueueStrategy::Random,
    ];
    (0..QUEUES)
        .map(|q| QueueConfig {
            number: format!("{}", 5_000 + q),
            name: format!("Queue {q}"),
            enabled: true,
            priority: (q % 3) as i64,
            strategy: strategies[q % strategies.len()],
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
            // Each agent sits in 5 queues: queue q takes agents q*40 .. q*40+199 (mod 2,000).
            members: (0..PER_QUEUE)
                .map(|k| MemberConfig {
                    extension: ext((q * (AGENTS / QUEUES) + k) % AGENTS),
                    penalty: (k % 2) as u32,
                    dynamic: false,
                })
                .collect(),
        })
        .collect()
}

#[derive(Default)]
struct Costs {
    decide: Duration,
    stats: Duration,
    full: Duration,
    events: u64,
    views_sent: u64,
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let sim_s: u64 = if quick { 600 } else { 3_600 };
    let base = Instant::now();
    let base_ms: i64 = 1_800_000_000_000;
    let mut cc = CallCenter::new(configs(), base_ms, 42);
    let mut phones = Phones {
        load: HashMap::new(),
    };
    let mut rng = Rng(7);
    let mut sched: BinaryHeap<Reverse<(u64, u64, Ev)>> = BinaryHeap::new();
    let mut order = 0u64;
    let mut push = |sched: &mut BinaryHeap<Reverse<(u64, u64, Ev)>>, at_ms: u64, ev: Ev| {
        order += 1;
        sched.push(Reverse((at_ms, order, ev)));
    };
    push(&mut sched, 0, Ev::Arrive);
    let mut next_call = 1u64;
    let (mut offered, mut answered, mut abandoned) = (0u64, 0u64, 0u64);
    let mut queue_views: HashMap<String, QueueStatus> = HashMap::new();
    let mut agent_views: HashMap<String, AgentStatus> = HashMap::new();
    let mut costs = Costs::default();
    let queue_numbers = cc.queue_numbers();
    let mut t_ms = 0u64;

    loop {
        // The next thing that happens: a scheduled event or a call-center deadline.
        let next_ev = sched.peek().map(|Reverse((at, _, _))| *at);
        let next_cc = cc
            .next_deadline()
            .map(|d| d.saturating_duration_since(base).as_millis() as u64);
        let Some(at) = [next_ev, next_cc].into_iter().flatten().min() else {
            break;
        };
        if at > sim_s * 1_000 {
            break;
        }
        t_ms = t_ms.max(at);
        let now = base + Duration::from_millis(t_ms);
        let now_ms = base_ms + t_ms as i64;

        let t0 = Instant::now();
        if next_ev == Some(at) {
            let Some(Reverse((_, _, ev))) = sched.pop() else {
                break;
            };
            match ev {
                Ev::Arrive => {
                    let call = next_call;
                    next_call += 1;
                    offered += 1;
                    let q = &queue_numbers[(rng.next() % QUEUES as u64) as usize];
                    if cc.enter(now, now_ms, call, q, &phones).is_ok()
                        && rng.next().is_multiple_of(10)
                    {
                        push(&mut sched, t_ms + PATIENCE_S * 1_000, Ev::Abandon(call));
                    }
                    let gap = (-ARRIVAL_MEAN_S * (1.0 - rng.unit()).ln() * 1_000.0) as u64;
                    push(&mut sched, t_ms + gap.max(1), Ev::Arrive);
                }
                Ev::Answer(call, agent) => {
                    if let Some(others) = cc.answered(now_ms, call, &agent) {
                        answered += 1;
                        for o in others {
                            release(&mut phones, &mut cc, &o);
                        }
                        let talk = TALK_MIN_S + rng.next() % TALK_SPAN_S;
                        push(&mut sched, t_ms + talk * 1_000, Ev::End(call, agent));
                    }
                }
                Ev::End(call, agent) => {
                    release(&mut phones, &mut cc, &agent);
                    cc.ended(now, now_ms, call, now_ms);
                }
                Ev::Abandon(call) => {
                    if cc.is_waiting(call) {
                        abandoned += 1;
                        for a in cc.abandoned(now_ms, call) {
                            release(&mut phones, &mut cc, &a);
                        }
                    }
                }
            }
        }
        // Engine::settle: carry out what the call center decides.
        let actions = cc.poll(now, now_ms, &phones);
        for a in actions {
            match a {
                Action::Ring { call, agents } => {
                    for g in &agents {
                        *phones.load.entry(g.clone()).or_default() += 1;
                        cc.touch(g);
                    }
                    // The first one rung answers after a few seconds.
                    if let Some(first) = agents.first() {
                        push(
                            &mut sched,
                            t_ms + RING_S * 1_000,
                            Ev::Answer(call, first.clone()),
                        );
                    }
                }
                Action::StopRinging { agents, .. } | Action::Overflow { agents, .. } => {
                    for g in &agents {
                        release(&mut phones, &mut cc, g);
                    }
                }
            }
        }
        let t1 = Instant::now();
        // Engine::drain_queue_updates: views of what changed, sent when they differ.
        let (queues, agents) = cc.drain_dirty();
        for a in agents {
            let st = cc.agent_status(&a, &phones, now);
            if agent_views.get(&a) != Some(&st) {
                agent_views.insert(a, st);
                costs.views_sent += 1;
            }
        }
        for q in queues {
            if let Some(st) = cc.queue_status(&q, &phones, now) {
                if queue_views.get(&q) != Some(&st) {
                    queue_views.insert(q, st);
                    costs.views_sent += 1;
                }
            }
        }
        let t2 = Instant::now();
        // For comparison: every queue's view rebuilt on every event.
        let mut n = 0;
        for q in &queue_numbers {
            n += cc
                .queue_status(q, &phones, now)
                .map_or(0, |s| s.waiting as usize);
        }
        std::hint::black_box(n);
        let t3 = Instant::now();
        costs.decide += t1 - t0;
        costs.stats += t2 - t1;
        costs.full += t3 - t2;
        costs.events += 1;
    }

    let per = |d: Duration| d.as_secs_f64() * 1e6 / costs.events.max(1) as f64;
    let share = |d: Duration| d.as_secs_f64() * 100.0 / sim_s as f64;
    println!("queues {QUEUES}");
    println!("agents {AGENTS}");
    println!("members_per_queue {PER_QUEUE}");
    println!("simulated_s {sim_s}");
    println!("events {}", costs.events);
    println!(
        "events_per_simulated_s {:.1}",
        costs.events as f64 / sim_s as f64
    );
    println!("calls_offered {offered}");
    println!("calls_answered {answered}");
    println!("calls_abandoned {abandoned}");
    println!("decide_us_per_event {:.2}", per(costs.decide));
    println!("stats_us_per_event {:.2}", per(costs.stats));
    println!(
        "views_sent_per_event {:.2}",
        costs.views_sent as f64 / costs.events.max(1) as f64
    );
    println!("stats_core_pct {:.3}", share(costs.stats));
    println!("decide_core_pct {:.3}", share(costs.decide));
    println!("full_rebuild_us_per_event {:.2}", per(costs.full));
}

fn release(phones: &mut Phones, cc: &mut CallCenter, agent: &str) {
    if let Some(l) = phones.load.get_mut(agent) {
        *l = l.saturating_sub(1);
    }
    cc.touch(agent);
}
