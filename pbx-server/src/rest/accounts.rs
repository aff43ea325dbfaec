//! `/rest/account[/{id}]`: SIP accounts of the caller's tenant. The secret is write-only (the
//! store keeps only HA1 hashes). Changes reach the SIP core at once.

use super::access::{Area, Level};
use super::session::ApiUser;
use super::{ApiError, ApiResult, Body, RestState};
use crate::store::{AccountListing, AccountOverrides, AccountPatch, NewSipAccount};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A SIP account as the API shows it (never its secret).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AccountView {
    id: i64,
    username: String,
    /// Number of the extension it belongs to.
    extension: String,
    enabled: bool,
    template: String,
    overrides: AccountOverridesView,
}

/// The account's own values of templatable settings; `null` = the template's.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct AccountOverridesView {
    /// Calls only from the registered address and port.
    #[serde(default)]
    registration_check: Option<bool>,
    /// Allowed source: a CIDR or an address; `""` = anywhere.
    #[serde(default)]
    acl: Option<String>,
    #[serde(default)]
    nat: Option<bool>,
    /// Seconds.
    #[serde(default)]
    min_expires: Option<i64>,
    /// Seconds.
    #[serde(default)]
    max_expires: Option<i64>,
    /// Seconds.
    #[serde(default)]
    default_expires: Option<i64>,
}

impl From<AccountOverrides> for AccountOverridesView {
    fn from(o: AccountOverrides) -> Self {
        AccountOverridesView {
            registration_check: o.registration_check,
            acl: o.acl,
            nat: o.nat,
            min_expires: o.min_expires,
            max_expires: o.max_expires,
            default_expires: o.default_expires,
        }
    }
}

impl From<AccountOverridesView> for AccountOverrides {
    fn from(o: AccountOverridesView) -> Self {
        AccountOverrides {
            registration_check: o.registration_check,
            acl: o.acl,
            nat: o.nat,
            min_expires: o.min_expires,
            max_expires: o.max_expires,
            default_expires: o.default_expires,
        }
    }
}

impl From<AccountListing> for AccountView {
    fn from(l: AccountListing) -> Self {
        AccountView {
            id: l.account.id,
            username: l.account.username,
            extension: l.extension,
            enabled: l.account.enabled,
            template: l.template,
            overrides: l.account.overrides.into(),
        }
    }
}

/// An account to create (`extension`, `username`, `password` required) or the fields to
/// change (absent = keep; a new `username` needs a new `password`).
#[derive(Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct AccountInput {
    /// Number of the extension (same tenant).
    #[serde(default)]
    extension: Option<String>,
    /// SIP username, unique on the PBX.
    #[serde(default)]
    username: Option<String>,
    /// SIP secret, at least 4 characters; write-only.
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    enabled: Option<bool>,
    /// Name of an account template of the tenant.
    #[serde(default)]
    template: Option<String>,
    /// Replaces every override when present.
    #[serde(default)]
    overrides: Option<AccountOverridesView>,
}

impl std::fmt::Debug for AccountInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountInput")
            .field("extension", &self.extension)
            .field("username", &self.username)
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

/// Longest username or secret.
const MAX_FIELD: usize = 128;

impl AccountInput {
    /// Checks a new account; `nested` = inside an extension (no `extension` field).
    pub(super) fn check_new(&self, nested: bool) -> ApiResult<()> {
        if nested && self.extension.is_some() {
            return Err(ApiError::BadRequest(
                "accounts[].extension: implied by the extension".into(),
            ));
        }
        if !nested && self.extension.is_none() {
            return Err(ApiError::BadRequest("extension is required".into()));
        }
        if self.username.is_none() || self.password.is_none() {
            return Err(ApiError::BadRequest(
                "username and password are required".into(),
            ));
        }
        self.check()
    }

    fn check(&self) -> ApiResult<()> {
        for (name, v) in [
            ("username", &self.username),
            ("password", &self.password),
            ("template", &self.template),
            ("extension", &self.extension),
        ] {
            if v.as_ref().is_some_and(|v| v.chars().count() > MAX_FIELD) {
                return Err(ApiError::BadRequest(format!(
                    "{name}: at most {MAX_FIELD} characters"
                )));
            }
        }
        Ok(())
    }

    /// The store's new account on extension row `extension_id`.
    pub(super) fn into_new(self, extension_id: i64) -> NewSipAccount {
        NewSipAccount {
            extension_id,
            username: self.username.unwrap_or_default(),
            password: self.password.unwrap_or_default(),
            enabled: self.enabled.unwrap_or(true),
            template: self.template,
            overrides: self.overrides.map(Into::into).unwrap_or_default(),
        }
    }
}

fn parse_id(id: &str) -> ApiResult<i64> {
    id.parse::<i64>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| ApiError::BadRequest(format!("account id {id:?}: a positive integer")))
}

async fn view(s: &RestState, tenant_id: i64, id: i64) -> ApiResult<AccountView> {
    s.store()
        .account_listing(tenant_id, Some(id))
        .await?
        .into_iter()
        .next()
        .map(AccountView::from)
        .ok_or_else(|| ApiError::NotFound(format!("account {id}")))
}

/// The row id of extension `number` in the tenant.
async fn extension_id(s: &RestState, tenant_id: i64, number: &str) -> ApiResult<i64> {
    Ok(s.store()
        .extension_by_number(Some(tenant_id), number)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("extension {number}")))?
        .id)
}

/// Every SIP account of the tenant (list level on ACCOUNT).
#[utoipa::path(get, path = "/rest/account", tag = "accounts",
    responses((status = 200, body = Vec<AccountView>), (status = 403)))]
pub(super) async fn list(
    user: ApiUser,
    State(s): State<RestState>,
) -> ApiResult<Json<Vec<AccountView>>> {
    user.require(Area::Account, Level::List)?;
    let rows = s.store().account_listing(user.tenant_id(), None).await?;
    Ok(Json(rows.into_iter().map(AccountView::from).collect()))
}

/// One SIP account (read level).
#[utoipa::path(get, path = "/rest/account/{id}", tag = "accounts",
    params(("id" = i64, Path)),
    responses((status = 200, body = AccountView), (status = 403), (status = 404)))]
pub(super) async fn one(
    user: ApiUser,
    State(s): State<RestState>,
    Path(id): Path<String>,
) -> ApiResult<Json<AccountView>> {
    user.require(Area::Account, Level::Read)?;
    Ok(Json(view(&s, user.tenant_id(), parse_id(&id)?).await?))
}

/// Creates a SIP account on an extension (write level); it can register at once.
#[utoipa::path(post, path = "/rest/account", tag = "accounts", request_body = AccountInput,
    responses((status = 201, body = AccountView), (status = 400), (status = 404), (status = 409)))]
pub(super) async fn create(
    user: ApiUser,
    State(s): State<RestState>,
    Body(input): Body<AccountInput>,
) -> ApiResult<(StatusCode, Json<AccountView>)> {
    user.require(Area::Account, Level::Write)?;
    input.check_new(false)?;
    let number = input.extension.clone().unwrap_or_default();
    let ext = extension_id(&s, user.tenant_id(), &number).await?;
    let id = s.store().create_sip_account(&input.into_new(ext)).await?;
    s.reload(&user.domain).await?;
    Ok((
        StatusCode::CREATED,
        Json(view(&s, user.tenant_id(), id).await?),
    ))
}

/// Changes a SIP account: fields present replace, absent ones stay (write level). A changed
/// username ends its registration.
#[utoipa::path(put, path = "/rest/account/{id}", tag = "accounts",
    params(("id" = i64, Path)), request_body = AccountInput,
    responses((status = 200, body = AccountView), (status = 400), (status = 404), (status = 409)))]
pub(super) async fn update(
    user: ApiUser,
    State(s): State<RestState>,
    Path(id): Path<String>,
    Body(input): Body<AccountInput>,
) -> ApiResult<Json<AccountView>> {
    user.require(Area::Account, Level::Write)?;
    let id = parse_id(&id)?;
    input.check()?;
    let extension_id = match &input.extension {
        Some(n) => Some(extension_id(&s, user.tenant_id(), n).await?),
        None => None,
    };
    let patch = AccountPatch {
        extension_id,
        username: input.username,
        password: input.password,
        enabled: input.enabled,
        template: input.template,
        overrides: input.overrides.map(Into::into),
    };
    s.store()
        .update_sip_account(user.tenant_id(), id, &patch)
        .await?;
    s.reload(&user.domain).await?;
    Ok(Json(view(&s, user.tenant_id(), id).await?))
}

/// Deletes a SIP account (write level); its registration ends.
#[utoipa::path(delete, path = "/rest/account/{id}", tag = "accounts",
    params(("id" = i64, Path)),
    responses((status = 204), (status = 404), (status = 409)))]
pub(super) async fn delete(
    user: ApiUser,
    State(s): State<RestState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    user.require(Area::Account, Level::Write)?;
    s.store()
        .delete_sip_account(user.tenant_id(), parse_id(&id)?)
        .await?;
    s.reload(&user.domain).await?;
    Ok(StatusCode::NO_CONTENT)
}
