//! Forks and their answers: INVITEs to devices, the winner, early media, pickup answers,
//! passing the answer to side A (200, or the ACK of a click-to-call), late answers.

use super::super::cdr::{self, cause, status};
use super::super::dialog::{without_tag, Dialog};
use super::super::legs::{
    refuse_sdp, rewrite_sdp, sdp_media_addr, BLeg, Call, LegState, Phase, Side, Upstream,
};
use super::super::{Condition, Now};
use super::routing::{ForkKind, Target};
use super::{Engine, Owner};
use crate::directory::Directory;
use sip_core::msg::{NameAddr, SipUri};
use sip_core::transaction::{random_token, Endpoint, TxnId};
use sip_core::{MessageExt, Method, Response, SipMessage};

impl Engine {
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
                let queued = call.queue.is_some();
                let grouped = call.group.is_some();
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
                if queued {
                    self.queue_answered(now, id, &answered_by);
                }
                if grouped {
                    self.group_answered(id, &answered_by);
                }
                self.answer_upstream(ep, now, id, &resp.body);
                if let Some(call) = self.calls.get_mut(&id) {
                    cdr::answer(&mut call.cdr, &answered_by, now.wall_ms);
                    tracing::info!(call = id, caller = %call.caller_ext, answered_by = %answered_by, "answered");
                }
                self.persist(id);
            }
            status => {
                let was_pending = l.state == LegState::Pending;
                if l.state == LegState::Pending || l.state == LegState::Cancelling {
                    l.state = LegState::Failed(status);
                }
                if let Some(t) = l.invite_txn {
                    self.owners.remove(&t);
                }
                if call.queue.is_some() && call.phase == Phase::Routing {
                    // An agent refused: the call center decides (others ring on, or retry).
                    if was_pending {
                        self.queue_leg_failed(ep, now, id, leg);
                    }
                    return;
                }
                if call.group.is_some() && call.phase == Phase::Routing {
                    if was_pending {
                        self.group_leg_failed(ep, dir, now, id);
                    }
                    return;
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
        let rung = self
            .calls
            .get_mut(&id)
            .map(|c| match c.group.take() {
                Some(g) => g.rung,
                None => c.ringing_ext.take().into_iter().collect::<Vec<_>>(),
            })
            .unwrap_or_default();
        for r in &rung {
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
        tracing::info!(call = id, by, ?rung, "picked up");
        self.add_load(id, by);
    }

    /// Side B answered with `body`: pass the answer to side A the way it expects it.
    pub(super) fn answer_upstream(&mut self, ep: &mut Endpoint, now: Now, id: u64, body: &[u8]) {
        let local = self.local;
        let consult = self.consult_original(id).is_some();
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
            Upstream::Established if consult => {
                // A consultation by keys: the consulting party's media moves to this call.
                let body = rewritten(call);
                if let Err(e) = self.send_reinvite(
                    ep,
                    now,
                    id,
                    Side::A,
                    sip_core::sdp::Direction::SendRecv,
                    super::super::legs::Purpose::Repoint,
                    body,
                ) {
                    tracing::warn!(call = id, error = %e, "consultation: cannot re-point");
                }
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
