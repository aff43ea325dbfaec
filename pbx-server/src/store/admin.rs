//! What the REST administration needs beyond the other store modules: listings, edits and
//! deletions scoped to one tenant, the tenant's UUID, the operational overrides of the
//! seed's operation API (BUSYLEVEL, EXTEN_HUNTING), and the directory of one tenant as the
//! SIP core runs it (docs/decisions/011-rest-api.md).
//!
//! Every function takes the caller's tenant id and matches rows on it, so a tenant's user can
//! neither read nor change another tenant's rows, whatever id or name it sends.

use super::model::{AccountOverrides, SipAccount, Tenant};
use super::tenants::found;
use super::users::User;
use super::{flag, int, Directory, Result, Store, StoreError};
use rand::RngCore;
use sip_core::auth::{ha1, Algorithm};
use sqlx::{AnyConnection, Row};

/// Changes to a SIP account; `None` keeps the current value.
#[derive(Clone, Default)]
#[allow(missing_docs)]
pub struct AccountPatch {
    /// Move the account to this extension (same tenant).
    pub extension_id: Option<i64>,
    /// A new username needs a new password too (the HA1s hash both).
    pub username: Option<String>,
    pub password: Option<String>,
    pub enabled: Option<bool>,
    pub template: Option<String>,
    pub overrides: Option<AccountOverrides>,
}

impl std::fmt::Debug for AccountPatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountPatch")
            .field("extension_id", &self.extension_id)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("enabled", &self.enabled)
            .field("template", &self.template)
            .field("overrides", &self.overrides)
            .finish()
    }
}

/// Changes to a user; `None` keeps the current value. `extension: Some(None)` unlinks.
#[derive(Clone, Default)]
#[allow(missing_docs)]
pub struct UserPatch {
    pub password: Option<String>,
    pub extension_id: Option<Option<i64>>,
    pub gui_access: Option<bool>,
    pub cti_access: Option<bool>,
    pub api_access: Option<bool>,
    pub role: Option<String>,
    pub privacy: Option<bool>,
}

impl std::fmt::Debug for UserPatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserPatch")
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("extension_id", &self.extension_id)
            .field(
                "access",
                &(self.gui_access, self.cti_access, self.api_access),
            )
            .field("role", &self.role)
            .field("privacy", &self.privacy)
            .finish()
    }
}

/// A SIP account with the names a listing shows.
#[derive(Debug, Clone)]
pub struct AccountListing {
    /// The account (overrides unresolved).
    pub account: SipAccount,
    /// Number of its extension.
    pub extension: String,
    /// Name of its template.
    pub template: String,
}

/// The operational overrides of one extension (`None` = not set).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Operation {
    /// BUSYLEVEL: calls at which the extension is busy, 0 = unlimited.
    pub busy_level: Option<i64>,
    /// EXTEN_HUNTING: the priorities as JSON text.
    pub hunting: Option<String>,
}

impl Store {
    /// Every tenant, by domain.
    pub async fn tenants(&self) -> Result<Vec<Tenant>> {
        let order = self.bytewise("domain");
        let rows = sqlx::query(&format!(
            "SELECT id, domain, name FROM tenant ORDER BY {order}"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Tenant {
                    id: r.try_get("id")?,
                    domain: r.try_get("domain")?,
                    name: r.try_get("name")?,
                })
            })
            .collect()
    }

    /// The tenant's UUID (the seed's `tenantUuid`), made on first use and never changed.
    pub async fn tenant_uuid(&self, tenant_id: i64) -> Result<String> {
        let read = |r: Option<sqlx::any::AnyRow>| -> Result<Option<String>> {
            let r = r.ok_or_else(|| StoreError::NotFound(format!("tenant {tenant_id}")))?;
            Ok(r.try_get("uuid")?)
        };
        let q = "SELECT uuid FROM tenant WHERE id = $1";
        let row = sqlx::query(q)
            .bind(tenant_id)
            .fetch_optional(&self.pool)
            .await?;
        if let Some(u) = read(row)? {
            return Ok(u);
        }
        sqlx::query("UPDATE tenant SET uuid = $1 WHERE id = $2 AND uuid IS NULL")
            .bind(random_uuid())
            .bind(tenant_id)
            .execute(&self.pool)
            .await?;
        let row = sqlx::query(q)
            .bind(tenant_id)
            .fetch_optional(&self.pool)
            .await?;
        read(row)?.ok_or_else(|| StoreError::NotFound(format!("uuid of tenant {tenant_id}")))
    }

    /// Deletes an extension of a tenant with its SIP accounts (and their registrations),
    /// services and operational overrides; users linked to it are unlinked. Returns the ids of
    /// the accounts deleted.
    pub async fn delete_extension(&self, tenant_id: i64, number: &str) -> Result<Vec<i64>> {
        let mut tx = self.pool.begin().await?;
        write_lock_on(&mut tx, tenant_id).await?;
        let ext: i64 = sqlx::query("SELECT id FROM extension WHERE tenant_id = $1 AND number = $2")
            .bind(tenant_id)
            .bind(number)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("extension {number}")))?
            .try_get("id")?;
        let accounts: Vec<i64> = sqlx::query("SELECT id FROM sip_account WHERE extension_id = $1")
            .bind(ext)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<std::result::Result<_, _>>()?;
        for id in &accounts {
            delete_account_on(&mut tx, *id).await?;
        }
        for q in [
            "UPDATE app_user SET extension_id = NULL WHERE extension_id = $1",
            "DELETE FROM extension_service WHERE extension_id = $1",
            "DELETE FROM extension_operation WHERE extension_id = $1",
            "DELETE FROM extension WHERE id = $1",
        ] {
            sqlx::query(q)
                .bind(ext)
                .execute(&mut *tx)
                .await
                .map_err(referenced)?;
        }
        tx.commit().await?;
        Ok(accounts)
    }

    /// The SIP accounts of a tenant by username (bytewise), or only account `id` when given.
    pub async fn account_listing(
        &self,
        tenant_id: i64,
        id: Option<i64>,
    ) -> Result<Vec<AccountListing>> {
        let order = self.bytewise("a.username");
        let rows = sqlx::query(&format!(
            "SELECT a.*, e.number AS extension_number, t.name AS template_name FROM sip_account a \
             JOIN extension e ON e.id = a.extension_id JOIN account_template t ON t.id = a.template_id \
             WHERE a.tenant_id = $1 AND ($2 = 0 OR a.id = $2) ORDER BY {order}"
        ))
        .bind(tenant_id)
        .bind(id.unwrap_or(0))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AccountListing {
                    account: super::accounts::account_from(r)?,
                    extension: r.try_get("extension_number")?,
                    template: r.try_get("template_name")?,
                })
            })
            .collect()
    }

    /// Changes a SIP account of a tenant.
    pub async fn update_sip_account(
        &self,
        tenant_id: i64,
        id: i64,
        p: &AccountPatch,
    ) -> Result<()> {
        let cur = self
            .account_listing(tenant_id, Some(id))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::NotFound(format!("account {id}")))?
            .account;
        if p.username.as_ref().is_some_and(|u| *u != cur.username) && p.password.is_none() {
            return Err(StoreError::Invalid(
                "a new username needs a new password (the stored hashes cover both)".into(),
            ));
        }
        if let Some(o) = &p.overrides {
            o.validate()?;
        }
        let mut tx = self.pool.begin().await?;
        write_lock_on(&mut tx, tenant_id).await?;
        if let Some(ext) = p.extension_id {
            let same = sqlx::query("SELECT id FROM extension WHERE id = $1 AND tenant_id = $2")
                .bind(ext)
                .bind(tenant_id)
                .fetch_optional(&mut *tx)
                .await?;
            if same.is_none() {
                return Err(StoreError::NotFound(format!("extension {ext}")));
            }
        }
        let template = match &p.template {
            Some(name) => {
                Store::template_id_on(&mut tx, "account_template", tenant_id, Some(name)).await?
            }
            None => cur.template_id,
        };
        let o = p.overrides.clone().unwrap_or(cur.overrides.clone());
        sqlx::query(
            "UPDATE sip_account SET extension_id = $1, enabled = $2, template_id = $3, registration_check = $4, \
             acl = $5, nat = $6, min_expires = $7, max_expires = $8, default_expires = $9 WHERE id = $10 AND tenant_id = $11",
        )
        .bind(p.extension_id.unwrap_or(cur.extension_id))
        .bind(int(p.enabled.unwrap_or(cur.enabled)))
        .bind(template)
        .bind(o.registration_check.map(int))
        .bind(o.acl.as_deref())
        .bind(o.nat.map(int))
        .bind(o.min_expires)
        .bind(o.max_expires)
        .bind(o.default_expires)
        .bind(id)
        .bind(tenant_id)
        .execute(&mut *tx)
        .await?;
        if let Some(password) = &p.password {
            let username = p.username.clone().unwrap_or(cur.username.clone());
            set_secret_on(&mut tx, id, tenant_id, &username, password).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a SIP account of a tenant (and its registration).
    pub async fn delete_sip_account(&self, tenant_id: i64, id: i64) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        write_lock_on(&mut tx, tenant_id).await?;
        let mine = sqlx::query("SELECT id FROM sip_account WHERE id = $1 AND tenant_id = $2")
            .bind(id)
            .bind(tenant_id)
            .fetch_optional(&mut *tx)
            .await?;
        if mine.is_none() {
            return Err(StoreError::NotFound(format!("account {id}")));
        }
        delete_account_on(&mut tx, id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The users of a tenant by username (bytewise), or only `username` when given.
    pub async fn users_of(&self, tenant_id: i64, username: Option<&str>) -> Result<Vec<User>> {
        let order = self.bytewise("u.username");
        let rows = sqlx::query(&format!(
            "SELECT u.id, u.tenant_id, u.username, u.extension_id, u.gui_access, u.cti_access, u.api_access, \
             u.role, u.privacy, u.cti_licence, u.call_center_licence, e.number FROM app_user u LEFT JOIN extension e ON e.id = u.extension_id \
             WHERE u.tenant_id = $1 AND ($2 = '' OR u.username = $2) ORDER BY {order}"
        ))
        .bind(tenant_id)
        .bind(username.unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(User {
                    id: r.try_get("id")?,
                    tenant_id: r.try_get("tenant_id")?,
                    username: r.try_get("username")?,
                    extension_id: r.try_get("extension_id")?,
                    extension: r.try_get("number")?,
                    gui_access: flag(r, "gui_access")?,
                    cti_access: flag(r, "cti_access")?,
                    api_access: flag(r, "api_access")?,
                    role: r.try_get("role")?,
                    privacy: flag(r, "privacy")?,
                    cti_licence: r.try_get("cti_licence")?,
                    call_center_licence: flag(r, "call_center_licence")?,
                })
            })
            .collect()
    }

    /// Changes a user of a tenant (the password through [`Store::set_user_password`]).
    pub async fn update_user(&self, tenant_id: i64, username: &str, p: &UserPatch) -> Result<()> {
        let cur = self
            .users_of(tenant_id, Some(username))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::NotFound(format!("user {username}")))?;
        if let Some(role) = &p.role {
            super::fields::non_empty("role", role)?;
        }
        let ext = p.extension_id.unwrap_or(cur.extension_id);
        if let Some(ext) = ext {
            let same = sqlx::query("SELECT id FROM extension WHERE id = $1 AND tenant_id = $2")
                .bind(ext)
                .bind(tenant_id)
                .fetch_optional(&self.pool)
                .await?;
            if same.is_none() {
                return Err(StoreError::NotFound(format!("extension {ext}")));
            }
        }
        let done = sqlx::query(
            "UPDATE app_user SET extension_id = $1, gui_access = $2, cti_access = $3, api_access = $4, \
             role = $5, privacy = $6 WHERE id = $7 AND tenant_id = $8",
        )
        .bind(ext)
        .bind(int(p.gui_access.unwrap_or(cur.gui_access)))
        .bind(int(p.cti_access.unwrap_or(cur.cti_access)))
        .bind(int(p.api_access.unwrap_or(cur.api_access)))
        .bind(p.role.as_deref().unwrap_or(&cur.role))
        .bind(int(p.privacy.unwrap_or(cur.privacy)))
        .bind(cur.id)
        .bind(tenant_id)
        .execute(&self.pool)
        .await?;
        found(done.rows_affected(), || format!("user {username}"))?;
        if let Some(pw) = &p.password {
            self.set_user_password(cur.id, pw).await?;
        }
        Ok(())
    }

    /// Deletes a user of a tenant.
    pub async fn delete_user(&self, tenant_id: i64, username: &str) -> Result<()> {
        let done = sqlx::query("DELETE FROM app_user WHERE tenant_id = $1 AND username = $2")
            .bind(tenant_id)
            .bind(username)
            .execute(&self.pool)
            .await
            .map_err(referenced)?;
        found(done.rows_affected(), || format!("user {username}"))
    }

    /// The operational overrides of an extension.
    pub async fn operation(&self, extension_id: i64) -> Result<Operation> {
        let row = sqlx::query(
            "SELECT busy_level, hunting FROM extension_operation WHERE extension_id = $1",
        )
        .bind(extension_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => Operation {
                busy_level: r.try_get("busy_level")?,
                hunting: r.try_get("hunting")?,
            },
            None => Operation::default(),
        })
    }

    /// Replaces the operational overrides of an extension.
    pub async fn set_operation(&self, extension_id: i64, o: &Operation) -> Result<()> {
        if o.busy_level.is_some_and(|b| b < 0) {
            return Err(StoreError::Invalid("busy level below 0".into()));
        }
        sqlx::query(
            "INSERT INTO extension_operation (extension_id, busy_level, hunting) VALUES ($1, $2, $3) \
             ON CONFLICT (extension_id) DO UPDATE SET busy_level = excluded.busy_level, hunting = excluded.hunting",
        )
        .bind(extension_id)
        .bind(o.busy_level)
        .bind(o.hunting.as_deref())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The resolved directory of one tenant as the SIP core runs it: [`Store::load_directory`]
    /// limited to `domain`, with the operational BUSYLEVEL applied.
    pub async fn load_directory_of(&self, domain: &str) -> Result<Directory> {
        let mut d = self.load_directory().await?;
        d.extensions.retain(|e| e.tenant_domain == domain);
        d.accounts.retain(|a| a.tenant_domain == domain);
        d.services.retain(|s| s.tenant_domain == domain);
        let rows = sqlx::query(
            "SELECT o.extension_id, o.busy_level FROM extension_operation o \
             JOIN extension e ON e.id = o.extension_id JOIN tenant t ON t.id = e.tenant_id \
             WHERE t.domain = $1 AND o.busy_level IS NOT NULL",
        )
        .bind(domain)
        .fetch_all(&self.pool)
        .await?;
        for r in &rows {
            let id: i64 = r.try_get("extension_id")?;
            let level: i64 = r.try_get("busy_level")?;
            if let Some(e) = d.extensions.iter_mut().find(|e| e.id == id) {
                e.busy_level = level;
            }
        }
        Ok(d)
    }
}

/// New username and secret of an account (HA1s over the tenant's domain as realm).
async fn set_secret_on(
    conn: &mut AnyConnection,
    id: i64,
    tenant_id: i64,
    username: &str,
    password: &str,
) -> Result<()> {
    super::accounts::check_account(username, password)?;
    let realm: String = sqlx::query("SELECT domain FROM tenant WHERE id = $1")
        .bind(tenant_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("tenant {tenant_id}")))?
        .try_get("domain")?;
    sqlx::query(
        "UPDATE sip_account SET username = $1, ha1_md5 = $2, ha1_sha256 = $3 WHERE id = $4 AND tenant_id = $5",
    )
    .bind(username)
    .bind(ha1(Algorithm::Md5, username, &realm, password))
    .bind(ha1(Algorithm::Sha256, username, &realm, password))
    .bind(id)
    .bind(tenant_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Takes the write lock first in a transaction that reads before it writes: SQLite refuses
/// (SQLITE_BUSY, without waiting) a read transaction that tries to become a writer while
/// another connection writes; starting with a write makes it wait its turn instead. On
/// PostgreSQL it locks the tenant's row, so changes of one tenant's configuration queue.
pub(super) async fn write_lock_on(conn: &mut AnyConnection, tenant_id: i64) -> Result<()> {
    sqlx::query("UPDATE tenant SET name = name WHERE id = $1")
        .bind(tenant_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Deletes one account and what hangs on it (its registration).
async fn delete_account_on(conn: &mut AnyConnection, id: i64) -> Result<()> {
    for q in [
        "DELETE FROM location WHERE account_id = $1",
        "DELETE FROM sip_account WHERE id = $1",
    ] {
        sqlx::query(q)
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(referenced)?;
    }
    Ok(())
}

/// A foreign-key refusal (something else still points at the row) as a conflict, not a fault.
fn referenced(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(d) = &e {
        if d.is_foreign_key_violation() {
            return StoreError::Duplicate(format!("still in use: {}", d.message()));
        }
    }
    StoreError::from(e)
}

/// A random (version 4) UUID in its usual text form.
fn random_uuid() -> String {
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{NewExtension, NewSipAccount, NewUser};

    async fn store() -> Store {
        Store::connect("sqlite::memory:").await.unwrap()
    }

    #[test]
    fn uuids_are_version_4() {
        let u = random_uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"), "{u}");
    }

    #[tokio::test]
    async fn another_tenant_cannot_touch_the_rows() {
        let s = store().await;
        let other = s.create_tenant("other.example", "Other").await.unwrap();
        let def = s.default_tenant().await.unwrap();
        let ext = s
            .create_extension(&NewExtension {
                number: "301".into(),
                ..NewExtension::default()
            })
            .await
            .unwrap();
        let acc = s
            .create_sip_account(&NewSipAccount {
                extension_id: ext,
                username: "301".into(),
                password: "secret301".into(),
                enabled: true,
                template: None,
                overrides: AccountOverrides::default(),
            })
            .await
            .unwrap();
        s.create_user(&NewUser {
            username: "u301".into(),
            password: "secret301".into(),
            extension_id: Some(ext),
            ..NewUser::default()
        })
        .await
        .unwrap();
        assert!(s
            .account_listing(other.id, Some(acc))
            .await
            .unwrap()
            .is_empty());
        assert!(s.users_of(other.id, Some("u301")).await.unwrap().is_empty());
        assert!(matches!(
            s.delete_extension(other.id, "301").await,
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            s.delete_sip_account(other.id, acc).await,
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            s.delete_user(other.id, "u301").await,
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            s.update_user(other.id, "u301", &UserPatch::default()).await,
            Err(StoreError::NotFound(_))
        ));
        let patch = AccountPatch {
            enabled: Some(false),
            ..AccountPatch::default()
        };
        assert!(matches!(
            s.update_sip_account(other.id, acc, &patch).await,
            Err(StoreError::NotFound(_))
        ));
        // The owner can, and deleting the extension takes its account and unlinks the user.
        assert_eq!(s.delete_extension(def.id, "301").await.unwrap(), vec![acc]);
        assert!(s.account_listing(def.id, None).await.unwrap().is_empty());
        let u = s.users_of(def.id, Some("u301")).await.unwrap();
        assert_eq!(u[0].extension_id, None);
        assert!(s
            .load_directory_of("default")
            .await
            .unwrap()
            .extensions
            .is_empty());
    }

    #[tokio::test]
    async fn the_core_directory_is_one_tenant_with_the_operational_busy_level() {
        let s = store().await;
        let other = s.create_tenant("other.example", "Other").await.unwrap();
        for tenant_id in [None, Some(other.id)] {
            s.create_extension(&NewExtension {
                tenant_id,
                number: "201".into(),
                ..NewExtension::default()
            })
            .await
            .unwrap();
        }
        let def = s.default_tenant().await.unwrap();
        let ext = s
            .extension_by_number(Some(def.id), "201")
            .await
            .unwrap()
            .unwrap();
        s.set_operation(
            ext.id,
            &Operation {
                busy_level: Some(2),
                hunting: None,
            },
        )
        .await
        .unwrap();
        let d = s.load_directory_of("default").await.unwrap();
        assert_eq!(d.extensions.len(), 1);
        assert_eq!(d.extensions[0].busy_level, 2);
        let d = s.load_directory_of("other.example").await.unwrap();
        assert_eq!((d.extensions.len(), d.extensions[0].busy_level), (1, 0));
        let uuid = s.tenant_uuid(def.id).await.unwrap();
        assert_eq!(s.tenant_uuid(def.id).await.unwrap(), uuid, "stable");
        assert_ne!(s.tenant_uuid(other.id).await.unwrap(), uuid);
    }
}
