// A scripted transport and a manual clock for session tests.

import type { ClientMsg, ServerMsg } from '../protocol/cti';
import type { Clock } from '../lib/session';
import type { ConnectionHandlers, CtiConnection, CtiTransport } from '../lib/transport';

export class FakeConnection implements CtiConnection {
  sent: ClientMsg[] = [];
  closed = false;
  constructor(readonly h: ConnectionHandlers) {}
  send(msg: ClientMsg): void {
    if (this.closed) throw new Error('send on a closed connection');
    this.sent.push(msg);
  }
  close(): void {
    this.closed = true;
  }
  /** The server side: */
  open(): void {
    this.h.onOpen();
  }
  deliver(msg: ServerMsg): void {
    this.h.onMessage(msg);
  }
  drop(wasOpen = true): void {
    this.closed = true;
    this.h.onClose({ wasOpen, reason: 'test drop' });
  }
}

export class FakeTransport implements CtiTransport {
  readonly address = 'ws://pbx.test/cti';
  conns: FakeConnection[] = [];
  open(h: ConnectionHandlers): CtiConnection {
    const c = new FakeConnection(h);
    this.conns.push(c);
    return c;
  }
  get last(): FakeConnection {
    const c = this.conns[this.conns.length - 1];
    if (!c) throw new Error('no connection opened');
    return c;
  }
}

export class ManualClock implements Clock {
  t = 1_000_000;
  private timers: { at: number; f: () => void; id: number }[] = [];
  private nextId = 1;
  now(): number {
    return this.t;
  }
  setTimeout(f: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.push({ at: this.t + ms, f, id });
    return id;
  }
  clearTimeout(h: unknown): void {
    this.timers = this.timers.filter((x) => x.id !== h);
  }
  random(): number {
    return 0.5; // no jitter: exact back-off values
  }
  /** Moves time on, running due timers in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      this.t = next.at;
      next.f();
    }
    this.t = end;
  }
  pending(): number {
    return this.timers.length;
  }
}
