//! What a client shows: the snapshot with every event applied since.

use shared_protocol::{
    AgentStatus, CallInfo, Event, ExtensionState, HistoryEntry, QueueStatus, Services, Snapshot,
    UserInfo,
};
use std::collections::BTreeMap;

/// Most history entries kept in memory (the rest is paged from the server).
pub const HISTORY_KEPT: usize = 200;

/// The live picture.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveState {
    /// The logged-in user (after the first snapshot).
    pub user: Option<UserInfo>,
    /// Every extension of the tenant, by number.
    pub extensions: BTreeMap<String, ExtensionState>,
    /// Calls in progress the user may see, by id.
    pub calls: BTreeMap<String, CallInfo>,
    /// The user's own services.
    pub services: Option<Services>,
    /// Latest history entries, newest first.
    pub history: Vec<HistoryEntry>,
    /// Queues by number (supervisors).
    pub queues: BTreeMap<String, QueueStatus>,
    /// Agents by extension (every agent for supervisors, the user's own for an agent).
    pub agents: BTreeMap<String, AgentStatus>,
    /// Call park slots by number.
    pub park_slots: BTreeMap<String, shared_protocol::ParkSlot>,
    /// The last sequence number applied.
    pub seq: u64,
}

impl LiveState {
    /// Replaces everything with a snapshot.
    pub fn reset(&mut self, s: Snapshot) {
        let cc = s.call_center.unwrap_or_default();
        *self = LiveState {
            user: Some(s.user),
            extensions: s
                .extensions
                .into_iter()
                .map(|e| (e.number.clone(), e))
                .collect(),
            calls: s.calls.into_iter().map(|c| (c.id.clone(), c)).collect(),
            services: s.services,
            history: s.history,
            queues: cc
                .queues
                .into_iter()
                .map(|q| (q.number.clone(), q))
                .collect(),
            agents: cc
                .agents
                .into_iter()
                .map(|a| (a.extension.clone(), a))
                .collect(),
            park_slots: s
                .park_slots
                .unwrap_or_default()
                .into_iter()
                .map(|p| (p.slot.clone(), p))
                .collect(),
            seq: s.seq,
        };
    }

    /// Applies one event.
    pub fn apply(&mut self, seq: u64, event: &Event) {
        self.seq = seq;
        let own = self.user.as_ref().and_then(|u| u.extension.clone());
        match event {
            Event::Lamp {
                extension,
                lamp,
                peer,
                direction,
            } => {
                if let Some(e) = self.extensions.get_mut(extension) {
                    e.lamp = *lamp;
                    e.peer = peer.clone();
                    e.direction = *direction;
                }
            }
            Event::Account { extension, account } => {
                if let Some(e) = self.extensions.get_mut(extension) {
                    match e
                        .accounts
                        .iter_mut()
                        .find(|a| a.username == account.username)
                    {
                        Some(a) => *a = account.clone(),
                        None => e.accounts.push(account.clone()),
                    }
                }
            }
            Event::Presence {
                extension,
                presence,
            } => {
                if let Some(e) = self.extensions.get_mut(extension) {
                    e.presence = presence.clone();
                }
            }
            Event::Services {
                extension,
                services,
            } => {
                if own.as_deref() == Some(extension.as_str()) {
                    self.services = Some(services.clone());
                }
                if let Some(e) = self.extensions.get_mut(extension) {
                    e.dnd = services.dnd;
                    e.services = Some(services.clone());
                }
            }
            Event::ExtensionDnd { extension, dnd } => {
                if let Some(e) = self.extensions.get_mut(extension) {
                    e.dnd = *dnd;
                }
            }
            Event::Call { call } => {
                self.calls.insert(call.id.clone(), call.clone());
            }
            Event::CallEnded { id } => {
                self.calls.remove(id);
            }
            Event::ParkSlot { slot } => {
                self.park_slots.insert(slot.slot.clone(), slot.clone());
            }
            Event::History { entry } => {
                self.history.retain(|h| h.id != entry.id);
                self.history.insert(0, entry.clone());
                self.history.truncate(HISTORY_KEPT);
            }
            Event::Queue { queue } => {
                self.queues.insert(queue.number.clone(), queue.clone());
            }
            Event::Agent { agent } => {
                if agent.queues.is_empty() {
                    self.agents.remove(&agent.extension);
                } else {
                    self.agents.insert(agent.extension.clone(), agent.clone());
                }
            }
        }
    }
}
