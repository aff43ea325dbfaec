//! One client connection, whatever carries it (WebSocket, TCP, TLS): login, then live frames
//! out and commands in. Transports give it a channel of incoming text frames and a sink.

use super::commands;
use super::hub::{frame, Frame, Hub};
use super::view::Viewer;
use shared_protocol::{ClientMsg, ErrorCode, ServerMsg, MAX_FRAME};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Silence after which the server pings.
pub const PING_AFTER: Duration = Duration::from_secs(30);
/// Silence from the client after which it is disconnected.
pub const IDLE_LIMIT: Duration = Duration::from_secs(90);
/// Commands of one connection in flight at once; more wait (the client is reading slowly
/// or flooding).
const COMMANDS_IN_FLIGHT: usize = 32;

/// An incoming frame, or why it could not be read.
#[derive(Debug)]
pub enum Incoming {
    /// One text frame.
    Text(String),
    /// A frame longer than `MAX_FRAME`: refused, connection closed.
    TooLong,
}

/// Where frames to the client go: `send` queues one frame, `flush` pushes what is queued
/// out (one write for a batch of frames on a byte stream).
pub trait FrameSink: Send {
    /// Queues one frame.
    fn send(
        &mut self,
        frame: &str,
    ) -> impl std::future::Future<Output = std::io::Result<()>> + Send;
    /// Writes everything queued.
    fn flush(&mut self) -> impl std::future::Future<Output = std::io::Result<()>> + Send;
}

/// Longest a write to one client may block; a client that does not read is dropped then,
/// whatever the socket buffers hold.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Frames written together at most (one system call on TCP).
const BATCH: usize = 64;

/// Sends frames and flushes them within `WRITE_TIMEOUT`; false when the client is gone or stuck.
async fn deliver<S: FrameSink, F: AsRef<str> + Sync>(sink: &mut S, frames: &[F]) -> bool {
    let work = async {
        for f in frames {
            sink.send(f.as_ref()).await?;
        }
        sink.flush().await
    };
    matches!(tokio::time::timeout(WRITE_TIMEOUT, work).await, Ok(Ok(())))
}

/// Runs one connection until either side closes it.
pub async fn serve<S: FrameSink>(
    hub: Arc<Hub>,
    peer: SocketAddr,
    mut incoming: mpsc::Receiver<Incoming>,
    mut sink: S,
) {
    let Some((viewer, attached)) = login(&hub, peer, &mut incoming, &mut sink).await else {
        return;
    };
    let client = attached.id;
    let mut rx = attached.rx;
    tracing::info!(user = %viewer.username, src = %peer, "cti client logged in");
    let viewer = Arc::new(viewer);
    let mut ok = true;
    if !deliver(&mut sink, &attached.first).await {
        ok = false;
    }
    let (res_tx, mut res_rx) = mpsc::channel::<Frame>(COMMANDS_IN_FLIGHT);
    let mut last_in = Instant::now();
    let mut last_out = Instant::now();
    while ok {
        let ping_at = last_out + PING_AFTER;
        let idle_at = last_in + IDLE_LIMIT;
        tokio::select! {
            f = rx.recv() => match f {
                Some(f) => {
                    let mut batch = vec![f];
                    while batch.len() < BATCH {
                        match rx.try_recv() {
                            Ok(f) => batch.push(f),
                            Err(_) => break,
                        }
                    }
                    ok = deliver(&mut sink, &batch).await;
                    last_out = Instant::now();
                }
                // The hub dropped us: our queue overflowed. The client resumes.
                None => break,
            },
            Some(f) = res_rx.recv() => {
                ok = deliver(&mut sink, &[&f]).await;
                last_out = Instant::now();
            }
            msg = incoming.recv() => {
                last_in = Instant::now();
                match msg {
                    None => break,
                    Some(Incoming::TooLong) => {
                        let _ = deliver(&mut sink, &[&too_long()]).await;
                        break;
                    }
                    Some(Incoming::Text(text)) => match parse(&text) {
                        Ok(ClientMsg::Ping) => {
                            ok = deliver(&mut sink, &[&frame(&ServerMsg::Pong)]).await;
                            last_out = Instant::now();
                        }
                        Ok(ClientMsg::Pong) => {}
                        Ok(ClientMsg::Login { .. }) => {
                            ok = deliver(&mut sink, &[&frame(&ServerMsg::error(None, ErrorCode::BadRequest, "already logged in"))]).await;
                        }
                        Ok(ClientMsg::Command { id, command }) => {
                            // A full result queue makes this wait: back-pressure on a flood.
                            let Ok(permit) = res_tx.clone().reserve_owned().await else { break };
                            let hub = hub.clone();
                            let viewer = viewer.clone();
                            tokio::spawn(async move {
                                let msg = commands::run(&hub, &viewer, id, command).await;
                                permit.send(frame(&msg));
                            });
                        }
                        Err(e) => {
                            ok = deliver(&mut sink, &[&frame(&e)]).await;
                        }
                    },
                }
            }
            _ = tokio::time::sleep_until(ping_at.min(idle_at).into()) => {
                let now = Instant::now();
                if now >= idle_at {
                    tracing::info!(user = %viewer.username, src = %peer, "cti client silent too long, disconnected");
                    break;
                }
                ok = deliver(&mut sink, &[&frame(&ServerMsg::Ping)]).await;
                last_out = now;
            }
        }
    }
    hub.detach(client);
    tracing::info!(user = %viewer.username, src = %peer, "cti client disconnected");
}

/// Waits for a successful login; answers failures and refuses everything else.
async fn login<S: FrameSink>(
    hub: &Hub,
    peer: SocketAddr,
    incoming: &mut mpsc::Receiver<Incoming>,
    sink: &mut S,
) -> Option<(Viewer, super::hub::Attached)> {
    loop {
        let msg = tokio::time::timeout(IDLE_LIMIT, incoming.recv())
            .await
            .ok()??;
        let text = match msg {
            Incoming::Text(t) => t,
            Incoming::TooLong => {
                let _ = deliver(sink, &[&too_long()]).await;
                return None;
            }
        };
        let (user, password, tenant, resume_from) = match parse(&text) {
            Ok(ClientMsg::Login {
                user,
                password,
                tenant,
                resume_from,
            }) => (user, password, tenant, resume_from),
            Ok(ClientMsg::Ping) => {
                deliver(sink, &[&frame(&ServerMsg::Pong)])
                    .await
                    .then_some(())?;
                continue;
            }
            Ok(ClientMsg::Command { id, .. }) => {
                let e = ServerMsg::error(Some(id), ErrorCode::NotLoggedIn, "log in first");
                deliver(sink, &[&frame(&e)]).await.then_some(())?;
                continue;
            }
            Ok(ClientMsg::Pong) => continue,
            Err(e) => {
                deliver(sink, &[&frame(&e)]).await.then_some(())?;
                continue;
            }
        };
        let tenant = tenant.unwrap_or_else(|| "default".to_string());
        if !hub.login_allowed(peer.ip()) {
            tracing::warn!(
                "security: cti login refused (rate limited) user={user} src={}",
                peer.ip()
            );
            let e = ServerMsg::error(
                None,
                ErrorCode::RateLimited,
                "too many failed logins from this address; try again in a minute",
            );
            deliver(sink, &[&frame(&e)]).await.then_some(())?;
            continue;
        }
        let found = match hub
            .store
            .verify_user_password(&tenant, &user, &password)
            .await
        {
            Ok(u) => u,
            Err(e) => {
                tracing::error!(error = %e, "cti login: store failed");
                let e = ServerMsg::error(
                    None,
                    ErrorCode::Internal,
                    "login failed on the server; try again",
                );
                deliver(sink, &[&frame(&e)]).await.then_some(())?;
                continue;
            }
        };
        match found.filter(|u| u.cti_access) {
            Some(u) => {
                hub.login_succeeded(peer.ip());
                let viewer = Viewer::from_user(&tenant, &u);
                let attached = hub.attach(viewer.clone(), resume_from);
                return Some((viewer, attached));
            }
            None => {
                tracing::warn!("security: cti login failed user={user} src={}", peer.ip());
                hub.login_failed(peer.ip());
                let e = ServerMsg::error(None, ErrorCode::AuthFailed, "wrong user or password");
                deliver(sink, &[&frame(&e)]).await.then_some(())?;
            }
        }
    }
}

fn too_long() -> Frame {
    frame(&ServerMsg::error(
        None,
        ErrorCode::BadRequest,
        format!("frame longer than {MAX_FRAME} bytes"),
    ))
}

/// Parses a client frame, or the error frame to answer (with the command id when one can be
/// read, so the client can match it).
fn parse(text: &str) -> Result<ClientMsg, Box<ServerMsg>> {
    match serde_json::from_str::<ClientMsg>(text) {
        Ok(m) => Ok(m),
        Err(e) => {
            let value: Option<serde_json::Value> = serde_json::from_str(text).ok();
            let id = value
                .as_ref()
                .and_then(|v| v.get("id"))
                .and_then(|v| v.as_u64())
                .and_then(|v| u32::try_from(v).ok());
            let is_command = value
                .as_ref()
                .and_then(|v| v.get("type"))
                .and_then(|t| t.as_str())
                == Some("command");
            let code = if is_command && id.is_some() {
                ErrorCode::BadArguments
            } else {
                ErrorCode::BadRequest
            };
            Err(Box::new(ServerMsg::error(
                id,
                code,
                format!("cannot read the frame: {e}"),
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_frames_get_structured_errors() {
        let e = *parse("not json").unwrap_err();
        assert!(matches!(
            e,
            ServerMsg::Error {
                id: None,
                code: ErrorCode::BadRequest,
                ..
            }
        ));
        let e = *parse(r#"{"type":"command","id":7,"command":{"name":"dial"}}"#).unwrap_err();
        assert!(matches!(
            e,
            ServerMsg::Error {
                id: Some(7),
                code: ErrorCode::BadArguments,
                ..
            }
        ));
        let e = *parse(r#"{"type":"command","id":8,"command":{"name":"fly"}}"#).unwrap_err();
        assert!(matches!(
            e,
            ServerMsg::Error {
                id: Some(8),
                code: ErrorCode::BadArguments,
                ..
            }
        ));
        let e = *parse(r#"{"type":"shout"}"#).unwrap_err();
        assert!(matches!(
            e,
            ServerMsg::Error {
                id: None,
                code: ErrorCode::BadRequest,
                ..
            }
        ));
        assert!(matches!(parse(r#"{"type":"ping"}"#), Ok(ClientMsg::Ping)));
    }
}
