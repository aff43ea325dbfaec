//! Call control: click-to-call (`/rest/phoneServices/c2c/{dest}/{src}`, as the seed), the
//! list of active calls, hang up, hold, resume, blind transfer and the redirect of a call still
//! ringing (also at the seed's `/api/pbx/v2/phoneService/redirectCall/...`). One-line adapters over
//! the SIP core's `Control::Call`, as the CTI's commands are. A user acts on calls of their
//! own extension; a role with write on CALL_CONTROL acts on any call of the tenant.

use super::access::{Area, Level};
use super::session::ApiUser;
use super::{optional_json, ApiError, ApiResult, Body, RestState};
use crate::control::{CallOp, CallOpOk};
use crate::lamps::{CallPhase, CallView, PartyRef};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::Json;
use chrono::{SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The call an operation started or acted on.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CallRef {
    /// The call's id (its record's `unique_id`).
    call_id: Option<String>,
}

/// An active call.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ActiveCall {
    /// Call id (the record's `unique_id`).
    id: String,
    caller: String,
    caller_name: Option<String>,
    /// Empty while the number is being resolved.
    called: String,
    called_name: Option<String>,
    /// `ringing`, `connected` or `held`.
    state: String,
    /// RFC 3339 UTC.
    start_datetime: String,
    answer_datetime: Option<String>,
}

/// Whose side acts (hold, resume, transfer): an extension that is a party of the call; the
/// caller's own by default.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ActInput {
    #[serde(default)]
    extension: Option<String>,
}

/// Where a blind transfer sends the other party.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct TransferInput {
    /// Digits, `*`, `#`, a leading `+`.
    number: String,
    /// The acting extension (a party of the call); the caller's own by default.
    #[serde(default)]
    extension: Option<String>,
}

fn datetime(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_default()
}

fn parties(v: &CallView) -> Vec<&str> {
    let mut out: Vec<&str> = v.caller.extension.iter().map(String::as_str).collect();
    if let Some(e) = v.callee.as_ref().and_then(|c| c.extension.as_deref()) {
        out.push(e);
    }
    out
}

/// A number as the user may see it: external numbers lose their last 3 digits to `xxx`
/// without the privacy right (seed: the predefined admin's view).
pub(super) fn mask(number: &str, internal: bool, privacy: bool) -> String {
    if privacy || internal || number.chars().count() <= 3 {
        return number.to_string();
    }
    let keep = number.chars().count() - 3;
    number.chars().take(keep).chain("xxx".chars()).collect()
}

fn shown(p: &PartyRef, privacy: bool) -> String {
    mask(&p.number, p.extension.is_some(), privacy)
}

impl ActiveCall {
    fn from_view(v: &CallView, privacy: bool) -> ActiveCall {
        ActiveCall {
            id: v.unique_id.clone(),
            caller: shown(&v.caller, privacy),
            caller_name: v.caller.name.clone(),
            called: v
                .callee
                .as_ref()
                .map(|c| shown(c, privacy))
                .unwrap_or_default(),
            called_name: v.callee.as_ref().and_then(|c| c.name.clone()),
            state: match (v.phase, v.held_by) {
                (CallPhase::Ringing, _) => "ringing",
                (CallPhase::Connected, Some(_)) => "held",
                (CallPhase::Connected, None) => "connected",
            }
            .to_string(),
            start_datetime: datetime(v.started_ms),
            answer_datetime: v.answered_ms.map(datetime),
        }
    }
}

/// The tenant's active calls the user may act on or see.
async fn visible_calls(s: &RestState, user: &ApiUser) -> ApiResult<Vec<CallView>> {
    if !s.serves(&user.domain) {
        return Ok(Vec::new());
    }
    let all = user.access.allows(Area::CallControl, Level::List);
    let own = user.user.extension.as_deref();
    Ok(s.core_state()
        .await?
        .calls
        .into_iter()
        .filter(|c| c.tenant == user.domain)
        .filter(|c| all || own.is_some_and(|e| parties(c).contains(&e)))
        .collect())
}

/// The call `id` and the extension acting on it: `wanted` (or the user's own, or for a
/// CALL_CONTROL writer the caller's side), which must be a party.
async fn acting(
    s: &RestState,
    user: &ApiUser,
    id: &str,
    wanted: Option<String>,
) -> ApiResult<(CallView, String)> {
    let call = visible_calls(s, user)
        .await?
        .into_iter()
        .find(|c| c.unique_id == id)
        .ok_or_else(|| ApiError::NotFound(format!("call {id}")))?;
    let writer = user.access.allows(Area::CallControl, Level::Write);
    let by = match wanted {
        Some(e) if writer || user.owns(&e) => e,
        Some(_) => return Err(ApiError::Forbidden),
        None => match user.user.extension.clone() {
            Some(own) if parties(&call).contains(&own.as_str()) => own,
            _ if writer => parties(&call)
                .first()
                .map(|e| e.to_string())
                .ok_or_else(|| ApiError::Conflict("no extension is a party of this call".into()))?,
            _ => return Err(ApiError::Forbidden),
        },
    };
    if !parties(&call).contains(&by.as_str()) {
        return Err(ApiError::BadRequest(format!(
            "extension {by} is not a party of call {id}"
        )));
    }
    Ok((call, by))
}

fn done(ok: CallOpOk, id: Option<String>) -> Json<CallRef> {
    Json(CallRef {
        call_id: match ok {
            CallOpOk::Call(c) => Some(c),
            CallOpOk::Done => id,
        },
    })
}

fn check_number(n: &str, what: &str) -> ApiResult<()> {
    if crate::calls::valid_number(n) {
        Ok(())
    } else {
        Err(ApiError::BadRequest(format!(
            "{what}: digits, *, # and a leading + only"
        )))
    }
}

/// Click-to-call (seed): rings extension `src`; when it answers, calls `dest` (which may hold
/// `*` and `#`). Allowed on one's own extension, or with write on CALL_CONTROL (the
/// predefined `click2call` user).
#[utoipa::path(get, path = "/rest/phoneServices/c2c/{dest}/{src}", tag = "calls",
    params(("dest" = String, Path), ("src" = String, Path, description = "extension rung first")),
    responses((status = 200, body = CallRef), (status = 400), (status = 403), (status = 404), (status = 409)))]
pub(super) async fn c2c(
    user: ApiUser,
    State(s): State<RestState>,
    Path((dest, src)): Path<(String, String)>,
) -> ApiResult<Json<CallRef>> {
    if !user.owns(&src) {
        user.require(Area::CallControl, Level::Write)?;
    }
    check_number(&dest, "dest")?;
    s.store()
        .extension_by_number(Some(user.tenant_id()), &src)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("extension {src}")))?;
    let ok = s
        .call_op(
            &user.domain,
            CallOp::Dial {
                by: src,
                number: dest,
            },
        )
        .await?;
    Ok(done(ok, None))
}

/// The tenant's active calls (list level on CALL_CONTROL), else those of one's own extension.
#[utoipa::path(get, path = "/rest/call", tag = "calls",
    responses((status = 200, body = Vec<ActiveCall>)))]
pub(super) async fn list(
    user: ApiUser,
    State(s): State<RestState>,
) -> ApiResult<Json<Vec<ActiveCall>>> {
    let calls = visible_calls(&s, &user).await?;
    Ok(Json(
        calls
            .iter()
            .map(|c| ActiveCall::from_view(c, user.access.privacy))
            .collect(),
    ))
}

/// Hangs up a call (ringing or connected).
#[utoipa::path(post, path = "/rest/call/{id}/hangup", tag = "calls",
    params(("id" = String, Path)),
    responses((status = 200, body = CallRef), (status = 403), (status = 404), (status = 409)))]
pub(super) async fn hangup(
    user: ApiUser,
    State(s): State<RestState>,
    Path(id): Path<String>,
) -> ApiResult<Json<CallRef>> {
    let (call, _) = acting(&s, &user, &id, None).await?;
    let ok = s
        .call_op(
            &user.domain,
            CallOp::Hangup {
                call: call.unique_id,
            },
        )
        .await?;
    Ok(done(ok, Some(id)))
}

/// Puts the other party of a call on hold.
#[utoipa::path(post, path = "/rest/call/{id}/hold", tag = "calls",
    params(("id" = String, Path)), request_body(content = Option<ActInput>),
    responses((status = 200, body = CallRef), (status = 400), (status = 403), (status = 404), (status = 409)))]
pub(super) async fn hold(
    user: ApiUser,
    State(s): State<RestState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<CallRef>> {
    let wanted = optional_json::<ActInput>(&body)?.and_then(|b| b.extension);
    let (call, by) = acting(&s, &user, &id, wanted).await?;
    let ok = s
        .call_op(
            &user.domain,
            CallOp::Hold {
                call: call.unique_id,
                by,
            },
        )
        .await?;
    Ok(done(ok, Some(id)))
}

/// Takes a call off hold.
#[utoipa::path(post, path = "/rest/call/{id}/resume", tag = "calls",
    params(("id" = String, Path)), request_body(content = Option<ActInput>),
    responses((status = 200, body = CallRef), (status = 400), (status = 403), (status = 404), (status = 409)))]
pub(super) async fn resume(
    user: ApiUser,
    State(s): State<RestState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<CallRef>> {
    let wanted = optional_json::<ActInput>(&body)?.and_then(|b| b.extension);
    let (call, by) = acting(&s, &user, &id, wanted).await?;
    let ok = s
        .call_op(
            &user.domain,
            CallOp::Resume {
                call: call.unique_id,
                by,
            },
        )
        .await?;
    Ok(done(ok, Some(id)))
}

/// Blind transfer: the other party of the call goes to `number`, the acting side leaves.
#[utoipa::path(post, path = "/rest/call/{id}/transfer", tag = "calls",
    params(("id" = String, Path)), request_body = TransferInput,
    responses((status = 200, body = CallRef), (status = 400), (status = 403), (status = 404), (status = 409)))]
pub(super) async fn transfer(
    user: ApiUser,
    State(s): State<RestState>,
    Path(id): Path<String>,
    Body(input): Body<TransferInput>,
) -> ApiResult<Json<CallRef>> {
    check_number(&input.number, "number")?;
    let (call, by) = acting(&s, &user, &id, input.extension).await?;
    let op = CallOp::BlindTransfer {
        call: call.unique_id,
        by,
        target: input.number,
    };
    let ok = s.call_op(&user.domain, op).await?;
    Ok(done(ok, Some(id)))
}

/// Where a ringing call goes instead.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RedirectInput {
    /// An extension, queue or ring group number.
    number: String,
}

/// Redirects call `id`, still ringing an extension, to `number`: allowed to the user of the
/// rung extension (or `source`, which must be it), and to a writer of CALL_CONTROL.
async fn redirect_call(
    s: &RestState,
    user: &ApiUser,
    id: &str,
    number: String,
    source: Option<String>,
) -> ApiResult<Json<CallRef>> {
    check_number(&number, "destination")?;
    let call = visible_calls(s, user)
        .await?
        .into_iter()
        .find(|c| c.unique_id == id)
        .ok_or_else(|| ApiError::NotFound(format!("call {id}")))?;
    if call.phase != CallPhase::Ringing {
        return Err(ApiError::Conflict(format!("call {id} is answered")));
    }
    let rung = call.callee.as_ref().and_then(|c| c.extension.clone());
    if let Some(src) = &source {
        if rung.as_deref() != Some(src.as_str()) {
            return Err(ApiError::BadRequest(format!(
                "call {id} is not ringing extension {src}"
            )));
        }
    }
    let own = rung.as_deref().is_some_and(|r| user.owns(r));
    if !own {
        user.require(Area::CallControl, Level::Write)?;
    }
    let op = CallOp::Redirect {
        call: call.unique_id,
        target: number,
    };
    let ok = s.call_op(&user.domain, op).await?;
    Ok(done(ok, Some(id.to_string())))
}

/// Redirect of a call still ringing: it rings `number` instead.
#[utoipa::path(post, path = "/rest/call/{id}/redirect", tag = "calls",
    params(("id" = String, Path)), request_body = RedirectInput,
    responses((status = 200, body = CallRef), (status = 400), (status = 403), (status = 404), (status = 409)))]
pub(super) async fn redirect(
    user: ApiUser,
    State(s): State<RestState>,
    Path(id): Path<String>,
    Body(input): Body<RedirectInput>,
) -> ApiResult<Json<CallRef>> {
    redirect_call(&s, &user, &id, input.number, None).await
}

/// The seed's redirect of an unanswered call (its `linkedId` is our call id), with the
/// extension it rings as the optional `source`.
#[utoipa::path(get, path = "/api/pbx/v2/phoneService/redirectCall/{linkedId}/internal/{destination}/{source}", tag = "calls",
    params(("linkedId" = String, Path), ("destination" = String, Path), ("source" = String, Path, description = "the extension the call rings")),
    responses((status = 200, body = CallRef), (status = 400), (status = 403), (status = 404), (status = 409)))]
pub(super) async fn redirect_v2_from(
    user: ApiUser,
    State(s): State<RestState>,
    Path((id, destination, source)): Path<(String, String, String)>,
) -> ApiResult<Json<CallRef>> {
    redirect_call(&s, &user, &id, destination, Some(source)).await
}

/// The same without `source`.
#[utoipa::path(get, path = "/api/pbx/v2/phoneService/redirectCall/{linkedId}/internal/{destination}", tag = "calls",
    params(("linkedId" = String, Path), ("destination" = String, Path)),
    responses((status = 200, body = CallRef), (status = 400), (status = 403), (status = 404), (status = 409)))]
pub(super) async fn redirect_v2(
    user: ApiUser,
    State(s): State<RestState>,
    Path((id, destination)): Path<(String, String)>,
) -> ApiResult<Json<CallRef>> {
    redirect_call(&s, &user, &id, destination, None).await
}

#[cfg(test)]
mod tests {
    use super::mask;

    #[test]
    fn external_numbers_lose_three_digits_without_privacy() {
        assert_eq!(mask("0612345678", false, false), "0612345xxx");
        assert_eq!(mask("0612345678", false, true), "0612345678");
        assert_eq!(mask("201", true, false), "201");
        assert_eq!(mask("12", false, false), "12");
    }
}
