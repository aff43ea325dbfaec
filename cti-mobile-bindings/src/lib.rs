//! uniffi facade over `cti-core` for the mobile apps (Kotlin, Swift) and the Python tests.
//! One-line forwards only: an object wrapping the client, async methods, a foreign listener
//! interface, one flat error enum. No logic lives here.

use cti_core::{Client, Config, Credentials, LiveState, Server, Update};
use shared_protocol::Command;
mod phone;
pub use phone::{SoftPhone, SoftPhoneListener};

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

uniffi::setup_scaffolding!();

/// The runtime the client tasks run on (foreign callers have none).
pub(crate) fn runtime() -> Option<&'static tokio::runtime::Runtime> {
    static RT: OnceLock<Option<tokio::runtime::Runtime>> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("cti-core")
            .enable_all()
            .build()
            .ok()
    })
    .as_ref()
}

/// Why a call failed.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum CtiError {
    /// The server refused the command (`code` is the protocol's stable error code).
    #[error("{code}: {message}")]
    Server {
        /// Stable code, e.g. `permission_denied`.
        code: String,
        /// Explanation.
        message: String,
    },
    /// Not logged in at the moment (reconnecting).
    #[error("not connected")]
    NotConnected,
    /// The connection dropped before the answer.
    #[error("connection lost")]
    ConnectionLost,
    /// Bad arguments or no runtime.
    #[error("{0}")]
    Invalid(String),
}

impl From<cti_core::CommandError> for CtiError {
    fn from(e: cti_core::CommandError) -> CtiError {
        match e {
            cti_core::CommandError::Server { code, message } => CtiError::Server {
                code: serde_code(code),
                message,
            },
            cti_core::CommandError::NotConnected => CtiError::NotConnected,
            cti_core::CommandError::ConnectionLost => CtiError::ConnectionLost,
        }
    }
}

/// The wire name of a code (`permission_denied`).
fn serde_code(code: shared_protocol::ErrorCode) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{code:?}"))
}

/// One extension as a lamp field shows it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ExtensionLamp {
    /// Extension number.
    pub number: String,
    /// Display name.
    pub name: String,
    /// `idle`, `ringing`, `busy`, `hold` or `unavailable`.
    pub lamp: String,
    /// Who it talks to, when visible.
    pub peer: Option<String>,
    /// Do not disturb.
    pub dnd: bool,
}

/// The user's own membership of one queue (call-center agent).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AgentQueue {
    /// Queue number.
    pub queue: String,
    /// `free`, `ringing`, `talking`, `wrapup`, `paused` or `unavailable`.
    pub state: String,
    /// Whether the agent is paused in this queue.
    pub paused: bool,
    /// The pause's reason, if any.
    pub pause_reason: Option<String>,
    /// Joined by log-in (may log out) rather than configured.
    pub dynamic: bool,
}

/// Receives changes on a client thread; keep the work short.
#[uniffi::export(with_foreign)]
pub trait CtiListener: Send + Sync {
    /// Logged in (`resumed`: the missed events were replayed) or disconnected.
    fn on_connection(&self, live: bool, resumed: bool);
    /// An extension's lamp changed.
    fn on_lamp(&self, lamp: ExtensionLamp);
}

struct Forward(Arc<dyn CtiListener>);

fn lamp_of(state: &LiveState, number: &str) -> Option<ExtensionLamp> {
    let e = state.extensions.get(number)?;
    Some(ExtensionLamp {
        number: e.number.clone(),
        name: e.name.clone(),
        lamp: serde_json::to_value(e.lamp)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        peer: e.peer.as_ref().map(|p| p.number.clone()),
        dnd: e.dnd,
    })
}

impl cti_core::Listener for Forward {
    fn on_update(&self, update: &Update, state: &LiveState) {
        match update {
            Update::Connected { resumed, .. } => self.0.on_connection(true, *resumed),
            Update::Disconnected { .. } => self.0.on_connection(false, false),
            Update::Event {
                event: shared_protocol::Event::Lamp { extension, .. },
                ..
            } => {
                if let Some(l) = lamp_of(state, extension) {
                    self.0.on_lamp(l);
                }
            }
            _ => {}
        }
    }
}

/// A CTI session: connects at once and stays connected (resuming after every disconnect).
#[derive(uniffi::Object)]
pub struct CtiSession {
    client: Client,
    push_token: Mutex<Option<String>>,
}

#[uniffi::export(async_runtime = "tokio")]
impl CtiSession {
    /// Connects to `server` (`host:port` of the CTI TCP port, or a `ws://…/cti` URL).
    #[uniffi::constructor]
    pub fn connect(
        server: String,
        user: String,
        password: String,
        listener: Arc<dyn CtiListener>,
    ) -> Result<Arc<CtiSession>, CtiError> {
        let rt = runtime().ok_or_else(|| CtiError::Invalid("no runtime".into()))?;
        let server = if server.starts_with("ws://") || server.starts_with("wss://") {
            Server::WebSocket(server)
        } else {
            Server::Tcp(server)
        };
        let _guard = rt.enter();
        let client = Client::start(
            Config {
                server,
                credentials: Credentials {
                    user,
                    password,
                    tenant: None,
                },
            },
            Arc::new(Forward(listener)),
        );
        Ok(Arc::new(CtiSession {
            client,
            push_token: Mutex::new(None),
        }))
    }

    /// Waits until logged in, at most `timeout_ms`.
    pub async fn wait_live(&self, timeout_ms: u64) -> bool {
        self.client
            .wait_live(Duration::from_millis(timeout_ms))
            .await
    }

    /// Closes the connection for good; no listener call follows once this returns.
    pub async fn stop(&self) {
        self.client.stop().await;
        self.client.stopped().await;
    }

    /// Every extension's lamp.
    pub fn lamps(&self) -> Vec<ExtensionLamp> {
        let s = self.client.state();
        s.extensions.keys().filter_map(|n| lamp_of(&s, n)).collect()
    }

    /// Click-to-call: rings the user's phone, then `number`. Returns the call id.
    pub async fn dial(&self, number: String) -> Result<String, CtiError> {
        match self.client.command(Command::Dial { number }).await? {
            Some(shared_protocol::CommandData::Call { call }) => Ok(call),
            _ => Err(CtiError::Invalid("no call id in the answer".into())),
        }
    }

    /// Ends a call.
    pub async fn hangup(&self, call: String) -> Result<(), CtiError> {
        self.client.command(Command::Hangup { call }).await?;
        Ok(())
    }

    /// Turns do-not-disturb on the user's extension on or off.
    pub async fn set_dnd(&self, enabled: bool) -> Result<(), CtiError> {
        self.client
            .command(Command::SetDnd {
                extension: None,
                enabled,
            })
            .await?;
        Ok(())
    }

    /// The user's own queues as an agent (empty when not an agent).
    pub fn agent_queues(&self) -> Vec<AgentQueue> {
        let s = self.client.state();
        let own = s.user.as_ref().and_then(|u| u.extension.clone());
        own.and_then(|e| s.agents.get(&e).cloned())
            .map(|a| {
                a.queues
                    .into_iter()
                    .map(|q| AgentQueue {
                        queue: q.queue,
                        state: serde_json::to_value(q.state)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_default(),
                        paused: q.paused.is_some(),
                        pause_reason: q.paused.and_then(|p| p.reason),
                        dynamic: q.dynamic,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Joins `queue` as a dynamic member (`penalty`: lower rings first, 0 when absent).
    pub async fn queue_login(&self, queue: String, penalty: Option<u32>) -> Result<(), CtiError> {
        Ok(self.client.queue_login(&queue, None, penalty).await?)
    }

    /// Leaves `queue` (dynamic members only).
    pub async fn queue_logout(&self, queue: String) -> Result<(), CtiError> {
        Ok(self.client.queue_logout(&queue, None).await?)
    }

    /// Pauses in `queue`, or in every queue when absent, with an optional reason.
    pub async fn queue_pause(
        &self,
        queue: Option<String>,
        reason: Option<String>,
    ) -> Result<(), CtiError> {
        Ok(self
            .client
            .queue_pause(queue.as_deref(), None, reason.as_deref())
            .await?)
    }

    /// Ends the pause in `queue`, or in every queue when absent.
    pub async fn queue_resume(&self, queue: Option<String>) -> Result<(), CtiError> {
        Ok(self.client.queue_resume(queue.as_deref(), None).await?)
    }

    /// Hook for push notifications: the app hands over its FCM/APNs token. Kept here until
    /// the PBX side of push exists (a later issue); `push_token` reads it back.
    pub fn register_push_token(&self, token: String) {
        if let Ok(mut t) = self.push_token.lock() {
            *t = Some(token);
        }
    }

    /// The token given to `register_push_token`.
    pub fn push_token(&self) -> Option<String> {
        self.push_token.lock().ok().and_then(|t| t.clone())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn error_codes_use_the_wire_names() {
        assert_eq!(
            super::serde_code(shared_protocol::ErrorCode::PermissionDenied),
            "permission_denied"
        );
        assert_eq!(
            super::serde_code(shared_protocol::ErrorCode::NotFound),
            "not_found"
        );
    }
}
