//! `/rest/queue[/{number}]` and `/rest/queue/{number}/member/{extension}`: queues of the
//! caller's tenant and their configured members (field names in docs/rest-api.md). Changes
//! reach the call center at once (a reload, `Control::ReloadCallCenter`). Area: EXTENSION, as
//! for every number of the numbering plan (docs/decisions/011-rest-api.md).

use super::access::{Area, Level};
use super::numbers::{check_name, check_new_number};
use super::session::ApiUser;
use super::{ApiError, ApiResult, Body, RestState};
use crate::store::{QueueMemberRow, QueueRow, DEFAULT_TENANT};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One queue as the API shows it. Times are in seconds.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct QueueView {
    number: String,
    name: String,
    enabled: bool,
    /// Higher first: an agent free for several queues takes the highest one's caller.
    priority: i64,
    /// `ringall`, `linear`, `leastrecent`, `fewestcalls`, `rrmemory`, `rrordered`, `random`.
    strategy: String,
    /// Seconds each attempt rings.
    ring_timeout: i64,
    /// Seconds between attempts.
    retry: i64,
    /// Seconds an agent rests after a call.
    wrapup: i64,
    /// Seconds a caller may wait before the overflow; 0 = no limit.
    max_wait: i64,
    /// Callers allowed to wait; 0 = no limit.
    max_callers: i64,
    /// Pause an agent who does not answer.
    autopause: bool,
    /// Ring agents already on a call too.
    ring_busy: bool,
    /// `hangup` or `extension:<number>`.
    overflow: String,
    /// A new caller overflows at once when every member is in one of these states
    /// (`busy`, `paused`, `unavailable`).
    join_empty: Vec<String>,
    /// Waiting callers overflow when every member is (`paused`, `unavailable`).
    leave_empty: Vec<String>,
    /// Answered within this many seconds counts for the service level.
    service_level: i64,
    /// What waiting callers hear: `ringback`, `tone` or `wav:<path>`.
    music: String,
    /// In ring order.
    members: Vec<QueueMemberView>,
}

/// A member of a queue.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct QueueMemberView {
    extension: String,
    /// Lower rings first.
    penalty: i64,
    /// Logged in at run time (`/rest/operation/queue/dynamicMember`, `*82`), not configured.
    dynamic: bool,
}

fn list_of(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

impl From<QueueRow> for QueueView {
    fn from(q: QueueRow) -> Self {
        QueueView {
            join_empty: list_of(&q.join_empty),
            leave_empty: list_of(&q.leave_empty),
            number: q.number,
            name: q.name,
            enabled: q.enabled,
            priority: q.priority,
            strategy: q.strategy,
            ring_timeout: q.ring_timeout_s,
            retry: q.retry_s,
            wrapup: q.wrapup_s,
            max_wait: q.max_wait_s,
            max_callers: q.max_callers,
            autopause: q.autopause,
            ring_busy: q.ring_busy,
            overflow: q.overflow,
            service_level: q.service_level_s,
            music: q.music,
            members: q
                .members
                .into_iter()
                .map(|m| QueueMemberView {
                    extension: m.extension,
                    penalty: m.penalty,
                    dynamic: m.dynamic,
                })
                .collect(),
        }
    }
}

/// A queue to create (`number` required) or the settings to change (absent = keep).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct QueueInput {
    /// Digits; not an extension, queue or ring group number, nor a feature code.
    #[serde(default)]
    number: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    enabled: Option<bool>,
    /// -1000 to 1000.
    #[serde(default)]
    priority: Option<i64>,
    #[serde(default)]
    strategy: Option<String>,
    /// 1 to 600 s.
    #[serde(default)]
    ring_timeout: Option<i64>,
    /// 0 to 3600 s.
    #[serde(default)]
    retry: Option<i64>,
    /// 0 to 3600 s.
    #[serde(default)]
    wrapup: Option<i64>,
    /// 0 to 86400 s.
    #[serde(default)]
    max_wait: Option<i64>,
    /// 0 to 100000.
    #[serde(default)]
    max_callers: Option<i64>,
    #[serde(default)]
    autopause: Option<bool>,
    #[serde(default)]
    ring_busy: Option<bool>,
    #[serde(default)]
    overflow: Option<String>,
    #[serde(default)]
    join_empty: Option<Vec<String>>,
    #[serde(default)]
    leave_empty: Option<Vec<String>>,
    /// 0 to 86400 s.
    #[serde(default)]
    service_level: Option<i64>,
    /// `ringback`, `tone`, or `wav:<absolute path>` of an 8 kHz WAV file on the server
    /// (default tenant only).
    #[serde(default)]
    music: Option<String>,
    /// Configured members in ring order (create only).
    #[serde(default)]
    members: Option<Vec<QueueMemberInput>>,
}

/// A member given with a new queue.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct QueueMemberInput {
    /// Extension number.
    extension: String,
    /// 0 to 1000, default 0.
    #[serde(default)]
    penalty: Option<i64>,
}

/// A member's settings (`PUT .../member/{extension}`).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct PenaltyInput {
    /// 0 to 1000; absent: 0 for a new member, unchanged for an existing one.
    #[serde(default)]
    penalty: Option<i64>,
}

/// A queue with the store's defaults (as `pbx-server set-queue` creates one).
fn new_row(number: &str) -> QueueRow {
    QueueRow {
        number: number.to_string(),
        name: number.to_string(),
        enabled: true,
        priority: 0,
        strategy: "ringall".into(),
        ring_timeout_s: 15,
        retry_s: 5,
        wrapup_s: 20,
        max_wait_s: 120,
        max_callers: 0,
        autopause: false,
        ring_busy: false,
        overflow: "hangup".into(),
        join_empty: String::new(),
        leave_empty: String::new(),
        service_level_s: 20,
        music: "ringback".into(),
        members: Vec::new(),
    }
}

/// Applies the settings given to `q` (the store checks the values).
fn apply(q: &mut QueueRow, i: QueueInput) -> ApiResult<()> {
    if let Some(n) = i.name {
        check_name("name", &n)?;
        q.name = n;
    }
    if let Some(s) = i.strategy {
        q.strategy = s;
    }
    if let Some(o) = i.overflow {
        q.overflow = o;
    }
    for (list, field, name) in [
        (i.join_empty, &mut q.join_empty, "joinEmpty"),
        (i.leave_empty, &mut q.leave_empty, "leaveEmpty"),
    ] {
        if let Some(list) = list {
            if list.iter().any(|s| s.contains(',')) {
                return Err(ApiError::BadRequest(format!("{name}: one state per item")));
            }
            *field = list.join(",");
        }
    }
    if let Some(m) = i.music {
        q.music = m;
    }
    let set = |v: Option<i64>, f: &mut i64| {
        if let Some(v) = v {
            *f = v;
        }
    };
    set(i.priority, &mut q.priority);
    set(i.ring_timeout, &mut q.ring_timeout_s);
    set(i.retry, &mut q.retry_s);
    set(i.wrapup, &mut q.wrapup_s);
    set(i.max_wait, &mut q.max_wait_s);
    set(i.max_callers, &mut q.max_callers);
    set(i.service_level, &mut q.service_level_s);
    q.enabled = i.enabled.unwrap_or(q.enabled);
    q.autopause = i.autopause.unwrap_or(q.autopause);
    q.ring_busy = i.ring_busy.unwrap_or(q.ring_busy);
    crate::store::check_queue(q)?;
    Ok(())
}

/// Largest music file (about an hour of 8 kHz 16-bit audio).
const MAX_MUSIC_BYTES: u64 = 64 << 20;

/// A `wav:` music must name an 8 kHz WAV file the server can read, and only the default
/// tenant (which administers the machine) may name server files.
async fn check_music(user: &ApiUser, old: Option<&str>, music: &str) -> ApiResult<()> {
    let Some(path) = music.strip_prefix("wav:") else {
        return Ok(());
    };
    if old == Some(music) {
        return Ok(());
    }
    if user.domain != DEFAULT_TENANT {
        return Err(ApiError::BadRequest(
            "music: wav files are for the default tenant; use ringback or tone".into(),
        ));
    }
    if !std::path::Path::new(path).is_absolute() {
        return Err(ApiError::BadRequest(
            "music: wav:<absolute path> of a file on the server".into(),
        ));
    }
    let meta = tokio::fs::metadata(path)
        .await
        .map_err(|e| ApiError::BadRequest(format!("music: {path}: {e}")))?;
    if !meta.is_file() || meta.len() > MAX_MUSIC_BYTES {
        return Err(ApiError::BadRequest(format!(
            "music: {path}: not a regular file of at most {MAX_MUSIC_BYTES} bytes"
        )));
    }
    let bytes = tokio::fs::read(path)
        .await
        .map_err(|e| ApiError::BadRequest(format!("music: {path}: {e}")))?;
    match media_core::wav::read_wav(&bytes) {
        Ok(w) if w.sample_rate == 8_000 && !w.samples.is_empty() => Ok(()),
        Ok(w) => Err(ApiError::BadRequest(format!(
            "music: {path}: {} Hz; 8000 Hz audio needed",
            w.sample_rate
        ))),
        Err(e) => Err(ApiError::BadRequest(format!("music: {path}: {e}"))),
    }
}

async fn view(s: &RestState, tenant_id: i64, number: &str) -> ApiResult<QueueView> {
    s.store()
        .queues_of(tenant_id)
        .await?
        .into_iter()
        .find(|q| q.number == number)
        .map(QueueView::from)
        .ok_or_else(|| ApiError::NotFound(format!("queue {number}")))
}

/// Every queue of the tenant, by number (list level on EXTENSION).
#[utoipa::path(get, path = "/rest/queue", tag = "queues",
    responses((status = 200, body = Vec<QueueView>), (status = 403)))]
pub(super) async fn list(
    user: ApiUser,
    State(s): State<RestState>,
) -> ApiResult<Json<Vec<QueueView>>> {
    user.require(Area::Extension, Level::List)?;
    let rows = s.store().queues_of(user.tenant_id()).await?;
    Ok(Json(rows.into_iter().map(QueueView::from).collect()))
}

/// One queue (read level on EXTENSION).
#[utoipa::path(get, path = "/rest/queue/{number}", tag = "queues",
    params(("number" = String, Path)),
    responses((status = 200, body = QueueView), (status = 403), (status = 404)))]
pub(super) async fn one(
    user: ApiUser,
    State(s): State<RestState>,
    Path(number): Path<String>,
) -> ApiResult<Json<QueueView>> {
    user.require(Area::Extension, Level::Read)?;
    Ok(Json(view(&s, user.tenant_id(), &number).await?))
}

/// Creates a queue with its configured members (write level). Its number routes calls at
/// once.
#[utoipa::path(post, path = "/rest/queue", tag = "queues",
    request_body = QueueInput,
    responses((status = 201, body = QueueView), (status = 400), (status = 403), (status = 404), (status = 409)))]
pub(super) async fn create(
    user: ApiUser,
    State(s): State<RestState>,
    Body(mut input): Body<QueueInput>,
) -> ApiResult<(StatusCode, Json<QueueView>)> {
    user.require(Area::Extension, Level::Write)?;
    let number = input
        .number
        .take()
        .ok_or_else(|| ApiError::BadRequest("number is required".into()))?;
    let members = input.members.take().unwrap_or_default();
    let mut q = new_row(&number);
    apply(&mut q, input)?;
    q.members = members
        .into_iter()
        .map(|m| QueueMemberRow {
            extension: m.extension,
            penalty: m.penalty.unwrap_or(0),
            dynamic: false,
        })
        .collect();
    crate::store::check_queue(&q)?;
    check_new_number(&s, &user, &number).await?;
    check_music(&user, None, &q.music).await?;
    s.store().create_queue(user.tenant_id(), &q).await?;
    s.reload(&user.domain).await?;
    tracing::info!(user = %user.user.username, domain = %user.domain, number, "rest: queue created");
    Ok((
        StatusCode::CREATED,
        Json(view(&s, user.tenant_id(), &number).await?),
    ))
}

/// Changes a queue's settings: fields present replace, absent ones stay (write level).
/// Waiting callers stay; the new settings apply from their next attempt.
#[utoipa::path(put, path = "/rest/queue/{number}", tag = "queues",
    params(("number" = String, Path)), request_body = QueueInput,
    responses((status = 200, body = QueueView), (status = 400), (status = 403), (status = 404)))]
pub(super) async fn update(
    user: ApiUser,
    State(s): State<RestState>,
    Path(number): Path<String>,
    Body(input): Body<QueueInput>,
) -> ApiResult<Json<QueueView>> {
    user.require(Area::Extension, Level::Write)?;
    if input.number.as_ref().is_some_and(|n| *n != number) {
        return Err(ApiError::BadRequest(
            "number: a queue keeps its number (delete it and create another)".into(),
        ));
    }
    if input.members.is_some() {
        return Err(ApiError::BadRequest(
            "members: change them under /rest/queue/{number}/member/{extension}".into(),
        ));
    }
    let mut q = s
        .store()
        .queues_of(user.tenant_id())
        .await?
        .into_iter()
        .find(|q| q.number == number)
        .ok_or_else(|| ApiError::NotFound(format!("queue {number}")))?;
    let old_music = q.music.clone();
    apply(&mut q, input)?;
    check_music(&user, Some(&old_music), &q.music).await?;
    s.store().update_queue(user.tenant_id(), &q).await?;
    s.reload(&user.domain).await?;
    Ok(Json(view(&s, user.tenant_id(), &number).await?))
}

/// Deletes a queue with its members and pause history (write level). Callers waiting in it
/// leave by its overflow.
#[utoipa::path(delete, path = "/rest/queue/{number}", tag = "queues",
    params(("number" = String, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
pub(super) async fn delete(
    user: ApiUser,
    State(s): State<RestState>,
    Path(number): Path<String>,
) -> ApiResult<StatusCode> {
    user.require(Area::Extension, Level::Write)?;
    s.store().delete_queue(user.tenant_id(), &number).await?;
    s.reload(&user.domain).await?;
    tracing::info!(user = %user.user.username, domain = %user.domain, number, "rest: queue deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Makes an extension a configured member of the queue, or changes its penalty (write
/// level). `201` when it was not a member (it joins at the end of the ring order), `200`
/// otherwise; the queue is returned.
#[utoipa::path(put, path = "/rest/queue/{number}/member/{extension}", tag = "queues",
    params(("number" = String, Path), ("extension" = String, Path)), request_body = PenaltyInput,
    responses((status = 200, body = QueueView), (status = 201, body = QueueView), (status = 400), (status = 403), (status = 404)))]
pub(super) async fn put_member(
    user: ApiUser,
    State(s): State<RestState>,
    Path((number, extension)): Path<(String, String)>,
    Body(input): Body<PenaltyInput>,
) -> ApiResult<(StatusCode, Json<QueueView>)> {
    user.require(Area::Extension, Level::Write)?;
    let penalty = match input.penalty {
        Some(p) => p,
        None => s
            .store()
            .queues_of(user.tenant_id())
            .await?
            .into_iter()
            .find(|q| q.number == number)
            .and_then(|q| q.members.into_iter().find(|m| m.extension == extension))
            .map_or(0, |m| m.penalty),
    };
    let new = s
        .store()
        .put_queue_member(user.tenant_id(), &number, &extension, penalty)
        .await?;
    s.reload(&user.domain).await?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view(&s, user.tenant_id(), &number).await?)))
}

/// Removes a configured member (write level): it is not rung for the queue's callers from
/// now on. A dynamic member is `409` (log it out: `/rest/operation/queue/dynamicMember`).
#[utoipa::path(delete, path = "/rest/queue/{number}/member/{extension}", tag = "queues",
    params(("number" = String, Path), ("extension" = String, Path)),
    responses((status = 204), (status = 403), (status = 404), (status = 409)))]
pub(super) async fn delete_member(
    user: ApiUser,
    State(s): State<RestState>,
    Path((number, extension)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    user.require(Area::Extension, Level::Write)?;
    s.store()
        .delete_queue_member(user.tenant_id(), &number, &extension)
        .await?;
    s.reload(&user.domain).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(json: serde_json::Value) -> QueueInput {
        serde_json::from_value(json).unwrap_or_default()
    }

    #[test]
    fn settings_are_applied_and_checked() {
        let mut q = new_row("610");
        let ok = apply(
            &mut q,
            input(serde_json::json!({
                "name": "Vendite", "strategy": "linear", "ringTimeout": 7, "maxWait": 0,
                "joinEmpty": ["paused", "unavailable"], "overflow": "extension:201", "music": "tone"
            })),
        );
        assert!(ok.is_ok(), "{ok:?}");
        assert_eq!(
            (
                q.name.as_str(),
                q.strategy.as_str(),
                q.ring_timeout_s,
                q.max_wait_s,
                q.join_empty.as_str(),
                q.retry_s
            ),
            ("Vendite", "linear", 7, 0, "paused,unavailable", 5)
        );
        for bad in [
            serde_json::json!({"strategy": "roundrobin"}),
            serde_json::json!({"ringTimeout": 0}),
            serde_json::json!({"retry": -1}),
            serde_json::json!({"maxWait": 86401}),
            serde_json::json!({"joinEmpty": ["asleep"]}),
            serde_json::json!({"joinEmpty": ["busy,paused"]}),
            serde_json::json!({"leaveEmpty": ["busy"]}),
            serde_json::json!({"overflow": "voicemail"}),
            serde_json::json!({"music": "jazz"}),
            serde_json::json!({"name": "x\u{0}y"}),
            serde_json::json!({"priority": 5000}),
        ] {
            let mut q = new_row("610");
            assert!(
                matches!(
                    apply(&mut q, input(bad.clone())),
                    Err(ApiError::BadRequest(_))
                ),
                "{bad}"
            );
        }
        let v = QueueView::from(q);
        assert_eq!(v.join_empty, ["paused", "unavailable"]);
        assert!(v.leave_empty.is_empty());
    }
}
