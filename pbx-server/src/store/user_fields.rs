//! Changing one setting of a user (`pbx-server set-user`): role, access flags, privacy right,
//! licence seats.

use super::{int, Result, Store, StoreError};

/// Parses `1/0/true/false/yes/no`.
pub(super) fn parse_bool(field: &str, v: &str) -> Result<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(StoreError::Invalid(format!(
            "{field}: expected 1 or 0, got {v:?}"
        ))),
    }
}

impl Store {
    /// Sets `field` (`role`, `privacy`, `cti_access`, `gui_access`, `api_access`) of a user of
    /// the default tenant.
    pub async fn set_user_field(&self, username: &str, field: &str, value: &str) -> Result<()> {
        let tenant = self.default_tenant().await?;
        if field == "cti_licence" || field == "call_center_licence" {
            let mut c = self.pool.acquire().await?;
            return super::licences::assign_on(&mut c, tenant.id, username, field, value).await;
        }
        let column = match field {
            "role" | "privacy" | "cti_access" | "gui_access" | "api_access" => field,
            _ => {
                return Err(StoreError::Invalid(format!(
                "unknown user field {field:?} (role, privacy, cti_access, gui_access, api_access, cti_licence, call_center_licence)"
            )))
            }
        };
        let sql =
            format!("UPDATE app_user SET {column} = $1 WHERE tenant_id = $2 AND username = $3");
        let q = sqlx::query(&sql);
        let q = if field == "role" {
            if value.trim().is_empty() {
                return Err(StoreError::Invalid("role: empty".into()));
            }
            q.bind(value.to_string())
        } else {
            q.bind(int(parse_bool(field, value)?))
        };
        let done = q.bind(tenant.id).bind(username).execute(&self.pool).await?;
        super::tenants::found(done.rows_affected(), || format!("user {username}"))
    }
}
