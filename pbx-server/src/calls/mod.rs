//! The call engine: a B2BUA with anchored media.
//!
//! An INVITE from an account (the A leg) to an extension forks one INVITE per registered
//! account of that extension (the B legs); the first 2xx wins and the others are
//! cancelled. Every leg is its own dialog with its own Call-ID and tags; SDP is rewritten so
//! that both sides send RTP to the relay. Busy, unavailable and no-answer conditions run
//! the extension's services (DND, forwards) and overflow actions. Call-control operations
//! (hold, transfers, click-to-call, pickup) act on calls by their record's unique id.

pub mod cdr;
pub mod dialog;
mod engine;
mod legs;

pub use engine::{Engine, Feature, FeatureCodes, QueueUpdate, RingGroup, Tier, PARK_TIMEOUT};

use crate::control::{CallOpError, ServiceChange};
use std::time::Instant;

/// Digits, `*`, `#` and a leading `+`: what a dial string or forward target may hold.
pub fn valid_number(n: &str) -> bool {
    let body = n.strip_prefix('+').unwrap_or(n);
    !body.is_empty()
        && body.len() <= 32
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || c == '*' || c == '#')
}

/// Checks a service change for `extension` before it is applied: a forward target must be
/// a dialable number other than the extension itself.
pub fn check_service_change(extension: &str, change: &ServiceChange) -> Result<(), CallOpError> {
    if let ServiceChange::Forward(_, Some(target)) = change {
        if !valid_number(target) {
            return Err(CallOpError::BadArguments(
                "forward target: digits, *, # and a leading + only".into(),
            ));
        }
        if target == extension {
            return Err(CallOpError::BadArguments(
                "an extension cannot forward to itself".into(),
            ));
        }
    }
    Ok(())
}

/// The time inputs of the engine: monotonic for timers, wall clock for records.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    /// Monotonic time.
    pub mono: Instant,
    /// Milliseconds since the Unix epoch.
    pub wall_ms: i64,
}

/// Why a ringing step ended without an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// The extension was busy (busy level, call limit or a 486 from every device).
    Busy,
    /// Nothing registered or reachable, or 480 from the devices.
    Unavailable,
    /// Ring timeout expired.
    NoAnswer,
}

impl Condition {
    /// Exit cause of the detail row and status of the record.
    pub fn code(self) -> &'static str {
        match self {
            Condition::Busy => "BUSY",
            Condition::Unavailable => "UNAVAILABLE",
            Condition::NoAnswer => "NOANSWER",
        }
    }

    /// Status sent to the caller when the overflow hangs up.
    pub fn sip_status(self) -> (u16, &'static str) {
        match self {
            Condition::Busy => (486, "Busy Here"),
            Condition::Unavailable => (480, "Temporarily Unavailable"),
            Condition::NoAnswer => (480, "No Answer"),
        }
    }
}

/// A change the engine reports after a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallUpdate {
    /// A call started or changed.
    Updated(crate::lamps::CallView),
    /// A call ended.
    Ended {
        /// Engine id.
        id: u64,
        /// Tenant domain.
        tenant: String,
        /// The record's unique id.
        unique_id: String,
    },
}
