// Small pure helpers of the views: dial strings, durations, favourites, search.

import type { ExtensionState, Party } from '../protocol/cti';
import type { Key } from './i18n';

/**
 * A number as people type or paste it (`+39 06 1234-567`, `(02) 555.12`) reduced to a dial
 * string the server accepts (digits, `*`, `#`, an optional leading `+`, 1–32 characters), or
 * `null` when it cannot be one.
 */
export function toDialString(input: string): string | null {
  const s = input.trim().replace(/[\s\-()./]/g, '');
  return /^\+?[0-9*#]{1,32}$/.test(s) && s.length <= 32 ? s : null;
}

/** Whether a number was masked for privacy (`0612345xxx`): it cannot be dialled back. */
export function isMasked(number: string): boolean {
  return /x/i.test(number);
}

/** `m:ss`, or `h:mm:ss` from one hour. */
export function formatDuration(totalSeconds: number): string {
  const s = Math.max(0, Math.floor(totalSeconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

/** "Name (number)", or the number alone. */
export function partyLabel(p: Party): string {
  return p.name ? `${p.name} (${p.number})` : p.number;
}

/** Case- and accent-insensitive match of a search text against name and number. */
export function matches(e: ExtensionState, query: string): boolean {
  const q = fold(query.trim());
  if (!q) return true;
  return fold(e.name).includes(q) || e.number.includes(q);
}

function fold(s: string): string {
  return s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase();
}

export const NO_FAVOURITES: ReadonlySet<string> = new Set();

/** Favourite extension numbers, kept in local storage per server, tenant and user. */
export class Favourites {
  readonly scope: string;
  private readonly key: string;
  private readonly storage: Storage | null;
  numbers: Set<string>;

  constructor(scope: string, storage: Storage | null) {
    this.scope = scope;
    this.key = `centralino.favourites.${scope}`;
    this.storage = storage;
    this.numbers = new Set(this.read());
  }

  private read(): string[] {
    try {
      const v: unknown = JSON.parse(this.storage?.getItem(this.key) ?? '[]');
      return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
    } catch {
      return [];
    }
  }

  has(number: string): boolean {
    return this.numbers.has(number);
  }

  /** Adds or removes; returns the new set (a new object, so views notice). */
  toggle(number: string): Set<string> {
    const next = new Set(this.numbers);
    if (!next.delete(number)) next.add(number);
    this.numbers = next;
    try {
      this.storage?.setItem(this.key, JSON.stringify([...next].sort()));
    } catch {
      // Storage full or disabled: favourites last for this page only.
    }
    return next;
  }
}

/** Start of the local day of `ms`. Views derive "today" from their ticking clock with it, so
 *  what depends on the day re-renders once a day, not every second. */
export function startOfDay(ms: number): number {
  const d = new Date(ms);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

// Formatters are costly to build and a panel formats hundreds of times: one per language and
// shape.
const clockFormats = new Map<string, Intl.DateTimeFormat>();

/** Time of day of `ms` ("14:05"), with the date when it is not on the day starting at `today`
 *  (see `startOfDay`). */
export function formatClock(ms: number, lang: string, today: number): string {
  const sameDay = ms >= today && ms < today + 86_400_000;
  const key = `${lang}/${sameDay}`;
  let f = clockFormats.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(lang, {
      hour: '2-digit',
      minute: '2-digit',
      ...(sameDay ? {} : { day: 'numeric', month: 'short' }),
    });
    clockFormats.set(key, f);
  }
  return f.format(ms);
}

/** The reason of a pause as people read it: the PBX's `autopause` (an agent who did not
 *  answer) in words, no reason said so. */
export function pauseReasonText(reason: string | null, t: (k: Key) => string): string {
  if (reason === null || reason.trim() === '') return t('queues.no_reason');
  if (reason === 'autopause') return t('queues.autopause');
  return reason;
}

/** Preset reasons offered for a pause (any text up to 64 characters is allowed). */
export const PAUSE_REASONS = ['lunch', 'break', 'meeting', 'backoffice'] as const;

/** Longest pause reason the protocol takes. */
export const PAUSE_REASON_MAX = 64;

/** The park code: a call transferred there is parked in a free slot (`890`–`899`). The
 *  snapshot gives the slots but not the code, so this is the PBX's default feature code. */
export const PARK_NUMBER = '888';

/** Drag-and-drop type of a call card dragged onto the directory (its data: the call id). */
export const CALL_MIME = 'application/x-centralino-call';
