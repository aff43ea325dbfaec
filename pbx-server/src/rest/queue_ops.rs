//! The seed's queue operation API (spec/seed-api-addons.md §5.3): `GET /rest/operation/queue`
//! and `/rest/operation/queue/{queueName}` (dynamic members and pause states per queue),
//! `POST /rest/operation/queue/pause` and `/rest/operation/queue/dynamicMember`. Thin
//! adapters over the call center's agent operations (`Control::Queue`, as the CTI's
//! `queue_pause`/`queue_login` commands), so a change shows in the CTI and in who is rung.
//!
//! The seed names agents by SIP account (`"SIP/101-phone"`); our agents are extensions (every
//! device of the extension rings). An account names its extension; the answers key every
//! state by each of the extension's accounts, so `effective members = static ∪ dynamic keys`
//! holds as the seed says. Queues are named by name (the seed's) or by number.

use super::access::{Area, Level};
use super::session::ApiUser;
use super::{ApiError, ApiResult, RestState};
use crate::control::QueueOp;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use utoipa::ToSchema;

/// The pause state of one account in one queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub(crate) struct PauseState {
    /// `true` while paused.
    status: bool,
    /// When it last changed, as the seed prints it (PostgreSQL style, UTC):
    /// `2024-01-17 18:07:50.814301+00`.
    timestamp: String,
}

/// One queue's operational state; the seed answers `null` for a queue with neither.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct QueueOpState {
    /// By account (`SIP/<username>`): only agents whose pause state ever changed; a missing
    /// account is not paused.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pause: BTreeMap<String, PauseState>,
    /// By account: the penalty of each dynamic member.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    dynamic_members: BTreeMap<String, u32>,
}

/// A member of a queue now.
#[derive(Debug, Clone)]
struct Member {
    extension: String,
    penalty: u32,
    dynamic: bool,
    /// Since when it is paused (ms).
    paused_since: Option<i64>,
}

/// A queue now.
#[derive(Debug, Clone)]
struct Queue {
    number: String,
    name: String,
    members: Vec<Member>,
}

/// The body of `POST /rest/operation/queue/pause` and `.../dynamicMember`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct QueueOpInput {
    /// Queue name (or number); absent: every queue.
    queue: Option<String>,
    /// The agent's SIP account, `SIP/<username>` or `<username>`.
    account: String,
    /// `true`: pause / add; `false` (the default): unpause / remove. Also `"true"`/`"false"`.
    #[schema(value_type = Option<bool>)]
    enabled: Option<Value>,
    /// dynamicMember only: the penalty on add, an integer ≥ 0 (default 0); lower rings first.
    penalty: Option<i64>,
}

/// `2024-01-17 18:07:50.814301+00` from ms since the epoch.
fn seed_timestamp(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string())
        .unwrap_or_default()
}

/// The seed's body, leniently: its own examples end an object with a trailing comma.
fn parse_body(body: &[u8]) -> ApiResult<QueueOpInput> {
    let first = match serde_json::from_slice(body) {
        Ok(v) => return Ok(v),
        Err(e) => e,
    };
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim_end();
    if let Some(inner) = trimmed.strip_suffix('}') {
        let inner = inner.trim_end();
        if let Some(without) = inner.strip_suffix(',') {
            if let Ok(v) = serde_json::from_str(&format!("{without}}}")) {
                return Ok(v);
            }
        }
    }
    Err(ApiError::BadRequest(format!("body: {first}")))
}

fn parse_enabled(v: Option<&Value>) -> ApiResult<bool> {
    match v {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s == "true" => Ok(true),
        Some(Value::String(s)) if s == "false" => Ok(false),
        _ => Err(ApiError::BadRequest("enabled: true or false".into())),
    }
}

/// Whether the user acts on and sees every agent: supervisors (the CTI's rule) and roles
/// with `level` on SERVICE_OPERATION.
fn supervises(user: &ApiUser, level: Level) -> bool {
    user.user.role == "supervisor" || user.access.allows(Area::ServiceOperation, level)
}

/// The tenant's queues with their members now: from the SIP core when it runs the tenant,
/// else as stored (no pauses: nothing runs them).
async fn queues_now(s: &RestState, user: &ApiUser) -> ApiResult<Vec<Queue>> {
    if s.serves(&user.domain) {
        let state = s.core_state().await?;
        let mut queues: Vec<Queue> = state
            .queues
            .into_iter()
            .filter(|(t, _)| *t == user.domain)
            .map(|(_, q)| Queue {
                number: q.number,
                name: q.name,
                members: Vec::new(),
            })
            .collect();
        for (_, agent) in state.agents.iter().filter(|(t, _)| *t == user.domain) {
            for m in &agent.queues {
                if let Some(q) = queues.iter_mut().find(|q| q.number == m.queue) {
                    q.members.push(Member {
                        extension: agent.extension.clone(),
                        penalty: m.penalty,
                        dynamic: m.dynamic,
                        paused_since: m.paused.as_ref().map(|p| p.since_ms),
                    });
                }
            }
        }
        return Ok(queues);
    }
    Ok(s.store()
        .queues(&user.domain)
        .await?
        .into_iter()
        .map(|q| Queue {
            number: q.number,
            name: q.name,
            members: q
                .members
                .into_iter()
                .map(|m| Member {
                    extension: m.extension,
                    penalty: u32::try_from(m.penalty).unwrap_or(0),
                    dynamic: m.dynamic,
                    paused_since: None,
                })
                .collect(),
        })
        .collect())
}

/// The queue named `name` (its name, else its number).
fn find<'a>(queues: &'a [Queue], name: &str) -> ApiResult<&'a Queue> {
    queues
        .iter()
        .find(|q| q.name == name)
        .or_else(|| queues.iter().find(|q| q.number == name))
        .ok_or_else(|| ApiError::NotFound(format!("queue {name}")))
}

/// Extension number → its accounts' usernames.
async fn accounts_by_extension(
    s: &RestState,
    user: &ApiUser,
) -> ApiResult<HashMap<String, Vec<String>>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for a in s.store().account_listing(user.tenant_id(), None).await? {
        out.entry(a.extension).or_default().push(a.account.username);
    }
    Ok(out)
}

/// Every queue's (or one queue's) state, as the caller may see it: everything for
/// supervisors, only their own extension's accounts for the others.
async fn states(
    s: &RestState,
    user: &ApiUser,
    only: Option<&str>,
) -> ApiResult<BTreeMap<String, Option<QueueOpState>>> {
    let queues = queues_now(s, user).await?;
    let chosen: Vec<&Queue> = match only {
        Some(name) => vec![find(&queues, name)?],
        None => queues.iter().collect(),
    };
    let accounts = accounts_by_extension(s, user).await?;
    // The last ended pause of each (extension, queue): the time it was last unpaused.
    let mut ended: HashMap<(String, String), i64> = HashMap::new();
    for p in s.store().queue_pauses(&user.domain, 0).await? {
        if let Some(end) = p.end_ms {
            let e = ended.entry((p.extension, p.queue)).or_insert(end);
            *e = (*e).max(end);
        }
    }
    let all = supervises(user, Level::Read);
    let mut out = BTreeMap::new();
    for q in chosen {
        let mut st = QueueOpState::default();
        for m in &q.members {
            if !all && !user.owns(&m.extension) {
                continue;
            }
            let pause = match m.paused_since {
                Some(since) => Some(PauseState {
                    status: true,
                    timestamp: seed_timestamp(since),
                }),
                None => ended
                    .get(&(m.extension.clone(), q.number.clone()))
                    .map(|end| PauseState {
                        status: false,
                        timestamp: seed_timestamp(*end),
                    }),
            };
            for username in accounts.get(&m.extension).into_iter().flatten() {
                let key = format!("SIP/{username}");
                if let Some(p) = &pause {
                    st.pause.insert(key.clone(), p.clone());
                }
                if m.dynamic {
                    st.dynamic_members.insert(key, m.penalty);
                }
            }
        }
        let empty = st.pause.is_empty() && st.dynamic_members.is_empty();
        out.insert(q.name.clone(), (!empty).then_some(st));
    }
    Ok(out)
}

/// Dynamic members and pause states of every queue, keyed by queue name (`null`: neither).
/// Supervisors see every agent, other users their own extension's accounts.
#[utoipa::path(get, path = "/rest/operation/queue", tag = "operation",
    responses((status = 200, body = BTreeMap<String, QueueOpState>, description = "by queue name; a queue with neither pauses nor dynamic members is null")))]
pub(super) async fn list(
    user: ApiUser,
    State(s): State<RestState>,
) -> ApiResult<Json<BTreeMap<String, Option<QueueOpState>>>> {
    Ok(Json(states(&s, &user, None).await?))
}

/// The same for one queue (by name, or number).
#[utoipa::path(get, path = "/rest/operation/queue/{queueName}", tag = "operation",
    params(("queueName" = String, Path, description = "queue name (or number)")),
    responses((status = 200, body = BTreeMap<String, QueueOpState>, description = "by queue name; a queue with neither pauses nor dynamic members is null"), (status = 404)))]
pub(super) async fn one(
    user: ApiUser,
    State(s): State<RestState>,
    Path(name): Path<String>,
) -> ApiResult<Json<BTreeMap<String, Option<QueueOpState>>>> {
    Ok(Json(states(&s, &user, Some(&name)).await?))
}

/// The extension behind `SIP/<username>` (or `<username>`) in the caller's tenant, if the
/// caller may act on it: an agent on itself, supervisors on anyone.
async fn agent(s: &RestState, user: &ApiUser, account: &str) -> ApiResult<String> {
    let username = account
        .strip_prefix("SIP/")
        .or_else(|| account.strip_prefix("sip/"))
        .unwrap_or(account);
    let listing = s.store().account_listing(user.tenant_id(), None).await?;
    let extension = listing
        .into_iter()
        .find(|a| a.account.username == username)
        .map(|a| a.extension);
    let allowed = |ext: &str| user.owns(ext) || supervises(user, Level::Write);
    match extension {
        Some(ext) if allowed(&ext) => Ok(ext),
        None if supervises(user, Level::Write) => {
            Err(ApiError::NotFound(format!("account {account}")))
        }
        // Whether another's account exists is not told to who may not act on it.
        _ => Err(ApiError::Forbidden),
    }
}

/// Sends one agent operation to the call center.
async fn run(s: &RestState, user: &ApiUser, op: QueueOp) -> ApiResult<()> {
    if !s.serves(&user.domain) {
        return Err(ApiError::Conflict(format!(
            "the call center of tenant {} is not running on this server",
            user.domain
        )));
    }
    s.queue_op(&user.domain, op).await
}

/// Pauses (`enabled: true`) or unpauses an agent in one queue or in all of its queues.
/// No body in the answer.
#[utoipa::path(post, path = "/rest/operation/queue/pause", tag = "operation",
    request_body = QueueOpInput,
    responses((status = 200, description = "no body"), (status = 400), (status = 403), (status = 404), (status = 409)))]
pub(super) async fn pause(
    user: ApiUser,
    State(s): State<RestState>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let input = parse_body(&body)?;
    let on = parse_enabled(input.enabled.as_ref())?;
    if input.penalty.is_some() {
        return Err(ApiError::BadRequest(
            "penalty: only for dynamicMember".into(),
        ));
    }
    let extension = agent(&s, &user, &input.account).await?;
    let queue = match &input.queue {
        Some(name) => Some(find(&queues_now(&s, &user).await?, name)?.number.clone()),
        None => None,
    };
    let op = if on {
        QueueOp::Pause {
            extension: extension.clone(),
            queue,
            reason: None,
        }
    } else {
        QueueOp::Resume {
            extension: extension.clone(),
            queue,
        }
    };
    run(&s, &user, op).await?;
    tracing::info!(user = %user.user.username, domain = %user.domain, extension, paused = on, queue = ?input.queue, "rest: queue pause");
    Ok(StatusCode::OK)
}

/// Adds (`enabled: true`, with `penalty`) or removes an agent as a dynamic member of one queue
/// or of every queue. No body in the answer. Removing from every queue leaves the static
/// memberships alone.
#[utoipa::path(post, path = "/rest/operation/queue/dynamicMember", tag = "operation",
    request_body = QueueOpInput,
    responses((status = 200, description = "no body"), (status = 400), (status = 403), (status = 404), (status = 409)))]
pub(super) async fn dynamic_member(
    user: ApiUser,
    State(s): State<RestState>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let input = parse_body(&body)?;
    let on = parse_enabled(input.enabled.as_ref())?;
    let penalty = match input.penalty {
        None => 0,
        Some(p) => u32::try_from(p)
            .ok()
            .filter(|p| *p <= 1000)
            .ok_or_else(|| ApiError::BadRequest("penalty: an integer from 0 to 1000".into()))?,
    };
    let extension = agent(&s, &user, &input.account).await?;
    let queues = queues_now(&s, &user).await?;
    let targets: Vec<&Queue> = match &input.queue {
        Some(name) => vec![find(&queues, name)?],
        None => queues.iter().collect(),
    };
    for q in targets {
        let member = q.members.iter().find(|m| m.extension == extension);
        let op = match (on, member) {
            // Already a static member: it stays one (the seed adds nothing on top).
            (true, Some(m)) if !m.dynamic => continue,
            (true, _) => QueueOp::Login {
                extension: extension.clone(),
                queue: q.number.clone(),
                penalty,
            },
            (false, Some(m)) if m.dynamic => QueueOp::Logout {
                extension: extension.clone(),
                queue: q.number.clone(),
            },
            (false, Some(_)) if input.queue.is_some() => {
                return Err(ApiError::Conflict(format!(
                    "{extension} is a static member of queue {}",
                    q.name
                )))
            }
            // Not a dynamic member of this queue: nothing to remove.
            (false, _) => continue,
        };
        run(&s, &user, op).await?;
    }
    tracing::info!(user = %user.user.username, domain = %user.domain, extension, added = on, queue = ?input.queue, "rest: queue dynamic member");
    Ok(StatusCode::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_bodies_with_their_trailing_commas() {
        let b = parse_body(br#"{"account": "SIP/101-phone-2", "enabled": false,}"#).unwrap();
        assert_eq!(b.account, "SIP/101-phone-2");
        assert!(!parse_enabled(b.enabled.as_ref()).unwrap());
        let b = parse_body(
            br#"{"queue": "Queue 2", "account": "SIP/101", "enabled": true, "penalty": 1}"#,
        )
        .unwrap();
        assert_eq!((b.queue.as_deref(), b.penalty), (Some("Queue 2"), Some(1)));
        assert!(parse_enabled(b.enabled.as_ref()).unwrap());
        assert!(!parse_enabled(None).unwrap(), "absent: false");
        assert!(
            parse_body(br#"{"enabled": true}"#).is_err(),
            "account required"
        );
        assert!(parse_body(br#"{"account": "x", "other": 1}"#).is_err());
        assert!(parse_body(b"{,}").is_err());
        assert!(parse_enabled(Some(&Value::from(1))).is_err());
    }

    #[test]
    fn timestamps_as_the_seed_prints_them() {
        assert_eq!(
            seed_timestamp(1_705_514_870_814),
            "2024-01-17 18:07:50.814000+00"
        );
    }
}
