//! The REST API under `/rest/`, compatible with the seed's (docs/rest-api.md).
//!
//! `auth` is the sans-IO `X-authenticate` verifier, `throttle` the per-address failure
//! counter, `session` the extractor that runs both for every authenticated handler. HTTP
//! errors live here ([`ApiError`]); the store knows nothing of HTTP.

pub mod access;
mod accounts;
pub mod auth;
mod calls;
mod cdr;
mod export;
mod extensions;
mod link;
mod me;
mod numbers;
pub mod openapi;
mod operation;
mod pickup;
mod queue_ops;
mod queues;
mod ring_groups;
mod roles;
pub mod session;
mod tenants;
pub mod throttle;
mod users;

use crate::control::Control;
use crate::store::{Store, StoreError};
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;
use tokio::sync::mpsc;

/// Shared state of the REST handlers. Cheap to clone.
#[derive(Clone)]
pub struct RestState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    /// Demo mode: the factory `admin` password is accepted.
    demo: bool,
    /// Short critical sections only (a map lookup and insert), never held across `.await`.
    nonces: Mutex<auth::NonceCache>,
    throttle: Mutex<throttle::Throttle>,
    /// The SIP core, once the server has started it.
    core: OnceLock<CoreLink>,
    /// Directory reloads, one at a time.
    reload: tokio::sync::Mutex<()>,
}

/// The SIP core's control channel and the tenant it runs.
struct CoreLink {
    tenant: String,
    control: mpsc::Sender<Control>,
}

impl RestState {
    /// State over `store`; `demo` accepts the factory `admin` password.
    pub fn new(store: Store, demo: bool) -> RestState {
        RestState {
            inner: Arc::new(Inner {
                store,
                demo,
                nonces: Mutex::new(auth::NonceCache::new()),
                throttle: Mutex::new(throttle::Throttle::new()),
                core: OnceLock::new(),
                reload: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// Connects the handlers to the SIP core that runs `tenant` (once; later calls are
    /// ignored). Without it, changes are stored and take effect at the next start.
    pub fn with_core(self, tenant: &str, control: mpsc::Sender<Control>) -> RestState {
        let _ = self.inner.core.set(CoreLink {
            tenant: tenant.to_string(),
            control,
        });
        self
    }

    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }

    pub(crate) fn demo(&self) -> bool {
        self.inner.demo
    }

    pub(crate) fn nonces(&self) -> MutexGuard<'_, auth::NonceCache> {
        self.inner
            .nonces
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn throttle(&self) -> MutexGuard<'_, throttle::Throttle> {
        self.inner
            .throttle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The seed's newer `/api/pbx/v2` calls that Centralino answers, to be nested there.
pub fn v2_router<S: Clone + Send + Sync + 'static>(state: RestState) -> Router<S> {
    Router::new()
        .route(
            "/phoneService/redirectCall/{id}/internal/{destination}",
            get(calls::redirect_v2).post(calls::redirect_v2),
        )
        .route(
            "/phoneService/redirectCall/{id}/internal/{destination}/{source}",
            get(calls::redirect_v2_from).post(calls::redirect_v2_from),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// The router, to be nested under `/rest` (in a router of any state).
pub fn router<S: Clone + Send + Sync + 'static>(state: RestState) -> Router<S> {
    Router::new()
        .route("/salt/{domain}", get(salt))
        .route("/extension", get(extensions::list).post(extensions::create))
        .route(
            "/extension/{number}",
            get(extensions::one)
                .put(extensions::update)
                .delete(extensions::delete),
        )
        .route("/extension/{number}/services", get(operation::services_of))
        .route(
            "/extension/{number}/pickupGroups",
            get(pickup::get).put(pickup::put).delete(pickup::delete),
        )
        .route("/pickupGroup", get(pickup::list))
        .route("/queue", get(queues::list).post(queues::create))
        .route(
            "/queue/{number}",
            get(queues::one).put(queues::update).delete(queues::delete),
        )
        .route(
            "/queue/{number}/member/{extension}",
            put(queues::put_member).delete(queues::delete_member),
        )
        .route(
            "/ringGroup",
            get(ring_groups::list).post(ring_groups::create),
        )
        .route(
            "/ringGroup/{number}",
            get(ring_groups::one)
                .put(ring_groups::update)
                .delete(ring_groups::delete),
        )
        .route(
            "/ringGroup/{number}/member/{extension}",
            put(ring_groups::put_member).delete(ring_groups::delete_member),
        )
        .route("/account", get(accounts::list).post(accounts::create))
        .route(
            "/account/{id}",
            get(accounts::one)
                .put(accounts::update)
                .delete(accounts::delete),
        )
        .route("/user", get(users::list).post(users::create))
        .route(
            "/user/{username}",
            get(users::one).put(users::update).delete(users::delete),
        )
        .route("/role", get(roles::list))
        .route(
            "/role/{name}",
            get(roles::one).put(roles::put).delete(roles::delete),
        )
        .route("/tenant", get(tenants::list).post(tenants::create))
        .route("/operation/queue", get(queue_ops::list))
        .route("/operation/queue/pause", post(queue_ops::pause))
        .route(
            "/operation/queue/dynamicMember",
            post(queue_ops::dynamic_member),
        )
        .route("/operation/queue/{name}", get(queue_ops::one))
        .route(
            "/operation/{service}/{key}",
            get(operation::get)
                .post(operation::post)
                .delete(operation::delete),
        )
        .route(
            "/operation/service/{service}/{key}",
            get(operation::get)
                .post(operation::post)
                .delete(operation::delete),
        )
        .route("/cdr", get(cdr::get).post(cdr::post))
        .route(
            "/phoneServices/c2c/{dest}/{src}",
            get(calls::c2c).post(calls::c2c),
        )
        .route("/call", get(calls::list))
        .route("/call/{id}/hangup", post(calls::hangup))
        .route("/call/{id}/hold", post(calls::hold))
        .route("/call/{id}/resume", post(calls::resume))
        .route("/call/{id}/transfer", post(calls::transfer))
        .route("/call/{id}/redirect", post(calls::redirect))
        .route("/me/password", put(me::change_password))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// What a REST request can fail with. Each maps to one status and a JSON body
/// `{"error": "<code>", "message": "<text>"}`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Authentication failed, whatever the reason (the reason is only logged).
    #[error("authentication failed")]
    Unauthorized,
    /// Too many failed authentications from this address; retry after the duration.
    #[error("too many failed authentications; retry later")]
    Throttled(Duration),
    /// The user still has the factory password and the server is not in demo mode.
    #[error("password change required: PUT /rest/me/password or `pbx-server set-password`")]
    PasswordChangeRequired,
    /// Authenticated, but not allowed to do this.
    #[error("forbidden")]
    Forbidden,
    /// No such resource.
    #[error("not found: {0}")]
    NotFound(String),
    /// The request is not acceptable.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// Already exists, or in a state that does not allow it.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The resource has no such method (e.g. DELETE of EXTEN_HUNTING).
    #[error("method not allowed")]
    MethodNotAllowed,
    /// Temporarily unable to serve (e.g. the nonce cache is full).
    #[error("service unavailable")]
    Unavailable,
    /// A fault on our side (already logged).
    #[error("internal error")]
    Internal,
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::PasswordChangeRequired | ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthorized => "unauthorized",
            ApiError::Throttled(_) => "too_many_requests",
            ApiError::PasswordChangeRequired => "password_change_required",
            ApiError::Forbidden => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Conflict(_) => "conflict",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::Unavailable => "unavailable",
            ApiError::Internal => "internal",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(serde_json::json!({
            "error": self.code(),
            "message": self.to_string(),
        }));
        let mut resp = (self.status(), body).into_response();
        match &self {
            ApiError::Unauthorized => {
                resp.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(auth::SCHEME),
                );
            }
            ApiError::Throttled(wait) => {
                let secs = wait.as_secs().max(1);
                if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                    resp.headers_mut().insert(header::RETRY_AFTER, v);
                }
            }
            _ => {}
        }
        resp
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ApiError::NotFound(what),
            StoreError::Invalid(what) => ApiError::BadRequest(what),
            StoreError::Duplicate(what) => ApiError::Conflict(what),
            other => {
                tracing::error!(error = %other, "rest: store failure");
                ApiError::Internal
            }
        }
    }
}

/// `GET /rest/salt/{domain}`, anonymous: the tenant's salt. Plain text (the bare salt) by
/// default; `{"salt": "..."}` when the client accepts JSON and not text.
async fn salt(
    State(s): State<RestState>,
    Path(domain): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let salt = s
        .store()
        .rest_salt(&domain)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("domain {domain}")))?;
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if accept.contains("application/json") && !accept.contains("text/plain") {
        return Ok(Json(serde_json::json!({ "salt": salt })).into_response());
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], salt).into_response())
}

/// A JSON body whose rejection is our structured 400 (or 415 for a wrong content type),
/// never axum's plain-text one.
#[derive(Debug, Clone, Copy, Default)]
pub struct Body<T>(pub T);

impl<S, T> FromRequest<S> for Body<T>
where
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Body(v)),
            Err(e) => Err(ApiError::BadRequest(e.body_text())),
        }
    }
}

/// An optional JSON body: `None` when empty, a 400 when it does not parse.
pub(crate) fn optional_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> ApiResult<Option<T>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(body)
        .map(Some)
        .map_err(|e| ApiError::BadRequest(format!("body: {e}")))
}

/// A store failure's status, or the answer itself; what every handler returns.
pub type ApiResult<T> = Result<T, ApiError>;

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such API".into())
}
