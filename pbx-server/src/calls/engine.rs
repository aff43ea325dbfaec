//! The B2BUA engine: new calls, forking, answers, cancels, hang-ups, in-dialog forwarding,
//! overflow actions, and the call record.

use super::cdr::{self, status};
use super::dialog::{without_tag, Dialog, Local};
use super::legs::{rewrite_sdp, sdp_media_addr, BLeg, Call, LegState, Phase, Side};
use super::CallUpdate;
use super::{Condition, Now};
use crate::directory::{Directory, OverflowAction};
use crate::guard::{Guard, Verdict};
use crate::lamps::{CallPhase, CallView, PartyRef};
use crate::media::PortPool;
use crate::store::CdrRecord;
use media_core::relay::LegSide;
use shared_protocol::CallSide;
use sip_core::msg::{Headers, NameAddr, SipUri};
use sip_core::sdp::SessionDescription;
use sip_core::transaction::{random_token, Endpoint, TxnId};
use sip_core::{MessageExt, Method, Peer, Request, Response, SipMessage, Transport};
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

/// Overflow hops before a call is hung up (protects against forwarding loops).
const MAX_HOPS: u8 = 5;

/// Who owns a client transaction the engine started.
#[derive(Debug, Clone)]
enum Owner {
    /// The INVITE of B leg `leg` of `call`.
    Fork { call: u64, leg: usize },
    /// A request forwarded from one side to the other; the response goes back on `txn`.
    Forward {
        call: u64,
        to: Side,
        origin: TxnId,
        origin_req: Box<Request>,
    },
    /// A BYE or CANCEL we sent; the response needs nothing.
    Fire,
}

/// The call engine.
pub struct Engine {
    local: Local,
    tenant: String,
    ports: PortPool,
    calls: HashMap<u64, Call>,
    next_call: u64,
    by_a_callid: HashMap<String, u64>,
    by_b_callid: HashMap<String, (u64, usize)>,
    a_invites: HashMap<TxnId, u64>,
    owners: HashMap<TxnId, Owner>,
    load: HashMap<String, u32>,
    cdr_seq: u64,
    /// Call-IDs of late answers already hung up.
    stray_answers: std::collections::HashSet<String>,
    /// Records to persist, drained by the core after each step.
    pub outbox: Vec<CdrRecord>,
    /// Calls changed since the last `drain_updates`.
    dirty: BTreeSet<u64>,
    /// The last view reported per call, so unchanged calls are not reported again.
    views: HashMap<u64, CallView>,
}

impl Engine {
    /// A new engine. `cdr_seq` continues the unique-id counter across restarts.
    pub fn new(local: Local, tenant: &str, ports: PortPool, cdr_seq: u64) -> Engine {
        Engine {
            local,
            tenant: tenant.to_string(),
            ports,
            calls: HashMap::new(),
            next_call: 0,
            by_a_callid: HashMap::new(),
            by_b_callid: HashMap::new(),
            a_invites: HashMap::new(),
            owners: HashMap::new(),
            load: HashMap::new(),
            cdr_seq,
            stray_answers: std::collections::HashSet::new(),
            outbox: Vec::new(),
            dirty: BTreeSet::new(),
            views: HashMap::new(),
        }
    }

    /// What changed since the last call, in call-id order: the core feeds these to the lamp
    /// model and the CTI hub after every step.
    pub fn drain_updates(&mut self) -> Vec<CallUpdate> {
        let mut out = Vec::new();
        for id in std::mem::take(&mut self.dirty) {
            match self.calls.get(&id).map(|c| self.view(c)) {
                Some(view) => {
                    if self.views.get(&id) != Some(&view) {
                        self.views.insert(id, view.clone());
                        out.push(CallUpdate::Updated(view));
                    }
                }
                None => {
                    if let Some(old) = self.views.remove(&id) {
                        out.push(CallUpdate::Ended {
                            id,
                            tenant: old.tenant,
                            unique_id: old.unique_id,
                        });
                    }
                }
            }
        }
        out
    }

    /// Calls in progress as views (for a CTI hub starting).
    pub fn views(&self) -> Vec<CallView> {
        self.views.values().cloned().collect()
    }

    fn view(&self, call: &Call) -> CallView {
        let callee = call.ringing_ext.as_ref().map(|ext| {
            let name = call
                .cdr
                .details
                .last()
                .filter(|d| d.destination_num.as_deref() == Some(ext.as_str()))
                .and_then(|d| d.destination_name.clone());
            PartyRef {
                extension: Some(ext.clone()),
                number: ext.clone(),
                name,
            }
        });
        let side = |s: Side| match s {
            Side::A => CallSide::Caller,
            Side::B => CallSide::Callee,
        };
        CallView {
            id: call.id,
            unique_id: call.cdr.unique_id.clone(),
            tenant: self.tenant.clone(),
            caller: PartyRef {
                extension: Some(call.caller_ext.clone()),
                number: call.caller_ext.clone(),
                name: Some(call.caller_name.clone()).filter(|n| !n.is_empty()),
            },
            callee,
            phase: match call.phase {
                Phase::Routing => CallPhase::Ringing,
                Phase::Connected => CallPhase::Connected,
            },
            held_by: call.held_by.map(side),
            started_ms: call.cdr.start_ms,
            answered_ms: call.cdr.answer_ms,
        }
    }

    fn touch(&mut self, id: u64) {
        self.dirty.insert(id);
    }

    /// Calls in progress.
    pub fn active_calls(&self) -> usize {
        self.calls.len()
    }

    /// Earliest ring timeout.
    pub fn poll_timeout(&self) -> Option<std::time::Instant> {
        self.calls.values().filter_map(|c| c.ring_deadline).min()
    }

    /// True if this in-dialog request belongs to one of our calls.
    pub fn owns_dialog(&self, call_id: &str) -> bool {
        self.by_a_callid.contains_key(call_id) || self.by_b_callid.contains_key(call_id)
    }

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

        self.cdr_seq += 1;
        let unique_id = format!("{}.{}", now.wall_ms / 1000, self.cdr_seq);
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
        let id = self.next_call;
        self.next_call += 1;
        let call = Call {
            id,
            phase: Phase::Routing,
            a: Dialog {
                call_id: req.call_id().to_string(),
                local_tag: Dialog::new_tag(),
                remote_tag: from.tag().unwrap_or_default().to_string(),
                local_uri: without_tag(to),
                remote_uri: without_tag(from),
                remote_target: contact.uri.clone(),
                peer,
                local_cseq: 0,
                contact_user: called.clone(),
            },
            a_txn: Some(txn),
            a_offer: (!req.body.is_empty()).then(|| req.body.clone()),
            a_invite: req,
            caller_ext: caller.number.clone(),
            caller_name: caller.name.clone(),
            legs: Vec::new(),
            winner: None,
            relay: None,
            cdr: record,
            ring_deadline: None,
            ringing_ext: None,
            load: Vec::new(),
            hops: 0,
            early_media: false,
            sdp_version_a: 1,
            sdp_version_b: 1,
            held_by: None,
        };
        self.by_a_callid.insert(call.a.call_id.clone(), id);
        self.a_invites.insert(txn, id);
        self.calls.insert(id, call);

        let caller_load = self.load.get(&caller.number).copied().unwrap_or(0);
        if caller.call_limit > 0 && caller_load >= caller.call_limit {
            self.fail_call(
                ep,
                now,
                id,
                status::FAILED,
                "FAILED",
                403,
                "Call Limit Reached",
            );
            return;
        }
        self.add_load(id, &caller.number);
        self.persist(id);
        match dir.extension(&called) {
            Some(ext) => {
                let number = ext.number.clone();
                self.ring(ep, dir, now, id, &number);
            }
            None => self.fail_call(ep, now, id, status::FAILED, "FAILED", 404, "Not Found"),
        }
    }

    fn add_load(&mut self, call: u64, ext: &str) {
        *self.load.entry(ext.to_string()).or_insert(0) += 1;
        if let Some(c) = self.calls.get_mut(&call) {
            c.load.push(ext.to_string());
        }
    }

    fn release_load(&mut self, call: u64, ext: &str) {
        if let Some(c) = self.calls.get_mut(&call) {
            if let Some(pos) = c.load.iter().position(|e| e == ext) {
                c.load.remove(pos);
                if let Some(n) = self.load.get_mut(ext) {
                    *n = n.saturating_sub(1);
                }
            }
        }
    }

    /// Rings `number`; on an immediate busy/unavailable condition runs the overflow.
    fn ring(&mut self, ep: &mut Endpoint, dir: &Directory, now: Now, id: u64, number: &str) {
        let mut target = number.to_string();
        loop {
            let Some(ext) = dir.extension(&target).cloned() else {
                self.fail_call(ep, now, id, status::FAILED, "FAILED", 404, "Not Found");
                return;
            };
            let Some(call) = self.calls.get_mut(&id) else {
                return;
            };
            cdr::enter_extension(&mut call.cdr, &ext, now.wall_ms);
            let cond = self.start_forks(ep, dir, now, id, &ext);
            let Some(cond) = cond else {
                self.persist(id);
                return;
            };
            match self.next_step(now, id, &ext, cond) {
                Some(next) => target = next,
                None => {
                    let (code, reason) = cond.sip_status();
                    self.fail_call(ep, now, id, cond.code(), cond.code(), code, reason);
                    return;
                }
            }
        }
    }

    /// Closes the current step with `cond` and returns the overflow target, if any.
    fn next_step(
        &mut self,
        now: Now,
        id: u64,
        ext: &crate::directory::Extension,
        cond: Condition,
    ) -> Option<String> {
        let call = self.calls.get_mut(&id)?;
        cdr::exit_step(&mut call.cdr, cond.code(), now.wall_ms);
        let action = match cond {
            Condition::Busy => &ext.on_busy,
            Condition::Unavailable => &ext.on_unavailable,
            Condition::NoAnswer => &ext.on_no_answer,
        };
        match action {
            OverflowAction::Extension(n) if call.hops < MAX_HOPS => {
                call.hops += 1;
                tracing::info!(call = id, from = %ext.number, to = %n, cause = cond.code(), "overflow");
                Some(n.clone())
            }
            _ => None,
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
        ext: &crate::directory::Extension,
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
        let targets: Vec<(String, sip_core::Peer, String)> = dir
            .accounts_of(&ext.number)
            .filter(|a| a.enabled)
            .filter_map(|a| {
                let loc = dir.location(a.id)?;
                let addr = Directory::location_addr(loc)?;
                let transport = Transport::parse(&loc.transport).unwrap_or(Transport::Udp);
                Some((
                    a.username.clone(),
                    Peer { transport, addr },
                    loc.contact.clone(),
                ))
            })
            .collect();
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
        if let Some(addr) = call.a_offer.as_deref().and_then(sdp_media_addr) {
            if let Some(r) = &call.relay {
                r.set_signalled(LegSide::A, Some(addr));
            }
        }
        let offer = match (&call.a_offer, &call.relay) {
            (Some(body), Some(r)) => {
                call.sdp_version_b += 1;
                rewrite_sdp(body, local.ip, r.port_b, call.sdp_version_b)
            }
            _ => None,
        };
        let max_forwards = call
            .a_invite
            .headers
            .get("Max-Forwards")
            .and_then(|m| m.trim().parse::<u32>().ok())
            .unwrap_or(70)
            .saturating_sub(1);
        for (username, peer, contact) in targets {
            let mut dialog = Dialog {
                call_id: format!("{}@centralino", random_token(20)),
                local_tag: Dialog::new_tag(),
                remote_tag: String::new(),
                local_uri: NameAddr {
                    display: Some(call.caller_name.clone()).filter(|n| !n.is_empty()),
                    uri: format!("sip:{}@{}", call.caller_ext, local.hostport()),
                    params: Vec::new(),
                },
                remote_uri: NameAddr {
                    display: None,
                    uri: format!("sip:{}@{}", ext.number, local.hostport()),
                    params: Vec::new(),
                },
                remote_target: contact,
                peer,
                local_cseq: 0,
                contact_user: call.caller_ext.clone(),
            };
            let mut invite = dialog.request(Method::Invite, &local);
            invite.headers.set("Max-Forwards", max_forwards.to_string());
            invite.headers.push("Allow", sip_core::ALLOW);
            if let Some(body) = &offer {
                invite.headers.push("Content-Type", "application/sdp");
                invite.body = body.clone();
            }
            match ep.send_request(now.mono, invite, peer) {
                Ok(txn) => {
                    let leg = call.legs.len();
                    self.by_b_callid.insert(dialog.call_id.clone(), (id, leg));
                    self.owners.insert(txn, Owner::Fork { call: id, leg });
                    call.legs.push(BLeg {
                        dialog,
                        invite_txn: txn,
                        state: LegState::Pending,
                        ack: None,
                    });
                    tracing::debug!(call = id, account = %username, "fork");
                }
                Err(e) => tracing::warn!(error = %e, "cannot send fork INVITE"),
            }
        }
        call.ring_deadline = Some(now.mono + Duration::from_secs(u64::from(ext.ring_timeout_s)));
        call.ringing_ext = Some(ext.number.clone());
        self.add_load(id, &ext.number);
        None
    }

    /// A response on one of our client transactions.
    pub fn on_response(
        &mut self,
        ep: &mut Endpoint,
        dir: &Directory,
        now: Now,
        txn: TxnId,
        resp: Response,
    ) {
        let Some(owner) = self.owners.get(&txn).cloned() else {
            self.hang_up_stray_answer(ep, now, txn, &resp);
            return;
        };
        if resp.status >= 200 && !(resp.status < 300 && matches!(owner, Owner::Fork { .. })) {
            self.owners.remove(&txn);
        }
        match owner {
            Owner::Fire => {}
            Owner::Fork { call, leg } => self.on_fork_response(ep, dir, now, call, leg, resp),
            Owner::Forward {
                call,
                to,
                origin,
                origin_req,
            } => self.on_forward_response(ep, now, call, to, origin, &origin_req, resp),
        }
    }

    /// A device answered a fork that is no longer wanted (cancelled, or the call ended):
    /// acknowledge the 2xx and hang that dialog up at once, so the phone stops ringing and
    /// retransmitting.
    fn hang_up_stray_answer(&mut self, ep: &mut Endpoint, now: Now, txn: TxnId, resp: &Response) {
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
        let ack = dialog.ack(resp.cseq().0, &self.local);
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

    fn on_fork_response(
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
            // The call is gone; a late 2xx must still be ACKed and hung up.
            return;
        };
        let Some(l) = call.legs.get_mut(leg) else {
            return;
        };
        if let Some(tag) = resp.to_tag() {
            l.dialog.remote_tag = tag;
        }
        match resp.status {
            100 => {}
            101..=199 => {
                if call.phase != Phase::Routing || call.a_txn.is_none() {
                    return;
                }
                let mut r = Response::for_request(&call.a_invite, resp.status, &resp.reason);
                r.set_to_tag(&call.a.local_tag);
                r.headers
                    .push("Contact", local.contact(&call.a.contact_user, call.a.peer));
                if !resp.body.is_empty() && !call.early_media {
                    if let (Some(relay), Some(addr)) = (&call.relay, sdp_media_addr(&resp.body)) {
                        relay.set_signalled(LegSide::B, Some(addr));
                    }
                    call.sdp_version_a += 1;
                    if let Some(body) = call.relay.as_ref().and_then(|r| {
                        rewrite_sdp(&resp.body, local.ip, r.port_a, call.sdp_version_a)
                    }) {
                        r.headers.push("Content-Type", "application/sdp");
                        r.body = body;
                        call.early_media = true;
                    }
                }
                if let Some(t) = call.a_txn {
                    let _ = ep.respond(now.mono, t, r);
                }
            }
            200..=299 => {
                if let Some(contact) = resp.contact() {
                    l.dialog.remote_target = contact.uri;
                }
                let cseq = resp.cseq().0;
                let ack = l.dialog.ack(cseq, &local);
                ep.send_stateless(l.dialog.peer, &SipMessage::Request(ack.clone()));
                l.ack = Some(ack);
                if call.winner.is_some() {
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
                if call.a_txn.is_none() {
                    // The caller already went away: hang this leg up.
                    l.state = LegState::Answered;
                    let bye = l.dialog.request(Method::Bye, &local);
                    let peer = l.dialog.peer;
                    if let Ok(t) = ep.send_request(now.mono, bye, peer) {
                        self.owners.insert(t, Owner::Fire);
                    }
                    return;
                }
                l.state = LegState::Answered;
                let answered_by = call.ringing_ext.clone().unwrap_or_default();
                call.winner = Some(leg);
                call.phase = Phase::Connected;
                call.ring_deadline = None;
                if let (Some(relay), Some(addr)) = (&call.relay, sdp_media_addr(&resp.body)) {
                    relay.set_signalled(LegSide::B, Some(addr));
                }
                // Cancel the other forks.
                for (i, other) in call.legs.iter_mut().enumerate() {
                    if i != leg && other.state == LegState::Pending {
                        other.state = LegState::Cancelling;
                        if let Some(c) = ep.cancel_request(other.invite_txn) {
                            let mut c = c;
                            c.headers
                                .push("Reason", "SIP;cause=200;text=\"Call completed elsewhere\"");
                            if let Ok(t) = ep.send_request(now.mono, c, other.dialog.peer) {
                                self.owners.insert(t, Owner::Fire);
                            }
                        }
                    }
                }
                let mut ok = Response::for_request(&call.a_invite, 200, "OK");
                ok.set_to_tag(&call.a.local_tag);
                ok.headers
                    .push("Contact", local.contact(&call.a.contact_user, call.a.peer));
                ok.headers.push("Allow", sip_core::ALLOW);
                call.sdp_version_a += 1;
                if let Some(body) = call
                    .relay
                    .as_ref()
                    .and_then(|r| rewrite_sdp(&resp.body, local.ip, r.port_a, call.sdp_version_a))
                {
                    ok.headers.push("Content-Type", "application/sdp");
                    ok.body = body;
                }
                if let Some(t) = call.a_txn.take() {
                    let _ = ep.respond(now.mono, t, ok);
                    self.a_invites.remove(&t);
                }
                cdr::answer(&mut call.cdr, &answered_by, now.wall_ms);
                tracing::info!(call = id, caller = %call.caller_ext, answered_by = %answered_by, "answered");
                self.persist(id);
            }
            status => {
                if l.state == LegState::Pending || l.state == LegState::Cancelling {
                    l.state = LegState::Failed(status);
                }
                self.owners.remove(&l.invite_txn);
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

    /// The current ringing step ended with `cond`: run the overflow.
    fn step_failed(
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
        let Some(ext_number) = call.ringing_ext.take() else {
            return;
        };
        self.cancel_forks(ep, now, id);
        self.release_load(id, &ext_number);
        let Some(ext) = dir.extension(&ext_number).cloned() else {
            return;
        };
        match self.next_step(now, id, &ext, cond) {
            Some(next) => self.ring(ep, dir, now, id, &next),
            None => {
                let (code, reason) = cond.sip_status();
                self.fail_call(ep, now, id, cond.code(), cond.code(), code, reason);
            }
        }
    }

    fn cancel_forks(&mut self, ep: &mut Endpoint, now: Now, id: u64) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        for l in call.legs.iter_mut() {
            if l.state == LegState::Pending {
                l.state = LegState::Cancelling;
                if let Some(c) = ep.cancel_request(l.invite_txn) {
                    if let Ok(t) = ep.send_request(now.mono, c, l.dialog.peer) {
                        self.owners.insert(t, Owner::Fire);
                    }
                }
            }
        }
        for l in call.legs.drain(..) {
            self.owners.remove(&l.invite_txn);
            self.by_b_callid.remove(&l.dialog.call_id);
        }
    }

    /// Ring timeouts.
    pub fn handle_timeout(&mut self, ep: &mut Endpoint, dir: &Directory, now: Now) {
        let due: Vec<u64> = self
            .calls
            .values()
            .filter(|c| c.ring_deadline.is_some_and(|d| d <= now.mono))
            .map(|c| c.id)
            .collect();
        for id in due {
            self.step_failed(ep, dir, now, id, Condition::NoAnswer);
        }
    }

    /// The caller cancelled its INVITE.
    pub fn on_cancelled(&mut self, ep: &mut Endpoint, now: Now, invite: TxnId) {
        let Some(id) = self.a_invites.get(&invite).copied() else {
            return;
        };
        self.cancel_forks(ep, now, id);
        self.fail_call(
            ep,
            now,
            id,
            status::CANCELED,
            "CANCELED",
            487,
            "Request Terminated",
        );
    }

    /// A client transaction timed out.
    pub fn on_timeout(&mut self, ep: &mut Endpoint, dir: &Directory, now: Now, txn: TxnId) {
        if let Some(id) = self.a_invites.remove(&txn) {
            // Our final response to A was never ACKed.
            self.hangup(ep, now, id, None);
            return;
        }
        if let Some(Owner::Fork { call, leg }) = self.owners.get(&txn).cloned() {
            let mut resp = Response {
                status: 408,
                reason: "Request Timeout".into(),
                headers: Headers::new(),
                body: Vec::new(),
            };
            if let Some(c) = self.calls.get(&call) {
                if let Some(l) = c.legs.get(leg) {
                    resp.headers
                        .push("CSeq", format!("{} INVITE", l.dialog.local_cseq));
                }
            }
            self.on_fork_response(ep, dir, now, call, leg, resp);
        }
        self.owners.remove(&txn);
    }

    /// An in-dialog request (To tag present) for one of our calls.
    pub fn on_in_dialog(&mut self, ep: &mut Endpoint, now: Now, txn: Option<TxnId>, req: Request) {
        let call_id = req.call_id().to_string();
        let (id, side) = if let Some(id) = self.by_a_callid.get(&call_id) {
            (*id, super::legs::Side::A)
        } else if let Some((id, _)) = self.by_b_callid.get(&call_id) {
            (*id, super::legs::Side::B)
        } else {
            if let Some(t) = txn {
                let _ = ep.respond(
                    now.mono,
                    t,
                    Response::for_request(&req, 481, "Call/Transaction Does Not Exist"),
                );
            }
            return;
        };
        let Some(txn) = txn else {
            return; // ACKs: the transaction layer already stopped our 2xx retransmissions.
        };
        if side == Side::B {
            // Requests from a loser fork are refused; only the winner is in the call.
            let from_winner = self.by_b_callid.get(&call_id).map(|(_, l)| *l)
                == self.calls.get(&id).and_then(|c| c.winner);
            if !from_winner {
                if req.method == Method::Bye {
                    let _ = ep.respond(now.mono, txn, Response::for_request(&req, 200, "OK"));
                } else {
                    let _ = ep.respond(
                        now.mono,
                        txn,
                        Response::for_request(&req, 481, "Call/Transaction Does Not Exist"),
                    );
                }
                return;
            }
        }
        match req.method {
            Method::Bye => {
                let _ = ep.respond(now.mono, txn, Response::for_request(&req, 200, "OK"));
                self.hangup(ep, now, id, Some(side));
            }
            _ => self.forward(ep, now, id, side, txn, req),
        }
    }

    /// Forwards an in-dialog request to the other side (re-INVITE for hold/resume, INFO,
    /// UPDATE, ...), with SDP rewritten to keep media on the relay.
    fn forward(
        &mut self,
        ep: &mut Endpoint,
        now: Now,
        id: u64,
        from: Side,
        txn: TxnId,
        req: Request,
    ) {
        let local = self.local;
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.phase != Phase::Connected {
            let _ = ep.respond(
                now.mono,
                txn,
                Response::for_request(&req, 491, "Request Pending"),
            );
            return;
        }
        let to = if from == Side::A { Side::B } else { Side::A };
        let (in_side, out_port) = match (from, &call.relay) {
            (Side::A, Some(r)) => (LegSide::A, r.port_b),
            (Side::B, Some(r)) => (LegSide::B, r.port_a),
            _ => (LegSide::A, 0),
        };
        if req.method == Method::Invite || req.method == Method::Update {
            if let Some(r) = &call.relay {
                if !req.body.is_empty() {
                    r.set_signalled(in_side, sdp_media_addr(&req.body));
                }
            }
        }
        let version = if to == Side::A {
            call.sdp_version_a += 1;
            call.sdp_version_a
        } else {
            call.sdp_version_b += 1;
            call.sdp_version_b
        };
        let dialog = match to {
            Side::A => &mut call.a,
            Side::B => match call.winner.and_then(|w| call.legs.get_mut(w)) {
                Some(l) => &mut l.dialog,
                None => return,
            },
        };
        let mut out = dialog.request(req.method.clone(), &local);
        let peer = dialog.peer;
        for name in ["Content-Type", "Event", "Subscription-State", "Supported"] {
            if let Some(v) = req.headers.get(name) {
                out.headers.push(name, v.to_string());
            }
        }
        out.body = if req
            .headers
            .get("Content-Type")
            .is_some_and(|c| c.contains("application/sdp"))
        {
            rewrite_sdp(&req.body, local.ip, out_port, version).unwrap_or_default()
        } else {
            req.body.clone()
        };
        match ep.send_request(now.mono, out, peer) {
            Ok(t) => {
                self.owners.insert(
                    t,
                    Owner::Forward {
                        call: id,
                        to,
                        origin: txn,
                        origin_req: Box::new(req),
                    },
                );
            }
            Err(_) => {
                let _ = ep.respond(
                    now.mono,
                    txn,
                    Response::for_request(&req, 500, "Server Internal Error"),
                );
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_forward_response(
        &mut self,
        ep: &mut Endpoint,
        now: Now,
        id: u64,
        to: Side,
        origin: TxnId,
        origin_req: &Request,
        resp: Response,
    ) {
        let local = self.local;
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if resp.status == 100 {
            return;
        }
        let is_invite = origin_req.method == Method::Invite;
        if is_invite && (200..300).contains(&resp.status) {
            // An accepted re-INVITE sets or clears hold, by the side that sent it.
            let from = if to == Side::A { Side::B } else { Side::A };
            let hold = std::str::from_utf8(&origin_req.body)
                .ok()
                .and_then(|t| SessionDescription::parse(t).ok())
                .map(|sdp| sdp.is_hold(0));
            match hold {
                Some(true) => call.held_by = Some(from),
                Some(false) if call.held_by == Some(from) => call.held_by = None,
                _ => {}
            }
            self.dirty.insert(id);
            // ACK the far side ourselves; the origin's ACK ends at us.
            let dialog = match to {
                Side::A => Some(&call.a),
                Side::B => call
                    .winner
                    .and_then(|w| call.legs.get(w))
                    .map(|l| &l.dialog),
            };
            if let Some(d) = dialog {
                let ack = d.ack(resp.cseq().0, &local);
                ep.send_stateless(d.peer, &SipMessage::Request(ack));
            }
        }
        let (resp_side, port, version) = match (to, &call.relay) {
            (Side::B, Some(r)) => {
                call.sdp_version_a += 1;
                (LegSide::B, r.port_a, call.sdp_version_a)
            }
            (Side::A, Some(r)) => {
                call.sdp_version_b += 1;
                (LegSide::A, r.port_b, call.sdp_version_b)
            }
            _ => (LegSide::A, 0, 1),
        };
        let mut r = Response::for_request(origin_req, resp.status, &resp.reason);
        if resp
            .headers
            .get("Content-Type")
            .is_some_and(|c| c.contains("application/sdp"))
            && !resp.body.is_empty()
        {
            if let Some(relay) = &call.relay {
                relay.set_signalled(resp_side, sdp_media_addr(&resp.body));
            }
            if let Some(body) = rewrite_sdp(&resp.body, local.ip, port, version) {
                r.headers.push("Content-Type", "application/sdp");
                r.body = body;
            }
        } else if !resp.body.is_empty() {
            if let Some(ct) = resp.headers.get("Content-Type") {
                r.headers.push("Content-Type", ct.to_string());
            }
            r.body = resp.body.clone();
        }
        if is_invite && (200..300).contains(&resp.status) {
            let contact_peer = match to {
                Side::A => call
                    .winner
                    .and_then(|w| call.legs.get(w))
                    .map(|l| l.dialog.peer),
                Side::B => Some(call.a.peer),
            };
            let user = match to {
                Side::A => call.caller_ext.clone(),
                Side::B => call.a.contact_user.clone(),
            };
            if let Some(p) = contact_peer {
                r.headers.push("Contact", local.contact(&user, p));
            }
        }
        let _ = ep.respond(now.mono, origin, r);
    }

    /// Ends a connected call: BYE towards every side except `from`, record closed.
    fn hangup(&mut self, ep: &mut Endpoint, now: Now, id: u64, from: Option<Side>) {
        let local = self.local;
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.phase != Phase::Connected {
            // A BYE before the answer ends the attempt like a CANCEL.
            self.cancel_forks(ep, now, id);
            if let Some(call) = self.calls.get_mut(&id) {
                if let Some(t) = call.a_txn.take() {
                    let mut r = Response::for_request(&call.a_invite, 487, "Request Terminated");
                    r.set_to_tag(&call.a.local_tag);
                    let _ = ep.respond(now.mono, t, r);
                }
            }
            self.finish(now, id, status::CANCELED, "CANCELED");
            return;
        }
        let mut byes = Vec::new();
        if from != Some(Side::A) {
            byes.push((call.a.request(Method::Bye, &local), call.a.peer));
        }
        if from != Some(Side::B) {
            if let Some(l) = call.winner_leg() {
                byes.push((l.dialog.request(Method::Bye, &local), l.dialog.peer));
            }
        }
        for (bye, peer) in byes {
            if let Ok(t) = ep.send_request(now.mono, bye, peer) {
                self.owners.insert(t, Owner::Fire);
            }
        }
        self.finish(now, id, status::OK, "NCC");
    }

    /// Ends a call that was never answered, answering A with `code`.
    #[allow(clippy::too_many_arguments)]
    fn fail_call(
        &mut self,
        ep: &mut Endpoint,
        now: Now,
        id: u64,
        status: &str,
        cause: &str,
        code: u16,
        reason: &str,
    ) {
        if let Some(call) = self.calls.get_mut(&id) {
            if let Some(t) = call.a_txn.take() {
                let mut r = Response::for_request(&call.a_invite, code, reason);
                r.set_to_tag(&call.a.local_tag);
                let _ = ep.respond(now.mono, t, r);
            }
        }
        self.finish(now, id, status, cause);
    }

    fn finish(&mut self, now: Now, id: u64, status: &str, cause: &str) {
        self.touch(id);
        let Some(mut call) = self.calls.remove(&id) else {
            return;
        };
        cdr::close(&mut call.cdr, status, cause, now.wall_ms);
        self.by_a_callid.remove(&call.a.call_id);
        if let Some(t) = call.a_txn {
            self.a_invites.remove(&t);
        }
        self.a_invites.retain(|_, c| *c != id);
        for l in &call.legs {
            self.by_b_callid.remove(&l.dialog.call_id);
        }
        self.owners.retain(|_, o| match o {
            Owner::Fork { call, .. } | Owner::Forward { call, .. } => *call != id,
            Owner::Fire => true,
        });
        for ext in std::mem::take(&mut call.load) {
            if let Some(n) = self.load.get_mut(&ext) {
                *n = n.saturating_sub(1);
            }
        }
        tracing::info!(call = id, unique_id = %call.cdr.unique_id, status, "call ended");
        self.outbox.push(call.cdr.clone());
    }

    fn persist(&mut self, id: u64) {
        self.touch(id);
        if let Some(call) = self.calls.get(&id) {
            self.outbox.push(call.cdr.clone());
        }
    }
}
