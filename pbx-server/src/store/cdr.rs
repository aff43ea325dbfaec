//! Call records: written at call start, rewritten at every change, closed after a crash.

use super::{CdrDetail, CdrRecord, Result, Store};
use sqlx::any::AnyRow;
use sqlx::AnyConnection;
use sqlx::Row;

fn b(v: bool) -> i64 {
    i64::from(v)
}

impl Store {
    /// Inserts or updates a record and all its detail rows, in one transaction.
    pub async fn cdr_upsert(&self, c: &CdrRecord) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        cdr_upsert_on(&mut tx, c).await?;
        tx.commit().await?;
        Ok(())
    }
}

pub(super) async fn cdr_upsert_on(conn: &mut AnyConnection, c: &CdrRecord) -> Result<()> {
    sqlx::query(
            "INSERT INTO cdr (unique_id, tenant, source_type, destination_type, status, start_ms, channel_up_ms, answer_ms, \
             end_ms, answered_by, caller, caller_name, anonymous, called, called_name, duration_s, bill_ms, src_peer_name, \
             src_ip_port, recovered) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20) \
             ON CONFLICT (unique_id) DO UPDATE SET source_type = excluded.source_type, destination_type = excluded.destination_type, \
             status = excluded.status, channel_up_ms = excluded.channel_up_ms, answer_ms = excluded.answer_ms, end_ms = excluded.end_ms, \
             answered_by = excluded.answered_by, caller_name = excluded.caller_name, anonymous = excluded.anonymous, \
             called_name = excluded.called_name, duration_s = excluded.duration_s, bill_ms = excluded.bill_ms, \
             src_peer_name = excluded.src_peer_name, src_ip_port = excluded.src_ip_port, recovered = excluded.recovered",
        )
        .bind(&c.unique_id)
        .bind(&c.tenant)
        .bind(&c.source_type)
        .bind(&c.destination_type)
        .bind(c.status.clone())
        .bind(c.start_ms)
        .bind(c.channel_up_ms)
        .bind(c.answer_ms)
        .bind(c.end_ms)
        .bind(c.answered_by.clone())
        .bind(&c.caller)
        .bind(c.caller_name.clone())
        .bind(b(c.anonymous))
        .bind(&c.called)
        .bind(c.called_name.clone())
        .bind(c.duration_s)
        .bind(c.bill_ms)
        .bind(c.src_peer_name.clone())
        .bind(c.src_ip_port.clone())
        .bind(b(c.recovered))
        .execute(&mut *conn)
        .await?;
    for d in &c.details {
        sqlx::query(
                "INSERT INTO cdr_detail (unique_id, seq, source_num, anonymous, destination_type, destination_id, destination_name, \
                 destination_num, enter_ms, enqueue_ms, answer_ms, exit_ms, exit_cause, answered_by, waiting_time_s) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
                 ON CONFLICT (unique_id, seq) DO UPDATE SET enqueue_ms = excluded.enqueue_ms, answer_ms = excluded.answer_ms, \
                 exit_ms = excluded.exit_ms, exit_cause = excluded.exit_cause, answered_by = excluded.answered_by, \
                 waiting_time_s = excluded.waiting_time_s",
            )
            .bind(&c.unique_id)
            .bind(d.seq)
            .bind(&d.source_num)
            .bind(b(d.anonymous))
            .bind(&d.destination_type)
            .bind(&d.destination_id)
            .bind(d.destination_name.clone())
            .bind(d.destination_num.clone())
            .bind(d.enter_ms)
            .bind(d.enqueue_ms)
            .bind(d.answer_ms)
            .bind(d.exit_ms)
            .bind(d.exit_cause.clone())
            .bind(d.answered_by.clone())
            .bind(d.waiting_time_s)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

impl Store {
    /// Number of records (continues the unique-id counter across restarts).
    pub async fn cdr_count(&self) -> Result<i64> {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM cdr")
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?)
    }

    /// Records oldest first (newest last); `limit` keeps the newest N.
    pub async fn cdr_list(&self, limit: Option<i64>) -> Result<Vec<CdrRecord>> {
        let rows = match limit {
            Some(n) => {
                sqlx::query(
                    "SELECT * FROM (SELECT * FROM cdr ORDER BY start_ms DESC, unique_id DESC LIMIT $1) AS newest \
                     ORDER BY start_ms, unique_id",
                )
                .bind(n)
                .fetch_all(&self.pool)
                .await?
            }
            None => sqlx::query("SELECT * FROM cdr ORDER BY start_ms, unique_id").fetch_all(&self.pool).await?,
        };
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let mut rec = record(&r)?;
            let details = sqlx::query("SELECT * FROM cdr_detail WHERE unique_id = $1 ORDER BY seq")
                .bind(&rec.unique_id)
                .fetch_all(&self.pool)
                .await?;
            for d in details {
                rec.details.push(detail(&d)?);
            }
            out.push(rec);
        }
        Ok(out)
    }

    /// Closes every record a crash left open (docs/decisions/003-cdr-durability.md).
    pub async fn cdr_recover_open(&self, now_ms: i64) -> Result<usize> {
        let alive = self.heartbeat().await?.unwrap_or(now_ms).min(now_ms);
        let rows = sqlx::query("SELECT unique_id FROM cdr WHERE end_ms IS NULL")
            .fetch_all(&self.pool)
            .await?;
        let mut closed = 0;
        for r in rows {
            let id: String = r.try_get("unique_id")?;
            let mut recs = Vec::new();
            if let Some(row) = sqlx::query("SELECT * FROM cdr WHERE unique_id = $1")
                .bind(&id)
                .fetch_optional(&self.pool)
                .await?
            {
                let mut rec = record(&row)?;
                for d in sqlx::query("SELECT * FROM cdr_detail WHERE unique_id = $1 ORDER BY seq")
                    .bind(&id)
                    .fetch_all(&self.pool)
                    .await?
                {
                    rec.details.push(detail(&d)?);
                }
                recs.push(rec);
            }
            for mut rec in recs {
                let end = alive
                    .max(rec.answer_ms.unwrap_or(rec.start_ms))
                    .max(rec.start_ms);
                rec.end_ms = Some(end);
                rec.status = Some(if rec.answer_ms.is_some() { "OK" } else { "??" }.to_string());
                rec.duration_s = Some((end - rec.start_ms) / 1000);
                rec.bill_ms = Some(rec.answer_ms.map(|a| end - a).unwrap_or(0));
                rec.recovered = true;
                for d in rec.details.iter_mut().filter(|d| d.exit_ms.is_none()) {
                    d.exit_ms = Some(end);
                    d.exit_cause = Some("RECOVERED".into());
                }
                self.cdr_upsert(&rec).await?;
                closed += 1;
            }
        }
        Ok(closed)
    }
}

fn record(r: &AnyRow) -> std::result::Result<CdrRecord, sqlx::Error> {
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
        anonymous: r.try_get::<i64, _>("anonymous")? != 0,
        called: r.try_get("called")?,
        called_name: r.try_get("called_name")?,
        duration_s: r.try_get("duration_s")?,
        bill_ms: r.try_get("bill_ms")?,
        src_peer_name: r.try_get("src_peer_name")?,
        src_ip_port: r.try_get("src_ip_port")?,
        recovered: r.try_get::<i64, _>("recovered")? != 0,
        details: Vec::new(),
    })
}

fn detail(r: &AnyRow) -> std::result::Result<CdrDetail, sqlx::Error> {
    Ok(CdrDetail {
        seq: r.try_get("seq")?,
        source_num: r.try_get("source_num")?,
        anonymous: r.try_get::<i64, _>("anonymous")? != 0,
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
