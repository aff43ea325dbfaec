//! The call center, sans-IO: queues with their members, the callers waiting in them, agents'
//! pauses and wrap-ups, the ring strategies and the live statistics
//! (docs/decisions/010-call-center.md).
//!
//! The call engine drives it: it says what happened (`enter`, `answered`, `leg_failed`,
//! `ring_failed`, `abandoned`, `ended`, agent operations), calls [`CallCenter::poll`] after
//! every step and carries out the [`Action`]s it returns (ring agents, stop ringing, overflow).
//! Time is an argument; nothing here touches SIP or a clock. What agents' phones are doing
//! (registered, in a call) is read through [`Lines`].

mod reconfigure;
mod stats;
mod strategy;
#[cfg(test)]
mod tests;

pub use stats::{local_day, QueueRowFacts};

use crate::calls::Condition;
use crate::directory::OverflowAction;
use shared_protocol::{
    AgentCounts, AgentPause, AgentQueue, AgentState, AgentStatus, QueueStatus, QueueStrategy,
};
use stats::Stats;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};
use strategy::{Candidate, RoundRobin};

/// The reason recorded when the PBX pauses an agent who did not answer.
pub const AUTOPAUSE_REASON: &str = "autopause";

/// Which members count as "nobody to take the call" for the immediate overflow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmptyRule {
    /// Busy members (talking, ringing, in wrap-up) count.
    pub busy: bool,
    /// Paused members count.
    pub paused: bool,
    /// Members without a registered device count.
    pub unavailable: bool,
}

impl EmptyRule {
    fn any(self) -> bool {
        self.busy || self.paused || self.unavailable
    }
}

/// One queue's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueConfig {
    /// Number dialled to reach it.
    pub number: String,
    /// Display name.
    pub name: String,
    /// A disabled queue sends every call to its overflow.
    pub enabled: bool,
    /// Higher first: an agent free for several queues takes the highest one's caller.
    pub priority: i64,
    /// Ring strategy.
    pub strategy: QueueStrategy,
    /// Seconds each attempt rings.
    pub ring_timeout_s: u32,
    /// Seconds between attempts.
    pub retry_s: u32,
    /// Seconds an agent rests after a call of this queue.
    pub wrapup_s: u32,
    /// Seconds a caller may wait before the overflow; 0 = no limit.
    pub max_wait_s: u32,
    /// Callers allowed to wait; 0 = no limit.
    pub max_callers: u32,
    /// Pause an agent who does not answer or refuses (not with `ringall`).
    pub autopause: bool,
    /// Ring agents already on a call too.
    pub ring_busy: bool,
    /// Where unanswered callers go.
    pub overflow: OverflowAction,
    /// Immediate overflow for a new caller when every member is in one of these states.
    pub join_empty: EmptyRule,
    /// Immediate overflow for waiting callers when every member is (becomes) paused or
    /// unavailable (`busy` is ignored here).
    pub leave_empty: EmptyRule,
    /// Answered within this many seconds counts for the service level.
    pub service_level_s: u32,
    /// Members in ring order.
    pub members: Vec<MemberConfig>,
}

/// A member of a queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberConfig {
    /// Extension number.
    pub extension: String,
    /// Lower rings first.
    pub penalty: u32,
    /// Joined at run time (agent log-in) rather than configured.
    pub dynamic: bool,
}

/// A pause found open at start (it goes on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenPause {
    /// Extension.
    pub extension: String,
    /// Queue number.
    pub queue: String,
    /// Why.
    pub reason: Option<String>,
    /// Start.
    pub since_ms: i64,
}

/// What the engine can tell about an extension's phones.
pub trait Lines {
    /// Whether the extension is enabled and has a registered device.
    fn reachable(&self, ext: &str) -> bool;
    /// Calls the extension takes part in (ringing or talking).
    fn load(&self, ext: &str) -> u32;
    /// Display name.
    fn name(&self, ext: &str) -> String;
}

/// What the engine must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Ring these agents for `call`, until told otherwise.
    Ring {
        /// Engine call id.
        call: u64,
        /// Extensions to ring.
        agents: Vec<String>,
    },
    /// Nobody answered in the ring time: stop ringing; the caller waits for its next try.
    StopRinging {
        /// Engine call id.
        call: u64,
        /// The agents that were rung.
        agents: Vec<String>,
    },
    /// The caller leaves the queue unanswered (max wait, or nobody left to take it): stop
    /// ringing and run `action`, the step ending with `cond`.
    Overflow {
        /// Engine call id.
        call: u64,
        /// Agents being rung.
        agents: Vec<String>,
        /// Exit cause of the queue step.
        cond: Condition,
        /// The queue's overflow.
        action: OverflowAction,
    },
}

/// A write for the store.
pub use crate::store::QueueWrite as CcWrite;

/// Why an agent operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgentError {
    /// No such queue.
    #[error("no queue {0}")]
    NoQueue(String),
    /// The extension is not a member of that queue.
    #[error("extension {0} is not a member of queue {1}")]
    NotMember(String, String),
    /// The extension is not a member of any queue.
    #[error("extension {0} is not a member of any queue")]
    NotAgent(String),
    /// Configured members stay; only dynamic members log out.
    #[error("extension {0} is a configured member of queue {1}; only dynamic members log out")]
    Static(String, String),
    /// Already a member.
    #[error("extension {0} is already a member of queue {1}")]
    AlreadyMember(String, String),
}

#[derive(Debug, Clone)]
struct Pause {
    reason: Option<String>,
    since_ms: i64,
}

#[derive(Debug, Clone)]
struct Member {
    ext: String,
    penalty: u32,
    dynamic: bool,
    paused: Option<Pause>,
    /// Pauses ended in the period.
    pause_ms: i64,
    calls_taken: u32,
    last_answer_ms: Option<i64>,
    wrapup_until: Option<Instant>,
}

impl Member {
    fn new(c: &MemberConfig) -> Member {
        Member {
            ext: c.extension.clone(),
            penalty: c.penalty,
            dynamic: c.dynamic,
            paused: None,
            pause_ms: 0,
            calls_taken: 0,
            last_answer_ms: None,
            wrapup_until: None,
        }
    }
}

#[derive(Debug)]
struct Queue {
    cfg: QueueConfig,
    members: Vec<Member>,
    /// Callers in arrival order (engine call ids).
    waiting: VecDeque<u64>,
    rr: RoundRobin,
    stats: Stats,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum WaitState {
    /// Waiting for the next attempt: from `at` (`None`: now, whenever an agent is free).
    Ready { at: Option<Instant> },
    /// Agents ring until `until`.
    Ringing { agents: Vec<String>, until: Instant },
}

#[derive(Debug)]
struct Waiter {
    queue: String,
    entered_ms: i64,
    max_wait_at: Option<Instant>,
    state: WaitState,
    /// `linear`: the member position after the last one rung for this caller.
    linpos: usize,
    /// The period it entered in (statistics of an earlier day are not touched).
    period: i64,
}

#[derive(Debug)]
struct Served {
    queue: String,
    agent: String,
    answer_ms: i64,
    period: i64,
}

/// The call center of one tenant.
#[derive(Debug)]
pub struct CallCenter {
    queues: BTreeMap<String, Queue>,
    /// Queue numbers by priority (highest first), then number.
    order: Vec<String>,
    /// Queues of each agent.
    agent_queues: BTreeMap<String, BTreeSet<String>>,
    /// Agents being rung, with the call.
    ringing: HashMap<String, u64>,
    waiters: HashMap<u64, Waiter>,
    served: HashMap<u64, Served>,
    rng: u64,
    /// Statistics period: start and end (ms), and the end as an instant once known.
    period: (i64, i64),
    period_end_at: Option<Instant>,
    next_wrapup: Option<Instant>,
    dirty_queues: BTreeSet<String>,
    dirty_agents: BTreeSet<String>,
    /// Queues removed by a reconfiguration, not yet reported.
    removed_queues: Vec<String>,
    /// Writes for the store, drained by the core.
    pub writes: Vec<CcWrite>,
}

impl Default for CallCenter {
    fn default() -> CallCenter {
        CallCenter::new(Vec::new(), 0, 1)
    }
}

impl CallCenter {
    /// A call center with these queues, at `now_ms` (the statistics period is its local day);
    /// `seed` starts the `random` strategy's generator.
    pub fn new(configs: Vec<QueueConfig>, now_ms: i64, seed: u64) -> CallCenter {
        let mut cc = CallCenter {
            queues: BTreeMap::new(),
            order: Vec::new(),
            agent_queues: BTreeMap::new(),
            ringing: HashMap::new(),
            waiters: HashMap::new(),
            served: HashMap::new(),
            rng: seed,
            period: local_day(now_ms),
            period_end_at: None,
            next_wrapup: None,
            dirty_queues: BTreeSet::new(),
            dirty_agents: BTreeSet::new(),
            removed_queues: Vec::new(),
            writes: Vec::new(),
        };
        for cfg in configs {
            let members: Vec<Member> = cfg.members.iter().map(Member::new).collect();
            for m in &members {
                cc.agent_queues
                    .entry(m.ext.clone())
                    .or_default()
                    .insert(cfg.number.clone());
            }
            cc.queues.insert(
                cfg.number.clone(),
                Queue {
                    cfg,
                    members,
                    waiting: VecDeque::new(),
                    rr: RoundRobin::default(),
                    stats: Stats::default(),
                },
            );
        }
        cc.sort_queues();
        cc
    }

    /// The polling order: priority (highest first), then number.
    fn sort_queues(&mut self) {
        let mut order: Vec<(i64, String)> = self
            .queues
            .values()
            .map(|q| (-q.cfg.priority, q.cfg.number.clone()))
            .collect();
        order.sort();
        self.order = order.into_iter().map(|(_, n)| n).collect();
    }

    /// The call center as stored: queues, members, pauses still open, today's pause time and
    /// today's `queue` rows of the call records (`data` loaded with the period start
    /// `local_day(now_ms).0`). Unknown strategies ring all; unparsable numbers fall back to
    /// the seed's defaults.
    pub fn from_store(data: &crate::store::CallCenterData, now_ms: i64, seed: u64) -> CallCenter {
        let configs = data.queues.iter().map(config_of).collect();
        let mut cc = CallCenter::new(configs, now_ms, seed);
        let rows: Vec<QueueRowFacts> = data
            .rows
            .iter()
            .map(|r| QueueRowFacts {
                queue: r.queue.clone(),
                enter_ms: r.enter_ms,
                answer_ms: r.answer_ms,
                exit_ms: r.exit_ms,
                exit_cause: r.exit_cause.clone(),
                answered_by: r.answered_by.clone(),
            })
            .collect();
        cc.seed_rows(&rows);
        let since = cc.period.0;
        let open: Vec<OpenPause> = data
            .pauses
            .iter()
            .filter(|p| p.end_ms.is_none())
            .map(|p| OpenPause {
                extension: p.extension.clone(),
                queue: p.queue.clone(),
                reason: p.reason.clone(),
                since_ms: p.start_ms,
            })
            .collect();
        let closed: Vec<(String, String, i64)> = data
            .pauses
            .iter()
            .filter_map(|p| {
                let end = p.end_ms?;
                Some((
                    p.extension.clone(),
                    p.queue.clone(),
                    end - p.start_ms.max(since),
                ))
            })
            .filter(|(_, _, ms)| *ms > 0)
            .collect();
        cc.seed_pauses(&open, &closed);
        cc
    }

    /// Rebuilds the period's statistics from the `queue` rows of today's call records, and
    /// the members' calls taken and last calls.
    pub fn seed_rows(&mut self, rows: &[QueueRowFacts]) {
        for r in rows.iter().filter(|r| r.enter_ms >= self.period.0) {
            let Some(q) = self.queues.get_mut(&r.queue) else {
                continue;
            };
            q.stats.add_row(r, q.cfg.service_level_s);
            if let (Some(agent), Some(at)) = (&r.answered_by, r.answer_ms) {
                if let Some(m) = q.members.iter_mut().find(|m| &m.ext == agent) {
                    m.calls_taken += 1;
                    m.last_answer_ms = Some(m.last_answer_ms.map_or(at, |l| l.max(at)));
                }
            }
        }
    }

    /// Restores pauses left open (they go on) and adds the pause time already spent today
    /// (`closed`: extension, queue, milliseconds).
    pub fn seed_pauses(&mut self, open: &[OpenPause], closed: &[(String, String, i64)]) {
        for p in open {
            if let Some(m) = self.member_mut(&p.queue, &p.extension) {
                m.paused = Some(Pause {
                    reason: p.reason.clone(),
                    since_ms: p.since_ms,
                });
            }
        }
        for (ext, queue, ms) in closed {
            if let Some(m) = self.member_mut(queue, ext) {
                m.pause_ms += ms;
            }
        }
    }

    fn member_mut(&mut self, queue: &str, ext: &str) -> Option<&mut Member> {
        self.queues
            .get_mut(queue)?
            .members
            .iter_mut()
            .find(|m| m.ext == ext)
    }

    /// Whether `number` is a queue.
    pub fn is_queue(&self, number: &str) -> bool {
        self.queues.contains_key(number)
    }

    /// A queue's name.
    pub fn queue_name(&self, number: &str) -> Option<&str> {
        self.queues.get(number).map(|q| q.cfg.name.as_str())
    }

    /// Whether the call waits in a queue (ringing agents or not).
    pub fn is_waiting(&self, call: u64) -> bool {
        self.waiters.contains_key(&call)
    }

    /// The queue a waiting call is in.
    pub fn waiting_in(&self, call: u64) -> Option<&str> {
        self.waiters.get(&call).map(|w| w.queue.as_str())
    }

    /// The agents ringing for a waiting call.
    pub fn rung(&self, call: u64) -> &[String] {
        match self.waiters.get(&call).map(|w| &w.state) {
            Some(WaitState::Ringing { agents, .. }) => agents,
            _ => &[],
        }
    }

    fn mark_queue(&mut self, queue: &str) {
        self.dirty_queues.insert(queue.to_string());
    }

    /// Something about an extension changed (its calls, its registration): if it is an agent,
    /// its state and its queues' counts are reported again.
    pub fn touch(&mut self, ext: &str) {
        if let Some(qs) = self.agent_queues.get(ext) {
            self.dirty_agents.insert(ext.to_string());
            self.dirty_queues.extend(qs.iter().cloned());
        }
    }

    /// Reports a queue's state again.
    pub fn touch_queue(&mut self, queue: &str) {
        self.dirty_queues.insert(queue.to_string());
    }

    /// Queues and agents changed since the last call.
    pub fn drain_dirty(&mut self) -> (Vec<String>, Vec<String>) {
        (
            std::mem::take(&mut self.dirty_queues).into_iter().collect(),
            std::mem::take(&mut self.dirty_agents).into_iter().collect(),
        )
    }

    /// A caller enters queue `queue`. `Err` sends it to the overflow at once: disabled queue,
    /// queue full, or nobody to take it (the queue's `join_empty` rule).
    pub fn enter(
        &mut self,
        now: Instant,
        now_ms: i64,
        call: u64,
        queue: &str,
        lines: &dyn Lines,
    ) -> Result<(), (Condition, OverflowAction)> {
        self.roll(now, now_ms);
        let empty = self.empty(queue, lines, now, true);
        let Some(q) = self.queues.get_mut(queue) else {
            return Err((Condition::Unavailable, OverflowAction::Hangup));
        };
        q.stats.offered();
        let refused = if !q.cfg.enabled {
            Some(Condition::Unavailable)
        } else if q.cfg.max_callers > 0 && q.waiting.len() >= q.cfg.max_callers as usize {
            Some(Condition::Busy)
        } else {
            empty
        };
        self.dirty_queues.insert(queue.to_string());
        if let Some(cond) = refused {
            q.stats.unanswered(0, false);
            return Err((cond, q.cfg.overflow.clone()));
        }
        q.waiting.push_back(call);
        let max_wait_at =
            (q.cfg.max_wait_s > 0).then(|| now + Duration::from_secs(u64::from(q.cfg.max_wait_s)));
        self.waiters.insert(
            call,
            Waiter {
                queue: queue.to_string(),
                entered_ms: now_ms,
                max_wait_at,
                state: WaitState::Ready { at: None },
                linpos: 0,
                period: self.period.0,
            },
        );
        Ok(())
    }

    /// Whether every member of `queue` counts as empty under its join (or leave) rule; the
    /// overflow condition if so.
    fn empty(&self, queue: &str, lines: &dyn Lines, now: Instant, join: bool) -> Option<Condition> {
        let q = self.queues.get(queue)?;
        let rule = if join {
            q.cfg.join_empty
        } else {
            EmptyRule {
                busy: false,
                ..q.cfg.leave_empty
            }
        };
        if !rule.any() {
            return None;
        }
        let mut any_busy = false;
        for m in &q.members {
            let counts = match self.member_state(m, lines, now) {
                AgentState::Unavailable => rule.unavailable,
                AgentState::Paused => rule.paused,
                AgentState::Talking | AgentState::Ringing | AgentState::Wrapup => {
                    any_busy = true;
                    rule.busy
                }
                AgentState::Free => false,
            };
            if !counts {
                return None;
            }
        }
        Some(if any_busy {
            Condition::Busy
        } else {
            Condition::Unavailable
        })
    }

    fn member_state(&self, m: &Member, lines: &dyn Lines, now: Instant) -> AgentState {
        if !lines.reachable(&m.ext) {
            AgentState::Unavailable
        } else if m.paused.is_some() {
            AgentState::Paused
        } else if self.ringing.contains_key(&m.ext) {
            AgentState::Ringing
        } else if lines.load(&m.ext) > 0 {
            AgentState::Talking
        } else if m.wrapup_until.is_some_and(|w| w > now) {
            AgentState::Wrapup
        } else {
            AgentState::Free
        }
    }

    /// The earliest instant at which `poll` has something to do by itself.
    pub fn next_deadline(&self) -> Option<Instant> {
        let waiters = self.waiters.values().flat_map(|w| {
            let state = match &w.state {
                WaitState::Ready { at } => *at,
                WaitState::Ringing { until, .. } => Some(*until),
            };
            [state, w.max_wait_at]
        });
        waiters
            .chain([self.next_wrapup, self.period_end_at])
            .flatten()
            .min()
    }

    /// Starts a new statistics period when the day changed.
    fn roll(&mut self, now: Instant, now_ms: i64) {
        if now_ms < self.period.1 {
            self.period_end_at = Some(now + Duration::from_millis((self.period.1 - now_ms) as u64));
            return;
        }
        self.period = local_day(now_ms);
        self.period_end_at = Some(now + Duration::from_millis((self.period.1 - now_ms) as u64));
        for q in self.queues.values_mut() {
            q.stats = Stats::default();
            for m in &mut q.members {
                m.calls_taken = 0;
                m.pause_ms = 0;
                if let Some(p) = &mut m.paused {
                    // The day's pause time counts from midnight.
                    p.since_ms = p.since_ms.max(self.period.0);
                }
            }
            self.dirty_queues.insert(q.cfg.number.clone());
        }
        self.dirty_agents.extend(self.agent_queues.keys().cloned());
    }

    /// Decides what happens next: ring timeouts, maximum waits, callers leaving empty queues,
    /// wrap-ups ending, and new attempts for waiting callers (queues by priority, callers in
    /// arrival order).
    pub fn poll(&mut self, now: Instant, now_ms: i64, lines: &dyn Lines) -> Vec<Action> {
        self.roll(now, now_ms);
        let mut out = Vec::new();
        if self.next_wrapup.is_some_and(|w| w <= now) {
            self.expire_wrapups(now);
        }
        if self.waiters.is_empty() {
            return out;
        }
        for qn in self.order.clone() {
            let calls: Vec<u64> = match self.queues.get(&qn) {
                Some(q) if !q.waiting.is_empty() => q.waiting.iter().copied().collect(),
                _ => continue,
            };
            let leaving = self.empty(&qn, lines, now, false);
            // Whether a free member is missing is the same for every caller of the queue:
            // once one finds nobody, the later ones are not tried (a queue with hundreds of
            // callers waiting would otherwise cost callers × members on every step).
            let mut nobody = false;
            for call in calls {
                self.poll_waiter(now, now_ms, call, leaving, lines, &mut nobody, &mut out);
            }
        }
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn poll_waiter(
        &mut self,
        now: Instant,
        now_ms: i64,
        call: u64,
        leaving: Option<Condition>,
        lines: &dyn Lines,
        nobody: &mut bool,
        out: &mut Vec<Action>,
    ) {
        let Some(w) = self.waiters.get(&call) else {
            return;
        };
        let timed_out = w.max_wait_at.is_some_and(|t| t <= now);
        if let Some(cond) = timed_out.then_some(Condition::NoAnswer).or(leaving) {
            let action = self.overflow_of(&w.queue);
            let agents = self.leave(now_ms, call, false);
            out.push(Action::Overflow {
                call,
                agents,
                cond,
                action,
            });
            return;
        }
        if let WaitState::Ringing { until, .. } = &w.state {
            if *until > now {
                return;
            }
            let agents = self.stop_ringing(call);
            let (autopause, retry) = self.attempt_rules(call);
            if autopause {
                for a in &agents {
                    self.pause_all(now_ms, a, Some(AUTOPAUSE_REASON.to_string()));
                }
            }
            if let Some(w) = self.waiters.get_mut(&call) {
                w.state = WaitState::Ready {
                    at: Some(now + retry),
                };
            }
            out.push(Action::StopRinging {
                call,
                agents: agents.clone(),
            });
        }
        let ready = matches!(
            self.waiters.get(&call).map(|w| &w.state),
            Some(WaitState::Ready { at }) if at.is_none_or(|t| t <= now)
        );
        if ready {
            let agents = if *nobody {
                Vec::new()
            } else {
                self.pick(now, call, lines)
            };
            let Some(w) = self.waiters.get_mut(&call) else {
                return;
            };
            if agents.is_empty() {
                *nobody = true;
                w.state = WaitState::Ready { at: None };
                return;
            }
            let queue = w.queue.clone();
            let ring = self
                .queues
                .get(&queue)
                .map_or(15, |q| u64::from(q.cfg.ring_timeout_s.max(1)));
            w.state = WaitState::Ringing {
                agents: agents.clone(),
                until: now + Duration::from_secs(ring),
            };
            for a in &agents {
                self.ringing.insert(a.clone(), call);
                self.touch(a);
            }
            out.push(Action::Ring { call, agents });
        }
    }

    /// Autopause applies, and the retry delay, for a waiting call's queue.
    fn attempt_rules(&self, call: u64) -> (bool, Duration) {
        self.waiters
            .get(&call)
            .and_then(|w| self.queues.get(&w.queue))
            .map_or((false, Duration::ZERO), |q| {
                (
                    q.cfg.autopause && q.cfg.strategy != QueueStrategy::Ringall,
                    Duration::from_secs(u64::from(q.cfg.retry_s)),
                )
            })
    }

    /// The agents to ring for a waiting call, by its queue's strategy.
    fn pick(&mut self, now: Instant, call: u64, lines: &dyn Lines) -> Vec<String> {
        let Some(w) = self.waiters.get(&call) else {
            return Vec::new();
        };
        let Some(q) = self.queues.get(&w.queue) else {
            return Vec::new();
        };
        let free: Vec<bool> = q
            .members
            .iter()
            .map(|m| match self.member_state(m, lines, now) {
                AgentState::Free => true,
                AgentState::Talking => q.cfg.ring_busy,
                _ => false,
            })
            .collect();
        let cands: Vec<Candidate<'_>> = q
            .members
            .iter()
            .zip(&free)
            .map(|(m, free)| Candidate {
                ext: &m.ext,
                penalty: m.penalty,
                free: *free,
                last_answer_ms: m.last_answer_ms,
                calls_taken: m.calls_taken,
            })
            .collect();
        let mut rr = q.rr.clone();
        let mut linpos = w.linpos;
        let strategy = q.cfg.strategy;
        let picked = strategy::pick(strategy, &cands, &mut rr, &mut linpos, &mut self.rng);
        let agents: Vec<String> = picked.iter().map(|&i| cands[i].ext.to_string()).collect();
        let queue = w.queue.clone();
        if let Some(q) = self.queues.get_mut(&queue) {
            q.rr = rr;
        }
        if let Some(w) = self.waiters.get_mut(&call) {
            w.linpos = linpos;
        }
        agents
    }

    /// Forgets the agents ringing for `call`; returns them.
    fn stop_ringing(&mut self, call: u64) -> Vec<String> {
        let agents = match self.waiters.get_mut(&call).map(|w| &mut w.state) {
            Some(WaitState::Ringing { agents, .. }) => std::mem::take(agents),
            _ => Vec::new(),
        };
        for a in &agents {
            if self.ringing.get(a) == Some(&call) {
                self.ringing.remove(a);
            }
            self.touch(a);
        }
        if let Some(w) = self.waiters.get_mut(&call) {
            w.state = WaitState::Ready { at: None };
        }
        agents
    }

    /// The call leaves its queue unanswered (`abandoned`: its caller hung up); returns the
    /// agents that were ringing.
    fn leave(&mut self, now_ms: i64, call: u64, abandoned: bool) -> Vec<String> {
        let agents = self.stop_ringing(call);
        let Some(w) = self.waiters.remove(&call) else {
            return agents;
        };
        let period = self.period.0;
        if let Some(q) = self.queues.get_mut(&w.queue) {
            q.waiting.retain(|c| *c != call);
            if w.period == period {
                q.stats.unanswered(now_ms - w.entered_ms, abandoned);
            }
        }
        self.mark_queue(&w.queue);
        agents
    }

    /// The overflow action of a queue.
    fn overflow_of(&self, queue: &str) -> OverflowAction {
        self.queues
            .get(queue)
            .map_or(OverflowAction::Hangup, |q| q.cfg.overflow.clone())
    }

    /// One agent's phone refused or failed the call (the others may still ring).
    pub fn leg_failed(&mut self, now_ms: i64, call: u64, agent: &str) {
        if self.ringing.get(agent) == Some(&call) {
            self.ringing.remove(agent);
        }
        self.touch(agent);
        if let Some(WaitState::Ringing { agents, .. }) =
            self.waiters.get_mut(&call).map(|w| &mut w.state)
        {
            agents.retain(|a| a != agent);
        }
        if self.attempt_rules(call).0 {
            self.pause_all(now_ms, agent, Some(AUTOPAUSE_REASON.to_string()));
        }
    }

    /// Every agent of the attempt refused or failed: the caller waits for its next try.
    pub fn ring_failed(&mut self, now: Instant, call: u64) {
        let _ = self.stop_ringing(call);
        let retry = self.attempt_rules(call).1;
        if let Some(w) = self.waiters.get_mut(&call) {
            w.state = WaitState::Ready {
                at: Some(now + retry),
            };
        }
    }

    /// `agent` answered `call`: it leaves the queue; returns the other agents that were
    /// ringing (to be cancelled), or `None` if the call was not waiting.
    pub fn answered(&mut self, now_ms: i64, call: u64, agent: &str) -> Option<Vec<String>> {
        let mut others = self.stop_ringing(call);
        others.retain(|a| a != agent);
        let w = self.waiters.remove(&call)?;
        let current = w.period == self.period.0;
        if let Some(q) = self.queues.get_mut(&w.queue) {
            q.waiting.retain(|c| *c != call);
            if current {
                q.stats
                    .answered(now_ms - w.entered_ms, q.cfg.service_level_s);
            }
            if let Some(m) = q.members.iter_mut().find(|m| m.ext == agent) {
                if current {
                    m.calls_taken += 1;
                }
                m.last_answer_ms = Some(now_ms);
            }
        }
        self.mark_queue(&w.queue);
        self.touch(agent);
        self.served.insert(
            call,
            Served {
                queue: w.queue,
                agent: agent.to_string(),
                answer_ms: now_ms,
                period: w.period,
            },
        );
        Some(others)
    }

    /// The caller hung up while waiting.
    pub fn abandoned(&mut self, now_ms: i64, call: u64) -> Vec<String> {
        self.leave(now_ms, call, true)
    }

    /// The queue step of an answered call ended at `exit_ms` (the call ended, or the agent
    /// left it by a transfer): talk time, and the agent's wrap-up in that queue.
    pub fn ended(&mut self, now: Instant, now_ms: i64, call: u64, exit_ms: i64) {
        let Some(s) = self.served.remove(&call) else {
            return;
        };
        let current = s.period == self.period.0;
        let Some(q) = self.queues.get_mut(&s.queue) else {
            return;
        };
        if current {
            q.stats.talked(exit_ms - s.answer_ms);
        }
        let rest_ms = (i64::from(q.cfg.wrapup_s) * 1000 - (now_ms - exit_ms).max(0)).max(0);
        if rest_ms > 0 {
            let until = now + Duration::from_millis(rest_ms as u64);
            if let Some(m) = q.members.iter_mut().find(|m| m.ext == s.agent) {
                m.wrapup_until = Some(until);
                self.next_wrapup = Some(self.next_wrapup.map_or(until, |w| w.min(until)));
            }
        }
        self.mark_queue(&s.queue);
        self.touch(&s.agent);
    }

    fn expire_wrapups(&mut self, now: Instant) {
        let mut next: Option<Instant> = None;
        let mut done = Vec::new();
        for q in self.queues.values_mut() {
            for m in &mut q.members {
                match m.wrapup_until {
                    Some(w) if w <= now => {
                        m.wrapup_until = None;
                        done.push(m.ext.clone());
                    }
                    Some(w) => next = Some(next.map_or(w, |n| n.min(w))),
                    None => {}
                }
            }
        }
        self.next_wrapup = next;
        for ext in done {
            self.touch(&ext);
        }
    }

    /// Pauses `ext` in `queue`, or in every queue of it.
    pub fn pause(
        &mut self,
        now_ms: i64,
        ext: &str,
        queue: Option<&str>,
        reason: Option<String>,
    ) -> Result<(), AgentError> {
        for q in self.scope(ext, queue)? {
            self.pause_one(now_ms, ext, &q, reason.clone());
        }
        Ok(())
    }

    fn pause_all(&mut self, now_ms: i64, ext: &str, reason: Option<String>) {
        let _ = self.pause(now_ms, ext, None, reason);
    }

    fn pause_one(&mut self, now_ms: i64, ext: &str, queue: &str, reason: Option<String>) {
        let Some(m) = self.member_mut(queue, ext) else {
            return;
        };
        if m.paused.is_some() {
            return;
        }
        m.paused = Some(Pause {
            reason: reason.clone(),
            since_ms: now_ms,
        });
        tracing::info!(
            agent = ext,
            queue,
            reason = reason.as_deref().unwrap_or(""),
            "agent paused"
        );
        self.writes.push(CcWrite::PauseStart {
            extension: ext.to_string(),
            queue: queue.to_string(),
            reason,
            start_ms: now_ms,
        });
        self.touch(ext);
    }

    /// Ends the pause of `ext` in `queue`, or in every queue of it.
    pub fn resume(
        &mut self,
        now_ms: i64,
        ext: &str,
        queue: Option<&str>,
    ) -> Result<(), AgentError> {
        for q in self.scope(ext, queue)? {
            self.resume_one(now_ms, ext, &q);
        }
        Ok(())
    }

    fn resume_one(&mut self, now_ms: i64, ext: &str, queue: &str) {
        let Some(m) = self.member_mut(queue, ext) else {
            return;
        };
        let Some(p) = m.paused.take() else {
            return;
        };
        m.pause_ms += (now_ms - p.since_ms).max(0);
        tracing::info!(agent = ext, queue, "agent resumed");
        self.writes.push(CcWrite::PauseEnd {
            extension: ext.to_string(),
            queue: queue.to_string(),
            end_ms: now_ms,
        });
        self.touch(ext);
    }

    /// The queues an operation on `ext` covers.
    fn scope(&self, ext: &str, queue: Option<&str>) -> Result<Vec<String>, AgentError> {
        match queue {
            Some(q) => {
                if !self.queues.contains_key(q) {
                    return Err(AgentError::NoQueue(q.to_string()));
                }
                if !self.agent_queues.get(ext).is_some_and(|s| s.contains(q)) {
                    return Err(AgentError::NotMember(ext.to_string(), q.to_string()));
                }
                Ok(vec![q.to_string()])
            }
            None => match self.agent_queues.get(ext) {
                Some(s) if !s.is_empty() => Ok(s.iter().cloned().collect()),
                _ => Err(AgentError::NotAgent(ext.to_string())),
            },
        }
    }

    /// `ext` joins `queue` as a dynamic member (at the end of the ring order).
    pub fn login(&mut self, ext: &str, queue: &str, penalty: u32) -> Result<(), AgentError> {
        let q = self
            .queues
            .get_mut(queue)
            .ok_or_else(|| AgentError::NoQueue(queue.to_string()))?;
        if q.members.iter().any(|m| m.ext == ext) {
            return Err(AgentError::AlreadyMember(
                ext.to_string(),
                queue.to_string(),
            ));
        }
        q.members.push(Member::new(&MemberConfig {
            extension: ext.to_string(),
            penalty,
            dynamic: true,
        }));
        self.agent_queues
            .entry(ext.to_string())
            .or_default()
            .insert(queue.to_string());
        tracing::info!(agent = ext, queue, penalty, "agent logged in");
        self.writes.push(CcWrite::MemberAdd {
            queue: queue.to_string(),
            extension: ext.to_string(),
            penalty,
        });
        self.touch(ext);
        Ok(())
    }

    /// `ext` leaves `queue` (dynamic members only); a pause there ends.
    pub fn logout(&mut self, now_ms: i64, ext: &str, queue: &str) -> Result<(), AgentError> {
        let q = self
            .queues
            .get(queue)
            .ok_or_else(|| AgentError::NoQueue(queue.to_string()))?;
        let m = q
            .members
            .iter()
            .find(|m| m.ext == ext)
            .ok_or_else(|| AgentError::NotMember(ext.to_string(), queue.to_string()))?;
        if !m.dynamic {
            return Err(AgentError::Static(ext.to_string(), queue.to_string()));
        }
        self.resume_one(now_ms, ext, queue);
        self.touch(ext);
        if let Some(q) = self.queues.get_mut(queue) {
            q.members.retain(|m| m.ext != ext);
        }
        if let Some(s) = self.agent_queues.get_mut(ext) {
            s.remove(queue);
        }
        self.mark_queue(queue);
        self.dirty_agents.insert(ext.to_string());
        tracing::info!(agent = ext, queue, "agent logged out");
        self.writes.push(CcWrite::MemberRemove {
            queue: queue.to_string(),
            extension: ext.to_string(),
        });
        Ok(())
    }

    /// Every queue number, in number order.
    pub fn queue_numbers(&self) -> Vec<String> {
        self.queues.keys().cloned().collect()
    }

    /// Every agent (extension with a membership, or that had one).
    pub fn agent_numbers(&self) -> Vec<String> {
        self.agent_queues.keys().cloned().collect()
    }

    /// A queue's live state.
    pub fn queue_status(
        &self,
        queue: &str,
        lines: &dyn Lines,
        now: Instant,
    ) -> Option<QueueStatus> {
        let q = self.queues.get(queue)?;
        let mut counts = AgentCounts::default();
        for m in &q.members {
            let c = match self.member_state(m, lines, now) {
                AgentState::Free => &mut counts.free,
                AgentState::Ringing => &mut counts.ringing,
                AgentState::Talking => &mut counts.talking,
                AgentState::Wrapup => &mut counts.wrapup,
                AgentState::Paused => &mut counts.paused,
                AgentState::Unavailable => &mut counts.unavailable,
            };
            *c += 1;
        }
        let oldest = q
            .waiting
            .iter()
            .filter_map(|c| self.waiters.get(c))
            .map(|w| w.entered_ms)
            .min();
        Some(QueueStatus {
            number: q.cfg.number.clone(),
            name: q.cfg.name.clone(),
            strategy: q.cfg.strategy,
            waiting: q.waiting.len() as u32,
            oldest_since_ms: oldest,
            agents: counts,
            stats: q.stats.view(self.period.0, q.cfg.service_level_s),
        })
    }

    /// An agent's live state (`queues` empty once it belongs to none).
    pub fn agent_status(&self, ext: &str, lines: &dyn Lines, now: Instant) -> AgentStatus {
        let mut queues = Vec::new();
        for qn in self.agent_queues.get(ext).into_iter().flatten() {
            let Some(q) = self.queues.get(qn) else {
                continue;
            };
            let Some(m) = q.members.iter().find(|m| m.ext == ext) else {
                continue;
            };
            queues.push(AgentQueue {
                queue: qn.clone(),
                penalty: m.penalty,
                dynamic: m.dynamic,
                state: self.member_state(m, lines, now),
                paused: m.paused.as_ref().map(|p| AgentPause {
                    reason: p.reason.clone(),
                    since_ms: p.since_ms,
                }),
                calls_taken: m.calls_taken,
                last_call_ms: m.last_answer_ms,
                pause_ms: m.pause_ms,
            });
        }
        let state = if !lines.reachable(ext) {
            AgentState::Unavailable
        } else if !queues.is_empty() && queues.iter().all(|q| q.paused.is_some()) {
            AgentState::Paused
        } else if self.ringing.contains_key(ext) {
            AgentState::Ringing
        } else if lines.load(ext) > 0 {
            AgentState::Talking
        } else if queues.iter().any(|q| q.state == AgentState::Wrapup) {
            AgentState::Wrapup
        } else {
            AgentState::Free
        };
        AgentStatus {
            extension: ext.to_string(),
            name: lines.name(ext),
            state,
            calls_taken: queues.iter().map(|q| q.calls_taken).sum(),
            last_call_ms: queues.iter().filter_map(|q| q.last_call_ms).max(),
            pause_ms: queues.iter().map(|q| q.pause_ms).max().unwrap_or(0),
            queues,
        }
    }
}

fn u32_of(v: i64) -> u32 {
    u32::try_from(v.max(0)).unwrap_or(u32::MAX)
}

fn rule_of(list: &str) -> EmptyRule {
    let has = |w: &str| list.split(',').any(|s| s.trim() == w);
    EmptyRule {
        busy: has("busy"),
        paused: has("paused"),
        unavailable: has("unavailable"),
    }
}

/// A stored queue as the call center runs it.
pub fn config_of(q: &crate::store::QueueRow) -> QueueConfig {
    let strategy = match q.strategy.as_str() {
        "linear" => QueueStrategy::Linear,
        "leastrecent" => QueueStrategy::Leastrecent,
        "fewestcalls" => QueueStrategy::Fewestcalls,
        "rrmemory" => QueueStrategy::Rrmemory,
        "rrordered" => QueueStrategy::Rrordered,
        "random" => QueueStrategy::Random,
        _ => QueueStrategy::Ringall,
    };
    QueueConfig {
        number: q.number.clone(),
        name: q.name.clone(),
        enabled: q.enabled,
        priority: q.priority,
        strategy,
        ring_timeout_s: u32_of(q.ring_timeout_s).max(1),
        retry_s: u32_of(q.retry_s),
        wrapup_s: u32_of(q.wrapup_s),
        max_wait_s: u32_of(q.max_wait_s),
        max_callers: u32_of(q.max_callers),
        autopause: q.autopause,
        ring_busy: q.ring_busy,
        overflow: OverflowAction::parse(&q.overflow),
        join_empty: rule_of(&q.join_empty),
        leave_empty: rule_of(&q.leave_empty),
        service_level_s: u32_of(q.service_level_s),
        members: q
            .members
            .iter()
            .map(|m| MemberConfig {
                extension: m.extension.clone(),
                penalty: u32_of(m.penalty),
                dynamic: m.dynamic,
            })
            .collect(),
    }
}
