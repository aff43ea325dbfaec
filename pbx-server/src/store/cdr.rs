//! Call records as the seed defines them (spec/seed-services-2.md §24.2–§24.7) and their JSON
//! export with the seed's field names.

use chrono::{SecondsFormat, TimeZone, Utc};
use serde_json::{json, Value};

/// One step of a call through the numbering plan (seed §24.3). `exit_ms` and `exit_cause`
/// (§24.7 codes, or `RECOVERED`) are `None` while the step is in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct CdrDetail {
    /// Order within the call, from 0.
    pub seq: i64,
    pub source_num: String,
    pub anonymous: bool,
    /// §24.5 code (`local_exten`, `service`, `queue`, `voicemail`, ...).
    pub destination_type: String,
    pub destination_id: String,
    pub destination_name: Option<String>,
    pub destination_num: Option<String>,
    pub enter_ms: i64,
    pub enqueue_ms: Option<i64>,
    pub answer_ms: Option<i64>,
    pub exit_ms: Option<i64>,
    pub exit_cause: Option<String>,
    pub answered_by: Option<String>,
    pub waiting_time_s: Option<i64>,
}

/// One call (seed §24.2). `status` (§24.6 codes) and `end_ms` are `None` while the call is up.
/// Times are epoch milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct CdrRecord {
    /// `<start epoch seconds>.<n>`, as in the seed.
    pub unique_id: String,
    /// Tenant domain.
    pub tenant: String,
    pub source_type: String,
    pub destination_type: String,
    pub status: Option<String>,
    pub start_ms: i64,
    /// Media up, i.e. answered by the PBX (service, IVR, queue) or the far end.
    pub channel_up_ms: Option<i64>,
    pub answer_ms: Option<i64>,
    pub end_ms: Option<i64>,
    pub answered_by: Option<String>,
    pub caller: String,
    pub caller_name: Option<String>,
    pub anonymous: bool,
    pub called: String,
    pub called_name: Option<String>,
    pub duration_s: Option<i64>,
    /// Billed (talk) time; exported as `bill_secs` with milliseconds.
    pub bill_ms: Option<i64>,
    pub src_peer_name: Option<String>,
    pub src_ip_port: Option<String>,
    /// Closed at start-up after a crash, not by the call itself.
    pub recovered: bool,
    /// Ordered by `seq`.
    pub details: Vec<CdrDetail>,
}

/// RFC 3339 UTC with milliseconds, or null.
fn datetime(ms: Option<i64>) -> Value {
    ms.and_then(|ms| Utc.timestamp_millis_opt(ms).single())
        .map(|t| Value::String(t.to_rfc3339_opts(SecondsFormat::Millis, true)))
        .unwrap_or(Value::Null)
}

impl CdrDetail {
    /// The detail row with the seed's `detail_*` export names.
    pub fn to_json(&self) -> Value {
        json!({
            "detail_source_num": self.source_num,
            "detail_anonymous": u8::from(self.anonymous),
            "detail_destination_type": self.destination_type,
            "detail_destination_id": self.destination_id,
            "detail_destination_name": self.destination_name,
            "detail_destination_num": self.destination_num,
            "detail_enter_datetime": datetime(Some(self.enter_ms)),
            "detail_enqueue_datetime": datetime(self.enqueue_ms),
            "detail_answer_datetime": datetime(self.answer_ms),
            "detail_exit_datetime": datetime(self.exit_ms),
            "detail_exit_cause": self.exit_cause,
            "detail_answered_by": self.answered_by,
            "detail_waiting_time": self.waiting_time_s,
        })
    }
}

impl CdrRecord {
    /// The record with the seed's export field names (times as RFC 3339 UTC strings,
    /// `anonymous` 0/1, `bill_secs` in seconds with milliseconds).
    pub fn to_json(&self) -> Value {
        json!({
            "unique_id": self.unique_id,
            "source_type": self.source_type,
            "destination_type": self.destination_type,
            "status": self.status,
            "start_datetime": datetime(Some(self.start_ms)),
            "channel_up_datetime": datetime(self.channel_up_ms),
            "answer_datetime": datetime(self.answer_ms),
            "end_datetime": datetime(self.end_ms),
            "answered_by": self.answered_by,
            "caller": self.caller,
            "caller_name": self.caller_name,
            "anonymous": u8::from(self.anonymous),
            "called": self.called,
            "called_name": self.called_name,
            "duration": self.duration_s,
            "bill_secs": self.bill_ms.map(|ms| ms as f64 / 1000.0),
            "src_peer_name": self.src_peer_name,
            "src_ip_port": self.src_ip_port,
            "recovered": self.recovered,
            "details": self.details.iter().map(CdrDetail::to_json).collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_uses_the_seed_names_and_formats() {
        let r = CdrRecord {
            unique_id: "1455902736.0".into(),
            tenant: "default".into(),
            source_type: "local_exten".into(),
            destination_type: "service".into(),
            status: Some("OK".into()),
            start_ms: 1_455_902_736_000,
            channel_up_ms: Some(1_455_902_736_000),
            answer_ms: Some(1_455_902_736_000),
            end_ms: Some(1_455_902_741_123),
            answered_by: Some("800".into()),
            caller: "202".into(),
            caller_name: None,
            anonymous: true,
            called: "800".into(),
            called_name: None,
            duration_s: Some(5),
            bill_ms: Some(5_123),
            src_peer_name: Some("202".into()),
            src_ip_port: None,
            recovered: false,
            details: Vec::new(),
        };
        let j = r.to_json();
        assert_eq!(j["start_datetime"], "2016-02-19T17:25:36.000Z");
        assert_eq!(j["end_datetime"], "2016-02-19T17:25:41.123Z");
        assert_eq!(j["bill_secs"], 5.123);
        assert_eq!(j["anonymous"], 1);
        assert_eq!(j["duration"], 5);
        assert_eq!(j["src_ip_port"], Value::Null);
        assert_eq!(j["details"], json!([]));
    }
}
