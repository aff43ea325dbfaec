//! Tenants and the two kinds of templates (extension, SIP account).

use super::model::{AccountTemplate, ExtensionTemplate, Tenant, DEFAULT_TEMPLATE, DEFAULT_TENANT};
use super::{flag, int, Result, Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

impl Store {
    /// Creates the `default` tenant and its `Default` templates when missing (the migration
    /// already does; this repairs a database where they were deleted). Idempotent.
    pub async fn ensure_default_tenant(&self) -> Result<Tenant> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO tenant (domain, name) VALUES ($1, 'Default') ON CONFLICT (domain) DO NOTHING")
            .bind(DEFAULT_TENANT)
            .execute(&mut *tx)
            .await?;
        let t = tenant_on(&mut tx, DEFAULT_TENANT)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("tenant {DEFAULT_TENANT}")))?;
        default_templates_on(&mut tx, t.id).await?;
        tx.commit().await?;
        Ok(t)
    }

    /// Creates a tenant (domain = SIP realm) with its `Default` templates and predefined users.
    pub async fn create_tenant(&self, domain: &str, name: &str) -> Result<Tenant> {
        super::fields::non_empty("tenant domain", domain)?;
        let mut tx = self.pool.begin().await?;
        let id: i64 = sqlx::query("INSERT INTO tenant (domain, name) VALUES ($1, $2) RETURNING id")
            .bind(domain)
            .bind(name)
            .fetch_one(&mut *tx)
            .await?
            .try_get("id")?;
        default_templates_on(&mut tx, id).await?;
        tx.commit().await?;
        self.ensure_predefined_users_of(id).await?;
        Ok(Tenant {
            id,
            domain: domain.to_string(),
            name: name.to_string(),
        })
    }

    /// The tenant with this domain.
    pub async fn tenant(&self, domain: &str) -> Result<Option<Tenant>> {
        let mut c = self.pool.acquire().await?;
        tenant_on(&mut c, domain).await
    }

    /// The `default` tenant.
    pub async fn default_tenant(&self) -> Result<Tenant> {
        self.tenant(DEFAULT_TENANT)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("tenant {DEFAULT_TENANT}")))
    }

    /// The tenant id to use: the given one, or the default tenant's.
    pub(crate) async fn tenant_or_default(&self, tenant_id: Option<i64>) -> Result<i64> {
        match tenant_id {
            Some(id) => Ok(id),
            None => Ok(self.default_tenant().await?.id),
        }
    }

    /// Creates an extension template (`t.id` is ignored); returns its id.
    pub async fn create_extension_template(&self, t: &ExtensionTemplate) -> Result<i64> {
        t.validate()?;
        let row = sqlx::query(
            "INSERT INTO extension_template (tenant_id, name, call_limit, busy_level, ring_timeout_s, \
             overflow_noanswer, overflow_busy, overflow_unavailable) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(t.tenant_id)
        .bind(&t.name)
        .bind(t.call_limit)
        .bind(t.busy_level)
        .bind(t.ring_timeout_s)
        .bind(&t.overflow_noanswer)
        .bind(&t.overflow_busy)
        .bind(&t.overflow_unavailable)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("id")?)
    }

    /// Rewrites an extension template (by id). Extensions without overrides follow at the next
    /// directory load; overrides stay.
    pub async fn update_extension_template(&self, t: &ExtensionTemplate) -> Result<()> {
        t.validate()?;
        let done = sqlx::query(
            "UPDATE extension_template SET name = $1, call_limit = $2, busy_level = $3, ring_timeout_s = $4, \
             overflow_noanswer = $5, overflow_busy = $6, overflow_unavailable = $7 WHERE id = $8",
        )
        .bind(&t.name)
        .bind(t.call_limit)
        .bind(t.busy_level)
        .bind(t.ring_timeout_s)
        .bind(&t.overflow_noanswer)
        .bind(&t.overflow_busy)
        .bind(&t.overflow_unavailable)
        .bind(t.id)
        .execute(&self.pool)
        .await?;
        found(done.rows_affected(), || {
            format!("extension template {}", t.id)
        })
    }

    /// An extension template by tenant and name.
    pub async fn extension_template(
        &self,
        tenant_id: i64,
        name: &str,
    ) -> Result<Option<ExtensionTemplate>> {
        let row =
            sqlx::query("SELECT * FROM extension_template WHERE tenant_id = $1 AND name = $2")
                .bind(tenant_id)
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        Ok(match row {
            Some(r) => Some(ExtensionTemplate {
                id: r.try_get("id")?,
                tenant_id: r.try_get("tenant_id")?,
                name: r.try_get("name")?,
                call_limit: r.try_get("call_limit")?,
                busy_level: r.try_get("busy_level")?,
                ring_timeout_s: r.try_get("ring_timeout_s")?,
                overflow_noanswer: r.try_get("overflow_noanswer")?,
                overflow_busy: r.try_get("overflow_busy")?,
                overflow_unavailable: r.try_get("overflow_unavailable")?,
            }),
            None => None,
        })
    }

    /// Creates an account template (`t.id` is ignored); returns its id.
    pub async fn create_account_template(&self, t: &AccountTemplate) -> Result<i64> {
        t.validate()?;
        let row = sqlx::query(
            "INSERT INTO account_template (tenant_id, name, registration_check, acl, nat, min_expires, \
             max_expires, default_expires) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(t.tenant_id)
        .bind(&t.name)
        .bind(int(t.registration_check))
        .bind(t.acl.as_deref())
        .bind(int(t.nat))
        .bind(t.min_expires)
        .bind(t.max_expires)
        .bind(t.default_expires)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("id")?)
    }

    /// Rewrites an account template (by id); accounts without overrides follow.
    pub async fn update_account_template(&self, t: &AccountTemplate) -> Result<()> {
        t.validate()?;
        let done = sqlx::query(
            "UPDATE account_template SET name = $1, registration_check = $2, acl = $3, nat = $4, \
             min_expires = $5, max_expires = $6, default_expires = $7 WHERE id = $8",
        )
        .bind(&t.name)
        .bind(int(t.registration_check))
        .bind(t.acl.as_deref())
        .bind(int(t.nat))
        .bind(t.min_expires)
        .bind(t.max_expires)
        .bind(t.default_expires)
        .bind(t.id)
        .execute(&self.pool)
        .await?;
        found(done.rows_affected(), || {
            format!("account template {}", t.id)
        })
    }

    /// An account template by tenant and name.
    pub async fn account_template(
        &self,
        tenant_id: i64,
        name: &str,
    ) -> Result<Option<AccountTemplate>> {
        let row = sqlx::query("SELECT * FROM account_template WHERE tenant_id = $1 AND name = $2")
            .bind(tenant_id)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => Some(AccountTemplate {
                id: r.try_get("id")?,
                tenant_id: r.try_get("tenant_id")?,
                name: r.try_get("name")?,
                registration_check: flag(&r, "registration_check")?,
                acl: r.try_get("acl")?,
                nat: flag(&r, "nat")?,
                min_expires: r.try_get("min_expires")?,
                max_expires: r.try_get("max_expires")?,
                default_expires: r.try_get("default_expires")?,
            }),
            None => None,
        })
    }

    /// Id of a named template of `table` in a tenant (`None` = `Default`).
    pub(crate) async fn template_id_on(
        conn: &mut AnyConnection,
        table: &str,
        tenant_id: i64,
        name: Option<&str>,
    ) -> Result<i64> {
        let name = name.unwrap_or(DEFAULT_TEMPLATE);
        let q = format!("SELECT id FROM {table} WHERE tenant_id = $1 AND name = $2");
        let row = sqlx::query(&q)
            .bind(tenant_id)
            .bind(name)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("{table} {name}")))?;
        Ok(row.try_get("id")?)
    }
}

async fn tenant_on(conn: &mut AnyConnection, domain: &str) -> Result<Option<Tenant>> {
    let row = sqlx::query("SELECT id, domain, name FROM tenant WHERE domain = $1")
        .bind(domain)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r: AnyRow| {
        Ok(Tenant {
            id: r.try_get("id")?,
            domain: r.try_get("domain")?,
            name: r.try_get("name")?,
        })
    })
    .transpose()
}

/// The `Default` templates of a tenant, with the schema's default values.
async fn default_templates_on(conn: &mut AnyConnection, tenant_id: i64) -> Result<()> {
    for table in ["extension_template", "account_template"] {
        let q = format!(
            "INSERT INTO {table} (tenant_id, name) VALUES ($1, $2) ON CONFLICT (tenant_id, name) DO NOTHING"
        );
        sqlx::query(&q)
            .bind(tenant_id)
            .bind(DEFAULT_TEMPLATE)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// `NotFound` when an update touched no row.
pub(crate) fn found(rows: u64, what: impl FnOnce() -> String) -> Result<()> {
    if rows == 0 {
        return Err(StoreError::NotFound(what()));
    }
    Ok(())
}
