// The desktop app's transport: the same ServerMsg/ClientMsg frames as the WebSocket, carried
// by Tauri commands (`cti_open`, `cti_send`, `cti_close`) and a channel of link events into the
// Rust relay (cti-core), which holds the real connection. The relay watches the frames, so the
// local HTTP API and the automatic actions share this session.

import { Channel, invoke, isTauri } from '@tauri-apps/api/core';
import type { ServerMsg } from '../protocol/cti';
import type { ConnectionHandlers, CtiConnection, CtiTransport } from './transport';

/** What the relay says about one connection (Rust's `LinkEvent`). */
export type LinkEvent =
  | { kind: 'open' }
  | { kind: 'frame'; text: string }
  | { kind: 'close'; was_open: boolean; reason: string };

/** The two Tauri calls this transport uses, replaceable in tests. */
export interface TauriIpc {
  invoke<T>(cmd: string, args: Record<string, unknown>): Promise<T>;
  channel(onEvent: (e: LinkEvent) => void): unknown;
}

export const tauriIpc: TauriIpc = {
  invoke: (cmd, args) => invoke(cmd, args),
  channel(onEvent) {
    const ch = new Channel<LinkEvent>();
    ch.onmessage = onEvent;
    return ch;
  },
};

/** Whether the page runs inside the desktop app. */
export function inDesktopApp(): boolean {
  return isTauri();
}

export class TauriTransport implements CtiTransport {
  readonly address: string;
  private readonly ipc: TauriIpc;

  constructor(url: string, ipc: TauriIpc = tauriIpc) {
    this.address = url;
    this.ipc = ipc;
  }

  open(h: ConnectionHandlers): CtiConnection {
    const ipc = this.ipc;
    let done = false;
    let opened = false;
    let conn: number | null = null;
    // Frames the session sends before `cti_open` has answered with the connection's id (the
    // open event can overtake that answer).
    const early: string[] = [];
    const finish = (wasOpen: boolean, reason: string) => {
      if (done) return;
      done = true;
      h.onClose({ wasOpen, reason });
    };
    const send = (frame: string) => {
      if (conn === null) {
        early.push(frame);
        return;
      }
      ipc.invoke('cti_send', { conn, frame }).catch((e: unknown) => finish(opened, String(e)));
    };
    const events = ipc.channel((e) => {
      if (done) return;
      switch (e.kind) {
        case 'open':
          opened = true;
          h.onOpen();
          break;
        case 'frame': {
          let msg: ServerMsg;
          try {
            msg = JSON.parse(e.text) as ServerMsg;
          } catch {
            if (conn !== null) void ipc.invoke('cti_close', { conn }).catch(() => {});
            finish(opened, 'unreadable frame');
            return;
          }
          h.onMessage(msg);
          break;
        }
        case 'close':
          finish(e.was_open, e.reason);
          break;
      }
    });
    ipc
      .invoke<number>('cti_open', { url: this.address, events })
      .then((id) => {
        conn = id;
        if (done) {
          void ipc.invoke('cti_close', { conn: id }).catch(() => {});
          return;
        }
        for (const f of early.splice(0)) send(f);
      })
      .catch((e: unknown) => finish(false, String(e)));
    return {
      send(msg) {
        if (!done) send(JSON.stringify(msg));
      },
      close() {
        done = true;
        if (conn !== null) void ipc.invoke('cti_close', { conn }).catch(() => {});
      },
    };
  }
}
