// The queue panel and the supervisor panel in jsdom, fed by a scripted transport with the
// protocol reference's frames: states shown live, ages and pause times counting on from the
// events' timestamps with no frame from the server, and the commands each button sends.

import { flushSync, mount, unmount } from 'svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import App from '../App.svelte';
import { AppState } from '../lib/app.svelte';
import type { Lang } from '../lib/i18n';
import type { AgentStatus, Command, Event, QueueStatus, ServerMsg, Snapshot } from '../protocol/cti';
import { example } from '../test/doc-examples';
import { FakeTransport } from '../test/fakes';

let transport: FakeTransport;
let app: AppState;
let component: ReturnType<typeof mount> | null = null;

const queueDoc = (): QueueStatus => (example<{ event: Extract<Event, { kind: 'queue' }> }>('event_queue').event).queue;
const agentDoc = (): AgentStatus => (example<{ event: Extract<Event, { kind: 'agent' }> }>('event_agent').event).agent;

/** 203 free in 600, logged in dynamically to 601 as well. */
function agent203(): AgentStatus {
  const m = agentDoc().queues[0]!;
  return {
    extension: '203',
    name: 'Marco Verdi',
    state: 'free',
    queues: [
      { ...m, state: 'free', paused: null, calls_taken: 2, last_call_ms: null, pause_ms: 0 },
      { ...m, queue: '601', dynamic: true, state: 'free', paused: null, calls_taken: 0, last_call_ms: null, pause_ms: 0 },
    ],
    calls_taken: 2,
    last_call_ms: null,
    pause_ms: 0,
  };
}

/** The doc's snapshot for a supervisor (201) or for agent 202, with the call-center part made
 *  of the doc's `queue` and `agent` event payloads. */
function snapshot(who: 'supervisor' | 'agent' | 'plain', serverMs = Date.now()): ServerMsg {
  const s = example<Snapshot>('snapshot');
  // The server's clock agrees with ours unless a test says otherwise.
  s.server_ms = serverMs;
  if (who === 'supervisor') {
    s.user.permissions.supervisor = true;
    s.call_center = {
      queues: [queueDoc(), { ...queueDoc(), number: '601', name: 'Support', strategy: 'ringall', waiting: 0, oldest_since_ms: null }],
      agents: [agentDoc(), agent203()],
    };
  } else if (who === 'agent') {
    s.user.extension = '202';
    s.call_center = { queues: [], agents: [agentDoc()] };
  }
  return { type: 'snapshot', ...s };
}

function $(sel: string): HTMLElement | null {
  return document.body.querySelector(sel);
}

function start(who: 'supervisor' | 'agent' | 'plain', lang: Lang = 'en', serverMs = Date.now()) {
  app = new AppState({ lang, makeTransport: () => transport });
  component = mount(App, { target: document.body, props: { app } });
  flushSync();
  const form = $('[data-testid=login]') as HTMLFormElement;
  for (const [name, value] of [
    ['user', 'anna'],
    ['password', 's3cret'],
  ]) {
    const input = form.querySelector(`input[name=${name}]`) as HTMLInputElement;
    input.value = value!;
    input.dispatchEvent(new Event('input'));
  }
  form.requestSubmit();
  transport.last.open();
  transport.last.deliver(snapshot(who, serverMs));
  flushSync();
}

function tab(id: string) {
  ($(`#tab-${id}`) as HTMLButtonElement).click();
  flushSync();
}

function buttonIn(root: HTMLElement, text: string): HTMLButtonElement {
  const b = [...root.querySelectorAll('button')].find((x) => x.textContent?.trim() === text);
  if (!b) throw new Error(`no button ${text} in ${root.outerHTML.slice(0, 200)}`);
  return b;
}

function lastCommand(): Command {
  return (transport.last.sent.at(-1) as { command: Command }).command;
}

function deliver(seq: number, event: Event) {
  transport.last.deliver({ type: 'event', seq, event });
  flushSync();
}

function type(input: HTMLInputElement, value: string) {
  input.value = value;
  input.dispatchEvent(new Event('input'));
  flushSync();
}

beforeEach(() => {
  vi.useFakeTimers();
  localStorage.clear();
  transport = new FakeTransport();
});

afterEach(() => {
  if (component) unmount(component);
  component = null;
  vi.useRealTimers();
});

describe('tabs', () => {
  it('a user with an extension has the queue panel, only a supervisor the supervisor panel', () => {
    start('plain');
    expect($('#tab-queues')).not.toBeNull();
    expect($('#tab-supervisor')).toBeNull();
    tab('queues');
    expect($('[data-testid=no-queues]')!.textContent).toBe('You are not a member of any queue.');
  });

  it('are in Italian too', () => {
    start('supervisor', 'it');
    expect($('#tab-queues')!.textContent).toContain('Code');
    expect($('#tab-supervisor')!.textContent).toContain('Supervisore');
    tab('supervisor');
    expect($('[data-queue="600"]')!.textContent).toContain('In attesa');
    expect($('[data-member="202"]')!.textContent).toContain('In pausa');
  });
});

describe('the queue panel of an agent', () => {
  it('shows my queues live, pauses with a reason and resumes, per queue or in all', () => {
    vi.setSystemTime(1718000400000 + 60_000);
    start('agent');
    tab('queues');
    const row = () => $('[data-testid=queue-panel] tr[data-queue="600"]')!;
    expect(row().dataset.state).toBe('paused');
    expect(row().querySelector('[data-testid=pause-info]')!.textContent).toMatch(/lunch · since \d\d:\d\d/);
    expect(row().textContent).toContain('configured');
    expect(row().textContent).toContain('10:00'); // 540 s of ended pauses + 60 s running
    vi.advanceTimersByTime(2000);
    flushSync();
    expect(row().textContent).toContain('10:02'); // counts on with no frame from the server
    expect(row().querySelector('button[aria-label="Log out of queue 600"]')).toBeNull(); // configured

    buttonIn(row(), 'Resume').click();
    expect(lastCommand()).toEqual({ name: 'queue_resume', queue: '600', extension: null });

    // The server's answer comes as an agent event: free, and a dynamic membership of 601.
    const a = agentDoc();
    const m = a.queues[0]!;
    deliver(4800, {
      kind: 'agent',
      agent: {
        ...a,
        state: 'free',
        queues: [
          { ...m, state: 'free', paused: null },
          { ...m, queue: '601', dynamic: true, state: 'free', paused: null, calls_taken: 0, pause_ms: 0 },
        ],
      },
    });
    expect(row().dataset.state).toBe('free');
    expect($('[data-testid=my-agent-state]')!.dataset.state).toBe('free');
    expect(($('[data-testid=resume-all]') as HTMLButtonElement).disabled).toBe(true);

    type($('[data-testid=pause-reason]') as HTMLInputElement, 'Meeting');
    ($('[data-testid=pause-all]') as HTMLButtonElement).click();
    expect(lastCommand()).toEqual({ name: 'queue_pause', queue: null, extension: null, reason: 'Meeting' });

    const row601 = $('[data-testid=queue-panel] tr[data-queue="601"]')!;
    buttonIn(row601, 'Pause').click();
    expect(lastCommand()).toEqual({ name: 'queue_pause', queue: '601', extension: null, reason: 'Meeting' });
    buttonIn(row601, 'Log out').click();
    expect(lastCommand()).toEqual({ name: 'queue_logout', queue: '601', extension: null });
  });

  it('logs in to a queue by number and follows its record when it leaves the last one', () => {
    start('agent');
    tab('queues');
    const input = $('[data-testid=queue-panel] input[name=queue]') as HTMLInputElement;
    type(input, ' 601 ');
    (input.form as HTMLFormElement).requestSubmit();
    expect(lastCommand()).toEqual({ name: 'queue_login', queue: '601', extension: null, penalty: null });
    deliver(4800, { kind: 'agent', agent: { ...agentDoc(), queues: [] } });
    expect($('[data-testid=no-queues]')).not.toBeNull();
  });
});

describe('the supervisor panel', () => {
  it('shows each queue: waiting callers, the oldest wait ticking, agents by state, statistics', () => {
    vi.setSystemTime(1718000300000 + 42_000);
    start('supervisor');
    tab('supervisor');
    const card = () => $('[data-testid=queue-card][data-queue="600"]')!;
    expect(card().querySelector('[data-testid=waiting]')!.textContent).toBe('2');
    expect(card().querySelector('[data-testid=oldest-wait]')!.textContent).toBe('0:42');
    vi.advanceTimersByTime(3000);
    flushSync();
    expect(card().querySelector('[data-testid=oldest-wait]')!.textContent).toBe('0:45');
    expect(card().textContent).toContain('Round robin');
    const counts = card().querySelector('[data-testid=agent-counts]')!;
    expect([...counts.querySelectorAll('li')].map((li) => li.dataset.countState + ':' + li.querySelector('b')!.textContent)).toEqual([
      'ringing:1',
      'talking:1',
      'paused:1',
    ]);
    // Members by state, free first, with the pause's reason and start.
    const members = [...card().querySelectorAll('[data-member]')].map((li) => (li as HTMLElement).dataset.member);
    expect(members).toEqual(['203', '202']);
    expect(card().querySelector('[data-member="202"] [data-testid=member-pause]')!.textContent).toMatch(/^lunch · since /);
    const stat = (k: string) => card().querySelector(`[data-stat=${k}]`)!.textContent;
    expect([stat('offered'), stat('answered'), stat('abandoned'), stat('overflowed')]).toEqual(['14', '11', '2', '1']);
    expect(stat('answered_in_sl')).toBe('9\u00a0(82%)');
    expect([stat('avg_wait'), stat('longest_wait'), stat('avg_talk')]).toEqual(['0:12', '1:35', '3:01']);
    expect(card().textContent).toContain('Answered within 20 s');

    // The caller is answered: a queue event, and nobody waits any more.
    deliver(4800, { kind: 'queue', queue: { ...queueDoc(), waiting: 0, oldest_since_ms: null } });
    expect(card().querySelector('[data-testid=waiting]')!.textContent).toBe('0');
    expect(card().querySelector('[data-testid=oldest-wait]')!.textContent).toBe('–');
    expect(card().textContent).toContain('nobody waits');
    expect($('[data-testid=queue-card][data-queue="601"] [data-testid=waiting]')!.textContent).toBe('0');
  });

  it('counts ages on the server clock when ours is wrong', () => {
    // Our clock is 30 s behind the server's; the caller entered 42 s before the snapshot.
    vi.setSystemTime(1718000300000 + 42_000 - 30_000);
    start('supervisor', 'en', 1718000300000 + 42_000);
    tab('supervisor');
    vi.advanceTimersByTime(1000);
    flushSync();
    expect($('[data-queue="600"] [data-testid=oldest-wait]')!.textContent).toBe('0:43');
  });

    it('has the agent grid, and pauses, resumes, removes and adds any agent', () => {
    vi.setSystemTime(1718000400000 + 60_000);
    start('supervisor');
    tab('supervisor');
    const grid = $('[data-testid=agent-grid]')!;
    const row = (ext: string) => grid.querySelector(`tr[data-agent="${ext}"]`) as HTMLElement;
    expect(row('202').dataset.state).toBe('paused');
    expect(row('202').querySelector('[data-testid=agent-pause]')!.textContent).toMatch(/^lunch · since /);
    expect(row('202').querySelector('[data-testid=pause-time]')!.textContent).toBe('10:00');
    expect(row('202').textContent).toContain('6'); // calls taken
    expect(row('203').dataset.state).toBe('free');
    expect(row('203').querySelector('[data-testid=pause-time]')!.textContent).toBe('0:00');
    expect([...row('203').querySelectorAll('li.chip')].map((c) => (c as HTMLElement).dataset.queue)).toEqual(['600', '601']);

    type($('[data-testid=supervisor] input[list=sup-reasons]') as HTMLInputElement, 'coaching');
    buttonIn(row('203'), 'Pause').click();
    expect(lastCommand()).toEqual({ name: 'queue_pause', queue: null, extension: '203', reason: 'coaching' });
    buttonIn(row('202'), 'Resume').click();
    expect(lastCommand()).toEqual({ name: 'queue_resume', queue: null, extension: '202' });
    // Per queue, from the queue card.
    buttonIn($('[data-queue="600"] [data-member="203"]')!, 'Pause').click();
    expect(lastCommand()).toEqual({ name: 'queue_pause', queue: '600', extension: '203', reason: 'coaching' });
    // Only dynamic memberships can be removed.
    expect(row('203').querySelector('li.chip[data-queue="600"] button')).toBeNull();
    (row('203').querySelector('button[aria-label="Remove 203 Marco Verdi from queue 601"]') as HTMLButtonElement).click();
    expect(lastCommand()).toEqual({ name: 'queue_logout', queue: '601', extension: '203' });

    const form = $('[data-testid=add-member]') as HTMLFormElement;
    const [queueSel, extSel] = [...form.querySelectorAll('select')] as HTMLSelectElement[];
    expect(queueSel!.value).toBe('600'); // the first queue until another is chosen
    queueSel!.value = '601';
    queueSel!.dispatchEvent(new Event('change'));
    extSel!.value = '201';
    extSel!.dispatchEvent(new Event('change'));
    flushSync();
    form.requestSubmit();
    expect(lastCommand()).toEqual({ name: 'queue_login', queue: '601', extension: '201', penalty: null });

    // The pause arrives as an agent event: the grid follows.
    const paused = agent203();
    paused.state = 'paused';
    paused.queues = paused.queues.map((m) => ({ ...m, state: 'paused', paused: { reason: 'coaching', since_ms: 1718000450000 } }));
    deliver(4800, { kind: 'agent', agent: paused });
    expect(row('203').dataset.state).toBe('paused');
    expect(row('203').querySelector('[data-testid=pause-time]')!.textContent).toBe('0:10');
  });

  it('opens straight on the wallboard with ?view=wallboard, for supervisors only', () => {
    window.history.replaceState({}, '', '/?view=wallboard');
    try {
      start('supervisor');
      expect($('[data-testid=wallboard]')).not.toBeNull();
      unmount(component!);
      component = null;
      document.body.innerHTML = '';
      start('agent');
      expect($('[data-testid=wallboard]')).toBeNull();
      expect($('[data-testid=main]')).not.toBeNull();
    } finally {
      window.history.replaceState({}, '', '/');
    }
  });

    it('opens the wallboard and closes it with Escape', () => {
    vi.setSystemTime(1718000300000 + 5_000);
    start('supervisor');
    tab('supervisor');
    ($('[data-testid=open-wallboard]') as HTMLButtonElement).click();
    flushSync();
    const wb = $('[data-testid=wallboard]')!;
    expect($('[data-testid=main]')).toBeNull();
    expect(wb.querySelector('[data-queue="600"] [data-testid=wb-waiting]')!.textContent).toBe('2');
    expect(wb.querySelector('[data-queue="600"]')!.textContent).toContain('0:05');
    expect(wb.querySelector('[data-agent="202"]')!.textContent).toContain('lunch');
    document.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape' }));
    flushSync();
    expect($('[data-testid=wallboard]')).toBeNull();
    expect($('[data-testid=supervisor]')).not.toBeNull();
  });

  it('lists a big queue\'s members and a many-queue agent\'s queues on demand', () => {
    const m = agentDoc().queues[0]!;
    const snap = snapshot('supervisor') as Extract<ServerMsg, { type: 'snapshot' }>;
    // 13 agents in 600; 2100 is also in 601-609 (10 queues).
    const many = Array.from({ length: 13 }, (_, i): AgentStatus => ({
      ...agent203(),
      extension: String(2100 + i),
      name: `Agent ${i}`,
      queues: [{ ...m, state: 'free', paused: null }],
    }));
    many[0]!.queues = Array.from({ length: 10 }, (_, i) => ({
      ...m,
      queue: String(600 + i),
      state: i < 3 ? 'paused' : 'free',
      paused: i < 3 ? { reason: null, since_ms: 1 } : null,
    }));
    snap.call_center = { queues: [queueDoc()], agents: many };
    app = new AppState({ lang: 'en', makeTransport: () => transport });
    component = mount(App, { target: document.body, props: { app } });
    flushSync();
    const form = $('[data-testid=login]') as HTMLFormElement;
    type(form.querySelector('input[name=user]') as HTMLInputElement, 'anna');
    type(form.querySelector('input[name=password]') as HTMLInputElement, 's3cret');
    form.requestSubmit();
    transport.last.open();
    transport.last.deliver(snap);
    flushSync();
    tab('supervisor');
    const card = $('[data-testid=queue-card][data-queue="600"]')!;
    expect(card.querySelectorAll('[data-member]')).toHaveLength(0);
    buttonIn(card, 'Show the 13 members').click();
    flushSync();
    expect(card.querySelectorAll('[data-member]')).toHaveLength(13);
    buttonIn(card, 'Hide the 13 members').click();
    flushSync();
    expect(card.querySelectorAll('[data-member]')).toHaveLength(0);

    const row = $('[data-testid=agent-grid] tr[data-agent="2100"]')!;
    expect(row.querySelectorAll('li.chip')).toHaveLength(0);
    expect(row.querySelector('.summary')!.textContent!.replace(/\s+/g, ' ').trim()).toBe('Free 7 Paused 3');
    buttonIn(row, '10 queues').click();
    flushSync();
    expect(row.querySelectorAll('li.chip')).toHaveLength(10);
    // An agent in few queues shows them at once.
    expect($('[data-testid=agent-grid] tr[data-agent="2101"] li.chip')).not.toBeNull();
  });
});
