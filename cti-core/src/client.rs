//! The networked CTI client: one tokio task owns the `Session`, connects (TCP or WebSocket),
//! logs in, resumes after every disconnect with exponential back-off, and answers commands.

use crate::session::{CommandError, CommandOutcome, Credentials, Phase, Session, Update};
use crate::state::LiveState;
use futures_util::{SinkExt, StreamExt};
use shared_protocol::{Command, CommandId, MAX_FRAME};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::codec::{Framed, LinesCodec};

/// First wait before reconnecting.
pub const BACKOFF_MIN: Duration = Duration::from_millis(250);
/// Longest wait between reconnection attempts.
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// Silence after which the client pings.
pub const PING_AFTER: Duration = Duration::from_secs(30);
/// Silence from the server after which the connection counts as dead.
pub const DEAD_AFTER: Duration = Duration::from_secs(90);

/// Where the server is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Server {
    /// `host:port` of the CTI TCP port (JSON lines).
    Tcp(String),
    /// `ws://host:port/cti` (or `wss://`).
    WebSocket(String),
}

/// What the client needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The server.
    pub server: Server,
    /// Who logs in.
    pub credentials: Credentials,
}

/// Receives every change, after it was applied to the state.
pub trait Listener: Send + Sync + 'static {
    /// One change; `state` is the state after it.
    fn on_update(&self, update: &Update, state: &LiveState);
}

enum Request {
    Command(Command, oneshot::Sender<CommandOutcome>),
    Stop,
}

/// A running client. Dropping it stops the connection task.
pub struct Client {
    tx: mpsc::Sender<Request>,
    state: Arc<RwLock<LiveState>>,
    phase: watch::Receiver<Phase>,
}

impl Client {
    /// Starts the client on the current tokio runtime; it connects at once.
    pub fn start(config: Config, listener: Arc<dyn Listener>) -> Client {
        let (tx, rx) = mpsc::channel(64);
        let state = Arc::new(RwLock::new(LiveState::default()));
        let (phase_tx, phase) = watch::channel(Phase::Disconnected);
        let driver = Driver {
            session: Session::new(config.credentials.clone()),
            config,
            listener,
            state: state.clone(),
            phase: phase_tx,
            waiting: HashMap::new(),
        };
        tokio::spawn(driver.run(rx));
        Client { tx, state, phase }
    }

    /// Sends a command and waits for its outcome.
    pub async fn command(&self, command: Command) -> CommandOutcome {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Request::Command(command, tx))
            .await
            .map_err(|_| CommandError::NotConnected)?;
        rx.await.map_err(|_| CommandError::ConnectionLost)?
    }

    /// Call-center agent: joins `queue` as a dynamic member (lower `penalty` rings first, 0
    /// when `None`). `extension` is the agent, the user's own when `None` (another one needs
    /// the supervisor permission). The change arrives as `agent`/`queue` updates.
    pub async fn queue_login(
        &self,
        queue: &str,
        extension: Option<&str>,
        penalty: Option<u32>,
    ) -> Result<(), CommandError> {
        self.command(Command::QueueLogin {
            queue: queue.to_string(),
            extension: extension.map(str::to_string),
            penalty,
        })
        .await
        .map(|_| ())
    }

    /// Call-center agent: leaves `queue` (dynamic members only); `extension` as for
    /// [`Client::queue_login`].
    pub async fn queue_logout(
        &self,
        queue: &str,
        extension: Option<&str>,
    ) -> Result<(), CommandError> {
        self.command(Command::QueueLogout {
            queue: queue.to_string(),
            extension: extension.map(str::to_string),
        })
        .await
        .map(|_| ())
    }

    /// Call-center agent: pauses in `queue`, or in every queue of the agent when `None`, with
    /// an optional `reason` (at most 64 characters); `extension` as for
    /// [`Client::queue_login`].
    pub async fn queue_pause(
        &self,
        queue: Option<&str>,
        extension: Option<&str>,
        reason: Option<&str>,
    ) -> Result<(), CommandError> {
        self.command(Command::QueuePause {
            queue: queue.map(str::to_string),
            extension: extension.map(str::to_string),
            reason: reason.map(str::to_string),
        })
        .await
        .map(|_| ())
    }

    /// Call-center agent: ends the pause in `queue`, or in every queue when `None`;
    /// `extension` as for [`Client::queue_login`].
    pub async fn queue_resume(
        &self,
        queue: Option<&str>,
        extension: Option<&str>,
    ) -> Result<(), CommandError> {
        self.command(Command::QueueResume {
            queue: queue.map(str::to_string),
            extension: extension.map(str::to_string),
        })
        .await
        .map(|_| ())
    }

    /// A copy of the live state.
    pub fn state(&self) -> LiveState {
        self.state.read().map(|s| s.clone()).unwrap_or_default()
    }

    /// Where the session is now.
    pub fn phase(&self) -> Phase {
        *self.phase.borrow()
    }

    /// Waits until the session is live (logged in), at most `limit`; true if it is.
    pub async fn wait_live(&self, limit: Duration) -> bool {
        let mut rx = self.phase.clone();
        tokio::time::timeout(limit, rx.wait_for(|p| *p == Phase::Live))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Stops the connection task.
    pub async fn stop(&self) {
        let _ = self.tx.send(Request::Stop).await;
    }

    /// Waits until the connection task has ended (after `stop`); no listener call follows.
    pub async fn stopped(&self) {
        let mut rx = self.phase.clone();
        // The task owns the sender: the channel closes when it ends.
        while rx.changed().await.is_ok() {}
    }
}

/// One connection, whatever carries it.
pub(crate) enum Conn {
    Tcp(Framed<TcpStream, LinesCodec>),
    Ws(Box<tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>>),
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnError {
    #[error("connect: {0}")]
    Io(#[from] std::io::Error),
    #[error("websocket: {0}")]
    Ws(#[from] tokio_tungstenite::tungstenite::Error),
    #[error("line: {0}")]
    Line(#[from] tokio_util::codec::LinesCodecError),
}

impl Conn {
    pub(crate) async fn open(server: &Server) -> Result<Conn, ConnError> {
        match server {
            Server::Tcp(addr) => {
                let s = TcpStream::connect(addr).await?;
                let _ = s.set_nodelay(true);
                // Snapshots of big tenants exceed MAX_FRAME, which bounds what the server
                // accepts, not what it sends; allow generously more.
                Ok(Conn::Tcp(Framed::new(
                    s,
                    LinesCodec::new_with_max_length(MAX_FRAME * 256),
                )))
            }
            Server::WebSocket(url) => {
                let (ws, _) = tokio_tungstenite::connect_async(url.as_str()).await?;
                Ok(Conn::Ws(Box::new(ws)))
            }
        }
    }

    pub(crate) async fn send(&mut self, text: String) -> Result<(), ConnError> {
        match self {
            Conn::Tcp(f) => Ok(f.send(text).await?),
            Conn::Ws(ws) => Ok(ws.send(Message::Text(text.into())).await?),
        }
    }

    /// The next text frame; `None` when the connection closed.
    pub(crate) async fn recv(&mut self) -> Option<Result<String, ConnError>> {
        loop {
            match self {
                Conn::Tcp(f) => return f.next().await.map(|r| r.map_err(ConnError::from)),
                Conn::Ws(ws) => match ws.next().await? {
                    Ok(Message::Text(t)) => return Some(Ok(t.to_string())),
                    Ok(Message::Close(_)) => return None,
                    Ok(_) => continue,
                    Err(e) => return Some(Err(e.into())),
                },
            }
        }
    }
}

struct Driver {
    config: Config,
    session: Session,
    listener: Arc<dyn Listener>,
    state: Arc<RwLock<LiveState>>,
    phase: watch::Sender<Phase>,
    waiting: HashMap<CommandId, oneshot::Sender<CommandOutcome>>,
}

impl Driver {
    async fn run(mut self, mut rx: mpsc::Receiver<Request>) {
        let mut backoff = BACKOFF_MIN;
        loop {
            let reason = match Conn::open(&self.config.server).await {
                Ok(conn) => {
                    let (reason, was_live) = self.serve(conn, &mut rx).await;
                    if was_live {
                        backoff = BACKOFF_MIN;
                    }
                    match reason {
                        Some(r) => r,
                        None => return, // stopped
                    }
                }
                Err(e) => e.to_string(),
            };
            self.session.on_disconnected(&reason);
            self.publish();
            if !self.session.should_retry() {
                tracing::warn!("CTI login refused; not reconnecting");
                // Keep answering commands until the application drops or stops us.
                while let Some(req) = rx.recv().await {
                    match req {
                        Request::Command(_, reply) => {
                            let _ = reply.send(Err(CommandError::NotConnected));
                        }
                        Request::Stop => return,
                    }
                }
                return;
            }
            // Jitter spreads the reconnections of many clients after a server restart.
            let jitter = rand::random::<f64>() * 0.5 + 0.75;
            let wait = backoff.mul_f64(jitter);
            backoff = (backoff * 2).min(BACKOFF_MAX);
            let sleep = tokio::time::sleep(wait);
            tokio::pin!(sleep);
            loop {
                tokio::select! {
                    _ = &mut sleep => break,
                    req = rx.recv() => match req {
                        Some(Request::Command(_, reply)) => {
                            let _ = reply.send(Err(CommandError::NotConnected));
                        }
                        Some(Request::Stop) | None => return,
                    },
                }
            }
        }
    }

    /// Runs one connection. Returns why it ended (`None`: stopped) and whether it got live.
    async fn serve(
        &mut self,
        mut conn: Conn,
        rx: &mut mpsc::Receiver<Request>,
    ) -> (Option<String>, bool) {
        self.session.on_connected();
        let mut was_live = false;
        let mut last_in = tokio::time::Instant::now();
        let mut last_out = tokio::time::Instant::now();
        loop {
            while let Some(frame) = self.session.poll_transmit() {
                if let Err(e) = conn.send(frame).await {
                    return (Some(e.to_string()), was_live);
                }
                last_out = tokio::time::Instant::now();
            }
            self.publish();
            was_live |= self.session.phase() == Phase::Live;
            if !self.session.should_retry() {
                return (Some("login refused".into()), was_live);
            }
            let ping_at = last_out + PING_AFTER;
            let dead_at = last_in + DEAD_AFTER;
            tokio::select! {
                frame = conn.recv() => match frame {
                    Some(Ok(text)) => {
                        last_in = tokio::time::Instant::now();
                        self.session.on_frame(&text);
                    }
                    Some(Err(e)) => return (Some(e.to_string()), was_live),
                    None => return (Some("closed by the server".into()), was_live),
                },
                req = rx.recv() => match req {
                    Some(Request::Command(command, reply)) => match self.session.command(command) {
                        Ok(id) => {
                            self.waiting.insert(id, reply);
                        }
                        Err(e) => {
                            let _ = reply.send(Err(e));
                        }
                    },
                    Some(Request::Stop) | None => return (None, was_live),
                },
                _ = tokio::time::sleep_until(ping_at.min(dead_at)) => {
                    if tokio::time::Instant::now() >= dead_at {
                        return (Some("server silent".into()), was_live);
                    }
                    self.session.ping();
                }
            }
        }
    }

    /// Hands updates and finished commands to the application.
    fn publish(&mut self) {
        let mut updates = Vec::new();
        while let Some(u) = self.session.poll_update() {
            updates.push(u);
        }
        if !updates.is_empty() {
            if let Ok(mut s) = self.state.write() {
                *s = self.session.state().clone();
            }
            for u in &updates {
                self.listener.on_update(u, self.session.state());
            }
        }
        // After the state: whoever waits for `Live` finds the snapshot in place.
        self.phase.send_if_modified(|p| {
            let now = self.session.phase();
            let changed = *p != now;
            *p = now;
            changed
        });
        while let Some((id, outcome)) = self.session.poll_completion() {
            if let Some(reply) = self.waiting.remove(&id) {
                let _ = reply.send(outcome);
            }
        }
    }
}
