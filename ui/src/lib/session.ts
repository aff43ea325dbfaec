// One logged-in CTI session: logs in over a transport, feeds frames to the store, answers
// pings, runs commands, and after any lost connection logs in again with
// `resume_from: lastSeq`, with back-off, until it is live again or the user logs out.
// Time comes from an injected clock, so tests run it with fake timers.

import type { ClientMsg, Command, CommandData, ErrorCode, ServerMsg } from '../protocol/cti';
import type { CtiStore } from './store';
import type { CtiConnection, CtiTransport } from './transport';

/** Why a session stopped without the user asking. */
export type Failure = 'auth_failed' | 'rate_limited' | 'unreachable' | 'internal' | 'outdated' | 'protocol';

export type ConnStatus =
  /** First login in progress. */
  | { phase: 'connecting' }
  /** Logged in; the store is current. */
  | { phase: 'live' }
  /** Lost the connection after being live; the store shows the last known state. */
  | { phase: 'reconnecting'; attempt: number; nextTryAt: number | null; reason: string }
  /** Over: logged out (`failure` null) or refused. */
  | { phase: 'stopped'; failure: Failure | null; detail: string };

export interface Clock {
  now(): number;
  setTimeout(f: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  random(): number;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (f, ms) => globalThis.setTimeout(f, ms),
  clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof setTimeout>),
  random: () => Math.random(),
};

/** Opening a link and getting the login answered must take less than this. */
export const CONNECT_TIMEOUT_MS = 10_000;
/** The server pings after 30 s of silence; nothing for this long means the link is dead. */
export const SILENCE_TIMEOUT_MS = 65_000;
/** A command without an answer for this long is given up (its effect may still show). */
export const COMMAND_TIMEOUT_MS = 20_000;
/** After `rate_limited` on a reconnect: the server blocks the address for 60 s. */
export const RATE_LIMIT_WAIT_MS = 60_000;
/** Longest wait between reconnect attempts. */
export const BACKOFF_MAX_MS = 10_000;

/** Wait before reconnect attempt `attempt` (0-based): 0.5, 1, 2, 4, 8, 10, 10 … s, ±20 %. */
export function backoffDelay(attempt: number, random: () => number): number {
  const base = Math.min(500 * 2 ** attempt, BACKOFF_MAX_MS);
  return Math.round(base * (0.8 + 0.4 * random()));
}

/** A command that failed: a server error code, or the link went away. */
export class CommandError extends Error {
  readonly code: ErrorCode | 'disconnected' | 'timeout';
  constructor(code: ErrorCode | 'disconnected' | 'timeout', message: string) {
    super(message);
    this.code = code;
  }
}

export interface SessionOptions {
  transport: CtiTransport;
  store: CtiStore;
  user: string;
  password: string;
  tenant?: string | null;
  clock?: Clock;
  onStatus?: (s: ConnStatus) => void;
  log?: (msg: string) => void;
}

interface Pending {
  resolve(d: CommandData | null): void;
  reject(e: CommandError): void;
  timer: unknown;
}

export class CtiSession {
  status: ConnStatus = { phase: 'connecting' };
  private readonly o: SessionOptions;
  private readonly clock: Clock;
  private conn: CtiConnection | null = null;
  private loggedIn = false;
  private everLive = false;
  private attempt = 0;
  private fresh = true;
  private stopped = false;
  private connectTimer: unknown = null;
  private silenceTimer: unknown = null;
  private retryTimer: unknown = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(o: SessionOptions) {
    this.o = o;
    this.clock = o.clock ?? systemClock;
  }

  /** Connects and logs in. */
  start(): void {
    this.connect();
  }

  /** Logs out: closes the link, stops reconnecting, forgets the state. */
  stop(): void {
    this.finish(null, 'logged out');
    this.o.store.reset();
  }

  /** Skips the rest of the back-off wait (a "retry now" button, the browser going online). */
  retryNow(): void {
    if (this.status.phase !== 'reconnecting' || this.conn) return;
    this.clear('retryTimer');
    this.connect();
  }

  /** Sends a command; resolves with its result data, rejects with a `CommandError`. */
  command(command: Command): Promise<CommandData | null> {
    const conn = this.conn;
    if (!conn || !this.loggedIn) {
      return Promise.reject(new CommandError('disconnected', 'not connected'));
    }
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffff_ffff ? 1 : this.nextId + 1;
    return new Promise((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        this.pending.delete(id);
        reject(new CommandError('timeout', 'no answer from the server'));
      }, COMMAND_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
      conn.send({ type: 'command', id, command });
    });
  }

  private setStatus(s: ConnStatus): void {
    this.status = s;
    this.o.onStatus?.(s);
  }

  private clear(which: 'connectTimer' | 'silenceTimer' | 'retryTimer'): void {
    if (this[which] !== null) this.clock.clearTimeout(this[which]);
    this[which] = null;
  }

  private connect(): void {
    if (this.stopped) return;
    if (this.status.phase === 'reconnecting') {
      this.setStatus({ ...this.status, nextTryAt: null });
    }
    const conn = this.o.transport.open({
      onOpen: () => {
        const login: ClientMsg = {
          type: 'login',
          user: this.o.user,
          password: this.o.password,
          tenant: this.o.tenant ?? null,
          resume_from: this.fresh ? null : this.o.store.view.lastSeq,
        };
        conn.send(login);
      },
      onMessage: (m) => this.onMessage(conn, m),
      onClose: (info) => {
        if (this.conn !== conn) return;
        this.lost(info.wasOpen ? info.reason : `unreachable: ${info.reason}`);
      },
    });
    this.conn = conn;
    this.clear('connectTimer');
    this.connectTimer = this.clock.setTimeout(() => {
      this.connectTimer = null;
      if (this.conn === conn && !this.loggedIn) this.drop('no answer to login');
    }, CONNECT_TIMEOUT_MS);
  }

  /** Closes the current link ourselves and treats it as lost. */
  private drop(reason: string, retryAt?: number): void {
    this.conn?.close();
    this.lost(reason, retryAt);
  }

  private lost(reason: string, retryAt?: number): void {
    if (this.stopped) return;
    this.o.log?.(`cti: connection lost: ${reason}`);
    this.conn = null;
    this.loggedIn = false;
    this.clear('connectTimer');
    this.clear('silenceTimer');
    this.rejectPending();
    if (!this.everLive) {
      this.finish('unreachable', reason);
      return;
    }
    const delay = retryAt ?? backoffDelay(this.attempt, this.clock.random);
    this.attempt += 1;
    this.setStatus({
      phase: 'reconnecting',
      attempt: this.attempt,
      nextTryAt: this.clock.now() + delay,
      reason,
    });
    this.clear('retryTimer');
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, delay);
  }

  private finish(failure: Failure | null, detail: string): void {
    this.stopped = true;
    this.conn?.close();
    this.conn = null;
    this.loggedIn = false;
    this.clear('connectTimer');
    this.clear('silenceTimer');
    this.clear('retryTimer');
    this.rejectPending();
    this.setStatus({ phase: 'stopped', failure, detail });
  }

  private rejectPending(): void {
    for (const [, p] of this.pending) {
      this.clock.clearTimeout(p.timer);
      p.reject(new CommandError('disconnected', 'the connection was lost'));
    }
    this.pending.clear();
  }

  private kickSilence(conn: CtiConnection): void {
    this.clear('silenceTimer');
    this.silenceTimer = this.clock.setTimeout(() => {
      this.silenceTimer = null;
      if (this.conn === conn) this.drop('nothing heard from the server');
    }, SILENCE_TIMEOUT_MS);
  }

  private goLive(): void {
    this.loggedIn = true;
    this.everLive = true;
    this.attempt = 0;
    this.fresh = false;
    this.clear('connectTimer');
    this.setStatus({ phase: 'live' });
  }

  private onMessage(conn: CtiConnection, m: ServerMsg): void {
    if (this.conn !== conn) return;
    this.kickSilence(conn);
    switch (m.type) {
      case 'snapshot': {
        // When it arrived, to align the view's clock with the server's (`server_ms`).
        const r = this.o.store.applySnapshot(m, this.clock.now());
        if (!r.ok) {
          this.finish('outdated', r.reason === 'protocol_too_new' ? `server protocol ${r.protocol}` : r.reason);
          return;
        }
        this.goLive();
        return;
      }
      case 'resumed':
        this.goLive();
        return;
      case 'event': {
        if (!this.loggedIn) return;
        const r = this.o.store.applyEvent(m.seq, m.event);
        if (!r.ok) {
          // The server broke its ordering promise: start over from a fresh snapshot.
          this.fresh = true;
          this.drop(`event seq ${m.seq} not after ${this.o.store.view.lastSeq}`, 0);
        }
        return;
      }
      case 'result': {
        const p = this.pending.get(m.id);
        if (p) {
          this.pending.delete(m.id);
          this.clock.clearTimeout(p.timer);
          p.resolve(m.data);
        }
        return;
      }
      case 'error': {
        const p = m.id === null ? undefined : this.pending.get(m.id);
        if (p && m.id !== null) {
          this.pending.delete(m.id);
          this.clock.clearTimeout(p.timer);
          p.reject(new CommandError(m.code, m.message));
        } else if (!this.loggedIn) {
          this.loginRefused(m.code, m.message);
        } else {
          this.o.log?.(`cti: server error ${m.code}: ${m.message}`);
        }
        return;
      }
      case 'ping':
        conn.send({ type: 'pong' });
        return;
      case 'pong':
        return;
    }
  }

  private loginRefused(code: ErrorCode, message: string): void {
    const failure: Failure =
      code === 'auth_failed' || code === 'rate_limited' || code === 'internal' ? code : 'protocol';
    if (!this.everLive || code === 'auth_failed') {
      // First login, or the password no longer works: back to the login form.
      this.finish(failure, message);
    } else if (code === 'rate_limited') {
      this.drop(message, RATE_LIMIT_WAIT_MS);
    } else {
      this.drop(message);
    }
  }
}
