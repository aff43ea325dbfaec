// Mode gating (decision 014): a Free seat hides the Pro features (hold, transfers, pickup, dial
// pad, DND and forwards) and keeps click-to-call and hang up; a lower chosen mode does the same.

import { flushSync, mount, unmount } from 'svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import App from './App.svelte';
import { AppState, effectiveMode } from './lib/app.svelte';
import type { CtiMode, ServerMsg, Snapshot } from './protocol/cti';
import { example } from './test/doc-examples';
import { FakeTransport } from './test/fakes';

let transport: FakeTransport;
let app: AppState;
let component: ReturnType<typeof mount>;

const $ = (sel: string): HTMLElement | null => document.body.querySelector(sel);
const buttons = (): string[] =>
  [...document.body.querySelectorAll('[data-testid=my-calls] button')].map((b) => b.textContent!.trim());

function signInWith(mode: CtiMode | null) {
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
  if (mode) s.user.licence = { mode, call_center: false };
  else delete s.user.licence;
  transport.last.deliver({ type: 'snapshot', ...s } as ServerMsg);
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

describe('modes', () => {
  it('the effective mode is the chosen one capped by the seat', () => {
    expect(effectiveMode('pro', null)).toBe('pro');
    expect(effectiveMode('pro', 'phone')).toBe('pro');
    expect(effectiveMode('phone', 'free')).toBe('free');
    expect(effectiveMode(undefined, null)).toBe('phone');
  });

  it('a Pro seat shows call control, the dial pad and the services', () => {
    signInWith('pro');
    expect(buttons()).toEqual(expect.arrayContaining(['Hang up', 'Hold', 'Transfer']));
    expect($('[data-testid=dialpad]') ?? $('.dialpad')).not.toBeNull();
    expect(($('[data-testid=mode]') as HTMLSelectElement).value).toBe('pro');
  });

  it('a Free seat keeps hang up and click-to-call and hides the rest', () => {
    signInWith('free');
    expect(buttons()).toEqual(['Hang up']);
    expect($('[data-testid=dialpad]') ?? $('.dialpad')).toBeNull();
    expect($('[data-testid=mode]')).toBeNull();
    expect($('[data-number="202"] button.call')).not.toBeNull();
  });

  it('choosing Free under a Pro seat hides the Pro features too, and is remembered', () => {
    signInWith('pro');
    const select = $('[data-testid=mode]') as HTMLSelectElement;
    expect([...select.options].map((o) => o.value)).toEqual(['free', 'pro']);
    select.value = 'free';
    select.dispatchEvent(new Event('change', { bubbles: true }));
    flushSync();
    expect(buttons()).toEqual(['Hang up']);
    expect(localStorage.getItem('centralino.mode')).toBe('free');
  });

  it('a server without seats allows everything', () => {
    signInWith(null);
    expect(buttons()).toEqual(expect.arrayContaining(['Hold', 'Transfer']));
  });
});
