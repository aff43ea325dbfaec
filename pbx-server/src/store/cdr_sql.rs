//! Call records in the database: written at call start, rewritten at every change, closed at
//! start-up when a crash left them open (docs/decisions/003-cdr-durability.md).

use super::cdr::{CdrDetail, CdrRecord};
use super::locations::read_heartbeat_on;
use super::{flag, int, Result, Store};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::collections::HashMap;

/// Detail exit cause written on steps a crash left open.
pub const RECOVERED_CAUSE: &str = "RECOVERED";

impl Store {
    /// Inserts or updates a record and all its detail rows, in one transaction (a record
    /// exists from the call's first moment and never shows half an update).
    pub async fn cdr_upsert(&self, c: &CdrRecord) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        cdr_upsert_on(&mut tx, c).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Number of records (continues the unique-id counter across restarts).
    pub async fn cdr_count(&self) -> Result<i64> {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM cdr")
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?)
    }

    /// Records oldest first (newest last) by start time then unique id, details by `seq`;
    /// `limit` keeps the newest N.
    pub async fn cdr_list(&self, limit: Option<i64>) -> Result<Vec<CdrRecord>> {
        let uid = self.bytewise("unique_id");
        let mut tx = self.pool.begin().await?;
        let (records, details) = match limit {
            Some(n) => {
                let newest =
                    format!("SELECT * FROM cdr ORDER BY start_ms DESC, {uid} DESC LIMIT $1");
                let records = sqlx::query(&format!(
                    "SELECT * FROM ({newest}) AS newest ORDER BY start_ms, {uid}"
                ))
                .bind(n.max(0))
                .fetch_all(&mut *tx)
                .await?;
                let details = sqlx::query(&format!(
                    "SELECT * FROM cdr_detail WHERE unique_id IN (SELECT unique_id FROM ({newest}) AS newest) ORDER BY seq"
                ))
                .bind(n.max(0))
                .fetch_all(&mut *tx)
                .await?;
                (records, details)
            }
            None => {
                let records = sqlx::query(&format!("SELECT * FROM cdr ORDER BY start_ms, {uid}"))
                    .fetch_all(&mut *tx)
                    .await?;
                let details = sqlx::query("SELECT * FROM cdr_detail ORDER BY seq")
                    .fetch_all(&mut *tx)
                    .await?;
                (records, details)
            }
        };
        tx.commit().await?;
        assemble(&records, &details)
    }

    /// Closes every record a crash left open and returns how many. The end is the last
    /// heartbeat (the latest moment the call is known to have been up; `now_ms` without one),
    /// never before the start or the answer. Status `OK` if answered, else `??` ("cause could
    /// not be determined"); open detail steps get exit cause `RECOVERED`. Assumes one node
    /// writes this database's records.
    pub async fn cdr_recover_open(&self, now_ms: i64) -> Result<usize> {
        let mut tx = self.pool.begin().await?;
        let alive = read_heartbeat_on(&mut tx)
            .await?
            .unwrap_or(now_ms)
            .min(now_ms);
        let records = sqlx::query("SELECT * FROM cdr WHERE end_ms IS NULL")
            .fetch_all(&mut *tx)
            .await?;
        let details = sqlx::query(
            "SELECT d.* FROM cdr_detail d JOIN cdr c ON c.unique_id = d.unique_id WHERE c.end_ms IS NULL ORDER BY d.seq",
        )
        .fetch_all(&mut *tx)
        .await?;
        let open = assemble(&records, &details)?;
        for mut rec in open.iter().cloned() {
            let end = alive
                .max(rec.start_ms)
                .max(rec.answer_ms.unwrap_or(rec.start_ms));
            rec.end_ms = Some(end);
            rec.status = Some(if rec.answer_ms.is_some() { "OK" } else { "??" }.to_string());
            rec.duration_s = Some((end - rec.start_ms) / 1000);
            rec.bill_ms = Some(rec.answer_ms.map_or(0, |a| end - a));
            rec.recovered = true;
            for d in rec.details.iter_mut().filter(|d| d.exit_ms.is_none()) {
                d.exit_ms = Some(end.max(d.enter_ms));
                d.exit_cause
                    .get_or_insert_with(|| RECOVERED_CAUSE.to_string());
            }
            cdr_upsert_on(&mut tx, &rec).await?;
        }
        tx.commit().await?;
        Ok(open.len())
    }
}

pub(super) async fn cdr_upsert_on(conn: &mut AnyConnection, c: &CdrRecord) -> Result<()> {
    sqlx::query(
        "INSERT INTO cdr (unique_id, tenant, source_type, destination_type, status, start_ms, channel_up_ms, answer_ms, \
         end_ms, answered_by, caller, caller_name, anonymous, called, called_name, duration_s, bill_ms, src_peer_name, \
         src_ip_port, recovered) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20) \
         ON CONFLICT (unique_id) DO UPDATE SET tenant = excluded.tenant, source_type = excluded.source_type, \
         destination_type = excluded.destination_type, status = excluded.status, start_ms = excluded.start_ms, \
         channel_up_ms = excluded.channel_up_ms, answer_ms = excluded.answer_ms, end_ms = excluded.end_ms, \
         answered_by = excluded.answered_by, caller = excluded.caller, caller_name = excluded.caller_name, \
         anonymous = excluded.anonymous, called = excluded.called, called_name = excluded.called_name, \
         duration_s = excluded.duration_s, bill_ms = excluded.bill_ms, src_peer_name = excluded.src_peer_name, \
         src_ip_port = excluded.src_ip_port, recovered = excluded.recovered",
    )
    .bind(&c.unique_id)
    .bind(&c.tenant)
    .bind(&c.source_type)
    .bind(&c.destination_type)
    .bind(c.status.as_deref())
    .bind(c.start_ms)
    .bind(c.channel_up_ms)
    .bind(c.answer_ms)
    .bind(c.end_ms)
    .bind(c.answered_by.as_deref())
    .bind(&c.caller)
    .bind(c.caller_name.as_deref())
    .bind(int(c.anonymous))
    .bind(&c.called)
    .bind(c.called_name.as_deref())
    .bind(c.duration_s)
    .bind(c.bill_ms)
    .bind(c.src_peer_name.as_deref())
    .bind(c.src_ip_port.as_deref())
    .bind(int(c.recovered))
    .execute(&mut *conn)
    .await?;
    for d in &c.details {
        sqlx::query(
            "INSERT INTO cdr_detail (unique_id, seq, source_num, anonymous, destination_type, destination_id, destination_name, \
             destination_num, enter_ms, enqueue_ms, answer_ms, exit_ms, exit_cause, answered_by, waiting_time_s) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
             ON CONFLICT (unique_id, seq) DO UPDATE SET source_num = excluded.source_num, anonymous = excluded.anonymous, \
             destination_type = excluded.destination_type, destination_id = excluded.destination_id, \
             destination_name = excluded.destination_name, destination_num = excluded.destination_num, \
             enter_ms = excluded.enter_ms, enqueue_ms = excluded.enqueue_ms, answer_ms = excluded.answer_ms, \
             exit_ms = excluded.exit_ms, exit_cause = excluded.exit_cause, answered_by = excluded.answered_by, \
             waiting_time_s = excluded.waiting_time_s",
        )
        .bind(&c.unique_id)
        .bind(d.seq)
        .bind(&d.source_num)
        .bind(int(d.anonymous))
        .bind(&d.destination_type)
        .bind(&d.destination_id)
        .bind(d.destination_name.as_deref())
        .bind(d.destination_num.as_deref())
        .bind(d.enter_ms)
        .bind(d.enqueue_ms)
        .bind(d.answer_ms)
        .bind(d.exit_ms)
        .bind(d.exit_cause.as_deref())
        .bind(d.answered_by.as_deref())
        .bind(d.waiting_time_s)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Records (in the given order) with their details (rows already ordered by `seq`).
pub(super) fn assemble(records: &[AnyRow], details: &[AnyRow]) -> Result<Vec<CdrRecord>> {
    let mut by_id: HashMap<String, Vec<CdrDetail>> = HashMap::new();
    for d in details {
        by_id
            .entry(d.try_get("unique_id")?)
            .or_default()
            .push(detail(d)?);
    }
    records
        .iter()
        .map(|r| {
            let mut rec = record(r)?;
            rec.details = by_id.remove(&rec.unique_id).unwrap_or_default();
            Ok(rec)
        })
        .collect()
}

fn record(r: &AnyRow) -> Result<CdrRecord> {
    Ok(CdrRecord {
        unique_id: r.try_get("unique_id")?,
        tenant: r.try_get("tenant")?,
        source_type: r.try_get("source_type")?,
        destination_type: r.try_get("destination_type")?,
        status: r.try_get("status")?,
        start_ms: r.try_get("start_ms")?,
        channel_up_ms: r.try_get("channel_up_ms")?,
        answer_ms: r.try_get("answer_ms")?,
        end_ms: r.try_get("end_ms")?,
        answered_by: r.try_get("answered_by")?,
        caller: r.try_get("caller")?,
        caller_name: r.try_get("caller_name")?,
        anonymous: flag(r, "anonymous")?,
        called: r.try_get("called")?,
        called_name: r.try_get("called_name")?,
        duration_s: r.try_get("duration_s")?,
        bill_ms: r.try_get("bill_ms")?,
        src_peer_name: r.try_get("src_peer_name")?,
        src_ip_port: r.try_get("src_ip_port")?,
        recovered: flag(r, "recovered")?,
        details: Vec::new(),
    })
}

fn detail(r: &AnyRow) -> Result<CdrDetail> {
    Ok(CdrDetail {
        seq: r.try_get("seq")?,
        source_num: r.try_get("source_num")?,
        anonymous: flag(r, "anonymous")?,
        destination_type: r.try_get("destination_type")?,
        destination_id: r.try_get("destination_id")?,
        destination_name: r.try_get("destination_name")?,
        destination_num: r.try_get("destination_num")?,
        enter_ms: r.try_get("enter_ms")?,
        enqueue_ms: r.try_get("enqueue_ms")?,
        answer_ms: r.try_get("answer_ms")?,
        exit_ms: r.try_get("exit_ms")?,
        exit_cause: r.try_get("exit_cause")?,
        answered_by: r.try_get("answered_by")?,
        waiting_time_s: r.try_get("waiting_time_s")?,
    })
}
