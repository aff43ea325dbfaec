// Browser end-to-end run of WebCTI, driven by tests/tests/e2e/ui.rs, which starts pbx-server
// (serving ui/dist) and the SIPp phones. Debian's Chromium through playwright-core.
//
// Talks to the Rust test over stdio (STEP/GO, FIGURE, LOG, PASS: see e2e-lib.mjs).
// Any failure exits non-zero with the reason on stderr and a screenshot `failure.png`.

import { createServer } from 'node:net';
import { UI_URL, WAIT_MS, check, figure, launch, log, run, screenshot, signIn as signInOn, step } from './e2e-lib.mjs';

/** A loopback port nobody listens on (it was free a moment ago). */
async function closedPort() {
  const srv = createServer();
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

/** Whether `seq` holds `want` in order (other states may come between). */
function inOrder(seq, want) {
  let i = 0;
  for (const s of seq) if (s === want[i]) i += 1;
  return i === want.length;
}

const browser = await launch();
const pageErrors = [];
let page;

const shot = (name) => screenshot(page, name);

const row = (n) => page.locator(`[data-testid=directory] li[data-number="${n}"]`);

async function lampIs(n, lamp) {
  await page.waitForSelector(`[data-testid=directory] li[data-number="${n}"][data-lamp="${lamp}"]`, {
    timeout: WAIT_MS,
  });
}

/** Starts recording every lamp change of the directory rows, in the page. */
async function recordLamps() {
  await page.evaluate(() => {
    const w = /** @type {any} */ (window);
    w.__lamps = {};
    w.__lampObserver?.disconnect();
    const note = (li) => {
      const n = li.dataset.number;
      const seq = (w.__lamps[n] ??= []);
      if (seq[seq.length - 1] !== li.dataset.lamp) seq.push(li.dataset.lamp);
    };
    const list = document.querySelector('[data-testid=directory]');
    list.querySelectorAll('li[data-number]').forEach(note);
    w.__lampObserver = new MutationObserver((records) => {
      for (const r of records) {
        const el = /** @type {HTMLElement} */ (r.target);
        if (el.matches?.('li[data-number]')) note(el);
        el.querySelectorAll?.('li[data-number]').forEach(note);
      }
    });
    w.__lampObserver.observe(list, { attributes: true, attributeFilter: ['data-lamp'], subtree: true, childList: true });
  });
}

const lampLog = () => page.evaluate(() => /** @type {any} */ (window).__lamps);

const signIn = (user, password) => signInOn(page, user, password);

async function expectLoginError(code) {
  await page.waitForSelector(`[data-testid=login-error][data-code="${code}"]`, { timeout: WAIT_MS });
  return page.textContent('[data-testid=login-error]');
}

await run(browser, () => page, async () => {
  const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 860 } });
  page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') log(`console error: ${m.text()}`);
  });

  const loadStart = Date.now();
  await page.goto(UI_URL);
  await page.waitForSelector('[data-testid=login]', { timeout: WAIT_MS });
  figure('page_load_to_login_form_ms', Date.now() - loadStart);
  await page.evaluate(() => {
    /** @type {any} */ (window).__noReload = 'still the first page';
  });
  const host = new URL(UI_URL).host;
  check((await page.inputValue('input[name=server]')) === host, `server field defaults to ${host}`);

  // Login errors are told apart.
  await signIn('201', 'wrong');
  log(`auth_failed: ${await expectLoginError('auth_failed')}`);
  await shot('01-login-error.png');
  await page.fill('input[name=server]', `127.0.0.1:${await closedPort()}`);
  await signIn('201', 'demo201');
  log(`unreachable: ${await expectLoginError('unreachable')}`);
  await page.fill('input[name=server]', host);

  // Sign in: the live directory.
  const t0 = Date.now();
  await signIn('201', 'demo201');
  await page.waitForFunction(
    () => document.querySelectorAll('[data-testid=directory] li[data-number]').length === 8,
    null,
    { timeout: WAIT_MS },
  );
  await lampIs('201', 'idle');
  await lampIs('202', 'idle');
  figure('time_to_first_live_directory_ms', Date.now() - t0);
  await row('203').locator('button.star').click(); // a favourite goes first
  await shot('02-directory.png');
  check((await page.locator('[data-testid=directory] li').first().getAttribute('data-number')) === '203', 'favourite first');

  // A SIPp call 201 -> 202: both lamps ring, go busy, go idle, without a reload.
  await recordLamps();
  await step('call');
  await lampIs('202', 'busy');
  await page.waitForSelector('[data-testid=my-calls] li[data-state=connected]', { timeout: WAIT_MS });
  check((await row('202').locator('[data-testid=peer]').textContent()).includes('201'), '202 shows its peer 201');
  await shot('03-call-busy.png');
  await lampIs('201', 'idle');
  await lampIs('202', 'idle');
  let lamps = await lampLog();
  log(`lamps 201: ${lamps['201'].join(' > ')}; 202: ${lamps['202'].join(' > ')}`);
  for (const n of ['201', '202']) {
    check(inOrder(lamps[n], ['idle', 'ringing', 'busy', 'idle']), `${n} went ringing, busy, idle: ${lamps[n]}`);
  }

  // The history shows the call.
  await page.click('#tab-history');
  const entry = page.locator('[data-testid=history] li').first();
  await entry.waitFor({ timeout: WAIT_MS });
  const entryText = await entry.textContent();
  check(entryText.includes('202') && entryText.includes('Answered'), `history entry: ${entryText}`);
  await shot('04-history.png');
  await page.click('#tab-directory');

  // Click-to-call from the directory rings the user's own phone (a SIPp UAS as 201).
  await step('click_to_call');
  await row('202').locator('button.call').click();
  await page.waitForSelector('[data-testid=my-calls] li[data-state=ringing]', { timeout: WAIT_MS });
  const ringing = await page.textContent('[data-testid=my-calls] li[data-state=ringing]');
  check(ringing.includes('answer to call 202'), `the ringing call says what it will call: ${ringing}`);
  await lampIs('201', 'ringing');
  await shot('05-click-to-call.png');
  await page.click('[data-testid=my-calls] li button.danger'); // hang up
  await page.waitForSelector('[data-testid=my-calls] li', { state: 'detached', timeout: WAIT_MS });
  await lampIs('201', 'idle');
  await step('hung_up');

  // The server goes away: the banner says so; it comes back: the UI resumes by itself.
  await step('kill');
  const down = Date.now();
  await page.waitForSelector('[data-testid=disconnected]', { timeout: WAIT_MS });
  figure('disconnection_shown_after_ms', Date.now() - down);
  await shot('06-disconnected.png');
  await step('restart'); // the test restarted the server and registered 203 meanwhile
  const up = Date.now();
  await page.waitForSelector('[data-testid=disconnected]', { state: 'detached', timeout: 30_000 });
  figure('resumed_after_restart_ms', Date.now() - up);
  await lampIs('203', 'idle');
  await lampIs('201', 'idle');
  await lampIs('202', 'idle');
  await shot('07-resumed.png');
  check(
    (await page.evaluate(() => /** @type {any} */ (window).__noReload)) === 'still the first page',
    'no reload',
  );

  // Live again: a second call shows on the lamps.
  await recordLamps();
  await step('call2');
  await lampIs('202', 'busy');
  await shot('08-call-after-restart.png');
  await lampIs('201', 'idle');
  await lampIs('202', 'idle');
  lamps = await lampLog();
  log(`after restart, lamps 201: ${lamps['201'].join(' > ')}; 202: ${lamps['202'].join(' > ')}`);
  for (const n of ['201', '202']) {
    check(inOrder(lamps[n], ['idle', 'ringing', 'busy', 'idle']), `${n} after restart: ${lamps[n]}`);
  }
  check(pageErrors.length === 0, `no page errors: ${pageErrors.join('; ')}`);

  // Italian, from the browser language.
  const it = await browser.newContext({ locale: 'it-IT', viewport: { width: 1280, height: 860 } });
  page = await it.newPage();
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  await page.goto(UI_URL);
  await signIn('203', 'demo203');
  await lampIs('203', 'idle');
  const tab = await page.textContent('#tab-directory');
  check(tab.includes('Interni'), `Italian tab name: ${tab}`);
  check((await row('201').textContent()).includes('Libero'), 'Italian lamp text');
  await shot('09-italiano.png');
  check(pageErrors.length === 0, `no page errors: ${pageErrors.join('; ')}`);
});
