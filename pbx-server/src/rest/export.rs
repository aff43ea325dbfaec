//! CDR exports as files: CSV and XLSX with one row per call and the seed's field names as
//! the header (the same names and values as the JSON export, whose `details` rows stay in
//! JSON only). Pure functions over the records' JSON form.

use serde_json::Value;

/// The columns, in the seed's order (spec/seed-api-addons.md §4.2).
pub(super) const COLUMNS: [&str; 19] = [
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

/// A cell's text: strings as they are, numbers and booleans in JSON form, null empty.
fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A CSV field (RFC 4180 quoting). A text a spreadsheet would run as a formula (a caller
/// name is chosen by whoever calls) gets a leading `'`; numbers such as `+39...` stay.
fn csv_field(s: &str) -> String {
    let formula = s.starts_with(['=', '@', '\t', '\r'])
        || (s.starts_with(['+', '-'])
            && !s[1..]
                .chars()
                .all(|c| c.is_ascii_digit() || c == '.' || c == '*' || c == '#'));
    let s = if formula {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// The records as CSV: a header with the seed's names, then one line per record (CRLF).
pub(super) fn csv(records: &[Value]) -> String {
    let mut out = COLUMNS.join(",");
    out.push_str("\r\n");
    for r in records {
        let line: Vec<String> = COLUMNS.iter().map(|c| csv_field(&text(&r[*c]))).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

/// The records as an XLSX workbook with one sheet `cdr`: the header row, then one row per
/// record; numbers as numbers, everything else as text (never a formula).
pub(super) fn xlsx(records: &[Value]) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("cdr")?;
    for (col, name) in (0u16..).zip(COLUMNS) {
        sheet.write_string(0, col, name)?;
    }
    for (row, r) in (1u32..).zip(records) {
        for (col, name) in (0u16..).zip(COLUMNS) {
            match &r[name] {
                Value::Null => {}
                Value::Number(n) => {
                    sheet.write_number(row, col, n.as_f64().unwrap_or(0.0))?;
                }
                other => {
                    sheet.write_string(row, col, text(other))?;
                }
            }
        }
    }
    book.save_to_buffer()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        assert_eq!(csv_field("201"), "201");
        assert_eq!(csv_field("+390612"), "+390612");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(csv_field("-cmd"), "'-cmd");
        let rows =
            csv(&[json!({"unique_id": "1.0", "duration": 5, "caller": "201", "anonymous": 0})]);
        let mut lines = rows.lines();
        assert_eq!(lines.next(), Some(COLUMNS.join(",").as_str()));
        let cells: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
        assert_eq!(cells.len(), COLUMNS.len());
        assert_eq!(
            (cells[0], cells[9], cells[11], cells[14]),
            ("1.0", "201", "0", "5")
        );
    }

    #[test]
    fn xlsx_is_a_zip_workbook() {
        let bytes = xlsx(&[json!({"unique_id": "1.0", "duration": 5})]).unwrap();
        assert_eq!(&bytes[..2], b"PK");
    }
}
