// Generated from the Rust crate `shared-protocol` by shared-protocol/tests/generated.rs.
// Do not edit by hand. Regenerate with: UPDATE_GENERATED=1 cargo test -p shared-protocol --test generated
// Reference: docs/cti-protocol.md

/** Version of the protocol these types describe (`protocol` in the snapshot). */
export const PROTOCOL_VERSION = 3;

/** Longest frame a peer accepts, in bytes. */
export const MAX_FRAME = 65536;

/**
 * A SIP account of an extension (a device).
 */
export type AccountState = {
/**
 * SIP username.
 */
username: string,
/**
 * Whether a registration is live.
 */
registered: boolean,
/**
 * `ip:port` the device registered from.
 */
address: string | null,
/**
 * The device's `User-Agent`.
 */
user_agent: string | null,
/**
 * Round trip of the last OPTIONS ping, in milliseconds.
 */
latency_ms: number | null, };

/**
 * How many members of a queue are in each state.
 */
export type AgentCounts = {
/**
 * Free.
 */
free: number,
/**
 * Ringing.
 */
ringing: number,
/**
 * On a call.
 */
talking: number,
/**
 * In wrap-up.
 */
wrapup: number,
/**
 * Paused.
 */
paused: number,
/**
 * No device.
 */
unavailable: number, };

/**
 * A pause in progress.
 */
export type AgentPause = {
/**
 * Why, as given by the agent or supervisor (`autopause` when the PBX paused an agent who
 * did not answer); `null` when none was given.
 */
reason: string | null,
/**
 * Start of the pause.
 */
since_ms: number, };

/**
 * An agent's membership of one queue.
 */
export type AgentQueue = {
/**
 * Queue number.
 */
queue: string,
/**
 * Lower rings first.
 */
penalty: number,
/**
 * Logged in at run time (a dynamic member), rather than configured.
 */
dynamic: boolean,
/**
 * State in this queue.
 */
state: AgentState,
/**
 * The pause in progress in this queue.
 */
paused: AgentPause | null,
/**
 * Calls of this queue answered in the period.
 */
calls_taken: number,
/**
 * Answer time of the last call of this queue.
 */
last_call_ms: number | null,
/**
 * Time paused in this queue in the period, pauses that ended only (add now − `since_ms`
 * of the pause in progress).
 */
pause_ms: number, };

/**
 * What an agent is doing, seen from one queue (or overall).
 */
export type AgentState = "free" | "ringing" | "talking" | "wrapup" | "paused" | "unavailable";

/**
 * One agent (an extension that is a member of at least one queue).
 */
export type AgentStatus = {
/**
 * Extension number.
 */
extension: string,
/**
 * Display name.
 */
name: string,
/**
 * Overall: `unavailable` without a device, `paused` when paused in every queue, else
 * `talking`, `ringing`, `wrapup` (in any queue) or `free`.
 */
state: AgentState,
/**
 * Its queues, in queue-number order.
 */
queues: Array<AgentQueue>,
/**
 * Queue calls answered in the period (all queues).
 */
calls_taken: number,
/**
 * Answer time of its last queue call.
 */
last_call_ms: number | null,
/**
 * Time paused in the period (the largest of its queues'), pauses that ended only.
 */
pause_ms: number, };

/**
 * The call-center part of a snapshot.
 */
export type CallCenterView = {
/**
 * Every queue (supervisors; empty for others).
 */
queues: Array<QueueStatus>,
/**
 * Every agent (supervisors), or the user's own agent record.
 */
agents: Array<AgentStatus>, };

/**
 * A call in progress that the viewer may see.
 */
export type CallInfo = {
/**
 * Call id (the call record's unique id); commands name calls by it.
 */
id: string,
/**
 * Who placed it.
 */
caller: Party,
/**
 * Who is rung or answered.
 */
callee: Party,
/**
 * Where it is.
 */
state: CallState,
/**
 * Who put it on hold, when `state` is `held`.
 */
held_by: CallSide | null,
/**
 * Start, milliseconds since the Unix epoch.
 */
started_ms: number,
/**
 * Answer time, when answered.
 */
answered_ms: number | null, };

/**
 * Which end of a call.
 */
export type CallSide = "caller" | "callee";

/**
 * State of a call in progress.
 */
export type CallState = "ringing" | "connected" | "held";

/**
 * A frame from a client.
 */
export type ClientMsg = { "type": "login",
/**
 * Username.
 */
user: string,
/**
 * Password.
 */
password: string,
/**
 * Tenant domain; `default` when absent.
 */
tenant: string | null,
/**
 * The last `seq` this client saw: the server replays what came after it,
 * or sends a fresh snapshot when that fell out of its replay window.
 */
resume_from: number | null, } | { "type": "ping" } | { "type": "pong" } | { "type": "command",
/**
 * Echoed in the `result` or `error`.
 */
id: number,
/**
 * What to do.
 */
command: Command, };

/**
 * Commands a logged-in user may send. Each gets exactly one `result` or `error`.
 */
export type Command = { "name": "dial",
/**
 * What to call.
 */
number: string, } | { "name": "hangup",
/**
 * Call id.
 */
call: string, } | { "name": "hold",
/**
 * Call id.
 */
call: string, } | { "name": "resume",
/**
 * Call id.
 */
call: string, } | { "name": "transfer",
/**
 * The call whose other party is transferred.
 */
call: string,
/**
 * Blind transfer target.
 */
number: string | null,
/**
 * Attended transfer: the consultation call.
 */
consult: string | null, } | { "name": "pickup",
/**
 * The ringing extension.
 */
extension: string, } | { "name": "set_dnd",
/**
 * Defaults to the user's own extension; others need the supervisor right.
 */
extension: string | null,
/**
 * On or off.
 */
enabled: boolean, } | { "name": "set_forward",
/**
 * Defaults to the user's own extension; others need the supervisor right.
 */
extension: string | null,
/**
 * Which forward.
 */
kind: ForwardKind,
/**
 * Target number; `null` turns the forward off.
 */
target: string | null, } | { "name": "set_presence",
/**
 * State.
 */
state: PresenceState,
/**
 * Status message.
 */
message: string | null, } | { "name": "history",
/**
 * Only records older than this start time (ms); the first page when absent.
 */
before_ms: number | null,
/**
 * Page size (1–200, default 50).
 */
limit: number | null,
/**
 * Only missed calls.
 */
missed_only: boolean, } | { "name": "queue_login",
/**
 * Queue number.
 */
queue: string,
/**
 * Defaults to the user's own extension; others need the supervisor right.
 */
extension: string | null,
/**
 * Penalty in this queue (lower rings first); 0 when absent.
 */
penalty: number | null, } | { "name": "queue_logout",
/**
 * Queue number.
 */
queue: string,
/**
 * Defaults to the user's own extension; others need the supervisor right.
 */
extension: string | null, } | { "name": "queue_pause",
/**
 * Queue number; every queue of the agent when absent.
 */
queue: string | null,
/**
 * Defaults to the user's own extension; others need the supervisor right.
 */
extension: string | null,
/**
 * Why (at most 64 characters).
 */
reason: string | null, } | { "name": "queue_resume",
/**
 * Queue number; every queue of the agent when absent.
 */
queue: string | null,
/**
 * Defaults to the user's own extension; others need the supervisor right.
 */
extension: string | null, };

/**
 * What a successful command returns.
 */
export type CommandData = { "kind": "call",
/**
 * Its id.
 */
call: string, } | { "kind": "history",
/**
 * Newest first.
 */
entries: Array<HistoryEntry>,
/**
 * Pass as `before_ms` for the next page; `null` at the end.
 */
next_before_ms: number | null, };

/**
 * The desktop app's modes (the seed's KalliopeCTI Free, Pro and Phone), in increasing order:
 * each includes the one before it.
 */
export type CtiMode = "free" | "pro" | "phone";

/**
 * Which way a call goes, seen from the extension it is reported for.
 */
export type Direction = "inbound" | "outbound";

/**
 * What others see: the chosen state combined with the line state.
 */
export type EffectivePresence = "available" | "away" | "busy" | "on_the_phone" | "offline";

/**
 * Stable error codes. Clients branch on these; the message is for people.
 */
export type ErrorCode = "bad_request" | "bad_arguments" | "not_logged_in" | "auth_failed" | "rate_limited" | "permission_denied" | "not_found" | "invalid_state" | "no_device" | "not_licensed" | "internal";

/**
 * A change, inside an `event` frame.
 */
export type Event = { "kind": "lamp",
/**
 * Extension number.
 */
extension: string,
/**
 * New lamp.
 */
lamp: Lamp,
/**
 * Who it rings with or talks to, when visible.
 */
peer: Party | null,
/**
 * Direction of that call.
 */
direction: Direction | null, } | { "kind": "account",
/**
 * Extension number.
 */
extension: string,
/**
 * The device.
 */
account: AccountState, } | { "kind": "presence",
/**
 * Extension number.
 */
extension: string,
/**
 * New presence.
 */
presence: Presence, } | { "kind": "services",
/**
 * Extension number.
 */
extension: string,
/**
 * New services.
 */
services: Services, } | { "kind": "extension_dnd",
/**
 * Extension number.
 */
extension: string,
/**
 * On or off.
 */
dnd: boolean, } | { "kind": "call",
/**
 * The call now.
 */
call: CallInfo, } | { "kind": "call_ended",
/**
 * Call id.
 */
id: string, } | { "kind": "history",
/**
 * The new entry.
 */
entry: HistoryEntry, } | { "kind": "queue",
/**
 * The queue now.
 */
queue: QueueStatus, } | { "kind": "agent",
/**
 * The agent now.
 */
agent: AgentStatus, } | { "kind": "park_slot",
/**
 * The slot now.
 */
slot: ParkSlot, };

/**
 * Everything a client shows about one extension.
 */
export type ExtensionState = {
/**
 * Extension number.
 */
number: string,
/**
 * Display name.
 */
name: string,
/**
 * Line state.
 */
lamp: Lamp,
/**
 * Who it is ringing with or talking to, when the viewer may see it.
 */
peer: Party | null,
/**
 * Direction of that call, seen from this extension.
 */
direction: Direction | null,
/**
 * Do not disturb.
 */
dnd: boolean,
/**
 * Presence of its user.
 */
presence: Presence,
/**
 * Its devices.
 */
accounts: Array<AccountState>,
/**
 * Its services: given for the user's own extension and, to supervisors, for every
 * extension; `null` otherwise.
 */
services: Services | null, };

/**
 * Which forward.
 */
export type ForwardKind = "unconditional" | "busy" | "no_answer" | "unavailable";

/**
 * The four call forwards of an extension, each with its target (`null` when off).
 */
export type Forwards = {
/**
 * Every call (CFIM).
 */
unconditional: string | null,
/**
 * When busy (CFBS).
 */
busy: string | null,
/**
 * When not answered in the ring time (CFNA).
 */
no_answer: string | null,
/**
 * When no device is reachable (CFUN).
 */
unavailable: string | null, };

/**
 * One past call of the user, from the call records.
 */
export type HistoryEntry = {
/**
 * The record's unique id.
 */
id: string,
/**
 * Start, milliseconds since the Unix epoch.
 */
started_ms: number,
/**
 * Seen from the user's extension.
 */
direction: Direction,
/**
 * The other party.
 */
other: Party,
/**
 * The record's status (`OK`, `NOANSWER`, `BUSY`, `CANCELED`, `FAILED`, `UNAVAILABLE`, `??`).
 */
status: string,
/**
 * Whether the user's extension answered (inbound) or the callee answered (outbound).
 */
answered: boolean,
/**
 * Inbound and not answered by the user.
 */
missed: boolean,
/**
 * Seconds from start to end.
 */
duration_s: number,
/**
 * Seconds of conversation.
 */
talk_s: number, };

/**
 * The line state of an extension, as a busy-lamp field shows it.
 */
export type Lamp = "idle" | "ringing" | "busy" | "hold" | "unavailable";

/**
 * The licence seats a user holds on the PBX, sent at login (the app checks them at every
 * start, as the seed's KCTI does).
 */
export type Licence = {
/**
 * The highest mode the user's seat allows; the desktop app lets the user pick this one or
 * a lower one. Commands outside it are refused with `not_licensed`.
 */
mode: CtiMode,
/**
 * The user holds a call-center seat (the seed's "Licenza Call Center").
 */
call_center: boolean, };

/**
 * A call park slot (seed §10): `hold` while a call is parked in it, `idle` when free.
 */
export type ParkSlot = {
/**
 * The slot number (dialled to retrieve the call).
 */
slot: string,
/**
 * `idle` or `hold`.
 */
lamp: Lamp,
/**
 * The party parked there, when the viewer may see it.
 */
peer: Party | null, };

/**
 * The other end of a call: a number and, when known, a name.
 * Numbers outside the PBX are masked (`0612345xxx`) for viewers without the privacy right.
 */
export type Party = {
/**
 * Extension or external number.
 */
number: string,
/**
 * Display name, when known.
 */
name: string | null, };

/**
 * What a user may do and see, sent at login so that clients hide what would be refused.
 */
export type Permissions = {
/**
 * Control calls (hold, transfer, pickup, hang up) of their own extension.
 */
call_control: boolean,
/**
 * See external numbers unmasked.
 */
privacy: boolean,
/**
 * See and act on every extension's calls and services (supervisors, administrators).
 */
supervisor: boolean, };

/**
 * Presence of the user of an extension.
 */
export type Presence = {
/**
 * Chosen by the user.
 */
state: PresenceState,
/**
 * Free-text status message.
 */
message: string | null,
/**
 * The chosen state combined with the lamp and DND.
 */
effective: EffectivePresence, };

/**
 * What a user chose to show.
 */
export type PresenceState = "available" | "away" | "busy" | "offline";

/**
 * Statistics of a queue over a period (today, from local midnight), from the same events as
 * the call records: every number can be recomputed from the `queue` rows of the records.
 */
export type QueuePeriodStats = {
/**
 * Start of the period.
 */
since_ms: number,
/**
 * Calls that entered the queue.
 */
offered: number,
/**
 * Answered by an agent.
 */
answered: number,
/**
 * The caller hung up while waiting.
 */
abandoned: number,
/**
 * Left unanswered by the overflow (time-out, queue full, no agents).
 */
overflowed: number,
/**
 * Answered within `service_level_s` of entering.
 */
answered_in_sl: number,
/**
 * The service level, seconds.
 */
service_level_s: number,
/**
 * Mean wait of the answered calls (enter to answer).
 */
avg_wait_ms: number,
/**
 * Longest wait of the calls that left the queue (answered, abandoned or overflowed).
 */
longest_wait_ms: number,
/**
 * Mean conversation of the answered calls that ended (answer to the end of the queue step).
 */
avg_talk_ms: number, };

/**
 * A queue's live state.
 */
export type QueueStatus = {
/**
 * Queue number (dialled to reach it).
 */
number: string,
/**
 * Name.
 */
name: string,
/**
 * Ring strategy.
 */
strategy: QueueStrategy,
/**
 * Callers waiting (ringing agents included).
 */
waiting: number,
/**
 * When the caller waiting longest entered; `null` when nobody waits.
 */
oldest_since_ms: number | null,
/**
 * Members by state.
 */
agents: AgentCounts,
/**
 * Statistics of the period.
 */
stats: QueuePeriodStats, };

/**
 * How a queue picks the agents to ring.
 */
export type QueueStrategy = "ringall" | "linear" | "leastrecent" | "fewestcalls" | "rrmemory" | "rrordered" | "random";

/**
 * A frame from the server.
 */
export type ServerMsg = { "type": "snapshot" } & Snapshot | { "type": "resumed",
/**
 * The client's `resume_from`.
 */
from: number,
/**
 * How many events are replayed.
 */
replayed: number, } | { "type": "event",
/**
 * Sequence number (gaps are events the user may not see).
 */
seq: number,
/**
 * What changed.
 */
event: Event, } | { "type": "result",
/**
 * The command's id.
 */
id: number,
/**
 * What it returns, if anything.
 */
data: CommandData | null, } | { "type": "error",
/**
 * The command's id, when the frame carried one.
 */
id: number | null,
/**
 * Stable code.
 */
code: ErrorCode,
/**
 * Human-readable explanation.
 */
message: string, } | { "type": "ping" } | { "type": "pong" };

/**
 * Telephone services of an extension.
 */
export type Services = {
/**
 * Do not disturb: the extension counts as unavailable (its unavailable forward or
 * overflow runs), as in the seed.
 */
dnd: boolean,
/**
 * Call forwards.
 */
forwards: Forwards,
/**
 * Ring the user's mobile number too.
 */
fork2mobile: boolean, };

/**
 * The state a client starts from.
 */
export type Snapshot = {
/**
 * Protocol version (see `PROTOCOL_VERSION`).
 */
protocol: number,
/**
 * Sequence number of the last event included.
 */
seq: number,
/**
 * Who is logged in.
 */
user: UserInfo,
/**
 * Every extension of the tenant.
 */
extensions: Array<ExtensionState>,
/**
 * Services of the user's own extension.
 */
services: Services | null,
/**
 * Calls in progress the user may see.
 */
calls: Array<CallInfo>,
/**
 * The latest history entries (up to 20); page further with `history`.
 */
history: Array<HistoryEntry>,
/**
 * Queues and agents: all of them for supervisors, the user's own agent record for an
 * agent; absent for everyone else.
 */
call_center?: CallCenterView,
/**
 * The call park slots (absent when the PBX has none).
 */
park_slots?: Array<ParkSlot>,
/**
 * The server's clock when it sent the snapshot (milliseconds since the Unix epoch), so a
 * client can count ages (a caller's wait, a pause) on the server's clock rather than its
 * own; absent from servers that do not send it.
 */
server_ms?: number, };

/**
 * The logged-in user.
 */
export type UserInfo = {
/**
 * Username.
 */
username: string,
/**
 * Tenant domain.
 */
tenant: string,
/**
 * The user's extension, if any.
 */
extension: string | null,
/**
 * Role name.
 */
role: string,
/**
 * What the role allows.
 */
permissions: Permissions,
/**
 * The user's licence seats. Absent from servers before seats existed: treat as every
 * mode allowed.
 */
licence?: Licence, };
