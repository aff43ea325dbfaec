// The real components in jsdom, fed by a scripted transport: lamps change in place as events
// arrive, the banner shows while the link is down, login errors are spelled out.

import { flushSync, mount, unmount } from 'svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import App from './App.svelte';
import { AppState } from './lib/app.svelte';
import type { ServerMsg, Snapshot } from './protocol/cti';
import { example } from './test/doc-examples';
import { FakeTransport } from './test/fakes';

let transport: FakeTransport;
let app: AppState;
let component: ReturnType<typeof mount>;

function snap(): ServerMsg {
  return { type: 'snapshot', ...example<Snapshot>('snapshot') };
}

function $(sel: string): HTMLElement | null {
  return document.body.querySelector(sel);
}

function signIn(user = 'anna') {
  const form = $('[data-testid=login]') as HTMLFormElement;
  (form.querySelector('input[name=user]') as HTMLInputElement).value = user;
  (form.querySelector('input[name=user]') as HTMLInputElement).dispatchEvent(new Event('input'));
  (form.querySelector('input[name=password]') as HTMLInputElement).value = 's3cret';
  (form.querySelector('input[name=password]') as HTMLInputElement).dispatchEvent(new Event('input'));
  form.requestSubmit();
  flushSync();
}

beforeEach(() => {
  vi.useFakeTimers();
  localStorage.clear();
  transport = new FakeTransport();
  app = new AppState({ lang: 'en', makeTransport: () => transport });
  component = mount(App, { target: document.body, props: { app } });
  flushSync();
});

afterEach(() => {
  unmount(component);
  vi.useRealTimers();
});

describe('the app', () => {
  it('signs in, shows lamps and follows events without re-rendering the page', () => {
    signIn();
    transport.last.open();
    expect(transport.last.sent[0]).toMatchObject({ type: 'login', user: 'anna', password: 's3cret' });
    transport.last.deliver(snap());
    flushSync();
    const row = $('[data-number="202"]')!;
    expect(row.dataset.lamp).toBe('idle');
    expect(row.textContent).toContain('Luca Bianchi');
    expect(row.textContent).toContain('Free');
    expect(row.textContent).toContain('back at 14:00');
    expect($('[data-number="201"]')!.textContent).toContain('Busy');
    // My call from the snapshot, with the masked external party.
    expect($('[data-testid=my-calls]')!.textContent).toContain('0612345xxx');

    transport.last.deliver(example('event_lamp'));
    flushSync();
    expect($('[data-number="202"]')).toBe(row); // same element, updated in place
    expect(row.dataset.lamp).toBe('ringing');
    expect(row.textContent).toContain('Ringing');
    expect(row.querySelector('[data-testid=peer]')!.textContent).toContain('from Anna Rossi (201)');
    expect(row.querySelector('.pickup')).not.toBeNull();
  });

  it('clicking Call sends dial for that extension', async () => {
    signIn();
    transport.last.open();
    transport.last.deliver(snap());
    flushSync();
    ($('[data-number="202"] button.call') as HTMLButtonElement).click();
    expect(transport.last.sent.at(-1)).toMatchObject({
      type: 'command',
      command: { name: 'dial', number: '202' },
    });
    // Until the user answers, the new call has no callee: the panel says what it will call.
    const id = (transport.last.sent.at(-1) as { id: number }).id;
    transport.last.deliver({ type: 'result', id, data: { kind: 'call', call: 'c2c.1' } });
    transport.last.deliver({
      type: 'event',
      seq: 4800,
      event: {
        kind: 'call',
        call: {
          id: 'c2c.1',
          caller: { number: '201', name: 'Anna Rossi' },
          callee: { number: '', name: null },
          state: 'ringing',
          held_by: null,
          started_ms: 1718000100000,
          answered_ms: null,
        },
      },
    });
    await vi.waitFor(() => {
      flushSync();
      expect($('[data-call="c2c.1"]')!.textContent).toContain('Your phone is ringing: answer to call 202');
    });
  });

  it('controls my call: hold, blind transfer picked by search, hang up', () => {
    signIn();
    transport.last.open();
    transport.last.deliver(snap());
    flushSync();
    const call = () => $('[data-call="1718000000.42"]')!;
    const button = (text: string) =>
      [...call().querySelectorAll('button')].find((b) => b.textContent?.trim().startsWith(text))!;
    const lastCommand = () => (transport.last.sent.at(-1) as { command: unknown }).command;

    button('Hold').click();
    expect(lastCommand()).toEqual({ name: 'hold', call: '1718000000.42' });

    button('Transfer').click();
    flushSync();
    const search = call().querySelector('input[type=search]') as HTMLInputElement;
    search.value = 'luca';
    search.dispatchEvent(new Event('input'));
    flushSync();
    const candidate = call().querySelector('button.cand')!;
    expect(candidate.textContent).toContain('202 Luca Bianchi');
    expect(candidate.textContent).toContain('Free'); // the target's lamp, to pick a free colleague
    (candidate as HTMLButtonElement).click();
    expect(lastCommand()).toEqual({ name: 'transfer', call: '1718000000.42', number: '202', consult: null });

    search.value = '+39 333 123';
    search.dispatchEvent(new Event('input'));
    flushSync();
    const typed = [...call().querySelectorAll('button.cand')].at(-1)!;
    expect(typed.textContent).toContain('Transfer to number +39333123');

    button('Hang up').click();
    expect(lastCommand()).toEqual({ name: 'hangup', call: '1718000000.42' });
  });

  it('shows the banner while disconnected and drops it once resumed', () => {
    signIn();
    transport.last.open();
    transport.last.deliver(snap());
    flushSync();
    expect($('[data-testid=disconnected]')).toBeNull();
    transport.last.drop();
    flushSync();
    expect($('[data-testid=disconnected]')!.textContent).toContain('Disconnected — reconnecting…');
    expect($('[data-number="202"]')).not.toBeNull(); // last known state stays on screen
    vi.advanceTimersByTime(700);
    transport.last.open();
    expect(transport.last.sent[0]).toMatchObject({ resume_from: 4711 });
    transport.last.deliver({ type: 'resumed', from: 4711, replayed: 0 });
    flushSync();
    expect($('[data-testid=disconnected]')).toBeNull();
  });

  it('says why a sign-in failed', () => {
    signIn();
    transport.last.open();
    transport.last.deliver(example('error_auth_failed'));
    flushSync();
    expect($('[data-testid=login-error]')!.textContent).toBe('Wrong user or password.');
    signIn();
    transport.last.drop(false);
    flushSync();
    expect($('[data-testid=login-error]')!.dataset.code).toBe('unreachable');
    expect($('[data-testid=login-error]')!.textContent).toContain('Cannot reach the server');
  });
});
