//! Call-center types: queues, agents and their live statistics, as supervisors and agents see
//! them. Times are milliseconds since the Unix epoch; durations are milliseconds. Ages that
//! grow by themselves (a caller's wait, a pause in progress) travel as the instant they
//! started, so clients count them up without the server sending an event every second.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// How a queue picks the agents to ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "snake_case")]
pub enum QueueStrategy {
    /// Every free agent of the lowest penalty at once.
    Ringall,
    /// The first free agent in member order (penalties ignored).
    Linear,
    /// The free agent whose last answered call of this queue is the oldest.
    Leastrecent,
    /// The free agent with the fewest answered calls of this queue today.
    Fewestcalls,
    /// Round robin, starting after the agent tried last.
    Rrmemory,
    /// Round robin in member order, starting after the position tried last.
    Rrordered,
    /// A free agent at random.
    Random,
}

/// What an agent is doing, seen from one queue (or overall).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(rename_all = "snake_case")]
pub enum AgentState {
    /// Registered, idle, not paused: the queue may ring it.
    Free,
    /// A queue call is ringing at it.
    Ringing,
    /// On a call (a queue call or any other).
    Talking,
    /// Resting after a call of this queue (the queue's wrap-up time).
    Wrapup,
    /// Paused (see `paused`).
    Paused,
    /// No device registered.
    Unavailable,
}

/// A pause in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, TS)]
pub struct AgentPause {
    /// Why, as given by the agent or supervisor (`autopause` when the PBX paused an agent who
    /// did not answer); `null` when none was given.
    pub reason: Option<String>,
    /// Start of the pause.
    #[ts(type = "number")]
    pub since_ms: i64,
}

/// An agent's membership of one queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, TS)]
pub struct AgentQueue {
    /// Queue number.
    pub queue: String,
    /// Lower rings first.
    pub penalty: u32,
    /// Logged in at run time (a dynamic member), rather than configured.
    pub dynamic: bool,
    /// State in this queue.
    pub state: AgentState,
    /// The pause in progress in this queue.
    pub paused: Option<AgentPause>,
    /// Calls of this queue answered in the period.
    pub calls_taken: u32,
    /// Answer time of the last call of this queue.
    #[ts(type = "number | null")]
    pub last_call_ms: Option<i64>,
    /// Time paused in this queue in the period, pauses that ended only (add now − `since_ms`
    /// of the pause in progress).
    #[ts(type = "number")]
    pub pause_ms: i64,
}

/// One agent (an extension that is a member of at least one queue).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, TS)]
pub struct AgentStatus {
    /// Extension number.
    pub extension: String,
    /// Display name.
    pub name: String,
    /// Overall: `unavailable` without a device, `paused` when paused in every queue, else
    /// `talking`, `ringing`, `wrapup` (in any queue) or `free`.
    pub state: AgentState,
    /// Its queues, in queue-number order.
    pub queues: Vec<AgentQueue>,
    /// Queue calls answered in the period (all queues).
    pub calls_taken: u32,
    /// Answer time of its last queue call.
    #[ts(type = "number | null")]
    pub last_call_ms: Option<i64>,
    /// Time paused in the period (the largest of its queues'), pauses that ended only.
    #[ts(type = "number")]
    pub pause_ms: i64,
}

/// How many members of a queue are in each state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema, TS)]
pub struct AgentCounts {
    /// Free.
    pub free: u32,
    /// Ringing.
    pub ringing: u32,
    /// On a call.
    pub talking: u32,
    /// In wrap-up.
    pub wrapup: u32,
    /// Paused.
    pub paused: u32,
    /// No device.
    pub unavailable: u32,
}

/// Statistics of a queue over a period (today, from local midnight), from the same events as
/// the call records: every number can be recomputed from the `queue` rows of the records.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema, TS)]
pub struct QueuePeriodStats {
    /// Start of the period.
    #[ts(type = "number")]
    pub since_ms: i64,
    /// Calls that entered the queue.
    pub offered: u32,
    /// Answered by an agent.
    pub answered: u32,
    /// The caller hung up while waiting.
    pub abandoned: u32,
    /// Left unanswered by the overflow (time-out, queue full, no agents).
    pub overflowed: u32,
    /// Answered within `service_level_s` of entering.
    pub answered_in_sl: u32,
    /// The service level, seconds.
    pub service_level_s: u32,
    /// Mean wait of the answered calls (enter to answer).
    #[ts(type = "number")]
    pub avg_wait_ms: i64,
    /// Longest wait of the calls that left the queue (answered, abandoned or overflowed).
    #[ts(type = "number")]
    pub longest_wait_ms: i64,
    /// Mean conversation of the answered calls that ended (answer to the end of the queue step).
    #[ts(type = "number")]
    pub avg_talk_ms: i64,
}

/// A queue's live state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, TS)]
pub struct QueueStatus {
    /// Queue number (dialled to reach it).
    pub number: String,
    /// Name.
    pub name: String,
    /// Ring strategy.
    pub strategy: QueueStrategy,
    /// Callers waiting (ringing agents included).
    pub waiting: u32,
    /// When the caller waiting longest entered; `null` when nobody waits.
    #[ts(type = "number | null")]
    pub oldest_since_ms: Option<i64>,
    /// Members by state.
    pub agents: AgentCounts,
    /// Statistics of the period.
    pub stats: QueuePeriodStats,
}

/// The call-center part of a snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema, TS)]
pub struct CallCenterView {
    /// Every queue (supervisors; empty for others).
    pub queues: Vec<QueueStatus>,
    /// Every agent (supervisors), or the user's own agent record.
    pub agents: Vec<AgentStatus>,
}
