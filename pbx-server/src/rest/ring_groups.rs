//! `/rest/ringGroup[/{number}]` and `/rest/ringGroup/{number}/member/{extension}`: ring
//! groups (call groups) of the caller's tenant and their members by tier (docs/rest-api.md).
//! Changes reach the call engine at once (`Control::ReloadCallCenter`). Area: EXTENSION.

use super::access::{Area, Level};
use super::numbers::{check_name, check_new_number};
use super::session::ApiUser;
use super::{ApiError, ApiResult, Body, RestState};
use crate::store::RingGroupRow;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Default tier of a new member.
const DEFAULT_TIER: i64 = 1;
/// Default ring time of a new member, seconds.
const DEFAULT_RING_S: i64 = 20;

/// One ring group as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RingGroupView {
    number: String,
    name: String,
    /// A disabled group sends every call to its overflow.
    enabled: bool,
    /// `hangup` or `extension:<number>`, after the last tier.
    overflow: String,
    /// By tier, then extension.
    members: Vec<RingGroupMemberView>,
}

/// A member of a ring group.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RingGroupMemberView {
    extension: String,
    /// Tier 1 rings first; every member of a tier rings at once.
    tier: i64,
    /// Seconds it rings (a tier rings as long as its longest member).
    ring_time: i64,
}

impl From<RingGroupRow> for RingGroupView {
    fn from(g: RingGroupRow) -> Self {
        RingGroupView {
            number: g.number,
            name: g.name,
            enabled: g.enabled,
            overflow: g.overflow,
            members: g
                .members
                .into_iter()
                .map(|(extension, tier, ring_time)| RingGroupMemberView {
                    extension,
                    tier,
                    ring_time,
                })
                .collect(),
        }
    }
}

/// A ring group to create (`number` required) or the settings to change (absent = keep).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RingGroupInput {
    /// Digits; not an extension, queue or ring group number, nor a feature code.
    #[serde(default)]
    number: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    enabled: Option<bool>,
    /// `hangup` (default) or `extension:<number>`.
    #[serde(default)]
    overflow: Option<String>,
    /// Members (create only).
    #[serde(default)]
    members: Option<Vec<RingGroupMemberInput>>,
}

/// A member given with a new group.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RingGroupMemberInput {
    /// Extension number.
    extension: String,
    /// 1 to 100, default 1.
    #[serde(default)]
    tier: Option<i64>,
    /// 1 to 600 s, default 20.
    #[serde(default)]
    ring_time: Option<i64>,
}

/// A member's settings (`PUT .../member/{extension}`); absent: the defaults for a new
/// member, unchanged for an existing one.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct TierInput {
    /// 1 to 100.
    #[serde(default)]
    tier: Option<i64>,
    /// 1 to 600 s.
    #[serde(default)]
    ring_time: Option<i64>,
}

fn apply(g: &mut RingGroupRow, i: RingGroupInput) -> ApiResult<()> {
    if let Some(n) = i.name {
        check_name("name", &n)?;
        g.name = n;
    }
    g.enabled = i.enabled.unwrap_or(g.enabled);
    if let Some(o) = i.overflow {
        g.overflow = o;
    }
    crate::store::check_ring_group(g)?;
    Ok(())
}

async fn find(s: &RestState, tenant_id: i64, number: &str) -> ApiResult<RingGroupRow> {
    s.store()
        .ring_groups_of(tenant_id)
        .await?
        .into_iter()
        .find(|g| g.number == number)
        .ok_or_else(|| ApiError::NotFound(format!("ring group {number}")))
}

/// Every ring group of the tenant, by number (list level on EXTENSION).
#[utoipa::path(get, path = "/rest/ringGroup", tag = "ring groups",
    responses((status = 200, body = Vec<RingGroupView>), (status = 403)))]
pub(super) async fn list(
    user: ApiUser,
    State(s): State<RestState>,
) -> ApiResult<Json<Vec<RingGroupView>>> {
    user.require(Area::Extension, Level::List)?;
    let rows = s.store().ring_groups_of(user.tenant_id()).await?;
    Ok(Json(rows.into_iter().map(RingGroupView::from).collect()))
}

/// One ring group (read level on EXTENSION).
#[utoipa::path(get, path = "/rest/ringGroup/{number}", tag = "ring groups",
    params(("number" = String, Path)),
    responses((status = 200, body = RingGroupView), (status = 403), (status = 404)))]
pub(super) async fn one(
    user: ApiUser,
    State(s): State<RestState>,
    Path(number): Path<String>,
) -> ApiResult<Json<RingGroupView>> {
    user.require(Area::Extension, Level::Read)?;
    Ok(Json(find(&s, user.tenant_id(), &number).await?.into()))
}

/// Creates a ring group with its members (write level). Its number routes calls at once.
#[utoipa::path(post, path = "/rest/ringGroup", tag = "ring groups",
    request_body = RingGroupInput,
    responses((status = 201, body = RingGroupView), (status = 400), (status = 403), (status = 404), (status = 409)))]
pub(super) async fn create(
    user: ApiUser,
    State(s): State<RestState>,
    Body(mut input): Body<RingGroupInput>,
) -> ApiResult<(StatusCode, Json<RingGroupView>)> {
    user.require(Area::Extension, Level::Write)?;
    let number = input
        .number
        .take()
        .ok_or_else(|| ApiError::BadRequest("number is required".into()))?;
    let members = input.members.take().unwrap_or_default();
    let mut g = RingGroupRow {
        number: number.clone(),
        name: number.clone(),
        enabled: true,
        overflow: "hangup".into(),
        members: members
            .into_iter()
            .map(|m| {
                (
                    m.extension,
                    m.tier.unwrap_or(DEFAULT_TIER),
                    m.ring_time.unwrap_or(DEFAULT_RING_S),
                )
            })
            .collect(),
    };
    apply(&mut g, input)?;
    check_new_number(&s, &user, &number).await?;
    s.store().create_ring_group(user.tenant_id(), &g).await?;
    s.reload(&user.domain).await?;
    tracing::info!(user = %user.user.username, domain = %user.domain, number, "rest: ring group created");
    Ok((
        StatusCode::CREATED,
        Json(find(&s, user.tenant_id(), &number).await?.into()),
    ))
}

/// Changes a ring group's settings: fields present replace, absent ones stay (write level).
#[utoipa::path(put, path = "/rest/ringGroup/{number}", tag = "ring groups",
    params(("number" = String, Path)), request_body = RingGroupInput,
    responses((status = 200, body = RingGroupView), (status = 400), (status = 403), (status = 404)))]
pub(super) async fn update(
    user: ApiUser,
    State(s): State<RestState>,
    Path(number): Path<String>,
    Body(input): Body<RingGroupInput>,
) -> ApiResult<Json<RingGroupView>> {
    user.require(Area::Extension, Level::Write)?;
    if input.number.as_ref().is_some_and(|n| *n != number) {
        return Err(ApiError::BadRequest(
            "number: a ring group keeps its number (delete it and create another)".into(),
        ));
    }
    if input.members.is_some() {
        return Err(ApiError::BadRequest(
            "members: change them under /rest/ringGroup/{number}/member/{extension}".into(),
        ));
    }
    let mut g = find(&s, user.tenant_id(), &number).await?;
    apply(&mut g, input)?;
    s.store().update_ring_group(user.tenant_id(), &g).await?;
    s.reload(&user.domain).await?;
    Ok(Json(find(&s, user.tenant_id(), &number).await?.into()))
}

/// Deletes a ring group with its members (write level).
#[utoipa::path(delete, path = "/rest/ringGroup/{number}", tag = "ring groups",
    params(("number" = String, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
pub(super) async fn delete(
    user: ApiUser,
    State(s): State<RestState>,
    Path(number): Path<String>,
) -> ApiResult<StatusCode> {
    user.require(Area::Extension, Level::Write)?;
    s.store()
        .delete_ring_group(user.tenant_id(), &number)
        .await?;
    s.reload(&user.domain).await?;
    tracing::info!(user = %user.user.username, domain = %user.domain, number, "rest: ring group deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Puts an extension in a tier of the group, or changes its tier and ring time (write
/// level). `201` when it was not a member, `200` otherwise; the group is returned.
#[utoipa::path(put, path = "/rest/ringGroup/{number}/member/{extension}", tag = "ring groups",
    params(("number" = String, Path), ("extension" = String, Path)), request_body = TierInput,
    responses((status = 200, body = RingGroupView), (status = 201, body = RingGroupView), (status = 400), (status = 403), (status = 404)))]
pub(super) async fn put_member(
    user: ApiUser,
    State(s): State<RestState>,
    Path((number, extension)): Path<(String, String)>,
    Body(input): Body<TierInput>,
) -> ApiResult<(StatusCode, Json<RingGroupView>)> {
    user.require(Area::Extension, Level::Write)?;
    let g = find(&s, user.tenant_id(), &number).await?;
    let (tier, ring_s) = g
        .members
        .iter()
        .find(|(e, _, _)| *e == extension)
        .map_or((DEFAULT_TIER, DEFAULT_RING_S), |(_, t, r)| (*t, *r));
    let new = s
        .store()
        .put_ring_group_member(
            user.tenant_id(),
            &number,
            &extension,
            input.tier.unwrap_or(tier),
            input.ring_time.unwrap_or(ring_s),
        )
        .await?;
    s.reload(&user.domain).await?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(find(&s, user.tenant_id(), &number).await?.into()),
    ))
}

/// Removes an extension from the group (write level).
#[utoipa::path(delete, path = "/rest/ringGroup/{number}/member/{extension}", tag = "ring groups",
    params(("number" = String, Path), ("extension" = String, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
pub(super) async fn delete_member(
    user: ApiUser,
    State(s): State<RestState>,
    Path((number, extension)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    user.require(Area::Extension, Level::Write)?;
    s.store()
        .delete_ring_group_member(user.tenant_id(), &number, &extension)
        .await?;
    s.reload(&user.domain).await?;
    Ok(StatusCode::NO_CONTENT)
}
