//! Licence seats (issue 6; the seed's "Licenze"): each tenant holds a number of seats per
//! product, and each user is assigned at most one desktop-app seat (`pro` or `phone`, or none:
//! Free) and optionally a call-center seat. Assigning a seat the pool no longer has is refused.

use super::{flag, int, Result, Store, StoreError};
use sqlx::{AnyConnection, Row};

/// The products seats are counted for.
pub const PRODUCTS: [&str; 3] = ["cti_pro", "cti_phone", "call_center"];

/// Seats of one product: held by the tenant, and assigned to users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatCount {
    /// `cti_pro`, `cti_phone` or `call_center`.
    pub product: String,
    /// Seats the tenant holds.
    pub seats: i64,
    /// Seats assigned to users.
    pub used: i64,
}

async fn seats_on(conn: &mut AnyConnection, tenant_id: i64, product: &str) -> Result<i64> {
    let row = sqlx::query("SELECT seats FROM licence_pool WHERE tenant_id = $1 AND product = $2")
        .bind(tenant_id)
        .bind(product)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(match row {
        Some(r) => r.try_get("seats")?,
        None => 0,
    })
}

async fn used_on(
    conn: &mut AnyConnection,
    tenant_id: i64,
    product: &str,
    except_user: &str,
) -> Result<i64> {
    let sql = match product {
        "cti_pro" => "SELECT COUNT(*) AS n FROM app_user WHERE tenant_id = $1 AND cti_licence = 'pro' AND username <> $2",
        "cti_phone" => "SELECT COUNT(*) AS n FROM app_user WHERE tenant_id = $1 AND cti_licence = 'phone' AND username <> $2",
        _ => "SELECT COUNT(*) AS n FROM app_user WHERE tenant_id = $1 AND call_center_licence <> 0 AND username <> $2",
    };
    Ok(sqlx::query(sql)
        .bind(tenant_id)
        .bind(except_user)
        .fetch_one(&mut *conn)
        .await?
        .try_get("n")?)
}

/// Sets the seats of `product` for a tenant.
pub(super) async fn set_seats_on(
    conn: &mut AnyConnection,
    tenant_id: i64,
    product: &str,
    seats: i64,
) -> Result<()> {
    if !PRODUCTS.contains(&product) {
        return Err(StoreError::Invalid(format!(
            "unknown licence product {product:?} (cti_pro, cti_phone, call_center)"
        )));
    }
    if seats < 0 {
        return Err(StoreError::Invalid("seats: 0 or more".into()));
    }
    let used = used_on(conn, tenant_id, product, "").await?;
    if used > seats {
        return Err(StoreError::Invalid(format!(
            "{used} users hold a {product} seat; take seats from users before lowering the pool to {seats}"
        )));
    }
    sqlx::query(
        "INSERT INTO licence_pool (tenant_id, product, seats) VALUES ($1, $2, $3) \
         ON CONFLICT (tenant_id, product) DO UPDATE SET seats = excluded.seats",
    )
    .bind(tenant_id)
    .bind(product)
    .bind(seats)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Assigns a user's desktop-app seat (`free`, `pro`, `phone`) or call-center seat
/// (`call_center_licence` = 1/0), when the pool has one left.
pub(super) async fn assign_on(
    conn: &mut AnyConnection,
    tenant_id: i64,
    username: &str,
    field: &str,
    value: &str,
) -> Result<()> {
    let (product, sql, bound): (Option<&str>, &str, Value) = match field {
        "cti_licence" => {
            let v = value.trim().to_ascii_lowercase();
            let product = match v.as_str() {
                "free" => None,
                "pro" => Some("cti_pro"),
                "phone" => Some("cti_phone"),
                _ => {
                    return Err(StoreError::Invalid(format!(
                        "cti_licence: free, pro or phone, not {value:?}"
                    )))
                }
            };
            (
                product,
                "UPDATE app_user SET cti_licence = $1 WHERE tenant_id = $2 AND username = $3",
                Value::Text(v),
            )
        }
        _ => {
            let on = super::user_fields::parse_bool(field, value)?;
            (
                on.then_some("call_center"),
                "UPDATE app_user SET call_center_licence = $1 WHERE tenant_id = $2 AND username = $3",
                Value::Int(int(on)),
            )
        }
    };
    if let Some(product) = product {
        let seats = seats_on(conn, tenant_id, product).await?;
        let used = used_on(conn, tenant_id, product, username).await?;
        if used >= seats {
            return Err(StoreError::Invalid(format!(
                "no {product} seat left ({used} of {seats} assigned); add seats with `pbx-server set-seats {product} N`"
            )));
        }
    }
    let q = sqlx::query(sql);
    let q = match bound {
        Value::Text(t) => q.bind(t),
        Value::Int(i) => q.bind(i),
    };
    let done = q.bind(tenant_id).bind(username).execute(&mut *conn).await?;
    super::tenants::found(done.rows_affected(), || format!("user {username}"))
}

enum Value {
    Text(String),
    Int(i64),
}

/// The demo's seats: 201 Pro with call center (the supervisor), 202–207 Pro, 203 Phone,
/// 208 Free (to show the Free mode); call-center seats for the queue agents 202–205.
pub(super) async fn seed_demo_on(conn: &mut AnyConnection, tenant_id: i64) -> Result<()> {
    for (product, seats) in [("cti_pro", 10), ("cti_phone", 2), ("call_center", 6)] {
        set_seats_on(conn, tenant_id, product, seats).await?;
    }
    for user in ["201", "202", "204", "205", "206", "207"] {
        assign_on(conn, tenant_id, user, "cti_licence", "pro").await?;
    }
    assign_on(conn, tenant_id, "203", "cti_licence", "phone").await?;
    for user in ["201", "202", "203", "204", "205"] {
        assign_on(conn, tenant_id, user, "call_center_licence", "1").await?;
    }
    Ok(())
}

impl Store {
    /// Sets the seats of a product for the default tenant.
    pub async fn set_licence_seats(&self, product: &str, seats: i64) -> Result<()> {
        let tenant = self.default_tenant().await?;
        let mut c = self.pool.acquire().await?;
        set_seats_on(&mut c, tenant.id, product, seats).await
    }

    /// Seats held and assigned per product, for the default tenant.
    pub async fn licence_seats(&self) -> Result<Vec<SeatCount>> {
        let tenant = self.default_tenant().await?;
        let mut c = self.pool.acquire().await?;
        let mut out = Vec::new();
        for p in PRODUCTS {
            out.push(SeatCount {
                product: p.to_string(),
                seats: seats_on(&mut c, tenant.id, p).await?,
                used: used_on(&mut c, tenant.id, p, "").await?,
            });
        }
        Ok(out)
    }

    /// A user's seats: (`free`/`pro`/`phone`, call center), for the default tenant.
    pub async fn user_licence(&self, username: &str) -> Result<Option<(String, bool)>> {
        let tenant = self.default_tenant().await?;
        let row = sqlx::query(
            "SELECT cti_licence, call_center_licence FROM app_user WHERE tenant_id = $1 AND username = $2",
        )
        .bind(tenant.id)
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((r.try_get("cti_licence")?, flag(&r, "call_center_licence")?)))
            .transpose()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn seats_are_counted_and_an_empty_pool_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("l.db").display());
        let s = Store::connect(&url).await.unwrap();
        s.seed_demo().await.unwrap();
        assert_eq!(
            s.user_licence("201").await.unwrap(),
            Some(("pro".into(), true))
        );
        assert_eq!(
            s.user_licence("203").await.unwrap(),
            Some(("phone".into(), true))
        );
        assert_eq!(
            s.user_licence("208").await.unwrap(),
            Some(("free".into(), false))
        );
        let pro = |v: &[SeatCount]| v.iter().find(|c| c.product == "cti_pro").cloned().unwrap();
        assert_eq!(pro(&s.licence_seats().await.unwrap()).used, 6);
        // Four Pro seats left: 208 takes one; lowering the pool under what is held is refused.
        s.set_user_field("208", "cti_licence", "pro").await.unwrap();
        assert!(s.set_licence_seats("cti_pro", 6).await.is_err());
        s.set_licence_seats("cti_pro", 7).await.unwrap();
        s.set_user_field("208", "cti_licence", "free")
            .await
            .unwrap();
        s.set_user_field("206", "cti_licence", "pro").await.unwrap(); // keeps its own seat
        s.set_licence_seats("cti_pro", 6).await.unwrap();
        let err = s
            .set_user_field("208", "cti_licence", "pro")
            .await
            .unwrap_err();
        assert!(err.to_string().contains("no cti_pro seat left"), "{err}");
        assert!(s
            .set_user_field("208", "cti_licence", "gold")
            .await
            .is_err());
        assert!(s.set_licence_seats("cti_gold", 1).await.is_err());
        // The phone pool holds 2: one left after 203.
        s.set_user_field("208", "cti_licence", "phone")
            .await
            .unwrap();
        assert!(s
            .set_user_field("207", "cti_licence", "phone")
            .await
            .is_err());
    }
}
