//! Users of the CTI, web and API (argon2 password hashes), and the demo data.

use super::accounts::create_sip_account_on;
use super::extensions::create_extension_on;
use super::model::{AccountOverrides, NewExtension, NewSipAccount};
use super::{flag, int, Result, Store, StoreError};
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use sqlx::{AnyConnection, Row};

/// First names of the demo extensions 201–208.
const DEMO_NAMES: [&str; 8] = [
    "Anna", "Bruno", "Chiara", "Davide", "Elena", "Fabio", "Giulia", "Luca",
];

/// A user of the CTI/web/API (the password is kept only as an argon2 hash).
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct User {
    pub id: i64,
    pub tenant_id: i64,
    pub username: String,
    pub extension_id: Option<i64>,
    /// Number of the linked extension.
    pub extension: Option<String>,
    pub gui_access: bool,
    pub cti_access: bool,
    pub api_access: bool,
    pub role: String,
    /// Sees external numbers unmasked (the seed's privacy right, delegated by privacyadmin).
    pub privacy: bool,
    /// The desktop-app seat: `free`, `pro` or `phone`.
    pub cti_licence: String,
    /// Holds a call-center seat.
    pub call_center_licence: bool,
}

/// A new user. `tenant_id: None` = the default tenant. Default: CTI access only, role `user`.
#[derive(Clone)]
#[allow(missing_docs)]
pub struct NewUser {
    pub tenant_id: Option<i64>,
    pub username: String,
    pub password: String,
    pub extension_id: Option<i64>,
    pub gui_access: bool,
    pub cti_access: bool,
    pub api_access: bool,
    pub role: String,
}

impl Default for NewUser {
    fn default() -> Self {
        NewUser {
            tenant_id: None,
            username: String::new(),
            password: String::new(),
            extension_id: None,
            gui_access: false,
            cti_access: true,
            api_access: false,
            role: "user".into(),
        }
    }
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("tenant_id", &self.tenant_id)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("extension_id", &self.extension_id)
            .field(
                "access",
                &(self.gui_access, self.cti_access, self.api_access),
            )
            .field("role", &self.role)
            .finish()
    }
}

impl Store {
    /// Creates a user; returns its id. The password is kept only as an argon2 PHC string.
    pub async fn create_user(&self, u: &NewUser) -> Result<i64> {
        let tenant_id = self.tenant_or_default(u.tenant_id).await?;
        let hash = hash_password(&u.password).await?;
        let mut c = self.pool.acquire().await?;
        insert_user_on(&mut c, tenant_id, u, &hash).await
    }

    /// A user by tenant domain and username.
    pub async fn user_by_username(&self, tenant: &str, username: &str) -> Result<Option<User>> {
        Ok(self.user_row(tenant, username).await?.map(|(u, _)| u))
    }

    /// Checks a user's password; `None` for an unknown tenant or user or a wrong password
    /// (the caller cannot tell which, so logins do not reveal usernames).
    pub async fn verify_user_password(
        &self,
        tenant: &str,
        username: &str,
        password: &str,
    ) -> Result<Option<User>> {
        let found = self.user_row(tenant, username).await?;
        let password = password.to_string();
        let (user, hash) = match found {
            Some((u, h)) => (Some(u), h),
            // Spend the same time on unknown users as on known ones: verify against a hash
            // made once.
            None => (None, equaliser_hash().await?),
        };
        let ok = super::argon::run(move || {
            PasswordHash::new(&hash)
                .map(|parsed| {
                    Argon2::default()
                        .verify_password(password.as_bytes(), &parsed)
                        .is_ok()
                })
                .unwrap_or(false)
        })
        .await?;
        Ok(user.filter(|_| ok))
    }

    /// Replaces a user's password.
    pub async fn set_user_password(&self, user_id: i64, password: &str) -> Result<()> {
        let hash = hash_password(password).await?;
        let mut c = self.pool.acquire().await?;
        let digest = super::api::user_digest_password_on(&mut c, user_id, password).await?;
        let done = sqlx::query(
            "UPDATE app_user SET password_hash = $1, digest_password = $2 WHERE id = $3",
        )
        .bind(hash)
        .bind(digest)
        .bind(user_id)
        .execute(&mut *c)
        .await?;
        super::tenants::found(done.rows_affected(), || format!("user {user_id}"))
    }

    async fn user_row(&self, tenant: &str, username: &str) -> Result<Option<(User, String)>> {
        let row = sqlx::query(
            "SELECT u.id, u.tenant_id, u.username, u.password_hash, u.extension_id, u.gui_access, u.cti_access, \
             u.api_access, u.role, u.privacy, u.cti_licence, u.call_center_licence, e.number FROM app_user u JOIN tenant t ON t.id = u.tenant_id \
             LEFT JOIN extension e ON e.id = u.extension_id WHERE t.domain = $1 AND u.username = $2",
        )
        .bind(tenant)
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
        Ok(Some((user, r.try_get("password_hash")?)))
    }

    /// Creates the demo data when the default tenant has no extension yet: extensions 201–208,
    /// each with a SIP account and a CTI user named after the number, password `demo<number>`.
    /// Returns whether anything was created. All or nothing; safe when two nodes race.
    pub async fn seed_demo(&self) -> Result<bool> {
        let tenant = self.default_tenant().await?;
        if self.count_extensions(tenant.id).await? > 0 {
            return Ok(false);
        }
        let mut hashes = Vec::with_capacity(DEMO_NAMES.len());
        for i in 0..DEMO_NAMES.len() {
            hashes.push(hash_password(&format!("demo{}", 201 + i)).await?);
        }
        let mut tx = self.pool.begin().await?;
        match seed_on(&mut tx, tenant.id, &hashes).await {
            Ok(()) => {}
            // Another node seeded first: its data stands.
            Err(StoreError::Duplicate(_)) => return Ok(false),
            Err(e) => return Err(e),
        }
        if let Err(e) = tx.commit().await {
            return match StoreError::from(e) {
                StoreError::Duplicate(_) => Ok(false),
                e => Err(e),
            };
        }
        tracing::info!(
            "demo data created: extensions, accounts and users 201-208 (password demo<number>)"
        );
        Ok(true)
    }

    async fn count_extensions(&self, tenant_id: i64) -> Result<i64> {
        Ok(
            sqlx::query("SELECT COUNT(*) AS n FROM extension WHERE tenant_id = $1")
                .bind(tenant_id)
                .fetch_one(&self.pool)
                .await?
                .try_get("n")?,
        )
    }
}

async fn seed_on(conn: &mut AnyConnection, tenant_id: i64, hashes: &[String]) -> Result<()> {
    for (i, (first, hash)) in DEMO_NAMES.iter().zip(hashes).enumerate() {
        let number = (201 + i).to_string();
        let password = format!("demo{number}");
        let ext = NewExtension {
            tenant_id: Some(tenant_id),
            number: number.clone(),
            first_name: (*first).to_string(),
            last_name: "Demo".into(),
            ..NewExtension::default()
        };
        let ext_id = create_extension_on(conn, tenant_id, &ext).await?;
        let account = NewSipAccount {
            extension_id: ext_id,
            username: number.clone(),
            password: password.clone(),
            enabled: true,
            template: None,
            overrides: AccountOverrides::default(),
        };
        create_sip_account_on(conn, &account).await?;
        let user = NewUser {
            tenant_id: Some(tenant_id),
            username: number,
            password,
            extension_id: Some(ext_id),
            cti_access: true,
            ..NewUser::default()
        };
        insert_user_on(conn, tenant_id, &user, hash).await?;
    }
    super::queues::seed_demo_on(conn, tenant_id).await?;
    super::pickup::seed_demo_on(conn, tenant_id).await?;
    super::licences::seed_demo_on(conn, tenant_id).await
}

pub(super) async fn insert_user_on(
    conn: &mut AnyConnection,
    tenant_id: i64,
    u: &NewUser,
    hash: &str,
) -> Result<i64> {
    super::fields::non_empty("username", &u.username)?;
    super::fields::non_empty("role", &u.role)?;
    if let Some(ext) = u.extension_id {
        let same_tenant = sqlx::query("SELECT id FROM extension WHERE id = $1 AND tenant_id = $2")
            .bind(ext)
            .bind(tenant_id)
            .fetch_optional(&mut *conn)
            .await?;
        if same_tenant.is_none() {
            return Err(StoreError::NotFound(format!(
                "extension {ext} in tenant {tenant_id}"
            )));
        }
    }
    let digest = super::api::digest_password_on(conn, tenant_id, &u.password).await?;
    let row = sqlx::query(
        "INSERT INTO app_user (tenant_id, username, password_hash, extension_id, gui_access, cti_access, \
         api_access, role, digest_password) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(tenant_id)
    .bind(&u.username)
    .bind(hash)
    .bind(u.extension_id)
    .bind(int(u.gui_access))
    .bind(int(u.cti_access))
    .bind(int(u.api_access))
    .bind(&u.role)
    .bind(digest)
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.try_get("id")?)
}

/// Argon2id with a random salt, off the async workers (tens of milliseconds of CPU).
pub(super) async fn hash_password(password: &str) -> Result<String> {
    if password.is_empty() {
        return Err(StoreError::Invalid("empty password".into()));
    }
    let password = password.to_string();
    super::argon::run(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|_| StoreError::Hash)
    })
    .await?
}

/// A hash of a throwaway password, made once, that unknown users are verified against.
async fn equaliser_hash() -> Result<String> {
    static HASH: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    HASH.get_or_try_init(|| hash_password("timing-equaliser"))
        .await
        .cloned()
}
