// The client's copy of the CTI state: a snapshot replaces everything, events are applied in
// order, `lastSeq` is what a reconnect resumes from (docs/cti-protocol.md, "What a client must
// do"). No I/O and no timers here: the session feeds it, tests feed it the doc's examples.
//
// The store mutates `view` in place, so a UI can hand it a reactive object (a Svelte `$state`
// proxy) and every change re-renders only what reads the changed field.

import {
  PROTOCOL_VERSION,
  type AgentQueue,
  type AgentState,
  type AgentStatus,
  type CallInfo,
  type Event,
  type ExtensionState,
  type HistoryEntry,
  type ParkSlot,
  type Party,
  type QueueStatus,
  type Services,
  type Snapshot,
  type UserInfo,
} from '../protocol/cti';

/** History entries kept in memory (the snapshot brings 20; pages add to it). */
export const HISTORY_MAX = 500;

/** Everything the views read. */
export interface CtiView {
  /** Who is logged in; `null` before the first snapshot. */
  user: UserInfo | null;
  /** Extensions by number. */
  extensions: Record<string, ExtensionState>;
  /** Extension numbers in directory order. */
  order: string[];
  /** Services of the user's own extension. */
  services: Services | null;
  /** Calls in progress the user may see, by id. */
  calls: Record<string, CallInfo>;
  /** The user's history, newest first: the snapshot's, events, and pages of `history`. */
  history: HistoryEntry[];
  /** Older missed calls fetched with `history {missed_only}` (merged into the missed view). */
  olderMissed: HistoryEntry[];
  /** Whether the snapshot had a call-center part (supervisors, and agents of some queue).
   *  An agent's own record may still come later, by an `agent` event, after a log-in. */
  callCenter: boolean;
  /** Queues by number (supervisors only; the protocol sends agents none). */
  queues: Record<string, QueueStatus>;
  /** Agents by extension: every agent for supervisors, the user's own record for an agent. */
  agents: Record<string, AgentStatus>;
  /** Extensions of each queue's members, in number order, by queue number: kept apart from
   *  `agents` so a queue's view depends on its own members only, and changes only when the
   *  membership does (not on every state change). */
  queueMembers: Record<string, string[]>;
  /** Call park slots by slot number (empty when the PBX has none). */
  parkSlots: Record<string, ParkSlot>;
  /** The server's clock minus ours (ms), from the snapshot's `server_ms` and when it arrived;
   *  0 when the server does not say. Ages are counted on `Date.now() + clockOffsetMs`, since
   *  every time in the frames is on the server's clock. */
  clockOffsetMs: number;
  /** `seq` of the snapshot or of the last event applied. */
  lastSeq: number | null;
}

/** What applying a frame did. */
export type Applied =
  | { ok: true }
  /** The server broke its promise: drop the connection, log in again without resume. */
  | { ok: false; reason: 'seq_not_increasing' }
  /** A newer protocol than this client knows: stop and ask the user to update. */
  | { ok: false; reason: 'protocol_too_new'; protocol: number };

export function emptyView(): CtiView {
  return {
    user: null,
    extensions: {},
    order: [],
    services: null,
    calls: {},
    history: [],
    olderMissed: [],
    callCenter: false,
    queues: {},
    agents: {},
    queueMembers: {},
    parkSlots: {},
    clockOffsetMs: 0,
    lastSeq: null,
  };
}

const collator = new Intl.Collator('en', { numeric: true });

/** Newest first, no two entries with one id. */
export function mergeHistory(a: HistoryEntry[], b: HistoryEntry[]): HistoryEntry[] {
  const seen = new Set<string>();
  const out: HistoryEntry[] = [];
  for (const e of [...a, ...b].sort((x, y) => y.started_ms - x.started_ms)) {
    if (!seen.has(e.id)) {
      seen.add(e.id);
      out.push(e);
    }
  }
  return out.slice(0, HISTORY_MAX);
}

export class CtiStore {
  readonly view: CtiView;

  constructor(view: CtiView = emptyView()) {
    this.view = view;
  }

  /** Forgets everything (logout). */
  reset(): void {
    Object.assign(this.view, emptyView());
  }

  /** A snapshot replaces all state, whenever it comes. `receivedMs`: the local clock when it
   *  arrived, to compare with the server's `server_ms`. */
  applySnapshot(s: Snapshot, receivedMs?: number): Applied {
    if (s.protocol > PROTOCOL_VERSION) {
      return { ok: false, reason: 'protocol_too_new', protocol: s.protocol };
    }
    const v = this.view;
    const extensions: Record<string, ExtensionState> = {};
    for (const e of s.extensions) extensions[e.number] = e;
    const calls: Record<string, CallInfo> = {};
    for (const c of s.calls) calls[c.id] = c;
    v.user = s.user;
    v.extensions = extensions;
    v.order = Object.keys(extensions).sort(collator.compare);
    v.services = s.services;
    v.calls = calls;
    v.history = mergeHistory(s.history, []);
    v.olderMissed = [];
    const queues: Record<string, QueueStatus> = {};
    const agents: Record<string, AgentStatus> = {};
    for (const q of s.call_center?.queues ?? []) queues[q.number] = q;
    const queueMembers: Record<string, string[]> = {};
    for (const a of s.call_center?.agents ?? []) {
      if (a.queues.length === 0) continue;
      agents[a.extension] = a;
      for (const m of a.queues) (queueMembers[m.queue] ??= []).push(a.extension);
    }
    for (const list of Object.values(queueMembers)) list.sort(collator.compare);
    v.callCenter = s.call_center !== undefined && s.call_center !== null;
    v.queues = queues;
    v.agents = agents;
    v.queueMembers = queueMembers;
    const parkSlots: Record<string, ParkSlot> = {};
    for (const p of s.park_slots ?? []) parkSlots[p.slot] = p;
    v.parkSlots = parkSlots;
    // The link's latency makes this a little low; that is well under the second the views show.
    v.clockOffsetMs =
      s.server_ms !== undefined && s.server_ms !== null && receivedMs !== undefined ? s.server_ms - receivedMs : 0;
    v.lastSeq = s.seq;
    return { ok: true };
  }

  /** One event, in order. */
  applyEvent(seq: number, ev: Event): Applied {
    const v = this.view;
    if (v.lastSeq !== null && seq <= v.lastSeq) {
      return { ok: false, reason: 'seq_not_increasing' };
    }
    v.lastSeq = seq;
    switch (ev.kind) {
      case 'lamp': {
        const x = v.extensions[ev.extension];
        if (x) {
          x.lamp = ev.lamp;
          x.peer = ev.peer;
          x.direction = ev.direction;
        }
        break;
      }
      case 'account': {
        const x = v.extensions[ev.extension];
        if (x) {
          const i = x.accounts.findIndex((a) => a.username === ev.account.username);
          if (i >= 0) x.accounts[i] = ev.account;
          else x.accounts.push(ev.account);
        }
        break;
      }
      case 'presence': {
        const x = v.extensions[ev.extension];
        if (x) x.presence = ev.presence;
        break;
      }
      case 'services': {
        const x = v.extensions[ev.extension];
        if (x) x.services = ev.services;
        if (v.user?.extension === ev.extension) v.services = ev.services;
        break;
      }
      case 'extension_dnd': {
        const x = v.extensions[ev.extension];
        if (x) x.dnd = ev.dnd;
        break;
      }
      case 'call':
        v.calls[ev.call.id] = ev.call;
        break;
      case 'call_ended':
        delete v.calls[ev.id];
        break;
      case 'history':
        v.history = mergeHistory([ev.entry], v.history);
        break;
      case 'queue':
        v.queues[ev.queue.number] = ev.queue;
        break;
      case 'agent': {
        const ext = ev.agent.extension;
        const before = new Set(v.agents[ext]?.queues.map((m) => m.queue) ?? []);
        const after = new Set(ev.agent.queues.map((m) => m.queue));
        // An agent with no queue left has logged out of its last one.
        if (after.size === 0) delete v.agents[ext];
        else v.agents[ext] = ev.agent;
        for (const q of before) {
          if (after.has(q)) continue;
          const list = v.queueMembers[q];
          const i = list?.indexOf(ext) ?? -1;
          if (list && i >= 0) list.splice(i, 1);
        }
        for (const q of after) {
          if (before.has(q)) continue;
          const list = v.queueMembers[q];
          if (!list) v.queueMembers[q] = [ext];
          else if (!list.includes(ext)) v.queueMembers[q] = [...list, ext].sort(collator.compare);
        }
        break;
      }
      case 'park_slot':
        v.parkSlots[ev.slot.slot] = ev.slot;
        break;
    }
    return { ok: true };
  }

  /** A page of `history` (all calls) older than what is loaded. */
  addHistoryPage(entries: HistoryEntry[], missedOnly: boolean): void {
    if (missedOnly) this.view.olderMissed = mergeHistory(this.view.olderMissed, entries);
    else this.view.history = mergeHistory(this.view.history, entries);
  }
}

// Read-side helpers the views share.

/** The user's own extension number, if any. */
export function myExtension(v: CtiView): string | null {
  return v.user?.extension ?? null;
}

/** Calls in which the user's extension is a party, oldest first. */
export function myCalls(v: CtiView): CallInfo[] {
  const me = myExtension(v);
  return Object.values(v.calls)
    .filter((c) => me !== null && (c.caller.number === me || c.callee.number === me))
    .sort((a, b) => a.started_ms - b.started_ms);
}

/** The side of `call` the user is on (`null` when not a party). */
export function mySide(v: CtiView, call: CallInfo): 'caller' | 'callee' | null {
  const me = myExtension(v);
  if (call.caller.number === me) return 'caller';
  if (call.callee.number === me) return 'callee';
  return null;
}

/** The other party of a call, seen from the user. */
export function otherParty(v: CtiView, call: CallInfo) {
  return mySide(v, call) === 'callee' ? call.caller : call.callee;
}

/** Calls ringing the user's own extension from someone else, oldest first (the incoming-call
 *  popup). A click-to-call rings the user's phone too, but as its caller: not included. */
export function incomingCalls(v: CtiView): CallInfo[] {
  const me = myExtension(v);
  if (me === null) return [];
  return Object.values(v.calls)
    .filter((c) => c.state === 'ringing' && c.callee.number === me && c.caller.number !== me)
    .sort((a, b) => a.started_ms - b.started_ms);
}

/** A name for a party: the directory's name of an extension, else the name the call carries,
 *  else (for an external number) the name the user's history gave it. Masked numbers are not
 *  looked up in the history: two callers can share a masked number. */
export function nameOf(v: CtiView, p: Party): string | null {
  const ext = v.extensions[p.number];
  if (ext) return ext.name || null;
  if (p.name) return p.name;
  if (!p.number || /x/i.test(p.number)) return null;
  for (const list of [v.history, v.olderMissed]) {
    const hit = list.find((e) => e.other.number === p.number && e.other.name);
    if (hit) return hit.other.name;
  }
  return null;
}

/** Occupied park slots (a call parked there), in slot order. */
export function parkedCalls(v: CtiView): ParkSlot[] {
  return Object.values(v.parkSlots)
    .filter((p) => p.lamp === 'hold')
    .sort((a, b) => collator.compare(a.slot, b.slot));
}

/** Missed calls: those loaded with the full history plus older missed pages. */
export function missedHistory(v: CtiView): HistoryEntry[] {
  return mergeHistory(
    v.history.filter((e) => e.missed),
    v.olderMissed,
  );
}

// Call center.

/** Queues in number order. */
export function queueList(v: CtiView): QueueStatus[] {
  return Object.values(v.queues).sort((a, b) => collator.compare(a.number, b.number));
}

/** Agents in extension order. */
export function agentList(v: CtiView): AgentStatus[] {
  return Object.values(v.agents).sort((a, b) => collator.compare(a.extension, b.extension));
}

/** The user's own agent record: the queues they are a member of. */
export function myAgent(v: CtiView): AgentStatus | null {
  const me = myExtension(v);
  return (me !== null && v.agents[me]) || null;
}

/** A member of one queue: the agent and its membership there. */
export interface Member {
  agent: AgentStatus;
  membership: AgentQueue;
}

/** Order in which the panels list agent states. */
export const AGENT_STATES: readonly AgentState[] = ['free', 'ringing', 'talking', 'wrapup', 'paused', 'unavailable'];

/** How many members queue `number` has. */
export function memberCount(v: CtiView, number: string): number {
  return v.queueMembers[number]?.length ?? 0;
}

/** The members of queue `number`, by state (in `AGENT_STATES` order), then by extension.
 *  Reads only that queue's agents. */
export function membersOf(v: CtiView, number: string): Member[] {
  const out: Member[] = [];
  for (const ext of v.queueMembers[number] ?? []) {
    const agent = v.agents[ext];
    const membership = agent?.queues.find((q) => q.queue === number);
    if (agent && membership) out.push({ agent, membership });
  }
  const rank = (m: Member) => AGENT_STATES.indexOf(m.membership.state);
  return out.sort((a, b) => rank(a) - rank(b));
}

/** How long the longest-waiting caller of `q` has waited at `now`; `null` when nobody waits.
 *  Counted locally from the event's timestamp (the server sends no tick); a clock behind the
 *  server's shows 0 rather than a negative age. */
export function oldestWaitMs(q: QueueStatus, now: number): number | null {
  if (q.waiting === 0 || q.oldest_since_ms === null) return null;
  return Math.max(0, now - q.oldest_since_ms);
}

/** Time paused in one queue in the period at `now`: the pauses that ended plus the one in
 *  progress. */
export function queuePauseMs(m: AgentQueue, now: number): number {
  return m.pause_ms + (m.paused ? Math.max(0, now - m.paused.since_ms) : 0);
}

/** An agent's time in pause at `now`: the largest of its queues' (as the protocol's
 *  `pause_ms` is), counting pauses in progress. */
export function agentPauseMs(a: AgentStatus, now: number): number {
  return a.queues.reduce((max, m) => Math.max(max, queuePauseMs(m, now)), a.pause_ms);
}

/** The pause of an agent that is paused somewhere: the earliest running pause (its reason
 *  and start), or `null`. */
export function runningPause(a: AgentStatus): { reason: string | null; since_ms: number } | null {
  let found: { reason: string | null; since_ms: number } | null = null;
  for (const m of a.queues) {
    if (m.paused && (!found || m.paused.since_ms < found.since_ms)) found = m.paused;
  }
  return found;
}

/** Service level of a queue's period: the share of answered calls answered within it, in
 *  percent (whole), or `null` before any call was answered. */
export function serviceLevelPct(q: QueueStatus): number | null {
  const s = q.stats;
  return s.answered === 0 ? null : Math.round((100 * s.answered_in_sl) / s.answered);
}
