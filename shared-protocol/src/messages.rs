//! The frames on the wire. Every frame is one JSON object whose `type` field names it.

use crate::callcenter::*;
use crate::domain::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Commands are matched to their `result` or `error` by this id, chosen by the client.
pub type CommandId = u32;

/// A frame from a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    /// First frame of every connection.
    Login {
        /// Username.
        user: String,
        /// Password.
        password: String,
        /// Tenant domain; `default` when absent.
        #[serde(default)]
        tenant: Option<String>,
        /// The last `seq` this client saw: the server replays what came after it,
        /// or sends a fresh snapshot when that fell out of its replay window.
        #[serde(default)]
        #[ts(type = "number | null")]
        resume_from: Option<u64>,
    },
    /// Liveness probe; the server answers `pong`.
    Ping,
    /// Answer to the server's `ping`.
    Pong,
    /// A command.
    Command {
        /// Echoed in the `result` or `error`.
        id: CommandId,
        /// What to do.
        command: Command,
    },
}

/// Commands a logged-in user may send. Each gets exactly one `result` or `error`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(tag = "name", rename_all = "snake_case")]
pub enum Command {
    /// Click-to-call: rings the user's own device first (showing `number`), and when it answers
    /// calls `number`.
    Dial {
        /// What to call.
        number: String,
    },
    /// Ends a call.
    Hangup {
        /// Call id.
        call: String,
    },
    /// Puts the other party of a call on hold.
    Hold {
        /// Call id.
        call: String,
    },
    /// Takes a call off hold.
    Resume {
        /// Call id.
        call: String,
    },
    /// Transfers the other party of `call`: blind to `number`, or attended to the other party of
    /// `consult` (a second call of the same user). Exactly one of the two.
    Transfer {
        /// The call whose other party is transferred.
        call: String,
        /// Blind transfer target.
        #[serde(default)]
        number: Option<String>,
        /// Attended transfer: the consultation call.
        #[serde(default)]
        consult: Option<String>,
    },
    /// Directed pickup: answers, on the user's device, the call ringing at `extension`.
    Pickup {
        /// The ringing extension.
        extension: String,
    },
    /// Turns do-not-disturb on or off.
    SetDnd {
        /// Defaults to the user's own extension; others need the supervisor right.
        #[serde(default)]
        extension: Option<String>,
        /// On or off.
        enabled: bool,
    },
    /// Sets or clears a call forward.
    SetForward {
        /// Defaults to the user's own extension; others need the supervisor right.
        #[serde(default)]
        extension: Option<String>,
        /// Which forward.
        kind: ForwardKind,
        /// Target number; `null` turns the forward off.
        #[serde(default)]
        target: Option<String>,
    },
    /// Sets the user's chosen presence.
    SetPresence {
        /// State.
        state: PresenceState,
        /// Status message.
        #[serde(default)]
        message: Option<String>,
    },
    /// One page of the user's call history, newest first.
    History {
        /// Only records older than this start time (ms); the first page when absent.
        #[serde(default)]
        #[ts(type = "number | null")]
        before_ms: Option<i64>,
        /// Page size (1–200, default 50).
        #[serde(default)]
        limit: Option<u32>,
        /// Only missed calls.
        #[serde(default)]
        missed_only: bool,
    },
    /// Joins a queue as a dynamic member (agent log-in).
    QueueLogin {
        /// Queue number.
        queue: String,
        /// Defaults to the user's own extension; others need the supervisor right.
        #[serde(default)]
        extension: Option<String>,
        /// Penalty in this queue (lower rings first); 0 when absent.
        #[serde(default)]
        penalty: Option<u32>,
    },
    /// Leaves a queue joined with `queue_login` (configured members cannot leave).
    QueueLogout {
        /// Queue number.
        queue: String,
        /// Defaults to the user's own extension; others need the supervisor right.
        #[serde(default)]
        extension: Option<String>,
    },
    /// Pauses an agent in one queue, or in all of its queues.
    QueuePause {
        /// Queue number; every queue of the agent when absent.
        #[serde(default)]
        queue: Option<String>,
        /// Defaults to the user's own extension; others need the supervisor right.
        #[serde(default)]
        extension: Option<String>,
        /// Why (at most 64 characters).
        #[serde(default)]
        reason: Option<String>,
    },
    /// Ends an agent's pause in one queue, or in all of its queues.
    QueueResume {
        /// Queue number; every queue of the agent when absent.
        #[serde(default)]
        queue: Option<String>,
        /// Defaults to the user's own extension; others need the supervisor right.
        #[serde(default)]
        extension: Option<String>,
    },
}

/// Stable error codes. Clients branch on these; the message is for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame is not JSON or not a known message.
    BadRequest,
    /// A command's arguments are missing, contradictory or malformed.
    BadArguments,
    /// Sent before a successful `login`.
    NotLoggedIn,
    /// Wrong user or password, or no CTI access.
    AuthFailed,
    /// Too many failed logins from this address; try later.
    RateLimited,
    /// The user's role does not allow it.
    PermissionDenied,
    /// No such call or extension.
    NotFound,
    /// The call or extension is not in a state that allows it.
    InvalidState,
    /// The user's extension has no registered device to ring.
    NoDevice,
    /// The user's licence seat does not include it (a Free user asking for a Pro feature).
    NotLicensed,
    /// The server failed; nothing was changed.
    Internal,
}

/// A frame from the server.
// A frame lives from being built to being serialised (or from parsing to being applied), one
// at a time, and snapshots are rare: boxing the big variant would cost every user an API
// change for no memory won.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    /// The whole visible state, sent after login (and after a resume that fell out of the
    /// replay window). Events that follow have `seq` greater than this one's.
    Snapshot(Snapshot),
    /// A resume succeeded: the events after `from` follow, then live events.
    Resumed {
        /// The client's `resume_from`.
        #[ts(type = "number")]
        from: u64,
        /// How many events are replayed.
        replayed: u32,
    },
    /// A change. `seq` strictly increases along a connection and across resumes.
    Event {
        /// Sequence number (gaps are events the user may not see).
        #[ts(type = "number")]
        seq: u64,
        /// What changed.
        event: Event,
    },
    /// A command succeeded.
    Result {
        /// The command's id.
        id: CommandId,
        /// What it returns, if anything.
        data: Option<CommandData>,
    },
    /// A command or frame failed.
    Error {
        /// The command's id, when the frame carried one.
        id: Option<CommandId>,
        /// Stable code.
        code: ErrorCode,
        /// Human-readable explanation.
        message: String,
    },
    /// Liveness probe; answer `pong`.
    Ping,
    /// Answer to the client's `ping`.
    Pong,
}

/// The state a client starts from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
pub struct Snapshot {
    /// Protocol version (see `PROTOCOL_VERSION`).
    pub protocol: u32,
    /// Sequence number of the last event included.
    #[ts(type = "number")]
    pub seq: u64,
    /// Who is logged in.
    pub user: UserInfo,
    /// Every extension of the tenant.
    pub extensions: Vec<ExtensionState>,
    /// Services of the user's own extension.
    pub services: Option<Services>,
    /// Calls in progress the user may see.
    pub calls: Vec<CallInfo>,
    /// The latest history entries (up to 20); page further with `history`.
    pub history: Vec<HistoryEntry>,
    /// Queues and agents: all of them for supervisors, the user's own agent record for an
    /// agent; absent for everyone else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub call_center: Option<CallCenterView>,
    /// The call park slots (absent when the PBX has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub park_slots: Option<Vec<ParkSlot>>,
    /// The server's clock when it sent the snapshot (milliseconds since the Unix epoch), so a
    /// client can count ages (a caller's wait, a pause) on the server's clock rather than its
    /// own; absent from servers that do not send it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    pub server_ms: Option<i64>,
}

/// A change, inside an `event` frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// An extension's lamp changed.
    Lamp {
        /// Extension number.
        extension: String,
        /// New lamp.
        lamp: Lamp,
        /// Who it rings with or talks to, when visible.
        peer: Option<Party>,
        /// Direction of that call.
        direction: Option<Direction>,
    },
    /// A device registered, unregistered or changed address.
    Account {
        /// Extension number.
        extension: String,
        /// The device.
        account: AccountState,
    },
    /// A user's presence changed (chosen state or its combination with the line).
    Presence {
        /// Extension number.
        extension: String,
        /// New presence.
        presence: Presence,
    },
    /// Services of an extension changed. Sent for the user's own extension, or every
    /// extension to supervisors; `dnd` of others travels in `extension_dnd`.
    Services {
        /// Extension number.
        extension: String,
        /// New services.
        services: Services,
    },
    /// DND of any extension changed (the lamp field shows it).
    ExtensionDnd {
        /// Extension number.
        extension: String,
        /// On or off.
        dnd: bool,
    },
    /// A visible call started or changed.
    Call {
        /// The call now.
        call: CallInfo,
    },
    /// A visible call ended.
    CallEnded {
        /// Call id.
        id: String,
    },
    /// A call of the user's extension ended and entered its history.
    History {
        /// The new entry.
        entry: HistoryEntry,
    },
    /// A queue's live state changed (waiting callers, members' states, statistics).
    /// Supervisors only. Replaces the queue with the same `number`.
    Queue {
        /// The queue now.
        queue: QueueStatus,
    },
    /// An agent's state, memberships or pauses changed. Sent to supervisors and to the agent.
    /// Replaces the agent with the same `extension`; an agent with no queue left is removed.
    Agent {
        /// The agent now.
        agent: AgentStatus,
    },
    /// A call was parked in a slot, or left it (retrieved, timed out, hung up).
    ParkSlot {
        /// The slot now.
        slot: ParkSlot,
    },
}

/// What a successful command returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CommandData {
    /// A call was started (`dial`, `pickup`).
    Call {
        /// Its id.
        call: String,
    },
    /// A page of history.
    History {
        /// Newest first.
        entries: Vec<HistoryEntry>,
        /// Pass as `before_ms` for the next page; `null` at the end.
        #[ts(type = "number | null")]
        next_before_ms: Option<i64>,
    },
}

impl ServerMsg {
    /// An error frame.
    pub fn error(id: Option<CommandId>, code: ErrorCode, message: impl Into<String>) -> ServerMsg {
        ServerMsg::Error {
            id,
            code,
            message: message.into(),
        }
    }
}
