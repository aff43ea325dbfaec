//! `/rest/extension/{number}/pickupGroups` (the pickup groups of one extension: which it is a
//! member of, which it may pick up from with `*9`) and `/rest/pickupGroup` (every group of
//! the tenant). Pickup groups live in the directory, so a change takes effect with the
//! directory reload. Area: EXTENSION.

use super::access::{Area, Level};
use super::session::ApiUser;
use super::{ApiResult, Body, RestState};
use crate::store::PickupGroups;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// The pickup groups of an extension.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PickupGroupsView {
    /// Groups whose members may pick up this extension's ringing calls.
    member_of: Vec<String>,
    /// Groups whose ringing calls this extension may pick up (`*9`).
    pickup_from: Vec<String>,
}

impl From<PickupGroups> for PickupGroupsView {
    fn from(g: PickupGroups) -> Self {
        PickupGroupsView {
            member_of: g.member,
            pickup_from: g.picker,
        }
    }
}

/// New pickup groups of an extension; a list given replaces that list, an absent one stays.
/// Group names: 1 to 32 letters, digits, `-` and `_`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct PickupGroupsInput {
    #[serde(default)]
    member_of: Option<Vec<String>>,
    #[serde(default)]
    pickup_from: Option<Vec<String>>,
}

/// One pickup group of the tenant.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PickupGroupView {
    name: String,
    /// Extensions whose ringing calls the group's pickers may pick up.
    members: Vec<String>,
    /// Extensions that may pick up the members' calls.
    pickers: Vec<String>,
}

/// Longest list of groups of one extension.
const MAX_GROUPS: usize = 100;

fn dedup(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

/// The pickup groups of an extension (read level on EXTENSION, or the caller's own).
#[utoipa::path(get, path = "/rest/extension/{number}/pickupGroups", tag = "pickup groups",
    params(("number" = String, Path)),
    responses((status = 200, body = PickupGroupsView), (status = 403), (status = 404)))]
pub(super) async fn get(
    user: ApiUser,
    State(s): State<RestState>,
    Path(number): Path<String>,
) -> ApiResult<Json<PickupGroupsView>> {
    if !user.owns(&number) {
        user.require(Area::Extension, Level::Read)?;
    }
    Ok(Json(
        s.store()
            .pickup_groups_of(user.tenant_id(), &number)
            .await?
            .into(),
    ))
}

/// Sets the pickup groups of an extension (write level); `*9` follows at once.
#[utoipa::path(put, path = "/rest/extension/{number}/pickupGroups", tag = "pickup groups",
    params(("number" = String, Path)), request_body = PickupGroupsInput,
    responses((status = 200, body = PickupGroupsView), (status = 400), (status = 403), (status = 404)))]
pub(super) async fn put(
    user: ApiUser,
    State(s): State<RestState>,
    Path(number): Path<String>,
    Body(input): Body<PickupGroupsInput>,
) -> ApiResult<Json<PickupGroupsView>> {
    user.require(Area::Extension, Level::Write)?;
    let mut g = s
        .store()
        .pickup_groups_of(user.tenant_id(), &number)
        .await?;
    if let Some(m) = input.member_of {
        g.member = dedup(m);
    }
    if let Some(p) = input.pickup_from {
        g.picker = dedup(p);
    }
    if g.member.len() > MAX_GROUPS || g.picker.len() > MAX_GROUPS {
        return Err(super::ApiError::BadRequest(format!(
            "at most {MAX_GROUPS} groups in each list"
        )));
    }
    s.store()
        .set_pickup_groups_of(user.tenant_id(), &number, &g)
        .await?;
    s.reload(&user.domain).await?;
    Ok(Json(
        s.store()
            .pickup_groups_of(user.tenant_id(), &number)
            .await?
            .into(),
    ))
}

/// Takes the extension out of every pickup group (write level).
#[utoipa::path(delete, path = "/rest/extension/{number}/pickupGroups", tag = "pickup groups",
    params(("number" = String, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
pub(super) async fn delete(
    user: ApiUser,
    State(s): State<RestState>,
    Path(number): Path<String>,
) -> ApiResult<StatusCode> {
    user.require(Area::Extension, Level::Write)?;
    s.store()
        .set_pickup_groups_of(user.tenant_id(), &number, &PickupGroups::default())
        .await?;
    s.reload(&user.domain).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every pickup group of the tenant with its members and pickers, by name (list level on
/// EXTENSION).
#[utoipa::path(get, path = "/rest/pickupGroup", tag = "pickup groups",
    responses((status = 200, body = Vec<PickupGroupView>), (status = 403)))]
pub(super) async fn list(
    user: ApiUser,
    State(s): State<RestState>,
) -> ApiResult<Json<Vec<PickupGroupView>>> {
    user.require(Area::Extension, Level::List)?;
    let mut groups: BTreeMap<String, PickupGroupView> = BTreeMap::new();
    for (name, ext, role) in s.store().pickup_group_listing(user.tenant_id()).await? {
        let g = groups
            .entry(name.clone())
            .or_insert_with(|| PickupGroupView {
                name,
                members: Vec::new(),
                pickers: Vec::new(),
            });
        if role == "member" {
            g.members.push(ext);
        } else {
            g.pickers.push(ext);
        }
    }
    Ok(Json(groups.into_values().collect()))
}
