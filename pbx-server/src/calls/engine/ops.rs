//! Call-control operations (CTI and REST): hang up, hold and resume, blind and attended
//! transfer, click-to-call, directed pickup. Each is checked, then carried out as SIP
//! towards the parties; the result says whether it was accepted, and the call views and
//! the record follow as the parties answer (docs/decisions/007-call-control.md).

use super::super::cdr::{self, cause, status};
use super::super::dialog::Dialog;
use super::super::legs::{BLeg, LegState, Phase, Purpose, Side, Upstream};
use super::super::{valid_number, Now};
use super::routing::{targets_of, ForkKind};
use super::{Engine, Owner};
use crate::control::{CallOp, CallOpError, CallOpOk};
use crate::directory::Directory;
use sip_core::msg::NameAddr;
use sip_core::sdp::Direction;
use sip_core::transaction::Endpoint;
use sip_core::Method;
use std::time::Duration;

/// How long the requester's devices ring for a click-to-call (the seed's c2c timeout).
const DIAL_ANSWER: Duration = Duration::from_secs(10);
/// How long a pickup INVITE may ring, at least, before the call's own ring timeout ends it.
const PICKUP_ANSWER: Duration = Duration::from_secs(10);

/// An empty address for the placeholder dialog of a click-to-call not yet answered.
fn nobody() -> NameAddr {
    NameAddr {
        display: None,
        uri: String::new(),
        params: Vec::new(),
    }
}

fn not_found(what: &str) -> CallOpError {
    CallOpError::NotFound(what.to_string())
}

fn invalid(why: &str) -> CallOpError {
    CallOpError::InvalidState(why.to_string())
}

impl Engine {
    /// Carries out a call-control operation.
    pub fn call_op(
        &mut self,
        ep: &mut Endpoint,
        dir: &Directory,
        now: Now,
        op: CallOp,
    ) -> Result<CallOpOk, CallOpError> {
        tracing::info!(?op, "call control");
        match op {
            CallOp::Hangup { call } => {
                let id = self
                    .find(&call)
                    .ok_or_else(|| not_found(&format!("call {call}")))?;
                self.hangup(ep, now, id, None);
                Ok(CallOpOk::Done)
            }
            CallOp::Hold { call, by } => self.op_hold(ep, now, &call, &by, true),
            CallOp::Resume { call, by } => self.op_hold(ep, now, &call, &by, false),
            CallOp::BlindTransfer { call, by, target } => {
                self.op_blind(ep, dir, now, &call, &by, &target)
            }
            CallOp::AttendedTransfer { call, consult, by } => {
                self.op_attended(ep, dir, now, &call, &consult, &by)
            }
            CallOp::Dial { by, number } => self.op_dial(ep, dir, now, &by, &number),
            CallOp::Pickup { by, ringing } => self.op_pickup(ep, dir, now, &by, &ringing),
            CallOp::Redirect { call, target } => self.op_redirect(ep, dir, now, &call, &target),
        }
    }

    /// A connected call `unique_id` of which `by` is a party, with the side `by` is on.
    fn connected_party(&self, unique_id: &str, by: &str) -> Result<(u64, Side), CallOpError> {
        let id = self
            .find(unique_id)
            .ok_or_else(|| not_found(&format!("call {unique_id}")))?;
        let call = self
            .calls
            .get(&id)
            .ok_or_else(|| not_found(&format!("call {unique_id}")))?;
        if call.phase != Phase::Connected {
            if call.caller_ext != by && call.ringing_ext.as_deref() != Some(by) {
                return Err(CallOpError::NotAParty(by.to_string()));
            }
            return Err(invalid("the call is not answered"));
        }
        let side = call
            .side_of(by)
            .ok_or_else(|| CallOpError::NotAParty(by.to_string()))?;
        if call.reinvite.is_some() {
            return Err(invalid("the call is being renegotiated; try again"));
        }
        Ok((id, side))
    }

    fn op_hold(
        &mut self,
        ep: &mut Endpoint,
        now: Now,
        unique_id: &str,
        by: &str,
        hold: bool,
    ) -> Result<CallOpOk, CallOpError> {
        let (id, side) = self.connected_party(unique_id, by)?;
        let held_by = self.calls.get(&id).and_then(|c| c.held_by);
        let (direction, purpose) = if hold {
            if held_by.is_some() {
                return Err(invalid("the call is already on hold"));
            }
            (Direction::SendOnly, Purpose::Hold { by: side })
        } else {
            match held_by {
                Some(s) if s == side => {}
                Some(_) => return Err(invalid("the other party put the call on hold")),
                None => return Err(invalid("the call is not on hold")),
            }
            (Direction::SendRecv, Purpose::Resume { by: side })
        };
        self.send_reinvite(ep, now, id, side.other(), direction, purpose, None)?;
        self.touch(id);
        Ok(CallOpOk::Done)
    }

    /// Sends a BYE on `side`'s dialog (the party leaves the call).
    fn bye(&mut self, ep: &mut Endpoint, now: Now, id: u64, side: Side) {
        let local = self.local;
        let Some(d) = self.calls.get_mut(&id).and_then(|c| c.dialog_mut(side)) else {
            return;
        };
        let bye = d.request(Method::Bye, &local);
        let peer = d.peer;
        if let Ok(t) = ep.send_request(now.mono, bye, peer) {
            self.owners.insert(t, Owner::Fire);
        }
    }

    /// Drops every B leg of a call from the indexes; a leg whose 2xx we acknowledged keeps
    /// its ACK for retransmissions (on call `keep_for`), the others are forgotten.
    pub(super) fn drop_legs(&mut self, id: u64, keep_for: u64) -> Vec<BLeg> {
        let Some(call) = self.calls.get_mut(&id) else {
            return Vec::new();
        };
        call.winner = None;
        let legs: Vec<BLeg> = call.legs.drain(..).collect();
        for l in &legs {
            self.by_b_callid.remove(&l.dialog.call_id);
            if let Some(t) = l.invite_txn {
                match &l.ack {
                    Some(ack) if l.state == LegState::Answered => {
                        self.owners.insert(
                            t,
                            Owner::Acked {
                                call: keep_for,
                                ack: Box::new(ack.clone()),
                                peer: l.dialog.peer,
                            },
                        );
                    }
                    _ => {
                        self.owners.remove(&t);
                    }
                }
            }
        }
        legs
    }

    fn op_blind(
        &mut self,
        ep: &mut Endpoint,
        dir: &Directory,
        now: Now,
        unique_id: &str,
        by: &str,
        target: &str,
    ) -> Result<CallOpOk, CallOpError> {
        if !valid_number(target) {
            return Err(CallOpError::BadArguments(
                "target: digits, *, # and a leading + only".into(),
            ));
        }
        let (id, side) = self.connected_party(unique_id, by)?;
        let kept = side.other();
        let kept_ext = self
            .calls
            .get(&id)
            .and_then(|c| c.party(kept))
            .unwrap_or_default()
            .to_string();
        if target == self.features.code("park") {
            self.park(ep, dir, now, id, side, None)?;
            return Ok(CallOpOk::Done);
        }
        if dir.extension(target).is_none() && !self.is_queue(target) && !self.is_group(target) {
            return Err(not_found(&format!("extension {target}")));
        }
        if target == kept_ext {
            return Err(CallOpError::BadArguments(
                "cannot transfer a party to itself".into(),
            ));
        }
        self.keep_only(ep, dir, now, id, side, cause::BLINDXFER)?;
        let Some(call) = self.calls.get_mut(&id) else {
            return Err(not_found(unique_id));
        };
        call.phase = Phase::Routing;
        call.ringing_ext = None;
        call.early_media = true;
        tracing::info!(call = id, by, target, kept = %kept_ext, "blind transfer");
        self.ring(ep, dir, now, id, target);
        Ok(CallOpOk::Done)
    }

    fn op_attended(
        &mut self,
        ep: &mut Endpoint,
        dir: &Directory,
        now: Now,
        call_uid: &str,
        consult_uid: &str,
        by: &str,
    ) -> Result<CallOpOk, CallOpError> {
        if call_uid == consult_uid {
            return Err(CallOpError::BadArguments(
                "consult must be another call".into(),
            ));
        }
        let (x, sx) = self.connected_party(call_uid, by)?;
        let (y, sy) = self.connected_party(consult_uid, by)?;
        if let Some(slot) = self.parked_slot(y) {
            // The consultation is `by`'s call to the park extension: the transferred party
            // takes its slot.
            self.bye(ep, now, y, sy);
            self.unpark(y);
            self.finish(now, y, status::OK, cause::ATXFER);
            self.park(ep, dir, now, x, sx, Some(slot))?;
            return Ok(CallOpOk::Done);
        }
        let (p1_side, p2_side) = (sx.other(), sy.other());
        // What moves from the consultation call: the other party's dialog and media state.
        let Some(yc) = self.calls.get(&y) else {
            return Err(not_found(consult_uid));
        };
        let p2_ext = yc.party(p2_side).unwrap_or_default().to_string();
        let (p2_dialog, p2_txn, p2_ack) = match p2_side {
            Side::A => (yc.a.clone(), None, None),
            Side::B => {
                let Some(l) = yc.winner.and_then(|w| yc.legs.get(w)) else {
                    return Err(invalid("the consultation has no answered callee"));
                };
                (l.dialog.clone(), l.invite_txn, l.ack.clone())
            }
        };
        let p2_media = match p2_side {
            Side::A => yc.media_a.clone(),
            Side::B => yc.media_b.clone(),
        };
        let p2_name = dir
            .extension(&p2_ext)
            .map(|e| e.name.clone())
            .unwrap_or_default();

        // The consultation call ends for `by`, and its record with it.
        self.bye(ep, now, y, sy);
        self.finish(now, y, status::OK, cause::ATXFER);

        // `by` leaves the first call; the consulted party takes its place.
        self.bye(ep, now, x, sx);
        let _ = self.drop_legs_if(x, sx);
        self.release_load(x, by);
        let Some(xc) = self.calls.get_mut(&x) else {
            return Err(not_found(call_uid));
        };
        let p1_ext = xc.party(p1_side).unwrap_or_default().to_string();
        let repoint = xc.media(sx).sent.clone();
        let held = xc.held_by.is_some() || xc.pbx_held == Some(p1_side);
        xc.held_by = None;
        xc.pbx_held = held.then_some(p1_side);
        match sx {
            Side::A => {
                if self.by_a_callid.get(&xc.a.call_id) == Some(&x) {
                    self.by_a_callid.remove(&xc.a.call_id);
                }
                self.by_a_callid.insert(p2_dialog.call_id.clone(), x);
                xc.a = p2_dialog.clone();
                xc.caller_ext.clone_from(&p2_ext);
                xc.caller_name = p2_name;
                xc.a_invite = None;
                xc.upstream = Upstream::Established;
            }
            Side::B => {
                self.by_b_callid
                    .insert(p2_dialog.call_id.clone(), (x, xc.legs.len()));
                xc.winner = Some(xc.legs.len());
                xc.legs.push(BLeg {
                    dialog: p2_dialog.clone(),
                    invite_txn: None,
                    state: LegState::Answered,
                    ack: None,
                    ext: p2_ext.clone(),
                    account: String::new(),
                    pickup: false,
                });
                xc.ringing_ext = Some(p2_ext.clone());
            }
        }
        *xc.media(sx) = p2_media;
        cdr::exit_step(&mut xc.cdr, cause::ATXFER, now.wall_ms);
        if let Some(ext) = dir.extension(&p2_ext) {
            cdr::enter_extension(&mut xc.cdr, ext, &p1_ext, now.wall_ms);
            cdr::answer(&mut xc.cdr, &p2_ext, now.wall_ms);
        }
        if let (Some(t), Some(ack)) = (p2_txn, p2_ack) {
            self.owners.insert(
                t,
                Owner::Acked {
                    call: x,
                    ack: Box::new(ack),
                    peer: p2_dialog.peer,
                },
            );
        }
        self.add_load(x, &p2_ext);
        tracing::info!(call = x, consult = y, by, from = %p1_ext, to = %p2_ext, "attended transfer");
        // Point the consulted party's media at this call's relay (the port `by` used).
        if let Err(e) = self.send_reinvite(
            ep,
            now,
            x,
            sx,
            Direction::SendRecv,
            Purpose::Repoint,
            repoint,
        ) {
            self.hangup_with(ep, now, x, cause::ATXFER_REFUSED);
            return Err(e);
        }
        self.persist(x);
        Ok(CallOpOk::Done)
    }

    /// The party on `leaving` leaves a connected call (BYE; its step ends with `why`): the
    /// other party stays alone on side A, its hold state kept for whoever comes next.
    pub(super) fn keep_only(
        &mut self,
        ep: &mut Endpoint,
        dir: &Directory,
        now: Now,
        id: u64,
        leaving: Side,
        why: &str,
    ) -> Result<(), CallOpError> {
        if !self.calls.contains_key(&id) {
            return Err(not_found(&format!("call {id}")));
        }
        self.bye(ep, now, id, leaving);
        if let Some(call) = self.calls.get_mut(&id) {
            cdr::exit_step(&mut call.cdr, why, now.wall_ms);
        }
        self.detach(dir, id, leaving)
    }

    /// Drops side B's legs of call `id` when `by` was on side B (it leaves).
    fn drop_legs_if(&mut self, id: u64, side: Side) -> Vec<BLeg> {
        if side == Side::B {
            self.drop_legs(id, id)
        } else {
            Vec::new()
        }
    }

    fn op_dial(
        &mut self,
        ep: &mut Endpoint,
        dir: &Directory,
        now: Now,
        by: &str,
        number: &str,
    ) -> Result<CallOpOk, CallOpError> {
        if !valid_number(number) {
            return Err(CallOpError::BadArguments(
                "number: digits, *, # and a leading + only".into(),
            ));
        }
        let ext = dir
            .extension(by)
            .cloned()
            .ok_or_else(|| not_found(&format!("extension {by}")))?;
        let targets = targets_of(dir, by);
        let Some(first) = targets.first() else {
            return Err(CallOpError::NoDevice(by.to_string()));
        };
        let load = self.load.get(by).copied().unwrap_or(0);
        if ext.call_limit > 0 && load >= ext.call_limit {
            return Err(invalid("the call limit of the extension is reached"));
        }
        let unique_id = self.next_unique_id(now);
        let mut record = cdr::open(
            unique_id.clone(),
            &self.tenant,
            now.wall_ms,
            cdr::Origin {
                caller: ext.number.clone(),
                caller_name: Some(ext.name.clone()).filter(|n| !n.is_empty()),
                peer_name: String::new(),
                ip_port: String::new(),
            },
            number,
        );
        record.src_peer_name = None;
        record.src_ip_port = None;
        let placeholder = Dialog {
            call_id: String::new(),
            local_tag: String::new(),
            remote_tag: String::new(),
            local_uri: nobody(),
            remote_uri: nobody(),
            remote_target: String::new(),
            peer: first.peer,
            local_cseq: 0,
            contact_user: String::new(),
        };
        let id = self.insert_call(placeholder, Upstream::NotYet, None, &ext, record);
        if let Some(c) = self.calls.get_mut(&id) {
            c.dial_target = Some(number.to_string());
        }
        self.add_load(id, by);
        // The requester's phone shows whom it is about to call (the seed's "c2c: <number>").
        let from = NameAddr {
            display: Some(format!("c2c: {number}")),
            uri: format!("sip:{number}@{}", self.local.hostport()),
            params: Vec::new(),
        };
        let sent = self.send_forks(ep, now, id, by, targets, from, None, ForkKind::Ring);
        if sent == 0 {
            self.finish(now, id, status::FAILED, cause::FAILED);
            return Err(CallOpError::NoDevice(by.to_string()));
        }
        if let Some(c) = self.calls.get_mut(&id) {
            c.ring_deadline = Some(now.mono + DIAL_ANSWER);
        }
        tracing::info!(call = id, by, number, "click-to-call");
        self.persist(id);
        Ok(CallOpOk::Call(unique_id))
    }

    fn op_redirect(
        &mut self,
        ep: &mut Endpoint,
        dir: &Directory,
        now: Now,
        unique_id: &str,
        target: &str,
    ) -> Result<CallOpOk, CallOpError> {
        if !valid_number(target) {
            return Err(CallOpError::BadArguments(
                "target: digits, *, # and a leading + only".into(),
            ));
        }
        if dir.extension(target).is_none() && !self.is_queue(target) && !self.is_group(target) {
            return Err(not_found(&format!("extension {target}")));
        }
        let id = self
            .find(unique_id)
            .ok_or_else(|| not_found(&format!("call {unique_id}")))?;
        let call = self
            .calls
            .get_mut(&id)
            .ok_or_else(|| not_found(&format!("call {unique_id}")))?;
        // Queue and ring group calls follow their own rules; a click-to-call still rings its
        // requester, whose call it is.
        let ringing = match (&call.phase, &call.queue, &call.group, &call.ringing_ext) {
            (Phase::Routing, None, None, Some(r)) if call.parked.is_none() => r.clone(),
            _ => return Err(invalid("the call is not ringing an extension")),
        };
        if ringing == target {
            return Err(CallOpError::BadArguments(
                "the call already rings that extension".into(),
            ));
        }
        if call.hops >= super::MAX_HOPS {
            return Err(invalid("the call was sent on too many times"));
        }
        call.hops += 1;
        call.ring_deadline = None;
        call.ringing_ext = None;
        cdr::exit_step(&mut call.cdr, cause::BLINDXFER, now.wall_ms);
        self.cancel_forks(ep, now, id);
        self.release_load(id, &ringing);
        tracing::info!(call = id, from = %ringing, to = target, "redirect");
        self.ring(ep, dir, now, id, target);
        Ok(CallOpOk::Done)
    }

    fn op_pickup(
        &mut self,
        ep: &mut Endpoint,
        dir: &Directory,
        now: Now,
        by: &str,
        ringing: &str,
    ) -> Result<CallOpOk, CallOpError> {
        if dir.extension(by).is_none() {
            return Err(not_found(&format!("extension {by}")));
        }
        if dir.extension(ringing).is_none() {
            return Err(not_found(&format!("extension {ringing}")));
        }
        if by == ringing {
            return Err(CallOpError::BadArguments(
                "a call ringing at your own extension is answered, not picked up".into(),
            ));
        }
        let id = self
            .call_to_pick(dir, by, Some(ringing))
            .ok_or_else(|| not_found(&format!("a call ringing at {ringing}")))?;
        let Some(call) = self.calls.get(&id) else {
            return Err(not_found(ringing));
        };
        if call.caller_ext == by {
            return Err(CallOpError::BadArguments(
                "that call is your own; hang it up instead".into(),
            ));
        }
        if call
            .legs
            .iter()
            .any(|l| l.pickup && l.state == LegState::Pending)
        {
            return Err(invalid("a pickup of this call is already ringing"));
        }
        let targets = targets_of(dir, by);
        if targets.is_empty() {
            return Err(CallOpError::NoDevice(by.to_string()));
        }
        let unique_id = call.cdr.unique_id.clone();
        let offer = call.media_b.sent.clone();
        // The picker's phone shows the caller, like any fork of the call.
        let from = NameAddr {
            display: Some(call.caller_name.clone()).filter(|n| !n.is_empty()),
            uri: format!("sip:{}@{}", call.caller_ext, self.local.hostport()),
            params: Vec::new(),
        };
        let sent = self.send_forks(ep, now, id, by, targets, from, offer, ForkKind::Pickup);
        if sent == 0 {
            return Err(CallOpError::NoDevice(by.to_string()));
        }
        if let Some(c) = self.calls.get_mut(&id) {
            let at_least = now.mono + PICKUP_ANSWER;
            c.ring_deadline = Some(c.ring_deadline.map_or(at_least, |d| d.max(at_least)));
        }
        tracing::info!(call = id, by, ringing, "pickup");
        self.touch(id);
        Ok(CallOpOk::Call(unique_id))
    }
}
