// The reactive shell around store and session that the Svelte views read: the CTI view as a
// `$state` proxy (the store mutates it in place, so a lamp event re-renders one lamp), the
// connection status, toasts, the language and the favourites.

import type { Command, CommandData, CtiMode } from '../protocol/cti';
import { dictionaries, pickLang, translate, type Key, type Lang } from './i18n';
import { CommandError, CtiSession, type ConnStatus, type Failure } from './session';
import { CtiStore, emptyView, type CtiView } from './store';
import { WebSocketTransport, ctiUrl, type CtiTransport } from './transport';
import { Favourites, NO_FAVOURITES } from './util';

export interface Toast {
  id: number;
  text: string;
  kind: 'error' | 'info';
}

/** How long an info toast stays; errors stay until dismissed or replaced. */
const INFO_TOAST_MS = 4000;
/** At most this many toasts on screen. */
const MAX_TOASTS = 3;

const SETTINGS_KEY = 'centralino.login';
const MODE_KEY = 'centralino.mode';

/** The desktop app's modes, in increasing order (each includes the ones before). */
export const MODES: readonly CtiMode[] = ['free', 'pro', 'phone'];

/** The mode to work in: the chosen one, or the seat's when lower (no seat info: any mode). */
export function effectiveMode(seat: CtiMode | undefined, chosen: CtiMode | null): CtiMode {
  const max = seat ?? 'phone';
  if (!chosen) return max;
  return MODES.indexOf(chosen) < MODES.indexOf(max) ? chosen : max;
}

function storage(): Storage | null {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}

export class AppState {
  view: CtiView = $state(emptyView());
  /** `null` until the first sign-in. */
  status: ConnStatus | null = $state(null);
  /** Why the last sign-in ended, for the login form. */
  failure: { code: Failure; detail: string; address: string } | null = $state(null);
  toasts: Toast[] = $state([]);
  /** Wall clock, ticking each second, for call timers and ages; aligned with the server's. */
  now: number = $state(Date.now());
  /** Replaced whole on every change (never mutated), so a plain set is reactive enough. */
  favourites: ReadonlySet<string> = $state(NO_FAVOURITES);
  /** Numbers dialled by click-to-call, by call id: until the user answers, the call has no
   *  callee yet, and this is what it will call. */
  dialled: Record<string, string> = $state({});
  /** The call whose card is being dragged (to drop on a directory row: a blind transfer). The
   *  drag's own data carries it too; this is for browsers that hide it until the drop. */
  draggedCall: string | null = $state(null);
  /** The mode the user picked (desktop app); `null`: the highest the seat allows. */
  chosenMode: CtiMode | null = $state(null);
  lang: Lang;
  /** Last server and user typed (never the password). */
  lastLogin: { server: string; user: string };

  readonly store: CtiStore;
  private session: CtiSession | null = null;
  private favStore: Favourites | null = null;
  private toastId = 0;
  private readonly makeTransport: (url: string) => CtiTransport;

  constructor(
    opts: {
      lang?: Lang;
      makeTransport?: (url: string) => CtiTransport;
      /** The server address offered at the first sign-in (the page's host in a browser). */
      defaultServer?: string;
    } = {},
  ) {
    this.lang =
      opts.lang ??
      pickLang(
        globalThis.navigator?.languages ?? [],
        // Read once at start; nothing reacts to it.
        // eslint-disable-next-line svelte/prefer-svelte-reactivity
        new URLSearchParams(globalThis.location?.search ?? '').get('lang'),
      );
    this.makeTransport = opts.makeTransport ?? ((url) => new WebSocketTransport(url));
    this.store = new CtiStore(this.view);
    let saved: { server?: string; user?: string } = {};
    try {
      saved = JSON.parse(storage()?.getItem(SETTINGS_KEY) ?? '{}') as typeof saved;
    } catch {
      saved = {};
    }
    this.lastLogin = {
      server: saved.server || (opts.defaultServer ?? globalThis.location?.host ?? ''),
      user: saved.user ?? '',
    };
    // On the server's clock: the times in frames are, and a wrong local clock must not show
    // wrong ages.
    setInterval(() => (this.now = Date.now() + this.view.clockOffsetMs), 1000);
    globalThis.addEventListener?.('online', () => this.session?.retryNow());
  }

  t = (key: Key, params?: Record<string, string | number>): string =>
    translate(this.lang, key, params);

  /** The mode in force: the seat's from the snapshot, lowered by the user's choice. */
  get mode(): CtiMode {
    return effectiveMode(this.view.user?.licence?.mode, this.chosenMode);
  }

  /** Pro features (call control beyond hang up, DND, forwards, dial pad) are shown. */
  get pro(): boolean {
    return this.mode !== 'free';
  }

  /** Picks a mode (kept on this computer); the seat still caps it. */
  chooseMode(mode: CtiMode | null): void {
    this.chosenMode = mode;
    try {
      if (mode) storage()?.setItem(MODE_KEY, mode);
      else storage()?.removeItem(MODE_KEY);
    } catch {
      // Not remembered; the choice holds for this session.
    }
  }

  /** Whether the main views are shown (signed in, live or reconnecting). */
  get signedIn(): boolean {
    return this.status?.phase === 'live' || this.status?.phase === 'reconnecting';
  }

  login(server: string, user: string, password: string): void {
    this.session?.stop();
    this.failure = null;
    this.lastLogin = { server, user };
    try {
      storage()?.setItem(SETTINGS_KEY, JSON.stringify(this.lastLogin));
    } catch {
      // Not remembered; nothing else depends on it.
    }
    const url = ctiUrl(server, globalThis.location?.protocol ?? 'http:');
    const session = new CtiSession({
      transport: this.makeTransport(url),
      store: this.store,
      user,
      password,
      onStatus: (s) => {
        if (this.session !== session) return;
        this.status = s;
        if (s.phase === 'live') this.loadFavourites(server, user);
        if (s.phase === 'stopped' && s.failure) {
          this.failure = { code: s.failure, detail: s.detail, address: server };
        }
      },
      log: (m) => console.info(m),
    });
    this.session = session;
    this.status = { phase: 'connecting' };
    session.start();
  }

  logout(): void {
    this.session?.stop();
    this.session = null;
    this.status = null;
    this.toasts = [];
  }

  retryNow(): void {
    this.session?.retryNow();
  }

  private loadFavourites(server: string, user: string): void {
    const scope = `${server}/${this.view.user?.tenant ?? 'default'}/${user}`;
    if (this.favStore?.scope !== scope) {
      this.favStore = new Favourites(scope, storage());
      this.favourites = this.favStore.numbers;
    }
  }

  toggleFavourite(number: string): void {
    if (this.favStore) this.favourites = this.favStore.toggle(number);
  }

  /** Runs a command; a failure becomes an error toast, `okText` an info toast. */
  async run(command: Command, okText?: string): Promise<CommandData | null | undefined> {
    if (!this.session) return undefined;
    try {
      const data = await this.session.command(command);
      if (okText) this.toast(okText, 'info');
      return data;
    } catch (e) {
      this.toast(this.errorText(e), 'error');
      return undefined;
    }
  }

  /** Click-to-call: rings the user's phone, then calls `number`. */
  async dial(number: string): Promise<boolean> {
    const data = await this.run({ name: 'dial', number });
    if (data?.kind === 'call') this.dialled[data.call] = number;
    return data !== undefined;
  }

  errorText(e: unknown): string {
    if (e instanceof CommandError) {
      const key = `error.${e.code}` as Key;
      return key in dictionaries.en ? this.t(key, { detail: e.message }) : e.message;
    }
    return String(e);
  }

  toast(text: string, kind: Toast['kind']): void {
    const id = ++this.toastId;
    this.toasts = [...this.toasts, { id, text, kind }].slice(-MAX_TOASTS);
    if (kind === 'info') setTimeout(() => this.dismiss(id), INFO_TOAST_MS);
  }

  dismiss(id: number): void {
    this.toasts = this.toasts.filter((t) => t.id !== id);
  }
}
