//! A user's call history: the closed records in which an extension called or was rung.

use super::cdr::CdrRecord;
use super::cdr_sql::assemble;
use super::{Result, Store};

impl Store {
    /// Closed records of `tenant` in which `ext` is the caller or a rung destination, newest
    /// first, started before `before_ms` (all when `None`), at most `limit`. `missed_only`
    /// keeps the inbound ones `ext` did not answer.
    pub async fn cdr_history(
        &self,
        tenant: &str,
        ext: &str,
        before_ms: Option<i64>,
        limit: i64,
        missed_only: bool,
    ) -> Result<Vec<CdrRecord>> {
        let uid = self.bytewise("unique_id");
        let rung = "unique_id IN (SELECT unique_id FROM cdr_detail WHERE destination_num = $2)";
        let who = if missed_only {
            format!("caller <> $2 AND {rung} AND (answered_by IS NULL OR answered_by <> $2)")
        } else {
            format!("(caller = $2 OR {rung})")
        };
        let page = format!(
            "SELECT * FROM cdr WHERE tenant = $1 AND end_ms IS NOT NULL AND start_ms < $3 AND {who} \
             ORDER BY start_ms DESC, {uid} DESC LIMIT $4"
        );
        let mut tx = self.pool.begin().await?;
        let records = sqlx::query(&page)
            .bind(tenant)
            .bind(ext)
            .bind(before_ms.unwrap_or(i64::MAX))
            .bind(limit.max(0))
            .fetch_all(&mut *tx)
            .await?;
        let details = sqlx::query(&format!(
            "SELECT * FROM cdr_detail WHERE unique_id IN (SELECT unique_id FROM ({page}) AS page) ORDER BY seq"
        ))
        .bind(tenant)
        .bind(ext)
        .bind(before_ms.unwrap_or(i64::MAX))
        .bind(limit.max(0))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        assemble(&records, &details)
    }
}
