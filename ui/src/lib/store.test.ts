import { describe, expect, it } from 'vitest';
import {
  PROTOCOL_VERSION,
  type AgentStatus,
  type CallInfo,
  type Event,
  type HistoryEntry,
  type QueueStatus,
  type ServerMsg,
  type Snapshot,
} from '../protocol/cti';
import { example, exampleNames } from '../test/doc-examples';
import {
  CtiStore,
  HISTORY_MAX,
  agentList,
  agentPauseMs,
  incomingCalls,
  membersOf,
  missedHistory,
  myAgent,
  myCalls,
  nameOf,
  oldestWaitMs,
  otherParty,
  parkedCalls,
  queueList,
  queuePauseMs,
  runningPause,
  serviceLevelPct,
} from './store';

type EventFrame = Extract<ServerMsg, { type: 'event' }>;

function snapshot(): Snapshot {
  return example<Snapshot>('snapshot');
}

function ev(name: string): EventFrame {
  return example<EventFrame>(name);
}

function loaded(): CtiStore {
  const s = new CtiStore();
  expect(s.applySnapshot(snapshot())).toEqual({ ok: true });
  return s;
}

describe('the doc examples', () => {
  it('are all there', () => {
    for (const name of ['snapshot', 'event_lamp', 'event_call', 'event_history', 'event_queue', 'event_agent', 'resumed']) {
      expect(exampleNames()).toContain(name);
    }
  });
});

describe('snapshot', () => {
  it('gives the whole state and the seq to resume from', () => {
    const v = loaded().view;
    expect(v.lastSeq).toBe(4711);
    expect(v.user?.extension).toBe('201');
    expect(v.order).toEqual(['201', '202']);
    expect(v.extensions['201']?.lamp).toBe('busy');
    expect(v.extensions['201']?.peer).toEqual({ number: '0612345xxx', name: null });
    expect(v.extensions['202']?.presence.message).toBe('back at 14:00');
    expect(v.services?.forwards.no_answer).toBe('+393331234567');
    expect(Object.keys(v.calls)).toEqual(['1718000000.42']);
    expect(v.history.map((h) => h.id)).toEqual(['1717990000.7']);
  });

  it('replaces everything, whenever it comes', () => {
    const s = loaded();
    s.applyEvent(4800, ev('event_lamp').event);
    s.addHistoryPage([{ ...snapshot().history[0]!, id: 'old', started_ms: 1 }], false);
    const next = snapshot();
    next.seq = 9000;
    next.calls = [];
    next.extensions = next.extensions.filter((e) => e.number === '202');
    next.history = [];
    s.applySnapshot(next);
    expect(s.view.lastSeq).toBe(9000);
    expect(s.view.order).toEqual(['202']);
    expect(s.view.extensions['201']).toBeUndefined();
    expect(s.view.extensions['202']?.lamp).toBe('idle');
    expect(s.view.calls).toEqual({});
    expect(s.view.history).toEqual([]);
  });

  it('tells how far the server clock is from ours', () => {
    const s = new CtiStore();
    s.applySnapshot(snapshot(), 1718000010000 - 30_000); // we are 30 s behind
    expect(s.view.clockOffsetMs).toBe(30_000);
    const old = snapshot();
    delete old.server_ms; // a server that does not say
    s.applySnapshot(old, 5);
    expect(s.view.clockOffsetMs).toBe(0);
    s.applySnapshot(snapshot()); // no arrival time given
    expect(s.view.clockOffsetMs).toBe(0);
  });

    it('from a newer protocol is refused', () => {
    const s = new CtiStore();
    const snap = snapshot();
    snap.protocol = PROTOCOL_VERSION + 1;
    expect(s.applySnapshot(snap)).toEqual({
      ok: false,
      reason: 'protocol_too_new',
      protocol: PROTOCOL_VERSION + 1,
    });
    expect(s.view.user).toBeNull();
  });

  it('sorts extensions by number, numerically', () => {
    const s = new CtiStore();
    const snap = snapshot();
    const base = snap.extensions[1]!;
    snap.extensions = ['1000', '30', '201', '4'].map((number) => ({ ...base, number }));
    s.applySnapshot(snap);
    expect(s.view.order).toEqual(['4', '30', '201', '1000']);
  });
});

describe('events', () => {
  it('apply the doc example of every kind', () => {
    const s = loaded();
    const v = s.view;
    const apply = (name: string, seq?: number) => {
      const f = ev(name);
      expect(s.applyEvent(seq ?? f.seq, f.event)).toEqual({ ok: true });
    };
    apply('event_lamp');
    expect(v.extensions['202']).toMatchObject({
      lamp: 'ringing',
      peer: { number: '201', name: 'Anna Rossi' },
      direction: 'inbound',
    });
    apply('event_account');
    expect(v.extensions['202']?.accounts).toEqual([
      { username: '202', registered: false, address: null, user_agent: null, latency_ms: null },
    ]);
    apply('event_presence');
    expect(v.extensions['202']?.presence.effective).toBe('offline');
    apply('event_services');
    expect(v.services?.dnd).toBe(true);
    expect(v.extensions['201']?.services?.dnd).toBe(true);
    apply('event_extension_dnd');
    expect(v.extensions['201']?.dnd).toBe(true);
    apply('event_call');
    expect(v.calls['1718000000.42']).toMatchObject({ state: 'held', held_by: 'callee' });
    apply('event_call_ended');
    expect(v.calls).toEqual({});
    apply('event_history');
    expect(v.history.map((h) => h.id)).toEqual(['1718000200.45', '1717990000.7']);
    apply('event_queue');
    expect(v.queues['600']).toMatchObject({ name: 'Sales', waiting: 2, oldest_since_ms: 1718000300000 });
    apply('event_agent');
    expect(v.agents['202']?.queues[0]?.paused).toEqual({ reason: 'lunch', since_ms: 1718000400000 });
    expect(v.lastSeq).toBe(4721);
  });

  it('may hide the peer', () => {
    const s = loaded();
    s.applyEvent(4712, ev('event_lamp').event);
    s.applyEvent(4713, ev('event_lamp_hidden_peer').event);
    expect(s.view.extensions['202']).toMatchObject({ lamp: 'ringing', peer: null, direction: null });
  });

  it('with gaps in seq are normal', () => {
    const s = loaded();
    expect(s.applyEvent(5000, ev('event_lamp').event).ok).toBe(true);
    expect(s.applyEvent(7000, ev('event_call_ended').event).ok).toBe(true);
    expect(s.view.lastSeq).toBe(7000);
  });

  it('whose seq does not increase break the promise and change nothing', () => {
    const s = loaded();
    expect(s.applyEvent(4712, ev('event_lamp').event).ok).toBe(true);
    const hidden = ev('event_lamp_hidden_peer');
    expect(hidden.seq).toBe(4712);
    expect(s.applyEvent(hidden.seq, hidden.event)).toEqual({ ok: false, reason: 'seq_not_increasing' });
    expect(s.applyEvent(4000, hidden.event).ok).toBe(false);
    expect(s.view.extensions['202']?.peer?.number).toBe('201');
    expect(s.view.lastSeq).toBe(4712);
  });

  it('a services event of another extension leaves the user services alone', () => {
    const s = loaded();
    const f = ev('event_services');
    const e = f.event as Extract<Event, { kind: 'services' }>;
    s.applyEvent(4800, { ...e, extension: '202' });
    expect(s.view.services?.dnd).toBe(false);
    expect(s.view.extensions['202']?.services?.dnd).toBe(true);
  });

  it('about an extension the snapshot did not have are ignored', () => {
    const s = loaded();
    const f = ev('event_lamp');
    expect(s.applyEvent(4800, { ...f.event, extension: '999' } as Event).ok).toBe(true);
    expect(s.view.extensions['999']).toBeUndefined();
    expect(s.view.lastSeq).toBe(4800);
  });

  it('a new device is added, a known one replaced', () => {
    const s = loaded();
    const f = ev('event_account');
    const e = f.event as Extract<Event, { kind: 'account' }>;
    s.applyEvent(4800, { ...e, account: { ...e.account, username: '202b', registered: true } });
    expect(s.view.extensions['202']?.accounts.map((a) => a.username)).toEqual(['202', '202b']);
  });
});

describe('history', () => {
  const entry = (id: string, started_ms: number, missed = false): HistoryEntry => ({
    id,
    started_ms,
    direction: 'inbound',
    other: { number: '203', name: null },
    status: missed ? 'NOANSWER' : 'OK',
    answered: !missed,
    missed,
    duration_s: 1,
    talk_s: 0,
  });

  it('stays newest first without duplicates, and bounded', () => {
    const s = loaded();
    s.applyEvent(4800, { kind: 'history', entry: entry('a', 1718000000000) });
    s.addHistoryPage([entry('1717990000.7', 1717990000000), entry('b', 5)], false);
    expect(s.view.history.map((h) => h.id)).toEqual(['a', '1717990000.7', 'b']);
    s.addHistoryPage(
      Array.from({ length: HISTORY_MAX + 10 }, (_, i) => entry(`p${i}`, 4 - i * 0.001)),
      false,
    );
    expect(s.view.history).toHaveLength(HISTORY_MAX);
  });

  it('missed view merges the loaded missed calls with older missed pages', () => {
    const s = loaded();
    s.applyEvent(4800, { kind: 'history', entry: entry('m1', 1718000300000, true) });
    s.addHistoryPage([entry('m0', 10, true)], true);
    expect(missedHistory(s.view).map((h) => h.id)).toEqual(['m1', 'm0']);
    expect(s.view.history.map((h) => h.id)).not.toContain('m0');
  });
});

describe('my calls', () => {
  it('are the calls of my extension, with the other party', () => {
    const v = loaded().view;
    const calls = myCalls(v);
    expect(calls).toHaveLength(1);
    expect(otherParty(v, calls[0]!).number).toBe('0612345xxx');
  });
});

describe('incoming calls', () => {
  const ringing = (id: string, caller: { number: string; name: string | null }, callee = '201'): CallInfo => ({
    id,
    caller,
    callee: { number: callee, name: null },
    state: 'ringing',
    held_by: null,
    started_ms: 1718000100000,
    answered_ms: null,
  });

  it('are calls ringing my extension from others, not my own click-to-call nor others\' calls', () => {
    const s = loaded();
    s.applyEvent(4800, { kind: 'call', call: ringing('in.1', { number: '202', name: 'Luca Bianchi' }) });
    s.applyEvent(4801, { kind: 'call', call: ringing('c2c.1', { number: '201', name: null }, '') });
    s.applyEvent(4802, { kind: 'call', call: ringing('other.1', { number: '203', name: null }, '202') });
    expect(incomingCalls(s.view).map((c) => c.id)).toEqual(['in.1']);
    s.applyEvent(4803, { kind: 'call', call: { ...ringing('in.1', { number: '202', name: null }), state: 'connected' } });
    expect(incomingCalls(s.view)).toEqual([]);
  });

  it('name the caller from the directory, the call, or my history', () => {
    const v = loaded().view;
    // An extension: the directory's name wins over what the call says.
    expect(nameOf(v, { number: '202', name: 'Someone else' })).toBe('Luca Bianchi');
    expect(nameOf(v, { number: '0698765432', name: 'ACME Srl' })).toBe('ACME Srl');
    v.history = [
      { ...v.history[0]!, id: 'h.1', other: { number: '0698765432', name: 'Studio Neri' } },
      { ...v.history[0]!, id: 'h.2', other: { number: '0612345xxx', name: 'Masked' } },
    ];
    expect(nameOf(v, { number: '0698765432', name: null })).toBe('Studio Neri');
    expect(nameOf(v, { number: '0611111111', name: null })).toBeNull();
    // A masked number may be another caller's: not looked up.
    expect(nameOf(v, { number: '0612345xxx', name: null })).toBeNull();
  });
});

describe('park slots', () => {
  it('come with the snapshot, change with park_slot events, and a snapshot replaces them', () => {
    const s = new CtiStore();
    const snap = snapshot();
    expect(parkedCalls(s.view)).toEqual([]);
    s.applySnapshot(snap);
    expect(s.view.parkSlots).toEqual({}); // the doc's snapshot: a PBX without park slots
    snap.park_slots = ['890', '891', '892'].map((slot) => ({ slot, lamp: 'idle', peer: null }));
    s.applySnapshot(snap);
    expect(Object.keys(s.view.parkSlots)).toEqual(['890', '891', '892']);
    expect(parkedCalls(s.view)).toEqual([]);

    const f = ev('event_park_slot');
    expect(s.applyEvent(f.seq, f.event)).toEqual({ ok: true });
    s.applyEvent(f.seq + 1, { kind: 'park_slot', slot: { slot: '892', lamp: 'hold', peer: { number: '0612345xxx', name: null } } });
    expect(parkedCalls(s.view).map((p) => [p.slot, p.peer?.number])).toEqual([
      ['890', '201'],
      ['892', '0612345xxx'],
    ]);
    s.applyEvent(f.seq + 2, { kind: 'park_slot', slot: { slot: '890', lamp: 'idle', peer: null } });
    expect(parkedCalls(s.view).map((p) => p.slot)).toEqual(['892']);
    s.applySnapshot(snapshot());
    expect(parkedCalls(s.view)).toEqual([]);
  });
});

describe('call center', () => {
  const queueEv = () => (ev('event_queue').event as Extract<Event, { kind: 'queue' }>).queue;
  const agentEv = () => (ev('event_agent').event as Extract<Event, { kind: 'agent' }>).agent;
  /** The doc's snapshot as a supervisor sees it: the call-center part holds the queue and
   *  agent in the forms of the doc's `queue` and `agent` events, as the reference says. */
  function supervisorSnapshot(): Snapshot {
    const s = snapshot();
    s.user.permissions.supervisor = true;
    const free: AgentStatus = {
      ...agentEv(),
      extension: '203',
      name: 'Marco Verdi',
      state: 'free',
      queues: [{ ...agentEv().queues[0]!, state: 'free', paused: null, calls_taken: 2, pause_ms: 0 }],
      calls_taken: 2,
      pause_ms: 0,
    };
    s.call_center = { queues: [queueEv()], agents: [free, agentEv()] };
    return s;
  }

  it('a snapshot without it (not an agent, not a supervisor) has none', () => {
    const v = loaded().view;
    expect(v.callCenter).toBe(false);
    expect(v.queues).toEqual({});
    expect(v.agents).toEqual({});
    expect(myAgent(v)).toBeNull();
  });

  it('a supervisor snapshot gives queues and agents, a later snapshot replaces them', () => {
    const s = new CtiStore();
    s.applySnapshot(supervisorSnapshot());
    const v = s.view;
    expect(v.callCenter).toBe(true);
    expect(queueList(v).map((q) => q.number)).toEqual(['600']);
    expect(agentList(v).map((a) => a.extension)).toEqual(['202', '203']);
    // Members of the queue, free ones first.
    expect(membersOf(v, '600').map((m) => [m.agent.extension, m.membership.state])).toEqual([
      ['203', 'free'],
      ['202', 'paused'],
    ]);
    expect(membersOf(v, '601')).toEqual([]);
    s.applySnapshot(snapshot());
    expect(v.callCenter).toBe(false);
    expect(v.queues).toEqual({});
    expect(v.agents).toEqual({});
  });

  it('an agent snapshot has the own record only', () => {
    const s = new CtiStore();
    const snap = snapshot();
    snap.user.extension = '202';
    snap.call_center = { queues: [], agents: [agentEv()] };
    s.applySnapshot(snap);
    expect(s.view.callCenter).toBe(true);
    expect(myAgent(s.view)?.queues.map((q) => q.queue)).toEqual(['600']);
  });

  it('queue events replace the queue; agent events replace the agent, or remove one with no queue', () => {
    const s = new CtiStore();
    s.applySnapshot(supervisorSnapshot());
    const q: QueueStatus = { ...queueEv(), waiting: 0, oldest_since_ms: null };
    s.applyEvent(4800, { kind: 'queue', queue: q });
    expect(s.view.queues['600']?.waiting).toBe(0);
    s.applyEvent(4801, { kind: 'queue', queue: { ...queueEv(), number: '601', name: 'Support' } });
    expect(queueList(s.view).map((x) => x.name)).toEqual(['Sales', 'Support']);
    const resumed: AgentStatus = {
      ...agentEv(),
      state: 'free',
      queues: [{ ...agentEv().queues[0]!, state: 'free', paused: null }],
    };
    s.applyEvent(4802, { kind: 'agent', agent: resumed });
    expect(runningPause(s.view.agents['202']!)).toBeNull();
    s.applyEvent(4803, { kind: 'agent', agent: { ...resumed, queues: [] } });
    expect(s.view.agents['202']).toBeUndefined();
    expect(agentList(s.view).map((a) => a.extension)).toEqual(['203']);
    expect(membersOf(s.view, '600').map((m) => m.agent.extension)).toEqual(['203']);
    // A dynamic log-in of a new agent adds it.
    s.applyEvent(4804, { kind: 'agent', agent: { ...resumed, extension: '205' } });
    expect(agentList(s.view).map((a) => a.extension)).toEqual(['203', '205']);
    expect(membersOf(s.view, '600').map((m) => m.agent.extension)).toEqual(['203', '205']);
    // 203 moves from 600 to 601 and 602: the member lists follow, in number order.
    const m203 = s.view.agents['203']!.queues[0]!;
    s.applyEvent(4805, {
      kind: 'agent',
      agent: { ...s.view.agents['203']!, queues: [{ ...m203, queue: '601' }, { ...m203, queue: '602' }] },
    });
    expect(s.view.queueMembers).toEqual({ '600': ['205'], '601': ['203'], '602': ['203'] });
    s.applyEvent(4806, { kind: 'agent', agent: { ...resumed, extension: '2000', queues: [{ ...m203, queue: '601' }] } });
    expect(s.view.queueMembers['601']).toEqual(['203', '2000']);
  });

  it('an agent with no call-center part gains its record when it logs in', () => {
    const s = loaded();
    s.applyEvent(4800, { kind: 'agent', agent: { ...agentEv(), extension: '201' } });
    expect(myAgent(s.view)?.extension).toBe('201');
  });

  it('ages and pause times count on from the event timestamps', () => {
    const q = queueEv();
    expect(oldestWaitMs(q, 1718000300000 + 42_000)).toBe(42_000);
    expect(oldestWaitMs(q, 1718000300000 - 5)).toBe(0); // a clock behind the server's
    expect(oldestWaitMs({ ...q, waiting: 0, oldest_since_ms: null }, 1718000400000)).toBeNull();
    const a = agentEv();
    const m = a.queues[0]!;
    // 540 s of ended pauses, plus the lunch running for 60 s.
    expect(queuePauseMs(m, 1718000400000 + 60_000)).toBe(600_000);
    expect(agentPauseMs(a, 1718000400000 + 60_000)).toBe(600_000);
    expect(queuePauseMs({ ...m, paused: null }, 1718000400000 + 60_000)).toBe(540_000);
    expect(runningPause(a)).toEqual({ reason: 'lunch', since_ms: 1718000400000 });
  });

  it('service level is the share of answered calls answered within it', () => {
    const q = queueEv();
    expect(serviceLevelPct(q)).toBe(82); // 9 of 11
    expect(serviceLevelPct({ ...q, stats: { ...q.stats, answered: 0, answered_in_sl: 0 } })).toBeNull();
  });
});
