import { beforeEach, describe, expect, it } from 'vitest';
import type { ServerMsg, Snapshot } from '../protocol/cti';
import { example } from '../test/doc-examples';
import { FakeTransport, ManualClock } from '../test/fakes';
import {
  BACKOFF_MAX_MS,
  CONNECT_TIMEOUT_MS,
  CommandError,
  CtiSession,
  RATE_LIMIT_WAIT_MS,
  SILENCE_TIMEOUT_MS,
  backoffDelay,
  type ConnStatus,
} from './session';
import { CtiStore } from './store';

let transport: FakeTransport;
let clock: ManualClock;
let store: CtiStore;
let statuses: ConnStatus[];
let session: CtiSession;

function snap(seq = 4711): ServerMsg {
  return { type: 'snapshot', ...example<Snapshot>('snapshot'), seq };
}

function event(name: string, seq?: number): ServerMsg {
  const f = example<Extract<ServerMsg, { type: 'event' }>>(name);
  return seq === undefined ? f : { ...f, seq };
}

function live(): void {
  session.start();
  transport.last.open();
  transport.last.deliver(snap());
  expect(session.status.phase).toBe('live');
}

beforeEach(() => {
  transport = new FakeTransport();
  clock = new ManualClock();
  store = new CtiStore();
  statuses = [];
  session = new CtiSession({
    transport,
    store,
    user: 'anna',
    password: 's3cret',
    tenant: 'default',
    clock,
    onStatus: (s) => statuses.push(s),
  });
});

describe('login', () => {
  it('sends the doc example login once the link is up, and a snapshot makes it live', () => {
    session.start();
    expect(session.status.phase).toBe('connecting');
    expect(transport.last.sent).toEqual([]);
    transport.last.open();
    expect(transport.last.sent).toEqual([example('login')]);
    transport.last.deliver(snap());
    expect(session.status).toEqual({ phase: 'live' });
    expect(store.view.extensions['202']?.lamp).toBe('idle');
    // The snapshot's server_ms against the session's clock when it arrived.
    expect(store.view.clockOffsetMs).toBe(1718000010000 - clock.now());
  });

  it.each([
    ['error_auth_failed', 'auth_failed'],
    ['error_rate_limited', 'rate_limited'],
  ])('refused with %s stops with that failure', (name, code) => {
    session.start();
    transport.last.open();
    transport.last.deliver(example<ServerMsg>(name));
    expect(session.status).toMatchObject({ phase: 'stopped', failure: code });
    expect(transport.last.closed).toBe(true);
    clock.advance(120_000);
    expect(transport.conns).toHaveLength(1);
  });

  it('to a server that cannot be reached says so', () => {
    session.start();
    transport.last.drop(false);
    expect(session.status).toMatchObject({ phase: 'stopped', failure: 'unreachable' });
  });

  it('without an answer gives up after the connect timeout', () => {
    session.start();
    transport.last.open();
    clock.advance(CONNECT_TIMEOUT_MS);
    expect(session.status).toMatchObject({ phase: 'stopped', failure: 'unreachable' });
  });

  it('to a server of a newer protocol stops and asks for an update', () => {
    session.start();
    transport.last.open();
    transport.last.deliver({ ...(snap() as Snapshot & { type: 'snapshot' }), protocol: 99 });
    expect(session.status).toMatchObject({ phase: 'stopped', failure: 'outdated' });
  });
});

describe('the live stream', () => {
  it('applies events and answers pings', () => {
    live();
    transport.last.deliver(event('event_lamp'));
    expect(store.view.extensions['202']?.lamp).toBe('ringing');
    transport.last.deliver(example('server_ping'));
    expect(transport.last.sent.at(-1)).toEqual(example('client_pong'));
  });

  it('starts over from a fresh snapshot when seq goes back', () => {
    live();
    transport.last.deliver(event('event_lamp'));
    transport.last.deliver(event('event_lamp_hidden_peer')); // same seq 4712
    expect(transport.conns[0]!.closed).toBe(true);
    expect(session.status.phase).toBe('reconnecting');
    clock.advance(0);
    transport.last.open();
    expect(transport.last.sent[0]).toMatchObject({ type: 'login', resume_from: null });
  });

  it('treats silence as a dead link', () => {
    live();
    clock.advance(SILENCE_TIMEOUT_MS - 1);
    expect(session.status.phase).toBe('live');
    transport.last.deliver(example('server_ping'));
    clock.advance(SILENCE_TIMEOUT_MS - 1);
    expect(session.status.phase).toBe('live');
    clock.advance(1);
    expect(session.status.phase).toBe('reconnecting');
    expect(transport.conns[0]!.closed).toBe(true);
  });
});

describe('commands', () => {
  it('resolve with the result and reject with the error code', async () => {
    live();
    const dial = session.command({ name: 'dial', number: '0612345678' });
    expect(transport.last.sent.at(-1)).toEqual(example('cmd_dial'));
    transport.last.deliver(example('result_call'));
    await expect(dial).resolves.toEqual({ kind: 'call', call: '1718000100.43' });

    const hold = session.command({ name: 'hold', call: '1718000000.42' });
    const sent = transport.last.sent.at(-1) as { id: number };
    transport.last.deliver({ ...example<ServerMsg & { type: 'error' }>('error_invalid_state'), id: sent.id });
    await expect(hold).rejects.toMatchObject({ code: 'invalid_state' });
  });

  it('are refused while disconnected and lost with the link', async () => {
    await expect(session.command({ name: 'hangup', call: 'x' })).rejects.toBeInstanceOf(CommandError);
    live();
    const p = session.command({ name: 'hangup', call: 'x' });
    transport.last.drop();
    await expect(p).rejects.toMatchObject({ code: 'disconnected' });
  });

  it('time out without an answer', async () => {
    live();
    const p = session.command({ name: 'hangup', call: 'x' });
    transport.last.deliver(example('server_ping'));
    clock.advance(20_000);
    await expect(p).rejects.toMatchObject({ code: 'timeout' });
  });
});

describe('reconnect', () => {
  it('resumes from the last seq with back-off and keeps the state on resumed', () => {
    live();
    transport.last.deliver(event('event_lamp')); // seq 4712: 202 ringing
    transport.last.drop();
    expect(session.status).toMatchObject({ phase: 'reconnecting', attempt: 1, nextTryAt: clock.t + 500 });
    expect(store.view.extensions['202']?.lamp).toBe('ringing'); // last known state stays

    clock.advance(499);
    expect(transport.conns).toHaveLength(1);
    clock.advance(1);
    expect(transport.conns).toHaveLength(2);
    transport.last.drop(false); // server still down
    clock.advance(1000);
    transport.last.drop(false);
    expect(session.status).toMatchObject({ phase: 'reconnecting', attempt: 3 });
    clock.advance(2000);
    transport.last.open();
    // The doc's resume example, from the last seq seen (4712).
    expect(transport.last.sent[0]).toEqual({ ...example<object>('login_resume'), resume_from: 4712 });
    transport.last.deliver({ type: 'resumed', from: 4712, replayed: 1 });
    transport.last.deliver(event('event_call_ended', 4720));
    expect(session.status.phase).toBe('live');
    expect(store.view.extensions['202']?.lamp).toBe('ringing');
    expect(store.view.calls).toEqual({});
    expect(store.view.lastSeq).toBe(4720);

    // The back-off starts again from the first step after a success.
    transport.last.drop();
    expect(session.status).toMatchObject({ attempt: 1, nextTryAt: clock.t + 500 });
  });

  it('replaces everything when the server answers with a snapshot (it restarted)', () => {
    live();
    transport.last.deliver(event('event_lamp'));
    transport.last.drop();
    clock.advance(500);
    transport.last.open();
    const fresh = snap(1_800_000_000_000_000) as Snapshot & { type: 'snapshot' };
    fresh.calls = [];
    fresh.extensions = fresh.extensions.map((e) => ({ ...e, lamp: 'unavailable' as const }));
    transport.last.deliver(fresh);
    expect(session.status.phase).toBe('live');
    expect(store.view.extensions['202']?.lamp).toBe('unavailable');
    expect(store.view.calls).toEqual({});
    expect(store.view.lastSeq).toBe(1_800_000_000_000_000);
  });

  it('stops when the password no longer works, waits a minute when rate limited', () => {
    live();
    transport.last.drop();
    clock.advance(500);
    transport.last.open();
    transport.last.deliver(example('error_rate_limited'));
    expect(session.status).toMatchObject({ phase: 'reconnecting', nextTryAt: clock.t + RATE_LIMIT_WAIT_MS });
    clock.advance(RATE_LIMIT_WAIT_MS);
    transport.last.open();
    transport.last.deliver(example('error_auth_failed'));
    expect(session.status).toMatchObject({ phase: 'stopped', failure: 'auth_failed' });
  });

  it('retry now skips the wait', () => {
    live();
    transport.last.drop();
    clock.advance(500);
    transport.last.drop(false);
    expect(transport.conns).toHaveLength(2);
    session.retryNow();
    expect(transport.conns).toHaveLength(3);
    expect(session.status).toMatchObject({ phase: 'reconnecting', nextTryAt: null });
  });

  it('ends on logout: no more attempts, state forgotten', () => {
    live();
    transport.last.drop();
    session.stop();
    clock.advance(60_000);
    expect(transport.conns).toHaveLength(1);
    expect(session.status).toEqual({ phase: 'stopped', failure: null, detail: 'logged out' });
    expect(store.view.user).toBeNull();
    expect(clock.pending()).toBe(0);
  });

  it('back-off doubles from 0.5 s up to a cap, with jitter', () => {
    const mid = () => 0.5;
    expect([0, 1, 2, 3, 4, 5, 9].map((a) => backoffDelay(a, mid))).toEqual([
      500, 1000, 2000, 4000, 8000, BACKOFF_MAX_MS, BACKOFF_MAX_MS,
    ]);
    expect(backoffDelay(0, () => 0)).toBe(400);
    expect(backoffDelay(0, () => 1)).toBe(600);
  });
});
