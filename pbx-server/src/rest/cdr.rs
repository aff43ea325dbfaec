//! `/rest/cdr`: call records of the caller's tenant, newest first, filtered by GET query or
//! POST body (the same fields), a page at a time or exported as JSON, CSV or XLSX with the
//! seed's field names. A role with read on CDR sees every call of the tenant; any other user
//! the calls of their own extension. External numbers are masked (last 3 digits `xxx`)
//! without the privacy right, as the seed does for its `admin`.

use super::access::{Area, Level};
use super::calls::mask;
use super::session::ApiUser;
use super::{export, ApiError, ApiResult, Body, RestState};
use crate::store::{CdrFilter, CdrRecord, CdrType};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{Datelike, Duration, NaiveDate, TimeZone, Utc};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use utoipa::{IntoParams, ToSchema};

/// Records per page when `pageSize` is not given.
const DEFAULT_PAGE: i64 = 100;
/// Largest page.
const MAX_PAGE: i64 = 1000;
/// Largest unpaged export (past it, narrow the filter or page the export).
const MAX_EXPORT: i64 = 50_000;

/// The filters, as query parameters of GET or fields of POST's JSON object (every one
/// optional; they combine with AND).
#[derive(Debug, Default, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub(crate) struct CdrParams {
    /// Started at or after: `YYYY-MM-DD` or `YYYY-MM-DDThh:mm:ssZ` (UTC).
    from: Option<String>,
    /// Started before (a date includes its whole day).
    to: Option<String>,
    /// `today`, `yesterday`, `thisWeek`, `lastWeek`, `thisMonth`, `lastMonth`, `thisYear` (UTC).
    period: Option<String>,
    /// Calendar year (UTC).
    year: Option<i32>,
    /// Month 1–12 of `year`.
    month: Option<u32>,
    /// Day of `month`.
    day: Option<u32>,
    /// The caller number contains this.
    caller: Option<String>,
    /// The called number contains this.
    called: Option<String>,
    /// Exit status: `OK`, `CANCELED`, `NOANSWER`, `BUSY`, `FAILED`, `UNAVAILABLE`, `FORBIDDEN`, `??`.
    status: Option<String>,
    /// `internal`, `incoming`, `outgoing`, or a source/destination type code (`service`, `queue`, ...).
    #[serde(rename = "type")]
    call_type: Option<String>,
    /// Page from 1 (default 1).
    page: Option<i64>,
    /// Records per page, 1–1000 (default 100).
    page_size: Option<i64>,
    /// `json` (an array), `csv` or `xlsx`: an export file of every match (at most 50 000)
    /// instead of a page, or of one page when `page`/`pageSize` are given.
    format: Option<String>,
}

/// One page of records.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CdrPage {
    /// Records that match.
    total: i64,
    page: i64,
    page_size: i64,
    /// The seed's export fields (`unique_id`, `start_datetime`, `caller`, ... and `details`).
    #[schema(value_type = Vec<Object>)]
    records: Vec<Value>,
}

enum Format {
    Json,
    Csv,
    Xlsx,
}

/// What a request asks for, parsed and checked.
struct Request {
    filter: CdrFilter,
    page: Option<i64>,
    page_size: Option<i64>,
    format: Option<Format>,
}

fn bad(what: &str) -> ApiError {
    ApiError::BadRequest(what.to_string())
}

fn start_of(d: NaiveDate) -> i64 {
    Utc.from_utc_datetime(&d.and_time(chrono::NaiveTime::MIN))
        .timestamp_millis()
}

/// `YYYY-MM-DD` (that day's start, or with `end` the next day's) or `YYYY-MM-DDThh:mm:ssZ`.
fn instant(s: &str, end: bool, name: &str) -> ApiResult<i64> {
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let d = if end { d.succ_opt().unwrap_or(d) } else { d };
        return Ok(start_of(d));
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_millis())
        .map_err(|_| bad(&format!("{name}: YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ")))
}

/// A named period relative to `today` (UTC): [start, end) in ms.
fn period(name: &str, today: NaiveDate) -> ApiResult<(i64, i64)> {
    let day = |d: NaiveDate| start_of(d);
    let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    let first = today.with_day(1).unwrap_or(today);
    let next_month = |d: NaiveDate| {
        if d.month() == 12 {
            NaiveDate::from_ymd_opt(d.year() + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(d.year(), d.month() + 1, 1)
        }
        .unwrap_or(d)
    };
    let prev_first = (first - Duration::days(1)).with_day(1).unwrap_or(first);
    let jan1 = NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today);
    Ok(match name {
        "today" => (day(today), day(today + Duration::days(1))),
        "yesterday" => (day(today - Duration::days(1)), day(today)),
        "thisWeek" => (day(monday), day(monday + Duration::days(7))),
        "lastWeek" => (day(monday - Duration::days(7)), day(monday)),
        "thisMonth" => (day(first), day(next_month(first))),
        "lastMonth" => (day(prev_first), day(first)),
        "thisYear" => (
            day(jan1),
            day(NaiveDate::from_ymd_opt(today.year() + 1, 1, 1).unwrap_or(jan1)),
        ),
        _ => {
            return Err(bad(
                "period: today, yesterday, thisWeek, lastWeek, thisMonth, lastMonth or thisYear",
            ))
        }
    })
}

/// `year`, `year`+`month` or `year`+`month`+`day` as [start, end) in ms.
fn calendar(
    year: Option<i64>,
    month: Option<i64>,
    day: Option<i64>,
) -> ApiResult<Option<(i64, i64)>> {
    let oops = || bad("year/month/day: a real date (month needs year, day needs month)");
    let small = |v: i64| u32::try_from(v).map_err(|_| oops());
    Ok(match (year, month, day) {
        (None, None, None) => None,
        (Some(y), None, None) => {
            let y = i32::try_from(y).map_err(|_| oops())?;
            let a = NaiveDate::from_ymd_opt(y, 1, 1).ok_or_else(oops)?;
            let b = NaiveDate::from_ymd_opt(y + 1, 1, 1).ok_or_else(oops)?;
            Some((start_of(a), start_of(b)))
        }
        (Some(y), Some(m), None) => {
            let y = i32::try_from(y).map_err(|_| oops())?;
            let a = NaiveDate::from_ymd_opt(y, small(m)?, 1).ok_or_else(oops)?;
            let b = if a.month() == 12 {
                NaiveDate::from_ymd_opt(y + 1, 1, 1)
            } else {
                NaiveDate::from_ymd_opt(y, a.month() + 1, 1)
            }
            .ok_or_else(oops)?;
            Some((start_of(a), start_of(b)))
        }
        (Some(y), Some(m), Some(d)) => {
            let y = i32::try_from(y).map_err(|_| oops())?;
            let a = NaiveDate::from_ymd_opt(y, small(m)?, small(d)?).ok_or_else(oops)?;
            Some((start_of(a), start_of(a + Duration::days(1))))
        }
        _ => return Err(oops()),
    })
}

/// A value of the query string (text) or of the JSON body (text or number).
fn as_text(v: &Value) -> ApiResult<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(bad("filter values are strings or numbers")),
    }
}

fn as_int(name: &str, v: Option<&String>) -> ApiResult<Option<i64>> {
    v.map(|s| {
        s.trim()
            .parse::<i64>()
            .map_err(|_| bad(&format!("{name}: an integer")))
    })
    .transpose()
}

/// Longest text filter.
const MAX_FILTER: usize = 64;

impl Request {
    fn parse(fields: BTreeMap<String, Value>, today: NaiveDate) -> ApiResult<Request> {
        const KNOWN: [&str; 13] = [
            "from", "to", "period", "year", "month", "day", "caller", "called", "status", "type",
            "page", "pageSize", "format",
        ];
        let mut f: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in fields {
            if !KNOWN.contains(&k.as_str()) {
                return Err(bad(&format!("unknown filter {k}")));
            }
            let v = as_text(&v)?;
            if v.chars().count() > MAX_FILTER {
                return Err(bad(&format!("{k}: at most {MAX_FILTER} characters")));
            }
            f.insert(k, v);
        }
        let mut lo: Option<i64> = None;
        let mut hi: Option<i64> = None;
        let mut narrow = |a: i64, b: Option<i64>| {
            lo = Some(lo.map_or(a, |x| x.max(a)));
            if let Some(b) = b {
                hi = Some(hi.map_or(b, |x| x.min(b)));
            }
        };
        if let Some(v) = f.get("from") {
            narrow(instant(v, false, "from")?, None);
        }
        if let Some(v) = f.get("to") {
            narrow(i64::MIN, Some(instant(v, true, "to")?));
        }
        if let Some(v) = f.get("period") {
            let (a, b) = period(v, today)?;
            narrow(a, Some(b));
        }
        let (y, m, d) = (
            as_int("year", f.get("year"))?,
            as_int("month", f.get("month"))?,
            as_int("day", f.get("day"))?,
        );
        if let Some((a, b)) = calendar(y, m, d)? {
            narrow(a, Some(b));
        }
        let call_type = f.get("type").map(|t| match t.as_str() {
            "internal" => CdrType::Internal,
            "incoming" => CdrType::Incoming,
            "outgoing" => CdrType::Outgoing,
            other => CdrType::Code(other.to_string()),
        });
        let page = as_int("page", f.get("page"))?;
        if page.is_some_and(|p| p < 1) {
            return Err(bad("page: from 1"));
        }
        let page_size = as_int("pageSize", f.get("pageSize"))?;
        if page_size.is_some_and(|p| !(1..=MAX_PAGE).contains(&p)) {
            return Err(bad("pageSize: 1 to 1000"));
        }
        let format = match f.get("format").map(String::as_str) {
            None => None,
            Some("json") => Some(Format::Json),
            Some("csv") => Some(Format::Csv),
            Some("xlsx") => Some(Format::Xlsx),
            Some(_) => return Err(bad("format: json, csv or xlsx")),
        };
        Ok(Request {
            filter: CdrFilter {
                from_ms: lo.filter(|v| *v != i64::MIN),
                to_ms: hi,
                caller: f.get("caller").cloned(),
                called: f.get("called").cloned(),
                status: f.get("status").cloned(),
                call_type,
                party: None,
            },
            page,
            page_size,
            format,
        })
    }
}

/// Masks the external numbers of a record for a viewer without the privacy right.
fn masked(mut r: CdrRecord, internal: &HashSet<String>, privacy: bool) -> CdrRecord {
    let m = |n: &str| mask(n, internal.contains(n), privacy);
    r.caller = m(&r.caller);
    r.called = m(&r.called);
    r.answered_by = r.answered_by.as_deref().map(m);
    for d in &mut r.details {
        d.source_num = m(&d.source_num);
        d.destination_num = d.destination_num.as_deref().map(m);
        d.answered_by = d.answered_by.as_deref().map(m);
    }
    r
}

async fn run(s: RestState, user: ApiUser, fields: BTreeMap<String, Value>) -> ApiResult<Response> {
    let mut req = Request::parse(fields, Utc::now().date_naive())?;
    if !user.access.allows(Area::Cdr, Level::Read) {
        match user.user.extension.clone() {
            Some(own) => req.filter.party = Some(own),
            None => return Err(ApiError::Forbidden),
        }
    }
    let paged = req.page.is_some() || req.page_size.is_some();
    let size = req.page_size.unwrap_or(DEFAULT_PAGE);
    let page = req.page.unwrap_or(1);
    let (offset, limit) = match (&req.format, paged) {
        (Some(_), false) => (0, MAX_EXPORT + 1),
        _ => ((page - 1).saturating_mul(size), size),
    };
    let (total, records) = s
        .store()
        .cdr_query(&user.domain, &req.filter, offset, limit)
        .await?;
    if records.len() as i64 > MAX_EXPORT {
        return Err(bad(
            "more than 50000 records: narrow the filter or add page/pageSize",
        ));
    }
    let internal: HashSet<String> = s
        .store()
        .extension_listing(user.tenant_id(), None)
        .await?
        .into_iter()
        .map(|l| l.extension.number)
        .collect();
    let rows: Vec<Value> = records
        .into_iter()
        .map(|r| masked(r, &internal, user.access.privacy).to_json())
        .collect();
    let file = |ctype: &'static str, name: &'static str, body: Vec<u8>| {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
        h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static(name));
        (h, body).into_response()
    };
    Ok(match req.format {
        None => Json(CdrPage {
            total,
            page,
            page_size: size,
            records: rows,
        })
        .into_response(),
        Some(Format::Json) => Json(rows).into_response(),
        Some(Format::Csv) => file(
            "text/csv; charset=utf-8",
            "attachment; filename=\"cdr.csv\"",
            export::csv(&rows).into_bytes(),
        ),
        Some(Format::Xlsx) => {
            let bytes = export::xlsx(&rows).map_err(|e| {
                tracing::error!(error = %e, "rest: xlsx export failed");
                ApiError::Internal
            })?;
            file(
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "attachment; filename=\"cdr.xlsx\"",
                bytes,
            )
        }
    })
}

/// Call records by query parameters.
#[utoipa::path(get, path = "/rest/cdr", tag = "cdr", params(CdrParams),
    responses((status = 200, description = "a page (JSON object), or an export file (`format`)", body = CdrPage),
        (status = 400), (status = 403)))]
pub(super) async fn get(
    user: ApiUser,
    State(s): State<RestState>,
    query: Result<Query<BTreeMap<String, String>>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    run(
        s,
        user,
        q.into_iter().map(|(k, v)| (k, Value::String(v))).collect(),
    )
    .await
}

/// Call records by a JSON body with the same fields as the GET parameters.
#[utoipa::path(post, path = "/rest/cdr", tag = "cdr", request_body = CdrParams,
    responses((status = 200, description = "a page (JSON object), or an export file (`format`)", body = CdrPage),
        (status = 400), (status = 403)))]
pub(super) async fn post(
    user: ApiUser,
    State(s): State<RestState>,
    Body(fields): Body<BTreeMap<String, Value>>,
) -> ApiResult<Response> {
    run(s, user, fields).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> ApiResult<Request> {
        let m: BTreeMap<String, Value> = serde_json::from_value(v).unwrap_or_default();
        Request::parse(m, NaiveDate::from_ymd_opt(2026, 11, 23).unwrap_or_default())
    }

    fn ms(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn calendar_filters() {
        let r = parse(json!({"year": 2026, "month": "2"})).unwrap();
        assert_eq!(r.filter.from_ms, Some(ms("2026-02-01T00:00:00Z")));
        assert_eq!(r.filter.to_ms, Some(ms("2026-03-01T00:00:00Z")));
        let r = parse(json!({"year": "2025", "month": 12, "day": 31})).unwrap();
        assert_eq!(r.filter.to_ms, Some(ms("2026-01-01T00:00:00Z")));
        for wrong in [
            json!({"year": 2026, "month": 13}),
            json!({"year": 2026, "month": 2, "day": 30}),
            json!({"month": 2}),
            json!({"year": "twenty"}),
            json!({"year": 99999999999_i64}),
        ] {
            assert!(parse(wrong.clone()).is_err(), "{wrong}");
        }
    }

    #[test]
    fn periods_and_ranges_intersect() {
        let r = parse(json!({"period": "thisWeek"})).unwrap();
        assert_eq!(
            r.filter.from_ms,
            Some(ms("2026-11-23T00:00:00Z")),
            "a Monday"
        );
        let r = parse(json!({"period": "lastMonth", "from": "2026-10-15"})).unwrap();
        assert_eq!(r.filter.from_ms, Some(ms("2026-10-15T00:00:00Z")));
        assert_eq!(r.filter.to_ms, Some(ms("2026-11-01T00:00:00Z")));
        let r = parse(json!({"to": "2026-11-23"})).unwrap();
        assert_eq!(
            (r.filter.from_ms, r.filter.to_ms),
            (None, Some(ms("2026-11-24T00:00:00Z")))
        );
        assert!(parse(json!({"period": "someday"})).is_err());
        assert!(parse(json!({"from": "yesterday"})).is_err());
    }

    #[test]
    fn the_rest_of_the_filters() {
        let r = parse(json!({"caller": "20", "status": "OK", "type": "internal", "page": 2, "pageSize": "10", "format": "csv"})).unwrap();
        assert_eq!(r.filter.caller.as_deref(), Some("20"));
        assert_eq!(r.filter.call_type, Some(CdrType::Internal));
        assert_eq!((r.page, r.page_size), (Some(2), Some(10)));
        assert!(matches!(r.format, Some(Format::Csv)));
        assert!(parse(json!({"bogus": 1})).is_err());
        assert!(parse(json!({"pageSize": 0})).is_err());
        assert!(parse(json!({"page": 0})).is_err());
        assert!(parse(json!({"format": "pdf"})).is_err());
        assert!(parse(json!({"caller": ["x"]})).is_err());
        assert!(parse(json!({"caller": "1".repeat(65)})).is_err());
    }
}
