//! The two channels around the SIP core task:
//! - `Control`: requests into the core from the CTI server and the REST API (call control,
//!   services, reloads), each answered on a oneshot;
//! - `BusEvent`: what the core reports after every step (lamps, calls, registrations,
//!   services, closed call records), read by the CTI hub.
//!
//! The core never waits on either: it answers controls between SIP events and pushes bus
//! events into an unbounded channel whose reader (the hub) only updates memory.

use crate::lamps::{CallView, LampChange};
use crate::store::CdrRecord;
use shared_protocol::{AccountState, Services};
use tokio::sync::oneshot;

/// A call-control operation. Calls are named by their record's unique id (the CTI call id).
/// `by` is the extension acting; the engine checks that it is a party of the call where the
/// operation needs one (the CTI layer has already checked the user's role).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallOp {
    /// Click-to-call: ring `by`'s devices (showing `number`); when one answers, call `number`.
    Dial {
        /// Extension placing the call.
        by: String,
        /// What to call.
        number: String,
    },
    /// End a call (ringing or connected).
    Hangup {
        /// Call id.
        call: String,
    },
    /// `by` puts the other party of `call` on hold.
    Hold {
        /// Call id.
        call: String,
        /// Acting extension.
        by: String,
    },
    /// `by` takes `call` off hold.
    Resume {
        /// Call id.
        call: String,
        /// Acting extension.
        by: String,
    },
    /// `by` sends the other party of `call` to `target` and leaves.
    BlindTransfer {
        /// Call id.
        call: String,
        /// Acting extension.
        by: String,
        /// Where to.
        target: String,
    },
    /// `by` connects the other party of `call` with the other party of `consult`, and leaves.
    AttendedTransfer {
        /// The first call.
        call: String,
        /// The consultation call.
        consult: String,
        /// Acting extension.
        by: String,
    },
    /// `by` answers the call ringing at `ringing` on its own devices.
    Pickup {
        /// Acting extension.
        by: String,
        /// The ringing extension.
        ringing: String,
    },
    /// A call still ringing an extension rings `target` instead (the seed's redirect of an
    /// unanswered call); the rung step ends `BLINDXFER`.
    Redirect {
        /// Call id.
        call: String,
        /// Where to.
        target: String,
    },
}

/// What a successful call operation returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallOpOk {
    /// Done.
    Done,
    /// A call was started or taken over (its id).
    Call(String),
}

/// Why a call operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallOpError {
    /// No such call or extension.
    #[error("not found: {0}")]
    NotFound(String),
    /// The call is not in a state that allows it.
    #[error("invalid state: {0}")]
    InvalidState(String),
    /// The acting extension has no registered device.
    #[error("no registered device for extension {0}")]
    NoDevice(String),
    /// Arguments that cannot work (e.g. transfer to the same call).
    #[error("bad arguments: {0}")]
    BadArguments(String),
    /// The acting extension is not a party of the call.
    #[error("extension {0} is not a party of this call")]
    NotAParty(String),
}

/// A change of an extension's services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceChange {
    /// Do not disturb on or off.
    Dnd(bool),
    /// Set (Some) or clear (None) one forward.
    Forward(shared_protocol::ForwardKind, Option<String>),
    /// Fork to mobile on or off.
    Fork2Mobile(bool),
}

/// What the core currently knows, for a hub (re)starting.
#[derive(Debug, Clone, Default)]
pub struct CoreState {
    /// Every extension's lamp.
    pub lamps: Vec<LampChange>,
    /// Calls in progress.
    pub calls: Vec<CallView>,
    /// Every account's registration, with its tenant and extension.
    pub accounts: Vec<(String, String, AccountState)>,
    /// Call park slots, with their tenant.
    pub park_slots: Vec<(String, String)>,
    /// Every extension's services, with its tenant.
    pub services: Vec<(String, String, Services)>,
    /// Every queue, with its tenant.
    pub queues: Vec<(String, shared_protocol::QueueStatus)>,
    /// Every agent, with its tenant.
    pub agents: Vec<(String, shared_protocol::AgentStatus)>,
}

/// An agent operation on the call center (docs/decisions/010-call-center.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueOp {
    /// `extension` joins `queue` as a dynamic member.
    Login {
        /// Agent.
        extension: String,
        /// Queue number.
        queue: String,
        /// Lower rings first.
        penalty: u32,
    },
    /// `extension` leaves `queue` (dynamic members only).
    Logout {
        /// Agent.
        extension: String,
        /// Queue number.
        queue: String,
    },
    /// `extension` pauses in `queue`, or in all of its queues.
    Pause {
        /// Agent.
        extension: String,
        /// Queue number; all when `None`.
        queue: Option<String>,
        /// Why.
        reason: Option<String>,
    },
    /// `extension` ends its pause in `queue`, or in all of its queues.
    Resume {
        /// Agent.
        extension: String,
        /// Queue number; all when `None`.
        queue: Option<String>,
    },
}

/// A call-center configuration for the core (`Control::ReloadCallCenter`).
#[derive(Debug, Default)]
pub struct CallCenterReload {
    /// Queues with their members.
    pub queues: Vec<crate::callcenter::QueueConfig>,
    /// Ring groups by number.
    pub groups: std::collections::HashMap<String, crate::calls::RingGroup>,
    /// What callers waiting in each queue hear, when not ringback.
    pub music: std::collections::HashMap<String, std::sync::Arc<Vec<i16>>>,
}

/// A request into the core task.
#[derive(Debug)]
pub enum Control {
    /// Call control.
    Call {
        /// Tenant domain.
        tenant: String,
        /// What to do.
        op: CallOp,
        /// The answer.
        reply: oneshot::Sender<Result<CallOpOk, CallOpError>>,
    },
    /// Change one service of an extension.
    SetService {
        /// Tenant domain.
        tenant: String,
        /// Extension number.
        extension: String,
        /// The change.
        change: ServiceChange,
        /// The services after the change.
        reply: oneshot::Sender<Result<Services, CallOpError>>,
    },
    /// Replace the configuration (extensions, accounts, busy levels) with one freshly loaded
    /// from the store; live registrations of accounts that still exist are kept.
    ReloadDirectory {
        /// Tenant domain.
        tenant: String,
        /// The tenant's configuration (`Store::load_directory_of`).
        directory: Box<crate::store::Directory>,
        /// Done, or `NotFound` for a tenant this core does not serve.
        reply: oneshot::Sender<Result<(), CallOpError>>,
    },
    /// Replace the call-center configuration (queues and their configured members, ring
    /// groups, queue music) with one freshly loaded from the store; live state stays
    /// (`CallCenter::reconfigure`).
    ReloadCallCenter {
        /// Tenant domain.
        tenant: String,
        /// The new configuration.
        reload: Box<CallCenterReload>,
        /// Done, or `NotFound` for a tenant this core does not serve.
        reply: oneshot::Sender<Result<(), CallOpError>>,
    },
    /// An agent operation.
    Queue {
        /// Tenant domain.
        tenant: String,
        /// What to do.
        op: QueueOp,
        /// Done, or why not.
        reply: oneshot::Sender<Result<(), CallOpError>>,
    },
    /// The current state, for a hub starting.
    State {
        /// The answer.
        reply: oneshot::Sender<CoreState>,
    },
}

/// What the core reports.
#[derive(Debug, Clone)]
pub enum BusEvent {
    /// An extension's lamp changed.
    Lamp(LampChange),
    /// A call started or changed.
    Call(CallView),
    /// A call ended (engine id and unique id).
    CallEnded {
        /// Tenant domain.
        tenant: String,
        /// Unique id.
        unique_id: String,
    },
    /// A device's registration changed.
    Account {
        /// Tenant domain.
        tenant: String,
        /// Extension number.
        extension: String,
        /// The device now.
        account: AccountState,
    },
    /// An extension's services changed.
    Services {
        /// Tenant domain.
        tenant: String,
        /// Extension number.
        extension: String,
        /// Services now.
        services: Services,
    },
    /// A call record was closed (it enters the history of its parties).
    CallRecord(Box<CdrRecord>),
    /// A queue's live state changed.
    Queue {
        /// Tenant domain.
        tenant: String,
        /// The queue now.
        queue: Box<shared_protocol::QueueStatus>,
    },
    /// The configured extensions after a directory reload (created, deleted, renamed or
    /// renumbered ones); sent before the lamps that follow the reload.
    Directory {
        /// Tenant domain.
        tenant: String,
        /// Every extension now: number and display name.
        extensions: Vec<(String, String)>,
    },
    /// A queue was removed from the configuration.
    QueueRemoved {
        /// Tenant domain.
        tenant: String,
        /// Its number.
        number: String,
    },
    /// An agent's live state changed (no queues left: removed).
    Agent {
        /// Tenant domain.
        tenant: String,
        /// The agent now.
        agent: Box<shared_protocol::AgentStatus>,
    },
}
