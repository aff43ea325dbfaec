//! The lamp model: from the calls in progress and the registrations, the line state of every
//! extension. Sans-IO: fed with call views and reachability, it answers with the lamps that
//! changed. The CTI hub and the BLF notifier (RFC 4235) both read these changes, so a desk
//! phone's BLF key and a CTI lamp cannot disagree.

use shared_protocol::{CallSide, Direction, Lamp, Party};
use std::collections::HashMap;

/// One end of a call as the engine knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyRef {
    /// The extension, when the party is one of ours.
    pub extension: Option<String>,
    /// The number shown (the extension number, or an external number).
    pub number: String,
    /// Display name, when known.
    pub name: Option<String>,
}

impl PartyRef {
    /// The wire form (unmasked).
    pub fn party(&self) -> Party {
        Party {
            number: self.number.clone(),
            name: self.name.clone(),
        }
    }
}

/// Where a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallPhase {
    /// The callee is being rung.
    Ringing,
    /// Answered.
    Connected,
}

/// A call in progress, as the engine reports it after every change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallView {
    /// Engine call id.
    pub id: u64,
    /// The call record's unique id (the call id on the CTI wire).
    pub unique_id: String,
    /// Tenant domain.
    pub tenant: String,
    /// Who placed it.
    pub caller: PartyRef,
    /// Who is rung or answered (`None` while the number is still being resolved).
    pub callee: Option<PartyRef>,
    /// Extensions rung on the callee's behalf while the call rings (the agents of a queue
    /// whose number is `callee`).
    pub also_ringing: Vec<String>,
    /// Where it is.
    pub phase: CallPhase,
    /// Who put it on hold.
    pub held_by: Option<CallSide>,
    /// Start (ms since the epoch).
    pub started_ms: i64,
    /// Answer (ms since the epoch).
    pub answered_ms: Option<i64>,
}

/// The lamp of one extension, after a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LampChange {
    /// Tenant domain.
    pub tenant: String,
    /// Extension number.
    pub extension: String,
    /// New lamp.
    pub lamp: Lamp,
    /// The other party of the call that sets the lamp (unmasked; viewers mask it).
    pub peer: Option<Party>,
    /// Direction of that call from this extension.
    pub direction: Option<Direction>,
    /// Unique id of that call (the dialog id of RFC 4235 notifications).
    pub call: Option<String>,
}

type Key = (String, String);

/// Lamps of every extension.
#[derive(Debug, Default)]
pub struct LampModel {
    calls: HashMap<u64, CallView>,
    by_ext: HashMap<Key, Vec<u64>>,
    reachable: HashMap<Key, bool>,
    lamps: HashMap<Key, LampChange>,
}

impl LampModel {
    /// An empty model: every extension idle-or-unavailable until told otherwise.
    pub fn new() -> LampModel {
        LampModel::default()
    }

    /// A call started or changed.
    pub fn call_updated(&mut self, view: CallView) -> Vec<LampChange> {
        let mut touched = self.unlink(view.id);
        for ext in extensions_of(&view) {
            let key = (view.tenant.clone(), ext);
            self.by_ext.entry(key.clone()).or_default().push(view.id);
            touched.push(key);
        }
        self.calls.insert(view.id, view);
        self.recompute(touched)
    }

    /// A call ended.
    pub fn call_ended(&mut self, id: u64) -> Vec<LampChange> {
        let touched = self.unlink(id);
        self.calls.remove(&id);
        self.recompute(touched)
    }

    /// Whether any device of an extension is registered.
    pub fn set_reachable(
        &mut self,
        tenant: &str,
        extension: &str,
        reachable: bool,
    ) -> Vec<LampChange> {
        let key = (tenant.to_string(), extension.to_string());
        self.reachable.insert(key.clone(), reachable);
        self.recompute(vec![key])
    }

    /// The current lamp of an extension.
    pub fn current(&self, tenant: &str, extension: &str) -> LampChange {
        let key = (tenant.to_string(), extension.to_string());
        self.lamps
            .get(&key)
            .cloned()
            .unwrap_or_else(|| self.compute(&key))
    }

    /// Calls in progress.
    pub fn calls(&self) -> impl Iterator<Item = &CallView> {
        self.calls.values()
    }

    fn unlink(&mut self, id: u64) -> Vec<Key> {
        let Some(old) = self.calls.get(&id) else {
            return Vec::new();
        };
        let mut keys = Vec::new();
        for ext in extensions_of(old) {
            let key = (old.tenant.clone(), ext);
            if let Some(ids) = self.by_ext.get_mut(&key) {
                ids.retain(|c| *c != id);
                if ids.is_empty() {
                    self.by_ext.remove(&key);
                }
            }
            keys.push(key);
        }
        keys
    }

    fn recompute(&mut self, mut keys: Vec<Key>) -> Vec<LampChange> {
        keys.sort();
        keys.dedup();
        let mut changes = Vec::new();
        for key in keys {
            let now = self.compute(&key);
            let before = self.lamps.get(&key);
            let changed = match before {
                Some(b) => b.lamp != now.lamp || b.peer != now.peer || b.direction != now.direction,
                None => true,
            };
            if changed {
                self.lamps.insert(key, now.clone());
                changes.push(now);
            }
        }
        changes
    }

    /// Busy beats ringing beats hold: a call in conversation is what colleagues must see,
    /// and a call ringing is what they may pick up.
    fn compute(&self, key: &Key) -> LampChange {
        let mut best: Option<(u8, Lamp, &CallView, Direction)> = None;
        for view in self
            .by_ext
            .get(key)
            .into_iter()
            .flatten()
            .filter_map(|id| self.calls.get(id))
        {
            let is_caller = view.caller.extension.as_deref() == Some(key.1.as_str());
            let (side, direction) = if is_caller {
                (CallSide::Caller, Direction::Outbound)
            } else {
                (CallSide::Callee, Direction::Inbound)
            };
            let (rank, lamp) = match view.phase {
                CallPhase::Ringing => (2, Lamp::Ringing),
                CallPhase::Connected if view.held_by == Some(side) => (1, Lamp::Hold),
                CallPhase::Connected => (3, Lamp::Busy),
            };
            // Among equals, the oldest call sets the peer, so the lamp does not flicker.
            let better = match &best {
                None => true,
                Some((r, _, b, _)) => rank > *r || (rank == *r && view.started_ms < b.started_ms),
            };
            if better {
                best = Some((rank, lamp, view, direction));
            }
        }
        match best {
            Some((_, lamp, view, direction)) => {
                let peer = match direction {
                    Direction::Outbound => view.callee.as_ref().map(PartyRef::party),
                    Direction::Inbound => Some(view.caller.party()),
                };
                LampChange {
                    tenant: key.0.clone(),
                    extension: key.1.clone(),
                    lamp,
                    peer,
                    direction: Some(direction),
                    call: Some(view.unique_id.clone()),
                }
            }
            None => LampChange {
                tenant: key.0.clone(),
                extension: key.1.clone(),
                lamp: if self.reachable.get(key).copied().unwrap_or(false) {
                    Lamp::Idle
                } else {
                    Lamp::Unavailable
                },
                peer: None,
                direction: None,
                call: None,
            },
        }
    }
}

fn extensions_of(view: &CallView) -> Vec<String> {
    let mut v: Vec<String> = view.caller.extension.iter().cloned().collect();
    if let Some(ext) = view.callee.as_ref().and_then(|c| c.extension.clone()) {
        if !v.contains(&ext) {
            v.push(ext);
        }
    }
    for ext in &view.also_ringing {
        if !v.contains(ext) {
            v.push(ext.clone());
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn party(n: &str) -> PartyRef {
        PartyRef {
            extension: Some(n.into()),
            number: n.into(),
            name: None,
        }
    }

    fn call(id: u64, from: &str, to: &str, phase: CallPhase) -> CallView {
        CallView {
            id,
            unique_id: format!("u{id}"),
            tenant: "default".into(),
            caller: party(from),
            callee: Some(party(to)),
            phase,
            held_by: None,
            started_ms: id as i64,
            answered_ms: None,
            also_ringing: Vec::new(),
        }
    }

    fn lamps(changes: &[LampChange]) -> Vec<(String, Lamp)> {
        changes
            .iter()
            .map(|c| (c.extension.clone(), c.lamp))
            .collect()
    }

    #[test]
    fn a_call_rings_then_talks_then_ends_on_both_extensions() {
        let mut m = LampModel::new();
        assert_eq!(
            lamps(&m.set_reachable("default", "201", true)),
            [("201".into(), Lamp::Idle)]
        );
        m.set_reachable("default", "202", true);
        let ch = m.call_updated(call(1, "201", "202", CallPhase::Ringing));
        assert_eq!(
            lamps(&ch),
            [("201".into(), Lamp::Ringing), ("202".into(), Lamp::Ringing)]
        );
        assert_eq!(ch[0].direction, Some(Direction::Outbound));
        assert_eq!(ch[0].peer.as_ref().map(|p| p.number.as_str()), Some("202"));
        assert_eq!(ch[1].peer.as_ref().map(|p| p.number.as_str()), Some("201"));
        let ch = m.call_updated(call(1, "201", "202", CallPhase::Connected));
        assert_eq!(
            lamps(&ch),
            [("201".into(), Lamp::Busy), ("202".into(), Lamp::Busy)]
        );
        // The same view again changes nothing.
        assert!(m
            .call_updated(call(1, "201", "202", CallPhase::Connected))
            .is_empty());
        let mut held = call(1, "201", "202", CallPhase::Connected);
        held.held_by = Some(CallSide::Callee);
        assert_eq!(lamps(&m.call_updated(held)), [("202".into(), Lamp::Hold)]);
        assert_eq!(
            lamps(&m.call_ended(1)),
            [("201".into(), Lamp::Idle), ("202".into(), Lamp::Idle)]
        );
    }

    #[test]
    fn busy_beats_ringing_beats_hold_and_unregistered_is_unavailable() {
        let mut m = LampModel::new();
        assert_eq!(m.current("default", "203").lamp, Lamp::Unavailable);
        let mut held = call(1, "203", "204", CallPhase::Connected);
        held.held_by = Some(CallSide::Caller);
        m.call_updated(held);
        assert_eq!(m.current("default", "203").lamp, Lamp::Hold);
        m.call_updated(call(2, "205", "203", CallPhase::Ringing));
        assert_eq!(m.current("default", "203").lamp, Lamp::Ringing);
        m.call_updated(call(2, "205", "203", CallPhase::Connected));
        assert_eq!(m.current("default", "203").lamp, Lamp::Busy);
        m.call_ended(2);
        m.call_ended(1);
        assert_eq!(m.current("default", "203").lamp, Lamp::Unavailable);
    }

    #[test]
    fn a_callee_change_moves_the_lamp() {
        let mut m = LampModel::new();
        m.call_updated(call(1, "201", "202", CallPhase::Ringing));
        let ch = m.call_updated(call(1, "201", "203", CallPhase::Ringing));
        assert_eq!(
            lamps(&ch),
            [
                ("201".into(), Lamp::Ringing),
                ("202".into(), Lamp::Unavailable),
                ("203".into(), Lamp::Ringing)
            ]
        );
        assert_eq!(ch[0].peer.as_ref().map(|p| p.number.as_str()), Some("203"));
    }

    #[test]
    fn tenants_do_not_share_lamps() {
        let mut m = LampModel::new();
        let mut v = call(1, "201", "202", CallPhase::Connected);
        v.tenant = "acme".into();
        m.call_updated(v);
        assert_eq!(m.current("acme", "201").lamp, Lamp::Busy);
        assert_eq!(m.current("default", "201").lamp, Lamp::Unavailable);
    }
}
