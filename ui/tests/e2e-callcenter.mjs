// Browser end-to-end run of the call-center panels, driven by tests/tests/e2e/ui_callcenter.rs:
// 201 (a supervisor) watches the demo's queue 600 (202, 203) while SIPp phones call and pause;
// 202 uses its own queue panel in a second browser context. Steps with the Rust side:
//   queue_call      a SIPp caller enters 600; the agents' SIPp phones ring and never answer
//   caller_left     the caller has hung up (abandoned)
//   pause_by_phone  203 has dialled *81600*7 (pause in 600, reason 7)
// Screenshots 20-… in ARTIFACTS.

import { UI_URL, WAIT_MS, check, launch, log, run, screenshot, signIn, step } from './e2e-lib.mjs';

const browser = await launch();
const pageErrors = [];
let page;

async function newPage(locale) {
  const context = await browser.newContext({ locale, viewport: { width: 1400, height: 1000 } });
  const p = await context.newPage();
  p.on('pageerror', (e) => pageErrors.push(String(e)));
  p.on('console', (m) => {
    if (m.type() === 'error') log(`console error: ${m.text()}`);
  });
  return p;
}

const wait = (p, selector, opts = {}) => p.waitForSelector(selector, { timeout: WAIT_MS, ...opts });
const card = (q) => `[data-testid=queue-card][data-queue="${q}"]`;
const gridRow = (ext) => `[data-testid=agent-grid] tr[data-agent="${ext}"]`;
const myRow = (q) => `[data-testid=queue-panel] tr[data-queue="${q}"]`;
/** "m:ss" as seconds. */
const seconds = (text) => {
  const m = /^(\d+):(\d\d)$/.exec(text.trim());
  return m ? Number(m[1]) * 60 + Number(m[2]) : NaN;
};

await run(browser, () => page, async () => {
  // The supervisor signs in and opens the panel.
  const sup = await newPage('en-US');
  page = sup;
  await sup.goto(UI_URL);
  await wait(sup, '[data-testid=login]');
  await signIn(sup, '201', 'demo201');
  await wait(sup, '#tab-supervisor');
  await sup.click('#tab-supervisor');
  await wait(sup, `${card('600')}[data-waiting="0"]`);
  await wait(sup, card('601'));
  const members = await sup.$$eval(`${card('600')} [data-member]`, (els) => els.map((e) => e.dataset.member).sort());
  check(members.join(',') === '202,203', `queue 600's members: ${members}`);
  await screenshot(sup, '20-supervisor.png');

  // A caller waits in 600: the panel shows it, and the age of the oldest counts on by itself.
  await step('queue_call');
  await wait(sup, `${card('600')}[data-waiting="1"]`);
  await wait(sup, `${card('600')} [data-member][data-state="ringing"]`);
  const oldest = `${card('600')} [data-testid=oldest-wait]`;
  const first = seconds(await sup.textContent(oldest));
  check(!Number.isNaN(first), `the oldest wait is a duration: ${await sup.textContent(oldest)}`);
  await sup.waitForFunction(
    ([sel, was]) => {
      const m = /^(\d+):(\d\d)$/.exec(document.querySelector(sel)?.textContent?.trim() ?? '');
      return m !== null && Number(m[1]) * 60 + Number(m[2]) > was;
    },
    [oldest, first],
    { timeout: WAIT_MS },
  );
  log(`oldest wait went on from ${first} s to ${await sup.textContent(oldest)}`);
  await screenshot(sup, '21-supervisor-waiting-caller.png');
  await sup.click('[data-testid=open-wallboard]');
  await wait(sup, '[data-testid=wallboard] [data-queue="600"][data-waiting="1"]');
  await screenshot(sup, '22-wallboard-waiting-caller.png');
  await sup.click('[data-testid=wallboard] button.close');
  await wait(sup, '[data-testid=supervisor]');

  // The caller hangs up: nobody waits, and the day's statistics count an abandoned call.
  await step('caller_left');
  await wait(sup, `${card('600')}[data-waiting="0"]`);
  const stat = (k) => sup.textContent(`${card('600')} [data-stat=${k}]`);
  await sup.waitForFunction(
    (sel) => document.querySelector(`${sel} [data-stat=abandoned]`)?.textContent === '1',
    card('600'),
    { timeout: WAIT_MS },
  );
  check((await stat('offered')) === '1' && (await stat('answered')) === '0', 'one offered, none answered');
  await screenshot(sup, '23-supervisor-abandoned.png');

  // 203 pauses with *81 from its phone: the grid and the queue card show the pause and reason.
  await step('pause_by_phone');
  await wait(sup, `${gridRow('203')}[data-state="paused"]`);
  const why = await sup.textContent(`${gridRow('203')} [data-testid=agent-pause]`);
  check(why.includes('7 · since'), `203's pause has reason 7 and a start: ${why}`);
  await wait(sup, `${card('600')} [data-member="203"][data-state="paused"]`);
  await screenshot(sup, '24-supervisor-pause-by-phone.png');

  // 202 pauses from its own queue panel, with a reason.
  const agent = await newPage('en-US');
  page = agent;
  await agent.goto(UI_URL);
  await signIn(agent, '202', 'demo202');
  await wait(agent, '#tab-queues');
  await agent.click('#tab-queues');
  await wait(agent, `${myRow('600')}[data-state="free"]`);
  check((await agent.$('#tab-supervisor')) === null, 'an agent has no supervisor panel');
  await agent.fill('[data-testid=pause-reason]', 'Lunch');
  await agent.click('[data-testid=pause-all]');
  await wait(agent, `${myRow('600')}[data-state="paused"]`);
  await screenshot(agent, '25-agent-paused.png');
  page = sup;
  await wait(sup, `${gridRow('202')}[data-state="paused"]`);
  check(
    (await sup.textContent(`${gridRow('202')} [data-testid=agent-pause]`)).startsWith('Lunch'),
    "202's reason",
  );
  await wait(sup, `${card('600')} [data-count-state="paused"]`);
  check((await sup.textContent(`${card('600')} [data-count-state="paused"] b`)) === '2', 'two paused in 600');
  await screenshot(sup, '26-supervisor-two-pauses.png');

  // The supervisor resumes 202; the agent's panel follows.
  await sup.click(`${gridRow('202')} button[aria-label^="Resume 202 "]`);
  await wait(agent, `${myRow('600')}[data-state="free"]`);
  await wait(sup, `${gridRow('202')}[data-state="free"]`);
  // ... and pauses it in 600 with a reason of its own; the agent sees why.
  await sup.fill('[data-testid=supervisor] input[list=sup-reasons]', 'coaching');
  await sup.click(`${card('600')} [data-member="202"] button[aria-label^="Pause 202 "]`);
  await wait(agent, `${myRow('600')}[data-state="paused"]`);
  check((await agent.textContent(`${myRow('600')} [data-testid=pause-info]`)).startsWith('coaching'), 'reason seen by the agent');
  // The agent resumes itself.
  await agent.click('[data-testid=resume-all]');
  await wait(sup, `${gridRow('202')}[data-state="free"]`);

  // The panel in Italian.
  const it = await newPage('it-IT');
  page = it;
  await it.goto(UI_URL);
  await signIn(it, '201', 'demo201');
  await wait(it, '#tab-supervisor');
  check((await it.textContent('#tab-supervisor')).includes('Supervisore'), 'Italian tab');
  await it.click('#tab-supervisor');
  await wait(it, `${gridRow('203')}[data-state="paused"]`);
  check((await it.textContent(gridRow('203'))).includes('In pausa'), 'Italian agent state');
  check((await it.textContent(card('600'))).includes('Abbandonate'), 'Italian statistics');
  await screenshot(it, '27-supervisore-italiano.png');
  check(pageErrors.length === 0, `no page errors: ${pageErrors.join('; ')}`);
});
