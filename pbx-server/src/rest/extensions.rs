//! `/rest/extension[/{number}]`: extensions of the caller's tenant, as JSON (field names in
//! docs/rest-api.md). Changes reach the SIP core at once (a directory reload).

use super::access::{Area, Level};
use super::accounts::AccountInput;
use super::session::ApiUser;
use super::{ApiError, ApiResult, Body, RestState};
use crate::store::{ExtensionListing, ExtensionOverrides, NewExtension};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One extension as the API shows it. Templatable settings are the extension's own
/// overrides; `null` means "as the template says".
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ExtensionView {
    id: i64,
    number: String,
    first_name: String,
    last_name: String,
    email: String,
    mobile: String,
    enabled: bool,
    template: String,
    accounts: Vec<AccountRef>,
    overrides: Overrides,
}

/// A SIP account of an extension, in a listing.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AccountRef {
    id: i64,
    username: String,
    enabled: bool,
}

/// The extension's own values of templatable settings; `null` = the template's.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Overrides {
    /// Concurrent calls, 0 = unlimited.
    #[serde(default)]
    call_limit: Option<i64>,
    /// Calls at which the extension is busy, 0 = unlimited.
    #[serde(default)]
    busy_level: Option<i64>,
    /// Seconds of ringing before the no-answer overflow.
    #[serde(default)]
    ring_timeout: Option<i64>,
    /// `hangup` or `extension:<number>`.
    #[serde(default)]
    overflow_no_answer: Option<String>,
    /// `hangup` or `extension:<number>`.
    #[serde(default)]
    overflow_busy: Option<String>,
    /// `hangup` or `extension:<number>`.
    #[serde(default)]
    overflow_unavailable: Option<String>,
}

impl From<ExtensionOverrides> for Overrides {
    fn from(o: ExtensionOverrides) -> Self {
        Overrides {
            call_limit: o.call_limit,
            busy_level: o.busy_level,
            ring_timeout: o.ring_timeout_s,
            overflow_no_answer: o.overflow_noanswer,
            overflow_busy: o.overflow_busy,
            overflow_unavailable: o.overflow_unavailable,
        }
    }
}

impl From<Overrides> for ExtensionOverrides {
    fn from(o: Overrides) -> Self {
        ExtensionOverrides {
            call_limit: o.call_limit,
            busy_level: o.busy_level,
            ring_timeout_s: o.ring_timeout,
            overflow_noanswer: o.overflow_no_answer,
            overflow_busy: o.overflow_busy,
            overflow_unavailable: o.overflow_unavailable,
        }
    }
}

/// An extension to create (`number` required) or the fields to change (absent = keep).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ExtensionInput {
    /// Digits only.
    #[serde(default)]
    number: Option<String>,
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    mobile: Option<String>,
    #[serde(default)]
    enabled: Option<bool>,
    /// Name of an extension template of the tenant (`Default` when absent on create).
    #[serde(default)]
    template: Option<String>,
    /// Replaces every override when present.
    #[serde(default)]
    overrides: Option<Overrides>,
    /// SIP accounts to create with the extension (create only; `extension` is implied).
    #[serde(default)]
    accounts: Option<Vec<AccountInput>>,
}

impl From<ExtensionListing> for ExtensionView {
    fn from(l: ExtensionListing) -> Self {
        let e = l.extension;
        ExtensionView {
            id: e.id,
            number: e.number,
            first_name: e.first_name,
            last_name: e.last_name,
            email: e.email,
            mobile: e.mobile,
            enabled: e.enabled,
            template: l.template,
            accounts: l
                .accounts
                .into_iter()
                .map(|(id, username, enabled)| AccountRef {
                    id,
                    username,
                    enabled,
                })
                .collect(),
            overrides: e.overrides.into(),
        }
    }
}

/// Longest extension number (a dial string, as the CTI's numbers).
const MAX_NUMBER: usize = 32;
/// Longest name, e-mail or mobile field.
const MAX_TEXT: usize = 200;

fn check_text(name: &str, v: &Option<String>) -> ApiResult<()> {
    if v.as_ref().is_some_and(|v| v.chars().count() > MAX_TEXT) {
        return Err(ApiError::BadRequest(format!(
            "{name}: at most {MAX_TEXT} characters"
        )));
    }
    Ok(())
}

fn check(input: &ExtensionInput) -> ApiResult<()> {
    if let Some(n) = &input.number {
        if n.is_empty() || n.len() > MAX_NUMBER || !n.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ApiError::BadRequest(format!(
                "number: 1 to {MAX_NUMBER} digits"
            )));
        }
    }
    check_text("firstName", &input.first_name)?;
    check_text("lastName", &input.last_name)?;
    check_text("email", &input.email)?;
    check_text("mobile", &input.mobile)?;
    check_text("template", &input.template)
}

/// The listing of one extension of the caller's tenant.
pub(super) async fn view(s: &RestState, tenant_id: i64, number: &str) -> ApiResult<ExtensionView> {
    s.store()
        .extension_listing(tenant_id, Some(number))
        .await?
        .into_iter()
        .next()
        .map(ExtensionView::from)
        .ok_or_else(|| ApiError::NotFound(format!("extension {number}")))
}

/// Every extension of the tenant (list level on EXTENSION); without it, only the caller's own.
#[utoipa::path(get, path = "/rest/extension", tag = "extensions",
    responses((status = 200, body = Vec<ExtensionView>)))]
pub(super) async fn list(
    user: ApiUser,
    State(s): State<RestState>,
) -> ApiResult<Json<Vec<ExtensionView>>> {
    let only = if user.access.allows(Area::Extension, Level::List) {
        None
    } else {
        match user.user.extension.as_deref() {
            Some(own) => Some(own),
            None => return Ok(Json(Vec::new())),
        }
    };
    let rows = s.store().extension_listing(user.tenant_id(), only).await?;
    Ok(Json(rows.into_iter().map(ExtensionView::from).collect()))
}

/// One extension (read level, or the caller's own: 403 otherwise, whether or not it exists).
#[utoipa::path(get, path = "/rest/extension/{number}", tag = "extensions",
    params(("number" = String, Path)),
    responses((status = 200, body = ExtensionView), (status = 403), (status = 404)))]
pub(super) async fn one(
    user: ApiUser,
    State(s): State<RestState>,
    Path(number): Path<String>,
) -> ApiResult<Json<ExtensionView>> {
    if !user.owns(&number) {
        user.require(Area::Extension, Level::Read)?;
    }
    Ok(Json(view(&s, user.tenant_id(), &number).await?))
}

/// Creates an extension, with its SIP accounts when given (write level). It can register and
/// take calls at once.
#[utoipa::path(post, path = "/rest/extension", tag = "extensions",
    request_body = ExtensionInput,
    responses((status = 201, body = ExtensionView), (status = 400), (status = 409)))]
pub(super) async fn create(
    user: ApiUser,
    State(s): State<RestState>,
    Body(input): Body<ExtensionInput>,
) -> ApiResult<(StatusCode, Json<ExtensionView>)> {
    user.require(Area::Extension, Level::Write)?;
    check(&input)?;
    let number = input
        .number
        .clone()
        .ok_or_else(|| ApiError::BadRequest("number is required".into()))?;
    let accounts = input.accounts.unwrap_or_default();
    for a in &accounts {
        a.check_new(true)?;
    }
    let id = s
        .store()
        .create_extension(&NewExtension {
            tenant_id: Some(user.tenant_id()),
            number: number.clone(),
            first_name: input.first_name.unwrap_or_default(),
            last_name: input.last_name.unwrap_or_default(),
            email: input.email.unwrap_or_default(),
            mobile: input.mobile.unwrap_or_default(),
            enabled: input.enabled.unwrap_or(true),
            template: input.template,
            overrides: input.overrides.map(Into::into).unwrap_or_default(),
        })
        .await?;
    for a in accounts {
        if let Err(e) = s.store().create_sip_account(&a.into_new(id)).await {
            // All or nothing: the extension goes again.
            if let Err(undo) = s.store().delete_extension(user.tenant_id(), &number).await {
                tracing::error!(error = %undo, "rest: undoing a half-created extension failed");
            }
            return Err(e.into());
        }
    }
    s.reload(&user.domain).await?;
    tracing::info!(user = %user.user.username, domain = %user.domain, number, "rest: extension created");
    Ok((
        StatusCode::CREATED,
        Json(view(&s, user.tenant_id(), &number).await?),
    ))
}

/// Changes an extension: fields present replace, absent ones stay (write level).
#[utoipa::path(put, path = "/rest/extension/{number}", tag = "extensions",
    params(("number" = String, Path)), request_body = ExtensionInput,
    responses((status = 200, body = ExtensionView), (status = 400), (status = 404), (status = 409)))]
pub(super) async fn update(
    user: ApiUser,
    State(s): State<RestState>,
    Path(number): Path<String>,
    Body(input): Body<ExtensionInput>,
) -> ApiResult<Json<ExtensionView>> {
    user.require(Area::Extension, Level::Write)?;
    check(&input)?;
    if input.accounts.is_some() {
        return Err(ApiError::BadRequest(
            "accounts: change them under /rest/account".into(),
        ));
    }
    let mut e = s
        .store()
        .extension_by_number(Some(user.tenant_id()), &number)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("extension {number}")))?;
    if let Some(name) = &input.template {
        e.template_id = s
            .store()
            .extension_template(user.tenant_id(), name)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("extension template {name}")))?
            .id;
    }
    let new_number = input.number.unwrap_or(e.number.clone());
    e.number = new_number.clone();
    e.first_name = input.first_name.unwrap_or(e.first_name);
    e.last_name = input.last_name.unwrap_or(e.last_name);
    e.email = input.email.unwrap_or(e.email);
    e.mobile = input.mobile.unwrap_or(e.mobile);
    e.enabled = input.enabled.unwrap_or(e.enabled);
    if let Some(o) = input.overrides {
        e.overrides = o.into();
    }
    s.store().update_extension(&e).await?;
    s.reload(&user.domain).await?;
    Ok(Json(view(&s, user.tenant_id(), &new_number).await?))
}

/// Deletes an extension with its SIP accounts (their registrations end); users linked to it
/// are unlinked (write level).
#[utoipa::path(delete, path = "/rest/extension/{number}", tag = "extensions",
    params(("number" = String, Path)),
    responses((status = 204), (status = 404), (status = 409)))]
pub(super) async fn delete(
    user: ApiUser,
    State(s): State<RestState>,
    Path(number): Path<String>,
) -> ApiResult<StatusCode> {
    user.require(Area::Extension, Level::Write)?;
    s.store()
        .delete_extension(user.tenant_id(), &number)
        .await?;
    s.reload(&user.domain).await?;
    tracing::info!(user = %user.user.username, domain = %user.domain, number, "rest: extension deleted");
    Ok(StatusCode::NO_CONTENT)
}
