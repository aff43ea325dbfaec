//! Plain records the store reads and writes.

use chrono::{SecondsFormat, TimeZone, Utc};
use serde_json::{json, Value};

/// A registered location (one per SIP account).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The SIP account.
    pub account_id: i64,
    /// Contact URI the device registered.
    pub contact: String,
    /// Source IP of the REGISTER (where calls are sent: NAT-safe).
    pub source_ip: String,
    /// Source port of the REGISTER.
    pub source_port: i64,
    /// `UDP` or `TCP`.
    pub transport: String,
    /// Expiry, epoch ms.
    pub expires_at_ms: i64,
    /// User-Agent header.
    pub user_agent: String,
    /// When registered, epoch ms.
    pub registered_at_ms: i64,
}

/// A user of the CTI/web/API (password kept as an argon2 hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Row id.
    pub id: i64,
    /// Login name.
    pub username: String,
    /// Linked extension number.
    pub extension: Option<String>,
    /// Web GUI access.
    pub gui_access: bool,
    /// CTI access.
    pub cti_access: bool,
    /// REST API access.
    pub api_access: bool,
    /// Role name.
    pub role: String,
}

/// One step of a call through the numbering plan (seed §24.3).
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct CdrDetail {
    pub seq: i64,
    pub source_num: String,
    pub anonymous: bool,
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

/// One call (seed §24.2). `status` and `end_ms` are `None` while the call is up.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct CdrRecord {
    pub unique_id: String,
    pub tenant: String,
    pub source_type: String,
    pub destination_type: String,
    pub status: Option<String>,
    pub start_ms: i64,
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
    pub bill_ms: Option<i64>,
    pub src_peer_name: Option<String>,
    pub src_ip_port: Option<String>,
    pub recovered: bool,
    pub details: Vec<CdrDetail>,
}

/// RFC 3339 UTC with milliseconds, or null.
pub(super) fn datetime(ms: Option<i64>) -> Value {
    ms.and_then(|ms| Utc.timestamp_millis_opt(ms).single())
        .map(|t| Value::String(t.to_rfc3339_opts(SecondsFormat::Millis, true)))
        .unwrap_or(Value::Null)
}

impl CdrRecord {
    /// The record with the seed's export field names.
    pub fn to_json(&self) -> Value {
        let details: Vec<Value> = self
            .details
            .iter()
            .map(|d| {
                json!({
                    "detail_source_num": d.source_num,
                    "detail_anonymous": u8::from(d.anonymous),
                    "detail_destination_type": d.destination_type,
                    "detail_destination_id": d.destination_id,
                    "detail_destination_name": d.destination_name,
                    "detail_destination_num": d.destination_num,
                    "detail_enter_datetime": datetime(Some(d.enter_ms)),
                    "detail_enqueue_datetime": datetime(d.enqueue_ms),
                    "detail_answer_datetime": datetime(d.answer_ms),
                    "detail_exit_datetime": datetime(d.exit_ms),
                    "detail_exit_cause": d.exit_cause,
                    "detail_answered_by": d.answered_by,
                    "detail_waiting_time": d.waiting_time_s,
                })
            })
            .collect();
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
            "details": details,
        })
    }
}
