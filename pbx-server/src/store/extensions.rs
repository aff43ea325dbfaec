//! Extensions: create, look up, edit, and per-field overrides of their template.

use super::model::{Extension, ExtensionOverride, ExtensionOverrides, NewExtension};
use super::tenants::found;
use super::{flag, int, Result, Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

impl Store {
    /// Creates an extension; returns its id.
    pub async fn create_extension(&self, e: &NewExtension) -> Result<i64> {
        let tenant_id = self.tenant_or_default(e.tenant_id).await?;
        let mut c = self.pool.acquire().await?;
        create_extension_on(&mut c, tenant_id, e).await
    }

    /// An extension by id.
    pub async fn extension(&self, id: i64) -> Result<Option<Extension>> {
        let row = sqlx::query("SELECT * FROM extension WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(extension_from).transpose()
    }

    /// An extension by number (`tenant_id: None` = the default tenant).
    pub async fn extension_by_number(
        &self,
        tenant_id: Option<i64>,
        number: &str,
    ) -> Result<Option<Extension>> {
        let tenant_id = self.tenant_or_default(tenant_id).await?;
        let row = sqlx::query("SELECT * FROM extension WHERE tenant_id = $1 AND number = $2")
            .bind(tenant_id)
            .bind(number)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(extension_from).transpose()
    }

    /// Rewrites an extension (by id): names, contacts, enabled, template and all overrides.
    pub async fn update_extension(&self, e: &Extension) -> Result<()> {
        check_number(&e.number)?;
        e.overrides.validate()?;
        let mut c = self.pool.acquire().await?;
        super::queue_admin::not_a_queue_or_group_on(&mut c, e.tenant_id, &e.number).await?;
        drop(c);
        let o = &e.overrides;
        let done = sqlx::query(
            "UPDATE extension SET number = $1, first_name = $2, last_name = $3, email = $4, mobile = $5, \
             enabled = $6, template_id = $7, call_limit = $8, busy_level = $9, ring_timeout_s = $10, \
             overflow_noanswer = $11, overflow_busy = $12, overflow_unavailable = $13 WHERE id = $14",
        )
        .bind(&e.number)
        .bind(&e.first_name)
        .bind(&e.last_name)
        .bind(&e.email)
        .bind(&e.mobile)
        .bind(int(e.enabled))
        .bind(e.template_id)
        .bind(o.call_limit)
        .bind(o.busy_level)
        .bind(o.ring_timeout_s)
        .bind(o.overflow_noanswer.as_deref())
        .bind(o.overflow_busy.as_deref())
        .bind(o.overflow_unavailable.as_deref())
        .bind(e.id)
        .execute(&self.pool)
        .await?;
        found(done.rows_affected(), || format!("extension {}", e.id))
    }

    /// Sets one override (`Some`) or clears it back to the template (`None`). Touches only
    /// that column, so concurrent edits of other fields are not lost.
    pub async fn set_extension_override(&self, ext_id: i64, o: ExtensionOverride) -> Result<()> {
        let mut one = ExtensionOverrides::default();
        o.clone().apply(&mut one);
        one.validate()?;
        let q = format!("UPDATE extension SET {} = $1 WHERE id = $2", o.column());
        let query = sqlx::query(&q);
        let query = match o {
            ExtensionOverride::CallLimit(v)
            | ExtensionOverride::BusyLevel(v)
            | ExtensionOverride::RingTimeout(v) => query.bind(v),
            ExtensionOverride::OverflowNoAnswer(v)
            | ExtensionOverride::OverflowBusy(v)
            | ExtensionOverride::OverflowUnavailable(v) => query.bind(v),
        };
        let done = query.bind(ext_id).execute(&self.pool).await?;
        found(done.rows_affected(), || format!("extension {ext_id}"))
    }

    /// Replaces all overrides of an extension at once.
    pub async fn set_extension_overrides(&self, ext_id: i64, o: &ExtensionOverrides) -> Result<()> {
        let mut e = self
            .extension(ext_id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("extension {ext_id}")))?;
        e.overrides = o.clone();
        self.update_extension(&e).await
    }
}

/// Digits only: the numbering plan dials it.
fn check_number(n: &str) -> Result<()> {
    if n.is_empty() || !n.bytes().all(|c| c.is_ascii_digit()) {
        return Err(StoreError::Invalid(format!(
            "extension number {n:?}: digits only"
        )));
    }
    Ok(())
}

pub(crate) async fn create_extension_on(
    conn: &mut AnyConnection,
    tenant_id: i64,
    e: &NewExtension,
) -> Result<i64> {
    check_number(&e.number)?;
    e.overrides.validate()?;
    super::queue_admin::not_a_queue_or_group_on(conn, tenant_id, &e.number).await?;
    let tpl =
        Store::template_id_on(conn, "extension_template", tenant_id, e.template.as_deref()).await?;
    let o = &e.overrides;
    let row = sqlx::query(
        "INSERT INTO extension (tenant_id, number, first_name, last_name, email, mobile, enabled, template_id, \
         call_limit, busy_level, ring_timeout_s, overflow_noanswer, overflow_busy, overflow_unavailable) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
    )
    .bind(tenant_id)
    .bind(&e.number)
    .bind(&e.first_name)
    .bind(&e.last_name)
    .bind(&e.email)
    .bind(&e.mobile)
    .bind(int(e.enabled))
    .bind(tpl)
    .bind(o.call_limit)
    .bind(o.busy_level)
    .bind(o.ring_timeout_s)
    .bind(o.overflow_noanswer.as_deref())
    .bind(o.overflow_busy.as_deref())
    .bind(o.overflow_unavailable.as_deref())
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.try_get("id")?)
}

pub(super) fn extension_from(r: &AnyRow) -> Result<Extension> {
    Ok(Extension {
        id: r.try_get("id")?,
        tenant_id: r.try_get("tenant_id")?,
        number: r.try_get("number")?,
        first_name: r.try_get("first_name")?,
        last_name: r.try_get("last_name")?,
        email: r.try_get("email")?,
        mobile: r.try_get("mobile")?,
        enabled: flag(r, "enabled")?,
        template_id: r.try_get("template_id")?,
        overrides: ExtensionOverrides {
            call_limit: r.try_get("call_limit")?,
            busy_level: r.try_get("busy_level")?,
            ring_timeout_s: r.try_get("ring_timeout_s")?,
            overflow_noanswer: r.try_get("overflow_noanswer")?,
            overflow_busy: r.try_get("overflow_busy")?,
            overflow_unavailable: r.try_get("overflow_unavailable")?,
        },
    })
}
