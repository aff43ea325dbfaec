//! A configuration change at run time (REST writes, docs/decisions/011-rest-api.md): the call
//! center takes the new queues and configured members without losing what it knows.
//!
//! Rules:
//! - a queue that stays keeps its waiting callers, round-robin memory and statistics; its
//!   settings are the new ones from the next attempt on;
//! - a member that stays keeps its pause, wrap-up, calls taken and last call; a configured
//!   member's penalty and ring order are the configuration's;
//! - dynamic members (agents logged in at run time) are the call center's own: those of a
//!   queue that stays are kept after the configured ones, whatever the store says (its copy
//!   may be a moment behind the core's writes); a configured member with the same extension
//!   takes over;
//! - callers waiting in a queue that is gone leave it by its (old) overflow, with the cause
//!   `UNAVAILABLE`; members of a queue that is gone leave it.

use super::{Action, CallCenter, Member, Queue, QueueConfig};
use crate::calls::Condition;
use std::collections::VecDeque;

impl CallCenter {
    /// Replaces the configuration with `configs` at `now_ms`; returns the overflows of the
    /// callers that waited in removed queues (for the engine to carry out like `poll`'s).
    pub fn reconfigure(&mut self, now_ms: i64, configs: Vec<QueueConfig>) -> Vec<Action> {
        let mut out = Vec::new();
        let keep: std::collections::BTreeSet<String> =
            configs.iter().map(|c| c.number.clone()).collect();
        let gone: Vec<String> = self
            .queues
            .keys()
            .filter(|n| !keep.contains(*n))
            .cloned()
            .collect();
        for number in gone {
            let calls: Vec<u64> = self
                .queues
                .get(&number)
                .map(|q| q.waiting.iter().copied().collect())
                .unwrap_or_default();
            let action = self.overflow_of(&number);
            for call in calls {
                let agents = self.leave(now_ms, call, false);
                out.push(Action::Overflow {
                    call,
                    agents,
                    cond: Condition::Unavailable,
                    action: action.clone(),
                });
            }
            if let Some(q) = self.queues.remove(&number) {
                for m in &q.members {
                    self.left_queue(&m.ext, &number);
                }
            }
            self.dirty_queues.remove(&number);
            self.removed_queues.push(number);
        }
        for cfg in configs {
            let number = cfg.number.clone();
            match self.queues.remove(&number) {
                Some(mut q) => {
                    let mut old: Vec<Member> = std::mem::take(&mut q.members);
                    let mut members = Vec::new();
                    for c in &cfg.members {
                        if c.dynamic {
                            continue;
                        }
                        let m = match old.iter().position(|m| m.ext == c.extension) {
                            Some(i) => {
                                let mut m = old.remove(i);
                                m.penalty = c.penalty;
                                m.dynamic = false;
                                m
                            }
                            None => Member::new(c),
                        };
                        members.push(m);
                    }
                    for m in old {
                        if m.dynamic {
                            members.push(m);
                        } else {
                            self.left_queue(&m.ext, &number);
                        }
                    }
                    q.members = members;
                    q.cfg = cfg;
                    self.queues.insert(number.clone(), q);
                }
                None => {
                    let members: Vec<Member> = cfg.members.iter().map(Member::new).collect();
                    self.queues.insert(
                        number.clone(),
                        Queue {
                            cfg,
                            members,
                            waiting: VecDeque::new(),
                            rr: Default::default(),
                            stats: Default::default(),
                        },
                    );
                }
            }
            let exts: Vec<String> = self
                .queues
                .get(&number)
                .map(|q| q.members.iter().map(|m| m.ext.clone()).collect())
                .unwrap_or_default();
            for ext in exts {
                self.agent_queues
                    .entry(ext.clone())
                    .or_default()
                    .insert(number.clone());
                self.touch(&ext);
            }
            self.dirty_queues.insert(number);
        }
        self.sort_queues();
        out
    }

    /// `ext` is no longer a member of `queue` (its state is reported again; with no queue
    /// left it is reported without queues, which removes it from the CTI).
    fn left_queue(&mut self, ext: &str, queue: &str) {
        if let Some(s) = self.agent_queues.get_mut(ext) {
            s.remove(queue);
        }
        // An agent ringing for a call of the queue rings on until the attempt ends (answer,
        // refusal or timeout), which forgets it.
        self.dirty_agents.insert(ext.to_string());
    }

    /// Queue numbers removed since the last call (the CTI forgets them).
    pub fn drain_removed(&mut self) -> Vec<String> {
        std::mem::take(&mut self.removed_queues)
    }
}
