//! Queues, ring groups and pickup groups as the REST administration edits them: every
//! function takes the caller's tenant id and matches rows on it, as `admin.rs` does
//! (docs/decisions/011-rest-api.md). Numbers of extensions, queues and ring groups share one
//! numbering plan per tenant: a new queue or group cannot take a number already in use.

use super::admin::write_lock_on;
use super::queues::{check_overflow, check_states, load_groups_on, load_queues_on};
use super::{int, CallCenterData, QueueRow, Result, RingGroupRow, Store, StoreError, STRATEGIES};
use sqlx::{AnyConnection, Row};

/// Longest ring time of a ring-group member, seconds.
pub const MAX_GROUP_RING_S: i64 = 600;
/// Highest penalty of a queue member (as the seed's dynamic members).
pub const MAX_PENALTY: i64 = 1000;

/// The pickup groups of one extension.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PickupGroups {
    /// Groups it is a member of (its ringing calls may be picked up by them).
    pub member: Vec<String>,
    /// Groups it may pick up calls from (`*9`).
    pub picker: Vec<String>,
}

fn in_range(field: &str, v: i64, lo: i64, hi: i64) -> Result<()> {
    if v < lo || v > hi {
        return Err(StoreError::Invalid(format!("{field}: from {lo} to {hi}")));
    }
    Ok(())
}

/// Checks every setting of a queue (members aside).
pub fn check_queue(q: &QueueRow) -> Result<()> {
    if !STRATEGIES.contains(&q.strategy.as_str()) {
        return Err(StoreError::Invalid(format!(
            "strategy: one of {}",
            STRATEGIES.join(", ")
        )));
    }
    in_range("priority", q.priority, -1000, 1000)?;
    in_range("ringTimeout", q.ring_timeout_s, 1, 600)?;
    in_range("retry", q.retry_s, 0, 3600)?;
    in_range("wrapup", q.wrapup_s, 0, 3600)?;
    in_range("maxWait", q.max_wait_s, 0, 86_400)?;
    in_range("maxCallers", q.max_callers, 0, 100_000)?;
    in_range("serviceLevel", q.service_level_s, 0, 86_400)?;
    check_overflow(&q.overflow)?;
    check_states(&q.join_empty, &["busy", "paused", "unavailable"])?;
    check_states(&q.leave_empty, &["paused", "unavailable"])?;
    let music_ok = matches!(q.music.as_str(), "ringback" | "tone")
        || q.music
            .strip_prefix("wav:")
            .is_some_and(|p| !p.trim().is_empty());
    if !music_ok {
        return Err(StoreError::Invalid(
            "music: ringback, tone or wav:<path of an 8 kHz mono WAV file>".into(),
        ));
    }
    for m in &q.members {
        in_range("penalty", m.penalty, 0, MAX_PENALTY)?;
    }
    Ok(())
}

/// Checks a ring group's settings and members.
pub fn check_ring_group(g: &RingGroupRow) -> Result<()> {
    check_overflow(&g.overflow)?;
    for (_, tier, ring_s) in &g.members {
        in_range("tier", *tier, 1, 100)?;
        in_range("ringTime", *ring_s, 1, MAX_GROUP_RING_S)?;
    }
    Ok(())
}

/// Checks a pickup group name.
pub fn check_pickup_group(g: &str) -> Result<()> {
    let ok = !g.is_empty()
        && g.len() <= 32
        && g.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        return Err(StoreError::Invalid(format!(
            "pickup group {g:?}: 1 to 32 letters, digits, - and _"
        )));
    }
    Ok(())
}

impl Store {
    /// The queues of a tenant with their members, by number.
    pub async fn queues_of(&self, tenant_id: i64) -> Result<Vec<QueueRow>> {
        let mut c = self.pool.acquire().await?;
        let domain = domain_on(&mut c, tenant_id).await?;
        load_queues_on(&mut c, &domain).await
    }

    /// The ring groups of a tenant with their members, by number.
    pub async fn ring_groups_of(&self, tenant_id: i64) -> Result<Vec<RingGroupRow>> {
        let mut c = self.pool.acquire().await?;
        let domain = domain_on(&mut c, tenant_id).await?;
        load_groups_on(&mut c, &domain).await
    }

    /// The call-center configuration of `domain` for a reload: queues, ring groups and
    /// feature codes (no pauses or call-record rows).
    pub async fn call_center_config(&self, domain: &str) -> Result<CallCenterData> {
        let mut tx = self.pool.begin().await?;
        let queues = load_queues_on(&mut tx, domain).await?;
        let groups = load_groups_on(&mut tx, domain).await?;
        let feature_codes = sqlx::query(
            "SELECT f.service, f.code FROM feature_code f JOIN tenant t ON t.id = f.tenant_id \
             WHERE t.domain = $1",
        )
        .bind(domain)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("service")?, r.try_get("code")?)))
        .collect::<Result<Vec<_>>>()?;
        tx.commit().await?;
        Ok(CallCenterData {
            queues,
            groups,
            feature_codes,
            ..CallCenterData::default()
        })
    }

    /// Creates a queue of a tenant with its configured members (in ring order).
    pub async fn create_queue(&self, tenant_id: i64, q: &QueueRow) -> Result<()> {
        check_queue(q)?;
        let mut tx = self.pool.begin().await?;
        write_lock_on(&mut tx, tenant_id).await?;
        number_free_on(&mut tx, tenant_id, &q.number).await?;
        sqlx::query(
            "INSERT INTO queue (tenant_id, number, name, enabled, priority, strategy, ring_timeout_s, \
             retry_s, wrapup_s, max_wait_s, max_callers, autopause, ring_busy, overflow, join_empty, \
             leave_empty, service_level_s, music) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
        )
        .bind(tenant_id)
        .bind(&q.number)
        .bind(&q.name)
        .bind(int(q.enabled))
        .bind(q.priority)
        .bind(&q.strategy)
        .bind(q.ring_timeout_s)
        .bind(q.retry_s)
        .bind(q.wrapup_s)
        .bind(q.max_wait_s)
        .bind(q.max_callers)
        .bind(int(q.autopause))
        .bind(int(q.ring_busy))
        .bind(&q.overflow)
        .bind(&q.join_empty)
        .bind(&q.leave_empty)
        .bind(q.service_level_s)
        .bind(&q.music)
        .execute(&mut *tx)
        .await?;
        let qid = queue_id_on(&mut tx, tenant_id, &q.number).await?;
        for (i, m) in q.members.iter().enumerate() {
            let eid = extension_id_on(&mut tx, tenant_id, &m.extension).await?;
            sqlx::query(
                "INSERT INTO queue_member (queue_id, extension_id, penalty, position, dynamic) \
                 VALUES ($1, $2, $3, $4, 0)",
            )
            .bind(qid)
            .bind(eid)
            .bind(m.penalty)
            .bind(i as i64 + 1)
            .execute(&mut *tx)
            .await
            .map_err(|e| match StoreError::from(e) {
                StoreError::Duplicate(_) => {
                    StoreError::Invalid(format!("member {} given twice", m.extension))
                }
                other => other,
            })?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Rewrites the settings of a queue of a tenant (by number; members stay).
    pub async fn update_queue(&self, tenant_id: i64, q: &QueueRow) -> Result<()> {
        check_queue(q)?;
        let done = sqlx::query(
            "UPDATE queue SET name = $1, enabled = $2, priority = $3, strategy = $4, ring_timeout_s = $5, \
             retry_s = $6, wrapup_s = $7, max_wait_s = $8, max_callers = $9, autopause = $10, \
             ring_busy = $11, overflow = $12, join_empty = $13, leave_empty = $14, \
             service_level_s = $15, music = $16 WHERE tenant_id = $17 AND number = $18",
        )
        .bind(&q.name)
        .bind(int(q.enabled))
        .bind(q.priority)
        .bind(&q.strategy)
        .bind(q.ring_timeout_s)
        .bind(q.retry_s)
        .bind(q.wrapup_s)
        .bind(q.max_wait_s)
        .bind(q.max_callers)
        .bind(int(q.autopause))
        .bind(int(q.ring_busy))
        .bind(&q.overflow)
        .bind(&q.join_empty)
        .bind(&q.leave_empty)
        .bind(q.service_level_s)
        .bind(&q.music)
        .bind(tenant_id)
        .bind(&q.number)
        .execute(&self.pool)
        .await?;
        found(done.rows_affected(), "queue", &q.number)
    }

    /// Deletes a queue of a tenant with its members and pause periods.
    pub async fn delete_queue(&self, tenant_id: i64, number: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        write_lock_on(&mut tx, tenant_id).await?;
        let qid = queue_id_on(&mut tx, tenant_id, number).await?;
        for q in [
            "DELETE FROM queue_pause WHERE queue_id = $1",
            "DELETE FROM queue_member WHERE queue_id = $1",
            "DELETE FROM queue WHERE id = $1",
        ] {
            sqlx::query(q).bind(qid).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Makes an extension a configured member of a queue with `penalty` (appended to the ring
    /// order when new; a dynamic member becomes configured). Whether it is new.
    pub async fn put_queue_member(
        &self,
        tenant_id: i64,
        queue: &str,
        extension: &str,
        penalty: i64,
    ) -> Result<bool> {
        in_range("penalty", penalty, 0, MAX_PENALTY)?;
        let mut tx = self.pool.begin().await?;
        write_lock_on(&mut tx, tenant_id).await?;
        let qid = queue_id_on(&mut tx, tenant_id, queue).await?;
        let eid = extension_id_on(&mut tx, tenant_id, extension).await?;
        let done = sqlx::query(
            "UPDATE queue_member SET penalty = $1, dynamic = 0 WHERE queue_id = $2 AND extension_id = $3",
        )
        .bind(penalty)
        .bind(qid)
        .bind(eid)
        .execute(&mut *tx)
        .await?;
        let new = done.rows_affected() == 0;
        if new {
            sqlx::query(
                "INSERT INTO queue_member (queue_id, extension_id, penalty, position, dynamic) \
                 VALUES ($1, $2, $3, (SELECT COALESCE(MAX(position), 0) + 1 FROM queue_member WHERE queue_id = $1), 0)",
            )
            .bind(qid)
            .bind(eid)
            .bind(penalty)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(new)
    }

    /// Removes a configured member from a queue (`Duplicate` for a dynamic one: agents log
    /// themselves out, or are logged out by the operation API).
    pub async fn delete_queue_member(
        &self,
        tenant_id: i64,
        queue: &str,
        extension: &str,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        write_lock_on(&mut tx, tenant_id).await?;
        let qid = queue_id_on(&mut tx, tenant_id, queue).await?;
        let eid = extension_id_on(&mut tx, tenant_id, extension).await?;
        let row = sqlx::query(
            "SELECT dynamic FROM queue_member WHERE queue_id = $1 AND extension_id = $2",
        )
        .bind(qid)
        .bind(eid)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("member {extension} of queue {queue}")))?;
        if row.try_get::<i64, _>("dynamic")? != 0 {
            return Err(StoreError::Duplicate(format!(
                "{extension} is a dynamic member of queue {queue}: log it out with \
                 POST /rest/operation/queue/dynamicMember"
            )));
        }
        sqlx::query("DELETE FROM queue_member WHERE queue_id = $1 AND extension_id = $2")
            .bind(qid)
            .bind(eid)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Creates a ring group of a tenant with its members.
    pub async fn create_ring_group(&self, tenant_id: i64, g: &RingGroupRow) -> Result<()> {
        check_ring_group(g)?;
        let mut tx = self.pool.begin().await?;
        write_lock_on(&mut tx, tenant_id).await?;
        number_free_on(&mut tx, tenant_id, &g.number).await?;
        sqlx::query(
            "INSERT INTO ring_group (tenant_id, number, name, enabled, overflow) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(tenant_id)
        .bind(&g.number)
        .bind(&g.name)
        .bind(int(g.enabled))
        .bind(&g.overflow)
        .execute(&mut *tx)
        .await?;
        let gid = group_id_on(&mut tx, tenant_id, &g.number).await?;
        for (ext, tier, ring_s) in &g.members {
            let eid = extension_id_on(&mut tx, tenant_id, ext).await?;
            sqlx::query(
                "INSERT INTO ring_group_member (group_id, extension_id, tier, ring_s) VALUES ($1, $2, $3, $4)",
            )
            .bind(gid)
            .bind(eid)
            .bind(*tier)
            .bind(*ring_s)
            .execute(&mut *tx)
            .await
            .map_err(|e| match StoreError::from(e) {
                StoreError::Duplicate(_) => {
                    StoreError::Invalid(format!("member {ext} given twice"))
                }
                other => other,
            })?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Rewrites the settings of a ring group of a tenant (by number; members stay).
    pub async fn update_ring_group(&self, tenant_id: i64, g: &RingGroupRow) -> Result<()> {
        check_ring_group(g)?;
        let done = sqlx::query(
            "UPDATE ring_group SET name = $1, enabled = $2, overflow = $3 WHERE tenant_id = $4 AND number = $5",
        )
        .bind(&g.name)
        .bind(int(g.enabled))
        .bind(&g.overflow)
        .bind(tenant_id)
        .bind(&g.number)
        .execute(&self.pool)
        .await?;
        found(done.rows_affected(), "ring group", &g.number)
    }

    /// Deletes a ring group of a tenant with its members.
    pub async fn delete_ring_group(&self, tenant_id: i64, number: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        write_lock_on(&mut tx, tenant_id).await?;
        let gid = group_id_on(&mut tx, tenant_id, number).await?;
        for q in [
            "DELETE FROM ring_group_member WHERE group_id = $1",
            "DELETE FROM ring_group WHERE id = $1",
        ] {
            sqlx::query(q).bind(gid).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Puts an extension in tier `tier` of a ring group, ringing `ring_s` seconds. Whether it
    /// is new.
    pub async fn put_ring_group_member(
        &self,
        tenant_id: i64,
        group: &str,
        extension: &str,
        tier: i64,
        ring_s: i64,
    ) -> Result<bool> {
        in_range("tier", tier, 1, 100)?;
        in_range("ringTime", ring_s, 1, MAX_GROUP_RING_S)?;
        let mut tx = self.pool.begin().await?;
        write_lock_on(&mut tx, tenant_id).await?;
        let gid = group_id_on(&mut tx, tenant_id, group).await?;
        let eid = extension_id_on(&mut tx, tenant_id, extension).await?;
        let done = sqlx::query(
            "UPDATE ring_group_member SET tier = $1, ring_s = $2 WHERE group_id = $3 AND extension_id = $4",
        )
        .bind(tier)
        .bind(ring_s)
        .bind(gid)
        .bind(eid)
        .execute(&mut *tx)
        .await?;
        let new = done.rows_affected() == 0;
        if new {
            sqlx::query(
                "INSERT INTO ring_group_member (group_id, extension_id, tier, ring_s) VALUES ($1, $2, $3, $4)",
            )
            .bind(gid)
            .bind(eid)
            .bind(tier)
            .bind(ring_s)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(new)
    }

    /// Removes an extension from a ring group.
    pub async fn delete_ring_group_member(
        &self,
        tenant_id: i64,
        group: &str,
        extension: &str,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        write_lock_on(&mut tx, tenant_id).await?;
        let gid = group_id_on(&mut tx, tenant_id, group).await?;
        let eid = extension_id_on(&mut tx, tenant_id, extension).await?;
        let done =
            sqlx::query("DELETE FROM ring_group_member WHERE group_id = $1 AND extension_id = $2")
                .bind(gid)
                .bind(eid)
                .execute(&mut *tx)
                .await?;
        tx.commit().await?;
        found(
            done.rows_affected(),
            "member",
            &format!("{extension} of ring group {group}"),
        )
    }

    /// The pickup groups of an extension of a tenant.
    pub async fn pickup_groups_of(&self, tenant_id: i64, extension: &str) -> Result<PickupGroups> {
        let mut c = self.pool.acquire().await?;
        let eid = extension_id_on(&mut c, tenant_id, extension).await?;
        let order = self.bytewise("grp");
        let rows = sqlx::query(&format!(
            "SELECT grp, role FROM pickup_group_member WHERE extension_id = $1 ORDER BY {order}"
        ))
        .bind(eid)
        .fetch_all(&mut *c)
        .await?;
        let mut out = PickupGroups::default();
        for r in &rows {
            let g: String = r.try_get("grp")?;
            let role: String = r.try_get("role")?;
            match role.as_str() {
                "member" => out.member.push(g),
                _ => out.picker.push(g),
            }
        }
        Ok(out)
    }

    /// Replaces the pickup groups of an extension of a tenant.
    pub async fn set_pickup_groups_of(
        &self,
        tenant_id: i64,
        extension: &str,
        groups: &PickupGroups,
    ) -> Result<()> {
        for g in groups.member.iter().chain(&groups.picker) {
            check_pickup_group(g)?;
        }
        let mut tx = self.pool.begin().await?;
        write_lock_on(&mut tx, tenant_id).await?;
        super::pickup::set_on(
            &mut tx,
            tenant_id,
            extension,
            &groups.member,
            &groups.picker,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every pickup group of a tenant: (group, extension, role `member` or `picker`), by
    /// group then extension.
    pub async fn pickup_group_listing(
        &self,
        tenant_id: i64,
    ) -> Result<Vec<(String, String, String)>> {
        let order = format!(
            "{}, {}, p.role",
            self.bytewise("p.grp"),
            self.bytewise("e.number")
        );
        let rows = sqlx::query(&format!(
            "SELECT p.grp, e.number, p.role FROM pickup_group_member p \
             JOIN extension e ON e.id = p.extension_id WHERE e.tenant_id = $1 ORDER BY {order}"
        ))
        .bind(tenant_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("grp")?, r.try_get("number")?, r.try_get("role")?)))
            .collect()
    }
}

fn found(rows: u64, what: &str, key: &str) -> Result<()> {
    if rows == 0 {
        return Err(StoreError::NotFound(format!("{what} {key}")));
    }
    Ok(())
}

async fn domain_on(conn: &mut AnyConnection, tenant_id: i64) -> Result<String> {
    Ok(sqlx::query("SELECT domain FROM tenant WHERE id = $1")
        .bind(tenant_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("tenant {tenant_id}")))?
        .try_get("domain")?)
}

async fn id_on(
    conn: &mut AnyConnection,
    table: &str,
    what: &str,
    tenant_id: i64,
    number: &str,
) -> Result<i64> {
    let sql = format!("SELECT id FROM {table} WHERE tenant_id = $1 AND number = $2");
    Ok(sqlx::query(&sql)
        .bind(tenant_id)
        .bind(number)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("{what} {number}")))?
        .try_get("id")?)
}

async fn queue_id_on(conn: &mut AnyConnection, tenant_id: i64, number: &str) -> Result<i64> {
    id_on(conn, "queue", "queue", tenant_id, number).await
}

async fn group_id_on(conn: &mut AnyConnection, tenant_id: i64, number: &str) -> Result<i64> {
    id_on(conn, "ring_group", "ring group", tenant_id, number).await
}

async fn extension_id_on(conn: &mut AnyConnection, tenant_id: i64, number: &str) -> Result<i64> {
    id_on(conn, "extension", "extension", tenant_id, number).await
}

/// `Duplicate` when `number` is already an extension, queue or ring group of the tenant.
async fn number_free_on(conn: &mut AnyConnection, tenant_id: i64, number: &str) -> Result<()> {
    taken_on(conn, tenant_id, number, &[("extension", "an extension")]).await?;
    not_a_queue_or_group_on(conn, tenant_id, number).await
}

/// `Duplicate` when `number` is a queue or ring group of the tenant (an extension cannot take
/// it: queues and groups come first in the numbering plan and would hide it).
pub(super) async fn not_a_queue_or_group_on(
    conn: &mut AnyConnection,
    tenant_id: i64,
    number: &str,
) -> Result<()> {
    taken_on(
        conn,
        tenant_id,
        number,
        &[("queue", "a queue"), ("ring_group", "a ring group")],
    )
    .await
}

async fn taken_on(
    conn: &mut AnyConnection,
    tenant_id: i64,
    number: &str,
    tables: &[(&str, &str)],
) -> Result<()> {
    for (table, what) in tables {
        let sql = format!("SELECT id FROM {table} WHERE tenant_id = $1 AND number = $2");
        let hit = sqlx::query(&sql)
            .bind(tenant_id)
            .bind(number)
            .fetch_optional(&mut *conn)
            .await?;
        if hit.is_some() {
            return Err(StoreError::Duplicate(format!("{number} is {what}")));
        }
    }
    Ok(())
}
