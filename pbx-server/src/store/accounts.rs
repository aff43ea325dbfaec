//! SIP accounts: the secret is kept only as HA1 (MD5 and SHA-256, realm = tenant domain), which
//! is all digest verification needs (docs/decisions/002-store.md).

use super::model::{AccountOverride, AccountOverrides, NewSipAccount, SipAccount};
use super::tenants::found;
use super::{flag, int, opt_flag, Result, Store, StoreError};
use sip_core::auth::{ha1, Algorithm};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

impl Store {
    /// Creates a SIP account on an extension (in the extension's tenant); returns its id.
    /// Usernames are unique across tenants: a REGISTER is matched by username first.
    pub async fn create_sip_account(&self, a: &NewSipAccount) -> Result<i64> {
        let mut c = self.pool.acquire().await?;
        create_sip_account_on(&mut c, a).await
    }

    /// A SIP account by id.
    pub async fn sip_account(&self, id: i64) -> Result<Option<SipAccount>> {
        let row = sqlx::query("SELECT * FROM sip_account WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(account_from).transpose()
    }

    /// A SIP account by username.
    pub async fn sip_account_by_username(&self, username: &str) -> Result<Option<SipAccount>> {
        let row = sqlx::query("SELECT * FROM sip_account WHERE username = $1")
            .bind(username)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(account_from).transpose()
    }

    /// Sets one override (`Some`) or clears it back to the template (`None`); only that column.
    pub async fn set_account_override(&self, account_id: i64, o: AccountOverride) -> Result<()> {
        let mut one = AccountOverrides::default();
        o.clone().apply(&mut one);
        one.validate()?;
        let q = format!("UPDATE sip_account SET {} = $1 WHERE id = $2", o.column());
        let query = sqlx::query(&q);
        let query = match o {
            AccountOverride::RegistrationCheck(v) | AccountOverride::Nat(v) => {
                query.bind(v.map(int))
            }
            AccountOverride::Acl(v) => query.bind(v),
            AccountOverride::MinExpires(v)
            | AccountOverride::MaxExpires(v)
            | AccountOverride::DefaultExpires(v) => query.bind(v),
        };
        let done = query.bind(account_id).execute(&self.pool).await?;
        found(done.rows_affected(), || format!("account {account_id}"))
    }

    /// Replaces all overrides of an account at once.
    pub async fn set_account_overrides(&self, account_id: i64, o: &AccountOverrides) -> Result<()> {
        o.validate()?;
        let done = sqlx::query(
            "UPDATE sip_account SET registration_check = $1, acl = $2, nat = $3, min_expires = $4, \
             max_expires = $5, default_expires = $6 WHERE id = $7",
        )
        .bind(o.registration_check.map(int))
        .bind(o.acl.as_deref())
        .bind(o.nat.map(int))
        .bind(o.min_expires)
        .bind(o.max_expires)
        .bind(o.default_expires)
        .bind(account_id)
        .execute(&self.pool)
        .await?;
        found(done.rows_affected(), || format!("account {account_id}"))
    }

    /// Changes an account's secret (new HA1s) and whether it may register and call.
    pub async fn set_sip_account_secret(
        &self,
        account_id: i64,
        password: &str,
        enabled: bool,
    ) -> Result<()> {
        check_password(password)?;
        let acc = self
            .sip_account(account_id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("account {account_id}")))?;
        let realm = realm_on(&mut *self.pool.acquire().await?, acc.tenant_id).await?;
        let done = sqlx::query(
            "UPDATE sip_account SET ha1_md5 = $1, ha1_sha256 = $2, enabled = $3 WHERE id = $4",
        )
        .bind(ha1(Algorithm::Md5, &acc.username, &realm, password))
        .bind(ha1(Algorithm::Sha256, &acc.username, &realm, password))
        .bind(int(enabled))
        .bind(account_id)
        .execute(&self.pool)
        .await?;
        found(done.rows_affected(), || format!("account {account_id}"))
    }
}

pub(crate) async fn create_sip_account_on(
    conn: &mut AnyConnection,
    a: &NewSipAccount,
) -> Result<i64> {
    check_account(&a.username, &a.password)?;
    a.overrides.validate()?;
    let tenant_id: i64 = sqlx::query("SELECT tenant_id FROM extension WHERE id = $1")
        .bind(a.extension_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("extension {}", a.extension_id)))?
        .try_get("tenant_id")?;
    let realm = realm_on(conn, tenant_id).await?;
    let tpl =
        Store::template_id_on(conn, "account_template", tenant_id, a.template.as_deref()).await?;
    let o = &a.overrides;
    let row = sqlx::query(
        "INSERT INTO sip_account (tenant_id, extension_id, username, ha1_md5, ha1_sha256, enabled, template_id, \
         registration_check, acl, nat, min_expires, max_expires, default_expires) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
    )
    .bind(tenant_id)
    .bind(a.extension_id)
    .bind(&a.username)
    .bind(ha1(Algorithm::Md5, &a.username, &realm, &a.password))
    .bind(ha1(Algorithm::Sha256, &a.username, &realm, &a.password))
    .bind(int(a.enabled))
    .bind(tpl)
    .bind(o.registration_check.map(int))
    .bind(o.acl.as_deref())
    .bind(o.nat.map(int))
    .bind(o.min_expires)
    .bind(o.max_expires)
    .bind(o.default_expires)
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.try_get("id")?)
}

/// The digest realm of a tenant: its domain.
async fn realm_on(conn: &mut AnyConnection, tenant_id: i64) -> Result<String> {
    Ok(sqlx::query("SELECT domain FROM tenant WHERE id = $1")
        .bind(tenant_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("tenant {tenant_id}")))?
        .try_get("domain")?)
}

/// A username a REGISTER can carry, and a secret long enough.
pub(super) fn check_account(username: &str, password: &str) -> Result<()> {
    if username.is_empty() || username.contains(|c: char| c.is_whitespace() || c == '@' || c == ':')
    {
        return Err(StoreError::Invalid(format!("username {username:?}")));
    }
    check_password(password)
}

/// Short secrets are guessed by SIP scanners within minutes.
fn check_password(p: &str) -> Result<()> {
    if p.chars().count() < 4 {
        return Err(StoreError::Invalid(
            "password shorter than 4 characters".into(),
        ));
    }
    Ok(())
}

pub(super) fn account_from(r: &AnyRow) -> Result<SipAccount> {
    Ok(SipAccount {
        id: r.try_get("id")?,
        tenant_id: r.try_get("tenant_id")?,
        extension_id: r.try_get("extension_id")?,
        username: r.try_get("username")?,
        ha1_md5: r.try_get("ha1_md5")?,
        ha1_sha256: r.try_get("ha1_sha256")?,
        enabled: flag(r, "enabled")?,
        template_id: r.try_get("template_id")?,
        overrides: AccountOverrides {
            registration_check: opt_flag(r, "registration_check")?,
            acl: r.try_get("acl")?,
            nat: opt_flag(r, "nat")?,
            min_expires: r.try_get("min_expires")?,
            max_expires: r.try_get("max_expires")?,
            default_expires: r.try_get("default_expires")?,
        },
    })
}
