//! The sans-IO CTI session: fed with "connected", frames and "disconnected", it keeps the live
//! state, the login and resume logic and the commands in flight, and is asked what to send.
//! The networked `Client` drives it; tests drive it directly.

use crate::state::LiveState;
use shared_protocol::{ClientMsg, Command, CommandData, CommandId, ErrorCode, Event, ServerMsg};
use std::collections::{HashSet, VecDeque};

/// Login credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Username.
    pub user: String,
    /// Password.
    pub password: String,
    /// Tenant domain (`None`: `default`).
    pub tenant: Option<String>,
}

/// Why a command did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// The server refused it.
    #[error("{code:?}: {message}")]
    Server {
        /// Stable code.
        code: ErrorCode,
        /// The server's explanation.
        message: String,
    },
    /// Not logged in at the moment (reconnecting).
    #[error("not connected to the server")]
    NotConnected,
    /// The connection dropped before the answer; the command may or may not have run.
    #[error("connection lost before the answer")]
    ConnectionLost,
}

/// The outcome of a command.
pub type CommandOutcome = Result<Option<CommandData>, CommandError>;

/// What changed, for the application.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    /// Logged in: `resumed` when the server replayed what was missed (`replayed` events
    /// follow), otherwise a snapshot replaced the state.
    Connected {
        /// Resumed rather than refreshed.
        resumed: bool,
        /// Events replayed.
        replayed: u32,
    },
    /// The state was replaced by a snapshot.
    Snapshot,
    /// One event was applied.
    Event {
        /// Its sequence number.
        seq: u64,
        /// The event.
        event: Event,
    },
    /// The login was refused.
    LoginFailed {
        /// Stable code (`auth_failed`, `rate_limited`, ...).
        code: ErrorCode,
        /// The server's explanation.
        message: String,
    },
    /// The connection is gone; the client reconnects unless the login was refused.
    Disconnected {
        /// Why.
        reason: String,
    },
}

/// Where the session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// No connection.
    Disconnected,
    /// Connected, login sent.
    LoggingIn,
    /// Logged in: state is live.
    Live,
}

/// The session.
#[derive(Debug)]
pub struct Session {
    creds: Credentials,
    phase: Phase,
    state: LiveState,
    /// A snapshot was applied at least once (so a resume makes sense).
    has_state: bool,
    next_id: CommandId,
    pending: HashSet<CommandId>,
    outbox: VecDeque<ClientMsg>,
    updates: VecDeque<Update>,
    completions: VecDeque<(CommandId, CommandOutcome)>,
    /// Wrong credentials: retrying would only feed the server's throttle.
    refused: bool,
}

impl Session {
    /// A session that will log in with `creds`.
    pub fn new(creds: Credentials) -> Session {
        Session {
            creds,
            phase: Phase::Disconnected,
            state: LiveState::default(),
            has_state: false,
            next_id: 1,
            pending: HashSet::new(),
            outbox: VecDeque::new(),
            updates: VecDeque::new(),
            completions: VecDeque::new(),
            refused: false,
        }
    }

    /// The live state.
    pub fn state(&self) -> &LiveState {
        &self.state
    }

    /// Where the session is.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Whether reconnecting makes sense (false once the credentials were refused).
    pub fn should_retry(&self) -> bool {
        !self.refused
    }

    /// A transport connected: log in, resuming from the last seq when there is state.
    pub fn on_connected(&mut self) {
        self.phase = Phase::LoggingIn;
        self.outbox.clear();
        self.outbox.push_back(ClientMsg::Login {
            user: self.creds.user.clone(),
            password: self.creds.password.clone(),
            tenant: self.creds.tenant.clone(),
            resume_from: self.has_state.then_some(self.state.seq),
        });
    }

    /// The transport is gone.
    pub fn on_disconnected(&mut self, reason: &str) {
        if self.phase == Phase::Disconnected {
            return;
        }
        self.phase = Phase::Disconnected;
        self.outbox.clear();
        for id in self.pending.drain() {
            self.completions
                .push_back((id, Err(CommandError::ConnectionLost)));
        }
        self.updates.push_back(Update::Disconnected {
            reason: reason.to_string(),
        });
    }

    /// One text frame from the server. Unreadable frames are logged and skipped (a newer
    /// server may send kinds this client does not know).
    pub fn on_frame(&mut self, text: &str) {
        let msg: ServerMsg = match serde_json::from_str(text) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "unreadable CTI frame skipped");
                return;
            }
        };
        match msg {
            ServerMsg::Snapshot(s) => {
                let first_login = self.phase == Phase::LoggingIn;
                self.state.reset(s);
                self.has_state = true;
                self.phase = Phase::Live;
                if first_login {
                    self.updates.push_back(Update::Connected {
                        resumed: false,
                        replayed: 0,
                    });
                }
                self.updates.push_back(Update::Snapshot);
            }
            ServerMsg::Resumed { replayed, .. } => {
                self.phase = Phase::Live;
                self.updates.push_back(Update::Connected {
                    resumed: true,
                    replayed,
                });
            }
            ServerMsg::Event { seq, event } => {
                if self.phase != Phase::Live || seq <= self.state.seq {
                    // Never apply twice: a duplicate would be a server bug, not a reason to
                    // corrupt the state.
                    return;
                }
                self.state.apply(seq, &event);
                self.updates.push_back(Update::Event { seq, event });
            }
            ServerMsg::Result { id, data } => {
                if self.pending.remove(&id) {
                    self.completions.push_back((id, Ok(data)));
                }
            }
            ServerMsg::Error {
                id: Some(id),
                code,
                message,
            } => {
                if self.pending.remove(&id) {
                    self.completions
                        .push_back((id, Err(CommandError::Server { code, message })));
                }
            }
            ServerMsg::Error {
                id: None,
                code,
                message,
            } => {
                if self.phase == Phase::LoggingIn {
                    if code == ErrorCode::AuthFailed {
                        self.refused = true;
                    }
                    self.updates
                        .push_back(Update::LoginFailed { code, message });
                } else {
                    tracing::warn!(?code, %message, "CTI server error");
                }
            }
            ServerMsg::Ping => self.outbox.push_back(ClientMsg::Pong),
            ServerMsg::Pong => {}
        }
    }

    /// Queues a command; its outcome comes out of `poll_completion` with the returned id.
    pub fn command(&mut self, command: Command) -> Result<CommandId, CommandError> {
        if self.phase != Phase::Live {
            return Err(CommandError::NotConnected);
        }
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        self.pending.insert(id);
        self.outbox.push_back(ClientMsg::Command { id, command });
        Ok(id)
    }

    /// Queues a liveness probe.
    pub fn ping(&mut self) {
        if self.phase != Phase::Disconnected {
            self.outbox.push_back(ClientMsg::Ping);
        }
    }

    /// The next frame to send.
    pub fn poll_transmit(&mut self) -> Option<String> {
        let m = self.outbox.pop_front()?;
        serde_json::to_string(&m).ok()
    }

    /// The next change for the application.
    pub fn poll_update(&mut self) -> Option<Update> {
        self.updates.pop_front()
    }

    /// The next finished command.
    pub fn poll_completion(&mut self) -> Option<(CommandId, CommandOutcome)> {
        self.completions.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn creds() -> Credentials {
        Credentials {
            user: "201".into(),
            password: "demo201".into(),
            tenant: None,
        }
    }

    fn snapshot(seq: u64) -> String {
        json!({"type": "snapshot", "protocol": 1, "seq": seq,
            "user": {"username": "201", "tenant": "default", "extension": "201", "role": "user",
                     "permissions": {"call_control": true, "privacy": false, "supervisor": false}},
            "extensions": [{"number": "202", "name": "Bruno", "lamp": "idle", "peer": null,
                "direction": null, "dnd": false,
                "presence": {"state": "available", "message": null, "effective": "available"},
                "accounts": [], "services": null}],
            "services": null, "calls": [], "history": []})
        .to_string()
    }

    fn lamp(seq: u64, lamp: &str) -> String {
        json!({"type": "event", "seq": seq, "event": {"kind": "lamp", "extension": "202",
            "lamp": lamp, "peer": null, "direction": null}})
        .to_string()
    }

    fn sent(s: &mut Session) -> Vec<serde_json::Value> {
        std::iter::from_fn(|| s.poll_transmit())
            .map(|t| serde_json::from_str(&t).unwrap())
            .collect()
    }

    #[test]
    fn logs_in_applies_events_and_resumes_from_the_last_seq() {
        let mut s = Session::new(creds());
        s.on_connected();
        let login = sent(&mut s);
        assert_eq!(login[0]["type"], "login");
        assert_eq!(login[0]["resume_from"], serde_json::Value::Null);
        s.on_frame(&snapshot(10));
        s.on_frame(&lamp(12, "busy"));
        s.on_frame(&lamp(12, "idle")); // a duplicate is ignored
        assert_eq!(
            s.state().extensions["202"].lamp,
            shared_protocol::Lamp::Busy
        );
        assert_eq!(s.state().seq, 12);
        s.on_disconnected("reset");
        s.on_connected();
        assert_eq!(sent(&mut s)[0]["resume_from"], 12);
        s.on_frame(r#"{"type":"resumed","from":12,"replayed":1}"#);
        s.on_frame(&lamp(15, "idle"));
        assert_eq!(
            s.state().extensions["202"].lamp,
            shared_protocol::Lamp::Idle
        );
        let updates: Vec<Update> = std::iter::from_fn(|| s.poll_update()).collect();
        assert!(updates.contains(&Update::Connected {
            resumed: true,
            replayed: 1
        }));
    }

    #[test]
    fn commands_complete_by_id_and_fail_when_the_connection_drops() {
        let mut s = Session::new(creds());
        assert_eq!(
            s.command(Command::Hangup { call: "1".into() }),
            Err(CommandError::NotConnected)
        );
        s.on_connected();
        s.on_frame(&snapshot(1));
        sent(&mut s);
        let a = s.command(Command::Hangup { call: "1".into() }).unwrap();
        let b = s.command(Command::Hangup { call: "2".into() }).unwrap();
        assert_eq!(sent(&mut s).len(), 2);
        s.on_frame(
            &json!({"type": "error", "id": a, "code": "not_found", "message": "no call"})
                .to_string(),
        );
        assert_eq!(
            s.poll_completion(),
            Some((
                a,
                Err(CommandError::Server {
                    code: ErrorCode::NotFound,
                    message: "no call".into()
                })
            ))
        );
        s.on_disconnected("gone");
        assert_eq!(
            s.poll_completion(),
            Some((b, Err(CommandError::ConnectionLost)))
        );
    }

    #[test]
    fn refused_credentials_stop_the_retries_and_pings_are_answered() {
        let mut s = Session::new(creds());
        s.on_connected();
        sent(&mut s);
        s.on_frame(r#"{"type":"ping"}"#);
        assert_eq!(sent(&mut s)[0]["type"], "pong");
        s.on_frame(
            r#"{"type":"error","id":null,"code":"auth_failed","message":"wrong user or password"}"#,
        );
        assert!(!s.should_retry());
        s.on_frame("garbage"); // skipped, no panic
    }
}
