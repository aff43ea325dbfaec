//! `/rest/role[/{name}]`: the predefined roles and the tenant's custom ones, with their
//! access level (none, list, read, write) per area.

use super::access::{Access, Area, Level, PREDEFINED_ROLES};
use super::session::ApiUser;
use super::{ApiError, ApiResult, Body, RestState};
use crate::store::Role;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// A role as the API shows it: every area with its level.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RoleView {
    name: String,
    /// Built in, cannot be changed.
    predefined: bool,
    priority: i64,
    /// Sees external numbers unmasked.
    privacy: bool,
    /// Area name (`EXTENSION`, `SERVICE_OPERATION`, ...) to level.
    #[schema(value_type = BTreeMap<String, Level>)]
    access: BTreeMap<&'static str, Level>,
}

/// A custom role's settings; areas left out get `none`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RoleInput {
    #[serde(default)]
    priority: i64,
    #[serde(default)]
    privacy: bool,
    #[serde(default)]
    access: BTreeMap<Area, Level>,
}

fn view(name: &str, custom: Option<&Role>, domain: &str) -> RoleView {
    let a = Access::of(name, custom, domain, false);
    RoleView {
        name: name.to_string(),
        predefined: custom.is_none(),
        priority: custom.map_or(0, |r| r.priority),
        privacy: a.privacy,
        access: Area::ALL
            .into_iter()
            .map(|x| (x.name(), a.level(x)))
            .collect(),
    }
}

fn check_name(name: &str) -> ApiResult<()> {
    if PREDEFINED_ROLES.contains(&name) {
        return Err(ApiError::Conflict(format!("{name} is a predefined role")));
    }
    let ok = !name.is_empty()
        && name.chars().count() <= 64
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || "-_.".contains(c));
    if !ok {
        return Err(ApiError::BadRequest(
            "role name: 1 to 64 letters, digits or -_.".into(),
        ));
    }
    Ok(())
}

/// The predefined roles, then the tenant's own (list level on ROLE).
#[utoipa::path(get, path = "/rest/role", tag = "roles",
    responses((status = 200, body = Vec<RoleView>), (status = 403)))]
pub(super) async fn list(
    user: ApiUser,
    State(s): State<RestState>,
) -> ApiResult<Json<Vec<RoleView>>> {
    user.require(Area::Role, Level::List)?;
    let mut out: Vec<RoleView> = PREDEFINED_ROLES
        .iter()
        .map(|n| view(n, None, &user.domain))
        .collect();
    for r in s.store().roles(user.tenant_id(), None).await? {
        out.push(view(&r.name, Some(&r), &user.domain));
    }
    Ok(Json(out))
}

/// One role (read level).
#[utoipa::path(get, path = "/rest/role/{name}", tag = "roles",
    params(("name" = String, Path)),
    responses((status = 200, body = RoleView), (status = 403), (status = 404)))]
pub(super) async fn one(
    user: ApiUser,
    State(s): State<RestState>,
    Path(name): Path<String>,
) -> ApiResult<Json<RoleView>> {
    user.require(Area::Role, Level::Read)?;
    if PREDEFINED_ROLES.contains(&name.as_str()) {
        return Ok(Json(view(&name, None, &user.domain)));
    }
    let r = s
        .store()
        .roles(user.tenant_id(), Some(&name))
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::NotFound(format!("role {name}")))?;
    Ok(Json(view(&name, Some(&r), &user.domain)))
}

/// Creates or replaces a custom role (write level; no stronger than the caller's own).
#[utoipa::path(put, path = "/rest/role/{name}", tag = "roles",
    params(("name" = String, Path)), request_body = RoleInput,
    responses((status = 200, body = RoleView), (status = 400), (status = 403), (status = 409)))]
pub(super) async fn put(
    user: ApiUser,
    State(s): State<RestState>,
    Path(name): Path<String>,
    Body(input): Body<RoleInput>,
) -> ApiResult<Json<RoleView>> {
    user.require(Area::Role, Level::Write)?;
    check_name(&name)?;
    let role = Role {
        name: name.clone(),
        priority: input.priority,
        privacy: input.privacy,
        access: input
            .access
            .iter()
            .map(|(a, l)| (a.name().to_string(), l.name().to_string()))
            .collect(),
    };
    if !user
        .access
        .covers(&Access::of(&name, Some(&role), &user.domain, false))
    {
        return Err(ApiError::Forbidden);
    }
    s.store().put_role(user.tenant_id(), &role).await?;
    Ok(Json(view(&name, Some(&role), &user.domain)))
}

/// Deletes a custom role (write level); refused while a user has it.
#[utoipa::path(delete, path = "/rest/role/{name}", tag = "roles",
    params(("name" = String, Path)),
    responses((status = 204), (status = 403), (status = 404), (status = 409)))]
pub(super) async fn delete(
    user: ApiUser,
    State(s): State<RestState>,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    user.require(Area::Role, Level::Write)?;
    check_name(&name)?;
    s.store().delete_role(user.tenant_id(), &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
