// Figures for the supervisor panel alone (`npm run bench:supervisor`, after `npm run build`): a
// stand-in CTI server (serving ui/dist and /cti, speaking the documented frames) gives a
// supervisor QUEUES queues and AGENTS agents, each agent a member of QUEUES_PER_AGENT queues
// (all of them by default: 50 × 200 = 10,000 memberships), then streams `agent` and `queue`
// events. Prints:
//   - time from the Supervisor tab click to the panel rendered (every card and grid row),
//   - agent event to DOM (the grid row's state) and queue event to DOM (the card's waiting
//     count) latencies, p50 / p99 / max, at EVENT_RATE events/s,
//   - main-thread busy time while idle with callers waiting and agents paused (the ages and
//     pause times count on every second in the page), as a share of one core,
//   - the page's JS heap.
// The server's cost of the same statistics is bench/'s. Not a test: numbers vary with the machine.

import { chromium } from 'playwright-core';
import { readFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { WebSocketServer } from 'ws';

const QUEUES = Number(process.env.QUEUES ?? 50);
const AGENTS = Number(process.env.AGENTS ?? 200);
const QUEUES_PER_AGENT = Math.min(QUEUES, Number(process.env.QUEUES_PER_AGENT ?? QUEUES));
const EVENTS = Number(process.env.EVENTS ?? 200);
const EVENT_RATE = Number(process.env.EVENT_RATE ?? 50);
const IDLE_S = Number(process.env.IDLE_S ?? 10);
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const DIST = new URL('../dist/', import.meta.url).pathname;

if (!existsSync(join(DIST, 'index.html'))) {
  console.error('ui/dist is missing: npm run build first');
  process.exit(2);
}

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };
const START = Date.now();
const queueNumber = (i) => String(600 + i);
const agentNumber = (i) => String(2000 + i);

function queue(i, waiting) {
  return {
    number: queueNumber(i),
    name: `Queue ${i}`,
    strategy: 'rrmemory',
    waiting,
    oldest_since_ms: waiting > 0 ? START - 1000 * (i + 1) : null,
    agents: { free: 0, ringing: 0, talking: 0, wrapup: 0, paused: 0, unavailable: 0 },
    stats: {
      since_ms: new Date(new Date().setHours(0, 0, 0, 0)).getTime(),
      offered: 100 + i,
      answered: 90,
      abandoned: 6,
      overflowed: 4 + i,
      answered_in_sl: 80,
      service_level_s: 20,
      avg_wait_ms: 12_000,
      avg_talk_ms: 180_000,
      longest_wait_ms: 95_000,
    },
  };
}

/** Agent `i`; every third one paused (so pause times tick), the rest free. */
function agent(i, state = i % 3 === 0 ? 'paused' : 'free') {
  const queues = [];
  for (let k = 0; k < QUEUES_PER_AGENT; k += 1) {
    const q = (i + k) % QUEUES;
    queues.push({
      queue: queueNumber(q),
      penalty: 0,
      dynamic: k % 2 === 1,
      state,
      paused: state === 'paused' ? { reason: 'lunch', since_ms: START - 60_000 } : null,
      calls_taken: 3,
      last_call_ms: START - 300_000,
      pause_ms: 120_000,
    });
  }
  queues.sort((a, b) => a.queue.localeCompare(b.queue));
  return {
    extension: agentNumber(i),
    name: `Agent ${i}`,
    state,
    queues,
    calls_taken: 3 * QUEUES_PER_AGENT,
    last_call_ms: START - 300_000,
    pause_ms: 120_000,
  };
}

function snapshot(seq) {
  const agents = Array.from({ length: AGENTS }, (_, i) => agent(i));
  const queues = Array.from({ length: QUEUES }, (_, i) => queue(i, i % 2 === 0 ? 2 : 0));
  for (const a of agents) for (const m of a.queues) queues[Number(m.queue) - 600].agents[m.state] += 1;
  const extensions = [{ number: '201', name: 'Supervisor', lamp: 'idle', peer: null, direction: null, dnd: false, presence: { state: 'available', message: null, effective: 'available' }, accounts: [], services: null }];
  return {
    type: 'snapshot',
    protocol: 2,
    seq,
    user: { username: 'bench', tenant: 'default', extension: '201', role: 'supervisor', permissions: { call_control: true, privacy: false, supervisor: true } },
    extensions,
    services: { dnd: false, forwards: { unconditional: null, busy: null, no_answer: null, unavailable: null }, fork2mobile: false },
    calls: [],
    history: [],
    call_center: { queues, agents },
  };
}

let socket = null;
const http = createServer((req, res) => {
  const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname)).replace(/^\/+/, '');
  const file = join(DIST, path === '' ? 'index.html' : path);
  if (!file.startsWith(DIST) || !existsSync(file)) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
  res.end(readFileSync(file));
});
const wss = new WebSocketServer({ server: http, path: '/cti' });
wss.on('connection', (ws) => {
  socket = ws;
  ws.on('message', (data) => {
    const msg = JSON.parse(String(data));
    if (msg.type === 'login') ws.send(JSON.stringify(snapshot(1)));
    if (msg.type === 'ping') ws.send('{"type":"pong"}');
    if (msg.type === 'command') ws.send(JSON.stringify({ type: 'result', id: msg.id, data: null }));
  });
});
await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${http.address().port}/`;

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--enable-precise-memory-info'],
});
const ctx = await browser.newContext({ locale: 'en-US', viewport: { width: 1400, height: 900 } });
const page = await ctx.newPage();
await page.goto(url);
await page.fill('input[name=user]', 'bench');
await page.fill('input[name=password]', 'bench');
await page.click('[data-testid=login] button[type=submit]');
await page.waitForSelector('#tab-supervisor', { timeout: 60_000 });
const t0 = Date.now();
await page.click('#tab-supervisor');
await page.waitForFunction(
  ([q, a]) =>
    document.querySelectorAll('[data-testid=queue-card]').length === q &&
    document.querySelectorAll('[data-testid=agent-grid] tr[data-agent]').length === a,
  [QUEUES, AGENTS],
  { timeout: 120_000, polling: 'raf' },
);
const panelMs = Date.now() - t0;
const members = await page.evaluate(() => document.querySelectorAll('[data-member]').length);

// Busy time of the page's main thread while nothing arrives but the clock ticks.
const cdp = await ctx.newCDPSession(page);
await cdp.send('Performance.enable');
const busy = async () => (await cdp.send('Performance.getMetrics')).metrics.find((m) => m.name === 'TaskDuration').value;
// PROFILE=idle or PROFILE=stream prints where that phase's time went (self time by function).
async function profileStart(phase) {
  if (process.env.PROFILE !== phase) return;
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.start');
}
async function profileStop(phase) {
  if (process.env.PROFILE !== phase) return;
  const { profile } = await cdp.send('Profiler.stop');
  const self = new Map();
  const dt = profile.timeDeltas.reduce((a, b) => a + b, 0) / profile.samples.length / 1000;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  for (const id of profile.samples) {
    const f = byId.get(id).callFrame;
    const k = `${f.functionName || '(anon)'} ${f.url.split('/').pop()}:${f.lineNumber}`;
    self.set(k, (self.get(k) ?? 0) + dt);
  }
  for (const [k, ms] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`  ${ms.toFixed(0)} ms ${k}`);
}
const b0 = await busy();
await profileStart('idle');
await sleep(IDLE_S * 1000);
const idleShare = (await busy()) - b0;
await profileStop('idle');

// Events: the page notes when a grid row's or a card's attribute changed.
await page.evaluate(() => {
  const w = /** @type {any} */ (window);
  w.__seen = [];
  new MutationObserver((records) => {
    const now = Date.now();
    for (const r of records) {
      const el = /** @type {HTMLElement} */ (r.target);
      if (el.matches('tr[data-agent]')) w.__seen.push(['agent', el.dataset.agent, el.dataset.state, now]);
      if (el.matches('[data-testid=queue-card]')) w.__seen.push(['queue', el.dataset.queue, el.dataset.waiting, now]);
    }
  }).observe(document.querySelector('[data-testid=supervisor]'), { attributes: true, attributeFilter: ['data-state', 'data-waiting'], subtree: true });
});
/** Send times of each expected change, oldest first. */
const sent = new Map();
const note = (key) => sent.set(key, [...(sent.get(key) ?? []), Date.now()]);
const b1 = await busy();
await profileStart('stream');
const e0 = Date.now();
for (let i = 0; i < EVENTS; i += 1) {
  const seq = 2 + i;
  if (i % 2 === 0) {
    // An agent turns talking, on the next round wrap-up, and so on: always a change of state.
    const k = i / 2;
    const n = k % AGENTS;
    const state = Math.floor(k / AGENTS) % 2 === 0 ? 'talking' : 'wrapup';
    note(`agent ${agentNumber(n)} ${state}`);
    socket.send(JSON.stringify({ type: 'event', seq, event: { kind: 'agent', agent: agent(n, state) } }));
  } else {
    // A queue's waiting count moves to a value it never had (10 + i).
    const q = ((i - 1) / 2) % QUEUES;
    note(`queue ${queueNumber(q)} ${10 + i}`);
    socket.send(JSON.stringify({ type: 'event', seq, event: { kind: 'queue', queue: queue(q, 10 + i) } }));
  }
  await sleep(1000 / EVENT_RATE);
}
await sleep(500);
const eventsBusy = (await busy()) - b1;
const eventsWall = (Date.now() - e0) / 1000;
await profileStop('stream');
const seen = await page.evaluate(() => /** @type {any} */ (window).__seen);
const lat = { agent: [], queue: [] };
for (const [kind, key, value, at] of seen) {
  const t = sent.get(`${kind} ${key} ${value}`)?.shift();
  if (t !== undefined) lat[kind].push(at - t);
}
const missed = [...sent.values()].reduce((n, xs) => n + xs.length, 0);
if (missed > 0) console.log(`note: ${missed} changes not seen`);
const heap = await page.evaluate(() => /** @type {any} */ (performance).memory?.usedJSHeapSize ?? 0);
const version = browser.version();
await browser.close();
wss.close();
http.close();

const show = (xs) => `p50 ${pct(xs, 50)} ms, p99 ${pct(xs, 99)} ms, max ${Math.max(...xs)} ms (${xs.length} events)`;
console.log(`Supervisor panel with ${QUEUES} queues × ${AGENTS} agents, ${QUEUES_PER_AGENT} queues each: ${members} member rows (Chromium ${version})`);
console.log(`  Supervisor tab click to panel rendered: ${panelMs} ms`);
console.log(`  agent event to DOM at ${EVENT_RATE / 2}/s: ${show(lat.agent)}`);
console.log(`  queue event to DOM at ${EVENT_RATE / 2}/s: ${show(lat.queue)}`);
console.log(`  main thread busy while streaming: ${((100 * eventsBusy) / eventsWall).toFixed(1)} % of a core`);
console.log(`  main thread busy while idle (clock ticking): ${((100 * idleShare) / IDLE_S).toFixed(1)} % of a core`);
console.log(`  JS heap: ${(heap / 1048576).toFixed(1)} MiB`);
process.exit(0);
