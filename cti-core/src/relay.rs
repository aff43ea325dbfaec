//! The CTI relay of the desktop app: the web UI runs its own session (login, resume, pings)
//! over frames that this relay carries to the server, while the relay watches the same frames
//! to keep a [`LiveState`] and slips in commands of its own (the local HTTP API, automatic
//! actions). One connection, one login, one picture of the state for the UI and for Rust.
//!
//! [`Relay`] is the sans-IO part: fed with "connected", frames from the UI, frames from the
//! server and "disconnected", it says what to send where. Every command on the wire gets an id
//! chosen by the relay, so the UI's ids and the relay's own never collide; answers go back to
//! whoever asked, with the UI's id restored. [`RelayHandle`] is the tokio task around it.

use crate::client::{Conn, Listener, Server};
use crate::session::{CommandError, CommandOutcome, Phase, Update};
use crate::state::LiveState;
use shared_protocol::{ClientMsg, Command, CommandId, ServerMsg};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, RwLock};
use tokio::sync::{mpsc, oneshot, watch};

/// Who asked for a command on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Asker {
    /// The UI, with its own id.
    Ui(CommandId),
    /// The relay's user (local API), with the id `Relay::command` returned.
    Local(CommandId),
}

/// The sans-IO relay.
#[derive(Debug, Default)]
pub struct Relay {
    phase: Option<Phase>,
    state: LiveState,
    next_wire: CommandId,
    next_local: CommandId,
    asked: HashMap<CommandId, Asker>,
    to_server: VecDeque<String>,
    to_ui: VecDeque<String>,
    updates: VecDeque<Update>,
    completions: VecDeque<(CommandId, CommandOutcome)>,
}

impl Relay {
    /// A relay with no connection yet.
    pub fn new() -> Relay {
        Relay::default()
    }

    /// Where the UI's session is, as seen from its frames.
    pub fn phase(&self) -> Phase {
        self.phase.unwrap_or(Phase::Disconnected)
    }

    /// The state the frames built (kept across connections: a resume continues it).
    pub fn state(&self) -> &LiveState {
        &self.state
    }

    /// A connection to the server is up; the UI logs in over it.
    pub fn on_connected(&mut self) {
        self.phase = Some(Phase::LoggingIn);
        // Whatever was queued belonged to the previous connection.
        self.to_server.clear();
        self.to_ui.clear();
    }

    /// The connection is gone: commands in flight may or may not have run.
    pub fn on_disconnected(&mut self, reason: &str) {
        if self.phase() == Phase::Disconnected {
            return;
        }
        self.phase = Some(Phase::Disconnected);
        self.to_server.clear();
        for (_, asker) in self.asked.drain() {
            if let Asker::Local(id) = asker {
                self.completions
                    .push_back((id, Err(CommandError::ConnectionLost)));
            }
        }
        self.updates.push_back(Update::Disconnected {
            reason: reason.to_string(),
        });
    }

    fn wire_id(&mut self) -> CommandId {
        loop {
            self.next_wire = self.next_wire.wrapping_add(1).max(1);
            if !self.asked.contains_key(&self.next_wire) {
                return self.next_wire;
            }
        }
    }

    /// A frame from the UI. Commands get a wire id; anything unreadable is passed on as it is
    /// (the server answers it with `bad_request`, as it would the browser).
    pub fn from_ui(&mut self, text: &str) {
        if self.phase() == Phase::Disconnected {
            return;
        }
        match serde_json::from_str::<ClientMsg>(text) {
            Ok(ClientMsg::Command { id, command }) => {
                let wire = self.wire_id();
                self.asked.insert(wire, Asker::Ui(id));
                self.push_server(&ClientMsg::Command { id: wire, command });
            }
            _ => self.to_server.push_back(text.to_string()),
        }
    }

    fn push_server(&mut self, msg: &ClientMsg) {
        if let Ok(t) = serde_json::to_string(msg) {
            self.to_server.push_back(t);
        }
    }

    fn push_ui(&mut self, msg: &ServerMsg) {
        if let Ok(t) = serde_json::to_string(msg) {
            self.to_ui.push_back(t);
        }
    }

    /// A frame from the server: applied to the state, then passed to the UI, except the
    /// answers to the relay's own commands.
    pub fn from_server(&mut self, text: &str) {
        let msg: ServerMsg = match serde_json::from_str(text) {
            Ok(m) => m,
            Err(e) => {
                // A newer server's frame: the UI decides what to do with it.
                tracing::debug!(error = %e, "relay: frame not understood, passed on");
                self.to_ui.push_back(text.to_string());
                return;
            }
        };
        match msg {
            ServerMsg::Snapshot(s) => {
                let first = self.phase() == Phase::LoggingIn;
                self.state.reset(s);
                self.phase = Some(Phase::Live);
                if first {
                    self.updates.push_back(Update::Connected {
                        resumed: false,
                        replayed: 0,
                    });
                }
                self.updates.push_back(Update::Snapshot);
                self.to_ui.push_back(text.to_string());
            }
            ServerMsg::Resumed { replayed, .. } => {
                self.phase = Some(Phase::Live);
                self.updates.push_back(Update::Connected {
                    resumed: true,
                    replayed,
                });
                self.to_ui.push_back(text.to_string());
            }
            ServerMsg::Event { seq, ref event } => {
                if self.phase() == Phase::Live && seq > self.state.seq {
                    self.state.apply(seq, event);
                    self.updates.push_back(Update::Event {
                        seq,
                        event: event.clone(),
                    });
                }
                self.to_ui.push_back(text.to_string());
            }
            ServerMsg::Result { id, data } => match self.asked.remove(&id) {
                Some(Asker::Ui(ui)) => self.push_ui(&ServerMsg::Result { id: ui, data }),
                Some(Asker::Local(local)) => self.completions.push_back((local, Ok(data))),
                None => tracing::debug!(id, "relay: result for no command"),
            },
            ServerMsg::Error {
                id: Some(id),
                code,
                message,
            } => match self.asked.remove(&id) {
                Some(Asker::Ui(ui)) => self.push_ui(&ServerMsg::Error {
                    id: Some(ui),
                    code,
                    message,
                }),
                Some(Asker::Local(local)) => self
                    .completions
                    .push_back((local, Err(CommandError::Server { code, message }))),
                None => tracing::debug!(id, "relay: error for no command"),
            },
            ServerMsg::Error {
                id: None,
                code,
                ref message,
            } => {
                if self.phase() == Phase::LoggingIn {
                    self.updates.push_back(Update::LoginFailed {
                        code,
                        message: message.clone(),
                    });
                }
                self.to_ui.push_back(text.to_string());
            }
            ServerMsg::Ping | ServerMsg::Pong => self.to_ui.push_back(text.to_string()),
        }
    }

    /// Queues a command of the relay's own; its outcome comes out of `poll_completion` with
    /// the returned id. Only while the UI's session is live.
    pub fn command(&mut self, command: Command) -> Result<CommandId, CommandError> {
        if self.phase() != Phase::Live {
            return Err(CommandError::NotConnected);
        }
        self.next_local = self.next_local.wrapping_add(1).max(1);
        let local = self.next_local;
        let wire = self.wire_id();
        self.asked.insert(wire, Asker::Local(local));
        self.push_server(&ClientMsg::Command { id: wire, command });
        Ok(local)
    }

    /// The next frame for the server.
    pub fn poll_to_server(&mut self) -> Option<String> {
        self.to_server.pop_front()
    }

    /// The next frame for the UI.
    pub fn poll_to_ui(&mut self) -> Option<String> {
        self.to_ui.pop_front()
    }

    /// The next change of the state.
    pub fn poll_update(&mut self) -> Option<Update> {
        self.updates.pop_front()
    }

    /// The next finished command of the relay's own.
    pub fn poll_completion(&mut self) -> Option<(CommandId, CommandOutcome)> {
        self.completions.pop_front()
    }
}

/// Where the frames of one UI connection go.
pub trait FrameSink: Send + Sync + 'static {
    /// The link is up: the UI sends its `login` now.
    fn opened(&self);
    /// One frame from the server, as text.
    fn frame(&self, text: String);
    /// The link is gone (`was_open` false: it never came up). Nothing follows.
    fn closed(&self, was_open: bool, reason: String);
}

/// Identifies one connection opened with [`RelayHandle::open`].
pub type ConnId = u64;

enum Request {
    Open(ConnId, Server, Arc<dyn FrameSink>),
    FromUi(ConnId, String),
    Close(ConnId),
    Command(Command, oneshot::Sender<CommandOutcome>),
}

/// The running relay: one tokio task owns the [`Relay`] and at most one server connection at a
/// time (opening a new one closes the old one, as the UI does on every reconnect).
#[derive(Clone)]
pub struct RelayHandle {
    tx: mpsc::Sender<Request>,
    state: Arc<RwLock<LiveState>>,
    phase: watch::Receiver<Phase>,
    next_conn: Arc<std::sync::atomic::AtomicU64>,
}

impl RelayHandle {
    /// Starts the relay task on the current tokio runtime. `listener` hears every change.
    pub fn start(listener: Arc<dyn Listener>) -> RelayHandle {
        let (tx, rx) = mpsc::channel(256);
        let state = Arc::new(RwLock::new(LiveState::default()));
        let (phase_tx, phase) = watch::channel(Phase::Disconnected);
        let task = RelayTask {
            relay: Relay::new(),
            listener,
            state: state.clone(),
            phase: phase_tx,
            waiting: HashMap::new(),
        };
        tokio::spawn(task.run(rx));
        RelayHandle {
            tx,
            state,
            phase,
            next_conn: Arc::new(std::sync::atomic::AtomicU64::new(1)),
        }
    }

    /// Opens a connection to `server` for the UI; the sink hears it. Replaces any other.
    pub async fn open(&self, server: Server, sink: Arc<dyn FrameSink>) -> ConnId {
        let id = self
            .next_conn
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Err(mpsc::error::SendError(Request::Open(_, _, sink))) =
            self.tx.send(Request::Open(id, server, sink)).await
        {
            sink.closed(false, "the relay has stopped".into());
        }
        id
    }

    /// A frame from the UI for connection `conn` (dropped if that one is gone).
    pub async fn send(&self, conn: ConnId, text: String) {
        let _ = self.tx.send(Request::FromUi(conn, text)).await;
    }

    /// Closes connection `conn`; its sink hears nothing more.
    pub async fn close(&self, conn: ConnId) {
        let _ = self.tx.send(Request::Close(conn)).await;
    }

    /// Runs a command over the UI's live session.
    pub async fn command(&self, command: Command) -> CommandOutcome {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Request::Command(command, tx))
            .await
            .map_err(|_| CommandError::NotConnected)?;
        rx.await.map_err(|_| CommandError::ConnectionLost)?
    }

    /// A copy of the live state.
    pub fn state(&self) -> LiveState {
        self.state.read().map(|s| s.clone()).unwrap_or_default()
    }

    /// Where the UI's session is.
    pub fn phase(&self) -> Phase {
        *self.phase.borrow()
    }

    /// Waits until the UI's session is live, at most `limit`; true if it is.
    pub async fn wait_live(&self, limit: std::time::Duration) -> bool {
        let mut rx = self.phase.clone();
        tokio::time::timeout(limit, rx.wait_for(|p| *p == Phase::Live))
            .await
            .is_ok_and(|r| r.is_ok())
    }
}

struct Current {
    id: ConnId,
    sink: Arc<dyn FrameSink>,
    /// Frames for the server, to the connection's writer task.
    out: mpsc::UnboundedSender<String>,
    task: tokio::task::JoinHandle<()>,
}

enum Inbound {
    Opened(ConnId),
    Frame(ConnId, String),
    Closed(ConnId, bool, String),
}

struct RelayTask {
    relay: Relay,
    listener: Arc<dyn Listener>,
    state: Arc<RwLock<LiveState>>,
    phase: watch::Sender<Phase>,
    waiting: HashMap<CommandId, oneshot::Sender<CommandOutcome>>,
}

impl RelayTask {
    async fn run(mut self, mut rx: mpsc::Receiver<Request>) {
        let (in_tx, mut in_rx) = mpsc::unbounded_channel::<Inbound>();
        let mut current: Option<Current> = None;
        loop {
            tokio::select! {
                req = rx.recv() => match req {
                    None => {
                        if let Some(c) = current.take() {
                            c.task.abort();
                        }
                        return;
                    }
                    Some(Request::Open(id, server, sink)) => {
                        if let Some(c) = current.take() {
                            c.task.abort();
                            self.relay.on_disconnected("replaced by a new connection");
                        }
                        let (out, out_rx) = mpsc::unbounded_channel();
                        let task = tokio::spawn(connection(id, server, out_rx, in_tx.clone()));
                        current = Some(Current { id, sink, out, task });
                    }
                    Some(Request::FromUi(id, text)) => {
                        if current.as_ref().is_some_and(|c| c.id == id) {
                            self.relay.from_ui(&text);
                        }
                    }
                    Some(Request::Close(id)) => {
                        if current.as_ref().is_some_and(|c| c.id == id) {
                            if let Some(c) = current.take() {
                                c.task.abort();
                            }
                            self.relay.on_disconnected("closed by the UI");
                        }
                    }
                    Some(Request::Command(command, reply)) => match self.relay.command(command) {
                        Ok(id) => {
                            self.waiting.insert(id, reply);
                        }
                        Err(e) => {
                            let _ = reply.send(Err(e));
                        }
                    },
                },
                Some(inbound) = in_rx.recv() => match inbound {
                    Inbound::Opened(id) => {
                        if let Some(c) = current.as_ref().filter(|c| c.id == id) {
                            self.relay.on_connected();
                            c.sink.opened();
                        }
                    }
                    Inbound::Frame(id, text) => {
                        if current.as_ref().is_some_and(|c| c.id == id) {
                            self.relay.from_server(&text);
                        }
                    }
                    Inbound::Closed(id, was_open, reason) => {
                        if current.as_ref().is_some_and(|c| c.id == id) {
                            if let Some(c) = current.take() {
                                self.relay.on_disconnected(&reason);
                                // Frames already read go to the UI before the close.
                                while let Some(t) = self.relay.poll_to_ui() {
                                    c.sink.frame(t);
                                }
                                c.sink.closed(was_open, reason);
                            }
                        }
                    }
                },
            }
            if let Some(c) = &current {
                while let Some(t) = self.relay.poll_to_server() {
                    let _ = c.out.send(t);
                }
                while let Some(t) = self.relay.poll_to_ui() {
                    c.sink.frame(t);
                }
            }
            self.publish();
        }
    }

    fn publish(&mut self) {
        let mut updates = Vec::new();
        while let Some(u) = self.relay.poll_update() {
            updates.push(u);
        }
        if !updates.is_empty() {
            if let Ok(mut s) = self.state.write() {
                *s = self.relay.state().clone();
            }
            for u in &updates {
                self.listener.on_update(u, self.relay.state());
            }
        }
        self.phase.send_if_modified(|p| {
            let now = self.relay.phase();
            let changed = *p != now;
            *p = now;
            changed
        });
        while let Some((id, outcome)) = self.relay.poll_completion() {
            if let Some(reply) = self.waiting.remove(&id) {
                let _ = reply.send(outcome);
            }
        }
    }
}

/// One server connection: reads frames into the relay task, writes what it is given.
async fn connection(
    id: ConnId,
    server: Server,
    mut out: mpsc::UnboundedReceiver<String>,
    inbound: mpsc::UnboundedSender<Inbound>,
) {
    let mut conn = match Conn::open(&server).await {
        Ok(c) => c,
        Err(e) => {
            let _ = inbound.send(Inbound::Closed(id, false, e.to_string()));
            return;
        }
    };
    let _ = inbound.send(Inbound::Opened(id));
    let reason = loop {
        tokio::select! {
            frame = conn.recv() => match frame {
                Some(Ok(text)) => {
                    let _ = inbound.send(Inbound::Frame(id, text));
                }
                Some(Err(e)) => break e.to_string(),
                None => break "closed by the server".to_string(),
            },
            text = out.recv() => match text {
                Some(t) => {
                    if let Err(e) = conn.send(t).await {
                        break e.to_string();
                    }
                }
                None => return,
            },
        }
    };
    let _ = inbound.send(Inbound::Closed(id, true, reason));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn snapshot(seq: u64) -> String {
        json!({"type": "snapshot", "protocol": 3, "seq": seq,
            "user": {"username": "201", "tenant": "default", "extension": "201", "role": "user",
                     "permissions": {"call_control": true, "privacy": false, "supervisor": false}},
            "extensions": [{"number": "202", "name": "Bruno", "lamp": "idle", "peer": null,
                "direction": null, "dnd": false,
                "presence": {"state": "available", "message": null, "effective": "available"},
                "accounts": [], "services": null}],
            "services": null, "calls": [], "history": []})
        .to_string()
    }

    fn drain(f: impl FnMut() -> Option<String>) -> Vec<Value> {
        std::iter::from_fn(f)
            .map(|t| serde_json::from_str(&t).unwrap())
            .collect()
    }

    #[test]
    fn passes_the_ui_session_through_and_keeps_the_state() {
        let mut r = Relay::new();
        r.on_connected();
        r.from_ui(r#"{"type":"login","user":"201","password":"x","resume_from":null}"#);
        assert_eq!(drain(|| r.poll_to_server())[0]["type"], "login");
        r.from_server(&snapshot(5));
        assert_eq!(r.phase(), Phase::Live);
        r.from_server(
            &json!({"type": "event", "seq": 6, "event": {"kind": "lamp", "extension": "202",
                "lamp": "busy", "peer": null, "direction": null}})
            .to_string(),
        );
        r.from_server(r#"{"type":"ping"}"#);
        let ui = drain(|| r.poll_to_ui());
        assert_eq!(
            ui.iter().map(|f| f["type"].clone()).collect::<Vec<_>>(),
            ["snapshot", "event", "ping"]
        );
        assert_eq!(
            r.state().extensions["202"].lamp,
            shared_protocol::Lamp::Busy
        );
        // The state survives a reconnect; the UI resumes and replayed events apply on top.
        r.on_disconnected("reset");
        r.on_connected();
        r.from_server(r#"{"type":"resumed","from":6,"replayed":1}"#);
        r.from_server(
            &json!({"type": "event", "seq": 7, "event": {"kind": "lamp", "extension": "202",
                "lamp": "idle", "peer": null, "direction": null}})
            .to_string(),
        );
        assert_eq!(r.state().seq, 7);
        assert_eq!(
            r.state().extensions["202"].lamp,
            shared_protocol::Lamp::Idle
        );
    }

    #[test]
    fn ui_and_own_commands_get_distinct_wire_ids_and_their_own_answers() {
        let mut r = Relay::new();
        assert_eq!(
            r.command(Command::SetDnd {
                extension: None,
                enabled: true
            }),
            Err(CommandError::NotConnected)
        );
        r.on_connected();
        r.from_server(&snapshot(1));
        drain(|| r.poll_to_ui());
        // The UI uses id 1; so would a naive local counter.
        r.from_ui(r#"{"type":"command","id":1,"command":{"name":"hangup","call":"a"}}"#);
        let local = r
            .command(Command::SetDnd {
                extension: None,
                enabled: true,
            })
            .unwrap();
        let sent = drain(|| r.poll_to_server());
        let (w_ui, w_local) = (
            sent[0]["id"].as_u64().unwrap(),
            sent[1]["id"].as_u64().unwrap(),
        );
        assert_ne!(w_ui, w_local);
        assert_eq!(sent[1]["command"]["name"], "set_dnd");
        r.from_server(&json!({"type": "result", "id": w_local, "data": null}).to_string());
        r.from_server(
            &json!({"type": "error", "id": w_ui, "code": "not_found", "message": "no call"})
                .to_string(),
        );
        assert_eq!(r.poll_completion(), Some((local, Ok(None))));
        let ui = drain(|| r.poll_to_ui());
        assert_eq!(ui.len(), 1, "the local answer never reaches the UI: {ui:?}");
        assert_eq!(ui[0]["id"], 1);
        assert_eq!(ui[0]["code"], "not_found");
    }

    #[test]
    fn own_commands_in_flight_fail_when_the_link_drops() {
        let mut r = Relay::new();
        r.on_connected();
        r.from_server(&snapshot(1));
        let local = r
            .command(Command::QueuePause {
                queue: None,
                extension: None,
                reason: None,
            })
            .unwrap();
        r.on_disconnected("gone");
        assert_eq!(
            r.poll_completion(),
            Some((local, Err(CommandError::ConnectionLost)))
        );
        assert_eq!(r.phase(), Phase::Disconnected);
        // Garbage from the server goes to the UI unchanged, without a panic.
        r.on_connected();
        r.from_server("{not json");
        assert_eq!(r.poll_to_ui().as_deref(), Some("{not json"));
    }
}
