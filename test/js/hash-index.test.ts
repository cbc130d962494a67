// lib/js/hash-index.ts on its own, with chosen tags: long overflow runs, runs that wrap past
// the last bucket, backward-shift erases inside them, growth, shrinking and tag-range walks,
// each checked against a Map.
import { describe, expect, it } from 'vitest';
import { HashIndex } from '../../lib/js/hash-index';
import { prng } from '../helpers/format';

interface Entry {
  tag: number;
  extra: number;
  slot: number;
  offset: number;
}

// Each entry is identified by its (slot, offset): the confirm step of a real lookup.
function find(index: HashIndex, e: Entry): number {
  return index.find(e.tag, e.extra, (s, o) => s === e.slot && o === e.offset);
}

function expectAll(index: HashIndex, live: Map<number, Entry>, gone: Entry[]): void {
  for (const e of live.values()) expect(find(index, e), `tag ${e.tag.toString(16)}`).toBeGreaterThanOrEqual(0);
  for (const e of gone) expect(find(index, e)).toBe(-1);
  expect(index.size).toBe(live.size);
  // Every entry is walked exactly once over the whole tag space, whatever the split points.
  const seen: number[] = [];
  const cuts = [0, 0x12345678, 0x80000000, 0xfffffff0, 2 ** 32];
  for (let i = 0; i + 1 < cuts.length; i++) index.forEachInTagRange(cuts[i], cuts[i + 1], (_s, o) => seen.push(o));
  expect(seen.sort((a, b) => a - b)).toEqual([...live.keys()].sort((a, b) => a - b));
}

describe('HashIndex (js engine)', () => {
  it('keeps long overflow runs findable through inserts and backward-shift erases', () => {
    const index = new HashIndex(0); // 8 buckets of 5
    const live = new Map<number, Entry>();
    const gone: Entry[] = [];
    // 30 entries whose home is the same bucket (the top bits of the tag): a run of 6+ buckets.
    for (let i = 1; i <= 30; i++) {
      index.ensureRoomFor(1);
      const e = { tag: 0x20000000 + i, extra: i & 0xffff, slot: 1, offset: i * 100 };
      index.insert(e.tag, e.extra, e.slot, e.offset);
      live.set(e.offset, e);
    }
    expectAll(index, live, gone);
    for (const i of [1, 7, 15, 30, 2, 29]) {
      const e = live.get(i * 100) as Entry;
      index.erase(find(index, e));
      live.delete(e.offset);
      gone.push(e);
      expectAll(index, live, gone);
    }
  });

  it('wraps a run past the last bucket and erases across the wrap', () => {
    const index = new HashIndex(0);
    const live = new Map<number, Entry>();
    const gone: Entry[] = [];
    for (let i = 1; i <= 20; i++) {
      const e = { tag: 0xfffff000 + i, extra: 0, slot: 2, offset: i * 64 };
      index.insert(e.tag, e.extra, e.slot, e.offset);
      live.set(e.offset, e);
    }
    expectAll(index, live, gone);
    for (const i of [3, 12, 20, 1]) {
      const e = live.get(i * 64) as Entry;
      index.erase(find(index, e));
      live.delete(e.offset);
      gone.push(e);
      expectAll(index, live, gone);
    }
  });

  it('agrees with a Map through random inserts, replaces, erases, doublings and a shrink', () => {
    const index = new HashIndex(0);
    const rand = prng(7);
    const live = new Map<number, Entry>();
    const gone: Entry[] = [];
    let nextOffset = 32;
    for (let op = 0; op < 20_000; op++) {
      const r = rand();
      if (r < 0.6 || live.size === 0) {
        // Few distinct tag prefixes, so runs are long and buckets overflow.
        const tag = ((Math.floor(rand() * 64) << 26) | Math.floor(rand() * 2 ** 26)) >>> 0 || 1;
        const e = { tag, extra: Math.floor(rand() * 65536), slot: Math.floor(rand() * 4), offset: nextOffset++ };
        index.ensureRoomFor(1);
        index.insert(e.tag, e.extra, e.slot, e.offset);
        live.set(e.offset, e);
      } else {
        const keys = [...live.keys()];
        const e = live.get(keys[Math.floor(rand() * keys.length)]) as Entry;
        const at = find(index, e);
        if (r < 0.8) {
          const moved = { ...e, slot: (e.slot + 1) & 0xffff, offset: nextOffset++ };
          index.replace(at, moved.slot, moved.offset);
          live.delete(e.offset);
          live.set(moved.offset, moved);
          gone.push(e);
        } else {
          index.erase(at);
          live.delete(e.offset);
          gone.push(e);
        }
      }
      if (op % 2_000 === 0) expectAll(index, live, gone.slice(-200));
    }
    expectAll(index, live, gone);
    const big = index.capacity;
    for (const e of [...live.values()].slice(0, live.size - 10)) {
      index.erase(find(index, e));
      live.delete(e.offset);
    }
    index.shrinkToFit();
    expect(index.capacity).toBeLessThan(big);
    expectAll(index, live, []);
  });
});
