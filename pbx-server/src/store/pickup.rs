//! Pickup groups (migration `0007_pickup_groups`, seed §5): which groups an extension is a
//! member of, and which it may pick up calls from with `*9`.

use super::{Result, Store, StoreError};
use sqlx::{AnyConnection, Row};

impl Store {
    /// Replaces the pickup groups of an extension of the default tenant: `member` (its calls
    /// may be picked up by these groups) and `picker` (it may pick up calls of these groups).
    pub async fn set_pickup_groups(
        &self,
        number: &str,
        member: &[String],
        picker: &[String],
    ) -> Result<()> {
        for g in member.iter().chain(picker) {
            let ok = !g.is_empty()
                && g.len() <= 32
                && g.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !ok {
                return Err(StoreError::Invalid(format!(
                    "pickup group {g:?}: letters, digits, - and _ only"
                )));
            }
        }
        let tenant = self.default_tenant().await?;
        let mut tx = self.pool.begin().await?;
        set_on(&mut tx, tenant.id, number, member, picker).await?;
        tx.commit().await?;
        Ok(())
    }
}

pub(super) async fn set_on(
    conn: &mut AnyConnection,
    tenant_id: i64,
    number: &str,
    member: &[String],
    picker: &[String],
) -> Result<()> {
    let eid: i64 = sqlx::query("SELECT id FROM extension WHERE tenant_id = $1 AND number = $2")
        .bind(tenant_id)
        .bind(number)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("extension {number}")))?
        .try_get("id")?;
    sqlx::query("DELETE FROM pickup_group_member WHERE extension_id = $1")
        .bind(eid)
        .execute(&mut *conn)
        .await?;
    for (groups, role) in [(member, "member"), (picker, "picker")] {
        for g in groups {
            sqlx::query(
                "INSERT INTO pickup_group_member (extension_id, grp, role) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(eid)
            .bind(g.clone())
            .bind(role)
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}

/// The demo's pickup group `office`: 202–205 are members and may pick up each other's calls.
pub(crate) async fn seed_demo_on(conn: &mut AnyConnection, tenant_id: i64) -> Result<()> {
    let office = ["office".to_string()];
    for ext in ["202", "203", "204", "205"] {
        set_on(conn, tenant_id, ext, &office, &office).await?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pickup_groups_round_trip_through_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("p.db").display());
        let s = Store::connect(&url).await.unwrap();
        s.seed_demo().await.unwrap();
        let d = s.load_directory().await.unwrap();
        let e203 = d.extensions.iter().find(|e| e.number == "203").unwrap();
        assert_eq!(e203.pickup_groups, ["office"]);
        assert_eq!(e203.pickup_allowed, ["office"]);
        s.set_pickup_groups("203", &["a".into(), "b".into()], &[])
            .await
            .unwrap();
        let d = s.load_directory().await.unwrap();
        let e203 = d.extensions.iter().find(|e| e.number == "203").unwrap();
        assert_eq!(e203.pickup_groups, ["a", "b"]);
        assert!(e203.pickup_allowed.is_empty());
        assert!(s
            .set_pickup_groups("203", &["a b".into()], &[])
            .await
            .is_err());
        assert!(s.set_pickup_groups("999", &[], &[]).await.is_err());
    }
}
