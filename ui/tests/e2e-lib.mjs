// What the browser end-to-end scripts share: the stdio handshake with the Rust test that drives
// them (tests/tests/e2e/ui_run.rs), Chromium started for a closed network, screenshots, checks.
//
// Protocol, one line each: we print `STEP <name>` and wait for `GO` on stdin (the test does the
// SIP side), `FIGURE <name>=<value>` for measured figures, `LOG <text>`, `PASS` at the end.
// Environment: UI_URL (the page), ARTIFACTS (folder for screenshots), CHROMIUM (binary).

import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const UI_URL = process.env.UI_URL;
export const ARTIFACTS = process.env.ARTIFACTS ?? 'e2e-artifacts';
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
/** One wait for the UI to show something. */
export const WAIT_MS = 20_000;

if (!UI_URL) {
  console.error('UI_URL is not set');
  process.exit(2);
}
mkdirSync(ARTIFACTS, { recursive: true });

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

/** Tells the Rust side where we are and waits until it has done its part. */
export async function step(name) {
  console.log(`STEP ${name}`);
  const { value, done } = await lines.next();
  if (done || value.trim() !== 'GO') throw new Error(`after STEP ${name}: expected GO, got ${value}`);
}

export const log = (s) => console.log(`LOG ${s}`);

export function figure(name, value) {
  console.log(`FIGURE ${name}=${value}`);
}

export function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

/** Chromium for a closed network: no background traffic, no component downloads. */
export function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** A full-page screenshot of `page` into ARTIFACTS. */
export async function screenshot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, name), fullPage: true });
  log(`screenshot ${name}`);
}

export async function signIn(page, user, password) {
  await page.fill('input[name=user]', user);
  await page.fill('input[name=password]', password);
  await page.click('[data-testid=login] button[type=submit]');
}

/** Runs `body`; on failure prints the reason, saves `failure.png` of `currentPage()` and exits 1. */
export async function run(browser, currentPage, body) {
  try {
    await body();
    console.log('PASS');
    await browser.close();
    process.exit(0);
  } catch (e) {
    console.error(`FAIL: ${e?.stack ?? e}`);
    try {
      await currentPage()?.screenshot({ path: join(ARTIFACTS, 'failure.png'), fullPage: true });
    } catch {
      // the page may be gone
    }
    await browser.close();
    process.exit(1);
  }
}
