import { describe, expect, it } from 'vitest';
import type { ExtensionState } from '../protocol/cti';
import { Favourites, formatClock, formatDuration, isMasked, matches, pauseReasonText, startOfDay, toDialString } from './util';

describe('dial strings', () => {
  it.each([
    ['202', '202'],
    [' +39 06 1234-567 ', '+39061234567'],
    ['(02) 555.12', '0255512'],
    ['*72#', '*72#'],
    ['', null],
    ['abc', null],
    ['20+2', null],
    ['1'.repeat(33), null],
  ])('%j → %j', (input, out) => {
    expect(toDialString(input)).toBe(out);
  });

  it('masked numbers are recognised', () => {
    expect(isMasked('0612345xxx')).toBe(true);
    expect(isMasked('0612345678')).toBe(false);
  });
});

describe('formatDuration', () => {
  it('shows m:ss, then h:mm:ss', () => {
    expect(formatDuration(0)).toBe('0:00');
    expect(formatDuration(95)).toBe('1:35');
    expect(formatDuration(3600 + 61)).toBe('1:01:01');
    expect(formatDuration(-3)).toBe('0:00');
  });
});

describe('search', () => {
  const e = { number: '204', name: 'Niccolò Ferri' } as ExtensionState;
  it('matches name without accents or case, and number', () => {
    expect(matches(e, 'niccolo')).toBe(true);
    expect(matches(e, 'FERRI')).toBe(true);
    expect(matches(e, '20')).toBe(true);
    expect(matches(e, '205')).toBe(false);
    expect(matches(e, '  ')).toBe(true);
  });
});

describe('favourites', () => {
  function memoryStorage(): Storage {
    const m = new Map<string, string>();
    return {
      get length() {
        return m.size;
      },
      clear: () => m.clear(),
      getItem: (k) => m.get(k) ?? null,
      key: (i) => [...m.keys()][i] ?? null,
      removeItem: (k) => void m.delete(k),
      setItem: (k, v) => void m.set(k, v),
    };
  }

  it('persist per scope', () => {
    const s = memoryStorage();
    const a = new Favourites('pbx/default/201', s);
    a.toggle('203');
    a.toggle('202');
    a.toggle('203');
    expect([...new Favourites('pbx/default/201', s).numbers]).toEqual(['202']);
    expect(new Favourites('pbx/default/202', s).numbers.size).toBe(0);
  });

  it('survive garbage in storage and no storage at all', () => {
    const s = memoryStorage();
    s.setItem('centralino.favourites.x', '{bad');
    expect(new Favourites('x', s).numbers.size).toBe(0);
    s.setItem('centralino.favourites.y', '["201", 5]');
    expect([...new Favourites('y', s).numbers]).toEqual(['201']);
    const none = new Favourites('z', null);
    expect(none.toggle('201').has('201')).toBe(true);
  });
});

describe('clock times', () => {
  const at = (h: number, m: number, day = 15) => new Date(2026, 5, day, h, m).getTime();

  it('are the time of day today, with the date on other days', () => {
    const today = startOfDay(at(17, 0));
    expect(formatClock(at(9, 5), 'it', today)).toBe('09:05');
    const other = formatClock(at(9, 5, 14), 'en', today);
    expect(other).toContain('14');
    expect(other).toContain('Jun');
    expect(formatClock(at(9, 5, 16), 'en', today)).toContain('Jun');
  });

  it('know the start of the day', () => {
    expect(startOfDay(at(17, 0))).toBe(at(0, 0));
    expect(startOfDay(at(0, 0))).toBe(at(0, 0));
    expect(startOfDay(at(23, 59, 14))).toBe(at(0, 0, 14));
  });
});

describe('pause reasons', () => {
  const t = (k: string) => `<${k}>`;
  it('say autopause and no reason in words, other reasons as given', () => {
    expect(pauseReasonText('autopause', t)).toBe('<queues.autopause>');
    expect(pauseReasonText(null, t)).toBe('<queues.no_reason>');
    expect(pauseReasonText('  ', t)).toBe('<queues.no_reason>');
    expect(pauseReasonText('7', t)).toBe('7');
  });
});
