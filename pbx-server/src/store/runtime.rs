//! Registrar locations and the liveness heartbeat.

use super::{Location, Result, Store};
use sqlx::AnyConnection;
use sqlx::Row;

impl Store {
    /// Stores an account's location (replacing the previous one: last REGISTER wins).
    pub async fn upsert_location(&self, l: &Location) -> Result<()> {
        let mut c = self.pool.acquire().await?;
        upsert_location_on(&mut c, l).await
    }

    /// Forgets an account's location.
    pub async fn delete_location(&self, account_id: i64) -> Result<()> {
        let mut c = self.pool.acquire().await?;
        delete_location_on(&mut c, account_id).await
    }

    /// Applies several writes in one transaction: one commit (one fsync) for a burst of
    /// registrations and call events instead of one each.
    pub async fn apply(&self, writes: &[Write]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for w in writes {
            match w {
                Write::Location(l) => upsert_location_on(&mut tx, l).await?,
                Write::Unregister(id) => delete_location_on(&mut tx, *id).await?,
                Write::Cdr(c) => super::cdr::cdr_upsert_on(&mut tx, c).await?,
                Write::Heartbeat(ms) => heartbeat_on(&mut tx, *ms).await?,
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

/// One write for [`Store::apply`].
#[derive(Debug, Clone)]
pub enum Write {
    /// Store or replace a location.
    Location(Location),
    /// Delete an account's location.
    Unregister(i64),
    /// Insert or update a call record.
    Cdr(Box<super::CdrRecord>),
    /// Liveness mark.
    Heartbeat(i64),
}

async fn upsert_location_on(conn: &mut AnyConnection, l: &Location) -> Result<()> {
    sqlx::query(
            "INSERT INTO location (account_id, contact, source_ip, source_port, transport, expires_at_ms, user_agent, registered_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (account_id) DO UPDATE SET contact = excluded.contact, source_ip = excluded.source_ip, \
             source_port = excluded.source_port, transport = excluded.transport, expires_at_ms = excluded.expires_at_ms, \
             user_agent = excluded.user_agent, registered_at_ms = excluded.registered_at_ms",
        )
        .bind(l.account_id)
        .bind(&l.contact)
        .bind(&l.source_ip)
        .bind(l.source_port)
        .bind(&l.transport)
        .bind(l.expires_at_ms)
        .bind(&l.user_agent)
        .bind(l.registered_at_ms)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn delete_location_on(conn: &mut AnyConnection, account_id: i64) -> Result<()> {
    sqlx::query("DELETE FROM location WHERE account_id = $1")
        .bind(account_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn heartbeat_on(conn: &mut AnyConnection, now_ms: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO server_state (key, value) VALUES ('heartbeat', $1) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

impl Store {
    /// Locations still valid at `now_ms`.
    pub async fn load_locations(&self, now_ms: i64) -> Result<Vec<Location>> {
        let rows = sqlx::query(
            "SELECT account_id, contact, source_ip, source_port, transport, expires_at_ms, user_agent, registered_at_ms \
             FROM location WHERE expires_at_ms > $1 ORDER BY account_id",
        )
        .bind(now_ms)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(Location {
                account_id: r.try_get("account_id")?,
                contact: r.try_get("contact")?,
                source_ip: r.try_get("source_ip")?,
                source_port: r.try_get("source_port")?,
                transport: r.try_get("transport")?,
                expires_at_ms: r.try_get("expires_at_ms")?,
                user_agent: r.try_get("user_agent")?,
                registered_at_ms: r.try_get("registered_at_ms")?,
            });
        }
        Ok(out)
    }

    /// Deletes expired locations; returns how many.
    pub async fn purge_expired_locations(&self, now_ms: i64) -> Result<u64> {
        Ok(
            sqlx::query("DELETE FROM location WHERE expires_at_ms <= $1")
                .bind(now_ms)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }

    /// Records that the server was alive at `now_ms`.
    pub async fn set_heartbeat(&self, now_ms: i64) -> Result<()> {
        let mut c = self.pool.acquire().await?;
        heartbeat_on(&mut c, now_ms).await
    }

    /// The last heartbeat.
    pub async fn heartbeat(&self) -> Result<Option<i64>> {
        let row = sqlx::query("SELECT value FROM server_state WHERE key = 'heartbeat'")
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => Some(r.try_get("value")?),
            None => None,
        })
    }
}

impl Store {
    /// Empties every table and resets the default templates (for test suites sharing one
    /// PostgreSQL database). Never called by the server.
    #[doc(hidden)]
    pub async fn wipe_for_tests(&self) -> Result<()> {
        for q in [
            "DELETE FROM cdr_detail",
            "DELETE FROM cdr",
            "DELETE FROM location",
            "DELETE FROM app_user",
            "DELETE FROM sip_account",
            "DELETE FROM extension",
            "DELETE FROM server_state",
            "UPDATE extension_template SET call_limit = 0, busy_level = 0, ring_timeout_s = 30, \
             overflow_noanswer = 'hangup', overflow_busy = 'hangup', overflow_unavailable = 'hangup'",
            "UPDATE account_template SET registration_check = 0, acl = NULL, nat = 0, min_expires = 60, \
             max_expires = 3600, default_expires = 3600",
        ] {
            sqlx::query(q).execute(&self.pool).await?;
        }
        Ok(())
    }

    /// The stored password hash of a user (tests check it is argon2).
    #[doc(hidden)]
    pub async fn password_hash_for_tests(&self, username: &str) -> Result<String> {
        Ok(
            sqlx::query("SELECT password_hash FROM app_user WHERE username = $1")
                .bind(username)
                .fetch_one(&self.pool)
                .await?
                .try_get("password_hash")?,
        )
    }
}
