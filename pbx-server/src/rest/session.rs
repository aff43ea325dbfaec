//! The authenticated caller of a REST request: an axum extractor that throttles the source
//! address, looks the named user up, runs the sans-IO verifier with the wall clock, and logs
//! each failure as one line `security: rest auth failed user=<u> domain=<d> src=<ip>`
//! (and a block as `security: rest auth blocked src=<ip>`), so fail2ban can match them.

use super::access::{Access, Area, Level, PREDEFINED_ROLES};
use super::auth::{self, AuthError, Stored, Token};
use super::throttle::BLOCK;
use super::{ApiError, RestState};
use crate::store::User;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;

/// A user authenticated by `X-authenticate`, with the API permission and a password other
/// than the factory one (outside demo mode).
#[derive(Debug, Clone)]
pub struct ApiUser {
    /// The user.
    pub user: User,
    /// Domain of the user's tenant.
    pub domain: String,
    /// What the user's role allows.
    pub access: Access,
}

impl ApiUser {
    /// The tenant's row id (every query is scoped to it).
    pub fn tenant_id(&self) -> i64 {
        self.user.tenant_id
    }

    /// Whether `number` is the user's own extension.
    pub fn owns(&self, number: &str) -> bool {
        self.user.extension.as_deref() == Some(number)
    }

    /// `Forbidden` unless the role allows `level` on `area`.
    pub fn require(&self, area: Area, level: Level) -> Result<(), ApiError> {
        if self.access.allows(area, level) {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }
}

/// Like [`ApiUser`] but also admits a user still on the factory password: only for the
/// password-change call.
#[derive(Debug, Clone)]
pub struct AnyPasswordUser(pub ApiUser);

impl FromRequestParts<RestState> for ApiUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &RestState) -> Result<Self, ApiError> {
        let (user, factory_password) = authenticate(parts, state).await?;
        if factory_password && !state.demo() {
            return Err(ApiError::PasswordChangeRequired);
        }
        Ok(user)
    }
}

impl FromRequestParts<RestState> for AnyPasswordUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &RestState) -> Result<Self, ApiError> {
        Ok(AnyPasswordUser(authenticate(parts, state).await?.0))
    }
}

/// The caller and whether it is still on the factory password.
async fn authenticate(parts: &Parts, state: &RestState) -> Result<(ApiUser, bool), ApiError> {
    let ip = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    if let Some(wait) = state.throttle().blocked(Instant::now(), ip) {
        return Err(ApiError::Throttled(wait));
    }
    let Some(header) = parts
        .headers
        .get(auth::HEADER)
        .and_then(|v| v.to_str().ok())
    else {
        return Err(failed(state, ip, None, AuthError::Missing));
    };
    let token = match auth::parse(header) {
        Ok(t) => t,
        Err(e) => return Err(failed(state, ip, None, e)),
    };
    let cred = state
        .store()
        .api_credential(&token.domain, &token.username)
        .await?;
    let now_s = chrono::Utc::now().timestamp();
    let verdict = {
        let stored = cred.as_ref().and_then(|c| {
            c.digest_password.as_deref().map(|dp| Stored {
                digest_password: dp,
                api_access: c.user.api_access,
            })
        });
        auth::verify(header, stored, &mut state.nonces(), now_s)
    };
    match (verdict, cred) {
        (Ok(_), Some(c)) => {
            let factory = c.on_default_password();
            let custom = if PREDEFINED_ROLES.contains(&c.user.role.as_str()) {
                None
            } else {
                let roles = state.store().roles(c.user.tenant_id, Some(&c.user.role));
                roles.await?.into_iter().next()
            };
            let access = Access::of(&c.user.role, custom.as_ref(), &c.domain, c.user.privacy);
            Ok((
                ApiUser {
                    user: c.user,
                    domain: c.domain,
                    access,
                },
                factory,
            ))
        }
        (Err(AuthError::CacheFull), _) => {
            tracing::warn!("rest: nonce cache full, refusing authenticated requests for now");
            Err(ApiError::Unavailable)
        }
        (Err(e), _) => Err(failed(state, ip, Some(&token), e)),
        // The verifier refuses a missing user; this arm only keeps the match total.
        (Ok(_), None) => Err(failed(state, ip, Some(&token), AuthError::UnknownUser)),
    }
}

/// Logs one failure, counts it against the address, and gives the generic 401.
fn failed(state: &RestState, ip: IpAddr, token: Option<&Token>, why: AuthError) -> ApiError {
    let user = token.map_or_else(|| "-".to_string(), |t| printable(&t.username));
    let domain = token.map_or_else(|| "-".to_string(), |t| printable(&t.domain));
    tracing::warn!(
        target: "security",
        reason = why.reason(),
        "security: rest auth failed user={user} domain={domain} src={ip}"
    );
    if state.throttle().fail(Instant::now(), ip) {
        tracing::warn!(
            target: "security",
            "security: rest auth blocked src={ip} seconds={}",
            BLOCK.as_secs()
        );
    }
    ApiError::Unauthorized
}

/// A client-chosen name made safe for a one-line, space-separated log record.
fn printable(s: &str) -> String {
    let out: String = s
        .chars()
        .take(64)
        .map(|c| {
            if c.is_alphanumeric() || "-_.@+".contains(c) {
                c
            } else {
                '?'
            }
        })
        .collect();
    if out.is_empty() {
        "-".into()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn log_fields_cannot_forge_lines_or_fields() {
        assert_eq!(printable("admin"), "admin");
        assert_eq!(
            printable("a b\nsecurity: x src=1.2.3.4"),
            "a?b?security??x?src?1.2.3.4"
        );
        assert_eq!(printable(""), "-");
        assert_eq!(printable(&"x".repeat(100)).len(), 64);
    }
}
