// How frames reach the server. The browser uses the CTI WebSocket; the desktop app will
// implement the same interface over Tauri commands and events into cti-core.

import type { ClientMsg, ServerMsg } from '../protocol/cti';

/** Callbacks of one connection. None is called after `close()`. */
export interface ConnectionHandlers {
  /** The link is up: send `login` now. */
  onOpen(): void;
  /** One parsed frame from the server. */
  onMessage(msg: ServerMsg): void;
  /** The link is gone. `wasOpen` is false when it never came up (server unreachable). */
  onClose(info: { wasOpen: boolean; reason: string }): void;
}

/** One connection to the server. */
export interface CtiConnection {
  send(msg: ClientMsg): void;
  /** Closes the link; no handler is called afterwards. */
  close(): void;
}

/** Opens connections; a new one for every (re)connect. */
export interface CtiTransport {
  /** Where it connects, for messages to the user. */
  readonly address: string;
  open(handlers: ConnectionHandlers): CtiConnection;
}

/**
 * The CTI WebSocket URL for what a user typed as the server address: a full `ws://` or
 * `wss://` URL is taken as it is; `http(s)://host[:port]` and a bare `host[:port]` get the
 * `/cti` path, over TLS when the page itself came over HTTPS (or the address says https).
 */
export function ctiUrl(server: string, pageProtocol: string): string {
  const s = server.trim().replace(/\/+$/, '');
  const m = /^(wss?|https?):\/\/(.+)$/i.exec(s);
  if (m) {
    const scheme = m[1]!.toLowerCase();
    const rest = m[2]!;
    const ws = scheme === 'https' || scheme === 'wss' ? 'wss' : 'ws';
    return `${ws}://${rest.includes('/') ? rest : `${rest}/cti`}`;
  }
  const ws = pageProtocol === 'https:' ? 'wss' : 'ws';
  return `${ws}://${s}/cti`;
}

/** The browser's WebSocket constructor, replaceable in tests. */
export type WebSocketCtor = new (url: string) => WebSocket;

export class WebSocketTransport implements CtiTransport {
  readonly address: string;
  private readonly Ws: WebSocketCtor;

  constructor(url: string, Ws: WebSocketCtor = WebSocket) {
    this.address = url;
    this.Ws = Ws;
  }

  open(h: ConnectionHandlers): CtiConnection {
    let ws: WebSocket;
    let done = false;
    let opened = false;
    const finish = (reason: string) => {
      if (done) return;
      done = true;
      h.onClose({ wasOpen: opened, reason });
    };
    try {
      ws = new this.Ws(this.address);
    } catch (e) {
      // A malformed URL throws at once; report it like an unreachable server.
      queueMicrotask(() => finish(String(e)));
      return { send() {}, close() { done = true; } };
    }
    ws.onopen = () => {
      if (done) return;
      opened = true;
      h.onOpen();
    };
    ws.onmessage = (e: MessageEvent) => {
      if (done || typeof e.data !== 'string') return;
      let msg: ServerMsg;
      try {
        msg = JSON.parse(e.data) as ServerMsg;
      } catch {
        ws.close();
        finish('unreadable frame');
        return;
      }
      h.onMessage(msg);
    };
    ws.onclose = (e: CloseEvent) => finish(e.reason || `closed (${e.code})`);
    ws.onerror = () => {
      // onclose follows with the details.
    };
    return {
      send(msg) {
        if (!done && ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
      },
      close() {
        done = true;
        ws.close();
      },
    };
  }
}
