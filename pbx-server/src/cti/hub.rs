//! The hub: holds the model, reads the core's bus, and fans each event out to the logged-in
//! clients, each through its own bounded queue. A client whose queue is full is dropped (it
//! resumes with its last `seq`); nobody waits for a slow client.

use super::model::{visible_to, Logged, Model, ResumeGap};
use super::view::{self, Viewer};
use crate::control::{BusEvent, Control};
use crate::store::Store;
use shared_protocol::{PresenceState, ServerMsg};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;
use tokio::sync::mpsc;

/// One serialised frame, shared by every client that receives it.
pub type Frame = Arc<str>;

/// Frames queued per client before it counts as too slow and is dropped.
pub const CLIENT_QUEUE: usize = 1024;

struct Client {
    viewer: Viewer,
    tx: mpsc::Sender<Frame>,
}

#[derive(Default)]
struct Inner {
    model: Model,
    clients: HashMap<u64, Client>,
    next_client: u64,
}

/// Counters for `/metrics` and the benchmark.
#[derive(Debug, Default)]
pub struct HubMetrics {
    /// Clients logged in.
    pub clients: std::sync::atomic::AtomicU64,
    /// Clients dropped for a full queue.
    pub dropped_slow: std::sync::atomic::AtomicU64,
    /// Events logged.
    pub events: std::sync::atomic::AtomicU64,
}

/// The CTI hub.
pub struct Hub {
    inner: Mutex<Inner>,
    /// Requests into the SIP core.
    pub control: mpsc::Sender<Control>,
    /// The store (logins, history).
    pub store: Store,
    /// Counters.
    pub metrics: HubMetrics,
    limiter: Mutex<super::login::LoginLimiter>,
}

/// What a client gets on attaching: its first frames and its queue.
pub struct Attached {
    /// Client id (for `detach`).
    pub id: u64,
    /// Snapshot, or `resumed` plus the replayed events.
    pub first: Vec<Frame>,
    /// Live frames.
    pub rx: mpsc::Receiver<Frame>,
}

impl Hub {
    /// Builds the hub from the core's current state and the store, and starts reading the bus.
    pub async fn start(
        store: Store,
        control: mpsc::Sender<Control>,
        mut bus: mpsc::UnboundedReceiver<BusEvent>,
        replay_events: usize,
    ) -> anyhow::Result<Arc<Hub>> {
        let base = u64::try_from(crate::core::wall_ms()).unwrap_or(0) * 1000;
        let mut model = Model::with_window(replay_events, base);
        let dir = store.load_directory().await?;
        let tenant = dir
            .tenant_domain
            .clone()
            .unwrap_or_else(|| "default".into());
        for e in &dir.extensions {
            let name = format!("{} {}", e.first_name, e.last_name)
                .trim()
                .to_string();
            model.add_extension(&tenant, &e.number, &name);
            let records = store
                .cdr_history(
                    &tenant,
                    &e.number,
                    None,
                    super::model::RECENT_HISTORY as i64,
                    false,
                )
                .await?;
            model.seed_history(&tenant, &e.number, records);
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        control.send(Control::State { reply: tx }).await?;
        let state = rx.await?;
        let now = Instant::now();
        // The core's state, as events: after this the model equals the core's picture.
        for (tenant, slot) in &state.park_slots {
            model.add_park_slot(tenant, slot);
        }
        for l in state.lamps {
            model.apply(now, BusEvent::Lamp(l));
        }
        for c in state.calls {
            model.apply(now, BusEvent::Call(c));
        }
        for (tenant, extension, account) in state.accounts {
            model.apply(
                now,
                BusEvent::Account {
                    tenant,
                    extension,
                    account,
                },
            );
        }
        for (tenant, queue) in state.queues {
            model.apply(
                now,
                BusEvent::Queue {
                    tenant,
                    queue: Box::new(queue),
                },
            );
        }
        for (tenant, agent) in state.agents {
            model.apply(
                now,
                BusEvent::Agent {
                    tenant,
                    agent: Box::new(agent),
                },
            );
        }
        for (tenant, extension, services) in state.services {
            model.apply(
                now,
                BusEvent::Services {
                    tenant,
                    extension,
                    services,
                },
            );
        }
        let hub = Arc::new(Hub {
            inner: Mutex::new(Inner {
                model,
                ..Inner::default()
            }),
            control,
            store,
            metrics: HubMetrics::default(),
            limiter: Mutex::new(super::login::LoginLimiter::new()),
        });
        let reader = hub.clone();
        tokio::spawn(async move {
            while let Some(ev) = bus.recv().await {
                reader.apply(ev);
                // Take whatever else queued up under the same lock round.
                while let Ok(ev) = bus.try_recv() {
                    reader.apply(ev);
                }
            }
        });
        Ok(hub)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves a model that is still consistent per event.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn apply(&self, ev: BusEvent) {
        let now = Instant::now();
        let mut inner = self.lock();
        if let BusEvent::Directory { tenant, extensions } = &ev {
            if inner.model.set_directory(tenant, extensions) {
                self.resync(&mut inner, tenant);
            }
            return;
        }
        if let BusEvent::QueueRemoved { tenant, number } = &ev {
            if inner.model.remove_queue(tenant, number) {
                self.resync(&mut inner, tenant);
            }
            return;
        }
        let logged = inner.model.apply(now, ev);
        self.fan_out(&mut inner, &logged);
        inner.model.trim(now);
    }

    fn fan_out(&self, inner: &mut Inner, logged: &[Arc<Logged>]) {
        use std::sync::atomic::Ordering;
        self.metrics
            .events
            .fetch_add(logged.len() as u64, Ordering::Relaxed);
        let mut dead = Vec::new();
        for l in logged {
            let Some(t) = inner.model.tenant(&l.tenant) else {
                continue;
            };
            // One serialisation per rendering class, shared by every client of that class.
            let mut frames: HashMap<(bool, bool), Frame> = HashMap::new();
            for (id, c) in &inner.clients {
                if !visible_to(&c.viewer, l) {
                    continue;
                }
                let class = c.viewer.class();
                let frame = frames
                    .entry(class)
                    .or_insert_with(|| event_frame(t, class, l))
                    .clone();
                if c.tx.try_send(frame).is_err() {
                    dead.push(*id);
                }
            }
        }
        for id in dead {
            if let Some(c) = inner.clients.remove(&id) {
                self.metrics.clients.fetch_sub(1, Ordering::Relaxed);
                self.metrics.dropped_slow.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(user = %c.viewer.username, "cti client too slow: queue full, disconnected");
                if let Some(ext) = &c.viewer.extension {
                    let out = inner
                        .model
                        .session(Instant::now(), &c.viewer.tenant, ext, false);
                    // Closing a session only changes presence; its fan-out cannot drop
                    // the client we just removed, so one level of recursion at most.
                    self.fan_out(inner, &out);
                }
            }
        }
    }

    /// The set of a tenant's extensions changed: every client of the tenant gets a fresh
    /// snapshot (the protocol lets one come at any time and replaces all state with it), in
    /// its queue after the events before the change and before those after it.
    fn resync(&self, inner: &mut Inner, tenant: &str) {
        use std::sync::atomic::Ordering;
        let server_ms = Some(crate::core::wall_ms());
        let mut dead = Vec::new();
        let mut sent = 0usize;
        for (id, c) in &inner.clients {
            if c.viewer.tenant != tenant {
                continue;
            }
            let mut snapshot = view::snapshot(&inner.model, &c.viewer);
            snapshot.server_ms = server_ms;
            if c.tx
                .try_send(frame(&ServerMsg::Snapshot(snapshot)))
                .is_err()
            {
                dead.push(*id);
            } else {
                sent += 1;
            }
        }
        tracing::info!(
            tenant,
            clients = sent,
            "cti: configuration changed, snapshots sent"
        );
        for id in dead {
            if let Some(c) = inner.clients.remove(&id) {
                self.metrics.clients.fetch_sub(1, Ordering::Relaxed);
                self.metrics.dropped_slow.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(user = %c.viewer.username, "cti client too slow: queue full, disconnected");
                if let Some(ext) = &c.viewer.extension {
                    let out = inner.model.session(Instant::now(), tenant, ext, false);
                    self.fan_out(inner, &out);
                }
            }
        }
    }

    /// Attaches a logged-in client: a snapshot, or the events it missed since `resume_from`.
    pub fn attach(&self, viewer: Viewer, resume_from: Option<u64>) -> Attached {
        use std::sync::atomic::Ordering;
        let mut inner = self.lock();
        let mut first = Vec::new();
        let replay = resume_from.map(|from| (from, inner.model.since(from)));
        match replay {
            Some((from, Ok(events))) => {
                let t = inner.model.tenant(&viewer.tenant);
                let visible: Vec<Frame> = events
                    .iter()
                    .filter(|l| visible_to(&viewer, l))
                    .filter_map(|l| t.map(|t| event_frame(t, viewer.class(), l)))
                    .collect();
                first.push(frame(&ServerMsg::Resumed {
                    from,
                    replayed: visible.len() as u32,
                }));
                first.extend(visible);
            }
            Some((_, Err(ResumeGap::OutOfWindow))) | None => {
                let mut snapshot = view::snapshot(&inner.model, &viewer);
                snapshot.server_ms = Some(crate::core::wall_ms());
                first.push(frame(&ServerMsg::Snapshot(snapshot)));
            }
        }
        let (tx, rx) = mpsc::channel(CLIENT_QUEUE);
        let id = inner.next_client;
        inner.next_client += 1;
        let ext = viewer.extension.clone();
        let tenant = viewer.tenant.clone();
        inner.clients.insert(id, Client { viewer, tx });
        self.metrics.clients.fetch_add(1, Ordering::Relaxed);
        if let Some(ext) = ext {
            let out = inner.model.session(Instant::now(), &tenant, &ext, true);
            self.fan_out(&mut inner, &out);
        }
        Attached { id, first, rx }
    }

    /// Detaches a client (its connection closed).
    pub fn detach(&self, id: u64) {
        use std::sync::atomic::Ordering;
        let mut inner = self.lock();
        if let Some(c) = inner.clients.remove(&id) {
            self.metrics.clients.fetch_sub(1, Ordering::Relaxed);
            if let Some(ext) = &c.viewer.extension {
                let out = inner
                    .model
                    .session(Instant::now(), &c.viewer.tenant, ext, false);
                self.fan_out(&mut inner, &out);
            }
        }
    }

    /// A user chose a presence.
    pub fn set_presence(
        &self,
        viewer: &Viewer,
        ext: &str,
        state: PresenceState,
        message: Option<String>,
    ) {
        let mut inner = self.lock();
        let out = inner
            .model
            .set_presence(Instant::now(), &viewer.tenant, ext, state, message);
        self.fan_out(&mut inner, &out);
    }

    /// The extensions taking part in a call, if it exists.
    pub fn call_parties(&self, tenant: &str, call: &str) -> Option<Vec<String>> {
        let inner = self.lock();
        inner.model.call(tenant, call).map(super::model::parties)
    }

    /// Whether an extension exists in a tenant.
    pub fn has_extension(&self, tenant: &str, ext: &str) -> bool {
        let inner = self.lock();
        inner
            .model
            .tenant(tenant)
            .is_some_and(|t| t.extensions.contains_key(ext))
    }

    /// Masks history entries for a viewer.
    pub fn mask_history(
        &self,
        viewer: &Viewer,
        entries: Vec<shared_protocol::HistoryEntry>,
    ) -> Vec<shared_protocol::HistoryEntry> {
        let inner = self.lock();
        let empty = super::model::TenantState::default();
        let t = inner.model.tenant(&viewer.tenant).unwrap_or(&empty);
        entries
            .into_iter()
            .map(|h| view::mask_entry(t, viewer.permissions.privacy, h))
            .collect()
    }

    fn limiter(&self) -> MutexGuard<'_, super::login::LoginLimiter> {
        self.limiter.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `ip` may try a login now.
    pub fn login_allowed(&self, ip: std::net::IpAddr) -> bool {
        self.limiter().allowed(Instant::now(), ip)
    }

    /// A failed login from `ip`.
    pub fn login_failed(&self, ip: std::net::IpAddr) {
        if self.limiter().fail(Instant::now(), ip) {
            tracing::warn!("security: cti logins blocked src={ip}");
        }
    }

    /// A successful login from `ip`.
    pub fn login_succeeded(&self, ip: std::net::IpAddr) {
        self.limiter().succeed(ip);
    }

    /// The records held in memory for an extension's history, newest first. They may not be
    /// in the database yet (the writer commits in the background), so history pages merge them.
    pub fn recent_records(&self, tenant: &str, ext: &str) -> Vec<Arc<crate::store::CdrRecord>> {
        let inner = self.lock();
        inner
            .model
            .tenant(tenant)
            .and_then(|t| t.extensions.get(ext))
            .map(|r| r.recent.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The latest sequence number.
    pub fn seq(&self) -> u64 {
        self.lock().model.seq()
    }
}

/// Serialises a server frame.
pub fn frame(msg: &ServerMsg) -> Frame {
    match serde_json::to_string(msg) {
        Ok(s) => Arc::from(s),
        // Our own types always serialise; this keeps the connection alive if one ever fails.
        Err(e) => {
            tracing::error!(error = %e, "cannot serialise a CTI frame");
            Arc::from(
                r#"{"type":"error","id":null,"code":"internal","message":"serialisation failed"}"#,
            )
        }
    }
}

fn event_frame(t: &super::model::TenantState, class: (bool, bool), l: &Logged) -> Frame {
    frame(&ServerMsg::Event {
        seq: l.seq,
        event: view::render(t, class, &l.event),
    })
}
