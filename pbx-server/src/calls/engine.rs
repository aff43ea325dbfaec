//! The B2BUA engine: the call table, its indexes and the entry points the core calls.
//! What happens to a call is split by concern:
//! - [`invite`]: new INVITEs (authentication, account checks, the record);
//! - [`routing`]: the numbering plan with services (DND, forwards) and overflow;
//! - [`forks`]: INVITEs to devices and their answers;
//! - [`indialog`]: requests inside established dialogs, hang-ups, PBX re-INVITEs;
//! - [`ops`]: call-control operations from the CTI and the REST API (docs/decisions/007);
//! - [`queue`]: queues, driven by the call center (docs/decisions/010);
//! - [`features`]: feature codes the PBX answers itself.

mod consult;
mod features;
mod forks;
mod groups;
mod incall;
mod indialog;
mod invite;
mod ops;
mod park;
mod pickup;
mod queue;
mod routing;
#[cfg(test)]
mod tests;

pub use features::{Feature, FeatureCodes};
pub(crate) use groups::GroupRun;
pub use groups::{RingGroup, Tier};
pub(crate) use park::Parked;
pub use park::PARK_TIMEOUT;
pub use queue::QueueUpdate;

use super::cdr;
use super::legs::{Call, Phase, Purpose, Side};
use super::CallUpdate;
use super::{dialog::Local, Now};
use crate::callcenter::CallCenter;
use crate::directory::Directory;
use crate::lamps::{CallPhase, CallView, PartyRef};
use crate::media::PortPool;
use crate::store::CdrRecord;
use shared_protocol::CallSide;
use sip_core::transaction::{Endpoint, TxnId};
use sip_core::{Peer, Request, Response, SipMessage};
use std::collections::{BTreeSet, HashMap, HashSet};

/// Overflow and forward hops before a call is hung up (protects against forwarding loops).
const MAX_HOPS: u8 = 5;

/// Who owns a client transaction the engine started.
#[derive(Debug, Clone)]
enum Owner {
    /// The INVITE of B leg `leg` of `call`.
    Fork { call: u64, leg: usize },
    /// A request forwarded from one side to the other; the response goes back on `origin`.
    Forward {
        call: u64,
        to: Side,
        origin: TxnId,
        origin_req: Box<Request>,
    },
    /// A re-INVITE the PBX sent on its own (hold, resume, transfer).
    Reinvite {
        call: u64,
        to: Side,
        purpose: Purpose,
    },
    /// Click-to-call: the answered INVITE to side A, whose 2xx waits for (or got) our ACK.
    OriginInvite { call: u64 },
    /// An INVITE whose 2xx we acknowledged: retransmissions of the 2xx get the same ACK.
    Acked {
        call: u64,
        ack: Box<Request>,
        peer: Peer,
    },
    /// A BYE or CANCEL we sent; the response needs nothing.
    Fire,
}

impl Owner {
    fn call(&self) -> Option<u64> {
        match self {
            Owner::Fork { call, .. }
            | Owner::Forward { call, .. }
            | Owner::Reinvite { call, .. }
            | Owner::OriginInvite { call }
            | Owner::Acked { call, .. } => Some(*call),
            Owner::Fire => None,
        }
    }
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
    stray_answers: HashSet<String>,
    /// Records to persist, drained by the core after each step.
    pub outbox: Vec<CdrRecord>,
    /// Calls changed since the last `drain_updates`.
    dirty: BTreeSet<u64>,
    /// The last view reported per call, so unchanged calls are not reported again.
    views: HashMap<u64, CallView>,
    /// Queues, agents and their statistics.
    cc: CallCenter,
    /// Codes of the services the engine answers itself.
    features: FeatureCodes,
    /// The last queue and agent states reported.
    queue_views: HashMap<String, shared_protocol::QueueStatus>,
    agent_views: HashMap<String, shared_protocol::AgentStatus>,
    /// What callers waiting in each queue hear, when not ringback (8 kHz samples, looped).
    music: HashMap<String, std::sync::Arc<Vec<i16>>>,
    /// Ring groups by number.
    groups: HashMap<String, groups::RingGroup>,
    /// Service changes made by feature codes, for the core to apply.
    service_changes: Vec<(String, crate::control::ServiceChange)>,
    /// Call park: slots and what is parked in them.
    park: park::ParkLot,
    /// In-call services: the keys each party of a call pressed.
    keys: HashMap<(u64, Side), incall::KeyCollector>,
    /// Consultations made by `*4`: consultation call → the call it was made from.
    consults: HashMap<u64, u64>,
    /// Re-points waiting for a call's re-INVITE in flight: call → (side, description).
    deferred: HashMap<u64, (Side, Option<Vec<u8>>)>,
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
            stray_answers: HashSet::new(),
            outbox: Vec::new(),
            dirty: BTreeSet::new(),
            views: HashMap::new(),
            cc: CallCenter::default(),
            features: FeatureCodes::default(),
            queue_views: HashMap::new(),
            music: HashMap::new(),
            agent_views: HashMap::new(),
            groups: HashMap::new(),
            service_changes: Vec::new(),
            park: park::ParkLot::default(),
            keys: HashMap::new(),
            consults: HashMap::new(),
            deferred: HashMap::new(),
        }
    }

    /// Installs the call center (queues, members, pauses, today's statistics) and the feature
    /// codes; every queue and agent is reported once.
    pub fn set_call_center(&mut self, cc: CallCenter, features: FeatureCodes) {
        self.cc = cc;
        self.features = features;
        for a in self.cc.agent_numbers() {
            self.cc.touch(&a);
        }
        for q in self.cc.queue_numbers() {
            self.cc.touch_queue(&q);
        }
    }

    /// An extension's devices changed (registered, unregistered): its queues may react.
    pub fn extension_changed(&mut self, ext: &str) {
        self.cc.touch(ext);
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
        let queue = call.queue.as_ref().map(|q| PartyRef {
            extension: None,
            number: q.clone(),
            name: self
                .cc
                .queue_name(q)
                .map(str::to_string)
                .filter(|n| !n.is_empty()),
        });
        let group = call.group.as_ref().map(|g| PartyRef {
            extension: None,
            number: g.number.clone(),
            name: self
                .groups
                .get(&g.number)
                .map(|g| g.name.clone())
                .filter(|n| !n.is_empty()),
        });
        let slot = call.parked.as_ref().map(|p| PartyRef {
            extension: Some(p.slot.clone()),
            number: p.slot.clone(),
            name: Some(format!("Park {}", p.slot)),
        });
        let callee = call.ringing_ext.as_ref().map(|ext| {
            let name = call
                .cdr
                .details
                .iter()
                .rev()
                .find(|d| d.destination_num.as_deref() == Some(ext.as_str()))
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
            callee: slot.or(queue).or(group).or(callee),
            also_ringing: match &call.group {
                Some(g) => g.rung.clone(),
                None => self.cc.rung(call.id).to_vec(),
            },
            phase: match call.phase {
                Phase::Originating | Phase::Routing => CallPhase::Ringing,
                Phase::Connected => CallPhase::Connected,
            },
            // A parked call is held by its slot, whatever the SIP hold state.
            held_by: if call.parked.is_some() {
                Some(CallSide::Callee)
            } else {
                call.held_by.map(side)
            },
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

    /// Earliest ring timeout, PBX hang-up or call-center deadline.
    pub fn poll_timeout(&self) -> Option<std::time::Instant> {
        self.calls
            .values()
            .flat_map(|c| {
                [
                    c.ring_deadline,
                    c.hangup_at,
                    c.parked.as_ref().map(|p| p.until),
                ]
            })
            .chain([self.cc.next_deadline(), self.keys_deadline()])
            .flatten()
            .min()
    }

    /// True if this in-dialog request belongs to one of our calls.
    pub fn owns_dialog(&self, call_id: &str) -> bool {
        self.by_a_callid.contains_key(call_id) || self.by_b_callid.contains_key(call_id)
    }

    /// The engine id of the call whose record has `unique_id`.
    fn find(&self, unique_id: &str) -> Option<u64> {
        self.calls
            .values()
            .find(|c| c.cdr.unique_id == unique_id)
            .map(|c| c.id)
    }

    /// A fresh record unique id.
    fn next_unique_id(&mut self, now: Now) -> String {
        self.cdr_seq += 1;
        format!("{}.{}", now.wall_ms / 1000, self.cdr_seq)
    }

    fn add_load(&mut self, call: u64, ext: &str) {
        self.cc.touch(ext);
        *self.load.entry(ext.to_string()).or_insert(0) += 1;
        if let Some(c) = self.calls.get_mut(&call) {
            c.load.push(ext.to_string());
        }
    }

    fn release_load(&mut self, call: u64, ext: &str) {
        self.cc.touch(ext);
        if let Some(c) = self.calls.get_mut(&call) {
            if let Some(pos) = c.load.iter().position(|e| e == ext) {
                c.load.remove(pos);
                if let Some(n) = self.load.get_mut(ext) {
                    *n = n.saturating_sub(1);
                }
            }
        }
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
        let success = (200..300).contains(&resp.status);
        let keeps = matches!(
            owner,
            Owner::Fork { .. } | Owner::OriginInvite { .. } | Owner::Acked { .. }
        );
        if resp.status >= 200 && !(success && keeps) {
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
            } => self.on_forward_response(ep, now, txn, call, to, origin, &origin_req, resp),
            Owner::Reinvite { call, to, purpose } => {
                self.on_reinvite_response(ep, now, txn, call, to, purpose, resp)
            }
            Owner::OriginInvite { call } => {
                // A retransmitted 2xx from side A's device: repeat our ACK once it exists.
                if success {
                    if let Some(c) = self.calls.get(&call) {
                        if let Some(ack) = &c.a_ack {
                            ep.send_stateless(c.a.peer, &SipMessage::Request(ack.clone()));
                        }
                    }
                }
            }
            Owner::Acked { ack, peer, .. } => {
                if success {
                    ep.send_stateless(peer, &SipMessage::Request(*ack));
                }
            }
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
            self.step_failed(ep, dir, now, id, super::Condition::NoAnswer);
        }
        let hang_up: Vec<u64> = self
            .calls
            .values()
            .filter(|c| c.hangup_at.is_some_and(|d| d <= now.mono))
            .map(|c| c.id)
            .collect();
        for id in hang_up {
            self.hangup(ep, now, id, None);
        }
        for id in self.due_parks(now.mono) {
            self.park_timeout(ep, dir, now, id);
        }
        self.key_timeouts(ep, dir, now);
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
            cdr::status::CANCELED,
            cdr::cause::CANCELED,
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
        let timeout = |cseq: String| {
            let mut resp = Response {
                status: 408,
                reason: "Request Timeout".into(),
                headers: sip_core::msg::Headers::new(),
                body: Vec::new(),
            };
            resp.headers.push("CSeq", cseq);
            resp
        };
        match self.owners.get(&txn).cloned() {
            Some(Owner::Fork { call, leg }) => {
                let cseq = self
                    .calls
                    .get(&call)
                    .and_then(|c| c.legs.get(leg))
                    .map(|l| l.dialog.local_cseq)
                    .unwrap_or(1);
                self.owners.remove(&txn);
                self.on_fork_response(ep, dir, now, call, leg, timeout(format!("{cseq} INVITE")));
            }
            Some(Owner::Reinvite { call, to, purpose }) => {
                self.owners.remove(&txn);
                self.on_reinvite_response(
                    ep,
                    now,
                    txn,
                    call,
                    to,
                    purpose,
                    timeout("1 INVITE".into()),
                );
            }
            Some(Owner::Forward {
                call,
                to,
                origin,
                origin_req,
            }) => {
                self.owners.remove(&txn);
                let resp = timeout(format!("1 {}", origin_req.method));
                self.on_forward_response(ep, now, txn, call, to, origin, &origin_req, resp);
            }
            _ => {
                self.owners.remove(&txn);
            }
        }
    }

    /// Closes a call: record closed with `status`/`cause` (status `OK` if it was ever
    /// answered), indexes and load released, media relay stopped.
    fn finish(&mut self, now: Now, id: u64, status: &str, cause: &str) {
        self.consult_gone(now, id);
        self.deferred.remove(&id);
        self.touch(id);
        self.unpark(id);
        self.queue_call_finished(now, id);
        let Some(mut call) = self.calls.remove(&id) else {
            return;
        };
        cdr::close(&mut call.cdr, status, cause, now.wall_ms);
        if self.by_a_callid.get(&call.a.call_id) == Some(&id) {
            self.by_a_callid.remove(&call.a.call_id);
        }
        self.a_invites.retain(|_, c| *c != id);
        for l in &call.legs {
            if self.by_b_callid.get(&l.dialog.call_id).map(|(c, _)| *c) == Some(id) {
                self.by_b_callid.remove(&l.dialog.call_id);
            }
        }
        self.owners.retain(|_, o| o.call() != Some(id));
        for ext in std::mem::take(&mut call.load) {
            if let Some(n) = self.load.get_mut(&ext) {
                *n = n.saturating_sub(1);
            }
            self.cc.touch(&ext);
        }
        tracing::info!(call = id, unique_id = %call.cdr.unique_id, status = call.cdr.status.as_deref().unwrap_or(""), "call ended");
        self.outbox.push(call.cdr.clone());
    }

    fn persist(&mut self, id: u64) {
        self.touch(id);
        if let Some(call) = self.calls.get(&id) {
            self.outbox.push(call.cdr.clone());
        }
    }
}
