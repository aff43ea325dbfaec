//! The CTI state model: the live picture of every tenant (extensions with lamps, devices,
//! services and presence; calls; recent history), fed by the core's bus events, plus the
//! numbered event log that reconnecting clients resume from. Sans-IO: the hub drives it.

use super::view::{history_entry, Viewer};
use crate::control::BusEvent;
use crate::lamps::{CallView, LampChange};
use crate::store::CdrRecord;
use shared_protocol::{
    AccountState, CallInfo, CallSide, CallState, EffectivePresence, Event, Lamp, Party, Presence,
    PresenceState, Services,
};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most events kept for resuming clients.
pub const REPLAY_EVENTS: usize = 10_000;
/// Oldest event kept for resuming clients.
pub const REPLAY_AGE: Duration = Duration::from_secs(600);
/// History entries kept in memory per extension (the snapshot's `history`).
pub const RECENT_HISTORY: usize = 20;

/// Who may receive an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// Every user of the tenant.
    All,
    /// The users of these extensions, and supervisors.
    Parties(Vec<String>),
    /// Only the users of this extension.
    Owner(String),
    /// The users of this extension, and supervisors.
    OwnerOrSupervisor(String),
    /// Supervisors only.
    Supervisors,
}

/// One numbered event, as logged (unmasked; viewers mask it).
#[derive(Debug)]
pub struct Logged {
    /// Sequence number.
    pub seq: u64,
    /// Tenant domain.
    pub tenant: String,
    /// Who may see it.
    pub audience: Audience,
    /// The event.
    pub event: Event,
    /// When it was logged (for the replay window).
    pub at: Instant,
}

/// One extension of a tenant.
#[derive(Debug, Clone)]
pub struct ExtRow {
    /// Display name.
    pub name: String,
    /// Lamp and the call behind it.
    pub lamp: LampChange,
    /// Services.
    pub services: Services,
    /// Chosen presence and message.
    pub chosen: (PresenceState, Option<String>),
    /// The presence others last saw.
    pub presence: Presence,
    /// Devices by username.
    pub accounts: BTreeMap<String, AccountState>,
    /// Latest history entries' records, newest first.
    pub recent: VecDeque<Arc<CdrRecord>>,
    /// Open CTI sessions of this extension's users.
    pub sessions: u32,
}

/// One tenant's live state.
#[derive(Debug, Default)]
pub struct TenantState {
    /// Extensions by number.
    pub extensions: BTreeMap<String, ExtRow>,
    /// Calls in progress by unique id.
    pub calls: HashMap<String, CallView>,
    /// Queues by number.
    pub queues: BTreeMap<String, shared_protocol::QueueStatus>,
    /// Agents by extension.
    pub agents: BTreeMap<String, shared_protocol::AgentStatus>,
    /// Call park slots by number: their lamp changes (the lamp model serves slots like
    /// extensions) become `park_slot` events, not extension lamps.
    pub park_slots: BTreeMap<String, LampChange>,
}

impl TenantState {
    /// Whether a number is one of this tenant's extensions (not masked).
    pub fn is_internal(&self, number: &str) -> bool {
        // A queue's number is the PBX's own, like an extension's: never masked.
        self.extensions.contains_key(number) || self.queues.contains_key(number)
    }
}

/// Why a resume could not replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResumeGap {
    /// Events after `from` have left the window (or `from` is from another server life).
    OutOfWindow,
}

/// The model.
#[derive(Debug)]
pub struct Model {
    tenants: HashMap<String, TenantState>,
    log: VecDeque<Arc<Logged>>,
    seq: u64,
    replay_events: usize,
    /// The `seq` of the last change of the set of extensions: a client resuming from before
    /// it gets a snapshot (no event says "extension added"; the snapshot carries the set).
    resync_floor: u64,
}

impl Default for Model {
    fn default() -> Model {
        Model::with_window(REPLAY_EVENTS, 0)
    }
}

impl Model {
    /// An empty model with the default replay window.
    pub fn new() -> Model {
        Model::default()
    }

    /// An empty model keeping at most `replay_events` events (and none older than
    /// `REPLAY_AGE`) for resuming clients, numbering events after `base`. The server passes
    /// its start time in µs as the base, so every life of the server numbers above the last:
    /// a client resuming with a seq of an earlier life is always out of the window and gets
    /// a snapshot (µs stay below 2^53, exact in JavaScript numbers, until the year 2255).
    pub fn with_window(replay_events: usize, base: u64) -> Model {
        Model {
            tenants: HashMap::new(),
            log: VecDeque::new(),
            seq: base,
            replay_events,
            resync_floor: base,
        }
    }

    /// The latest sequence number.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// A tenant's state.
    pub fn tenant(&self, tenant: &str) -> Option<&TenantState> {
        self.tenants.get(tenant)
    }

    /// Declares an extension (at start, from the directory). Unknown extensions named by
    /// later events are added on the fly.
    pub fn add_extension(&mut self, tenant: &str, number: &str, name: &str) {
        let t = self.tenants.entry(tenant.to_string()).or_default();
        t.extensions
            .entry(number.to_string())
            .or_insert_with(|| new_row(tenant, number, name));
    }

    /// After a directory reload: the tenant's extensions are exactly `extensions` (number,
    /// display name). New ones appear (lamp unavailable until the core says otherwise),
    /// deleted ones disappear, renamed ones take their new name; everything else of a kept
    /// extension stays. Returns whether anything changed; if so the sequence moves on and
    /// becomes the resync floor, and the caller sends fresh snapshots to the tenant's clients
    /// (docs/cti-protocol.md, "Sequence numbers and resync").
    pub fn set_directory(&mut self, tenant: &str, extensions: &[(String, String)]) -> bool {
        let t = self.tenants.entry(tenant.to_string()).or_default();
        let wanted: HashMap<&str, &str> = extensions
            .iter()
            .map(|(n, name)| (n.as_str(), name.as_str()))
            .collect();
        let before = t.extensions.len();
        t.extensions.retain(|n, _| wanted.contains_key(n.as_str()));
        let mut changed = t.extensions.len() != before;
        for (number, name) in &wanted {
            match t.extensions.get_mut(*number) {
                Some(row) if row.name == *name => {}
                Some(row) => {
                    row.name = (*name).to_string();
                    changed = true;
                }
                None => {
                    t.extensions
                        .insert((*number).to_string(), new_row(tenant, number, name));
                    changed = true;
                }
            }
        }
        if changed {
            self.seq += 1;
            self.resync_floor = self.seq;
        }
        changed
    }

    /// Forgets a queue removed from the configuration; whether it was known (the hub then
    /// sends the tenant's clients a fresh snapshot, as for a directory change).
    pub fn remove_queue(&mut self, tenant: &str, number: &str) -> bool {
        let removed = self
            .tenants
            .get_mut(tenant)
            .is_some_and(|t| t.queues.remove(number).is_some());
        if removed {
            self.seq += 1;
            self.resync_floor = self.seq;
        }
        removed
    }

    /// Declares a call park slot (at start).
    pub fn add_park_slot(&mut self, tenant: &str, slot: &str) {
        let t = self.tenants.entry(tenant.to_string()).or_default();
        t.park_slots
            .entry(slot.to_string())
            .or_insert_with(|| LampChange {
                tenant: tenant.to_string(),
                extension: slot.to_string(),
                lamp: Lamp::Idle,
                peer: None,
                direction: None,
                call: None,
            });
    }

    /// Seeds an extension's recent history (newest first), at start.
    pub fn seed_history(&mut self, tenant: &str, extension: &str, records: Vec<CdrRecord>) {
        if let Some(row) = self
            .tenants
            .get_mut(tenant)
            .and_then(|t| t.extensions.get_mut(extension))
        {
            row.recent = records
                .into_iter()
                .take(RECENT_HISTORY)
                .map(Arc::new)
                .collect();
        }
    }

    /// Applies a bus event; returns the events logged for it.
    pub fn apply(&mut self, now: Instant, ev: BusEvent) -> Vec<Arc<Logged>> {
        let mut out = Vec::new();
        match ev {
            BusEvent::Lamp(change) => self.on_lamp(now, change, &mut out),
            BusEvent::Call(view) => self.on_call(now, view, &mut out),
            BusEvent::CallEnded { tenant, unique_id } => {
                let Some(old) = self
                    .tenants
                    .get_mut(&tenant)
                    .and_then(|t| t.calls.remove(&unique_id))
                else {
                    return out;
                };
                self.log(
                    now,
                    &tenant,
                    Audience::Parties(parties(&old)),
                    Event::CallEnded { id: unique_id },
                    &mut out,
                );
            }
            BusEvent::Account {
                tenant,
                extension,
                account,
            } => {
                let row = self.row(&tenant, &extension);
                if row.accounts.get(&account.username) == Some(&account) {
                    return out;
                }
                row.accounts
                    .insert(account.username.clone(), account.clone());
                self.log(
                    now,
                    &tenant,
                    Audience::All,
                    Event::Account { extension, account },
                    &mut out,
                );
            }
            BusEvent::Services {
                tenant,
                extension,
                services,
            } => {
                let row = self.row(&tenant, &extension);
                if row.services == services {
                    return out;
                }
                let dnd_changed = row.services.dnd != services.dnd;
                row.services = services.clone();
                let dnd = services.dnd;
                self.log(
                    now,
                    &tenant,
                    Audience::OwnerOrSupervisor(extension.clone()),
                    Event::Services {
                        extension: extension.clone(),
                        services,
                    },
                    &mut out,
                );
                if dnd_changed {
                    self.log(
                        now,
                        &tenant,
                        Audience::All,
                        Event::ExtensionDnd {
                            extension: extension.clone(),
                            dnd,
                        },
                        &mut out,
                    );
                }
                self.refresh_presence(now, &tenant, &extension, &mut out);
            }
            BusEvent::CallRecord(rec) => self.on_record(now, *rec, &mut out),
            // Logs no event: the hub answers a change with fresh snapshots (`Hub::apply`).
            BusEvent::Directory { tenant, extensions } => {
                self.set_directory(&tenant, &extensions);
            }
            BusEvent::QueueRemoved { tenant, number } => {
                self.remove_queue(&tenant, &number);
            }
            BusEvent::Queue { tenant, queue } => {
                let t = self.tenants.entry(tenant.clone()).or_default();
                if t.queues.get(&queue.number) == Some(&*queue) {
                    return out;
                }
                t.queues.insert(queue.number.clone(), (*queue).clone());
                self.log(
                    now,
                    &tenant,
                    Audience::Supervisors,
                    Event::Queue { queue: *queue },
                    &mut out,
                );
            }
            BusEvent::Agent { tenant, agent } => {
                let t = self.tenants.entry(tenant.clone()).or_default();
                if t.agents.get(&agent.extension) == Some(&*agent) {
                    return out;
                }
                if agent.queues.is_empty() {
                    t.agents.remove(&agent.extension);
                } else {
                    t.agents.insert(agent.extension.clone(), (*agent).clone());
                }
                self.log(
                    now,
                    &tenant,
                    Audience::OwnerOrSupervisor(agent.extension.clone()),
                    Event::Agent { agent: *agent },
                    &mut out,
                );
            }
        }
        out
    }

    /// A user chose a presence.
    pub fn set_presence(
        &mut self,
        now: Instant,
        tenant: &str,
        extension: &str,
        state: PresenceState,
        message: Option<String>,
    ) -> Vec<Arc<Logged>> {
        let mut out = Vec::new();
        self.row(tenant, extension).chosen = (state, message);
        self.refresh_presence(now, tenant, extension, &mut out);
        out
    }

    /// A CTI session of an extension's user opened (`+1`) or closed (`-1`).
    pub fn session(
        &mut self,
        now: Instant,
        tenant: &str,
        extension: &str,
        open: bool,
    ) -> Vec<Arc<Logged>> {
        let mut out = Vec::new();
        // A session of a deleted extension's user: nothing to show (and no ghost row).
        if self
            .tenants
            .get(tenant)
            .is_none_or(|t| !t.extensions.contains_key(extension))
        {
            return out;
        }
        let row = self.row(tenant, extension);
        row.sessions = if open {
            row.sessions.saturating_add(1)
        } else {
            row.sessions.saturating_sub(1)
        };
        self.refresh_presence(now, tenant, extension, &mut out);
        out
    }

    /// The events after `from` that are still in the window, oldest first.
    pub fn since(&self, from: u64) -> Result<Vec<Arc<Logged>>, ResumeGap> {
        if from > self.seq {
            return Err(ResumeGap::OutOfWindow);
        }
        if from < self.resync_floor {
            return Err(ResumeGap::OutOfWindow);
        }
        if from == self.seq {
            return Ok(Vec::new());
        }
        let oldest = self.log.front().map(|l| l.seq).unwrap_or(self.seq + 1);
        // Every event after `from` must still be here: the first kept one is at most from+1.
        if oldest > from + 1 {
            return Err(ResumeGap::OutOfWindow);
        }
        let start = self.log.partition_point(|l| l.seq <= from);
        Ok(self.log.range(start..).cloned().collect())
    }

    /// Drops events past the replay window.
    pub fn trim(&mut self, now: Instant) {
        while self.log.len() > self.replay_events
            || self
                .log
                .front()
                .is_some_and(|l| now.saturating_duration_since(l.at) > REPLAY_AGE)
        {
            self.log.pop_front();
        }
    }

    /// The call view behind a call id.
    pub fn call(&self, tenant: &str, id: &str) -> Option<&CallView> {
        self.tenants.get(tenant).and_then(|t| t.calls.get(id))
    }

    fn row(&mut self, tenant: &str, extension: &str) -> &mut ExtRow {
        self.tenants
            .entry(tenant.to_string())
            .or_default()
            .extensions
            .entry(extension.to_string())
            .or_insert_with(|| new_row(tenant, extension, ""))
    }

    fn log(
        &mut self,
        now: Instant,
        tenant: &str,
        audience: Audience,
        event: Event,
        out: &mut Vec<Arc<Logged>>,
    ) {
        self.seq += 1;
        let logged = Arc::new(Logged {
            seq: self.seq,
            tenant: tenant.to_string(),
            audience,
            event,
            at: now,
        });
        self.log.push_back(logged.clone());
        out.push(logged);
    }

    fn on_lamp(&mut self, now: Instant, change: LampChange, out: &mut Vec<Arc<Logged>>) {
        let tenant = change.tenant.clone();
        let extension = change.extension.clone();
        if let Some(slot) = self
            .tenants
            .get_mut(&tenant)
            .and_then(|t| t.park_slots.get_mut(&extension))
        {
            *slot = change.clone();
            let event = Event::ParkSlot {
                slot: park_slot(&change),
            };
            self.log(now, &tenant, Audience::All, event, out);
            return;
        }
        let row = self.row(&tenant, &extension);
        row.lamp = change.clone();
        self.log(
            now,
            &tenant,
            Audience::All,
            Event::Lamp {
                extension: extension.clone(),
                lamp: change.lamp,
                peer: change.peer,
                direction: change.direction,
            },
            out,
        );
        self.refresh_presence(now, &tenant, &extension, out);
    }

    fn on_call(&mut self, now: Instant, view: CallView, out: &mut Vec<Arc<Logged>>) {
        let tenant = view.tenant.clone();
        let t = self.tenants.entry(tenant.clone()).or_default();
        let before = t.calls.insert(view.unique_id.clone(), view.clone());
        let now_parties = parties(&view);
        if let Some(old) = before {
            // Parties that left the call (overflow, transfer) stop seeing it.
            let gone: Vec<String> = parties(&old)
                .into_iter()
                .filter(|p| !now_parties.contains(p))
                .collect();
            if !gone.is_empty() {
                self.log(
                    now,
                    &tenant,
                    Audience::Parties(gone),
                    Event::CallEnded {
                        id: view.unique_id.clone(),
                    },
                    out,
                );
            }
        }
        self.log(
            now,
            &tenant,
            Audience::Parties(now_parties),
            Event::Call {
                call: call_info(&view),
            },
            out,
        );
    }

    fn on_record(&mut self, now: Instant, rec: CdrRecord, out: &mut Vec<Arc<Logged>>) {
        let tenant = rec.tenant.clone();
        let rec = Arc::new(rec);
        let mut involved: Vec<String> = vec![rec.caller.clone()];
        for d in &rec.details {
            // A queue step names no extension; the agent who answered it takes part.
            for n in [&d.destination_num, &d.answered_by].into_iter().flatten() {
                if !involved.contains(n) {
                    involved.push(n.clone());
                }
            }
        }
        for ext in involved {
            let Some(entry) = history_entry(&rec, &ext) else {
                continue;
            };
            let Some(row) = self
                .tenants
                .get_mut(&tenant)
                .and_then(|t| t.extensions.get_mut(&ext))
            else {
                continue;
            };
            row.recent.push_front(rec.clone());
            row.recent.truncate(RECENT_HISTORY);
            self.log(
                now,
                &tenant,
                Audience::Owner(ext),
                Event::History { entry },
                out,
            );
        }
    }

    fn refresh_presence(
        &mut self,
        now: Instant,
        tenant: &str,
        extension: &str,
        out: &mut Vec<Arc<Logged>>,
    ) {
        let row = self.row(tenant, extension);
        let presence = Presence {
            state: row.chosen.0,
            message: row.chosen.1.clone(),
            effective: effective(row),
        };
        if row.presence == presence {
            return;
        }
        row.presence = presence.clone();
        self.log(
            now,
            tenant,
            Audience::All,
            Event::Presence {
                extension: extension.to_string(),
                presence,
            },
            out,
        );
    }
}

/// Which event a viewer gets, if any. `None` when not for them.
pub fn visible_to(viewer: &Viewer, logged: &Logged) -> bool {
    if logged.tenant != viewer.tenant {
        return false;
    }
    let own = viewer.extension.as_deref();
    match &logged.audience {
        Audience::All => true,
        Audience::Parties(p) => {
            viewer.permissions.supervisor || own.is_some_and(|e| p.iter().any(|x| x == e))
        }
        Audience::Owner(e) => own == Some(e.as_str()),
        Audience::OwnerOrSupervisor(e) => viewer.permissions.supervisor || own == Some(e.as_str()),
        Audience::Supervisors => viewer.permissions.supervisor,
    }
}

fn new_row(tenant: &str, number: &str, name: &str) -> ExtRow {
    let lamp = LampChange {
        tenant: tenant.to_string(),
        extension: number.to_string(),
        lamp: Lamp::Unavailable,
        peer: None,
        direction: None,
        call: None,
    };
    let mut row = ExtRow {
        name: name.to_string(),
        lamp,
        services: Services::default(),
        chosen: (PresenceState::Available, None),
        presence: Presence {
            state: PresenceState::Available,
            message: None,
            effective: EffectivePresence::Offline,
        },
        accounts: BTreeMap::new(),
        recent: VecDeque::new(),
        sessions: 0,
    };
    row.presence.effective = effective(&row);
    row
}

/// The chosen state combined with the line: offline wins (the user asked to be hidden), then
/// being on the phone, then DND (shown as busy), then the choice; a user with no device and no
/// CTI session is offline.
fn effective(row: &ExtRow) -> EffectivePresence {
    match (row.chosen.0, row.lamp.lamp) {
        (PresenceState::Offline, _) => EffectivePresence::Offline,
        (_, Lamp::Ringing | Lamp::Busy | Lamp::Hold) => EffectivePresence::OnThePhone,
        _ if row.services.dnd => EffectivePresence::Busy,
        (_, Lamp::Unavailable) if row.sessions == 0 => EffectivePresence::Offline,
        (PresenceState::Away, _) => EffectivePresence::Away,
        (PresenceState::Busy, _) => EffectivePresence::Busy,
        (PresenceState::Available, _) => EffectivePresence::Available,
    }
}

/// Extensions taking part in a call (queue agents it rings included).
/// The wire form of a park slot's lamp (unmasked).
pub fn park_slot(change: &LampChange) -> shared_protocol::ParkSlot {
    shared_protocol::ParkSlot {
        slot: change.extension.clone(),
        lamp: change.lamp,
        peer: change.peer.clone(),
    }
}

pub fn parties(view: &CallView) -> Vec<String> {
    let mut v: Vec<String> = view.caller.extension.iter().cloned().collect();
    if let Some(e) = view.callee.as_ref().and_then(|c| c.extension.clone()) {
        if !v.contains(&e) {
            v.push(e);
        }
    }
    for e in &view.also_ringing {
        if !v.contains(e) {
            v.push(e.clone());
        }
    }
    v
}

/// The wire form of a call (unmasked).
pub fn call_info(view: &CallView) -> CallInfo {
    CallInfo {
        id: view.unique_id.clone(),
        caller: view.caller.party(),
        callee: view.callee.as_ref().map(|c| c.party()).unwrap_or(Party {
            number: String::new(),
            name: None,
        }),
        state: match (view.phase, view.held_by) {
            (crate::lamps::CallPhase::Ringing, _) => CallState::Ringing,
            (crate::lamps::CallPhase::Connected, Some(_)) => CallState::Held,
            (crate::lamps::CallPhase::Connected, None) => CallState::Connected,
        },
        held_by: view
            .held_by
            .filter(|s| matches!(s, CallSide::Caller | CallSide::Callee)),
        started_ms: view.started_ms,
        answered_ms: view.answered_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lamp(ext: &str, lamp: Lamp) -> BusEvent {
        BusEvent::Lamp(LampChange {
            tenant: "default".into(),
            extension: ext.into(),
            lamp,
            peer: None,
            direction: None,
            call: None,
        })
    }

    #[test]
    fn resume_replays_exactly_what_followed_or_reports_a_gap() {
        let mut m = Model::with_window(4, 1000);
        let t = Instant::now();
        m.add_extension("default", "201", "Anna");
        let a = m.apply(t, lamp("201", Lamp::Idle));
        // A lamp change logs the lamp and the presence it changes.
        assert_eq!(a.iter().map(|l| l.seq).collect::<Vec<_>>(), [1001, 1002]);
        m.apply(t, lamp("201", Lamp::Busy));
        m.trim(t);
        let after: Vec<u64> = m.since(1002).unwrap().iter().map(|l| l.seq).collect();
        assert_eq!(after, [1003, 1004]);
        assert!(m.since(1004).unwrap().is_empty());
        // Ahead of the server (another life of it): a gap.
        assert_eq!(m.since(5000).unwrap_err(), ResumeGap::OutOfWindow);
        // Pushed out of the 4-event window.
        m.apply(t, lamp("201", Lamp::Idle));
        m.apply(t, lamp("201", Lamp::Busy));
        m.trim(t);
        assert_eq!(m.since(1001).unwrap_err(), ResumeGap::OutOfWindow);
        assert_eq!(m.since(1004).unwrap().len(), 4);
        // An earlier life numbered below this one's base: a gap, never a wrong replay.
        assert_eq!(m.since(3).unwrap_err(), ResumeGap::OutOfWindow);
    }

    #[test]
    fn a_directory_reload_adds_removes_and_renames_and_forces_a_snapshot_on_resume() {
        let mut m = Model::with_window(100, 1000);
        let t = Instant::now();
        m.add_extension("default", "201", "Anna");
        m.add_extension("default", "202", "Luca");
        m.apply(t, lamp("201", Lamp::Idle));
        let before = m.seq();
        let dir = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(n, s)| (n.to_string(), s.to_string()))
                .collect()
        };
        // Unchanged: nothing moves, resuming still replays.
        assert!(!m.set_directory("default", &dir(&[("201", "Anna"), ("202", "Luca")])));
        assert_eq!(m.seq(), before);
        assert!(m.since(before - 1).is_ok());
        // 202 deleted, 201 renamed, 301 created (unavailable until its lamp comes).
        assert!(m.set_directory("default", &dir(&[("201", "Anna R."), ("301", "Nuovo")])));
        let t_state = m.tenant("default").unwrap();
        let names: Vec<(&str, &str)> = t_state
            .extensions
            .iter()
            .map(|(n, r)| (n.as_str(), r.name.as_str()))
            .collect();
        assert_eq!(names, [("201", "Anna R."), ("301", "Nuovo")]);
        assert_eq!(t_state.extensions["201"].lamp.lamp, Lamp::Idle, "kept");
        assert_eq!(t_state.extensions["301"].lamp.lamp, Lamp::Unavailable);
        // A client resuming from before the change gets a snapshot; from the new seq, a replay.
        assert!(m.seq() > before);
        assert_eq!(m.since(before).unwrap_err(), ResumeGap::OutOfWindow);
        assert!(m.since(m.seq()).unwrap().is_empty());
        let after = m.seq();
        m.apply(t, lamp("301", Lamp::Idle));
        assert!(!m.since(after).unwrap().is_empty());
        // A session of the deleted extension's user leaves no ghost row behind.
        assert!(m.session(t, "default", "202", false).is_empty());
        assert!(!m.tenant("default").unwrap().extensions.contains_key("202"));
    }

    #[test]
    fn events_are_for_their_audience_and_tenant_only() {
        use shared_protocol::Permissions;
        let viewer = |ext: &str, supervisor: bool| Viewer {
            tenant: "default".into(),
            username: ext.into(),
            extension: Some(ext.into()),
            role: "user".into(),
            permissions: Permissions {
                call_control: true,
                privacy: false,
                supervisor,
            },
            licence: shared_protocol::Licence {
                mode: shared_protocol::CtiMode::Pro,
                call_center: false,
            },
        };
        let logged = |tenant: &str, audience: Audience| Logged {
            seq: 1,
            tenant: tenant.into(),
            audience,
            event: Event::CallEnded { id: "1".into() },
            at: Instant::now(),
        };
        let parties = logged(
            "default",
            Audience::Parties(vec!["201".into(), "202".into()]),
        );
        assert!(visible_to(&viewer("201", false), &parties));
        assert!(!visible_to(&viewer("203", false), &parties));
        assert!(visible_to(&viewer("203", true), &parties));
        let owner = logged("default", Audience::Owner("201".into()));
        assert!(!visible_to(&viewer("203", true), &owner));
        assert!(!visible_to(
            &viewer("201", true),
            &logged("acme", Audience::All)
        ));
    }
}
