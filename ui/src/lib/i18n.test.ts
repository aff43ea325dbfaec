import { describe, expect, it } from 'vitest';
import { dictionaries, pickLang, translate } from './i18n';

describe('language', () => {
  it('comes from the browser languages, English by default', () => {
    expect(pickLang(['it-IT', 'en-US'])).toBe('it');
    expect(pickLang(['de-DE', 'it'])).toBe('it');
    expect(pickLang(['en-GB', 'it-IT'])).toBe('en');
    expect(pickLang(['fr-FR'])).toBe('en');
    expect(pickLang([])).toBe('en');
    expect(pickLang(['en-US'], 'it')).toBe('it');
  });

  it('dictionaries have the same keys and no empty text', () => {
    expect(Object.keys(dictionaries.it).sort()).toEqual(Object.keys(dictionaries.en).sort());
    for (const d of Object.values(dictionaries)) {
      for (const [k, v] of Object.entries(d)) expect(v.trim(), k).not.toBe('');
    }
  });

  it('placeholders are the same in both languages', () => {
    const names = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    for (const [k, v] of Object.entries(dictionaries.en)) {
      expect(names(dictionaries.it[k as keyof typeof dictionaries.it]), k).toEqual(names(v));
    }
  });

  it('fills placeholders', () => {
    expect(translate('it', 'dir.count', { shown: 3, total: 8 })).toBe('3 di 8 interni');
    expect(translate('en', 'lamp.ringing')).toBe('Ringing');
    expect(translate('en', 'conn.next_try')).toBe('next attempt in {seconds} s');
  });
});
