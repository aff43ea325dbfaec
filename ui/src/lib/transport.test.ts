import { describe, expect, it } from 'vitest';
import type { ServerMsg } from '../protocol/cti';
import { WebSocketTransport, ctiUrl, type WebSocketCtor } from './transport';

describe('ctiUrl', () => {
  it.each([
    ['pbx.example.com:8080', 'http:', 'ws://pbx.example.com:8080/cti'],
    ['pbx.example.com', 'https:', 'wss://pbx.example.com/cti'],
    [' 10.0.0.5:8080/ ', 'http:', 'ws://10.0.0.5:8080/cti'],
    ['http://pbx:8080', 'https:', 'ws://pbx:8080/cti'],
    ['https://pbx:8443/', 'http:', 'wss://pbx:8443/cti'],
    ['ws://pbx:9000/custom', 'https:', 'ws://pbx:9000/custom'],
    ['WSS://pbx', 'http:', 'wss://pbx/cti'],
    ['[::1]:8080', 'http:', 'ws://[::1]:8080/cti'],
  ])('%s from a %s page → %s', (server, proto, url) => {
    expect(ctiUrl(server, proto)).toBe(url);
  });
});

class FakeWs {
  static last: FakeWs;
  readonly OPEN = 1;
  readyState = 0;
  sent: string[] = [];
  closed = false;
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: unknown }) => void) | null = null;
  onclose: ((e: { code: number; reason: string }) => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(readonly url: string) {
    FakeWs.last = this;
  }
  send(s: string) {
    this.sent.push(s);
  }
  close() {
    this.closed = true;
  }
}

function open() {
  const events: string[] = [];
  const messages: ServerMsg[] = [];
  const t = new WebSocketTransport('ws://x/cti', FakeWs as unknown as WebSocketCtor);
  const conn = t.open({
    onOpen: () => events.push('open'),
    onMessage: (m) => messages.push(m),
    onClose: (i) => events.push(`close wasOpen=${i.wasOpen} ${i.reason}`),
  });
  return { conn, ws: FakeWs.last, events, messages };
}

describe('WebSocketTransport', () => {
  it('sends JSON text frames and parses what comes back', () => {
    const { conn, ws, events, messages } = open();
    conn.send({ type: 'ping' });
    expect(ws.sent).toEqual([]); // not open yet: dropped, the session logs in on open
    ws.readyState = 1;
    ws.onopen?.();
    conn.send({ type: 'ping' });
    expect(ws.sent).toEqual(['{"type":"ping"}']);
    ws.onmessage?.({ data: '{"type":"pong"}' });
    ws.onmessage?.({ data: new ArrayBuffer(2) }); // binary frames are not ours
    expect(messages).toEqual([{ type: 'pong' }]);
    ws.onclose?.({ code: 1006, reason: '' });
    expect(events).toEqual(['open', 'close wasOpen=true closed (1006)']);
  });

  it('reports a link that never opened', () => {
    const { ws, events } = open();
    ws.onerror?.();
    ws.onclose?.({ code: 1006, reason: '' });
    expect(events).toEqual(['close wasOpen=false closed (1006)']);
  });

  it('closes on an unreadable frame, and says nothing after close()', () => {
    const a = open();
    a.ws.onopen?.();
    a.ws.onmessage?.({ data: 'not json' });
    expect(a.ws.closed).toBe(true);
    expect(a.events).toEqual(['open', 'close wasOpen=true unreadable frame']);
    const b = open();
    b.conn.close();
    b.ws.onclose?.({ code: 1000, reason: '' });
    expect(b.events).toEqual([]);
  });
});
