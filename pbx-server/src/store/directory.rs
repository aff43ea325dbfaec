//! Tenants, extensions, SIP accounts, their templates and users.

use super::{flag, Result, Store, StoreError, User};
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use sip_core::auth::{ha1, Algorithm};
use sqlx::Row;

/// An extension with template values resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct ExtensionRow {
    pub id: i64,
    pub number: String,
    pub first_name: String,
    pub last_name: String,
    pub enabled: bool,
    pub call_limit: i64,
    pub busy_level: i64,
    pub ring_timeout_s: i64,
    pub overflow_noanswer: String,
    pub overflow_busy: String,
    pub overflow_unavailable: String,
}

/// A SIP account with template values resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct AccountRow {
    pub id: i64,
    pub username: String,
    pub enabled: bool,
    pub ha1_md5: String,
    pub ha1_sha256: String,
    /// `None` (or empty) = any address.
    pub acl: Option<String>,
    pub registration_check: bool,
    pub nat: bool,
    pub min_expires: i64,
    pub max_expires: i64,
    pub default_expires: i64,
    pub extension_number: String,
}

/// The resolved configuration of the default tenant.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    /// The tenant's domain (also the digest realm).
    pub tenant_domain: Option<String>,
    /// Extensions.
    pub extensions: Vec<ExtensionRow>,
    /// SIP accounts.
    pub accounts: Vec<AccountRow>,
}

/// A new extension; `None` overrides inherit from the template.
#[derive(Debug, Clone, Default)]
#[allow(missing_docs)]
pub struct NewExtension {
    pub number: String,
    pub first_name: String,
    pub last_name: String,
    pub template: Option<String>,
    pub call_limit: Option<i64>,
    pub busy_level: Option<i64>,
    pub ring_timeout_s: Option<i64>,
    pub overflow_noanswer: Option<String>,
    pub overflow_busy: Option<String>,
    pub overflow_unavailable: Option<String>,
}

/// Extension columns that can be overridden per extension (and set on templates).
const EXT_INT_FIELDS: &[&str] = &["call_limit", "busy_level", "ring_timeout_s"];
const EXT_TEXT_FIELDS: &[&str] = &["overflow_noanswer", "overflow_busy", "overflow_unavailable"];
const ACC_INT_FIELDS: &[&str] = &[
    "registration_check",
    "nat",
    "min_expires",
    "max_expires",
    "default_expires",
];

fn check_action(v: &str) -> Result<()> {
    match v.split_once(':') {
        _ if v == "hangup" => Ok(()),
        Some(("extension", n)) if !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) => Ok(()),
        _ => Err(StoreError::Invalid(format!(
            "overflow action {v:?}: use hangup or extension:<number>"
        ))),
    }
}

impl Store {
    /// The default tenant's id and domain.
    pub async fn default_tenant(&self) -> Result<(i64, String)> {
        let row = sqlx::query("SELECT id, domain FROM tenant WHERE domain = 'default'")
            .fetch_one(&self.pool)
            .await?;
        Ok((row.try_get("id")?, row.try_get("domain")?))
    }

    async fn template_id(&self, table: &str, tenant: i64, name: &str) -> Result<i64> {
        let q = format!("SELECT id FROM {table} WHERE tenant_id = $1 AND name = $2");
        let row = sqlx::query(&q)
            .bind(tenant)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("{table} {name}")))?;
        Ok(row.try_get("id")?)
    }

    /// Creates an extension; returns its id.
    pub async fn create_extension(&self, e: &NewExtension) -> Result<i64> {
        if e.number.is_empty() || !e.number.chars().all(|c| c.is_ascii_digit()) {
            return Err(StoreError::Invalid(format!(
                "extension number {:?}",
                e.number
            )));
        }
        for a in [
            &e.overflow_noanswer,
            &e.overflow_busy,
            &e.overflow_unavailable,
        ]
        .into_iter()
        .flatten()
        {
            check_action(a)?;
        }
        let (tenant, _) = self.default_tenant().await?;
        let tpl = self
            .template_id(
                "extension_template",
                tenant,
                e.template.as_deref().unwrap_or("Default"),
            )
            .await?;
        let row = sqlx::query(
            "INSERT INTO extension (tenant_id, number, first_name, last_name, template_id, call_limit, busy_level, \
             ring_timeout_s, overflow_noanswer, overflow_busy, overflow_unavailable) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        )
        .bind(tenant)
        .bind(&e.number)
        .bind(&e.first_name)
        .bind(&e.last_name)
        .bind(tpl)
        .bind(e.call_limit)
        .bind(e.busy_level)
        .bind(e.ring_timeout_s)
        .bind(e.overflow_noanswer.clone())
        .bind(e.overflow_busy.clone())
        .bind(e.overflow_unavailable.clone())
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("id")?)
    }

    /// Sets (`Some`) or clears back to the template (`None`) one overridable field of an
    /// extension.
    pub async fn set_extension_field(
        &self,
        number: &str,
        field: &str,
        value: Option<&str>,
    ) -> Result<()> {
        let (tenant, _) = self.default_tenant().await?;
        let q = format!("UPDATE extension SET {field} = $1 WHERE tenant_id = $2 AND number = $3");
        let done = if EXT_INT_FIELDS.contains(&field) {
            let v = value
                .map(|v| {
                    v.parse::<i64>()
                        .map_err(|_| StoreError::Invalid(format!("{field}={v}")))
                })
                .transpose()?;
            sqlx::query(&q)
                .bind(v)
                .bind(tenant)
                .bind(number)
                .execute(&self.pool)
                .await?
        } else if EXT_TEXT_FIELDS.contains(&field) {
            if let Some(v) = value {
                check_action(v)?;
            }
            sqlx::query(&q)
                .bind(value.map(str::to_string))
                .bind(tenant)
                .bind(number)
                .execute(&self.pool)
                .await?
        } else {
            return Err(StoreError::Invalid(format!(
                "unknown field {field}; one of {}",
                [EXT_INT_FIELDS, EXT_TEXT_FIELDS].concat().join(", ")
            )));
        };
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("extension {number}")));
        }
        Ok(())
    }

    /// Sets a field of an extension template (every extension without an override follows).
    pub async fn set_extension_template_field(
        &self,
        template: &str,
        field: &str,
        value: &str,
    ) -> Result<()> {
        let (tenant, _) = self.default_tenant().await?;
        let q = format!(
            "UPDATE extension_template SET {field} = $1 WHERE tenant_id = $2 AND name = $3"
        );
        let done = if EXT_INT_FIELDS.contains(&field) {
            let v: i64 = value
                .parse()
                .map_err(|_| StoreError::Invalid(format!("{field}={value}")))?;
            sqlx::query(&q)
                .bind(v)
                .bind(tenant)
                .bind(template)
                .execute(&self.pool)
                .await?
        } else if EXT_TEXT_FIELDS.contains(&field) {
            check_action(value)?;
            sqlx::query(&q)
                .bind(value.to_string())
                .bind(tenant)
                .bind(template)
                .execute(&self.pool)
                .await?
        } else {
            return Err(StoreError::Invalid(format!("unknown field {field}")));
        };
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "extension template {template}"
            )));
        }
        Ok(())
    }

    /// Sets a field of an account template (`acl` as text, the others as integers).
    pub async fn set_account_template_field(
        &self,
        template: &str,
        field: &str,
        value: &str,
    ) -> Result<()> {
        let (tenant, _) = self.default_tenant().await?;
        let q =
            format!("UPDATE account_template SET {field} = $1 WHERE tenant_id = $2 AND name = $3");
        let done = if field == "acl" {
            sqlx::query(&q)
                .bind(value.to_string())
                .bind(tenant)
                .bind(template)
                .execute(&self.pool)
                .await?
        } else if ACC_INT_FIELDS.contains(&field) {
            let v: i64 = value
                .parse()
                .map_err(|_| StoreError::Invalid(format!("{field}={value}")))?;
            sqlx::query(&q)
                .bind(v)
                .bind(tenant)
                .bind(template)
                .execute(&self.pool)
                .await?
        } else {
            return Err(StoreError::Invalid(format!("unknown field {field}")));
        };
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("account template {template}")));
        }
        Ok(())
    }

    /// Sets or clears an override of a SIP account (`acl` text; '' = explicitly any).
    pub async fn set_account_field(
        &self,
        username: &str,
        field: &str,
        value: Option<&str>,
    ) -> Result<()> {
        let q = format!("UPDATE sip_account SET {field} = $1 WHERE username = $2");
        let done = if field == "acl" {
            sqlx::query(&q)
                .bind(value.map(str::to_string))
                .bind(username)
                .execute(&self.pool)
                .await?
        } else if ACC_INT_FIELDS.contains(&field) {
            let v = value
                .map(|v| {
                    v.parse::<i64>()
                        .map_err(|_| StoreError::Invalid(format!("{field}={v}")))
                })
                .transpose()?;
            sqlx::query(&q)
                .bind(v)
                .bind(username)
                .execute(&self.pool)
                .await?
        } else {
            return Err(StoreError::Invalid(format!("unknown field {field}")));
        };
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("account {username}")));
        }
        Ok(())
    }

    /// Adds a SIP account to an extension. The secret is kept only as HA1 (realm = tenant
    /// domain).
    pub async fn add_account_to_extension(
        &self,
        number: &str,
        username: &str,
        password: &str,
    ) -> Result<i64> {
        if username.is_empty()
            || username.contains(|c: char| c.is_whitespace() || c == '@' || c == ':')
        {
            return Err(StoreError::Invalid(format!("username {username:?}")));
        }
        if password.len() < 4 {
            return Err(StoreError::Invalid(
                "password shorter than 4 characters".into(),
            ));
        }
        let (tenant, realm) = self.default_tenant().await?;
        let ext = sqlx::query("SELECT id FROM extension WHERE tenant_id = $1 AND number = $2")
            .bind(tenant)
            .bind(number)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("extension {number}")))?;
        let ext_id: i64 = ext.try_get("id")?;
        let tpl = self
            .template_id("account_template", tenant, "Default")
            .await?;
        let row = sqlx::query(
            "INSERT INTO sip_account (tenant_id, extension_id, username, ha1_md5, ha1_sha256, template_id) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(tenant)
        .bind(ext_id)
        .bind(username)
        .bind(ha1(Algorithm::Md5, username, &realm, password))
        .bind(ha1(Algorithm::Sha256, username, &realm, password))
        .bind(tpl)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("id")?)
    }

    /// Creates a user (argon2 password hash).
    pub async fn create_user(
        &self,
        username: &str,
        password: &str,
        extension: Option<&str>,
        role: &str,
    ) -> Result<i64> {
        let (tenant, _) = self.default_tenant().await?;
        let ext_id: Option<i64> = match extension {
            Some(n) => Some(
                sqlx::query("SELECT id FROM extension WHERE tenant_id = $1 AND number = $2")
                    .bind(tenant)
                    .bind(n)
                    .fetch_optional(&self.pool)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("extension {n}")))?
                    .try_get("id")?,
            ),
            None => None,
        };
        let salt = SaltString::generate(&mut OsRng);
        let hash = Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map_err(|_| StoreError::Hash)?
            .to_string();
        let row = sqlx::query(
            "INSERT INTO app_user (tenant_id, username, password_hash, extension_id, role) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(tenant)
        .bind(username)
        .bind(hash)
        .bind(ext_id)
        .bind(role)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("id")?)
    }

    /// Checks a user's password; `None` for an unknown user or a wrong password.
    pub async fn verify_user_password(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<User>> {
        let (tenant, _) = self.default_tenant().await?;
        let row = sqlx::query(
            "SELECT u.id, u.username, u.password_hash, u.gui_access, u.cti_access, u.api_access, u.role, e.number \
             FROM app_user u LEFT JOIN extension e ON e.id = u.extension_id WHERE u.tenant_id = $1 AND u.username = $2",
        )
        .bind(tenant)
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let stored: String = row.try_get("password_hash")?;
        let Ok(parsed) = PasswordHash::new(&stored) else {
            return Ok(None);
        };
        if Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_err()
        {
            return Ok(None);
        }
        Ok(Some(User {
            id: row.try_get("id")?,
            username: row.try_get("username")?,
            extension: row.try_get("number")?,
            gui_access: flag(&row, "gui_access")?,
            cti_access: flag(&row, "cti_access")?,
            api_access: flag(&row, "api_access")?,
            role: row.try_get("role")?,
        }))
    }

    /// Creates the demo data (extensions 201–208, one account and one user each) when the
    /// tenant has no extension yet. Returns whether anything was created.
    pub async fn seed_demo(&self) -> Result<bool> {
        let (tenant, _) = self.default_tenant().await?;
        let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM extension WHERE tenant_id = $1")
            .bind(tenant)
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?;
        if count > 0 {
            return Ok(false);
        }
        const NAMES: [&str; 8] = [
            "Anna", "Bruno", "Chiara", "Davide", "Elena", "Fabio", "Giulia", "Luca",
        ];
        for (i, first) in NAMES.iter().enumerate() {
            let number = (201 + i).to_string();
            self.create_extension(&NewExtension {
                number: number.clone(),
                first_name: (*first).to_string(),
                last_name: "Demo".into(),
                ..NewExtension::default()
            })
            .await?;
            let password = format!("demo{number}");
            self.add_account_to_extension(&number, &number, &password)
                .await?;
            self.create_user(&number, &password, Some(&number), "user")
                .await?;
        }
        tracing::info!("demo data created: extensions 201-208, accounts and users 201-208 (password demo<number>)");
        Ok(true)
    }

    /// The resolved directory of the default tenant.
    pub async fn load_directory(&self) -> Result<Directory> {
        let (tenant, domain) = self.default_tenant().await?;
        let ext_rows = sqlx::query(
            "SELECT e.id, e.number, e.first_name, e.last_name, e.enabled, \
             COALESCE(e.call_limit, t.call_limit) AS call_limit, \
             COALESCE(e.busy_level, t.busy_level) AS busy_level, \
             COALESCE(e.ring_timeout_s, t.ring_timeout_s) AS ring_timeout_s, \
             COALESCE(e.overflow_noanswer, t.overflow_noanswer) AS overflow_noanswer, \
             COALESCE(e.overflow_busy, t.overflow_busy) AS overflow_busy, \
             COALESCE(e.overflow_unavailable, t.overflow_unavailable) AS overflow_unavailable \
             FROM extension e JOIN extension_template t ON t.id = e.template_id WHERE e.tenant_id = $1 ORDER BY e.number",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?;
        let mut extensions = Vec::with_capacity(ext_rows.len());
        for r in ext_rows {
            extensions.push(ExtensionRow {
                id: r.try_get("id")?,
                number: r.try_get("number")?,
                first_name: r.try_get("first_name")?,
                last_name: r.try_get("last_name")?,
                enabled: flag(&r, "enabled")?,
                call_limit: r.try_get("call_limit")?,
                busy_level: r.try_get("busy_level")?,
                ring_timeout_s: r.try_get("ring_timeout_s")?,
                overflow_noanswer: r.try_get("overflow_noanswer")?,
                overflow_busy: r.try_get("overflow_busy")?,
                overflow_unavailable: r.try_get("overflow_unavailable")?,
            });
        }
        let acc_rows = sqlx::query(
            "SELECT a.id, a.username, a.enabled, a.ha1_md5, a.ha1_sha256, e.number, \
             COALESCE(a.acl, t.acl) AS acl, \
             COALESCE(a.registration_check, t.registration_check) AS registration_check, \
             COALESCE(a.nat, t.nat) AS nat, \
             COALESCE(a.min_expires, t.min_expires) AS min_expires, \
             COALESCE(a.max_expires, t.max_expires) AS max_expires, \
             COALESCE(a.default_expires, t.default_expires) AS default_expires \
             FROM sip_account a JOIN account_template t ON t.id = a.template_id \
             JOIN extension e ON e.id = a.extension_id WHERE a.tenant_id = $1 ORDER BY a.username",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?;
        let mut accounts = Vec::with_capacity(acc_rows.len());
        for r in acc_rows {
            accounts.push(AccountRow {
                id: r.try_get("id")?,
                username: r.try_get("username")?,
                enabled: flag(&r, "enabled")?,
                ha1_md5: r.try_get("ha1_md5")?,
                ha1_sha256: r.try_get("ha1_sha256")?,
                acl: r
                    .try_get::<Option<String>, _>("acl")?
                    .filter(|s| !s.is_empty()),
                registration_check: flag(&r, "registration_check")?,
                nat: flag(&r, "nat")?,
                min_expires: r.try_get("min_expires")?,
                max_expires: r.try_get("max_expires")?,
                default_expires: r.try_get("default_expires")?,
                extension_number: r.try_get("number")?,
            });
        }
        Ok(Directory {
            tenant_domain: Some(domain),
            extensions,
            accounts,
        })
    }
}
