import { describe, expect, it } from 'vitest';
import type { ServerMsg } from '../protocol/cti';
import { TauriTransport, type LinkEvent, type TauriIpc } from './tauri';

/** Records the commands and lets the test play the relay's part. */
class FakeIpc implements TauriIpc {
  calls: { cmd: string; args: Record<string, unknown> }[] = [];
  emit: (e: LinkEvent) => void = () => {};
  resolveOpen: (id: number) => void = () => {};
  rejectOpen: (e: unknown) => void = () => {};
  invoke<T>(cmd: string, args: Record<string, unknown>): Promise<T> {
    this.calls.push({ cmd, args });
    if (cmd === 'cti_open') {
      return new Promise<T>((res, rej) => {
        this.resolveOpen = (id) => res(id as T);
        this.rejectOpen = rej;
      });
    }
    return Promise.resolve(undefined as T);
  }
  channel(onEvent: (e: LinkEvent) => void): unknown {
    this.emit = onEvent;
    return { channel: true };
  }
  sent(): unknown[] {
    return this.calls.filter((c) => c.cmd === 'cti_send').map((c) => JSON.parse(c.args.frame as string));
  }
}

const tick = () => new Promise((r) => setTimeout(r, 0));

function open(ipc: FakeIpc) {
  const log: string[] = [];
  const msgs: ServerMsg[] = [];
  const conn = new TauriTransport('ws://pbx:8080/cti', ipc).open({
    onOpen: () => log.push('open'),
    onMessage: (m) => msgs.push(m),
    onClose: (i) => log.push(`close ${i.wasOpen} ${i.reason}`),
  });
  return { conn, log, msgs };
}

describe('TauriTransport', () => {
  it('carries frames both ways, holding early frames until the relay names the connection', async () => {
    const ipc = new FakeIpc();
    const { conn, log, msgs } = open(ipc);
    expect(ipc.calls[0]).toMatchObject({ cmd: 'cti_open', args: { url: 'ws://pbx:8080/cti' } });
    // The open event overtakes cti_open's answer; the session sends its login at once.
    ipc.emit({ kind: 'open' });
    conn.send({ type: 'login', user: '201', password: 'x', tenant: null, resume_from: null });
    expect(ipc.sent()).toEqual([]);
    ipc.resolveOpen(7);
    await tick();
    expect(ipc.calls.filter((c) => c.cmd === 'cti_send').map((c) => c.args.conn)).toEqual([7]);
    expect(ipc.sent()).toEqual([{ type: 'login', user: '201', password: 'x', tenant: null, resume_from: null }]);
    ipc.emit({ kind: 'frame', text: '{"type":"ping"}' });
    conn.send({ type: 'pong' });
    await tick();
    expect(msgs).toEqual([{ type: 'ping' }]);
    expect(ipc.sent()[1]).toEqual({ type: 'pong' });
    ipc.emit({ kind: 'close', was_open: true, reason: 'closed by the server' });
    ipc.emit({ kind: 'frame', text: '{"type":"ping"}' });
    expect(log).toEqual(['open', 'close true closed by the server']);
    expect(msgs.length).toBe(1);
  });

  it('reports an unreachable relay or server as a link that never opened', async () => {
    const ipc = new FakeIpc();
    const { log } = open(ipc);
    ipc.rejectOpen('not a CTI WebSocket address: x');
    await tick();
    expect(log).toEqual(['close false not a CTI WebSocket address: x']);
    const b = new FakeIpc();
    const second = open(b);
    b.emit({ kind: 'close', was_open: false, reason: 'connection refused' });
    expect(second.log).toEqual(['close false connection refused']);
  });

  it('closes the relay connection on close(), even one named after the close', async () => {
    const ipc = new FakeIpc();
    const { conn, log } = open(ipc);
    conn.close();
    ipc.resolveOpen(3);
    await tick();
    expect(ipc.calls.at(-1)).toEqual({ cmd: 'cti_close', args: { conn: 3 } });
    ipc.emit({ kind: 'open' });
    expect(log).toEqual([]);
  });

  it('drops a link that sends an unreadable frame', async () => {
    const ipc = new FakeIpc();
    const { log } = open(ipc);
    ipc.resolveOpen(1);
    await tick();
    ipc.emit({ kind: 'open' });
    ipc.emit({ kind: 'frame', text: '{oops' });
    expect(log).toEqual(['open', 'close true unreadable frame']);
    expect(ipc.calls.at(-1)).toEqual({ cmd: 'cti_close', args: { conn: 1 } });
  });
});
