// Call control beyond hold and blind transfer, in jsdom with the scripted transport: attended
// transfer between two calls, park and the parked calls, pickup from the directory,
// drag-and-drop transfer onto a directory row, and the incoming-call popup.

import { flushSync, mount, unmount } from 'svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import App from '../App.svelte';
import { AppState } from '../lib/app.svelte';
import type { Lang } from '../lib/i18n';
import type { CallInfo, CtiMode, Event as CtiEvent, ParkSlot, ServerMsg, Snapshot } from '../protocol/cti';
import { example } from '../test/doc-examples';
import { FakeTransport } from '../test/fakes';

let transport: FakeTransport;
let app: AppState;
let component: ReturnType<typeof mount> | null = null;
let seq = 5000;

const $ = (sel: string): HTMLElement | null => document.body.querySelector(sel);
const $$ = (sel: string): HTMLElement[] => [...document.body.querySelectorAll<HTMLElement>(sel)];
const lastCommand = () => (transport.last.sent.at(-1) as { command: unknown }).command;
const card = (id: string) => $(`[data-testid=my-calls] [data-call="${id}"]`)!;
const texts = (els: HTMLElement[]) => els.map((b) => b.textContent!.trim());

/** The doc's call: 0612345xxx talking to 201 (Anna, the user). */
const DOC_CALL = '1718000000.42';

/** A call of 201 to 202 (the consultation), connected. */
function consultation(state: CallInfo['state'] = 'connected'): CallInfo {
  return {
    id: 'consult.1',
    caller: { number: '201', name: 'Anna Rossi' },
    callee: { number: '202', name: 'Luca Bianchi' },
    state,
    held_by: null,
    started_ms: 1718000050000,
    answered_ms: state === 'ringing' ? null : 1718000052000,
  };
}

function start(lang: Lang = 'en') {
  transport = new FakeTransport();
  app = new AppState({ lang, makeTransport: () => transport });
  component = mount(App, { target: document.body, props: { app } });
  flushSync();
}

/** Signs in as 201 with the doc's snapshot, changed by `edit`. */
function signIn(edit: (s: Snapshot) => void = () => {}, mode: CtiMode = 'pro') {
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
  flushSync();
  transport.last.open();
  const s = example<Snapshot>('snapshot');
  s.user.licence = { mode, call_center: false };
  edit(s);
  transport.last.deliver({ type: 'snapshot', ...s } as ServerMsg);
  flushSync();
}

function send(event: CtiEvent) {
  transport.last.deliver({ type: 'event', seq: ++seq, event });
  flushSync();
}

const slots = (parked: Partial<Record<string, ParkSlot['peer']>> = {}): ParkSlot[] =>
  ['890', '891', '892'].map((slot) =>
    slot in parked ? { slot, lamp: 'hold', peer: parked[slot] ?? null } : { slot, lamp: 'idle', peer: null },
  );

beforeEach(() => {
  vi.useFakeTimers();
  localStorage.clear();
});

afterEach(() => {
  if (component) unmount(component);
  component = null;
  vi.useRealTimers();
});

describe('attended transfer', () => {
  it('with a held call and a consultation, each card transfers to the other party', () => {
    start();
    signIn((s) => {
      s.calls[0]!.state = 'held';
      s.calls[0]!.held_by = 'callee';
      s.calls.push(consultation());
    });
    const onHeld = card(DOC_CALL).querySelectorAll<HTMLButtonElement>('button.attended');
    expect(texts([...onHeld])).toEqual(['Transfer to Luca Bianchi (202)']);
    expect(onHeld[0]!.getAttribute('aria-label')).toBe('Attended transfer: put 0612345xxx through to Luca Bianchi (202)');
    onHeld[0]!.click();
    expect(lastCommand()).toEqual({ name: 'transfer', call: DOC_CALL, number: null, consult: 'consult.1' });

    const onConsult = card('consult.1').querySelectorAll<HTMLButtonElement>('button.attended');
    expect(texts([...onConsult])).toEqual(['Transfer to 0612345xxx']);
    onConsult[0]!.click();
    expect(lastCommand()).toEqual({ name: 'transfer', call: 'consult.1', number: null, consult: DOC_CALL });

    // The blind transfer by search is still there.
    expect(texts($$(`[data-call="${DOC_CALL}"] button`))).toContain('Transfer');
  });

  it('is not offered with one call, while the consultation rings, or in Free mode', () => {
    start();
    signIn();
    expect($$('button.attended')).toEqual([]);
    send({ kind: 'call', call: consultation('ringing') });
    expect(card('consult.1')).not.toBeNull();
    expect($$('button.attended')).toEqual([]);
    send({ kind: 'call', call: consultation('connected') });
    expect($$('button.attended')).toHaveLength(2);
    unmount(component!);

    start();
    signIn((s) => s.calls.push(consultation()), 'free');
    expect(card('consult.1')).not.toBeNull();
    expect($$('button.attended')).toEqual([]);
  });
});

describe('park', () => {
  it('Park transfers a connected call to the park code, and the parked list follows the slots', () => {
    start();
    signIn((s) => (s.park_slots = slots()));
    const park = card(DOC_CALL).querySelector<HTMLButtonElement>('button.park')!;
    expect(park.textContent!.trim()).toBe('Park');
    expect(park.getAttribute('aria-label')).toBe('Park 0612345xxx');
    park.click();
    expect(lastCommand()).toEqual({ name: 'transfer', call: DOC_CALL, number: '888', consult: null });

    // No call parked yet.
    expect($('[data-testid=parked]')!.textContent).toContain('No call parked.');
    // The caller is parked in 891, the doc's example parks 201 in 890.
    send({ kind: 'call_ended', id: DOC_CALL });
    send({ kind: 'park_slot', slot: { slot: '891', lamp: 'hold', peer: { number: '0612345xxx', name: null } } });
    send(example<{ event: CtiEvent }>('event_park_slot').event);
    const rows = $$('[data-testid=parked] li');
    expect(rows.map((r) => r.dataset.slot)).toEqual(['890', '891']);
    expect(rows[0]!.textContent).toContain('Slot 890');
    expect(rows[0]!.textContent).toContain('Anna Rossi (201)');
    expect(rows[1]!.textContent).toContain('0612345xxx');

    // Retrieve dials the slot.
    (rows[1]!.querySelector('button.retrieve') as HTMLButtonElement).click();
    expect(lastCommand()).toEqual({ name: 'dial', number: '891' });

    send({ kind: 'park_slot', slot: { slot: '891', lamp: 'idle', peer: null } });
    expect($$('[data-testid=parked] li').map((r) => r.dataset.slot)).toEqual(['890']);
  });

  it('needs park slots on the PBX and Pro mode; only connected calls park', () => {
    start();
    signIn(); // the doc's snapshot: no park slots
    expect($('button.park')).toBeNull();
    expect($('[data-testid=parked]')).toBeNull();
    send({ kind: 'call', call: { ...example<{ event: { call: CallInfo } }>('event_call').event.call } });
    expect(card(DOC_CALL).dataset.state).toBe('held');
    expect($('button.park')).toBeNull();
    unmount(component!);

    start();
    signIn((s) => (s.park_slots = slots({ '890': { number: '202', name: 'Luca Bianchi' } })), 'free');
    expect($('button.park')).toBeNull();
    // Retrieving is a click-to-call, which Free has.
    expect($('[data-testid=parked] li[data-slot="890"] button.retrieve')).not.toBeNull();
  });

  it('speaks Italian', () => {
    start('it');
    signIn((s) => (s.park_slots = slots({ '890': null })));
    expect(card(DOC_CALL).querySelector('button.park')!.textContent!.trim()).toBe('Parcheggia');
    const parked = $('[data-testid=parked]')!;
    expect(parked.querySelector('h2')!.textContent).toBe('Chiamate parcheggiate');
    expect(parked.textContent).toContain('Posto 890');
    expect(parked.textContent).toContain('una chiamata'); // the parked party hidden from this user
  });
});

describe('pickup', () => {
  const ring = (extension: string, direction: 'inbound' | 'outbound') =>
    send({ kind: 'lamp', extension, lamp: 'ringing', peer: { number: '0698765432', name: null }, direction });

  it('an extension ringing with a call for it offers Pick up, which sends pickup', () => {
    start();
    signIn();
    expect($('[data-number="202"] button.pickup')).toBeNull(); // idle
    ring('202', 'inbound');
    const button = $('[data-number="202"] button.pickup') as HTMLButtonElement;
    expect(button.textContent!.trim()).toBe('Pick up');
    expect(button.getAttribute('aria-label')).toBe('Pick up the call ringing at Luca Bianchi');
    button.click();
    expect(lastCommand()).toEqual({ name: 'pickup', extension: '202' });
    // Answered there (or picked up): the button goes.
    send({ kind: 'lamp', extension: '202', lamp: 'busy', peer: { number: '0698765432', name: null }, direction: 'inbound' });
    expect($('[data-number="202"] button.pickup')).toBeNull();
  });

  it('not for an extension calling out, nor for my own, nor in Free mode', () => {
    start();
    signIn();
    ring('202', 'outbound'); // 202 calls out and the other side rings: nothing to pick up
    expect($('[data-number="202"] button.pickup')).toBeNull();
    ring('201', 'inbound');
    expect($('[data-number="201"] button.pickup')).toBeNull();
    unmount(component!);

    start('it');
    signIn();
    ring('202', 'inbound');
    expect($('[data-number="202"] button.pickup')!.textContent!.trim()).toBe('Preleva');
    unmount(component!);

    start();
    signIn(() => {}, 'free');
    ring('202', 'inbound');
    expect($('[data-number="202"]')!.dataset.lamp).toBe('ringing');
    expect($('[data-number="202"] button.pickup')).toBeNull();
  });
});

describe('drag and drop transfer', () => {
  /** A stand-in for the browser's DataTransfer (jsdom has none). */
  function dataTransfer() {
    const data = new Map<string, string>();
    return {
      dropEffect: 'none',
      effectAllowed: 'all',
      get types() {
        return [...data.keys()];
      },
      setData: (type: string, value: string) => void data.set(type, value),
      getData: (type: string) => data.get(type) ?? '',
    };
  }

  function drag(target: Element, type: string, dt: ReturnType<typeof dataTransfer>): globalThis.Event {
    const e = new Event(type, { bubbles: true, cancelable: true });
    Object.defineProperty(e, 'dataTransfer', { value: dt });
    target.dispatchEvent(e);
    flushSync();
    return e;
  }

  it('a call card dropped on a directory row is transferred to that extension', () => {
    start();
    signIn();
    const c = card(DOC_CALL);
    expect(c.getAttribute('draggable')).toBe('true');
    const dt = dataTransfer();
    drag(c, 'dragstart', dt);
    expect(dt.getData('application/x-centralino-call')).toBe(DOC_CALL);

    // Over a row (on its name, deep inside): the drop is accepted and the row says so.
    const row = $('[data-number="202"]')!;
    const over = drag(row.querySelector('.name')!, 'dragover', dt);
    expect(over.defaultPrevented).toBe(true);
    expect(row.classList.contains('drop')).toBe(true);
    expect(row.querySelector('[data-testid=drop-hint]')!.textContent).toBe(
      'Release to transfer the call to Luca Bianchi',
    );
    // Not on my own extension.
    expect(drag($('[data-number="201"]')!, 'dragover', dt).defaultPrevented).toBe(false);
    expect($$('.ext.drop')).toEqual([]);

    drag(row.querySelector('.name')!, 'dragover', dt);
    const sent = transport.last.sent.length;
    drag(row, 'drop', dt);
    expect(transport.last.sent).toHaveLength(sent + 1);
    expect(lastCommand()).toEqual({ name: 'transfer', call: DOC_CALL, number: '202', consult: null });
    drag(c, 'dragend', dt);
    expect($$('.ext.drop')).toEqual([]);
    expect($('[data-testid=drop-hint]')).toBeNull();
  });

  it('other drags are refused, and ringing calls and Free mode do not drag', () => {
    start();
    signIn((s) => s.calls.push(consultation('ringing')));
    expect(card('consult.1').getAttribute('draggable')).toBeNull();
    // Something else dragged over the directory (a file, a text): no drop, nothing sent.
    const dt = dataTransfer();
    dt.setData('text/plain', 'hello');
    const row = $('[data-number="202"]')!;
    expect(drag(row, 'dragover', dt).defaultPrevented).toBe(false);
    const sent = transport.last.sent.length;
    drag(row, 'drop', dt);
    expect(transport.last.sent).toHaveLength(sent);
    unmount(component!);

    start();
    signIn(() => {}, 'free');
    expect(card(DOC_CALL).getAttribute('draggable')).toBeNull();
    const dt2 = dataTransfer();
    dt2.setData('application/x-centralino-call', DOC_CALL);
    expect(drag($('[data-number="202"]')!, 'dragover', dt2).defaultPrevented).toBe(false);
  });
});

describe('incoming-call popup', () => {
  const incoming = (id: string, caller: { number: string; name: string | null }, callee = '201'): CallInfo => ({
    id,
    caller,
    callee: { number: callee, name: null },
    state: 'ringing',
    held_by: null,
    started_ms: 1718000100000 + Number(id.replace(/\D/g, '') || 0),
    answered_ms: null,
  });
  const popup = () => $('[data-testid=incoming-call]');
  const popupButton = (text: string) =>
    [...popup()!.querySelectorAll('button')].find((b) => b.textContent!.trim() === text) as HTMLButtonElement;

  it('shows a colleague calling me, with the name from the directory, until I answer', () => {
    start();
    signIn();
    expect(popup()).toBeNull();
    const search = $('[data-testid=dir-search]') as HTMLInputElement;
    search.focus();
    send({ kind: 'call', call: incoming('in.1', { number: '202', name: null }) });
    const p = popup()!;
    expect(p.getAttribute('role')).toBe('dialog');
    expect(p.getAttribute('aria-modal')).toBe('false');
    expect(p.closest('[aria-live=assertive]')).not.toBeNull();
    expect(document.activeElement).toBe(search); // it takes no focus from what the user does
    expect(p.querySelector('h2')!.textContent).toContain('Incoming call');
    expect($('[data-testid=incoming-name]')!.textContent).toBe('Luca Bianchi');
    expect($('[data-testid=incoming-number]')!.textContent).toBe('202');
    expect(p.textContent).toContain('Answer on your phone');

    popupButton('Reject').click();
    expect(lastCommand()).toEqual({ name: 'hangup', call: 'in.1' });
    // Answered: the popup goes (the call stays in My calls).
    send({ kind: 'call', call: { ...incoming('in.1', { number: '202', name: null }), state: 'connected', answered_ms: 1718000105000 } });
    expect(popup()).toBeNull();
    expect(card('in.1').dataset.state).toBe('connected');
  });

  it('names an external caller from my history, and goes when the call ends', () => {
    start();
    signIn((s) => {
      s.user.permissions.privacy = true;
      s.history.push({ ...s.history[0]!, id: 'h.9', other: { number: '0698765432', name: 'Studio Neri' } });
    });
    send({ kind: 'call', call: incoming('in.2', { number: '0698765432', name: null }) });
    expect($('[data-testid=incoming-name]')!.textContent).toBe('Studio Neri');
    expect($('[data-testid=incoming-number]')!.textContent).toBe('0698765432');
    send({ kind: 'call_ended', id: 'in.2' });
    expect(popup()).toBeNull();

    // Nobody knows this one: the number alone.
    send({ kind: 'call', call: incoming('in.3', { number: '0611111111', name: null }) });
    expect($('[data-testid=incoming-name]')).toBeNull();
    expect($('[data-testid=incoming-number]')!.textContent).toBe('0611111111');
  });

  it('Dismiss and Escape hide it for that call; the next ringing call shows', () => {
    start();
    signIn();
    send({ kind: 'call', call: incoming('in.4', { number: '0611111111', name: null }) });
    send({ kind: 'call', call: incoming('in.5', { number: '202', name: null }) });
    expect(popup()!.dataset.call).toBe('in.4');
    expect(popup()!.textContent).toContain('More calls ringing: 1');
    popupButton('Dismiss').click();
    flushSync();
    expect(popup()!.dataset.call).toBe('in.5');
    expect(popup()!.textContent).not.toContain('More calls ringing');
    expect(transport.last.sent.some((m) => m.type === 'command' && m.command.name === 'hangup')).toBe(false);
    popup()!.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true }));
    flushSync();
    expect(popup()).toBeNull();
    // Still ringing in My calls.
    expect(card('in.4').dataset.state).toBe('ringing');
  });

  it('not for my own click-to-call, nor for calls of others a supervisor sees', () => {
    start();
    signIn((s) => (s.user.permissions.supervisor = true));
    send({ kind: 'call', call: incoming('c2c.1', { number: '201', name: 'Anna Rossi' }, '') });
    send({ kind: 'call', call: incoming('other.1', { number: '0611111111', name: null }, '202') });
    expect(popup()).toBeNull();
  });

  it('speaks Italian, and keeps Reject in Free mode (hanging up is free)', () => {
    start('it');
    signIn(() => {}, 'free');
    send({ kind: 'call', call: incoming('in.6', { number: '202', name: null }) });
    expect(popup()!.querySelector('h2')!.textContent).toContain('Chiamata in arrivo');
    expect(popup()!.textContent).toContain('Rispondi dal telefono');
    expect(texts([...popup()!.querySelectorAll('button')])).toEqual(['Rifiuta', 'Nascondi']);
  });

  it('without call control there is nothing to reject with', () => {
    start();
    signIn((s) => (s.user.permissions.call_control = false));
    send({ kind: 'call', call: incoming('in.7', { number: '202', name: null }) });
    expect(texts([...popup()!.querySelectorAll('button')])).toEqual(['Dismiss']);
  });
});
