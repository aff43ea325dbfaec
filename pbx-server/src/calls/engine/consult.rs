//! Attended transfer by keys (`*4<number>`, seed §13): the PBX holds the other party and
//! makes the consultation itself.
//!
//! The transferor's dialog leaves the original call `X` (which keeps the transferee alone,
//! held by the PBX, as a parked call is) and becomes side A of a new call `Y` that rings the
//! number with the transferor's own session description; when the consulted party answers,
//! the transferor's media is re-pointed at `Y`'s relay. Then:
//! - the transferor hangs up: the consulted party's dialog moves into `X` and is re-pointed
//!   at `X`'s relay, the transferee is taken off hold (records: `X` steps `T ATXFER, C NCC`,
//!   `Y` ends `ATXFER`); while the consulted party still rings, `X` rings it instead (the
//!   transfer completes unattended);
//! - the consulted party hangs up, is busy, does not answer or does not exist: the
//!   transferor's dialog returns to `X`, re-pointed at `X`'s relay, and the transferee comes
//!   off hold;
//! - the transferee hangs up: `X` ends, `Y` goes on as an ordinary call.

use super::super::cdr::{self, cause, status};
use super::super::dialog::Dialog;
use super::super::legs::{BLeg, LegState, Phase, Purpose, Side, Upstream};
use super::super::{valid_number, Now};
use super::{Engine, Owner};
use crate::control::{CallOpError, CallOpOk};
use crate::directory::Directory;
use sip_core::sdp::Direction;
use sip_core::transaction::Endpoint;

fn invalid(why: &str) -> CallOpError {
    CallOpError::InvalidState(why.to_string())
}

impl Engine {
    /// The party on `t_side` of connected call `x` consults `target`, the other party held.
    pub(super) fn start_consult(
        &mut self,
        ep: &mut Endpoint,
        dir: &Directory,
        now: Now,
        x: u64,
        t_side: Side,
        target: &str,
    ) -> Result<CallOpOk, CallOpError> {
        if !valid_number(target) {
            return Err(CallOpError::BadArguments(
                "target: digits, *, # and a leading + only".into(),
            ));
        }
        if dir.extension(target).is_none() && !self.is_queue(target) && !self.is_group(target) {
            return Err(CallOpError::NotFound(format!("extension {target}")));
        }
        if self.consults.values().any(|o| *o == x) || self.consults.contains_key(&x) {
            return Err(invalid("this call is already in a consultation"));
        }
        let xc = self
            .calls
            .get(&x)
            .ok_or_else(|| CallOpError::NotFound(format!("call {x}")))?;
        if xc.phase != Phase::Connected || xc.parked.is_some() || xc.reinvite.is_some() {
            return Err(invalid("the call is not in a state to consult from"));
        }
        let t_ext = xc.party(t_side).unwrap_or_default().to_string();
        let p_ext = xc.party(t_side.other()).unwrap_or_default().to_string();
        if target == t_ext || target == p_ext {
            return Err(CallOpError::BadArguments(
                "consult someone other than the parties of the call".into(),
            ));
        }
        let t = dir
            .extension(&t_ext)
            .cloned()
            .ok_or_else(|| CallOpError::NotFound(format!("extension {t_ext}")))?;
        let t_account = self.account_on(x, t_side);

        // The transferor leaves X without a BYE: its dialog and media state move to Y.
        let (t_dialog, t_media) = {
            let Some(xc) = self.calls.get_mut(&x) else {
                return Err(invalid("no call"));
            };
            let Some(d) = xc.dialog_mut(t_side).cloned() else {
                return Err(invalid("the consulting party has no dialog"));
            };
            (d, xc.media(t_side).clone())
        };
        self.detach(dir, x, t_side)?;

        let unique_id = self.next_unique_id(now);
        let record = cdr::open(
            unique_id,
            &self.tenant,
            now.wall_ms,
            cdr::Origin {
                caller: t.number.clone(),
                caller_name: Some(t.name.clone()).filter(|n| !n.is_empty()),
                peer_name: t_account,
                ip_port: String::new(),
            },
            target,
        );
        let y = self.insert_call(t_dialog, Upstream::Established, None, &t, record);
        if let Some(yc) = self.calls.get_mut(&y) {
            yc.media_a = t_media;
            yc.early_media = true;
        }
        self.consults.insert(y, x);
        self.add_load(y, &t.number);
        tracing::info!(call = x, consult = y, by = %t.number, target, "consultation by keys");
        self.ring(ep, dir, now, y, target);
        // The transferee waits on hold (the PBX's own sendonly re-INVITE), unless the
        // consultation already failed and the transferor is back.
        if self.consults.contains_key(&y)
            && self.calls.get(&x).is_some_and(|c| c.pbx_held.is_none())
        {
            if let Err(e) = self.send_reinvite(
                ep,
                now,
                x,
                Side::A,
                Direction::SendOnly,
                Purpose::Hold { by: Side::B },
                None,
            ) {
                tracing::warn!(call = x, error = %e, "consultation: cannot hold the transferee");
            }
        }
        self.persist(x);
        Ok(CallOpOk::Done)
    }

    /// Takes the party on `leaving` out of connected call `x` without a BYE (it has left, or
    /// its dialog lives on elsewhere): the other party stays alone on side A, its hold state
    /// kept for whoever comes next.
    pub(super) fn detach(
        &mut self,
        dir: &Directory,
        x: u64,
        leaving: Side,
    ) -> Result<(), CallOpError> {
        let kept = leaving.other();
        let (by, kept_ext) = {
            let call = self.calls.get(&x).ok_or_else(|| invalid("no call"))?;
            (
                call.party(leaving).unwrap_or_default().to_string(),
                call.party(kept).unwrap_or_default().to_string(),
            )
        };
        let winner = self.calls.get(&x).and_then(|c| c.winner);
        let legs = self.drop_legs(x, x);
        let kept_name = dir
            .extension(&kept_ext)
            .map(|e| e.name.clone())
            .unwrap_or_default();
        let Some(call) = self.calls.get_mut(&x) else {
            return Err(invalid("no call"));
        };
        let held = call.held_by.is_some() || call.pbx_held == Some(kept);
        if leaving == Side::A {
            let Some(leg) = winner.and_then(|w| legs.into_iter().nth(w)) else {
                return Err(invalid("the call has no answered callee"));
            };
            // The transferor's Call-ID now belongs to the consultation (mapped by its insert).
            if self.by_a_callid.get(&call.a.call_id) == Some(&x) {
                self.by_a_callid.remove(&call.a.call_id);
            }
            self.by_a_callid.insert(leg.dialog.call_id.clone(), x);
            call.a = leg.dialog;
            call.caller_ext.clone_from(&kept_ext);
            call.caller_name = kept_name;
            call.a_relay = call.a_relay.other();
            std::mem::swap(&mut call.media_a, &mut call.media_b);
            call.a_invite = None;
        }
        call.upstream = Upstream::Established;
        call.ringing_ext = None;
        call.held_by = None;
        call.pbx_held = held.then_some(Side::A);
        self.release_load(x, &by);
        self.touch(x);
        Ok(())
    }

    /// The original call of consultation `y`, if `y` is one.
    pub(super) fn consult_original(&self, y: u64) -> Option<u64> {
        self.consults.get(&y).copied()
    }

    /// A BYE from `side` of call `id` (already answered 200): handled here when it ends a
    /// consultation, else the caller hangs up as usual. Returns true when handled.
    pub(super) fn consult_bye(
        &mut self,
        ep: &mut Endpoint,
        dir: &Directory,
        now: Now,
        id: u64,
        side: Side,
    ) -> bool {
        if let Some(y) = self
            .consults
            .iter()
            .find(|(_, o)| **o == id)
            .map(|(y, _)| *y)
        {
            // The transferee left: the consultation goes on as an ordinary call.
            self.consults.remove(&y);
            return false;
        }
        let Some(x) = self.consult_original(id) else {
            return false;
        };
        if !self.calls.contains_key(&x) {
            self.consults.remove(&id);
            return false;
        }
        let phase = self.calls.get(&id).map(|c| c.phase);
        match (side, phase) {
            (Side::A, Some(Phase::Connected)) => self.complete_consult(ep, dir, now, id, x),
            (Side::A, _) => self.complete_unattended(ep, dir, now, id, x),
            (Side::B, _) => {
                self.return_to_original(ep, now, id);
                self.finish(now, id, status::OK, cause::NCC);
                true
            }
        }
    }

    /// The transferor hung up while talking to the consulted party: that party takes the
    /// transferor's place in the original call.
    fn complete_consult(
        &mut self,
        ep: &mut Endpoint,
        dir: &Directory,
        now: Now,
        y: u64,
        x: u64,
    ) -> bool {
        self.consults.remove(&y);
        let Some(yc) = self.calls.get(&y) else {
            return false;
        };
        let Some(leg) = yc.winner.and_then(|w| yc.legs.get(w)) else {
            return false;
        };
        let (c_dialog, c_txn, c_ack, c_account) = (
            leg.dialog.clone(),
            leg.invite_txn,
            leg.ack.clone(),
            leg.account.clone(),
        );
        let c_ext = yc.ringing_ext.clone().unwrap_or_default();
        let c_media = yc.media_b.clone();
        let _ = self.drop_legs(y, y);
        self.finish(now, y, status::OK, cause::ATXFER);

        let Some(xc) = self.calls.get(&x) else {
            return false;
        };
        let p_ext = xc.caller_ext.clone();
        let repoint = xc.media_b.sent.clone();
        let peer = c_dialog.peer;
        if !self.attach_b(x, c_dialog, &c_ext, c_account) {
            return false;
        }
        let Some(xc) = self.calls.get_mut(&x) else {
            return false;
        };
        xc.media_b = c_media;
        cdr::exit_step(&mut xc.cdr, cause::ATXFER, now.wall_ms);
        if let Some(ext) = dir.extension(&c_ext) {
            cdr::enter_extension(&mut xc.cdr, ext, &p_ext, now.wall_ms);
            cdr::answer(&mut xc.cdr, &c_ext, now.wall_ms);
        }
        if let (Some(t), Some(ack)) = (c_txn, c_ack) {
            self.owners.insert(
                t,
                Owner::Acked {
                    call: x,
                    ack: Box::new(ack),
                    peer,
                },
            );
        }
        tracing::info!(call = x, consult = y, to = %c_ext, "attended transfer by keys completed");
        // The consulted party's media moves to X's relay; its answer takes the transferee
        // off hold (`Purpose::Repoint`).
        if let Err(e) = self.repoint(ep, now, x, Side::B, repoint) {
            tracing::warn!(call = x, error = %e, "attended transfer by keys: cannot re-point");
            self.hangup_with(ep, now, x, cause::ATXFER_REFUSED);
        }
        self.persist(x);
        true
    }

    /// The transferor hung up while the consulted number still rang: the transferee's call
    /// rings it instead.
    fn complete_unattended(
        &mut self,
        ep: &mut Endpoint,
        dir: &Directory,
        now: Now,
        y: u64,
        x: u64,
    ) -> bool {
        self.consults.remove(&y);
        let target = self
            .calls
            .get(&y)
            .map(|c| c.cdr.called.clone())
            .unwrap_or_default();
        self.cancel_forks(ep, now, y);
        self.finish(now, y, status::CANCELED, cause::ATXFER);
        let Some(xc) = self.calls.get_mut(&x) else {
            return true;
        };
        cdr::exit_step(&mut xc.cdr, cause::ATXFER, now.wall_ms);
        xc.phase = Phase::Routing;
        xc.ringing_ext = None;
        xc.early_media = true;
        tracing::info!(call = x, consult = y, target = %target, "attended transfer by keys completed before the answer");
        self.ring(ep, dir, now, x, &target);
        true
    }

    /// The consultation `y` is over without a transfer: the transferor's dialog returns to
    /// the original call, its media re-pointed there, the transferee taken off hold. False
    /// when `y` is no consultation (or the original call is gone).
    pub(super) fn return_to_original(&mut self, ep: &mut Endpoint, now: Now, y: u64) -> bool {
        let Some(x) = self.consults.remove(&y) else {
            return false;
        };
        let Some(yc) = self.calls.get(&y) else {
            return false;
        };
        let (t_dialog, t_ext, t_received, t_version) = (
            yc.a.clone(),
            yc.caller_ext.clone(),
            yc.media_a.received.clone(),
            yc.media_a.version,
        );
        let t_account = yc.cdr.src_peer_name.clone().unwrap_or_default();
        if !self.calls.contains_key(&x) {
            return false;
        }
        self.by_a_callid.remove(&t_dialog.call_id);
        if !self.attach_b(x, t_dialog, &t_ext, t_account) {
            return false;
        }
        let Some(xc) = self.calls.get_mut(&x) else {
            return false;
        };
        xc.media_b.received = t_received;
        // The transferor saw Y's descriptions meanwhile: ours must go on from there.
        xc.media_b.version = xc.media_b.version.max(t_version);
        tracing::info!(call = x, consult = y, by = %t_ext, "consultation over: back to the call");
        if let Err(e) = self.repoint(ep, now, x, Side::B, None) {
            tracing::warn!(call = x, error = %e, "consultation: cannot return the transferor");
            self.hangup_with(ep, now, x, cause::ATXFER_REFUSED);
        }
        self.persist(x);
        true
    }

    /// Makes `dialog` (a party moved in from another call, already answered) side B of call
    /// `x`, rung extension `ext`, holding its load. False when `x` is gone.
    fn attach_b(&mut self, x: u64, dialog: Dialog, ext: &str, account: String) -> bool {
        let Some(xc) = self.calls.get_mut(&x) else {
            return false;
        };
        self.by_b_callid
            .insert(dialog.call_id.clone(), (x, xc.legs.len()));
        xc.winner = Some(xc.legs.len());
        xc.legs.push(BLeg {
            dialog,
            invite_txn: None,
            state: LegState::Answered,
            ack: None,
            ext: ext.to_string(),
            account,
            pickup: false,
        });
        xc.ringing_ext = Some(ext.to_string());
        self.add_load(x, ext);
        true
    }

    /// Re-points the party on `side` of call `x` at `x`'s relay (`body`: the description to
    /// send, else the last one sent), now or, when a re-INVITE of `x` is in flight (the
    /// transferee's hold), once it is answered.
    fn repoint(
        &mut self,
        ep: &mut Endpoint,
        now: Now,
        x: u64,
        side: Side,
        body: Option<Vec<u8>>,
    ) -> Result<(), CallOpError> {
        if self.calls.get(&x).is_some_and(|c| c.reinvite.is_some()) {
            self.deferred.insert(x, (side, body));
            return Ok(());
        }
        self.send_reinvite(
            ep,
            now,
            x,
            side,
            Direction::SendRecv,
            Purpose::Repoint,
            body,
        )
    }

    /// The re-point that waited for call `id`'s re-INVITE to be answered.
    pub(super) fn send_deferred_repoint(&mut self, ep: &mut Endpoint, now: Now, id: u64) {
        let Some((side, body)) = self.deferred.remove(&id) else {
            return;
        };
        if !self.calls.contains_key(&id) {
            return;
        }
        if let Err(e) = self.repoint(ep, now, id, side, body) {
            tracing::warn!(call = id, error = %e, "consultation: cannot re-point");
            self.hangup_with(ep, now, id, cause::ATXFER_REFUSED);
        }
    }

    /// A consultation ended some other way (hung up from the CTI, refused re-INVITE): the
    /// transferee must not wait on hold for ever.
    pub(super) fn consult_gone(&mut self, now: Now, y: u64) {
        let Some(x) = self.consults.remove(&y) else {
            return;
        };
        if let Some(xc) = self.calls.get_mut(&x) {
            if xc.winner.is_none() && xc.phase == Phase::Connected {
                xc.hangup_at = Some(now.mono);
            }
        }
    }
}
