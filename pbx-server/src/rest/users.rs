//! `/rest/user[/{username}]`: users of the caller's tenant (GUI / CTI / API access flags, role,
//! privacy right, linked extension). Passwords are write-only. Nobody hands out more than
//! they hold: assigning a role needs write on ROLE and a role no stronger than one's own.

use super::access::{Access, Area, Level, PREDEFINED_ROLES};
use super::me::check_password;
use super::session::ApiUser;
use super::{ApiError, ApiResult, Body, RestState};
use crate::store::{NewUser, User, UserPatch};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A user as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserView {
    id: i64,
    username: String,
    /// Number of the linked extension.
    extension: Option<String>,
    gui_access: bool,
    cti_access: bool,
    api_access: bool,
    role: String,
    /// Sees external numbers unmasked.
    privacy: bool,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        UserView {
            id: u.id,
            username: u.username,
            extension: u.extension,
            gui_access: u.gui_access,
            cti_access: u.cti_access,
            api_access: u.api_access,
            role: u.role,
            privacy: u.privacy,
        }
    }
}

/// A user to create (`username`, `password` required) or the fields to change (absent =
/// keep; `extension: null` unlinks).
#[derive(Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct UserInput {
    #[serde(default)]
    username: Option<String>,
    /// 8 to 256 characters; write-only.
    #[serde(default)]
    password: Option<String>,
    /// Number of an extension of the tenant; `null` unlinks.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    extension: Option<Option<String>>,
    #[serde(default)]
    gui_access: Option<bool>,
    #[serde(default)]
    cti_access: Option<bool>,
    #[serde(default)]
    api_access: Option<bool>,
    /// A predefined role (`admin`, `privacyadmin`, `phonebook`, `click2call`, `user`) or a
    /// custom one of the tenant.
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    privacy: Option<bool>,
}

/// `Some(None)` for an explicit `null`, `None` for an absent field.
mod double_option {
    use serde::{Deserialize, Deserializer};

    pub(super) fn deserialize<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        Option::<T>::deserialize(d).map(Some)
    }
}

/// Longest username.
const MAX_USERNAME: usize = 64;

fn check_username(u: &str) -> ApiResult<()> {
    let ok = !u.is_empty()
        && u.chars().count() <= MAX_USERNAME
        && u.chars()
            .all(|c| c.is_alphanumeric() || "-_.@+".contains(c));
    if ok {
        Ok(())
    } else {
        Err(ApiError::BadRequest(format!(
            "username: 1 to {MAX_USERNAME} letters, digits or -_.@+"
        )))
    }
}

/// Refuses a role or privacy the caller cannot hand out, and unknown roles.
async fn check_grant(
    s: &RestState,
    caller: &ApiUser,
    role: Option<&str>,
    privacy: Option<bool>,
) -> ApiResult<()> {
    if let Some(role) = role {
        let custom = if PREDEFINED_ROLES.contains(&role) {
            None
        } else {
            let found = s.store().roles(caller.tenant_id(), Some(role)).await?;
            Some(
                found
                    .into_iter()
                    .next()
                    .ok_or_else(|| ApiError::BadRequest(format!("no role {role}")))?,
            )
        };
        if role != "user" {
            caller.require(Area::Role, Level::Write)?;
            let granted = Access::of(role, custom.as_ref(), &caller.domain, false);
            if !caller.access.covers(&granted) {
                return Err(ApiError::Forbidden);
            }
        }
    }
    if privacy == Some(true) && !caller.access.privacy {
        return Err(ApiError::Forbidden);
    }
    Ok(())
}

async fn extension_id(s: &RestState, tenant_id: i64, number: &str) -> ApiResult<i64> {
    Ok(s.store()
        .extension_by_number(Some(tenant_id), number)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("extension {number}")))?
        .id)
}

async fn view(s: &RestState, tenant_id: i64, username: &str) -> ApiResult<UserView> {
    s.store()
        .users_of(tenant_id, Some(username))
        .await?
        .into_iter()
        .next()
        .map(UserView::from)
        .ok_or_else(|| ApiError::NotFound(format!("user {username}")))
}

/// Every user of the tenant (list level on USER).
#[utoipa::path(get, path = "/rest/user", tag = "users",
    responses((status = 200, body = Vec<UserView>), (status = 403)))]
pub(super) async fn list(
    user: ApiUser,
    State(s): State<RestState>,
) -> ApiResult<Json<Vec<UserView>>> {
    user.require(Area::User, Level::List)?;
    let rows = s.store().users_of(user.tenant_id(), None).await?;
    Ok(Json(rows.into_iter().map(UserView::from).collect()))
}

/// One user (read level, or oneself).
#[utoipa::path(get, path = "/rest/user/{username}", tag = "users",
    params(("username" = String, Path)),
    responses((status = 200, body = UserView), (status = 403), (status = 404)))]
pub(super) async fn one(
    user: ApiUser,
    State(s): State<RestState>,
    Path(username): Path<String>,
) -> ApiResult<Json<UserView>> {
    if username != user.user.username {
        user.require(Area::User, Level::Read)?;
    }
    Ok(Json(view(&s, user.tenant_id(), &username).await?))
}

/// Creates a user (write level). Default: CTI access only, role `user`.
#[utoipa::path(post, path = "/rest/user", tag = "users", request_body = UserInput,
    responses((status = 201, body = UserView), (status = 400), (status = 403), (status = 409)))]
pub(super) async fn create(
    user: ApiUser,
    State(s): State<RestState>,
    Body(input): Body<UserInput>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    user.require(Area::User, Level::Write)?;
    let (Some(username), Some(password)) = (input.username.clone(), input.password.clone()) else {
        return Err(ApiError::BadRequest(
            "username and password are required".into(),
        ));
    };
    check_username(&username)?;
    check_password(&password, &username)?;
    check_grant(&s, &user, input.role.as_deref(), input.privacy).await?;
    let extension_id = match input.extension.flatten() {
        Some(n) => Some(extension_id(&s, user.tenant_id(), &n).await?),
        None => None,
    };
    let new = NewUser {
        tenant_id: Some(user.tenant_id()),
        username: username.clone(),
        password,
        extension_id,
        gui_access: input.gui_access.unwrap_or(false),
        cti_access: input.cti_access.unwrap_or(true),
        api_access: input.api_access.unwrap_or(false),
        role: input.role.unwrap_or_else(|| "user".into()),
    };
    s.store().create_user(&new).await?;
    if input.privacy == Some(true) {
        let patch = UserPatch {
            privacy: Some(true),
            ..UserPatch::default()
        };
        s.store()
            .update_user(user.tenant_id(), &username, &patch)
            .await?;
    }
    tracing::info!(user = %user.user.username, domain = %user.domain, created = %username, "rest: user created");
    Ok((
        StatusCode::CREATED,
        Json(view(&s, user.tenant_id(), &username).await?),
    ))
}

/// Changes a user: fields present replace, absent ones stay (write level). One's own role,
/// access and privacy cannot be changed here (nor one's password: `PUT /rest/me/password`).
#[utoipa::path(put, path = "/rest/user/{username}", tag = "users",
    params(("username" = String, Path)), request_body = UserInput,
    responses((status = 200, body = UserView), (status = 400), (status = 403), (status = 404)))]
pub(super) async fn update(
    user: ApiUser,
    State(s): State<RestState>,
    Path(username): Path<String>,
    Body(input): Body<UserInput>,
) -> ApiResult<Json<UserView>> {
    user.require(Area::User, Level::Write)?;
    if input.username.as_ref().is_some_and(|u| *u != username) {
        return Err(ApiError::BadRequest("username cannot be changed".into()));
    }
    if username == user.user.username {
        return Err(ApiError::Forbidden);
    }
    if let Some(p) = &input.password {
        check_password(p, &username)?;
    }
    check_grant(&s, &user, input.role.as_deref(), input.privacy).await?;
    // The target's current role must not be stronger than the caller's either.
    let target = view(&s, user.tenant_id(), &username).await?;
    check_grant(&s, &user, Some(&target.role), Some(target.privacy)).await?;
    let extension_id = match input.extension {
        Some(Some(n)) => Some(Some(extension_id(&s, user.tenant_id(), &n).await?)),
        Some(None) => Some(None),
        None => None,
    };
    let patch = UserPatch {
        password: input.password,
        extension_id,
        gui_access: input.gui_access,
        cti_access: input.cti_access,
        api_access: input.api_access,
        role: input.role,
        privacy: input.privacy,
    };
    s.store()
        .update_user(user.tenant_id(), &username, &patch)
        .await?;
    Ok(Json(view(&s, user.tenant_id(), &username).await?))
}

/// Deletes a user (write level; not oneself, nor one with a stronger role).
#[utoipa::path(delete, path = "/rest/user/{username}", tag = "users",
    params(("username" = String, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
pub(super) async fn delete(
    user: ApiUser,
    State(s): State<RestState>,
    Path(username): Path<String>,
) -> ApiResult<StatusCode> {
    user.require(Area::User, Level::Write)?;
    if username == user.user.username {
        return Err(ApiError::Forbidden);
    }
    let target = view(&s, user.tenant_id(), &username).await?;
    check_grant(&s, &user, Some(&target.role), Some(target.privacy)).await?;
    s.store().delete_user(user.tenant_id(), &username).await?;
    Ok(StatusCode::NO_CONTENT)
}
