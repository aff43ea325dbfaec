// Browser end-to-end run of the call-center panels, driven by tests/tests/e2e/ui_callcenter.rs:
// 201 (a supervisor) watches the demo's queue 600 (202, 203) while SIPp phones call and pause;
// 202 uses its own queue panel in a second browser context. Steps with the Rust side:
//   queue_call      a SIPp caller enters 600; the agents' SIPp phones ring and never answer
//   caller_left     the caller has hung up (abandoned)
//   pause_by_phone  203 has dialled *81600*7 (pause in 600, reason 7)
// then pauses and resumes from the agent's and the supervisor's panels, dynamic members added
// and removed from both, the panel in Italian.
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

/** Waits until the "m:ss" duration shown at `sel` is past `was` seconds: it counts on in the
 *  page with no frame from the server. */
async function ticksPast(p, sel, was) {
  await p.waitForFunction(
    ([s, w]) => {
      const m = /^(\d+):(\d\d)$/.exec(document.querySelector(s)?.textContent?.trim() ?? '');
      return m !== null && Number(m[1]) * 60 + Number(m[2]) > w;
    },
    [sel, was],
    { timeout: WAIT_MS },
  );
}

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
  await ticksPast(sup, oldest, first);
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
  // Its time in pause counts on in the page while the pause lasts.
  const pauseTime = `${gridRow('203')} [data-testid=pause-time]`;
  const paused = seconds(await sup.textContent(pauseTime));
  await ticksPast(sup, pauseTime, paused);
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

  // Dynamic members: 202 logs in to 601 from its panel and out again; the supervisor adds 204
  // to 600 and removes it.
  await agent.fill('[data-testid=queue-panel] input[name=queue]', '601');
  await agent.click('[data-testid=queue-panel] form.login button[type=submit]');
  await wait(agent, myRow('601'));
  check((await agent.textContent(myRow('601'))).includes('logged in'), '601 is a dynamic membership');
  await wait(sup, `${card('601')} [data-member="202"]`);
  await agent.click(`${myRow('601')} button[aria-label="Log out of queue 601"]`);
  await wait(agent, myRow('601'), { state: 'detached' });
  await wait(sup, `${card('601')} [data-member="202"]`, { state: 'detached' });
  await sup.selectOption('[data-testid=add-member] select >> nth=0', '600');
  await sup.selectOption('[data-testid=add-member] select >> nth=1', '204');
  await sup.click('[data-testid=add-member] button[type=submit]');
  await wait(sup, `${card('600')} [data-member="204"]`);
  await wait(sup, `${gridRow('204')} li.chip[data-queue="600"]`);
  await screenshot(sup, '27-supervisor-added-member.png');
  await sup.click(`${gridRow('204')} li.chip[data-queue="600"] button.x`);
  await wait(sup, `${card('600')} [data-member="204"]`, { state: 'detached' });

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
  await screenshot(it, '28-supervisore-italiano.png');
  check(pageErrors.length === 0, `no page errors: ${pageErrors.join('; ')}`);
});
