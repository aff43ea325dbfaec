//! The local HTTP API for other programs on the same computer (the seed's KCTI client API):
//! call a number, hang up, transfer blind or attended, pause and resume on all queues, DND on
//! and off, the data of the active call. It listens on loopback only, wants the token from the
//! app's settings as `Authorization: Bearer <token>`, and runs every action as a CTI command of
//! the desktop app's own session (through the relay), so the PBX checks it as it checks the UI.
//!
//! | method and path | body | does |
//! |---|---|---|
//! | `GET /api/v1/status` | | connection, user, extension |
//! | `GET /api/v1/call` | | the active call (`404 no_active_call`) |
//! | `POST /api/v1/call` | `{"number": "…"}` | click-to-call |
//! | `POST /api/v1/hangup` | `{"call": id}` optional | hangs up that call, else the active one |
//! | `POST /api/v1/transfer` | `{"number": "…"}` or `{"attended": true}` | blind; or attended: the older of the user's two answered calls to the newer |
//! | `POST /api/v1/queues/pause` | `{"reason": "…"}` optional | pauses the user in all queues |
//! | `POST /api/v1/queues/resume` | | ends the pause in all queues |
//! | `POST /api/v1/dnd` | `{"enabled": bool}` | DND on or off |

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cti_core::relay::RelayHandle;
use cti_core::{CommandError, LiveState, Phase};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use shared_protocol::{CallInfo, CallState, Command, CommandData, ErrorCode};
use std::sync::Arc;

/// The default port, next to the seed's CTI port 5039.
pub const DEFAULT_PORT: u16 = 5049;

struct Api {
    token: String,
    relay: RelayHandle,
}

/// An error answer: a stable code for programs and a message for people.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"error": self.code, "message": self.message})),
        )
            .into_response()
    }
}

impl From<CommandError> for ApiError {
    fn from(e: CommandError) -> ApiError {
        let message = e.to_string();
        match e {
            CommandError::Server { code, .. } => {
                let (status, name) = match code {
                    ErrorCode::BadRequest => (StatusCode::BAD_REQUEST, "bad_request"),
                    ErrorCode::BadArguments => (StatusCode::BAD_REQUEST, "bad_arguments"),
                    ErrorCode::PermissionDenied => (StatusCode::FORBIDDEN, "permission_denied"),
                    ErrorCode::NotLicensed => (StatusCode::FORBIDDEN, "not_licensed"),
                    ErrorCode::NotFound => (StatusCode::NOT_FOUND, "not_found"),
                    ErrorCode::InvalidState => (StatusCode::CONFLICT, "invalid_state"),
                    ErrorCode::NoDevice => (StatusCode::CONFLICT, "no_device"),
                    ErrorCode::NotLoggedIn | ErrorCode::AuthFailed | ErrorCode::RateLimited => {
                        (StatusCode::SERVICE_UNAVAILABLE, "not_connected")
                    }
                    ErrorCode::Internal => (StatusCode::BAD_GATEWAY, "internal"),
                };
                ApiError::new(status, name, message)
            }
            CommandError::NotConnected => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not_connected",
                "the app is not signed in to the PBX",
            ),
            CommandError::ConnectionLost => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "connection_lost",
                "the link to the PBX dropped before the answer: the action may or may not have run",
            ),
        }
    }
}

type ApiResult = Result<Json<Value>, ApiError>;

/// The API's routes, answering with `relay`'s session.
pub fn router(token: String, relay: RelayHandle) -> Router {
    let api = Arc::new(Api { token, relay });
    Router::new()
        .route("/api/v1/status", get(status))
        .route("/api/v1/call", get(active_call).post(call))
        .route("/api/v1/hangup", post(hangup))
        .route("/api/v1/transfer", post(transfer))
        .route("/api/v1/queues/pause", post(pause))
        .route("/api/v1/queues/resume", post(resume))
        .route("/api/v1/dnd", post(dnd))
        .layer(middleware::from_fn_with_state(api.clone(), guard))
        .with_state(api)
}

/// Serves the API on `listener` until the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener, token: String, relay: RelayHandle) {
    if let Err(e) = axum::serve(listener, router(token, relay)).await {
        tracing::error!(error = %e, "local API stopped");
    }
}

/// Compares without stopping at the first difference, so timing tells nothing of the token.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Token check, and a Host check against DNS rebinding: a web page can only reach the API under
/// a name that resolves to loopback, and then its Host header is not a loopback literal.
async fn guard(State(api): State<Arc<Api>>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    let host_ok = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| {
            let name = h.rsplit_once(':').map_or(h, |(n, p)| {
                if p.chars().all(|c| c.is_ascii_digit()) {
                    n
                } else {
                    h
                }
            });
            matches!(name, "127.0.0.1" | "localhost" | "[::1]")
        })
        .unwrap_or(true);
    if !host_ok {
        return ApiError::new(StatusCode::FORBIDDEN, "bad_host", "only loopback names")
            .into_response();
    }
    if !bearer(headers).is_some_and(|t| same(t.as_bytes(), api.token.as_bytes())) {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send the token from the app's settings as 'Authorization: Bearer <token>'",
        )
        .into_response();
    }
    next.run(req).await
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// The JSON body, or a clear error (axum's own rejection is plain text).
fn body<T: for<'de> Deserialize<'de> + Default>(raw: &axum::body::Bytes) -> Result<T, ApiError> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(raw)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_arguments", e.to_string()))
}

async fn status(State(api): State<Arc<Api>>) -> ApiResult {
    let state = api.relay.state();
    let connected = api.relay.phase() == Phase::Live;
    Ok(Json(json!({
        "connected": connected,
        "user": state.user.as_ref().map(|u| &u.username),
        "tenant": state.user.as_ref().map(|u| &u.tenant),
        "extension": own(&state),
        "dnd": state.services.as_ref().map(|s| s.dnd),
    })))
}

fn own(state: &LiveState) -> Option<&str> {
    state.user.as_ref()?.extension.as_deref()
}

/// The user's calls: those where the user's extension is caller or callee.
fn my_calls(state: &LiveState) -> Vec<&CallInfo> {
    let Some(me) = own(state) else {
        return Vec::new();
    };
    let mut v: Vec<&CallInfo> = state
        .calls
        .values()
        .filter(|c| c.caller.number == me || c.callee.number == me)
        .collect();
    v.sort_by_key(|c| c.started_ms);
    v
}

/// The call an action without a call id means: the one in conversation, else one ringing,
/// else one on hold; the newest of its kind.
fn active(state: &LiveState) -> Option<&CallInfo> {
    let calls = my_calls(state);
    [CallState::Connected, CallState::Ringing, CallState::Held]
        .iter()
        .find_map(|s| calls.iter().rev().find(|c| c.state == *s).copied())
}

/// The active call's data as programs get it.
#[derive(Debug, Serialize)]
struct ActiveCall<'a> {
    id: &'a str,
    state: CallState,
    direction: &'static str,
    number: &'a str,
    name: Option<&'a str>,
    caller: &'a shared_protocol::Party,
    callee: &'a shared_protocol::Party,
    started_ms: i64,
    answered_ms: Option<i64>,
}

fn not_connected(api: &Api) -> Result<(), ApiError> {
    if api.relay.phase() == Phase::Live {
        Ok(())
    } else {
        Err(CommandError::NotConnected.into())
    }
}

fn no_active_call() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no_active_call",
        "no call in progress",
    )
}

async fn active_call(State(api): State<Arc<Api>>) -> ApiResult {
    not_connected(&api)?;
    let state = api.relay.state();
    let me = own(&state).unwrap_or_default().to_string();
    let c = active(&state).ok_or_else(no_active_call)?;
    let outgoing = c.caller.number == me;
    let other = if outgoing { &c.callee } else { &c.caller };
    let name = other
        .name
        .as_deref()
        .or_else(|| state.extensions.get(&other.number).map(|e| e.name.as_str()));
    Ok(Json(json!(ActiveCall {
        id: &c.id,
        state: c.state,
        direction: if outgoing { "outbound" } else { "inbound" },
        number: &other.number,
        name,
        caller: &c.caller,
        callee: &c.callee,
        started_ms: c.started_ms,
        answered_ms: c.answered_ms,
    })))
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CallBody {
    number: Option<String>,
}

async fn call(State(api): State<Arc<Api>>, raw: axum::body::Bytes) -> ApiResult {
    let b: CallBody = body(&raw)?;
    let number = b.number.filter(|n| !n.trim().is_empty()).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_arguments",
            "'number' is required",
        )
    })?;
    let data = api
        .relay
        .command(Command::Dial {
            number: number.trim().to_string(),
        })
        .await?;
    Ok(Json(match data {
        Some(CommandData::Call { call }) => json!({"call": call}),
        _ => json!({}),
    }))
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HangupBody {
    call: Option<String>,
}

async fn hangup(State(api): State<Arc<Api>>, raw: axum::body::Bytes) -> ApiResult {
    let b: HangupBody = body(&raw)?;
    not_connected(&api)?;
    let call = match b.call {
        Some(c) => c,
        None => active(&api.relay.state())
            .map(|c| c.id.clone())
            .ok_or_else(no_active_call)?,
    };
    api.relay
        .command(Command::Hangup { call: call.clone() })
        .await?;
    Ok(Json(json!({"call": call})))
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TransferBody {
    /// The call whose other party moves; the active call when absent.
    call: Option<String>,
    /// Blind transfer target.
    number: Option<String>,
    /// Attended: the held call goes to the party of the call in progress.
    #[serde(default)]
    attended: bool,
}

async fn transfer(State(api): State<Arc<Api>>, raw: axum::body::Bytes) -> ApiResult {
    let b: TransferBody = body(&raw)?;
    not_connected(&api)?;
    let state = api.relay.state();
    let command = match (b.number.filter(|n| !n.trim().is_empty()), b.attended) {
        (Some(number), false) => {
            let call = match b.call {
                Some(c) => c,
                None => active(&state)
                    .map(|c| c.id.clone())
                    .ok_or_else(no_active_call)?,
            };
            Command::Transfer {
                call,
                number: Some(number.trim().to_string()),
                consult: None,
            }
        }
        (None, true) => {
            // The user's two answered calls: the older one's party goes to the newer one's
            // (the consultation), whether or not the first was put on hold.
            let answered: Vec<&CallInfo> = my_calls(&state)
                .into_iter()
                .filter(|c| c.state != CallState::Ringing)
                .collect();
            let need = || {
                ApiError::new(
                    StatusCode::CONFLICT,
                    "invalid_state",
                    "an attended transfer needs two answered calls: the one to transfer and the consultation",
                )
            };
            let consult = answered.last().ok_or_else(need)?.id.clone();
            let call = match b.call {
                Some(c) => c,
                None => answered
                    .iter()
                    .rev()
                    .find(|c| c.id != consult)
                    .map(|c| c.id.clone())
                    .ok_or_else(need)?,
            };
            Command::Transfer {
                call,
                number: None,
                consult: Some(consult),
            }
        }
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_arguments",
                "give either 'number' (blind) or 'attended': true",
            ))
        }
    };
    api.relay.command(command).await?;
    Ok(Json(json!({})))
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PauseBody {
    reason: Option<String>,
}

async fn pause(State(api): State<Arc<Api>>, raw: axum::body::Bytes) -> ApiResult {
    let b: PauseBody = body(&raw)?;
    api.relay
        .command(Command::QueuePause {
            queue: None,
            extension: None,
            reason: b.reason,
        })
        .await?;
    Ok(Json(json!({})))
}

async fn resume(State(api): State<Arc<Api>>, raw: axum::body::Bytes) -> ApiResult {
    let _: PauseBodyEmpty = body(&raw)?;
    api.relay
        .command(Command::QueueResume {
            queue: None,
            extension: None,
        })
        .await?;
    Ok(Json(json!({})))
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PauseBodyEmpty {}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DndBody {
    enabled: Option<bool>,
}

async fn dnd(State(api): State<Arc<Api>>, raw: axum::body::Bytes) -> ApiResult {
    let b: DndBody = body(&raw)?;
    let enabled = b.enabled.ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_arguments",
            "'enabled' (true or false) is required",
        )
    })?;
    api.relay
        .command(Command::SetDnd {
            extension: None,
            enabled,
        })
        .await?;
    Ok(Json(json!({"dnd": enabled})))
}

/// A new random token: 32 bytes, hex.
pub fn new_token() -> String {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}
