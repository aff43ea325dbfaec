//! Call park (seed §10): a connected call's other party waits in a slot (`890`–`899`) while
//! the one who parked it leaves; anyone retrieves it by dialling the slot; after the timeout
//! (90 s) it rings the device that parked it again. Ways in: a blind transfer to the park
//! extension `888` (CTI, REFER, or DTMF `#4888#`), the in-call code `#8`, a call to `888`
//! (the caller parks itself; an attended transfer to that call parks the transferred party in
//! the same slot).
//!
//! The parked party is put on hold by the PBX (a `sendonly` re-INVITE): it hears silence,
//! its phone shows the call held. A parked call shows the slot as its callee, held by the
//! slot's side, so the slot has a lamp like an extension: `hold` while occupied, `idle` free.

use super::super::cdr::{self, cause, status};
use super::super::legs::{
    bridge_answer, rewrite_sdp, sdp_media_addr, with_direction, BLeg, LegState, Phase, Purpose,
    Side, Upstream,
};
use super::super::Now;
use super::features::Handled;
use super::routing::{targets_of, ForkKind};
use super::Engine;
use crate::control::CallOpError;
use crate::directory::Directory;
use sip_core::msg::NameAddr;
use sip_core::sdp::Direction;
use sip_core::transaction::Endpoint;
use sip_core::Response;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How long a call stays parked before it rings the parker again (seed §10).
pub const PARK_TIMEOUT: Duration = Duration::from_secs(90);

/// The slots in use.
#[derive(Debug)]
pub(crate) struct ParkLot {
    /// Slot → call.
    pub(crate) slots: BTreeMap<String, u64>,
    /// Retrieval timeout.
    pub(crate) timeout: Duration,
}

impl Default for ParkLot {
    fn default() -> ParkLot {
        ParkLot {
            slots: BTreeMap::new(),
            timeout: PARK_TIMEOUT,
        }
    }
}

/// A parked call's slot and who parked it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Parked {
    /// The slot number.
    pub(crate) slot: String,
    /// The extension that parked it.
    pub(crate) by: String,
    /// The SIP account (device) it parked from: the one rung again on timeout.
    pub(crate) by_account: String,
    /// When it rings the parker again.
    pub(crate) until: Instant,
}

impl Engine {
    /// Sets the retrieval timeout (the seed's 90 s by default).
    pub fn set_park_timeout(&mut self, timeout: Duration) {
        self.park.timeout = timeout;
    }

    /// The park slots (numbers that have a lamp besides the extensions).
    pub fn park_slots(&self) -> Vec<String> {
        self.features.park_slots()
    }

    fn free_slot(&self) -> Option<String> {
        self.features
            .park_slots()
            .into_iter()
            .find(|s| !self.park.slots.contains_key(s))
    }

    /// The account of the device on `side` of a call (the one that would park it).
    pub(super) fn account_on(&self, id: u64, side: Side) -> String {
        let Some(c) = self.calls.get(&id) else {
            return String::new();
        };
        match side {
            Side::A => c.cdr.src_peer_name.clone().unwrap_or_default(),
            Side::B => c
                .winner
                .and_then(|w| c.legs.get(w))
                .map(|l| l.account.clone())
                .unwrap_or_default(),
        }
    }

    /// The party on `leaving` parks the other party of connected call `id`, in `slot` or the
    /// first free one; returns the slot.
    pub(super) fn park(
        &mut self,
        ep: &mut Endpoint,
        dir: &Directory,
        now: Now,
        id: u64,
        leaving: Side,
        slot: Option<String>,
    ) -> Result<String, CallOpError> {
        let slot = slot
            .or_else(|| self.free_slot())
            .ok_or_else(|| CallOpError::InvalidState("every park slot is taken".into()))?;
        let by = self
            .calls
            .get(&id)
            .and_then(|c| c.party(leaving))
            .unwrap_or_default()
            .to_string();
        let by_account = self.account_on(id, leaving);
        self.keep_only(ep, dir, now, id, leaving, cause::PARKED)?;
        self.settle_parked(ep, now, id, slot.clone(), by, by_account);
        Ok(slot)
    }

    /// Call `id` has its party alone on side A: it is parked in `slot`, on hold.
    fn settle_parked(
        &mut self,
        ep: &mut Endpoint,
        now: Now,
        id: u64,
        slot: String,
        by: String,
        by_account: String,
    ) {
        let until = now.mono + self.park.timeout;
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.phase = Phase::Connected;
        call.ring_deadline = None;
        call.ringing_ext = None;
        call.parked = Some(Parked {
            slot: slot.clone(),
            by: by.clone(),
            by_account,
            until,
        });
        let held = call.pbx_held == Some(Side::A);
        self.park.slots.insert(slot.clone(), id);
        if !held {
            if let Err(e) = self.send_reinvite(
                ep,
                now,
                id,
                Side::A,
                Direction::SendOnly,
                Purpose::Hold { by: Side::B },
                None,
            ) {
                tracing::warn!(call = id, error = %e, "park: cannot hold the parked party");
            }
        }
        tracing::info!(call = id, slot = %slot, by = %by, "parked");
        self.persist(id);
    }

    /// A call to the park extension: the caller parks itself (answered at once; an
    /// attended transfer to this call parks the transferred party in the same slot).
    pub(super) fn park_by_code(
        &mut self,
        ep: &mut Endpoint,
        now: Now,
        id: u64,
        dialled: &str,
    ) -> Result<Handled, CallOpError> {
        let slot = self
            .free_slot()
            .ok_or_else(|| CallOpError::InvalidState("every park slot is taken".into()))?;
        let (by, by_account) = self
            .calls
            .get(&id)
            .map(|c| {
                (
                    c.caller_ext.clone(),
                    c.cdr.src_peer_name.clone().unwrap_or_default(),
                )
            })
            .unwrap_or_default();
        let offer = self
            .calls
            .get_mut(&id)
            .and_then(|call| {
                if call.relay.is_none() {
                    call.relay = self.ports.start().ok();
                }
                call.media_a.received.clone()
            })
            .unwrap_or_default();
        self.answer_upstream(ep, now, id, &offer);
        if let Some(call) = self.calls.get_mut(&id) {
            cdr::answer(&mut call.cdr, dialled, now.wall_ms);
            cdr::exit_step(&mut call.cdr, cause::PARKED, now.wall_ms);
            // Nothing reaches the caller until someone retrieves it (the PBX cannot re-INVITE
            // before the caller's ACK, so no hold offer here: the relay has no other side).
            call.pbx_held = Some(Side::A);
        }
        self.settle_parked(ep, now, id, slot, by, by_account);
        Ok(Handled::Done)
    }

    /// The slot of a call parked by a call to the park extension, if `id` is one.
    pub(super) fn parked_slot(&self, id: u64) -> Option<String> {
        self.calls
            .get(&id)
            .and_then(|c| c.parked.as_ref())
            .map(|p| p.slot.clone())
    }

    /// Frees the slot of a parked call that ends or leaves the slot.
    pub(super) fn unpark(&mut self, id: u64) {
        if let Some(p) = self.calls.get_mut(&id).and_then(|c| c.parked.take()) {
            if self.park.slots.get(&p.slot) == Some(&id) {
                self.park.slots.remove(&p.slot);
            }
            self.touch(id);
        }
    }

    /// Slot `slot` dialled on call `r`: its caller takes the parked call.
    pub(super) fn retrieve(
        &mut self,
        ep: &mut Endpoint,
        dir: &Directory,
        now: Now,
        r: u64,
        slot: &str,
        dialled: &str,
    ) -> Result<Handled, CallOpError> {
        let local = self.local;
        let invalid = |why: &str| CallOpError::InvalidState(why.to_string());
        let x = *self
            .park
            .slots
            .get(slot)
            .ok_or_else(|| CallOpError::NotFound(format!("a call parked in {slot}")))?;
        if x == r {
            return Err(invalid("that is this call"));
        }
        let rc = self.calls.get(&r).ok_or_else(|| invalid("no call"))?;
        let retriever = rc.caller_ext.clone();
        let r_offer = rc
            .media_a
            .received
            .clone()
            .ok_or_else(|| invalid("the retrieving INVITE has no offer"))?;
        let xc = self.calls.get_mut(&x).ok_or_else(|| invalid("no call"))?;
        if xc.reinvite.is_some() {
            return Err(invalid("the parked call is being renegotiated; try again"));
        }
        let parked_sdp = xc
            .media_a
            .received
            .clone()
            .ok_or_else(|| invalid("the parked party has no session description"))?;
        if xc.relay.is_none() {
            xc.relay = Some(
                self.ports
                    .start()
                    .map_err(|e| invalid(&format!("no media relay: {e}")))?,
            );
        }
        xc.media_b.version += 1;
        let answer = bridge_answer(
            &r_offer,
            &parked_sdp,
            local.ip,
            xc.port(Side::B),
            xc.media_b.version,
        )
        .ok_or_else(|| invalid("no codec in common with the parked party"))?;
        self.unpark(x);

        // The retriever's INVITE gets its answer; its own record ends with the service step.
        let rc = self.calls.get_mut(&r).ok_or_else(|| invalid("no call"))?;
        let dialog = rc.a.clone();
        let account = rc.cdr.src_peer_name.clone().unwrap_or_default();
        if let (Upstream::Invite(t), Some(invite)) = (rc.upstream, &rc.a_invite) {
            let mut ok = Response::for_request(invite, 200, "OK");
            ok.set_to_tag(&rc.a.local_tag);
            ok.headers
                .push("Contact", local.contact(&rc.a.contact_user, rc.a.peer));
            ok.headers.push("Allow", sip_core::ALLOW);
            ok.headers.push("Content-Type", "application/sdp");
            ok.body = answer.clone();
            let _ = ep.respond(now.mono, t, ok);
        }
        rc.upstream = Upstream::Established;
        cdr::answer(&mut rc.cdr, dialled, now.wall_ms);
        self.finish(now, r, status::OK, cause::NCC);

        let Some(xc) = self.calls.get_mut(&x) else {
            return Err(invalid("the parked call ended"));
        };
        if let Some(ext) = dir.extension(&retriever) {
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
            ext: retriever.clone(),
            account,
            pickup: false,
        });
        xc.winner = Some(leg);
        xc.phase = Phase::Connected;
        xc.ringing_ext = Some(retriever.clone());
        xc.signal(Side::B, sdp_media_addr(&r_offer));
        xc.media_b.received = Some(r_offer);
        xc.media_b.sent = Some(answer);
        cdr::answer(&mut xc.cdr, &retriever, now.wall_ms);
        self.add_load(x, &retriever);
        // The parked party comes off hold, towards the same relay port.
        if let Err(e) = self.send_reinvite(
            ep,
            now,
            x,
            Side::A,
            Direction::SendRecv,
            Purpose::Unhold,
            None,
        ) {
            tracing::warn!(call = x, error = %e, "retrieve: cannot take the parked party off hold");
        }
        tracing::info!(call = x, slot, by = %retriever, "retrieved");
        self.persist(x);
        Ok(Handled::Done)
    }

    /// Parked calls whose timeout passed.
    pub(super) fn due_parks(&self, now: Instant) -> Vec<u64> {
        self.calls
            .values()
            .filter(|c| c.parked.as_ref().is_some_and(|p| p.until <= now))
            .map(|c| c.id)
            .collect()
    }

    /// Nobody retrieved call `id` in time: it rings the device that parked it.
    pub(super) fn park_timeout(&mut self, ep: &mut Endpoint, dir: &Directory, now: Now, id: u64) {
        let local = self.local;
        let Some(p) = self.calls.get(&id).and_then(|c| c.parked.clone()) else {
            return;
        };
        self.unpark(id);
        let all = targets_of(dir, &p.by);
        let mut targets: Vec<_> = all
            .iter()
            .filter(|t| t.username == p.by_account)
            .map(|t| super::routing::Target {
                username: t.username.clone(),
                peer: t.peer,
                contact: t.contact.clone(),
            })
            .collect();
        if targets.is_empty() {
            targets = all;
        }
        let Some(ext) = dir.extension(&p.by).cloned() else {
            self.hangup(ep, now, id, None);
            return;
        };
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let source = call.caller_ext.clone();
        cdr::enter_extension(&mut call.cdr, &ext, &source, now.wall_ms);
        call.phase = Phase::Routing;
        call.early_media = true;
        let port = call.port(Side::B);
        call.media_b.version += 1;
        let offer = call
            .media_a
            .received
            .as_deref()
            .and_then(|b| rewrite_sdp(b, local.ip, port, call.media_b.version))
            .and_then(|b| with_direction(&b, Direction::SendRecv, local.ip, call.media_b.version));
        call.media_b.sent.clone_from(&offer);
        let from = NameAddr {
            display: Some(format!("Park {}: {}", p.slot, call.caller_name)),
            uri: format!("sip:{}@{}", call.caller_ext, local.hostport()),
            params: Vec::new(),
        };
        tracing::info!(call = id, slot = %p.slot, by = %p.by, "park timeout: ringing the parker");
        let sent = self.send_forks(ep, now, id, &p.by, targets, from, offer, ForkKind::Ring);
        if sent == 0 {
            if let Some(call) = self.calls.get_mut(&id) {
                cdr::exit_step(&mut call.cdr, cause::UNAVAILABLE, now.wall_ms);
            }
            self.hangup_with(ep, now, id, cause::UNAVAILABLE);
            return;
        }
        if let Some(call) = self.calls.get_mut(&id) {
            call.ring_deadline =
                Some(now.mono + Duration::from_secs(u64::from(ext.ring_timeout_s)));
            call.ringing_ext = Some(p.by.clone());
        }
        self.add_load(id, &p.by);
        self.touch(id);
    }
}
