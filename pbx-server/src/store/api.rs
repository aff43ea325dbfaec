//! What the REST API needs from the store: the per-tenant salt and per-user `digestPassword`
//! of the seed's `X-authenticate` scheme, the predefined users of every tenant, and
//! extension listings (docs/decisions/006-rest-auth.md).
//!
//! The argon2 hash (`password_hash`) stays what CTI and web logins check; `digest_password`
//! (`hex(sha256(password{salt}))`) exists only because the seed's API digest is computed from
//! it. Both are written together whenever a password is set.

use super::model::Extension;
use super::users::{insert_user_on, NewUser, User};
use super::{flag, Result, Store, StoreError};
use rand::RngCore;
use sha2::{Digest as _, Sha256};
use sqlx::{AnyConnection, Row};

/// The seed's factory password of `admin` (and `pbxadmin`): accepted by the API only in demo
/// mode; a production start asks for a new one.
pub const DEFAULT_ADMIN_PASSWORD: &str = "admin";

/// One predefined user of every tenant (seed-concepts.md §9.2).
struct Predefined {
    username: &'static str,
    role: &'static str,
    /// GUI, CTI and API access.
    access: bool,
    privacy: bool,
}

/// `admin` has every access and the factory password; the optional ones start disabled with
/// a random password, until an administrator gives them a password and their access.
const PREDEFINED: [Predefined; 4] = [
    Predefined {
        username: "admin",
        role: "admin",
        access: true,
        privacy: false,
    },
    Predefined {
        username: "privacyadmin",
        role: "privacyadmin",
        access: false,
        privacy: true,
    },
    Predefined {
        username: "phonebook",
        role: "phonebook",
        access: false,
        privacy: false,
    },
    Predefined {
        username: "click2call",
        role: "click2call",
        access: false,
        privacy: false,
    },
];

/// `hex(sha256(password + "{" + salt + "}"))`, lowercase: the seed's `digestPassword`.
pub fn rest_digest_password(password: &str, salt: &str) -> String {
    let mut h = Sha256::new();
    h.update(password.as_bytes());
    h.update(b"{");
    h.update(salt.as_bytes());
    h.update(b"}");
    hex::encode(h.finalize())
}

/// A user as the API authenticates it.
#[derive(Debug, Clone)]
pub struct ApiCredential {
    /// The user.
    pub user: User,
    /// Domain of the user's tenant.
    pub domain: String,
    /// `digestPassword`; `None` for a user whose password was set before the API existed.
    pub digest_password: Option<String>,
    /// The tenant's salt.
    pub salt: String,
}

impl ApiCredential {
    /// True while the password is still the factory `admin`.
    pub fn on_default_password(&self) -> bool {
        self.digest_password.as_deref()
            == Some(rest_digest_password(DEFAULT_ADMIN_PASSWORD, &self.salt).as_str())
    }
}

/// An extension with what a listing shows besides its own row.
#[derive(Debug, Clone)]
pub struct ExtensionListing {
    /// The extension (overrides unresolved).
    pub extension: Extension,
    /// Name of its template.
    pub template: String,
    /// Its SIP accounts: (id, username, enabled).
    pub accounts: Vec<(i64, String, bool)>,
}

impl Store {
    /// The API salt of a tenant, created on first use; `None` for an unknown domain.
    pub async fn rest_salt(&self, domain: &str) -> Result<Option<String>> {
        let Some(tenant) = self.tenant(domain).await? else {
            return Ok(None);
        };
        let mut c = self.pool.acquire().await?;
        Ok(Some(salt_on(&mut c, tenant.id).await?))
    }

    /// The user `username` of tenant `domain`, with what the API digest check needs.
    pub async fn api_credential(
        &self,
        domain: &str,
        username: &str,
    ) -> Result<Option<ApiCredential>> {
        let row = sqlx::query(
            "SELECT u.id, u.tenant_id, u.username, u.extension_id, u.gui_access, u.cti_access, \
             u.api_access, u.role, u.privacy, u.cti_licence, u.call_center_licence, u.digest_password, e.number, t.domain, t.rest_salt \
             FROM app_user u JOIN tenant t ON t.id = u.tenant_id \
             LEFT JOIN extension e ON e.id = u.extension_id WHERE t.domain = $1 AND u.username = $2",
        )
        .bind(domain)
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let user = User {
            id: r.try_get("id")?,
            tenant_id: r.try_get("tenant_id")?,
            username: r.try_get("username")?,
            extension_id: r.try_get("extension_id")?,
            extension: r.try_get("number")?,
            gui_access: flag(&r, "gui_access")?,
            cti_access: flag(&r, "cti_access")?,
            api_access: flag(&r, "api_access")?,
            role: r.try_get("role")?,
            privacy: flag(&r, "privacy")?,
            cti_licence: r.try_get("cti_licence")?,
            call_center_licence: flag(&r, "call_center_licence")?,
        };
        // A user with a digest has a salt (written first); without one the user cannot
        // authenticate anyway, so an empty salt is harmless.
        let salt: Option<String> = r.try_get("rest_salt")?;
        Ok(Some(ApiCredential {
            domain: r.try_get("domain")?,
            digest_password: r.try_get("digest_password")?,
            salt: salt.unwrap_or_default(),
            user,
        }))
    }

    /// Creates the predefined users (`admin`, `privacyadmin`, `phonebook`, `click2call`) that
    /// a tenant lacks; returns how many were created. Safe when two nodes race.
    pub async fn ensure_predefined_users_of(&self, tenant_id: i64) -> Result<usize> {
        let mut created = 0;
        for p in &PREDEFINED {
            let exists =
                sqlx::query("SELECT id FROM app_user WHERE tenant_id = $1 AND username = $2")
                    .bind(tenant_id)
                    .bind(p.username)
                    .fetch_optional(&self.pool)
                    .await?
                    .is_some();
            if exists {
                continue;
            }
            let password = if p.access {
                DEFAULT_ADMIN_PASSWORD.to_string()
            } else {
                random_hex(16)
            };
            let user = NewUser {
                tenant_id: Some(tenant_id),
                username: p.username.to_string(),
                password,
                extension_id: None,
                gui_access: p.access,
                cti_access: p.access,
                api_access: p.access,
                role: p.role.to_string(),
            };
            let hash = super::users::hash_password(&user.password).await?;
            let mut tx = self.pool.begin().await?;
            super::admin::write_lock_on(&mut tx, tenant_id).await?;
            let id = match insert_user_on(&mut tx, tenant_id, &user, &hash).await {
                Ok(id) => id,
                Err(StoreError::Duplicate(_)) => continue,
                Err(e) => return Err(e),
            };
            if p.privacy {
                sqlx::query("UPDATE app_user SET privacy = 1 WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            match tx.commit().await.map_err(StoreError::from) {
                Ok(()) => created += 1,
                Err(StoreError::Duplicate(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(created)
    }

    /// [`Store::ensure_predefined_users_of`] for every tenant.
    pub async fn ensure_predefined_users(&self) -> Result<usize> {
        let ids: Vec<i64> = sqlx::query("SELECT id FROM tenant ORDER BY id")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<std::result::Result<_, _>>()?;
        let mut created = 0;
        for id in ids {
            created += self.ensure_predefined_users_of(id).await?;
        }
        Ok(created)
    }

    /// Sets the password of `username` in tenant `domain` (argon2 and API digest together).
    pub async fn set_password_by_username(
        &self,
        domain: &str,
        username: &str,
        password: &str,
    ) -> Result<()> {
        let user = self
            .user_by_username(domain, username)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("user {username}@{domain}")))?;
        self.set_user_password(user.id, password).await
    }

    /// Users of any tenant still on the factory password, as `username@domain`.
    pub async fn users_on_default_password(&self) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT u.username, u.digest_password, t.domain, t.rest_salt FROM app_user u \
             JOIN tenant t ON t.id = u.tenant_id WHERE u.digest_password IS NOT NULL",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for r in rows {
            let salt: Option<String> = r.try_get("rest_salt")?;
            let digest: String = r.try_get("digest_password")?;
            if let Some(salt) = salt {
                if digest == rest_digest_password(DEFAULT_ADMIN_PASSWORD, &salt) {
                    let u: String = r.try_get("username")?;
                    let d: String = r.try_get("domain")?;
                    out.push(format!("{u}@{d}"));
                }
            }
        }
        Ok(out)
    }

    /// The extensions of a tenant by number (bytewise), or only `number` when given, with
    /// their template's name and their SIP accounts.
    pub async fn extension_listing(
        &self,
        tenant_id: i64,
        number: Option<&str>,
    ) -> Result<Vec<ExtensionListing>> {
        let order = self.bytewise("e.number");
        let sql = format!(
            "SELECT e.*, t.name AS template_name FROM extension e \
             JOIN extension_template t ON t.id = e.template_id \
             WHERE e.tenant_id = $1 AND ($2 = '' OR e.number = $2) ORDER BY {order}"
        );
        let rows = sqlx::query(&sql)
            .bind(tenant_id)
            .bind(number.unwrap_or(""))
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(ExtensionListing {
                extension: super::extensions::extension_from(r)?,
                template: r.try_get("template_name")?,
                accounts: Vec::new(),
            });
        }
        let accounts = sqlx::query(
            "SELECT id, extension_id, username, enabled FROM sip_account WHERE tenant_id = $1 ORDER BY id",
        )
        .bind(tenant_id)
        .fetch_all(&self.pool)
        .await?;
        for a in &accounts {
            let ext: i64 = a.try_get("extension_id")?;
            if let Some(l) = out.iter_mut().find(|l| l.extension.id == ext) {
                l.accounts.push((
                    a.try_get("id")?,
                    a.try_get("username")?,
                    flag(a, "enabled")?,
                ));
            }
        }
        Ok(out)
    }
}

/// The salt of a tenant, generated and stored on first use (race-safe: the first writer wins).
pub(crate) async fn salt_on(conn: &mut AnyConnection, tenant_id: i64) -> Result<String> {
    if let Some(s) = read_salt(conn, tenant_id).await? {
        return Ok(s);
    }
    sqlx::query("UPDATE tenant SET rest_salt = $1 WHERE id = $2 AND rest_salt IS NULL")
        .bind(random_hex(16))
        .bind(tenant_id)
        .execute(&mut *conn)
        .await?;
    read_salt(conn, tenant_id)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("salt of tenant {tenant_id}")))
}

async fn read_salt(conn: &mut AnyConnection, tenant_id: i64) -> Result<Option<String>> {
    let row = sqlx::query("SELECT rest_salt FROM tenant WHERE id = $1")
        .bind(tenant_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("tenant {tenant_id}")))?;
    Ok(row.try_get("rest_salt")?)
}

/// `digestPassword` of `password` in a tenant (creating the tenant's salt if needed).
pub(crate) async fn digest_password_on(
    conn: &mut AnyConnection,
    tenant_id: i64,
    password: &str,
) -> Result<String> {
    let salt = salt_on(conn, tenant_id).await?;
    Ok(rest_digest_password(password, &salt))
}

/// `digestPassword` of `password` for the tenant of user `user_id`.
pub(crate) async fn user_digest_password_on(
    conn: &mut AnyConnection,
    user_id: i64,
    password: &str,
) -> Result<String> {
    let tenant_id: i64 = sqlx::query("SELECT tenant_id FROM app_user WHERE id = $1")
        .bind(user_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("user {user_id}")))?
        .try_get("tenant_id")?;
    digest_password_on(conn, tenant_id, password).await
}

/// `n` random bytes as lowercase hex.
fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}
