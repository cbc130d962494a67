// Redis's glob patterns, including the ones that make naive matchers exponential.
import { describe, expect, it } from 'vitest';
import { globMatch, isLiteral } from '../../lib/server/glob';

const m = (p: string, s: string): boolean => globMatch(Buffer.from(p), Buffer.from(s));

describe('globMatch', () => {
  it('matches like Redis\'s stringmatchlen', () => {
    expect(m('*', '')).toBe(true);
    expect(m('h?llo', 'hello')).toBe(true);
    expect(m('h?llo', 'hllo')).toBe(false);
    expect(m('h*llo', 'heeeello')).toBe(true);
    expect(m('h[ae]llo', 'hallo')).toBe(true);
    expect(m('h[ae]llo', 'hillo')).toBe(false);
    expect(m('h[^e]llo', 'hallo')).toBe(true);
    expect(m('h[^e]llo', 'hello')).toBe(false);
    expect(m('h[a-b]llo', 'hbllo')).toBe(true);
    expect(m('h[b-a]llo', 'hallo')).toBe(true);
    expect(m('h\\*llo', 'h*llo')).toBe(true);
    expect(m('h\\*llo', 'hello')).toBe(false);
    expect(m('user:*:name', 'user:42:name')).toBe(true);
    expect(m('user:*:name', 'user:42:mail')).toBe(false);
    expect(m('a*b*c', 'aXbYc')).toBe(true);
    expect(m('a*b*c', 'aXbY')).toBe(false);
  });

  it('stays fast on patterns that backtrack', () => {
    const s = 'a'.repeat(5000);
    expect(m(`${'*a'.repeat(50)}b`, s)).toBe(false);
  });

  it('tells literal patterns apart', () => {
    expect(isLiteral(Buffer.from('plain:key'))).toBe(true);
    expect(isLiteral(Buffer.from('key*'))).toBe(false);
  });
});
