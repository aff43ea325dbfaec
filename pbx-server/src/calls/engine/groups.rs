//! Ring groups (call groups, seed §8): tiers of extensions rung one after the other, every
//! extension of a tier at once, each tier for its own ring time; when no tier answers, the
//! group's overflow runs. As in the seed, a member's own unconditional forward and overflow
//! actions do not apply to group calls; a member in DND, busy or with nothing registered is
//! skipped, and a tier with nobody to ring is skipped at once.

use super::super::cdr;
use super::super::legs::{rewrite_sdp, sdp_media_addr, LegState, Phase, Side};
use super::super::{Condition, Now};
use super::routing::{targets_of, ForkKind};
use super::{Engine, MAX_HOPS};
use crate::directory::{Directory, OverflowAction};
use sip_core::msg::NameAddr;
use sip_core::transaction::Endpoint;
use std::collections::HashMap;
use std::time::Duration;

/// One tier of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tier {
    /// Seconds the tier rings before the next one.
    pub ring_s: u32,
    /// Extensions rung together.
    pub members: Vec<String>,
}

/// A ring group as the engine runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingGroup {
    /// Number dialled.
    pub number: String,
    /// Name shown as the callee while it rings.
    pub name: String,
    /// A disabled group sends every call to its overflow.
    pub enabled: bool,
    /// After the last tier.
    pub overflow: OverflowAction,
    /// In ring order.
    pub tiers: Vec<Tier>,
}

impl RingGroup {
    /// The groups of the store: members grouped by tier (ascending); a tier rings as long as
    /// the longest ring time among its members.
    pub fn from_rows(rows: &[crate::store::RingGroupRow]) -> HashMap<String, RingGroup> {
        rows.iter()
            .map(|r| {
                let mut tiers: Vec<(i64, Tier)> = Vec::new();
                for (ext, tier, ring_s) in &r.members {
                    let ring = u32::try_from((*ring_s).clamp(1, 600)).unwrap_or(20);
                    match tiers.iter_mut().find(|(t, _)| t == tier) {
                        Some((_, t)) => {
                            t.ring_s = t.ring_s.max(ring);
                            t.members.push(ext.clone());
                        }
                        None => tiers.push((
                            *tier,
                            Tier {
                                ring_s: ring,
                                members: vec![ext.clone()],
                            },
                        )),
                    }
                }
                tiers.sort_by_key(|(t, _)| *t);
                let g = RingGroup {
                    number: r.number.clone(),
                    name: r.name.clone(),
                    enabled: r.enabled,
                    overflow: OverflowAction::parse(&r.overflow),
                    tiers: tiers.into_iter().map(|(_, t)| t).collect(),
                };
                (g.number.clone(), g)
            })
            .collect()
    }
}

/// Where a call is in its group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupRun {
    /// The group's number.
    pub(crate) number: String,
    /// The tier ringing now (or the next to try).
    pub(crate) tier: usize,
    /// Members ringing in the current tier.
    pub(crate) rung: Vec<String>,
    /// Whether any tier rang at all (the overflow cause is then no answer).
    pub(crate) rang: bool,
}

impl Engine {
    /// Installs the ring groups.
    pub fn set_ring_groups(&mut self, groups: HashMap<String, RingGroup>) {
        self.groups = groups;
    }

    /// Whether `number` is a ring group.
    pub(super) fn is_group(&self, number: &str) -> bool {
        self.groups.contains_key(number)
    }

    /// The call enters group `number` as its next step (a `callg` row).
    pub(super) fn enter_group(
        &mut self,
        ep: &mut Endpoint,
        dir: &Directory,
        now: Now,
        id: u64,
        number: &str,
    ) {
        let Some(g) = self.groups.get(number) else {
            return;
        };
        let (name, enabled) = (g.name.clone(), g.enabled);
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let source = call.caller_ext.clone();
        cdr::enter_group(&mut call.cdr, number, &name, &source, now.wall_ms);
        call.ringing_ext = None;
        call.group = Some(GroupRun {
            number: number.to_string(),
            tier: 0,
            rung: Vec::new(),
            rang: false,
        });
        tracing::info!(call = id, group = number, "ring group");
        if !enabled {
            self.group_overflow(ep, dir, now, id, Condition::Unavailable);
            return;
        }
        self.ring_tier(ep, dir, now, id);
        self.persist(id);
    }

    /// Rings the first tier from the current one on that has someone to ring; runs the
    /// overflow when none has.
    fn ring_tier(&mut self, ep: &mut Endpoint, dir: &Directory, now: Now, id: u64) {
        let local = self.local;
        let Some(run) = self.calls.get(&id).and_then(|c| c.group.clone()) else {
            return;
        };
        let Some(g) = self.groups.get(&run.number).cloned() else {
            // Removed by a reconfiguration while the call was in it.
            self.group_overflow(ep, dir, now, id, Condition::Unavailable);
            return;
        };
        for (t, tier) in g.tiers.iter().enumerate().skip(run.tier) {
            let ringable: Vec<String> = tier
                .members
                .iter()
                .filter(|m| self.member_free(dir, m))
                .cloned()
                .collect();
            if ringable.is_empty() {
                continue;
            }
            let Some(call) = self.calls.get_mut(&id) else {
                return;
            };
            if call.relay.is_none() {
                match self.ports.start() {
                    Ok(r) => call.relay = Some(r),
                    Err(e) => {
                        tracing::error!(error = %e, "cannot start media relay");
                        break;
                    }
                }
            }
            if let Some(addr) = call.media_a.received.as_deref().and_then(sdp_media_addr) {
                call.signal(Side::A, Some(addr));
            }
            let port = call.port(Side::B);
            let offer = match &call.media_a.received {
                Some(body) => {
                    call.media_b.version += 1;
                    rewrite_sdp(body, local.ip, port, call.media_b.version)
                }
                None => None,
            };
            call.media_b.sent.clone_from(&offer);
            let from = NameAddr {
                display: Some(call.caller_name.clone()).filter(|n| !n.is_empty()),
                uri: format!("sip:{}@{}", call.caller_ext, local.hostport()),
                params: Vec::new(),
            };
            let mut rung = Vec::new();
            for m in ringable {
                let sent = self.send_forks(
                    ep,
                    now,
                    id,
                    &m,
                    targets_of(dir, &m),
                    from.clone(),
                    offer.clone(),
                    ForkKind::Ring,
                );
                if sent > 0 {
                    self.add_load(id, &m);
                    rung.push(m);
                }
            }
            if rung.is_empty() {
                continue;
            }
            tracing::info!(call = id, group = %g.number, tier = t, ?rung, "ring group: ringing tier");
            if let Some(call) = self.calls.get_mut(&id) {
                call.ring_deadline = Some(now.mono + Duration::from_secs(u64::from(tier.ring_s)));
                call.group = Some(GroupRun {
                    number: g.number.clone(),
                    tier: t,
                    rung,
                    rang: true,
                });
            }
            self.touch(id);
            return;
        }
        let cond = if run.rang {
            Condition::NoAnswer
        } else {
            Condition::Unavailable
        };
        self.group_overflow(ep, dir, now, id, cond);
    }

    /// Whether a member can be rung for a group call: enabled, not in DND, below its busy
    /// level and call limit, something registered.
    fn member_free(&self, dir: &Directory, ext: &str) -> bool {
        let Some(e) = dir.extension(ext) else {
            return false;
        };
        let load = self.load.get(ext).copied().unwrap_or(0);
        let busy = (e.busy_level > 0 && load >= e.busy_level)
            || (e.call_limit > 0 && load >= e.call_limit);
        e.enabled && !busy && !dir.services(ext).dnd && dir.reachable(ext)
    }

    /// The current tier ended without an answer (timeout, or every device refused): stop
    /// ringing it and try the next.
    pub(super) fn group_tier_failed(
        &mut self,
        ep: &mut Endpoint,
        dir: &Directory,
        now: Now,
        id: u64,
    ) {
        self.cancel_forks(ep, now, id);
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.ring_deadline = None;
        let Some(run) = call.group.as_mut() else {
            return;
        };
        let rung = std::mem::take(&mut run.rung);
        run.tier += 1;
        for m in &rung {
            self.release_load(id, m);
        }
        self.touch(id);
        self.ring_tier(ep, dir, now, id);
    }

    /// A fork of a group call failed: when no fork of the tier is left, the tier failed.
    pub(super) fn group_leg_failed(
        &mut self,
        ep: &mut Endpoint,
        dir: &Directory,
        now: Now,
        id: u64,
    ) {
        let pending = self
            .calls
            .get(&id)
            .is_some_and(|c| c.legs.iter().any(|l| l.state == LegState::Pending));
        if !pending {
            self.group_tier_failed(ep, dir, now, id);
        }
    }

    /// A member answered: the others of its tier stop (their forks are cancelled by the
    /// answer) and the call is that member's from now on.
    pub(super) fn group_answered(&mut self, id: u64, member: &str) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(run) = call.group.take() else {
            return;
        };
        call.ringing_ext = Some(member.to_string());
        for m in run.rung.iter().filter(|m| *m != member) {
            self.release_load(id, m);
        }
        tracing::info!(call = id, group = %run.number, member, "ring group: answered");
    }

    /// No tier answered: the step ends with `cond` and the group's overflow runs.
    fn group_overflow(
        &mut self,
        ep: &mut Endpoint,
        dir: &Directory,
        now: Now,
        id: u64,
        cond: Condition,
    ) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(run) = call.group.take() else {
            return;
        };
        call.ring_deadline = None;
        let action = self
            .groups
            .get(&run.number)
            .map(|g| g.overflow.clone())
            .unwrap_or(OverflowAction::Hangup);
        tracing::info!(call = id, group = %run.number, cause = cond.code(), ?action, "ring group: overflow");
        cdr::exit_step(&mut call.cdr, cond.code(), now.wall_ms);
        match action {
            OverflowAction::Extension(next)
                if call.hops < MAX_HOPS && call.phase == Phase::Routing =>
            {
                call.hops += 1;
                self.ring(ep, dir, now, id, &next);
            }
            _ => {
                let (code, reason) = cond.sip_status();
                self.fail_call(ep, now, id, cond.code(), cond.code(), code, reason);
            }
        }
    }
}
