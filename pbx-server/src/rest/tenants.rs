//! `/rest/tenant`: tenants, for the administrators of the `default` tenant (the one that
//! administers the machine). A new tenant gets its `Default` templates and the predefined
//! users; its `admin` starts on the factory password, which a production start refuses
//! until it is changed.

use super::access::{Area, Level};
use super::session::ApiUser;
use super::{ApiError, ApiResult, Body, RestState};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A tenant.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TenantView {
    /// Also the SIP realm of its accounts and the `Domain` of its API users.
    domain: String,
    name: String,
    /// The seed's `tenantUuid`.
    uuid: String,
}

/// A tenant to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct TenantInput {
    /// Letters, digits, `-` and `.`; at most 253 characters.
    domain: String,
    #[serde(default)]
    name: Option<String>,
}

fn check_domain(d: &str) -> ApiResult<()> {
    let ok = !d.is_empty()
        && d.len() <= 253
        && d.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        && !d.starts_with(['-', '.'])
        && !d.eq_ignore_ascii_case("pbxadmin");
    if ok {
        Ok(())
    } else {
        Err(ApiError::BadRequest(
            "domain: letters, digits, - and . (at most 253)".into(),
        ))
    }
}

/// Every tenant (list level on TENANT: administrators of the `default` tenant).
#[utoipa::path(get, path = "/rest/tenant", tag = "tenants",
    responses((status = 200, body = Vec<TenantView>), (status = 403)))]
pub(super) async fn list(
    user: ApiUser,
    State(s): State<RestState>,
) -> ApiResult<Json<Vec<TenantView>>> {
    user.require(Area::Tenant, Level::List)?;
    let mut out = Vec::new();
    for t in s.store().tenants().await? {
        out.push(TenantView {
            uuid: s.store().tenant_uuid(t.id).await?,
            domain: t.domain,
            name: t.name,
        });
    }
    Ok(Json(out))
}

/// Creates a tenant with its templates and predefined users (write level on TENANT).
#[utoipa::path(post, path = "/rest/tenant", tag = "tenants", request_body = TenantInput,
    responses((status = 201, body = TenantView), (status = 400), (status = 403), (status = 409)))]
pub(super) async fn create(
    user: ApiUser,
    State(s): State<RestState>,
    Body(input): Body<TenantInput>,
) -> ApiResult<(StatusCode, Json<TenantView>)> {
    user.require(Area::Tenant, Level::Write)?;
    check_domain(&input.domain)?;
    let name = input.name.unwrap_or_else(|| input.domain.clone());
    if name.chars().count() > 200 {
        return Err(ApiError::BadRequest("name: at most 200 characters".into()));
    }
    let t = s.store().create_tenant(&input.domain, &name).await?;
    tracing::info!(user = %user.user.username, domain = %t.domain, "rest: tenant created");
    Ok((
        StatusCode::CREATED,
        Json(TenantView {
            uuid: s.store().tenant_uuid(t.id).await?,
            domain: t.domain,
            name: t.name,
        }),
    ))
}
