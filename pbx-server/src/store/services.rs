//! Telephone services of extensions (DND, the four call forwards, fork to mobile): runtime
//! state changed from the CTI or the REST API, kept across restarts. One row per extension that
//! ever had a service set; no row means everything off.

use super::{flag, int, Result, Store};
use shared_protocol::{Forwards, Services};
use sqlx::{AnyConnection, Row};

/// The services of one extension, as loaded with the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionServices {
    /// Extension row id.
    pub extension_id: i64,
    /// Tenant domain of the extension.
    pub tenant_domain: String,
    /// Extension number.
    pub number: String,
    /// The services.
    pub services: Services,
}

impl Store {
    /// Stores (replaces) the services of an extension.
    pub async fn set_services(&self, extension_id: i64, services: &Services) -> Result<()> {
        let mut c = self.pool.acquire().await?;
        upsert_services_on(&mut c, extension_id, services).await
    }

    /// Every extension's stored services, ordered by tenant then number.
    pub async fn load_services(&self) -> Result<Vec<ExtensionServices>> {
        let mut c = self.pool.acquire().await?;
        load_services_on(&mut c).await
    }
}

/// Insert or replace one extension's services (also a [`super::Write::Services`]).
pub(crate) async fn upsert_services_on(
    conn: &mut AnyConnection,
    extension_id: i64,
    s: &Services,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO extension_service (extension_id, dnd, forward_unconditional, forward_busy, \
         forward_no_answer, forward_unavailable, fork2mobile) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (extension_id) DO UPDATE SET dnd = excluded.dnd, \
         forward_unconditional = excluded.forward_unconditional, forward_busy = excluded.forward_busy, \
         forward_no_answer = excluded.forward_no_answer, forward_unavailable = excluded.forward_unavailable, \
         fork2mobile = excluded.fork2mobile",
    )
    .bind(extension_id)
    .bind(int(s.dnd))
    .bind(s.forwards.unconditional.clone())
    .bind(s.forwards.busy.clone())
    .bind(s.forwards.no_answer.clone())
    .bind(s.forwards.unavailable.clone())
    .bind(int(s.fork2mobile))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Reads every stored row (inside the directory's snapshot when `conn` is its transaction).
pub(crate) async fn load_services_on(conn: &mut AnyConnection) -> Result<Vec<ExtensionServices>> {
    let rows = sqlx::query(
        "SELECT s.extension_id, tn.domain, e.number, s.dnd, s.forward_unconditional, s.forward_busy, \
         s.forward_no_answer, s.forward_unavailable, s.fork2mobile \
         FROM extension_service s JOIN extension e ON e.id = s.extension_id \
         JOIN tenant tn ON tn.id = e.tenant_id",
    )
    .fetch_all(&mut *conn)
    .await?;
    let target = |r: &sqlx::any::AnyRow, col: &str| -> std::result::Result<_, sqlx::Error> {
        Ok(r.try_get::<Option<String>, _>(col)?
            .filter(|t| !t.is_empty()))
    };
    let mut out = rows
        .iter()
        .map(|r| {
            Ok(ExtensionServices {
                extension_id: r.try_get("extension_id")?,
                tenant_domain: r.try_get("domain")?,
                number: r.try_get("number")?,
                services: Services {
                    dnd: flag(r, "dnd")?,
                    forwards: Forwards {
                        unconditional: target(r, "forward_unconditional")?,
                        busy: target(r, "forward_busy")?,
                        no_answer: target(r, "forward_no_answer")?,
                        unavailable: target(r, "forward_unavailable")?,
                    },
                    fork2mobile: flag(r, "fork2mobile")?,
                },
            })
        })
        .collect::<Result<Vec<_>>>()?;
    // Sorted here, not in SQL: bytewise on both backends whatever the database locale.
    out.sort_by(|a, b| (&a.tenant_domain, &a.number).cmp(&(&b.tenant_domain, &b.number)));
    Ok(out)
}
