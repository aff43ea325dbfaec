//! Custom roles of the REST API: per-area access levels (the seed's none / list / read /
//! write) and a priority, per tenant. The predefined roles are built into the REST layer and
//! never stored; a user's `role` names either.

use super::{flag, int, Result, Store, StoreError};
use sqlx::Row;

/// A stored role. `access` pairs an area name with a level name; areas not listed are `none`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct Role {
    pub name: String,
    pub priority: i64,
    /// Sees external numbers unmasked.
    pub privacy: bool,
    pub access: Vec<(String, String)>,
}

impl Store {
    /// The custom roles of a tenant by name, or only `name` when given.
    pub async fn roles(&self, tenant_id: i64, name: Option<&str>) -> Result<Vec<Role>> {
        let order = self.bytewise("name");
        let rows = sqlx::query(&format!(
            "SELECT id, name, priority, privacy FROM api_role WHERE tenant_id = $1 AND ($2 = '' OR name = $2) \
             ORDER BY {order}"
        ))
        .bind(tenant_id)
        .bind(name.unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let id: i64 = r.try_get("id")?;
            let access = sqlx::query(
                "SELECT area, level FROM api_role_access WHERE role_id = $1 ORDER BY area",
            )
            .bind(id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|a| Ok((a.try_get("area")?, a.try_get("level")?)))
            .collect::<Result<Vec<_>>>()?;
            out.push(Role {
                name: r.try_get("name")?,
                priority: r.try_get("priority")?,
                privacy: flag(r, "privacy")?,
                access,
            });
        }
        Ok(out)
    }

    /// Creates or replaces a custom role of a tenant.
    pub async fn put_role(&self, tenant_id: i64, role: &Role) -> Result<()> {
        super::fields::non_empty("role name", &role.name)?;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO api_role (tenant_id, name, priority, privacy) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tenant_id, name) DO UPDATE SET priority = excluded.priority, privacy = excluded.privacy",
        )
        .bind(tenant_id)
        .bind(&role.name)
        .bind(role.priority)
        .bind(int(role.privacy))
        .execute(&mut *tx)
        .await?;
        let id: i64 = sqlx::query("SELECT id FROM api_role WHERE tenant_id = $1 AND name = $2")
            .bind(tenant_id)
            .bind(&role.name)
            .fetch_one(&mut *tx)
            .await?
            .try_get("id")?;
        sqlx::query("DELETE FROM api_role_access WHERE role_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        for (area, level) in &role.access {
            sqlx::query("INSERT INTO api_role_access (role_id, area, level) VALUES ($1, $2, $3)")
                .bind(id)
                .bind(area)
                .bind(level)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a custom role of a tenant; refused while a user has it.
    pub async fn delete_role(&self, tenant_id: i64, name: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        super::admin::write_lock_on(&mut tx, tenant_id).await?;
        let used = sqlx::query("SELECT id FROM app_user WHERE tenant_id = $1 AND role = $2")
            .bind(tenant_id)
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
        if used.is_some() {
            return Err(StoreError::Duplicate(format!("role {name} is assigned")));
        }
        let id: i64 = sqlx::query("SELECT id FROM api_role WHERE tenant_id = $1 AND name = $2")
            .bind(tenant_id)
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("role {name}")))?
            .try_get("id")?;
        sqlx::query("DELETE FROM api_role_access WHERE role_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM api_role WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
