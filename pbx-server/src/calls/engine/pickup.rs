//! Pickup by feature code (seed §3, §5): directed `**<ext>` takes the call ringing at `ext`,
//! group `*9` the newest call ringing at an extension of the picker's pickup groups. The
//! picker's own INVITE joins the ringing call at once (direct mode: no second ring): its
//! dialog becomes the call's answered side B, each phone gets an answer to its offer with a
//! codec the other offered, and the media meet at the ringing call's relay. The rung step
//! ends `PICKUP` and the picker gets its own step; the picker's `**`/`*9` call keeps a record
//! of its own with one `service` step ending `PICKUP`.

use super::super::cdr::{self, cause, status};
use super::super::legs::{bridge_answer, sdp_media_addr, BLeg, Call, LegState, Phase, Side};
use super::super::Now;
use super::features::Handled;
use super::Engine;
use crate::control::CallOpError;
use crate::directory::Directory;
use sip_core::transaction::Endpoint;
use sip_core::Response;

impl Engine {
    /// The extensions whose phones ring for a call not yet answered.
    pub(super) fn rung_extensions(&self, c: &Call) -> Vec<String> {
        if c.phase != Phase::Routing || c.winner.is_some() || c.parked.is_some() {
            return Vec::new();
        }
        match &c.group {
            Some(g) => g.rung.clone(),
            None => c.ringing_ext.iter().cloned().collect(),
        }
    }

    /// The call a pickup by `picker` takes: the oldest ringing at `target`, or (group pickup)
    /// the newest ringing at a member of a group `picker` may pick up from.
    pub(super) fn call_to_pick(
        &self,
        dir: &Directory,
        picker: &str,
        target: Option<&str>,
    ) -> Option<u64> {
        let allowed = dir
            .extension(picker)
            .map(|e| e.pickup_allowed.clone())
            .unwrap_or_default();
        let candidates = self.calls.values().filter(|c| c.caller_ext != picker);
        match target {
            Some(t) => candidates
                .filter(|c| self.rung_extensions(c).iter().any(|e| e == t))
                .map(|c| c.id)
                .min(),
            None => candidates
                .filter(|c| {
                    self.rung_extensions(c).iter().any(|e| {
                        e != picker
                            && dir.extension(e).is_some_and(|x| {
                                x.pickup_groups.iter().any(|g| allowed.contains(g))
                            })
                    })
                })
                .map(|c| c.id)
                .max(),
        }
    }

    /// `**<ext>` or `*9` dialled on call `p`.
    pub(super) fn pickup_by_code(
        &mut self,
        ep: &mut Endpoint,
        dir: &Directory,
        now: Now,
        p: u64,
        target: Option<&str>,
        dialled: &str,
    ) -> Result<Handled, CallOpError> {
        let picker = self
            .calls
            .get(&p)
            .map(|c| c.caller_ext.clone())
            .ok_or_else(|| CallOpError::NotFound(format!("call {p}")))?;
        if target == Some(picker.as_str()) {
            return Err(CallOpError::BadArguments(
                "a call ringing at your own extension is answered, not picked up".into(),
            ));
        }
        let x = self
            .call_to_pick(dir, &picker, target)
            .ok_or_else(|| CallOpError::NotFound("a ringing call to pick up".into()))?;
        self.join_pickup(ep, dir, now, p, x, dialled)?;
        Ok(Handled::Done)
    }

    /// Joins the picker's call `p` to the ringing call `x` as its answering side.
    fn join_pickup(
        &mut self,
        ep: &mut Endpoint,
        dir: &Directory,
        now: Now,
        p: u64,
        x: u64,
        dialled: &str,
    ) -> Result<(), CallOpError> {
        let local = self.local;
        let invalid = |why: &str| CallOpError::InvalidState(why.to_string());
        let pc = self.calls.get(&p).ok_or_else(|| invalid("no call"))?;
        let picker = pc.caller_ext.clone();
        let p_offer = pc
            .media_a
            .received
            .clone()
            .ok_or_else(|| invalid("the pickup INVITE has no offer"))?;
        let xc = self.calls.get_mut(&x).ok_or_else(|| invalid("no call"))?;
        let x_offer = xc
            .media_a
            .received
            .clone()
            .ok_or_else(|| invalid("the ringing call has no offer"))?;
        if xc.relay.is_none() {
            xc.relay = Some(
                self.ports
                    .start()
                    .map_err(|e| invalid(&format!("no media relay: {e}")))?,
            );
        }
        xc.media_b.version += 1;
        let to_picker = bridge_answer(
            &p_offer,
            &x_offer,
            local.ip,
            xc.port(Side::B),
            xc.media_b.version,
        )
        .ok_or_else(|| invalid("no codec in common with the caller"))?;
        let to_caller = bridge_answer(&x_offer, &p_offer, local.ip, xc.port(Side::A), 1)
            .ok_or_else(|| invalid("no codec in common with the caller"))?;

        // The ringing call stops ringing; its rung step ends PICKUP.
        self.cancel_forks(ep, now, x);
        let rung = self
            .calls
            .get_mut(&x)
            .map(|c| match c.group.take() {
                Some(g) => g.rung,
                None => c.ringing_ext.take().into_iter().collect(),
            })
            .unwrap_or_default();
        for e in &rung {
            self.release_load(x, e);
        }

        // The picker's INVITE gets its answer; its own record ends with the service step.
        let pc = self.calls.get_mut(&p).ok_or_else(|| invalid("no call"))?;
        let dialog = pc.a.clone();
        let account = pc.cdr.src_peer_name.clone().unwrap_or_default();
        if let (super::super::legs::Upstream::Invite(t), Some(invite)) = (pc.upstream, &pc.a_invite)
        {
            let mut ok = Response::for_request(invite, 200, "OK");
            ok.set_to_tag(&pc.a.local_tag);
            ok.headers
                .push("Contact", local.contact(&pc.a.contact_user, pc.a.peer));
            ok.headers.push("Allow", sip_core::ALLOW);
            ok.headers.push("Content-Type", "application/sdp");
            ok.body = to_picker.clone();
            let _ = ep.respond(now.mono, t, ok);
        }
        pc.upstream = super::super::legs::Upstream::Established;
        cdr::answer(&mut pc.cdr, dialled, now.wall_ms);
        self.finish(now, p, status::OK, cause::PICKUP);

        let Some(xc) = self.calls.get_mut(&x) else {
            return Err(invalid("the call ended"));
        };
        cdr::exit_step(&mut xc.cdr, cause::PICKUP, now.wall_ms);
        if let Some(ext) = dir.extension(&picker) {
            let source = xc.caller_ext.clone();
            cdr::enter_extension(&mut xc.cdr, ext, &source, now.wall_ms);
        }
        let leg = xc.legs.len();
        self.by_b_callid.insert(dialog.call_id.clone(), (x, leg));
        xc.legs.push(BLeg {
            dialog,
            invite_txn: None,
            state: LegState::Answered,
            ack: None,
            ext: picker.clone(),
            account,
            pickup: true,
        });
        xc.winner = Some(leg);
        xc.phase = Phase::Connected;
        xc.ring_deadline = None;
        xc.ringing_ext = Some(picker.clone());
        xc.signal(Side::B, sdp_media_addr(&p_offer));
        xc.media_b.received = Some(p_offer);
        xc.media_b.sent = Some(to_picker);
        self.add_load(x, &picker);
        self.answer_upstream(ep, now, x, &to_caller);
        if let Some(xc) = self.calls.get_mut(&x) {
            cdr::answer(&mut xc.cdr, &picker, now.wall_ms);
        }
        tracing::info!(call = x, by = %picker, rung = ?rung, "picked up by code");
        self.persist(x);
        Ok(())
    }
}
