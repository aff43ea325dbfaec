//! `GET /rest/extension` and `GET /rest/extension/{number}`: extensions of the caller's
//! tenant, as JSON (field names in docs/rest-api.md).

use super::session::ApiUser;
use super::{ApiError, RestState};
use crate::store::ExtensionListing;
use axum::extract::{Path, State};
use axum::Json;
use serde::Serialize;

/// One extension as the API shows it. Templatable settings are the extension's own
/// overrides; `null` means "as the template says".
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ExtensionView {
    id: i64,
    number: String,
    first_name: String,
    last_name: String,
    email: String,
    mobile: String,
    enabled: bool,
    template: String,
    accounts: Vec<AccountRef>,
    overrides: OverridesView,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AccountRef {
    id: i64,
    username: String,
    enabled: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct OverridesView {
    call_limit: Option<i64>,
    busy_level: Option<i64>,
    ring_timeout: Option<i64>,
    overflow_no_answer: Option<String>,
    overflow_busy: Option<String>,
    overflow_unavailable: Option<String>,
}

impl From<ExtensionListing> for ExtensionView {
    fn from(l: ExtensionListing) -> Self {
        let e = l.extension;
        let o = e.overrides;
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
            overrides: OverridesView {
                call_limit: o.call_limit,
                busy_level: o.busy_level,
                ring_timeout: o.ring_timeout_s,
                overflow_no_answer: o.overflow_noanswer,
                overflow_busy: o.overflow_busy,
                overflow_unavailable: o.overflow_unavailable,
            },
        }
    }
}

/// Every extension of the tenant for an administrator; a standard user sees only the
/// extension assigned to them.
pub(super) async fn list(
    user: ApiUser,
    State(s): State<RestState>,
) -> Result<Json<Vec<ExtensionView>>, ApiError> {
    let only = if user.is_admin() {
        None
    } else {
        match user.user.extension.as_deref() {
            Some(own) => Some(own),
            None => return Ok(Json(Vec::new())),
        }
    };
    let rows = s
        .store()
        .extension_listing(user.user.tenant_id, only)
        .await?;
    Ok(Json(rows.into_iter().map(ExtensionView::from).collect()))
}

/// One extension of the tenant; a standard user may read only their own (403 otherwise,
/// whether or not it exists).
pub(super) async fn one(
    user: ApiUser,
    State(s): State<RestState>,
    Path(number): Path<String>,
) -> Result<Json<ExtensionView>, ApiError> {
    if !user.is_admin() && user.user.extension.as_deref() != Some(number.as_str()) {
        return Err(ApiError::Forbidden);
    }
    s.store()
        .extension_listing(user.user.tenant_id, Some(&number))
        .await?
        .into_iter()
        .next()
        .map(|l| Json(ExtensionView::from(l)))
        .ok_or_else(|| ApiError::NotFound(format!("extension {number}")))
}
