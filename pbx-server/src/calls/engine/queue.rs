//! Queues in the call engine (docs/decisions/010-call-center.md). A call to a queue number
//! opens a `queue` step and enters the call center; the caller hears ringback (a 180) while it
//! waits. After every step the engine polls the call center and carries out what it decides:
//! ring agents (one fork per device of each), stop ringing them, or send the caller to the
//! queue's overflow. The first agent to answer takes the call like any callee.

use super::super::cdr;
use super::super::legs::{rewrite_sdp, sdp_media_addr, LegState, Phase, Side, Upstream};
use super::super::{Condition, Now};
use super::routing::{targets_of, ForkKind};
use super::{Engine, MAX_HOPS};
use crate::callcenter::{Action, AgentError, Lines};
use crate::control::{CallOpError, QueueOp};
use crate::directory::{Directory, OverflowAction};
use shared_protocol::{AgentStatus, QueueStatus};
use sip_core::msg::NameAddr;
use sip_core::transaction::Endpoint;
use sip_core::Response;
use std::collections::HashMap;
use std::sync::Arc;

/// The first G.711 payload type (0 µ-law, 8 A-law) of an SDP offer's audio, in the offer's
/// order of preference.
fn first_g711(sdp: &[u8]) -> Option<u8> {
    let text = std::str::from_utf8(sdp).ok()?;
    let m = text.lines().find(|l| l.starts_with("m=audio "))?;
    m.split_whitespace()
        .skip(3)
        .filter_map(|f| f.parse::<u8>().ok())
        .find(|pt| matches!(pt, 0 | 8))
}

/// What the call center reads of the phones: the directory and the engine's call counts.
pub(super) struct EngineLines<'a> {
    pub(super) dir: &'a Directory,
    pub(super) load: &'a HashMap<String, u32>,
}

impl Lines for EngineLines<'_> {
    fn reachable(&self, ext: &str) -> bool {
        self.dir.extension(ext).is_some_and(|e| e.enabled) && self.dir.reachable(ext)
    }
    fn load(&self, ext: &str) -> u32 {
        self.load.get(ext).copied().unwrap_or(0)
    }
    fn name(&self, ext: &str) -> String {
        self.dir
            .extension(ext)
            .map(|e| e.name.clone())
            .unwrap_or_default()
    }
}

/// A change of the call-center picture, for the CTI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueUpdate {
    /// A queue's state.
    Queue(QueueStatus),
    /// An agent's state (no queues left: removed).
    Agent(AgentStatus),
    /// A queue was removed from the configuration.
    Removed(String),
}

impl From<AgentError> for CallOpError {
    fn from(e: AgentError) -> CallOpError {
        match e {
            AgentError::NoQueue(_) | AgentError::NotMember(..) | AgentError::NotAgent(_) => {
                CallOpError::NotFound(e.to_string())
            }
            AgentError::Static(..) | AgentError::AlreadyMember(..) => {
                CallOpError::InvalidState(e.to_string())
            }
        }
    }
}

impl Engine {
    /// Whether `number` is a queue.
    pub(super) fn is_queue(&self, number: &str) -> bool {
        self.cc.is_queue(number)
    }

    /// The call enters queue `number` as its next step.
    pub(super) fn enter_queue(
        &mut self,
        ep: &mut Endpoint,
        dir: &Directory,
        now: Now,
        id: u64,
        number: &str,
    ) {
        let name = self.cc.queue_name(number).unwrap_or_default().to_string();
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let source = call.caller_ext.clone();
        let row = cdr::enter_queue(&mut call.cdr, number, &name, &source, now.wall_ms);
        call.queue = Some(number.to_string());
        call.queue_row = Some(row);
        call.ringing_ext = None;
        let lines = EngineLines {
            dir,
            load: &self.load,
        };
        let entered = self.cc.enter(now.mono, now.wall_ms, id, number, &lines);
        tracing::info!(
            call = id,
            queue = number,
            entered = entered.is_ok(),
            "queue"
        );
        // The caller hears the queue's music (the PBX answers), or ringback (a 180, the
        // seed's default "Tono di squillo") while it waits.
        let music = self.music.get(number).cloned();
        let playing = match (&entered, music) {
            (Ok(()), Some(samples)) => self.play_music(ep, now, id, samples),
            _ => false,
        };
        if !playing {
            self.ringback(ep, now, id);
        }
        self.persist(id);
        if let Err((cond, action)) = entered {
            self.queue_overflow(ep, dir, now, id, &[], cond, action);
        }
    }

    /// A 180 to a caller still waiting for the answer to its INVITE.
    fn ringback(&mut self, ep: &mut Endpoint, now: Now, id: u64) {
        let local = self.local;
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if let (Phase::Routing, Upstream::Invite(t), Some(invite)) =
            (call.phase, call.upstream, call.a_invite.as_ref())
        {
            let mut r = Response::for_request(invite, 180, "Ringing");
            r.set_to_tag(&call.a.local_tag);
            r.headers
                .push("Contact", local.contact(&call.a.contact_user, call.a.peer));
            let _ = ep.respond(now.mono, t, r);
        }
    }

    /// The PBX answers a caller entering a queue and plays it `samples` through the call's
    /// relay until an agent answers; false (nothing done) when the caller's INVITE was
    /// already answered, carried no offer, or offered no G.711. The answer mirrors the
    /// caller's offer at the relay, so whichever of its codecs the agent picks later reaches
    /// it without a re-INVITE. The record's channel goes up now; the call is answered only by
    /// an agent.
    fn play_music(&mut self, ep: &mut Endpoint, now: Now, id: u64, samples: Arc<Vec<i16>>) -> bool {
        let Some(call) = self.calls.get_mut(&id) else {
            return false;
        };
        if !matches!(call.upstream, Upstream::Invite(_)) || call.phase != Phase::Routing {
            return false;
        }
        let Some(offer) = call.media_a.received.clone() else {
            return false;
        };
        let Some(pt) = first_g711(&offer) else {
            return false;
        };
        if call.relay.is_none() {
            match self.ports.start() {
                Ok(r) => call.relay = Some(r),
                Err(e) => {
                    tracing::error!(error = %e, "cannot start media relay");
                    return false;
                }
            }
        }
        if let Some(addr) = sdp_media_addr(&offer) {
            call.signal(Side::A, Some(addr));
        }
        if !call
            .relay
            .as_ref()
            .is_some_and(|r| r.play_to_a(samples, pt))
        {
            return false;
        }
        call.cdr.channel_up_ms = Some(now.wall_ms);
        self.answer_upstream(ep, now, id, &offer);
        tracing::info!(call = id, payload_type = pt, "queue: music for the caller");
        true
    }

    /// Installs what callers waiting in each queue hear (queues absent: ringback).
    pub fn set_hold_music(&mut self, music: HashMap<String, Arc<Vec<i16>>>) {
        self.music = music;
    }

    /// A configuration change at run time: new queues and configured members (the call
    /// center keeps its live state, `CallCenter::reconfigure`), ring groups and queue music.
    /// Callers of a removed queue leave by its overflow now; calls ringing in a removed ring
    /// group run its overflow at the end of their tier.
    pub fn reconfigure(
        &mut self,
        ep: &mut Endpoint,
        dir: &Directory,
        now: Now,
        reload: crate::control::CallCenterReload,
    ) {
        let actions = self.cc.reconfigure(now.wall_ms, reload.queues);
        self.groups = reload.groups;
        self.music = reload.music;
        for a in actions {
            if let Action::Overflow {
                call,
                agents,
                cond,
                action,
            } = a
            {
                self.queue_overflow(ep, dir, now, call, &agents, cond, action);
            }
        }
    }

    /// Polls the call center and carries out its decisions.
    pub fn settle(&mut self, ep: &mut Endpoint, dir: &Directory, now: Now) {
        let lines = EngineLines {
            dir,
            load: &self.load,
        };
        let actions = self.cc.poll(now.mono, now.wall_ms, &lines);
        for a in actions {
            match a {
                Action::Ring { call, agents } => self.ring_agents(ep, dir, now, call, &agents),
                Action::StopRinging { call, agents } => {
                    tracing::info!(call, ?agents, "queue: no answer");
                    self.stop_agents(ep, now, call, &agents);
                }
                Action::Overflow {
                    call,
                    agents,
                    cond,
                    action,
                } => self.queue_overflow(ep, dir, now, call, &agents, cond, action),
            }
        }
    }

    /// Rings every device of each agent for a waiting call.
    fn ring_agents(
        &mut self,
        ep: &mut Endpoint,
        dir: &Directory,
        now: Now,
        id: u64,
        agents: &[String],
    ) {
        let local = self.local;
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.relay.is_none() {
            match self.ports.start() {
                Ok(r) => call.relay = Some(r),
                Err(e) => tracing::error!(error = %e, "cannot start media relay"),
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
        let mut rung = 0;
        for agent in agents {
            let targets = targets_of(dir, agent);
            let sent = if targets.is_empty() {
                0
            } else {
                self.send_forks(
                    ep,
                    now,
                    id,
                    agent,
                    targets,
                    from.clone(),
                    offer.clone(),
                    ForkKind::Ring,
                )
            };
            if sent == 0 {
                self.cc.leg_failed(now.wall_ms, id, agent);
            } else {
                rung += 1;
                self.add_load(id, agent);
            }
        }
        tracing::info!(call = id, ?agents, rung, "queue: ringing agents");
        if rung == 0 {
            self.cc.ring_failed(now.mono, id);
        }
        self.touch(id);
    }

    /// Stops ringing the agents of a waiting call.
    fn stop_agents(&mut self, ep: &mut Endpoint, now: Now, id: u64, agents: &[String]) {
        self.cancel_forks(ep, now, id);
        for a in agents {
            self.release_load(id, a);
        }
        self.touch(id);
    }

    /// A fork of a waiting call failed (`status`). When it was the agent's last device the
    /// agent counts as refusing; when no fork is left the caller waits for its next try.
    pub(super) fn queue_leg_failed(&mut self, ep: &mut Endpoint, now: Now, id: u64, leg: usize) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let Some(agent) = call.legs.get(leg).map(|l| l.ext.clone()) else {
            return;
        };
        let pending = |ext: Option<&str>| {
            call.legs
                .iter()
                .filter(|l| l.state == LegState::Pending)
                .any(|l| ext.is_none_or(|e| l.ext == e))
        };
        let agent_left = !pending(Some(&agent));
        let any_left = pending(None);
        if agent_left {
            tracing::info!(call = id, agent = %agent, "queue: agent refused");
            self.release_load(id, &agent);
            self.cc.leg_failed(now.wall_ms, id, &agent);
        }
        if !any_left {
            self.cancel_forks(ep, now, id);
            self.cc.ring_failed(now.mono, id);
        }
        self.touch(id);
    }

    /// An agent answered a waiting call: the other agents stop ringing (their forks are
    /// already cancelled by the answer) and the call leaves the queue.
    pub(super) fn queue_answered(&mut self, now: Now, id: u64, agent: &str) {
        let others = self.cc.answered(now.wall_ms, id, agent).unwrap_or_default();
        for a in &others {
            self.release_load(id, a);
        }
        if let Some(call) = self.calls.get_mut(&id) {
            if let Some(r) = &call.relay {
                r.stop_playing();
            }
            call.queue = None;
            call.ringing_ext = Some(agent.to_string());
        }
        tracing::info!(call = id, agent, "queue: answered");
    }

    /// The caller leaves the queue unanswered: the step ends with `cond`, then the queue's
    /// overflow runs.
    #[allow(clippy::too_many_arguments)]
    fn queue_overflow(
        &mut self,
        ep: &mut Endpoint,
        dir: &Directory,
        now: Now,
        id: u64,
        agents: &[String],
        cond: Condition,
        action: OverflowAction,
    ) {
        self.stop_agents(ep, now, id, agents);
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        tracing::info!(call = id, queue = ?call.queue, cause = cond.code(), ?action, "queue: overflow");
        call.queue = None;
        call.queue_row = None;
        cdr::exit_step(&mut call.cdr, cond.code(), now.wall_ms);
        match action {
            OverflowAction::Extension(next) if call.hops < MAX_HOPS => {
                call.hops += 1;
                self.ring(ep, dir, now, id, &next);
            }
            _ => {
                let (code, reason) = cond.sip_status();
                self.fail_call(ep, now, id, cond.code(), cond.code(), code, reason);
            }
        }
    }

    /// The call ends: a caller still waiting abandoned; an answered queue call's step ended.
    pub(super) fn queue_call_finished(&mut self, now: Now, id: u64) {
        if self.cc.is_waiting(id) {
            for a in self.cc.abandoned(now.wall_ms, id) {
                self.cc.touch(&a);
            }
            return;
        }
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        if let Some(row) = call.queue_row {
            let exit = call
                .cdr
                .details
                .get(row)
                .and_then(|d| d.exit_ms)
                .unwrap_or(now.wall_ms);
            self.cc.ended(now.mono, now.wall_ms, id, exit);
        }
    }

    /// An agent operation (CTI command or feature code).
    pub fn queue_op(&mut self, now: Now, op: QueueOp) -> Result<(), CallOpError> {
        tracing::info!(?op, "queue operation");
        let r = match op {
            QueueOp::Login {
                extension,
                queue,
                penalty,
            } => self.cc.login(&extension, &queue, penalty),
            QueueOp::Logout { extension, queue } => self.cc.logout(now.wall_ms, &extension, &queue),
            QueueOp::Pause {
                extension,
                queue,
                reason,
            } => self
                .cc
                .pause(now.wall_ms, &extension, queue.as_deref(), reason),
            QueueOp::Resume { extension, queue } => {
                self.cc.resume(now.wall_ms, &extension, queue.as_deref())
            }
        };
        Ok(r?)
    }

    /// Queues and agents that changed since the last call, as the CTI shows them.
    pub fn drain_queue_updates(&mut self, dir: &Directory, now: Now) -> Vec<QueueUpdate> {
        let (queues, agents) = self.cc.drain_dirty();
        let lines = EngineLines {
            dir,
            load: &self.load,
        };
        let mut out = Vec::new();
        for q in self.cc.drain_removed() {
            self.queue_views.remove(&q);
            out.push(QueueUpdate::Removed(q));
        }
        for a in agents {
            let st = self.cc.agent_status(&a, &lines, now.mono);
            if self.agent_views.get(&a) != Some(&st) {
                if st.queues.is_empty() {
                    self.agent_views.remove(&a);
                } else {
                    self.agent_views.insert(a, st.clone());
                }
                out.push(QueueUpdate::Agent(st));
            }
        }
        for q in queues {
            if let Some(st) = self.cc.queue_status(&q, &lines, now.mono) {
                if self.queue_views.get(&q) != Some(&st) {
                    self.queue_views.insert(q, st.clone());
                    out.push(QueueUpdate::Queue(st));
                }
            }
        }
        out
    }

    /// Every queue and agent now (for a CTI hub starting).
    pub fn queue_state(&self, dir: &Directory, now: Now) -> (Vec<QueueStatus>, Vec<AgentStatus>) {
        let lines = EngineLines {
            dir,
            load: &self.load,
        };
        let queues = self
            .cc
            .queue_numbers()
            .iter()
            .filter_map(|q| self.cc.queue_status(q, &lines, now.mono))
            .collect();
        let agents = self
            .cc
            .agent_numbers()
            .iter()
            .map(|a| self.cc.agent_status(a, &lines, now.mono))
            .filter(|a| !a.queues.is_empty())
            .collect();
        (queues, agents)
    }

    /// Store writes of the call center (pauses, dynamic members).
    pub fn drain_queue_writes(&mut self) -> Vec<crate::store::QueueWrite> {
        std::mem::take(&mut self.cc.writes)
    }
}
