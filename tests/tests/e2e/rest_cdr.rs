//! `/rest/cdr` (issue 7, acceptance 6): after real calls between SIPp phones, the JSON page,
//! the JSON, CSV and XLSX exports hold exactly the records of those calls, with the seed's
//! field names; the filters (period, year/month/day, caller, called, status, type) by GET
//! query and by POST body; paging; a standard user sees only their own calls.

use super::rest_util::{caller, rest_dir, Api};
use centralino_e2e::{free_media_port, free_udp_port, refused_scenario, register, uas, Pbx};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

/// The export's columns, in order (docs/rest-api.md).
const COLUMNS: [&str; 19] = [
    "unique_id",
    "source_type",
    "destination_type",
    "status",
    "start_datetime",
    "channel_up_datetime",
    "answer_datetime",
    "answered_by",
    "end_datetime",
    "caller",
    "caller_name",
    "anonymous",
    "called",
    "called_name",
    "duration",
    "bill_secs",
    "src_peer_name",
    "src_ip_port",
    "recovered",
];

/// A record's value of a column as the CSV shows it.
fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Records by unique id, for comparison whatever the order.
fn by_id(records: &[Value]) -> BTreeMap<String, Value> {
    records
        .iter()
        .map(|r| (r["unique_id"].as_str().unwrap().to_string(), r.clone()))
        .collect()
}

fn total(api: &Api, query: &str) -> i64 {
    api.expect(200, "get", &format!("/rest/cdr{query}"), None)["total"]
        .as_i64()
        .unwrap()
}

#[test]
fn the_three_exports_hold_the_records_of_the_calls_made() {
    let pbx = Pbx::start_with(&[
        &["set-user", "202", "api_access=1"],
        &["set-user", "203", "api_access=1"],
    ]);
    let p202 = free_udp_port();
    register(&pbx, "202", p202);
    let callee = uas(&pbx, "uas_answer.xml", p202, free_media_port(), 1);
    caller(&pbx, "uac_call.xml", "201", "202")
        .args(&["-d", "1200"])
        .run_ok();
    let (ok, out) = callee.wait(Duration::from_secs(20));
    assert!(ok, "{out}");
    let tmp = tempfile::tempdir().unwrap();
    let refused = refused_scenario(tmp.path(), 480);
    caller(&pbx, refused.to_str().unwrap(), "201", "204").run_ok();
    // What the CDR writer stored (the CLI reads the database directly).
    let stored = pbx.closed_cdrs(2);
    assert_eq!(stored.len(), 2);
    let want = by_id(&stored);

    let admin = Api::new(pbx.http, "admin", "admin");
    // The page: newest first, with the total.
    let page = admin.expect(200, "get", "/rest/cdr", None);
    assert_eq!(
        (
            page["total"].as_i64(),
            page["page"].as_i64(),
            page["pageSize"].as_i64()
        ),
        (Some(2), Some(1), Some(100))
    );
    let records = page["records"].as_array().unwrap();
    assert_eq!(by_id(records), want, "the page holds the stored records");
    assert_eq!(
        records[0]["unique_id"], stored[1]["unique_id"],
        "newest first"
    );
    assert_eq!(records[0]["details"], stored[1]["details"]);

    // JSON export: an array of the same records.
    let exported = admin.expect(200, "get", "/rest/cdr?format=json", None);
    assert_eq!(by_id(exported.as_array().unwrap()), want);

    // CSV: the seed's names as the header, one line per call, the same values.
    let csv_path = tmp.path().join("cdr.csv");
    let (status, ctype) = admin.download("get", "/rest/cdr?format=csv", None, &csv_path);
    assert_eq!((status, ctype.as_str()), (200, "text/csv; charset=utf-8"));
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap().split(',').collect::<Vec<_>>(),
        COLUMNS
    );
    let rows: Vec<Vec<String>> = lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    assert_eq!(rows.len(), 2, "{csv}");
    for row in &rows {
        let r = &want[&row[0]];
        let expected: Vec<String> = COLUMNS.iter().map(|c| cell(&r[*c])).collect();
        assert_eq!(row, &expected, "CSV row of {}", row[0]);
    }

    // XLSX, read back with Python's zipfile + xml: the same header and cells.
    let xlsx_path = tmp.path().join("cdr.xlsx");
    let (status, ctype) = admin.download(
        "post",
        "/rest/cdr",
        Some(&json!({"format": "xlsx"})),
        &xlsx_path,
    );
    assert_eq!(status, 200);
    assert_eq!(
        ctype,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let out = Command::new("python3")
        .arg(rest_dir().join("xlsx_rows.py"))
        .arg(&xlsx_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let book: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(book["sheet"], "cdr");
    let sheet = book["rows"].as_array().unwrap();
    assert_eq!(sheet[0], json!(COLUMNS));
    assert_eq!(sheet.len(), 3, "{book}");
    for row in &sheet[1..] {
        let row = row.as_array().unwrap();
        let r = &want[row[0].as_str().unwrap()];
        for (i, c) in COLUMNS.iter().enumerate() {
            let got = row.get(i).cloned().unwrap_or(Value::Null);
            let expected = match &r[*c] {
                Value::Bool(b) => json!(b.to_string()),
                other => other.clone(),
            };
            match (got.as_f64(), expected.as_f64()) {
                (Some(a), Some(b)) => {
                    assert!((a - b).abs() < 1e-9, "XLSX {c} of {}: {a} vs {b}", row[0])
                }
                _ => assert_eq!(got, expected, "XLSX {c} of {}", row[0]),
            }
        }
    }

    // Filters, by GET query and by POST body.
    let ok_id = stored.iter().find(|r| r["status"] == "OK").unwrap()["unique_id"].clone();
    assert_eq!(total(&admin, "?caller=201"), 2);
    assert_eq!(total(&admin, "?called=202"), 1);
    assert_eq!(total(&admin, "?status=OK"), 1);
    assert_eq!(total(&admin, "?status=UNAVAILABLE"), 1);
    assert_eq!(total(&admin, "?type=internal"), 2);
    assert_eq!(total(&admin, "?type=incoming"), 0);
    assert_eq!(total(&admin, "?period=today"), 2);
    assert_eq!(total(&admin, "?period=lastMonth"), 0);
    let today = chrono_free_today(&stored[0]);
    assert_eq!(
        total(
            &admin,
            &format!("?year={}&month={}&day={}", today.0, today.1, today.2)
        ),
        2
    );
    assert_eq!(total(&admin, "?year=2000"), 0);
    assert_eq!(
        total(
            &admin,
            &format!("?from={}-{:02}-{:02}", today.0, today.1, today.2)
        ),
        2
    );
    let r = admin.expect(
        200,
        "post",
        "/rest/cdr",
        Some(&json!({"status": "OK", "called": "202"})),
    );
    assert_eq!(r["records"][0]["unique_id"], ok_id);
    assert_eq!(r["total"], 1);
    // Paging: one per page, newest first.
    let p1 = admin.expect(200, "get", "/rest/cdr?pageSize=1", None);
    let p2 = admin.expect(200, "get", "/rest/cdr?pageSize=1&page=2", None);
    assert_eq!(
        (
            p1["total"].as_i64(),
            p1["records"].as_array().unwrap().len()
        ),
        (Some(2), 1)
    );
    assert_eq!(p2["records"][0]["unique_id"], stored[0]["unique_id"]);
    assert_eq!(
        admin.expect(200, "get", "/rest/cdr?pageSize=1&page=3", None)["records"],
        json!([])
    );
    // Bad values are a 400, never a 500 (the seed's K-12589).
    for q in [
        "?year=2026&month=13",
        "?month=2",
        "?day=40",
        "?pageSize=0",
        "?format=pdf",
        "?period=soon",
        "?nope=1",
        "?from=yesterday",
    ] {
        let (status, v) = admin.call("get", &format!("/rest/cdr{q}"), None);
        assert_eq!(status, 400, "{q}: {v}");
        assert_eq!(v["error"], "bad_request");
    }

    // A standard user: only their own calls.
    let u202 = Api::new(pbx.http, "202", "demo202");
    let mine = u202.expect(200, "get", "/rest/cdr", None);
    assert_eq!(mine["total"], 1);
    assert_eq!(mine["records"][0]["unique_id"], ok_id);
    let u203 = Api::new(pbx.http, "203", "demo203");
    assert_eq!(u203.expect(200, "get", "/rest/cdr", None)["total"], 0);
}

/// (year, month, day) of a record's start, from its `start_datetime` text (UTC).
fn chrono_free_today(r: &Value) -> (i32, u32, u32) {
    let s = r["start_datetime"].as_str().unwrap();
    let n = |a: usize, b: usize| s[a..b].parse::<u32>().unwrap();
    (n(0, 4) as i32, n(5, 7), n(8, 10))
}
