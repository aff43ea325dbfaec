//! The SIP core task: owns the transaction endpoint, the directory, the registrar and the
//! call engine, and passes each request through a short pipeline:
//! registrar → in-dialog routing → call engine → fallback (481 / 405).

use crate::calls::{CallUpdate, Engine, Now};
use crate::control::{BusEvent, Control, CoreState};
use crate::directory::Directory;
use crate::guard::Guard;
use crate::lamps::{LampChange, LampModel};
use crate::registrar::{self, LocationChange};
use crate::sip_io::{Inbound, SipSender};
use crate::store::{Store, Write};
use sip_core::transaction::{Endpoint, Event, TxnId};
use sip_core::{MessageExt, Method, Peer, Request, Response};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, watch};

/// How often expired locations are swept.
const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// How often the heartbeat (used to close calls after a crash) is written.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(2);

/// Live counters for `/metrics`.
#[derive(Debug, Default)]
pub struct CoreMetrics {
    /// Registered accounts.
    pub registered: AtomicU64,
    /// Calls in progress.
    pub active_calls: AtomicU64,
    /// Malformed SIP messages dropped.
    pub malformed: AtomicU64,
    /// SIP messages received.
    pub received: AtomicU64,
}

/// Writes to the store, in order, off the SIP task.
pub type DbOp = Write;

/// Largest group of writes committed together (bounds one transaction's size).
const MAX_BATCH: usize = 512;

/// The database writer: applies writes in order, grouping whatever queued up meanwhile into
/// one transaction, so a burst costs one commit (one fsync) instead of one per write.
pub async fn db_writer(store: Store, mut rx: mpsc::UnboundedReceiver<DbOp>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(w) => batch.push(w),
                Err(_) => break,
            }
        }
        if let Err(e) = store.apply(&batch).await {
            // Retry one by one so a single bad write cannot take the others with it.
            tracing::error!(error = %e, writes = batch.len(), "store batch failed; retrying one by one");
            for w in &batch {
                if let Err(e) = store.apply(std::slice::from_ref(w)).await {
                    tracing::error!(error = %e, ?w, "store write failed");
                }
            }
        }
        batch.clear();
    }
}

/// Wall-clock milliseconds. The core is the driver, so it owns the clock.
pub fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The SIP core.
pub struct Core {
    pub(crate) ep: Endpoint,
    pub(crate) dir: Directory,
    pub(crate) guard: Guard,
    pub(crate) engine: Engine,
    pub(crate) sender: SipSender,
    pub(crate) db: mpsc::UnboundedSender<DbOp>,
    pub(crate) metrics: Arc<CoreMetrics>,
    pub(crate) status: Arc<std::sync::Mutex<crate::http::StatusSnapshot>>,
    /// Tenant domain this core serves.
    pub(crate) tenant: String,
    /// Our SIP address, for requests the core sends itself (qualify pings).
    pub(crate) local: crate::calls::dialog::Local,
    /// OPTIONS pings measuring each device's latency.
    pub(crate) qualify: crate::qualify::Qualifier,
    /// Lamps of every extension, derived from calls and registrations.
    pub(crate) lamps: LampModel,
    /// Where lamps, calls, registrations and records are reported (the CTI hub).
    pub(crate) bus: mpsc::UnboundedSender<BusEvent>,
    /// BLF subscriptions (RFC 4235 dialog package), fed with the same lamp changes.
    pub(crate) blf: crate::blf::Blf,
}

impl Core {
    /// Runs until `shutdown` flips.
    pub async fn run(
        mut self,
        mut inbound: mpsc::Receiver<Inbound>,
        mut control: mpsc::Receiver<Control>,
        mut digits: mpsc::UnboundedReceiver<crate::media::RelayDigit>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let extensions: Vec<(String, String)> = self
            .dir
            .extensions()
            .iter()
            .map(|e| (e.number.clone(), e.name.clone()))
            .collect();
        let numbers: Vec<String> = extensions.iter().map(|(n, _)| n.clone()).collect();
        // The CTI hub learns the new set of extensions before their lamps.
        let _ = self.bus.send(BusEvent::Directory {
            tenant: self.tenant.clone(),
            extensions,
        });
        for number in numbers {
            let reachable = self.dir.reachable(&number);
            for change in self.lamps.set_reachable(&self.tenant, &number, reachable) {
                self.on_lamp(change);
            }
        }
        // Park slots have lamps too: idle while free (docs/decisions/013).
        let slots = self.engine.park_slots();
        self.blf.set_objects(slots.iter().cloned());
        for slot in slots {
            for change in self.lamps.set_reachable(&self.tenant, &slot, true) {
                self.on_lamp(change);
            }
        }
        let mut next_sweep = Instant::now() + SWEEP_EVERY;
        let mut next_heartbeat = Instant::now();
        loop {
            self.flush();
            let now = Instant::now();
            if now >= next_sweep {
                let wall = wall_ms();
                for id in self.dir.expire(wall) {
                    tracing::info!(account_id = id, "registration expired");
                    let _ = self.db.send(Write::Unregister(id));
                    self.account_changed(id);
                }
                next_sweep = now + SWEEP_EVERY;
                self.publish_status();
            }
            if now >= next_heartbeat {
                let _ = self.db.send(Write::Heartbeat(wall_ms()));
                next_heartbeat = now + HEARTBEAT_EVERY;
            }
            self.publish_metrics();
            let deadline = [
                self.ep.poll_timeout(),
                self.engine.poll_timeout(),
                self.qualify.poll_timeout(now),
                self.blf.poll_timeout(),
                Some(next_sweep),
                Some(next_heartbeat),
            ]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(now + SWEEP_EVERY);
            tokio::select! {
                msg = inbound.recv() => {
                    let Some(msg) = msg else { break };
                    let now = Instant::now();
                    self.metrics.received.fetch_add(1, Ordering::Relaxed);
                    if self.guard.is_banned(now, msg.peer.addr.ip()) {
                        continue;
                    }
                    self.ep.handle_datagram(now, msg.peer, &msg.data);
                }
                _ = tokio::time::sleep_until(deadline.into()) => {
                    let now = self.now();
                    self.ep.handle_timeout(now.mono);
                    self.engine.handle_timeout(&mut self.ep, &self.dir, now);
                    self.qualify_round(now.mono);
                    self.blf.handle_timeout(now.mono);
                    self.blf.drive(&mut self.ep, now.mono);
                    self.report();
                }
                // A closed control channel disables this branch (no busy loop).
                Some(cmd) = control.recv() => self.on_control(cmd),
                // Keys pressed in calls, for the in-call services.
                Some(d) = digits.recv() => {
                    let now = self.now();
                    self.engine.on_digit(&mut self.ep, &self.dir, now, d);
                    self.report();
                }
                _ = shutdown.changed() => break,
            }
        }
        self.flush();
    }

    fn now(&self) -> Now {
        Now {
            mono: Instant::now(),
            wall_ms: wall_ms(),
        }
    }

    fn publish_status(&self) {
        let extensions = self
            .dir
            .extensions()
            .into_iter()
            .map(|e| crate::http::ExtensionStatus {
                number: e.number.clone(),
                name: e.name.clone(),
                devices: self
                    .dir
                    .accounts_of(&e.number)
                    .filter_map(|a| {
                        self.dir
                            .location(a.id)
                            .map(|l| format!("{}@{}:{}", a.username, l.source_ip, l.source_port))
                    })
                    .collect(),
            })
            .collect();
        if let Ok(mut s) = self.status.lock() {
            s.extensions = extensions;
        }
    }

    fn publish_metrics(&self) {
        self.metrics
            .registered
            .store(self.dir.registered() as u64, Ordering::Relaxed);
        self.metrics
            .active_calls
            .store(self.engine.active_calls() as u64, Ordering::Relaxed);
        self.metrics
            .malformed
            .store(self.ep.malformed, Ordering::Relaxed);
    }

    /// Drains events and transmits until both are empty.
    fn flush(&mut self) {
        loop {
            let mut progressed = false;
            while let Some(ev) = self.ep.poll_event() {
                progressed = true;
                let now = self.now();
                match ev {
                    Event::Request { id, request, peer } => self.route(now, id, request, peer),
                    Event::Cancelled { invite } => {
                        self.engine.on_cancelled(&mut self.ep, now, invite)
                    }
                    Event::Response { id, response } if self.qualify.owns(id) => {
                        if response.status >= 200 {
                            let change = self.qualify.finished(now.mono, id, true);
                            self.latency_changed(change);
                        }
                    }
                    Event::Response { id, response } if self.blf.owns(id) => {
                        self.blf.on_response(now.mono, id, response.status);
                        self.blf.drive(&mut self.ep, now.mono);
                    }
                    Event::Timeout { id } if self.blf.owns(id) => self.blf.on_timeout(id),
                    Event::Timeout { id } if self.qualify.owns(id) => {
                        let change = self.qualify.finished(now.mono, id, false);
                        self.latency_changed(change);
                    }
                    Event::Response { id, response } => {
                        self.engine
                            .on_response(&mut self.ep, &self.dir, now, id, response)
                    }
                    Event::Timeout { id } => {
                        self.engine.on_timeout(&mut self.ep, &self.dir, now, id)
                    }
                }
                self.report();
            }
            while let Some(t) = self.ep.poll_transmit() {
                progressed = true;
                self.sender.send(t.peer, t.data);
            }
            if !progressed {
                break;
            }
        }
    }

    fn route(&mut self, now: Now, id: Option<TxnId>, req: Request, peer: Peer) {
        let _span =
            tracing::debug_span!("route", method = %req.method, from = %peer.addr).entered();
        // registrar
        if req.method == Method::Register {
            if let Some(id) = id {
                let (resp, change) = registrar::handle_register(
                    &mut self.dir,
                    &mut self.guard,
                    now.mono,
                    now.wall_ms,
                    &req,
                    peer,
                );
                let _ = self.ep.respond(now.mono, id, resp);
                match change {
                    Some(LocationChange::Upsert(l)) => {
                        let id = l.account_id;
                        let _ = self.db.send(Write::Location(l));
                        self.account_changed(id);
                    }
                    Some(LocationChange::Delete(id)) => {
                        let _ = self.db.send(Write::Unregister(id));
                        self.account_changed(id);
                    }
                    None => {}
                }
            }
            return;
        }
        // in-dialog routing
        if req.to_tag().is_some() || req.method == Method::Ack {
            if self.engine.owns_dialog(req.call_id()) {
                self.engine
                    .on_in_dialog_request(&mut self.ep, &self.dir, now, id, req);
            } else if let (Some(id), true) = (id, self.blf.owns_dialog(&req)) {
                self.subscribe(now, id, req, peer);
            } else if let Some(id) = id {
                self.reply(now, id, &req, 481, "Call/Transaction Does Not Exist");
            }
            return;
        }
        let Some(id) = id else { return };
        // call engine, then fallback
        match req.method {
            Method::Invite => {
                self.engine
                    .on_invite(&mut self.ep, &self.dir, &mut self.guard, now, id, req, peer)
            }
            Method::Options => {
                let mut r = Response::for_request(&req, 200, "OK");
                r.set_to_tag(&sip_core::transaction::random_token(10));
                r.headers.push("Allow", sip_core::ALLOW);
                r.headers.push("Accept", "application/sdp");
                let _ = self.ep.respond(now.mono, id, r);
            }
            Method::Subscribe => self.subscribe(now, id, req, peer),
            Method::Publish => self.reply(now, id, &req, 489, "Bad Event"),
            _ => {
                let mut r = Response::for_request(&req, 405, "Method Not Allowed");
                r.set_to_tag(&sip_core::transaction::random_token(10));
                r.headers.push("Allow", sip_core::ALLOW);
                let _ = self.ep.respond(now.mono, id, r);
            }
        }
    }

    /// Passes what the engine changed to the store, the lamp model and the bus.
    fn report(&mut self) {
        // The call center acts on what changed (an agent freed, a caller arrived) first.
        let now = self.now();
        self.engine.settle(&mut self.ep, &self.dir, now);
        // Calls first: a client sees `call_ended` before the `history` entry of that call.
        for update in self.engine.drain_updates() {
            let changes = match update {
                CallUpdate::Updated(view) => {
                    let _ = self.bus.send(BusEvent::Call(view.clone()));
                    self.lamps.call_updated(view)
                }
                CallUpdate::Ended {
                    id,
                    tenant,
                    unique_id,
                } => {
                    let _ = self.bus.send(BusEvent::CallEnded { tenant, unique_id });
                    self.lamps.call_ended(id)
                }
            };
            for change in changes {
                self.on_lamp(change);
            }
        }
        for (extension, change) in self.engine.drain_service_changes() {
            if let Err(e) = self.apply_service(&extension, &change) {
                tracing::warn!(extension = %extension, error = %e, "feature code: service not changed");
            }
        }
        for rec in self.engine.outbox.drain(..) {
            if rec.end_ms.is_some() {
                let _ = self.bus.send(BusEvent::CallRecord(Box::new(rec.clone())));
            }
            let _ = self.db.send(Write::Cdr(Box::new(rec)));
        }
        self.report_queues(now);
    }

    /// Queue and agent changes to the bus, call-center writes to the store.
    fn report_queues(&mut self, now: Now) {
        use crate::calls::QueueUpdate;
        for u in self.engine.drain_queue_updates(&self.dir, now) {
            let tenant = self.tenant.clone();
            let _ = self.bus.send(match u {
                QueueUpdate::Queue(q) => BusEvent::Queue {
                    tenant,
                    queue: Box::new(q),
                },
                QueueUpdate::Agent(a) => BusEvent::Agent {
                    tenant,
                    agent: Box::new(a),
                },
                QueueUpdate::Removed(number) => BusEvent::QueueRemoved { tenant, number },
            });
        }
        for write in self.engine.drain_queue_writes() {
            let _ = self.db.send(Write::Queue {
                tenant: self.tenant.clone(),
                write,
            });
        }
    }

    /// Sends the OPTIONS pings that are due.
    fn qualify_round(&mut self, now: Instant) {
        for (account_id, req, peer) in self.qualify.due(now, &self.dir, &self.local) {
            if let Ok(txn) = self.ep.send_request(now, req, peer) {
                self.qualify.sent(now, txn, account_id);
            }
        }
    }

    fn latency_changed(&mut self, change: Option<crate::qualify::LatencyChange>) {
        if let Some(c) = change {
            self.account_changed(c.account_id);
        }
    }

    fn on_lamp(&mut self, change: LampChange) {
        let now = Instant::now();
        self.blf.on_lamp(now, &change, &self.dir);
        self.blf.drive(&mut self.ep, now);
        let _ = self.bus.send(BusEvent::Lamp(change));
    }

    /// A SUBSCRIBE (new, refresh or unsubscribe) for the BLF.
    fn subscribe(&mut self, now: Now, id: TxnId, req: Request, peer: Peer) {
        let (dir, lamps) = (&self.dir, &self.lamps);
        self.blf
            .on_subscribe(now, id, &req, peer, dir, &mut self.guard, lamps);
        self.blf.drive(&mut self.ep, now.mono);
    }

    /// A registration appeared, moved or went away: report the device and the lamp.
    fn account_changed(&mut self, account_id: i64) {
        let Some(account) = self.dir.account_by_id(account_id) else {
            return;
        };
        let extension = account.extension.clone();
        if self.dir.location(account_id).is_none() {
            self.qualify.forget(account_id);
        }
        let state = account_state(&self.dir, account, self.qualify.latency(account_id));
        let _ = self.bus.send(BusEvent::Account {
            tenant: self.tenant.clone(),
            extension: extension.clone(),
            account: state,
        });
        let reachable = self.dir.reachable(&extension);
        for change in self
            .lamps
            .set_reachable(&self.tenant, &extension, reachable)
        {
            self.on_lamp(change);
        }
        // An agent's device came or went: its queues may ring it, or overflow, now.
        self.engine.extension_changed(&extension);
        self.report();
    }

    fn on_control(&mut self, cmd: Control) {
        match cmd {
            Control::State { reply } => {
                let _ = reply.send(self.state());
            }
            Control::Call { tenant, op, reply } => {
                let result = if tenant == self.tenant {
                    let now = self.now();
                    self.engine.call_op(&mut self.ep, &self.dir, now, op)
                } else {
                    Err(crate::control::CallOpError::NotFound(format!(
                        "tenant {tenant}"
                    )))
                };
                let _ = reply.send(result);
                self.report();
            }
            Control::Queue { tenant, op, reply } => {
                let result = if tenant == self.tenant {
                    let now = self.now();
                    self.engine.queue_op(now, op)
                } else {
                    Err(crate::control::CallOpError::NotFound(format!(
                        "tenant {tenant}"
                    )))
                };
                let _ = reply.send(result);
                self.report();
            }
            Control::ReloadDirectory {
                tenant,
                directory,
                reply,
            } => {
                let result = if tenant == self.tenant {
                    self.reload_directory(*directory);
                    Ok(())
                } else {
                    Err(crate::control::CallOpError::NotFound(format!(
                        "tenant {tenant}"
                    )))
                };
                let _ = reply.send(result);
            }
            Control::ReloadCallCenter {
                tenant,
                reload,
                reply,
            } => {
                let result = if tenant == self.tenant {
                    let now = self.now();
                    let queues = reload.queues.len();
                    self.engine
                        .reconfigure(&mut self.ep, &self.dir, now, *reload);
                    tracing::info!(queues, "call center reloaded");
                    Ok(())
                } else {
                    Err(crate::control::CallOpError::NotFound(format!(
                        "tenant {tenant}"
                    )))
                };
                let _ = reply.send(result);
                self.report();
            }
            Control::SetService {
                tenant,
                extension,
                change,
                reply,
            } => {
                use crate::control::CallOpError;
                let reply_value = if tenant != self.tenant {
                    Err(CallOpError::NotFound(format!("tenant {tenant}")))
                } else {
                    self.apply_service(&extension, &change)
                };
                let _ = reply.send(reply_value);
            }
        }
        self.flush();
    }

    /// Changes an extension's services (CTI, REST, feature codes): directory, store, bus.
    fn apply_service(
        &mut self,
        extension: &str,
        change: &crate::control::ServiceChange,
    ) -> Result<shared_protocol::Services, crate::control::CallOpError> {
        use crate::control::CallOpError;
        crate::calls::check_service_change(extension, change)?;
        let id = self.dir.extension(extension).map(|e| e.id);
        let (extension_id, services) = match (id, self.dir.change_services(extension, change)) {
            (Some(id), Some(services)) => (id, services),
            _ => return Err(CallOpError::NotFound(format!("extension {extension}"))),
        };
        tracing::info!(extension = %extension, ?change, "services changed");
        let _ = self.db.send(Write::Services {
            extension_id,
            services: Box::new(services.clone()),
        });
        let _ = self.bus.send(BusEvent::Services {
            tenant: self.tenant.clone(),
            extension: extension.to_string(),
            services: services.clone(),
        });
        Ok(services)
    }

    /// Swaps in a new configuration; registrations of deleted or renamed accounts end, and
    /// every extension's lamp follows its reachability.
    fn reload_directory(&mut self, d: crate::store::Directory) {
        let (dir, dropped) = self.dir.reloaded(d);
        self.dir = dir;
        for id in &dropped {
            let _ = self.db.send(Write::Unregister(*id));
            self.qualify.forget(*id);
        }
        tracing::info!(
            extensions = self.dir.extensions().len(),
            registrations_dropped = dropped.len(),
            "directory reloaded"
        );
        let extensions: Vec<(String, String)> = self
            .dir
            .extensions()
            .iter()
            .map(|e| (e.number.clone(), e.name.clone()))
            .collect();
        let numbers: Vec<String> = extensions.iter().map(|(n, _)| n.clone()).collect();
        // The CTI hub learns the new set of extensions before their lamps.
        let _ = self.bus.send(BusEvent::Directory {
            tenant: self.tenant.clone(),
            extensions,
        });
        for number in numbers {
            let reachable = self.dir.reachable(&number);
            for change in self.lamps.set_reachable(&self.tenant, &number, reachable) {
                self.on_lamp(change);
            }
        }
        self.publish_status();
    }

    /// Everything the hub needs to start.
    fn state(&self) -> CoreState {
        let mut lamps = Vec::new();
        let mut accounts = Vec::new();
        let mut services = Vec::new();
        for ext in self.dir.extensions() {
            lamps.push(self.lamps.current(&self.tenant, &ext.number));
            for a in self.dir.accounts_of(&ext.number) {
                accounts.push((
                    self.tenant.clone(),
                    ext.number.clone(),
                    account_state(&self.dir, a, self.qualify.latency(a.id)),
                ));
            }
            services.push((
                self.tenant.clone(),
                ext.number.clone(),
                self.dir.services(&ext.number),
            ));
        }
        let mut park_slots = Vec::new();
        for slot in self.engine.park_slots() {
            lamps.push(self.lamps.current(&self.tenant, &slot));
            park_slots.push((self.tenant.clone(), slot));
        }
        let (queues, agents) = self.engine.queue_state(&self.dir, self.now());
        CoreState {
            lamps,
            calls: self.engine.views(),
            park_slots,
            accounts,
            services,
            queues: queues
                .into_iter()
                .map(|q| (self.tenant.clone(), q))
                .collect(),
            agents: agents
                .into_iter()
                .map(|a| (self.tenant.clone(), a))
                .collect(),
        }
    }

    fn reply(&mut self, now: Now, id: TxnId, req: &Request, status: u16, reason: &str) {
        let mut r = Response::for_request(req, status, reason);
        r.set_to_tag(&sip_core::transaction::random_token(10));
        let _ = self.ep.respond(now.mono, id, r);
    }
}

/// The wire form of a device's registration.
fn account_state(
    dir: &Directory,
    account: &crate::directory::Account,
    latency_ms: Option<u32>,
) -> shared_protocol::AccountState {
    let loc = dir.location(account.id);
    shared_protocol::AccountState {
        username: account.username.clone(),
        registered: loc.is_some(),
        address: loc.map(|l| format!("{}:{}", l.source_ip, l.source_port)),
        user_agent: loc.map(|l| l.user_agent.clone()).filter(|u| !u.is_empty()),
        latency_ms: latency_ms.filter(|_| loc.is_some()),
    }
}
