//! The ringing steps: the numbering plan (extensions), services (unconditional forward, DND,
//! conditional forwards), overflow actions, and how a call that cannot go on ends.

use super::super::cdr::{self, cause, status};
use super::super::legs::{refuse_sdp, rewrite_sdp, sdp_media_addr, Phase, Side, Upstream};
use super::super::{Condition, Now};
use super::{Engine, Owner, MAX_HOPS};
use crate::directory::{Directory, Extension, OverflowAction};
use sip_core::msg::NameAddr;
use sip_core::transaction::Endpoint;
use sip_core::{Method, Peer, Response, SipMessage, Transport};
use std::time::Duration;

/// The condition DND gives: as in the seed (seed-api-addons, L1810), the extension counts as
/// unavailable, so its unavailable forward or overflow runs and the caller hears 480.
pub(super) const DND_CONDITION: Condition = Condition::Unavailable;

/// A registered device to ring.
pub(super) struct Target {
    pub(super) username: String,
    pub(super) peer: Peer,
    pub(super) contact: String,
}

/// Every enabled, registered account of `number`.
pub(super) fn targets_of(dir: &Directory, number: &str) -> Vec<Target> {
    dir.accounts_of(number)
        .filter(|a| a.enabled)
        .filter_map(|a| {
            let loc = dir.location(a.id)?;
            let addr = Directory::location_addr(loc)?;
            let transport = Transport::parse(&loc.transport).unwrap_or(Transport::Udp);
            Some(Target {
                username: a.username.clone(),
                peer: Peer { transport, addr },
                contact: loc.contact.clone(),
            })
        })
        .collect()
}

/// What kind of INVITE a fork is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ForkKind {
    /// An ordinary ringing step (or click-to-call's first leg).
    Ring,
    /// A directed pickup of the call.
    Pickup,
}

impl Engine {
    /// Rings `number` as the next step of call `id`, applying the extension's services;
    /// on an immediate busy/unavailable condition runs the forward or overflow.
    pub(super) fn ring(
        &mut self,
        ep: &mut Endpoint,
        dir: &Directory,
        now: Now,
        id: u64,
        number: &str,
    ) {
        let mut target = number.to_string();
        if self.feature(ep, dir, now, id, &target) {
            return;
        }
        loop {
            // Queues are resolved like extensions (numbering plan: custom selections first).
            if self.is_queue(&target) {
                self.enter_queue(ep, dir, now, id, &target);
                return;
            }
            if self.is_group(&target) {
                self.enter_group(ep, dir, now, id, &target);
                return;
            }
            let Some(ext) = dir.extension(&target).cloned() else {
                self.fail_call(ep, now, id, status::FAILED, cause::FAILED, 404, "Not Found");
                return;
            };
            let Some(call) = self.calls.get_mut(&id) else {
                return;
            };
            let source = call.caller_ext.clone();
            cdr::enter_extension(&mut call.cdr, &ext, &source, now.wall_ms);
            let services = dir.services(&ext.number);
            if let Some(fwd) = services.forwards.unconditional {
                if call.hops >= MAX_HOPS {
                    tracing::warn!(call = id, ext = %ext.number, "forward loop: too many hops");
                    self.fail_call(
                        ep,
                        now,
                        id,
                        status::FAILED,
                        cause::FAILED,
                        482,
                        "Loop Detected",
                    );
                    return;
                }
                call.hops += 1;
                cdr::exit_step(&mut call.cdr, cause::UFWD, now.wall_ms);
                tracing::info!(call = id, from = %ext.number, to = %fwd, "unconditional forward");
                target = fwd;
                continue;
            }
            let cond = if services.dnd {
                Some(DND_CONDITION)
            } else {
                self.start_forks(ep, dir, now, id, &ext)
            };
            let Some(cond) = cond else {
                self.persist(id);
                return;
            };
            match self.next_step(dir, now, id, &ext, cond) {
                Some(next) => target = next,
                None => {
                    let (code, reason) = cond.sip_status();
                    self.fail_call(ep, now, id, cond.code(), cond.code(), code, reason);
                    return;
                }
            }
        }
    }

    /// Closes the current step with `cond` and returns where the call goes next: the
    /// extension's forward for that condition (it takes precedence), else its overflow.
    fn next_step(
        &mut self,
        dir: &Directory,
        now: Now,
        id: u64,
        ext: &Extension,
        cond: Condition,
    ) -> Option<String> {
        let call = self.calls.get_mut(&id)?;
        let forwards = dir.services(&ext.number).forwards;
        let forward = match cond {
            Condition::Busy => forwards.busy,
            Condition::Unavailable => forwards.unavailable,
            Condition::NoAnswer => forwards.no_answer,
        };
        if call.hops >= MAX_HOPS {
            cdr::exit_step(&mut call.cdr, cond.code(), now.wall_ms);
            tracing::warn!(call = id, ext = %ext.number, "overflow loop: too many hops");
            return None;
        }
        if let Some(fwd) = forward {
            call.hops += 1;
            cdr::exit_step(&mut call.cdr, cause::CFWD, now.wall_ms);
            tracing::info!(call = id, from = %ext.number, to = %fwd, cause = cond.code(), "conditional forward");
            return Some(fwd);
        }
        cdr::exit_step(&mut call.cdr, cond.code(), now.wall_ms);
        let action = match cond {
            Condition::Busy => &ext.on_busy,
            Condition::Unavailable => &ext.on_unavailable,
            Condition::NoAnswer => &ext.on_no_answer,
        };
        match action {
            OverflowAction::Extension(n) => {
                call.hops += 1;
                tracing::info!(call = id, from = %ext.number, to = %n, cause = cond.code(), "overflow");
                Some(n.clone())
            }
            OverflowAction::Hangup => None,
        }
    }

    /// Sends one INVITE per registered account of `ext`. Returns the condition when
    /// nothing could be rung.
    fn start_forks(
        &mut self,
        ep: &mut Endpoint,
        dir: &Directory,
        now: Now,
        id: u64,
        ext: &Extension,
    ) -> Option<Condition> {
        if !ext.enabled {
            return Some(Condition::Unavailable);
        }
        let load = self.load.get(&ext.number).copied().unwrap_or(0);
        if (ext.busy_level > 0 && load >= ext.busy_level)
            || (ext.call_limit > 0 && load >= ext.call_limit)
        {
            return Some(Condition::Busy);
        }
        let targets = targets_of(dir, &ext.number);
        if targets.is_empty() {
            return Some(Condition::Unavailable);
        }
        let local = self.local;
        let call = self.calls.get_mut(&id)?;
        if call.relay.is_none() {
            match self.ports.start() {
                Ok(r) => call.relay = Some(r),
                Err(e) => {
                    tracing::error!(error = %e, "cannot start media relay");
                    return Some(Condition::Unavailable);
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
        let sent = self.send_forks(
            ep,
            now,
            id,
            &ext.number,
            targets,
            from,
            offer,
            ForkKind::Ring,
        );
        if sent == 0 {
            return Some(Condition::Unavailable);
        }
        if let Some(call) = self.calls.get_mut(&id) {
            call.ring_deadline =
                Some(now.mono + Duration::from_secs(u64::from(ext.ring_timeout_s)));
            call.ringing_ext = Some(ext.number.clone());
        }
        self.add_load(id, &ext.number);
        None
    }

    /// The current ringing step ended with `cond`: run the forward or overflow.
    pub(super) fn step_failed(
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
        call.ring_deadline = None;
        if call.group.is_some() {
            self.group_tier_failed(ep, dir, now, id);
            return;
        }
        if call.phase == Phase::Originating {
            // Click-to-call: the requester's own devices did not answer.
            self.cancel_forks(ep, now, id);
            self.finish(now, id, cond.code(), cond.code());
            return;
        }
        let Some(ext_number) = call.ringing_ext.take() else {
            return;
        };
        self.cancel_forks(ep, now, id);
        self.release_load(id, &ext_number);
        let Some(ext) = dir.extension(&ext_number).cloned() else {
            return;
        };
        match self.next_step(dir, now, id, &ext, cond) {
            Some(next) => self.ring(ep, dir, now, id, &next),
            None => {
                let (code, reason) = cond.sip_status();
                self.fail_call(ep, now, id, cond.code(), cond.code(), code, reason);
            }
        }
    }

    /// Ends a call that is not connected, telling side A with `code` the way it expects it.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn fail_call(
        &mut self,
        ep: &mut Endpoint,
        now: Now,
        id: u64,
        status: &str,
        cause: &str,
        code: u16,
        reason: &str,
    ) {
        self.release_upstream(ep, now, id, code, reason, false);
        self.finish(now, id, status, cause);
    }

    /// Side A is let go without an answer: its INVITE gets `code`, a click-to-call device
    /// gets its ACK and a BYE, an established party a BYE (unless `a_left`: it hung up).
    pub(super) fn release_upstream(
        &mut self,
        ep: &mut Endpoint,
        now: Now,
        id: u64,
        code: u16,
        reason: &str,
        a_left: bool,
    ) {
        // A consultation by keys that failed: the consulting party goes back to its call.
        if !a_left && self.return_to_original(ep, now, id) {
            return;
        }
        let local = self.local;
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let mut bye = false;
        match call.upstream {
            Upstream::Invite(t) => {
                if let Some(invite) = &call.a_invite {
                    let mut r = Response::for_request(invite, code, reason);
                    r.set_to_tag(&call.a.local_tag);
                    let _ = ep.respond(now.mono, t, r);
                }
            }
            Upstream::LateAck { cseq } => {
                let mut ack = call.a.ack(cseq, &local);
                let offer = call.media_a.received.clone().unwrap_or_default();
                call.media_a.version += 1;
                if let Some(b) = refuse_sdp(&offer, local.ip, call.media_a.version) {
                    ack.headers.push("Content-Type", "application/sdp");
                    ack.body = b;
                }
                ep.send_stateless(call.a.peer, &SipMessage::Request(ack.clone()));
                call.a_ack = Some(ack);
                bye = !a_left;
            }
            Upstream::Established => bye = !a_left,
            Upstream::NotYet => {}
        }
        call.upstream = Upstream::Established;
        if bye {
            let req = call.a.request(Method::Bye, &local);
            let peer = call.a.peer;
            if let Ok(t) = ep.send_request(now.mono, req, peer) {
                self.owners.insert(t, Owner::Fire);
            }
        }
    }
}
