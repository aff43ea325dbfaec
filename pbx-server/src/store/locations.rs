//! Registrar locations (one per SIP account, last REGISTER wins), the liveness heartbeat, and
//! batched writes.

use super::{Result, Store};
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
                Write::Cdr(c) => super::cdr_sql::cdr_upsert_on(&mut tx, c).await?,
                Write::Heartbeat(ms) => heartbeat_on(&mut tx, *ms).await?,
                Write::Services {
                    extension_id,
                    services,
                } => super::services::upsert_services_on(&mut tx, *extension_id, services).await?,
                Write::Queue { tenant, write } => {
                    super::queues::queue_write_on(&mut tx, tenant, write).await?
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

/// A registered location (one per SIP account: the last REGISTER wins).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The SIP account.
    pub account_id: i64,
    /// Contact URI the device registered.
    pub contact: String,
    /// Source IP of the REGISTER (where calls are sent: NAT-safe).
    pub source_ip: String,
    /// Source port of the REGISTER.
    pub source_port: i64,
    /// `UDP`, `TCP`, `TLS`, `WS` or `WSS`.
    pub transport: String,
    /// Expiry, epoch ms.
    pub expires_at_ms: i64,
    /// User-Agent header.
    pub user_agent: String,
    /// When registered, epoch ms.
    pub registered_at_ms: i64,
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
    /// Replace an extension's services.
    Services {
        /// Extension row id.
        extension_id: i64,
        /// The services now.
        services: Box<shared_protocol::Services>,
    },
    /// A call-center change (pause, dynamic member).
    Queue {
        /// Tenant domain.
        tenant: String,
        /// The change.
        write: super::QueueWrite,
    },
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
        let mut c = self.pool.acquire().await?;
        read_heartbeat_on(&mut c).await
    }
}

pub(super) async fn read_heartbeat_on(conn: &mut AnyConnection) -> Result<Option<i64>> {
    let row = sqlx::query("SELECT value FROM server_state WHERE key = 'heartbeat'")
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.map(|r| r.try_get("value")).transpose()?)
}
