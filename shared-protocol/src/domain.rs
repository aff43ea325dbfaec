//! The domain types every client shows: lamps, presence, services, calls, history.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// The line state of an extension, as a busy-lamp field shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "snake_case")]
pub enum Lamp {
    /// Registered and on no call.
    Idle,
    /// A call is ringing at the extension, or the extension is calling out and the other side rings.
    Ringing,
    /// In conversation.
    Busy,
    /// Has put its call on hold (and has no other call in conversation).
    Hold,
    /// No device registered.
    Unavailable,
}

/// Which way a call goes, seen from the extension it is reported for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The extension receives the call.
    Inbound,
    /// The extension placed the call.
    Outbound,
}

/// The other end of a call: a number and, when known, a name.
/// Numbers outside the PBX are masked (`0612345xxx`) for viewers without the privacy right.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, TS)]
pub struct Party {
    /// Extension or external number.
    pub number: String,
    /// Display name, when known.
    pub name: Option<String>,
}

/// A SIP account of an extension (a device).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, TS)]
pub struct AccountState {
    /// SIP username.
    pub username: String,
    /// Whether a registration is live.
    pub registered: bool,
    /// `ip:port` the device registered from.
    pub address: Option<String>,
    /// The device's `User-Agent`.
    pub user_agent: Option<String>,
    /// Round trip of the last OPTIONS ping, in milliseconds.
    pub latency_ms: Option<u32>,
}

/// What a user chose to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "snake_case")]
pub enum PresenceState {
    /// Reachable.
    Available,
    /// Away from the desk.
    Away,
    /// Busy, do not disturb with chat.
    Busy,
    /// Shown as offline.
    Offline,
}

/// What others see: the chosen state combined with the line state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "snake_case")]
pub enum EffectivePresence {
    /// Available and on no call.
    Available,
    /// Chosen away.
    Away,
    /// Chosen busy, or DND.
    Busy,
    /// On a call (ringing, talking or holding), whatever was chosen unless offline.
    OnThePhone,
    /// Chosen offline, or no device and no CTI session.
    Offline,
}

/// Presence of the user of an extension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, TS)]
pub struct Presence {
    /// Chosen by the user.
    pub state: PresenceState,
    /// Free-text status message.
    pub message: Option<String>,
    /// The chosen state combined with the lamp and DND.
    pub effective: EffectivePresence,
}

/// The four call forwards of an extension, each with its target (`null` when off).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema, TS)]
pub struct Forwards {
    /// Every call (CFIM).
    pub unconditional: Option<String>,
    /// When busy (CFBS).
    pub busy: Option<String>,
    /// When not answered in the ring time (CFNA).
    pub no_answer: Option<String>,
    /// When no device is reachable (CFUN).
    pub unavailable: Option<String>,
}

/// Which forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "snake_case")]
pub enum ForwardKind {
    /// Every call.
    Unconditional,
    /// When busy.
    Busy,
    /// When not answered.
    NoAnswer,
    /// When unreachable.
    Unavailable,
}

/// Telephone services of an extension.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema, TS)]
pub struct Services {
    /// Do not disturb: the extension counts as unavailable (its unavailable forward or
    /// overflow runs), as in the seed.
    pub dnd: bool,
    /// Call forwards.
    pub forwards: Forwards,
    /// Ring the user's mobile number too.
    pub fork2mobile: bool,
}

/// A call park slot (seed §10): `hold` while a call is parked in it, `idle` when free.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, TS)]
pub struct ParkSlot {
    /// The slot number (dialled to retrieve the call).
    pub slot: String,
    /// `idle` or `hold`.
    pub lamp: Lamp,
    /// The party parked there, when the viewer may see it.
    pub peer: Option<Party>,
}

/// Everything a client shows about one extension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, TS)]
pub struct ExtensionState {
    /// Extension number.
    pub number: String,
    /// Display name.
    pub name: String,
    /// Line state.
    pub lamp: Lamp,
    /// Who it is ringing with or talking to, when the viewer may see it.
    pub peer: Option<Party>,
    /// Direction of that call, seen from this extension.
    pub direction: Option<Direction>,
    /// Do not disturb.
    pub dnd: bool,
    /// Presence of its user.
    pub presence: Presence,
    /// Its devices.
    pub accounts: Vec<AccountState>,
    /// Its services: given for the user's own extension and, to supervisors, for every
    /// extension; `null` otherwise.
    pub services: Option<Services>,
}

/// State of a call in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "snake_case")]
pub enum CallState {
    /// The callee is being rung.
    Ringing,
    /// Answered, both sides talking.
    Connected,
    /// Answered, one side has put it on hold.
    Held,
}

/// Which end of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "snake_case")]
pub enum CallSide {
    /// Who placed the call.
    Caller,
    /// Who was called.
    Callee,
}

/// A call in progress that the viewer may see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, TS)]
pub struct CallInfo {
    /// Call id (the call record's unique id); commands name calls by it.
    pub id: String,
    /// Who placed it.
    pub caller: Party,
    /// Who is rung or answered.
    pub callee: Party,
    /// Where it is.
    pub state: CallState,
    /// Who put it on hold, when `state` is `held`.
    pub held_by: Option<CallSide>,
    /// Start, milliseconds since the Unix epoch.
    #[ts(type = "number")]
    pub started_ms: i64,
    /// Answer time, when answered.
    #[ts(type = "number | null")]
    pub answered_ms: Option<i64>,
}

/// One past call of the user, from the call records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, TS)]
pub struct HistoryEntry {
    /// The record's unique id.
    pub id: String,
    /// Start, milliseconds since the Unix epoch.
    #[ts(type = "number")]
    pub started_ms: i64,
    /// Seen from the user's extension.
    pub direction: Direction,
    /// The other party.
    pub other: Party,
    /// The record's status (`OK`, `NOANSWER`, `BUSY`, `CANCELED`, `FAILED`, `UNAVAILABLE`, `??`).
    pub status: String,
    /// Whether the user's extension answered (inbound) or the callee answered (outbound).
    pub answered: bool,
    /// Inbound and not answered by the user.
    pub missed: bool,
    /// Seconds from start to end.
    #[ts(type = "number")]
    pub duration_s: i64,
    /// Seconds of conversation.
    #[ts(type = "number")]
    pub talk_s: i64,
}

/// What a user may do and see, sent at login so that clients hide what would be refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, TS)]
pub struct Permissions {
    /// Control calls (hold, transfer, pickup, hang up) of their own extension.
    pub call_control: bool,
    /// See external numbers unmasked.
    pub privacy: bool,
    /// See and act on every extension's calls and services (supervisors, administrators).
    pub supervisor: bool,
}

/// The desktop app's modes (the seed's KalliopeCTI Free, Pro and Phone), in increasing order:
/// each includes the one before it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema, TS,
)]
#[serde(rename_all = "snake_case")]
pub enum CtiMode {
    /// No seat needed: directory with presence, history, click-to-call, incoming-call alert,
    /// custom URLs, queue functions. No call control, BLF transfers or phone services.
    Free,
    /// A Pro seat: adds call control (hold, transfers blind and attended, pickup, park), DND and
    /// forwards, the dial pad.
    Pro,
    /// A Phone seat: Pro plus the built-in softphone.
    Phone,
}

/// The licence seats a user holds on the PBX, sent at login (the app checks them at every
/// start, as the seed's KCTI does).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, TS)]
pub struct Licence {
    /// The highest mode the user's seat allows; the desktop app lets the user pick this one or
    /// a lower one. Commands outside it are refused with `not_licensed`.
    pub mode: CtiMode,
    /// The user holds a call-center seat (the seed's "Licenza Call Center").
    pub call_center: bool,
}

/// The logged-in user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, TS)]
pub struct UserInfo {
    /// Username.
    pub username: String,
    /// Tenant domain.
    pub tenant: String,
    /// The user's extension, if any.
    pub extension: Option<String>,
    /// Role name.
    pub role: String,
    /// What the role allows.
    pub permissions: Permissions,
    /// The user's licence seats. Absent from servers before seats existed: treat as every
    /// mode allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub licence: Option<Licence>,
}
