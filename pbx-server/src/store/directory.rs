//! The resolved read model the call engine keeps in memory: every extension and SIP account
//! with template values applied (an override wins, NULL inherits).

use super::model::DEFAULT_TENANT;
use super::{flag, Result, Store};
use sqlx::Row;
use std::collections::HashMap;

/// An extension with its effective settings.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct ExtensionConfig {
    pub id: i64,
    pub tenant_id: i64,
    pub tenant_domain: String,
    pub number: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub mobile: String,
    pub enabled: bool,
    /// 0 = unlimited.
    pub call_limit: i64,
    /// 0 = unlimited.
    pub busy_level: i64,
    pub ring_timeout_s: i64,
    /// `hangup` or `extension:<number>`.
    pub overflow_noanswer: String,
    pub overflow_busy: String,
    pub overflow_unavailable: String,
    /// The extension's SIP accounts, by id.
    pub account_ids: Vec<i64>,
    /// Pickup groups it is a member of (its ringing calls may be picked up by them).
    pub pickup_groups: Vec<String>,
    /// Pickup groups it may pick up calls from (group pickup, `*9`).
    pub pickup_allowed: Vec<String>,
}

/// A SIP account with its effective settings and what digest verification needs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct AccountConfig {
    pub id: i64,
    pub tenant_id: i64,
    /// Also the digest realm the HA1s were computed with.
    pub tenant_domain: String,
    pub extension_id: i64,
    pub extension_number: String,
    pub username: String,
    pub enabled: bool,
    pub ha1_md5: String,
    pub ha1_sha256: String,
    /// A CIDR or an address; `None` = any address (an override of '' also ends up here).
    pub acl: Option<String>,
    pub registration_check: bool,
    pub nat: bool,
    pub min_expires: i64,
    pub max_expires: i64,
    pub default_expires: i64,
}

/// Earlier name of [`ExtensionConfig`].
pub type ExtensionRow = ExtensionConfig;
/// Earlier name of [`AccountConfig`].
pub type AccountRow = AccountConfig;

/// The resolved configuration of every tenant, ordered by tenant then number / username.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directory {
    /// The default tenant's domain (the realm single-tenant installs challenge with).
    pub tenant_domain: Option<String>,
    /// Extensions.
    pub extensions: Vec<ExtensionConfig>,
    /// SIP accounts.
    pub accounts: Vec<AccountConfig>,
    /// Services of the extensions that have any stored.
    pub services: Vec<super::ExtensionServices>,
}

impl Store {
    /// Loads the resolved directory (one read for all; the engine swaps it in whole).
    pub async fn load_directory(&self) -> Result<Directory> {
        let mut tx = self.pool.begin().await?;
        if self.backend() == super::Backend::Postgres {
            // One snapshot for all three reads (SQLite transactions already are one).
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                .execute(&mut *tx)
                .await?;
        }
        let accounts = sqlx::query(
            "SELECT a.id, a.tenant_id, tn.domain, a.extension_id, e.number, a.username, a.enabled, a.ha1_md5, a.ha1_sha256, \
             COALESCE(a.acl, t.acl) AS acl, \
             COALESCE(a.registration_check, t.registration_check) AS registration_check, \
             COALESCE(a.nat, t.nat) AS nat, \
             COALESCE(a.min_expires, t.min_expires) AS min_expires, \
             COALESCE(a.max_expires, t.max_expires) AS max_expires, \
             COALESCE(a.default_expires, t.default_expires) AS default_expires \
             FROM sip_account a JOIN account_template t ON t.id = a.template_id \
             JOIN extension e ON e.id = a.extension_id JOIN tenant tn ON tn.id = a.tenant_id",
        )
        .fetch_all(&mut *tx)
        .await?;
        let mut accounts = accounts
            .iter()
            .map(|r| {
                Ok(AccountConfig {
                    id: r.try_get("id")?,
                    tenant_id: r.try_get("tenant_id")?,
                    tenant_domain: r.try_get("domain")?,
                    extension_id: r.try_get("extension_id")?,
                    extension_number: r.try_get("number")?,
                    username: r.try_get("username")?,
                    enabled: flag(r, "enabled")?,
                    ha1_md5: r.try_get("ha1_md5")?,
                    ha1_sha256: r.try_get("ha1_sha256")?,
                    acl: r
                        .try_get::<Option<String>, _>("acl")?
                        .filter(|s| !s.is_empty()),
                    registration_check: flag(r, "registration_check")?,
                    nat: flag(r, "nat")?,
                    min_expires: r.try_get("min_expires")?,
                    max_expires: r.try_get("max_expires")?,
                    default_expires: r.try_get("default_expires")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        // Sorted here, not in SQL: bytewise on both backends whatever the database locale.
        accounts
            .sort_by(|a, b| (&a.tenant_domain, &a.username).cmp(&(&b.tenant_domain, &b.username)));
        let mut by_extension: HashMap<i64, Vec<i64>> = HashMap::new();
        for a in &accounts {
            by_extension.entry(a.extension_id).or_default().push(a.id);
        }
        let extensions = sqlx::query(
            "SELECT e.id, e.tenant_id, tn.domain, e.number, e.first_name, e.last_name, e.email, e.mobile, e.enabled, \
             COALESCE(e.call_limit, t.call_limit) AS call_limit, \
             COALESCE(e.busy_level, t.busy_level) AS busy_level, \
             COALESCE(e.ring_timeout_s, t.ring_timeout_s) AS ring_timeout_s, \
             COALESCE(e.overflow_noanswer, t.overflow_noanswer) AS overflow_noanswer, \
             COALESCE(e.overflow_busy, t.overflow_busy) AS overflow_busy, \
             COALESCE(e.overflow_unavailable, t.overflow_unavailable) AS overflow_unavailable \
             FROM extension e JOIN extension_template t ON t.id = e.template_id JOIN tenant tn ON tn.id = e.tenant_id",
        )
        .fetch_all(&mut *tx)
        .await?;
        let pickup = sqlx::query("SELECT extension_id, grp, role FROM pickup_group_member")
            .fetch_all(&mut *tx)
            .await?;
        let mut pickup_of: HashMap<(i64, bool), Vec<String>> = HashMap::new();
        for r in &pickup {
            let role: String = r.try_get("role")?;
            pickup_of
                .entry((r.try_get("extension_id")?, role == "picker"))
                .or_default()
                .push(r.try_get("grp")?);
        }
        let mut extensions = extensions
            .iter()
            .map(|r| {
                let id: i64 = r.try_get("id")?;
                let mut account_ids = by_extension.remove(&id).unwrap_or_default();
                account_ids.sort_unstable();
                let mut pickup_groups = pickup_of.remove(&(id, false)).unwrap_or_default();
                let mut pickup_allowed = pickup_of.remove(&(id, true)).unwrap_or_default();
                pickup_groups.sort();
                pickup_allowed.sort();
                Ok(ExtensionConfig {
                    id,
                    tenant_id: r.try_get("tenant_id")?,
                    tenant_domain: r.try_get("domain")?,
                    number: r.try_get("number")?,
                    first_name: r.try_get("first_name")?,
                    last_name: r.try_get("last_name")?,
                    email: r.try_get("email")?,
                    mobile: r.try_get("mobile")?,
                    enabled: flag(r, "enabled")?,
                    call_limit: r.try_get("call_limit")?,
                    busy_level: r.try_get("busy_level")?,
                    ring_timeout_s: r.try_get("ring_timeout_s")?,
                    overflow_noanswer: r.try_get("overflow_noanswer")?,
                    overflow_busy: r.try_get("overflow_busy")?,
                    overflow_unavailable: r.try_get("overflow_unavailable")?,
                    account_ids,
                    pickup_groups,
                    pickup_allowed,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        extensions
            .sort_by(|a, b| (&a.tenant_domain, &a.number).cmp(&(&b.tenant_domain, &b.number)));
        let tenant_domain = sqlx::query("SELECT domain FROM tenant WHERE domain = $1")
            .bind(DEFAULT_TENANT)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get("domain"))
            .transpose()?;
        let services = super::services::load_services_on(&mut tx).await?;
        tx.commit().await?;
        Ok(Directory {
            tenant_domain,
            extensions,
            accounts,
            services,
        })
    }
}
