// Figures for the web UI alone (`npm run bench`, after `npm run build`): a stand-in CTI server
// (serving ui/dist and /cti over WebSocket, speaking the documented frames) gives Chromium a
// tenant of EXTENSIONS extensions, then streams lamp events. Prints:
//   - time from the Sign-in click to the live directory (every row rendered),
//   - lamp event to DOM update latency (p50 / p99 / max) at EVENT_RATE events/s,
//   - the page's JS heap after the run.
// The server side of the same path is measured by bench/cti-bench (event fan-out latency).
// Not a test: it asserts nothing but that the page works; numbers vary with the machine.

import { chromium } from 'playwright-core';
import { readFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { WebSocketServer } from 'ws';

const EXTENSIONS = Number(process.env.EXTENSIONS ?? 1000);
const EVENTS = Number(process.env.EVENTS ?? 300);
const EVENT_RATE = Number(process.env.EVENT_RATE ?? 50);
const RUNS = Number(process.env.RUNS ?? 3);
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const DIST = new URL('../dist/', import.meta.url).pathname;

if (!existsSync(join(DIST, 'index.html'))) {
  console.error('ui/dist is missing: npm run build first');
  process.exit(2);
}

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };
const names = ['Anna', 'Luca', 'Chiara', 'Marco', 'Giulia', 'Paolo', 'Sara', 'Nicolò', 'Elena', 'Davide'];

function snapshot(seq) {
  const extensions = [];
  for (let i = 0; i < EXTENSIONS; i += 1) {
    const number = String(1000 + i);
    extensions.push({
      number,
      name: `${names[i % names.length]} ${String.fromCharCode(65 + (i % 26))}. ${i}`,
      lamp: i % 7 === 0 ? 'unavailable' : 'idle',
      peer: null,
      direction: null,
      dnd: i % 31 === 0,
      presence: { state: 'available', message: i % 13 === 0 ? 'back at 14:00' : null, effective: 'available' },
      accounts: [{ username: number, registered: i % 7 !== 0, address: '192.0.2.1:5060', user_agent: 'bench', latency_ms: 3 }],
      services: null,
    });
  }
  extensions[0].services = { dnd: false, forwards: { unconditional: null, busy: null, no_answer: null, unavailable: null }, fork2mobile: false };
  return {
    type: 'snapshot',
    protocol: 1,
    seq,
    user: { username: 'bench', tenant: 'default', extension: '1000', role: 'user', permissions: { call_control: true, privacy: false, supervisor: false } },
    extensions,
    services: extensions[0].services,
    calls: [],
    history: [],
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

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--enable-precise-memory-info'],
});

const firstLive = [];
const latencies = [];
let heap = 0;
for (let run = 0; run < RUNS; run += 1) {
  const ctx = await browser.newContext({ locale: 'en-US', viewport: { width: 1400, height: 900 } });
  const page = await ctx.newPage();
  await page.goto(url);
  await page.fill('input[name=user]', 'bench');
  await page.fill('input[name=password]', 'bench');
  const t0 = Date.now();
  await page.click('[data-testid=login] button[type=submit]');
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid=directory] li[data-number]').length === n, EXTENSIONS, { timeout: 60_000, polling: 'raf' });
  firstLive.push(Date.now() - t0);

  if (run === RUNS - 1) {
    // Lamp events: the page notes when each row's lamp attribute changed.
    await page.evaluate(() => {
      const w = /** @type {any} */ (window);
      w.__seen = [];
      new MutationObserver((records) => {
        const now = Date.now();
        for (const r of records) {
          const el = /** @type {HTMLElement} */ (r.target);
          if (el.matches('li[data-number]')) w.__seen.push([el.dataset.number, el.dataset.lamp, now]);
        }
      }).observe(document.querySelector('[data-testid=directory]'), { attributes: true, attributeFilter: ['data-lamp'], subtree: true });
    });
    // One event per extension (37 is coprime with the count, so the first EXTENSIONS events
    // touch distinct rows), each turning an idle or unavailable row busy: always a change.
    const sent = new Map();
    for (let i = 0; i < Math.min(EVENTS, EXTENSIONS); i += 1) {
      const ext = String(1000 + ((i * 37) % EXTENSIONS));
      sent.set(ext, Date.now());
      socket.send(JSON.stringify({ type: 'event', seq: 2 + i, event: { kind: 'lamp', extension: ext, lamp: 'busy', peer: { number: '0612345xxx', name: null }, direction: 'inbound' } }));
      await new Promise((r) => setTimeout(r, 1000 / EVENT_RATE));
    }
    await page.waitForTimeout(300);
    const seen = await page.evaluate(() => /** @type {any} */ (window).__seen);
    for (const [ext, lamp, at] of seen) {
      if (lamp === 'busy' && sent.has(ext)) latencies.push(at - sent.get(ext));
    }
    if (latencies.length < sent.size) console.log(`note: ${latencies.length} of ${sent.size} changes seen`);
    heap = await page.evaluate(() => /** @type {any} */ (performance).memory?.usedJSHeapSize ?? 0);
  }
  await ctx.close();
}
const version = browser.version();
await browser.close();
wss.close();
http.close();

console.log(`UI with ${EXTENSIONS} extensions (Chromium ${version}, ${RUNS} runs)`);
console.log(`  time to first live directory: ${firstLive.join(', ')} ms (median ${pct(firstLive, 50)} ms)`);
console.log(`  lamp event to DOM update at ${EVENT_RATE}/s: p50 ${pct(latencies, 50)} ms, p99 ${pct(latencies, 99)} ms, max ${Math.max(...latencies)} ms (${latencies.length} events)`);
console.log(`  JS heap after the run: ${(heap / 1048576).toFixed(1)} MiB`);
process.exit(0);
