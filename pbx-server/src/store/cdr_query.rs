//! Call records of one tenant by filter, newest first, a page at a time: what the REST
//! API's `/rest/cdr` reads (docs/rest-api.md).

use super::cdr::CdrRecord;
use super::cdr_sql::assemble;
use super::{Result, Store};
use sqlx::Row;

/// Which calls, by their source and destination types (seed §24.5 codes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CdrType {
    /// Extension to extension.
    Internal,
    /// From an inbound line.
    Incoming,
    /// To an outbound line.
    Outgoing,
    /// Source or destination of this type (`service`, `queue`, ...).
    Code(String),
}

/// What records to return; every field narrows the set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CdrFilter {
    /// Started at or after (epoch ms).
    pub from_ms: Option<i64>,
    /// Started before (epoch ms).
    pub to_ms: Option<i64>,
    /// The caller number contains this.
    pub caller: Option<String>,
    /// The called number contains this.
    pub called: Option<String>,
    /// Exit status (`OK`, `BUSY`, ...).
    pub status: Option<String>,
    /// Kind of call.
    pub call_type: Option<CdrType>,
    /// Only calls this number placed, was called at or answered.
    pub party: Option<String>,
}

enum Bind {
    Int(i64),
    Text(String),
}

/// `%text%` for LIKE, with LIKE's own characters escaped (`\` is the escape).
fn contains(text: &str) -> String {
    let mut s = String::from("%");
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('%');
    s
}

impl CdrFilter {
    /// The WHERE clause (after `tenant = $1`) and its values from `$2` on.
    fn sql(&self, tenant: &str) -> (String, Vec<Bind>) {
        let mut clause = String::from("tenant = $1");
        let mut binds = vec![Bind::Text(tenant.to_string())];
        let mut add = |cond: &str, b: Vec<Bind>, binds: &mut Vec<Bind>| {
            let mut cond = cond.to_string();
            for (i, v) in b.into_iter().enumerate() {
                binds.push(v);
                cond = cond.replace(&format!("?{i}"), &format!("${}", binds.len()));
            }
            clause.push_str(" AND ");
            clause.push_str(&cond);
        };
        if let Some(v) = self.from_ms {
            add("start_ms >= ?0", vec![Bind::Int(v)], &mut binds);
        }
        if let Some(v) = self.to_ms {
            add("start_ms < ?0", vec![Bind::Int(v)], &mut binds);
        }
        if let Some(v) = &self.caller {
            add(
                "caller LIKE ?0 ESCAPE '\\'",
                vec![Bind::Text(contains(v))],
                &mut binds,
            );
        }
        if let Some(v) = &self.called {
            add(
                "called LIKE ?0 ESCAPE '\\'",
                vec![Bind::Text(contains(v))],
                &mut binds,
            );
        }
        if let Some(v) = &self.status {
            add("status = ?0", vec![Bind::Text(v.clone())], &mut binds);
        }
        if let Some(p) = &self.party {
            add(
                "(caller = ?0 OR called = ?1 OR answered_by = ?2)",
                vec![
                    Bind::Text(p.clone()),
                    Bind::Text(p.clone()),
                    Bind::Text(p.clone()),
                ],
                &mut binds,
            );
        }
        match &self.call_type {
            None => {}
            Some(CdrType::Internal) => add(
                "source_type = 'local_exten' AND destination_type = 'local_exten'",
                vec![],
                &mut binds,
            ),
            Some(CdrType::Incoming) => add("source_type = 'ibl'", vec![], &mut binds),
            Some(CdrType::Outgoing) => add("destination_type = 'obl'", vec![], &mut binds),
            Some(CdrType::Code(c)) => add(
                "(source_type = ?0 OR destination_type = ?1)",
                vec![Bind::Text(c.clone()), Bind::Text(c.clone())],
                &mut binds,
            ),
        }
        (clause, binds)
    }
}

fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    binds: &'q [Bind],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for b in binds {
        q = match b {
            Bind::Int(v) => q.bind(*v),
            Bind::Text(v) => q.bind(v.as_str()),
        };
    }
    q
}

impl Store {
    /// The records of `tenant` (domain) that match, newest first (start time, then unique
    /// id), skipping `offset` and returning at most `limit`, with the total that match.
    pub async fn cdr_query(
        &self,
        tenant: &str,
        filter: &CdrFilter,
        offset: i64,
        limit: i64,
    ) -> Result<(i64, Vec<CdrRecord>)> {
        let (clause, mut binds) = filter.sql(tenant);
        let uid = self.bytewise("unique_id");
        let mut tx = self.pool.begin().await?;
        let total: i64 = bind_all(
            sqlx::query(&format!("SELECT COUNT(*) AS n FROM cdr WHERE {clause}")),
            &binds,
        )
        .fetch_one(&mut *tx)
        .await?
        .try_get("n")?;
        let n = binds.len();
        binds.push(Bind::Int(limit.max(0)));
        binds.push(Bind::Int(offset.max(0)));
        let page = format!(
            "SELECT * FROM cdr WHERE {clause} ORDER BY start_ms DESC, {uid} DESC LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        let records = bind_all(sqlx::query(&page), &binds)
            .fetch_all(&mut *tx)
            .await?;
        let details = bind_all(
            sqlx::query(&format!(
                "SELECT * FROM cdr_detail WHERE unique_id IN (SELECT unique_id FROM ({page}) AS page) ORDER BY seq"
            )),
            &binds,
        )
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((total, assemble(&records, &details)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_are_escaped() {
        assert_eq!(contains("20"), "%20%");
        assert_eq!(contains("1%_\\"), "%1\\%\\_\\\\%");
    }

    #[test]
    fn placeholders_follow_the_values() {
        let f = CdrFilter {
            from_ms: Some(1),
            caller: Some("20".into()),
            call_type: Some(CdrType::Code("service".into())),
            ..CdrFilter::default()
        };
        let (sql, binds) = f.sql("default");
        assert_eq!(
            sql,
            "tenant = $1 AND start_ms >= $2 AND caller LIKE $3 ESCAPE '\\' AND \
             (source_type = $4 OR destination_type = $5)"
        );
        assert_eq!(binds.len(), 5);
    }
}
