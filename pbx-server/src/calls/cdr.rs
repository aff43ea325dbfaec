//! Building the call record (seed §24) as a call moves through the numbering plan.

use crate::directory::Extension;
use crate::store::{CdrDetail, CdrRecord};

/// Main-record outcome codes (seed §24.6).
pub mod status {
    /// Answered.
    pub const OK: &str = "OK";
    /// Caller hung up before answer.
    pub const CANCELED: &str = "CANCELED";
    /// Nobody answered.
    pub const NOANSWER: &str = "NOANSWER";
    /// Destination busy.
    pub const BUSY: &str = "BUSY";
    /// No destination.
    pub const FAILED: &str = "FAILED";
    /// Destination unavailable.
    pub const UNAVAILABLE: &str = "UNAVAILABLE";
}

/// Detail exit causes (seed §24.7) used by the engine.
pub mod cause {
    /// Answered, then normal clearing.
    pub const NCC: &str = "NCC";
    /// Caller hung up before answer.
    pub const CANCELED: &str = "CANCELED";
    /// No destination.
    pub const FAILED: &str = "FAILED";
    /// Picked up by another extension.
    pub const PICKUP: &str = "PICKUP";
    /// Parked in a park slot.
    pub const PARKED: &str = "PARKED";
    /// Destination unavailable.
    pub const UNAVAILABLE: &str = "UNAVAILABLE";
    /// Redirected by the unconditional forward.
    pub const UFWD: &str = "UFWD";
    /// Redirected by a conditional forward (busy, no answer, unavailable).
    pub const CFWD: &str = "CFWD";
    /// Blind transfer.
    pub const BLINDXFER: &str = "BLINDXFER";
    /// Attended transfer completed.
    pub const ATXFER: &str = "ATXFER";
    /// Attended transfer refused by the target.
    pub const ATXFER_REFUSED: &str = "ATXFER_REFUSED";
    /// Attended transfer: the target was busy.
    pub const ATXFER_BUSY: &str = "ATXFER_BUSY";
    /// Attended transfer: the target was unavailable.
    pub const ATXFER_UNAVAILABLE: &str = "ATXFER_UNAVAILABLE";
    /// Attended transfer: the target did not answer.
    pub const ATXFER_NOANSWER: &str = "ATXFER_NOANSWER";
}

/// Who started a call, as the record shows it.
#[derive(Debug, Clone)]
pub struct Origin {
    /// Calling extension number.
    pub caller: String,
    /// Its display name.
    pub caller_name: Option<String>,
    /// SIP account used (`src_peer_name`).
    pub peer_name: String,
    /// Source `ip:port` of the INVITE.
    pub ip_port: String,
}

/// A new open record for a call from an extension.
pub fn open(
    unique_id: String,
    tenant: &str,
    start_ms: i64,
    origin: Origin,
    called: &str,
) -> CdrRecord {
    CdrRecord {
        unique_id,
        tenant: tenant.to_string(),
        source_type: "local_exten".into(),
        destination_type: String::new(),
        status: None,
        start_ms,
        channel_up_ms: None,
        answer_ms: None,
        end_ms: None,
        answered_by: None,
        caller: origin.caller,
        caller_name: origin.caller_name,
        anonymous: false,
        called: called.to_string(),
        called_name: None,
        duration_s: None,
        bill_ms: None,
        src_peer_name: Some(origin.peer_name),
        src_ip_port: Some(origin.ip_port),
        recovered: false,
        details: Vec::new(),
    }
}

/// Opens a detail row for ringing `ext` on behalf of `source` (the number that reaches it:
/// the caller, or the party kept by a transfer).
pub fn enter_extension(cdr: &mut CdrRecord, ext: &Extension, source: &str, now_ms: i64) {
    if cdr.destination_type.is_empty() {
        cdr.destination_type = "local_exten".into();
        cdr.called_name = Some(ext.name.clone()).filter(|n| !n.is_empty());
    }
    let seq = cdr.details.len() as i64;
    cdr.details.push(CdrDetail {
        seq,
        source_num: source.to_string(),
        anonymous: false,
        destination_type: "local_exten".into(),
        destination_id: ext.number.clone(),
        destination_name: Some(ext.name.clone()).filter(|n| !n.is_empty()),
        destination_num: Some(ext.number.clone()),
        enter_ms: now_ms,
        enqueue_ms: None,
        answer_ms: None,
        exit_ms: None,
        exit_cause: None,
        answered_by: None,
        waiting_time_s: None,
    });
}

/// Opens a `queue` step (seed §24.3: entered and enqueued at once, there is no welcome
/// message); returns its index among the details.
pub fn enter_queue(
    cdr: &mut CdrRecord,
    number: &str,
    name: &str,
    source: &str,
    now_ms: i64,
) -> usize {
    if cdr.destination_type.is_empty() {
        cdr.destination_type = "queue".into();
        cdr.called_name = Some(name.to_string()).filter(|n| !n.is_empty());
    }
    let seq = cdr.details.len();
    cdr.details.push(CdrDetail {
        seq: seq as i64,
        source_num: source.to_string(),
        anonymous: false,
        destination_type: "queue".into(),
        destination_id: number.to_string(),
        destination_name: Some(name.to_string()).filter(|n| !n.is_empty()),
        destination_num: None,
        enter_ms: now_ms,
        enqueue_ms: Some(now_ms),
        answer_ms: None,
        exit_ms: None,
        exit_cause: None,
        answered_by: None,
        waiting_time_s: None,
    });
    seq
}

/// Opens a `callg` step (a ring group).
pub fn enter_group(cdr: &mut CdrRecord, number: &str, name: &str, source: &str, now_ms: i64) {
    if cdr.destination_type.is_empty() {
        cdr.destination_type = "callg".into();
        cdr.called_name = Some(name.to_string()).filter(|n| !n.is_empty());
    }
    let seq = cdr.details.len() as i64;
    cdr.details.push(CdrDetail {
        seq,
        source_num: source.to_string(),
        anonymous: false,
        destination_type: "callg".into(),
        destination_id: number.to_string(),
        destination_name: Some(name.to_string()).filter(|n| !n.is_empty()),
        destination_num: None,
        enter_ms: now_ms,
        enqueue_ms: None,
        answer_ms: None,
        exit_ms: None,
        exit_cause: None,
        answered_by: None,
        waiting_time_s: None,
    });
}

/// Opens a `service` step (a feature code the PBX answers itself).
pub fn enter_service(cdr: &mut CdrRecord, service: &str, detail: &str, source: &str, now_ms: i64) {
    if cdr.destination_type.is_empty() {
        cdr.destination_type = "service".into();
    }
    let seq = cdr.details.len() as i64;
    cdr.details.push(CdrDetail {
        seq,
        source_num: source.to_string(),
        anonymous: false,
        destination_type: "service".into(),
        destination_id: service.to_string(),
        destination_name: Some(detail.to_string()).filter(|n| !n.is_empty()),
        destination_num: None,
        enter_ms: now_ms,
        enqueue_ms: None,
        answer_ms: None,
        exit_ms: None,
        exit_cause: None,
        answered_by: None,
        waiting_time_s: None,
    });
}

/// Marks the current step answered by `by`, and the call too unless it was answered before
/// (a transferred call keeps its first answer).
pub fn answer(cdr: &mut CdrRecord, by: &str, now_ms: i64) {
    if cdr.answer_ms.is_none() {
        // A channel the PBX answered earlier (a queue's music) keeps that time.
        cdr.channel_up_ms.get_or_insert(now_ms);
        cdr.answer_ms = Some(now_ms);
        cdr.answered_by = Some(by.to_string());
    }
    if let Some(d) = cdr.details.last_mut() {
        d.answer_ms = Some(now_ms);
        d.answered_by = Some(by.to_string());
        d.waiting_time_s = Some((now_ms - d.enter_ms).max(0) / 1000);
    }
}

/// Closes the current step with an exit cause (seed §24.7).
pub fn exit_step(cdr: &mut CdrRecord, cause: &str, now_ms: i64) {
    if let Some(d) = cdr.details.last_mut() {
        if d.exit_ms.is_none() {
            d.exit_ms = Some(now_ms);
            d.exit_cause = Some(cause.to_string());
        }
    }
}

/// Closes the record. A call that was answered at some point ends `OK` whatever ended its
/// last step (seed §24.6: "ended after being answered").
pub fn close(cdr: &mut CdrRecord, status: &str, step_cause: &str, now_ms: i64) {
    exit_step(cdr, step_cause, now_ms);
    let status = if cdr.answer_ms.is_some() {
        status::OK
    } else {
        status
    };
    cdr.status = Some(status.to_string());
    cdr.end_ms = Some(now_ms);
    cdr.duration_s = Some((now_ms - cdr.start_ms).max(0) / 1000);
    cdr.bill_ms = Some(cdr.answer_ms.map(|a| (now_ms - a).max(0)).unwrap_or(0));
}
