//! New calls and the ringing steps: the numbering plan (extensions), services (unconditional
//! forward, DND, conditional forwards), overflow actions, forks and their answers.

use super::super::cdr::{self, cause, status};
use super::super::dialog::{without_tag, Dialog};
use super::super::legs::{
    refuse_sdp, rewrite_sdp, sdp_media_addr, BLeg, Call, LegState, Media, Phase, Side, Upstream,
};
use super::super::{Condition, Now};
use super::{Engine, Owner, MAX_HOPS};
use crate::directory::{Directory, Extension, OverflowAction};
use crate::guard::{Guard, Verdict};
use media_core::relay::LegSide;
use sip_core::msg::{NameAddr, SipUri};
use sip_core::transaction::{random_token, Endpoint, TxnId};
use sip_core::{MessageExt, Method, Peer, Request, Response, SipMessage, Transport};
use std::time::Duration;

/// The condition DND gives: the extension refuses calls as busy, so its busy forward or
/// overflow runs (docs/decisions/007 on why busy and not the seed's "unavailable").
pub(super) const DND_CONDITION: Condition = Condition::Busy;

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
    /// A new INVITE (no To tag) from `peer`.
    #[allow(clippy::too_many_arguments)]
    pub fn on_invite(
        &mut self,
        ep: &mut Endpoint,
        dir: &Directory,
        guard: &mut Guard,
        now: Now,
        txn: TxnId,
        req: Request,
        peer: Peer,
    ) {
        let verdict = guard.check(
            now.mono,
            (now.wall_ms / 1000) as u64,
            peer.addr.ip(),
            &req,
            true,
            |u| dir.secret(u),
        );
        let username = match verdict {
            Verdict::Ok(u) => u,
            Verdict::Challenge(resp) => {
                let _ = ep.respond(now.mono, txn, resp);
                return;
            }
        };
        let reject = |ep: &mut Endpoint, status: u16, reason: &str| {
            let mut r = Response::for_request(&req, status, reason);
            r.set_to_tag(&random_token(10));
            let _ = ep.respond(now.mono, txn, r);
        };
        let Some(account) = dir.account_by_username(&username) else {
            return reject(ep, 403, "Forbidden");
        };
        if !account.enabled {
            return reject(ep, 403, "Account Disabled");
        }
        if let Some(net) = account.acl {
            if !net.contains(&peer.addr.ip()) {
                guard.fail(
                    now.mono,
                    peer.addr.ip(),
                    &username,
                    "source outside the account ACL",
                );
                return reject(ep, 403, "Forbidden");
            }
        }
        if account.registration_check {
            let registered = dir
                .location(account.id)
                .and_then(Directory::location_addr)
                .is_some_and(|a| a == peer.addr);
            if !registered {
                guard.fail(
                    now.mono,
                    peer.addr.ip(),
                    &username,
                    "INVITE not from the registered address",
                );
                return reject(ep, 403, "Not From Registered Address");
            }
        }
        let Some(caller) = dir.extension(&account.extension) else {
            return reject(ep, 403, "Account Has No Extension");
        };
        let called = SipUri::parse(&req.uri)
            .ok()
            .and_then(|u| u.user)
            .unwrap_or_default();
        let (Some(from), Some(to)) = (req.from_hdr(), req.to_hdr()) else {
            return reject(ep, 400, "Bad From/To");
        };
        let Some(contact) = req.contact() else {
            return reject(ep, 400, "Missing Contact");
        };

        let unique_id = self.next_unique_id(now);
        let record = cdr::open(
            unique_id,
            &self.tenant,
            now.wall_ms,
            cdr::Origin {
                caller: caller.number.clone(),
                caller_name: Some(caller.name.clone()).filter(|n| !n.is_empty()),
                peer_name: username.clone(),
                ip_port: peer.addr.to_string(),
            },
            &called,
        );
        let a = Dialog {
            call_id: req.call_id().to_string(),
            local_tag: Dialog::new_tag(),
            remote_tag: from.tag().unwrap_or_default().to_string(),
            local_uri: without_tag(to),
            remote_uri: without_tag(from),
            remote_target: contact.uri.clone(),
            peer,
            local_cseq: 0,
            contact_user: called.clone(),
        };
        let offer = (!req.body.is_empty()).then(|| req.body.clone());
        let id = self.insert_call(a, Upstream::Invite(txn), Some(req), caller, record);
        if let Some(c) = self.calls.get_mut(&id) {
            c.media_a.received = offer;
        }
        self.a_invites.insert(txn, id);

        let caller_load = self.load.get(&caller.number).copied().unwrap_or(0);
        if caller.call_limit > 0 && caller_load >= caller.call_limit {
            self.fail_call(
                ep,
                now,
                id,
                status::FAILED,
                cause::FAILED,
                403,
                "Call Limit Reached",
            );
            return;
        }
        self.add_load(id, &caller.number);
        self.persist(id);
        self.ring(ep, dir, now, id, &called);
    }

    /// Adds a call with side A as given; returns its id.
    pub(super) fn insert_call(
        &mut self,
        a: Dialog,
        upstream: Upstream,
        a_invite: Option<Request>,
        caller: &Extension,
        cdr: crate::store::CdrRecord,
    ) -> u64 {
        let id = self.next_call;
        self.next_call += 1;
        let phase = if upstream == Upstream::NotYet {
            Phase::Originating
        } else {
            Phase::Routing
        };
        if upstream != Upstream::NotYet {
            self.by_a_callid.insert(a.call_id.clone(), id);
        }
        let media = Media {
            received: None,
            sent: None,
            version: 1,
        };
        self.calls.insert(
            id,
            Call {
                id,
                phase,
                a,
                upstream,
                a_invite,
                a_ack: None,
                caller_ext: caller.number.clone(),
                caller_name: caller.name.clone(),
                a_relay: LegSide::A,
                media_a: media.clone(),
                media_b: media,
                legs: Vec::new(),
                winner: None,
                relay: None,
                cdr,
                ring_deadline: None,
                ringing_ext: None,
                load: Vec::new(),
                hops: 0,
                early_media: false,
                held_by: None,
                pbx_held: None,
                reinvite: None,
                dial_target: None,
            },
        );
        id
    }

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
        loop {
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

    /// Sends an INVITE to each target (extension `ext`, From `from`, SDP `offer`); returns
    /// how many went out.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn send_forks(
        &mut self,
        ep: &mut Endpoint,
        now: Now,
        id: u64,
        ext: &str,
        targets: Vec<Target>,
        from: NameAddr,
        offer: Option<Vec<u8>>,
        kind: ForkKind,
    ) -> usize {
        let local = self.local;
        let Some(call) = self.calls.get_mut(&id) else {
            return 0;
        };
        let max_forwards = call
            .a_invite
            .as_ref()
            .and_then(|r| r.headers.get("Max-Forwards"))
            .and_then(|m| m.trim().parse::<u32>().ok())
            .unwrap_or(70)
            .saturating_sub(1);
        let contact_user = SipUri::parse(&from.uri)
            .ok()
            .and_then(|u| u.user)
            .unwrap_or_default();
        let mut sent = 0;
        for t in targets {
            let mut dialog = Dialog {
                call_id: format!("{}@centralino", random_token(20)),
                local_tag: Dialog::new_tag(),
                remote_tag: String::new(),
                local_uri: from.clone(),
                remote_uri: NameAddr {
                    display: None,
                    uri: format!("sip:{ext}@{}", local.hostport()),
                    params: Vec::new(),
                },
                remote_target: t.contact,
                peer: t.peer,
                local_cseq: 0,
                contact_user: contact_user.clone(),
            };
            let mut invite = dialog.request(Method::Invite, &local);
            invite.headers.set("Max-Forwards", max_forwards.to_string());
            invite.headers.push("Allow", sip_core::ALLOW);
            if let Some(body) = &offer {
                invite.headers.push("Content-Type", "application/sdp");
                invite.body = body.clone();
            }
            match ep.send_request(now.mono, invite, t.peer) {
                Ok(txn) => {
                    let leg = call.legs.len();
                    self.by_b_callid.insert(dialog.call_id.clone(), (id, leg));
                    self.owners.insert(txn, Owner::Fork { call: id, leg });
                    call.legs.push(BLeg {
                        dialog,
                        invite_txn: Some(txn),
                        state: LegState::Pending,
                        ack: None,
                        ext: ext.to_string(),
                        account: t.username.clone(),
                        pickup: kind == ForkKind::Pickup,
                    });
                    sent += 1;
                    tracing::debug!(call = id, account = %t.username, ?kind, "fork");
                }
                Err(e) => tracing::warn!(error = %e, "cannot send fork INVITE"),
            }
        }
        sent
    }

    /// A device answered a fork that is no longer wanted (cancelled, or the call ended):
    /// acknowledge the 2xx and hang that dialog up at once, so the phone stops ringing and
    /// retransmitting.
    pub(super) fn hang_up_stray_answer(
        &mut self,
        ep: &mut Endpoint,
        now: Now,
        txn: TxnId,
        resp: &Response,
    ) {
        if !(200..300).contains(&resp.status) || resp.cseq().1 != Some(Method::Invite) {
            return;
        }
        let (Some(peer), Some(from), Some(to), Some(contact)) =
            (ep.peer(txn), resp.from_hdr(), resp.to_hdr(), resp.contact())
        else {
            return;
        };
        let mut dialog = Dialog {
            call_id: resp.call_id().to_string(),
            local_tag: from.tag().unwrap_or_default().to_string(),
            remote_tag: to.tag().unwrap_or_default().to_string(),
            local_uri: without_tag(from),
            remote_uri: without_tag(to),
            remote_target: contact.uri,
            peer,
            local_cseq: resp.cseq().0,
            contact_user: String::new(),
        };
        let mut ack = dialog.ack(resp.cseq().0, &self.local);
        // An offer in the 2xx (our INVITE had none) still needs an answer in the ACK.
        if let Some(body) = refuse_sdp(&resp.body, self.local.ip, 1)
            .filter(|_| ep.request(txn).is_some_and(|r| r.body.is_empty()) && !resp.body.is_empty())
        {
            ack.headers.push("Content-Type", "application/sdp");
            ack.body = body;
        }
        ep.send_stateless(peer, &SipMessage::Request(ack));
        // A retransmitted 2xx gets its ACK again, but only one BYE.
        if !self.stray_answers.insert(resp.call_id().to_string()) {
            return;
        }
        if self.stray_answers.len() > 1024 {
            self.stray_answers.clear();
        }
        let bye = dialog.request(Method::Bye, &self.local);
        if let Ok(t) = ep.send_request(now.mono, bye, peer) {
            self.owners.insert(t, Owner::Fire);
        }
        tracing::info!(call_id = %resp.call_id(), "hung up a late answer");
    }

    pub(super) fn on_fork_response(
        &mut self,
        ep: &mut Endpoint,
        dir: &Directory,
        now: Now,
        id: u64,
        leg: usize,
        resp: Response,
    ) {
        let local = self.local;
        self.touch(id);
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.phase == Phase::Originating {
            self.on_origin_response(ep, dir, now, id, leg, resp);
            return;
        }
        let Some(l) = call.legs.get_mut(leg) else {
            return;
        };
        if let Some(tag) = resp.to_tag() {
            l.dialog.remote_tag = tag;
        }
        match resp.status {
            100 => {}
            101..=199 => {
                let (Phase::Routing, Upstream::Invite(t), Some(invite)) =
                    (call.phase, call.upstream, call.a_invite.as_ref())
                else {
                    return;
                };
                let mut r = Response::for_request(invite, resp.status, &resp.reason);
                r.set_to_tag(&call.a.local_tag);
                r.headers
                    .push("Contact", local.contact(&call.a.contact_user, call.a.peer));
                if !resp.body.is_empty() && !call.early_media {
                    if let Some(addr) = sdp_media_addr(&resp.body) {
                        call.signal(Side::B, Some(addr));
                    }
                    let port = call.port(Side::A);
                    call.media_a.version += 1;
                    if let Some(body) = call
                        .relay
                        .as_ref()
                        .and_then(|_| rewrite_sdp(&resp.body, local.ip, port, call.media_a.version))
                    {
                        r.headers.push("Content-Type", "application/sdp");
                        r.body = body;
                        call.early_media = true;
                    }
                }
                let _ = ep.respond(now.mono, t, r);
            }
            200..=299 => {
                if let Some(contact) = resp.contact() {
                    l.dialog.remote_target = contact.uri;
                }
                let ack = l.dialog.ack(resp.cseq().0, &local);
                ep.send_stateless(l.dialog.peer, &SipMessage::Request(ack.clone()));
                l.ack = Some(ack);
                if call.winner.is_some() || call.phase != Phase::Routing {
                    if call.winner != Some(leg) && l.state != LegState::Answered {
                        // A second device answered too late: hang it up.
                        l.state = LegState::Answered;
                        let bye = l.dialog.request(Method::Bye, &local);
                        let peer = l.dialog.peer;
                        if let Ok(t) = ep.send_request(now.mono, bye, peer) {
                            self.owners.insert(t, Owner::Fire);
                        }
                    }
                    return;
                }
                l.state = LegState::Answered;
                let answered_by = l.ext.clone();
                let pickup = l.pickup;
                call.winner = Some(leg);
                call.phase = Phase::Connected;
                call.ring_deadline = None;
                call.media_b.received = (!resp.body.is_empty()).then(|| resp.body.clone());
                if let Some(addr) = sdp_media_addr(&resp.body) {
                    call.signal(Side::B, Some(addr));
                }
                // Cancel the other forks.
                for (i, other) in call.legs.iter_mut().enumerate() {
                    if i != leg && other.state == LegState::Pending {
                        other.state = LegState::Cancelling;
                        if let Some(c) = other.invite_txn.and_then(|t| ep.cancel_request(t)) {
                            let mut c = c;
                            c.headers
                                .push("Reason", "SIP;cause=200;text=\"Call completed elsewhere\"");
                            if let Ok(t) = ep.send_request(now.mono, c, other.dialog.peer) {
                                self.owners.insert(t, Owner::Fire);
                            }
                        }
                    }
                }
                if pickup {
                    self.picked_up(dir, now, id, &answered_by);
                }
                self.answer_upstream(ep, now, id, &resp.body);
                if let Some(call) = self.calls.get_mut(&id) {
                    cdr::answer(&mut call.cdr, &answered_by, now.wall_ms);
                    tracing::info!(call = id, caller = %call.caller_ext, answered_by = %answered_by, "answered");
                }
                self.persist(id);
            }
            status => {
                if l.state == LegState::Pending || l.state == LegState::Cancelling {
                    l.state = LegState::Failed(status);
                }
                if let Some(t) = l.invite_txn {
                    self.owners.remove(&t);
                }
                if call.phase == Phase::Routing
                    && call
                        .legs
                        .iter()
                        .all(|l| matches!(l.state, LegState::Failed(_)))
                {
                    let cond = if call
                        .legs
                        .iter()
                        .any(|l| matches!(l.state, LegState::Failed(486 | 600)))
                    {
                        Condition::Busy
                    } else {
                        Condition::Unavailable
                    };
                    self.step_failed(ep, dir, now, id, cond);
                }
            }
        }
    }

    /// A pickup fork answered: the rung extension's step ends `PICKUP` and the picker gets
    /// its own step, answered.
    fn picked_up(&mut self, dir: &Directory, now: Now, id: u64, by: &str) {
        let ringing = self.calls.get(&id).and_then(|c| c.ringing_ext.clone());
        if let Some(r) = &ringing {
            self.release_load(id, r);
        }
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        cdr::exit_step(&mut call.cdr, cause::PICKUP, now.wall_ms);
        if let Some(ext) = dir.extension(by) {
            let source = call.caller_ext.clone();
            cdr::enter_extension(&mut call.cdr, ext, &source, now.wall_ms);
        }
        call.ringing_ext = Some(by.to_string());
        tracing::info!(call = id, by, ringing = ?ringing, "picked up");
        self.add_load(id, by);
    }

    /// Side B answered with `body`: pass the answer to side A the way it expects it.
    fn answer_upstream(&mut self, ep: &mut Endpoint, now: Now, id: u64, body: &[u8]) {
        let local = self.local;
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let port = call.port(Side::A);
        let rewritten = |call: &mut Call| {
            call.media_a.version += 1;
            let out = call
                .relay
                .as_ref()
                .and_then(|_| rewrite_sdp(body, local.ip, port, call.media_a.version));
            call.media_a.sent.clone_from(&out);
            out
        };
        match call.upstream {
            Upstream::Invite(t) => {
                let Some(invite) = call.a_invite.clone() else {
                    return;
                };
                let mut ok = Response::for_request(&invite, 200, "OK");
                ok.set_to_tag(&call.a.local_tag);
                ok.headers
                    .push("Contact", local.contact(&call.a.contact_user, call.a.peer));
                ok.headers.push("Allow", sip_core::ALLOW);
                if let Some(b) = rewritten(call) {
                    ok.headers.push("Content-Type", "application/sdp");
                    ok.body = b;
                }
                let _ = ep.respond(now.mono, t, ok);
                self.a_invites.remove(&t);
            }
            Upstream::LateAck { cseq } => {
                let mut ack = call.a.ack(cseq, &local);
                if let Some(b) = rewritten(call) {
                    ack.headers.push("Content-Type", "application/sdp");
                    ack.body = b;
                }
                ep.send_stateless(call.a.peer, &SipMessage::Request(ack.clone()));
                call.a_ack = Some(ack);
            }
            Upstream::Established => {
                // A transferred call: the kept party's media stays on its relay port; only
                // a hold left by the departed party is undone.
                if call.pbx_held == Some(Side::A) || call.held_by.is_some() {
                    let _ = self.send_reinvite(
                        ep,
                        now,
                        id,
                        Side::A,
                        sip_core::sdp::Direction::SendRecv,
                        super::super::legs::Purpose::Unhold,
                        None,
                    );
                }
            }
            Upstream::NotYet => {}
        }
        if let Some(call) = self.calls.get_mut(&id) {
            call.upstream = Upstream::Established;
        }
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

    pub(super) fn cancel_forks(&mut self, ep: &mut Endpoint, now: Now, id: u64) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        for l in call.legs.iter_mut() {
            if l.state == LegState::Pending {
                l.state = LegState::Cancelling;
                if let Some(c) = l.invite_txn.and_then(|t| ep.cancel_request(t)) {
                    if let Ok(t) = ep.send_request(now.mono, c, l.dialog.peer) {
                        self.owners.insert(t, Owner::Fire);
                    }
                }
            }
        }
        for l in call.legs.drain(..) {
            if let Some(t) = l.invite_txn {
                self.owners.remove(&t);
            }
            self.by_b_callid.remove(&l.dialog.call_id);
        }
        call.winner = None;
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

    /// Click-to-call: a response from one of the requester's devices.
    fn on_origin_response(
        &mut self,
        ep: &mut Endpoint,
        dir: &Directory,
        now: Now,
        id: u64,
        leg: usize,
        resp: Response,
    ) {
        let local = self.local;
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(l) = call.legs.get_mut(leg) else {
            return;
        };
        if let Some(tag) = resp.to_tag() {
            l.dialog.remote_tag = tag;
        }
        match resp.status {
            100..=199 => {}
            200..=299 => {
                if let Some(contact) = resp.contact() {
                    l.dialog.remote_target = contact.uri;
                }
                l.state = LegState::Answered;
                let cseq = resp.cseq().0;
                let offer = (!resp.body.is_empty()).then(|| resp.body.clone());
                // Cancel the other devices; this one becomes side A.
                for (i, other) in call.legs.iter_mut().enumerate() {
                    if i != leg && other.state == LegState::Pending {
                        other.state = LegState::Cancelling;
                        if let Some(c) = other.invite_txn.and_then(|t| ep.cancel_request(t)) {
                            if let Ok(t) = ep.send_request(now.mono, c, other.dialog.peer) {
                                self.owners.insert(t, Owner::Fire);
                            }
                        }
                    }
                }
                let answered = call.legs.remove(leg);
                for l in call.legs.drain(..) {
                    if let Some(t) = l.invite_txn {
                        self.owners.remove(&t);
                    }
                    self.by_b_callid.remove(&l.dialog.call_id);
                }
                self.by_b_callid.remove(&answered.dialog.call_id);
                if let Some(t) = answered.invite_txn {
                    self.owners.insert(t, Owner::OriginInvite { call: id });
                }
                self.by_a_callid.insert(answered.dialog.call_id.clone(), id);
                call.cdr.src_peer_name = Some(answered.account.clone());
                call.cdr.src_ip_port = Some(answered.dialog.peer.addr.to_string());
                call.a = answered.dialog;
                call.upstream = Upstream::LateAck { cseq };
                call.media_a.received = offer.clone();
                call.phase = Phase::Routing;
                call.ring_deadline = None;
                call.winner = None;
                let target = call.dial_target.clone().unwrap_or_default();
                tracing::info!(call = id, by = %call.caller_ext, "click-to-call answered");
                if offer.is_none() {
                    // No offer in the 2xx to an offerless INVITE: nothing to call with.
                    let ack = call.a.ack(cseq, &local);
                    ep.send_stateless(call.a.peer, &SipMessage::Request(ack));
                    call.upstream = Upstream::Established;
                    self.fail_call(ep, now, id, status::FAILED, cause::FAILED, 488, "No Offer");
                    return;
                }
                self.persist(id);
                self.ring(ep, dir, now, id, &target);
            }
            status => {
                if matches!(l.state, LegState::Pending | LegState::Cancelling) {
                    l.state = LegState::Failed(status);
                }
                if let Some(t) = l.invite_txn {
                    self.owners.remove(&t);
                }
                if call
                    .legs
                    .iter()
                    .all(|l| matches!(l.state, LegState::Failed(_)))
                {
                    let cond = if call
                        .legs
                        .iter()
                        .any(|l| matches!(l.state, LegState::Failed(486 | 600 | 603)))
                    {
                        Condition::Busy
                    } else {
                        Condition::Unavailable
                    };
                    self.step_failed(ep, dir, now, id, cond);
                }
            }
        }
    }
}
