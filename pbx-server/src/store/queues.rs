//! Call-center configuration and state (migration `0005_callcenter`): queues and their
//! members, agents' pause periods, ring groups, feature-code overrides; and the `queue` rows of
//! the call records the live statistics start from (docs/decisions/010-call-center.md).

use super::{flag, Result, Store, StoreError};
use sqlx::{AnyConnection, Row};

/// One queue as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct QueueRow {
    pub number: String,
    pub name: String,
    pub enabled: bool,
    pub priority: i64,
    /// `ringall`, `linear`, `leastrecent`, `fewestcalls`, `rrmemory`, `rrordered`, `random`.
    pub strategy: String,
    pub ring_timeout_s: i64,
    pub retry_s: i64,
    pub wrapup_s: i64,
    pub max_wait_s: i64,
    pub max_callers: i64,
    pub autopause: bool,
    pub ring_busy: bool,
    /// `hangup` or `extension:<number>` (any number of the plan: extension, queue, group).
    pub overflow: String,
    /// Comma list of `busy`, `paused`, `unavailable`.
    pub join_empty: String,
    /// Comma list of `paused`, `unavailable`.
    pub leave_empty: String,
    pub service_level_s: i64,
    /// What waiting callers hear: `ringback`, `tone` or `wav:<path>`.
    pub music: String,
    /// In ring order.
    pub members: Vec<QueueMemberRow>,
}

/// A member of a queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMemberRow {
    /// Extension number.
    pub extension: String,
    /// Lower rings first.
    pub penalty: i64,
    /// Logged in at run time.
    pub dynamic: bool,
}

/// A pause period of an agent in a queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PauseRow {
    /// Extension number.
    pub extension: String,
    /// Queue number.
    pub queue: String,
    /// Why.
    pub reason: Option<String>,
    /// Start.
    pub start_ms: i64,
    /// End; `None` while it lasts.
    pub end_ms: Option<i64>,
}

/// A ring group: tiers of extensions rung one tier after the other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingGroupRow {
    /// Number dialled to reach it.
    pub number: String,
    /// Name.
    pub name: String,
    /// A disabled group sends every call to its overflow.
    pub enabled: bool,
    /// `hangup` or `extension:<number>`, after the last tier.
    pub overflow: String,
    /// (extension, tier, ring seconds), by tier then extension.
    pub members: Vec<(String, i64, i64)>,
}

/// A `queue` row of a call record.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct QueueCdrRow {
    pub queue: String,
    pub enter_ms: i64,
    pub answer_ms: Option<i64>,
    pub exit_ms: Option<i64>,
    pub exit_cause: Option<String>,
    pub answered_by: Option<String>,
}

/// Everything the call center starts from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallCenterData {
    /// Queues by number.
    pub queues: Vec<QueueRow>,
    /// Ring groups by number.
    pub groups: Vec<RingGroupRow>,
    /// Pauses that started or ended since the period start, and the open ones.
    pub pauses: Vec<PauseRow>,
    /// `queue` rows of records entered since the period start.
    pub rows: Vec<QueueCdrRow>,
    /// Feature-code overrides: (service, code).
    pub feature_codes: Vec<(String, String)>,
}

/// A change of call-center state the engine makes at run time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueWrite {
    /// A pause started.
    PauseStart {
        /// Extension.
        extension: String,
        /// Queue number.
        queue: String,
        /// Why.
        reason: Option<String>,
        /// Start.
        start_ms: i64,
    },
    /// The open pause of an agent in a queue ended.
    PauseEnd {
        /// Extension.
        extension: String,
        /// Queue number.
        queue: String,
        /// End.
        end_ms: i64,
    },
    /// A dynamic member joined (at the end of the ring order).
    MemberAdd {
        /// Queue number.
        queue: String,
        /// Extension.
        extension: String,
        /// Penalty.
        penalty: u32,
    },
    /// A dynamic member left.
    MemberRemove {
        /// Queue number.
        queue: String,
        /// Extension.
        extension: String,
    },
}

/// The strategies a queue may have.
pub const STRATEGIES: [&str; 7] = [
    "ringall",
    "linear",
    "leastrecent",
    "fewestcalls",
    "rrmemory",
    "rrordered",
    "random",
];

/// The services whose codes can be changed, with their defaults: the seed's (§1.2) where it
/// has one; the queue log-in/out codes, the conditional forwards and DND are ours
/// (docs/decisions/013-telephone-services.md), following the seed's "1 sets, 0 clears".
pub const FEATURE_CODES: [(&str, &str); 22] = [
    ("queue_pause", "*81"),
    ("queue_resume", "*80"),
    ("queue_login", "*82"),
    ("queue_logout", "*83"),
    ("group_pickup", "*9"),
    ("direct_pickup", "**"),
    ("park", "888"),
    ("park_first", "890"),
    ("park_last", "899"),
    ("cfim_on", "811"),
    ("cfim_off", "810"),
    ("cfbs_on", "821"),
    ("cfbs_off", "820"),
    ("cfna_on", "831"),
    ("cfna_off", "830"),
    ("cfun_on", "861"),
    ("cfun_off", "860"),
    ("dnd_on", "871"),
    ("dnd_off", "870"),
    // In-call services, pressed during a call (RFC 4733), not dialled.
    ("incall_blind", "#4"),
    ("incall_attended", "*4"),
    ("incall_park", "#8"),
];

pub(super) fn check_overflow(v: &str) -> Result<()> {
    match v.split_once(':') {
        None if v == "hangup" => Ok(()),
        Some(("extension", n)) if crate::calls::valid_number(n) => Ok(()),
        _ => Err(StoreError::Invalid(format!(
            "overflow {v:?}: hangup or extension:<number>"
        ))),
    }
}

pub(super) fn check_states(v: &str, allowed: &[&str]) -> Result<()> {
    for s in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if !allowed.contains(&s) {
            return Err(StoreError::Invalid(format!(
                "{s:?}: one of {}",
                allowed.join(", ")
            )));
        }
    }
    Ok(())
}

fn non_negative(field: &str, v: &str) -> Result<i64> {
    v.parse::<i64>()
        .ok()
        .filter(|n| *n >= 0 && *n <= 86_400)
        .ok_or_else(|| StoreError::Invalid(format!("{field}: a whole number from 0 to 86400")))
}

fn boolean(field: &str, v: &str) -> Result<i64> {
    match v {
        "1" | "true" | "yes" => Ok(1),
        "0" | "false" | "no" => Ok(0),
        _ => Err(StoreError::Invalid(format!("{field}: 0 or 1"))),
    }
}

impl Store {
    /// Everything the call center of `tenant` starts from, with the statistics period starting
    /// at `since_ms`.
    pub async fn load_call_center(&self, tenant: &str, since_ms: i64) -> Result<CallCenterData> {
        let mut tx = self.pool.begin().await?;
        let queues = load_queues_on(&mut tx, tenant).await?;
        let groups = load_groups_on(&mut tx, tenant).await?;
        let pauses = sqlx::query(
            "SELECT e.number AS ext, q.number AS queue, p.reason, p.start_ms, p.end_ms \
             FROM queue_pause p JOIN queue q ON q.id = p.queue_id JOIN extension e ON e.id = p.extension_id \
             JOIN tenant t ON t.id = q.tenant_id \
             WHERE t.domain = $1 AND (p.end_ms IS NULL OR p.end_ms >= $2) ORDER BY p.start_ms, p.id",
        )
        .bind(tenant)
        .bind(since_ms)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| {
            Ok(PauseRow {
                extension: r.try_get("ext")?,
                queue: r.try_get("queue")?,
                reason: r.try_get("reason")?,
                start_ms: r.try_get("start_ms")?,
                end_ms: r.try_get("end_ms")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        let rows = sqlx::query(
            "SELECT d.destination_id, d.enter_ms, d.answer_ms, d.exit_ms, d.exit_cause, d.answered_by \
             FROM cdr_detail d JOIN cdr c ON c.unique_id = d.unique_id \
             WHERE c.tenant = $1 AND d.destination_type = 'queue' AND d.enter_ms >= $2 \
             ORDER BY d.enter_ms",
        )
        .bind(tenant)
        .bind(since_ms)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| {
            Ok(QueueCdrRow {
                queue: r.try_get("destination_id")?,
                enter_ms: r.try_get("enter_ms")?,
                answer_ms: r.try_get("answer_ms")?,
                exit_ms: r.try_get("exit_ms")?,
                exit_cause: r.try_get("exit_cause")?,
                answered_by: r.try_get("answered_by")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        let feature_codes = sqlx::query(
            "SELECT f.service, f.code FROM feature_code f JOIN tenant t ON t.id = f.tenant_id \
             WHERE t.domain = $1",
        )
        .bind(tenant)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("service")?, r.try_get("code")?)))
        .collect::<Result<Vec<_>>>()?;
        tx.commit().await?;
        Ok(CallCenterData {
            queues,
            groups,
            pauses,
            rows,
            feature_codes,
        })
    }

    /// Every queue of `tenant` (with members).
    pub async fn queues(&self, tenant: &str) -> Result<Vec<QueueRow>> {
        let mut c = self.pool.acquire().await?;
        load_queues_on(&mut c, tenant).await
    }

    /// Pause periods of `tenant`'s agents open now or ended since `from_ms`, oldest first.
    pub async fn queue_pauses(&self, tenant: &str, from_ms: i64) -> Result<Vec<PauseRow>> {
        Ok(self.load_call_center(tenant, from_ms).await?.pauses)
    }

    /// Sets one field of a queue of the default tenant, creating the queue when missing:
    /// `name`, `enabled`, `priority`, `strategy`, `ring_timeout_s`, `retry_s`, `wrapup_s`,
    /// `max_wait_s`, `max_callers`, `autopause`, `ring_busy`, `overflow`, `join_empty`,
    /// `leave_empty`, `service_level_s`, `music`.
    pub async fn set_queue_field(&self, number: &str, field: &str, value: &str) -> Result<()> {
        if !crate::calls::valid_number(number) {
            return Err(StoreError::Invalid(format!("queue number {number:?}")));
        }
        let tenant = self.default_tenant().await?;
        let mut tx = self.pool.begin().await?;
        let ext = sqlx::query("SELECT id FROM extension WHERE tenant_id = $1 AND number = $2")
            .bind(tenant.id)
            .bind(number)
            .fetch_optional(&mut *tx)
            .await?;
        if ext.is_some() {
            return Err(StoreError::Duplicate(format!(
                "{number} is an extension number"
            )));
        }
        sqlx::query(
            "INSERT INTO queue (tenant_id, number, name) VALUES ($1, $2, $2) \
             ON CONFLICT (tenant_id, number) DO NOTHING",
        )
        .bind(tenant.id)
        .bind(number)
        .execute(&mut *tx)
        .await?;
        let (column, text): (&str, Option<String>) = match field {
            "name" => ("name", Some(value.to_string())),
            "strategy" => {
                if !STRATEGIES.contains(&value) {
                    return Err(StoreError::Invalid(format!(
                        "strategy: one of {}",
                        STRATEGIES.join(", ")
                    )));
                }
                ("strategy", Some(value.to_string()))
            }
            "overflow" => {
                check_overflow(value)?;
                ("overflow", Some(value.to_string()))
            }
            "join_empty" => {
                check_states(value, &["busy", "paused", "unavailable"])?;
                ("join_empty", Some(value.to_string()))
            }
            "leave_empty" => {
                check_states(value, &["paused", "unavailable"])?;
                ("leave_empty", Some(value.to_string()))
            }
            "music" => {
                let ok = matches!(value, "ringback" | "tone")
                    || value
                        .strip_prefix("wav:")
                        .is_some_and(|p| !p.trim().is_empty());
                if !ok {
                    return Err(StoreError::Invalid(
                        "music: ringback, tone or wav:<path of an 8 kHz mono WAV file>".into(),
                    ));
                }
                ("music", Some(value.to_string()))
            }
            "enabled" | "autopause" | "ring_busy" => (field, None),
            "priority" | "ring_timeout_s" | "retry_s" | "wrapup_s" | "max_wait_s"
            | "max_callers" | "service_level_s" => (field, None),
            _ => return Err(StoreError::Invalid(format!("unknown queue field {field}"))),
        };
        let sql = format!("UPDATE queue SET {column} = $1 WHERE tenant_id = $2 AND number = $3");
        let q = sqlx::query(&sql);
        let q = match text {
            Some(t) => q.bind(t),
            None => {
                let n = match field {
                    "enabled" | "autopause" | "ring_busy" => boolean(field, value)?,
                    "priority" => value
                        .parse::<i64>()
                        .map_err(|_| StoreError::Invalid("priority: a whole number".into()))?,
                    _ => non_negative(field, value)?,
                };
                q.bind(n)
            }
        };
        q.bind(tenant.id).bind(number).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Makes `extension` a configured member of queue `queue` with `penalty` (appended to the
    /// ring order when new).
    pub async fn set_queue_member(&self, queue: &str, extension: &str, penalty: i64) -> Result<()> {
        let tenant = self.default_tenant().await?;
        let mut tx = self.pool.begin().await?;
        let (qid, eid) = queue_and_extension_on(&mut tx, tenant.id, queue, extension).await?;
        sqlx::query(
            "INSERT INTO queue_member (queue_id, extension_id, penalty, position, dynamic) \
             VALUES ($1, $2, $3, (SELECT COALESCE(MAX(position), 0) + 1 FROM queue_member WHERE queue_id = $1), 0) \
             ON CONFLICT (queue_id, extension_id) DO UPDATE SET penalty = excluded.penalty, dynamic = 0",
        )
        .bind(qid)
        .bind(eid)
        .bind(penalty.max(0))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes a member from a queue.
    pub async fn remove_queue_member(&self, queue: &str, extension: &str) -> Result<()> {
        let tenant = self.default_tenant().await?;
        let mut tx = self.pool.begin().await?;
        let (qid, eid) = queue_and_extension_on(&mut tx, tenant.id, queue, extension).await?;
        sqlx::query("DELETE FROM queue_member WHERE queue_id = $1 AND extension_id = $2")
            .bind(qid)
            .bind(eid)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sets a field of a ring group of the default tenant (`name`, `enabled`, `overflow`),
    /// creating it when missing.
    pub async fn set_ring_group_field(&self, number: &str, field: &str, value: &str) -> Result<()> {
        if !crate::calls::valid_number(number) {
            return Err(StoreError::Invalid(format!("group number {number:?}")));
        }
        let tenant = self.default_tenant().await?;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO ring_group (tenant_id, number, name) VALUES ($1, $2, $2) \
             ON CONFLICT (tenant_id, number) DO NOTHING",
        )
        .bind(tenant.id)
        .bind(number)
        .execute(&mut *tx)
        .await?;
        let q = match field {
            "name" => {
                sqlx::query("UPDATE ring_group SET name = $1 WHERE tenant_id = $2 AND number = $3")
                    .bind(value.to_string())
            }
            "enabled" => sqlx::query(
                "UPDATE ring_group SET enabled = $1 WHERE tenant_id = $2 AND number = $3",
            )
            .bind(boolean(field, value)?),
            "overflow" => {
                check_overflow(value)?;
                sqlx::query(
                    "UPDATE ring_group SET overflow = $1 WHERE tenant_id = $2 AND number = $3",
                )
                .bind(value.to_string())
            }
            _ => return Err(StoreError::Invalid(format!("unknown group field {field}"))),
        };
        q.bind(tenant.id).bind(number).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Puts `extension` in tier `tier` of a ring group, ringing `ring_s` seconds.
    pub async fn set_ring_group_member(
        &self,
        group: &str,
        extension: &str,
        tier: i64,
        ring_s: i64,
    ) -> Result<()> {
        let tenant = self.default_tenant().await?;
        let mut tx = self.pool.begin().await?;
        let gid: i64 =
            sqlx::query("SELECT id FROM ring_group WHERE tenant_id = $1 AND number = $2")
                .bind(tenant.id)
                .bind(group)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("ring group {group}")))?
                .try_get("id")?;
        let eid = extension_id_on(&mut tx, tenant.id, extension).await?;
        sqlx::query(
            "INSERT INTO ring_group_member (group_id, extension_id, tier, ring_s) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (group_id, extension_id) DO UPDATE SET tier = excluded.tier, ring_s = excluded.ring_s",
        )
        .bind(gid)
        .bind(eid)
        .bind(tier.max(1))
        .bind(ring_s.clamp(1, 600))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Changes the code of a service of the numbering plan (see [`FEATURE_CODES`]).
    pub async fn set_feature_code(&self, service: &str, code: &str) -> Result<()> {
        if !FEATURE_CODES.iter().any(|(s, _)| *s == service) {
            return Err(StoreError::Invalid(format!("unknown service {service}")));
        }
        if !crate::calls::valid_number(code) {
            return Err(StoreError::Invalid(format!("code {code:?}")));
        }
        let tenant = self.default_tenant().await?;
        sqlx::query(
            "INSERT INTO feature_code (tenant_id, service, code) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant_id, service) DO UPDATE SET code = excluded.code",
        )
        .bind(tenant.id)
        .bind(service)
        .bind(code)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

async fn extension_id_on(conn: &mut AnyConnection, tenant_id: i64, number: &str) -> Result<i64> {
    Ok(
        sqlx::query("SELECT id FROM extension WHERE tenant_id = $1 AND number = $2")
            .bind(tenant_id)
            .bind(number)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("extension {number}")))?
            .try_get("id")?,
    )
}

async fn queue_and_extension_on(
    conn: &mut AnyConnection,
    tenant_id: i64,
    queue: &str,
    extension: &str,
) -> Result<(i64, i64)> {
    let qid: i64 = sqlx::query("SELECT id FROM queue WHERE tenant_id = $1 AND number = $2")
        .bind(tenant_id)
        .bind(queue)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("queue {queue}")))?
        .try_get("id")?;
    Ok((qid, extension_id_on(conn, tenant_id, extension).await?))
}

pub(super) async fn load_queues_on(
    conn: &mut AnyConnection,
    tenant: &str,
) -> Result<Vec<QueueRow>> {
    let rows = sqlx::query(
        "SELECT q.* FROM queue q JOIN tenant t ON t.id = q.tenant_id WHERE t.domain = $1",
    )
    .bind(tenant)
    .fetch_all(&mut *conn)
    .await?;
    let members = sqlx::query(
        "SELECT q.number AS queue, e.number AS ext, m.penalty, m.position, m.dynamic \
         FROM queue_member m JOIN queue q ON q.id = m.queue_id JOIN extension e ON e.id = m.extension_id \
         JOIN tenant t ON t.id = q.tenant_id WHERE t.domain = $1",
    )
    .bind(tenant)
    .fetch_all(&mut *conn)
    .await?;
    let mut members = members
        .iter()
        .map(|r| {
            Ok((
                r.try_get::<String, _>("queue")?,
                r.try_get::<i64, _>("position")?,
                QueueMemberRow {
                    extension: r.try_get("ext")?,
                    penalty: r.try_get("penalty")?,
                    dynamic: flag(r, "dynamic")?,
                },
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    // Ring order: position, then number; sorted here so both backends agree.
    members.sort_by(|a, b| (&a.0, a.1, &a.2.extension).cmp(&(&b.0, b.1, &b.2.extension)));
    let mut out = rows
        .iter()
        .map(|r| {
            let number: String = r.try_get("number")?;
            Ok(QueueRow {
                members: members
                    .iter()
                    .filter(|m| m.0 == number)
                    .map(|m| m.2.clone())
                    .collect(),
                number,
                name: r.try_get("name")?,
                enabled: flag(r, "enabled")?,
                priority: r.try_get("priority")?,
                strategy: r.try_get("strategy")?,
                ring_timeout_s: r.try_get("ring_timeout_s")?,
                retry_s: r.try_get("retry_s")?,
                wrapup_s: r.try_get("wrapup_s")?,
                max_wait_s: r.try_get("max_wait_s")?,
                max_callers: r.try_get("max_callers")?,
                autopause: flag(r, "autopause")?,
                ring_busy: flag(r, "ring_busy")?,
                overflow: r.try_get("overflow")?,
                join_empty: r.try_get("join_empty")?,
                leave_empty: r.try_get("leave_empty")?,
                service_level_s: r.try_get("service_level_s")?,
                music: r.try_get("music")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    out.sort_by(|a, b| a.number.cmp(&b.number));
    Ok(out)
}

pub(super) async fn load_groups_on(
    conn: &mut AnyConnection,
    tenant: &str,
) -> Result<Vec<RingGroupRow>> {
    let rows = sqlx::query(
        "SELECT g.number, g.name, g.enabled, g.overflow FROM ring_group g \
         JOIN tenant t ON t.id = g.tenant_id WHERE t.domain = $1",
    )
    .bind(tenant)
    .fetch_all(&mut *conn)
    .await?;
    let members = sqlx::query(
        "SELECT g.number AS grp, e.number AS ext, m.tier, m.ring_s FROM ring_group_member m \
         JOIN ring_group g ON g.id = m.group_id JOIN extension e ON e.id = m.extension_id \
         JOIN tenant t ON t.id = g.tenant_id WHERE t.domain = $1",
    )
    .bind(tenant)
    .fetch_all(&mut *conn)
    .await?;
    let mut members = members
        .iter()
        .map(|r| {
            Ok((
                r.try_get::<String, _>("grp")?,
                (
                    r.try_get::<String, _>("ext")?,
                    r.try_get::<i64, _>("tier")?,
                    r.try_get::<i64, _>("ring_s")?,
                ),
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    members.sort_by(|a, b| (&a.0, a.1 .1, &a.1 .0).cmp(&(&b.0, b.1 .1, &b.1 .0)));
    let mut out = rows
        .iter()
        .map(|r| {
            let number: String = r.try_get("number")?;
            Ok(RingGroupRow {
                members: members
                    .iter()
                    .filter(|m| m.0 == number)
                    .map(|m| m.1.clone())
                    .collect(),
                number,
                name: r.try_get("name")?,
                enabled: flag(r, "enabled")?,
                overflow: r.try_get("overflow")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    out.sort_by(|a, b| a.number.cmp(&b.number));
    Ok(out)
}

/// Applies one run-time change (also a [`super::Write::Queue`]).
pub(crate) async fn queue_write_on(
    conn: &mut AnyConnection,
    tenant: &str,
    w: &QueueWrite,
) -> Result<()> {
    let ids = |queue: &str, ext: &str| {
        sqlx::query(
            "SELECT q.id AS qid, e.id AS eid FROM queue q JOIN tenant t ON t.id = q.tenant_id \
             JOIN extension e ON e.tenant_id = q.tenant_id \
             WHERE t.domain = $1 AND q.number = $2 AND e.number = $3",
        )
        .bind(tenant.to_string())
        .bind(queue.to_string())
        .bind(ext.to_string())
    };
    let (queue, ext) = match w {
        QueueWrite::PauseStart {
            queue, extension, ..
        }
        | QueueWrite::PauseEnd {
            queue, extension, ..
        }
        | QueueWrite::MemberAdd {
            queue, extension, ..
        }
        | QueueWrite::MemberRemove { queue, extension } => (queue, extension),
    };
    let Some(row) = ids(queue, ext).fetch_optional(&mut *conn).await? else {
        return Err(StoreError::NotFound(format!(
            "queue {queue} or extension {ext}"
        )));
    };
    let (qid, eid): (i64, i64) = (row.try_get("qid")?, row.try_get("eid")?);
    match w {
        QueueWrite::PauseStart {
            reason, start_ms, ..
        } => {
            sqlx::query(
                "INSERT INTO queue_pause (queue_id, extension_id, reason, start_ms) VALUES ($1, $2, $3, $4)",
            )
            .bind(qid)
            .bind(eid)
            .bind(reason.clone())
            .bind(*start_ms)
            .execute(&mut *conn)
            .await?;
        }
        QueueWrite::PauseEnd { end_ms, .. } => {
            sqlx::query(
                "UPDATE queue_pause SET end_ms = $1 WHERE queue_id = $2 AND extension_id = $3 AND end_ms IS NULL",
            )
            .bind(*end_ms)
            .bind(qid)
            .bind(eid)
            .execute(&mut *conn)
            .await?;
        }
        QueueWrite::MemberAdd { penalty, .. } => {
            sqlx::query(
                "INSERT INTO queue_member (queue_id, extension_id, penalty, position, dynamic) \
                 VALUES ($1, $2, $3, (SELECT COALESCE(MAX(position), 0) + 1 FROM queue_member WHERE queue_id = $1), 1) \
                 ON CONFLICT (queue_id, extension_id) DO NOTHING",
            )
            .bind(qid)
            .bind(eid)
            .bind(i64::from(*penalty))
            .execute(&mut *conn)
            .await?;
        }
        QueueWrite::MemberRemove { .. } => {
            sqlx::query(
                "DELETE FROM queue_member WHERE queue_id = $1 AND extension_id = $2 AND dynamic = 1",
            )
            .bind(qid)
            .bind(eid)
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}

/// The demo's call center: queue 600 (rrmemory, 202 and 203), queue 601 (ringall, 204 and
/// 205), ring group 650 (206 and 207), inside the demo seeding transaction.
pub(crate) async fn seed_demo_on(conn: &mut AnyConnection, tenant_id: i64) -> Result<()> {
    for (number, name, strategy, members) in [
        ("600", "Sales", "rrmemory", ["202", "203"]),
        ("601", "Support", "ringall", ["204", "205"]),
    ] {
        sqlx::query(
            "INSERT INTO queue (tenant_id, number, name, strategy, join_empty, leave_empty) \
             VALUES ($1, $2, $3, $4, 'paused,unavailable', 'paused,unavailable')",
        )
        .bind(tenant_id)
        .bind(number)
        .bind(name)
        .bind(strategy)
        .execute(&mut *conn)
        .await?;
        for (i, ext) in members.iter().enumerate() {
            let (qid, eid) = queue_and_extension_on(conn, tenant_id, number, ext).await?;
            sqlx::query(
                "INSERT INTO queue_member (queue_id, extension_id, penalty, position, dynamic) VALUES ($1, $2, 0, $3, 0)",
            )
            .bind(qid)
            .bind(eid)
            .bind(i as i64 + 1)
            .execute(&mut *conn)
            .await?;
        }
    }
    sqlx::query(
        "INSERT INTO ring_group (tenant_id, number, name) VALUES ($1, '650', 'Front desk')",
    )
    .bind(tenant_id)
    .execute(&mut *conn)
    .await?;
    let gid: i64 = sqlx::query("SELECT id FROM ring_group WHERE tenant_id = $1 AND number = '650'")
        .bind(tenant_id)
        .fetch_one(&mut *conn)
        .await?
        .try_get("id")?;
    for ext in ["206", "207"] {
        let eid = extension_id_on(conn, tenant_id, ext).await?;
        sqlx::query(
            "INSERT INTO ring_group_member (group_id, extension_id, tier, ring_s) VALUES ($1, $2, 1, 20)",
        )
        .bind(gid)
        .bind(eid)
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query(
        "UPDATE app_user SET role = 'supervisor' WHERE tenant_id = $1 AND username = '201'",
    )
    .bind(tenant_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("q.db").display());
        let s = Store::connect(&url).await.unwrap();
        s.seed_demo().await.unwrap();
        (dir, s)
    }

    #[tokio::test]
    async fn demo_queues_members_pauses_and_dynamic_members_round_trip() {
        let (_d, s) = store().await;
        let cc = s.load_call_center("default", 0).await.unwrap();
        let q: Vec<(&str, &str, Vec<&str>)> = cc
            .queues
            .iter()
            .map(|q| {
                (
                    q.number.as_str(),
                    q.strategy.as_str(),
                    q.members.iter().map(|m| m.extension.as_str()).collect(),
                )
            })
            .collect();
        assert_eq!(
            q,
            [
                ("600", "rrmemory", vec!["202", "203"]),
                ("601", "ringall", vec!["204", "205"])
            ]
        );
        assert_eq!(cc.groups[0].members.len(), 2);
        let q = &cc.queues[0];
        assert_eq!(
            (
                q.ring_timeout_s,
                q.retry_s,
                q.wrapup_s,
                q.max_wait_s,
                q.service_level_s
            ),
            (15, 5, 20, 120, 20)
        );
        let mut c = s.pool.acquire().await.unwrap();
        for w in [
            QueueWrite::MemberAdd {
                queue: "600".into(),
                extension: "205".into(),
                penalty: 2,
            },
            QueueWrite::PauseStart {
                extension: "202".into(),
                queue: "600".into(),
                reason: Some("lunch".into()),
                start_ms: 1_000,
            },
            QueueWrite::PauseEnd {
                extension: "202".into(),
                queue: "600".into(),
                end_ms: 5_000,
            },
            QueueWrite::PauseStart {
                extension: "202".into(),
                queue: "600".into(),
                reason: None,
                start_ms: 9_000,
            },
        ] {
            queue_write_on(&mut c, "default", &w).await.unwrap();
        }
        drop(c);
        let cc = s.load_call_center("default", 0).await.unwrap();
        let m = &cc.queues[0].members;
        assert_eq!(
            (m[2].extension.as_str(), m[2].penalty, m[2].dynamic),
            ("205", 2, true)
        );
        assert_eq!(
            cc.pauses
                .iter()
                .map(|p| (p.start_ms, p.end_ms))
                .collect::<Vec<_>>(),
            [(1_000, Some(5_000)), (9_000, None)]
        );
        // Only dynamic members are removed by the engine's writes.
        let mut c = s.pool.acquire().await.unwrap();
        for ext in ["202", "205"] {
            queue_write_on(
                &mut c,
                "default",
                &QueueWrite::MemberRemove {
                    queue: "600".into(),
                    extension: ext.into(),
                },
            )
            .await
            .unwrap();
        }
        drop(c);
        let cc = s.load_call_center("default", 0).await.unwrap();
        assert_eq!(cc.queues[0].members.len(), 2);
    }

    #[tokio::test]
    async fn queue_fields_are_checked() {
        let (_d, s) = store().await;
        s.set_queue_field("610", "strategy", "linear")
            .await
            .unwrap();
        s.set_queue_field("610", "max_wait_s", "30").await.unwrap();
        s.set_queue_field("610", "overflow", "extension:203")
            .await
            .unwrap();
        s.set_queue_member("610", "204", 1).await.unwrap();
        assert!(s
            .set_queue_field("610", "strategy", "roundrobin")
            .await
            .is_err());
        assert!(s
            .set_queue_field("610", "overflow", "voicemail")
            .await
            .is_err());
        assert!(s
            .set_queue_field("610", "join_empty", "asleep")
            .await
            .is_err());
        assert!(s.set_queue_field("610", "music", "jazz").await.is_err());
        assert!(s.set_queue_field("610", "music", "wav:").await.is_err());
        s.set_queue_field("610", "music", "tone").await.unwrap();
        assert!(
            s.set_queue_field("202", "name", "x").await.is_err(),
            "an extension"
        );
        assert!(s.set_queue_member("610", "299", 0).await.is_err());
        let q = s.queues("default").await.unwrap();
        let q = q.iter().find(|q| q.number == "610").unwrap();
        assert_eq!(
            (
                q.strategy.as_str(),
                q.max_wait_s,
                q.overflow.as_str(),
                q.music.as_str()
            ),
            ("linear", 30, "extension:203", "tone")
        );
        assert_eq!(q.members[0].penalty, 1);
        s.set_feature_code("queue_pause", "*91").await.unwrap();
        assert!(s.set_feature_code("queue_nap", "*1").await.is_err());
        let cc = s.load_call_center("default", 0).await.unwrap();
        assert_eq!(
            cc.feature_codes,
            [("queue_pause".to_string(), "*91".to_string())]
        );
    }
}
