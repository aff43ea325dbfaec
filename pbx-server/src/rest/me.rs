//! `PUT /rest/me/password`: the caller changes its own password. The one call a user still on
//! the factory password may make outside demo mode.

use super::session::AnyPasswordUser;
use super::{ApiError, RestState};
use crate::store::DEFAULT_ADMIN_PASSWORD;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

/// Shortest password accepted here.
pub(super) const MIN_PASSWORD: usize = 8;
/// Longest password accepted here (argon2 input stays small).
pub(super) const MAX_PASSWORD: usize = 256;

/// The caller's new password.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewPassword {
    password: String,
}

/// Body `{"password": "<new>"}`; 204 on success. The new password is refused when shorter
/// than [`MIN_PASSWORD`], longer than [`MAX_PASSWORD`], or the factory one.
#[utoipa::path(put, path = "/rest/me/password", tag = "auth", request_body = NewPassword,
    responses((status = 204), (status = 400)))]
pub(super) async fn change_password(
    AnyPasswordUser(user): AnyPasswordUser,
    State(s): State<RestState>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let req: NewPassword = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("expected {{\"password\": \"...\"}}: {e}")))?;
    check_password(&req.password, &user.user.username)?;
    s.store()
        .set_user_password(user.user.id, &req.password)
        .await?;
    tracing::info!(user = %user.user.username, domain = %user.domain, "rest: password changed");
    Ok(StatusCode::NO_CONTENT)
}

pub(super) fn check_password(p: &str, username: &str) -> Result<(), ApiError> {
    let n = p.chars().count();
    if n < MIN_PASSWORD || p.len() > MAX_PASSWORD {
        return Err(ApiError::BadRequest(format!(
            "the password must have {MIN_PASSWORD} to {MAX_PASSWORD} characters"
        )));
    }
    if p == DEFAULT_ADMIN_PASSWORD || p == username {
        return Err(ApiError::BadRequest(
            "the password must differ from the factory password and the username".into(),
        ));
    }
    Ok(())
}
