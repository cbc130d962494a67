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

// Incremental resizing: the live set swings between ~6,000 and ~50 entries, so the table
// grows and shrinks many times, and every check also runs while a migration is in progress.
describe('HashIndex (js engine) incremental resize', () => {
  // Tags: mostly random, some homed at the very end (their runs wrap to bucket 0), some near 0.
  function makeEntries(rand: () => number, n: number): Entry[] {
    const out: Entry[] = [];
    for (let i = 0; i < n; i++) {
      let tag = Math.floor(rand() * 2 ** 32) >>> 0;
      if (i % 40 === 0) tag = (0xfffffc00 + Math.floor(rand() * 0x400)) >>> 0;
      if (i % 40 === 1) tag = Math.floor(rand() * 0x400);
      out.push({ tag: HashIndex.tagOf(tag), extra: Math.floor(rand() * 65536), slot: i & 0xffff, offset: 32 + i });
    }
    return out;
  }

  function expectRoundTrip(index: HashIndex, live: Map<number, Entry>): void {
    const copy = new HashIndex(0);
    let n = 0;
    index.forEachEntry((tag, word, offset) => {
      copy.ensureRoomFor(n++ % 2 === 0 ? 1 : 2); // so the copy migrates while it fills
      copy.insertEntry(tag, word, offset);
    });
    expect(n).toBe(live.size);
    expectAll(copy, live, []);
  }

  it.each([11, 12, 13])('agrees with a Map through many grows and shrinks, checked in the middle of migrations (seed %i)', (seed) => {
    const rand = prng(seed);
    const all = makeEntries(rand, 8000);
    const index = new HashIndex(0);
    const live = new Map<number, Entry>();
    let growPhase = true;
    let grows = 0;
    let shrinks = 0;
    let checksMid = 0;
    let clearsMid = 0;
    let batchesMid = 0;
    let buckets = index.bucketCount;
    const randomLive = (): Entry | undefined => {
      if (live.size === 0) return undefined;
      for (;;) {
        const e = live.get(32 + Math.floor(rand() * all.length));
        if (e !== undefined) return e;
      }
    };
    for (let op = 0; op < 120_000; op++) {
      if (growPhase && live.size > 6000) growPhase = false;
      if (!growPhase && live.size < 50) growPhase = true;
      const write = growPhase ? rand() < 7 / 8 : rand() < 1 / 8;
      if (write) {
        // As the store's put: room first (a migration step), then the lookup.
        const e = all[Math.floor(rand() * all.length)];
        index.ensureRoomFor(1);
        const at = find(index, e);
        expect(at >= 0).toBe(live.has(e.offset));
        if (at >= 0) {
          index.replace(at, (e.slot + 1) & 0xffff, e.offset);
          e.slot = (e.slot + 1) & 0xffff;
        } else {
          index.insert(e.tag, e.extra, e.slot, e.offset);
        }
        live.set(e.offset, e);
      } else {
        // As the store's del: a step (which may start a shrink), then the lookup and erase.
        const e = randomLive() ?? all[0];
        index.step();
        const at = find(index, e);
        expect(at >= 0).toBe(live.has(e.offset));
        if (at >= 0) {
          index.erase(at);
          live.delete(e.offset);
        }
      }
      if (index.bucketCount > buckets) grows++;
      if (index.bucketCount < buckets) shrinks++;
      buckets = index.bucketCount;
      if (index.migrating && rand() < 1 / 32) {
        checksMid++;
        expectAll(index, live, []);
        if (rand() < 1 / 4) expectRoundTrip(index, live);
        const r = rand();
        if (r < 0.03) {
          clearsMid++;
          index.clear();
          live.clear();
          expect(index.migrating).toBe(false);
          expectAll(index, live, all.slice(0, 100));
        } else if (r < 0.3) {
          // A batch: ensureRoomFor(n), then n inserts of absent keys that must all fit.
          batchesMid++;
          const n = 1 + Math.floor(rand() * (r < 0.1 ? 1000 : 20));
          index.ensureRoomFor(n);
          for (let i = 0, tries = 0; i < n && tries < 100_000; tries++) {
            const e = all[Math.floor(rand() * all.length)];
            if (live.has(e.offset)) continue;
            expect(find(index, e)).toBe(-1);
            index.insert(e.tag, e.extra, e.slot, e.offset);
            live.set(e.offset, e);
            i++;
          }
          expectAll(index, live, []);
        } else if (r < 0.33) {
          index.shrinkToFit();
          expect(index.migrating).toBe(false);
          expectAll(index, live, []);
        }
        buckets = index.bucketCount;
      }
    }
    expectAll(index, live, []);
    expectRoundTrip(index, live);
    expect(grows).toBeGreaterThanOrEqual(10);
    expect(shrinks).toBeGreaterThanOrEqual(10);
    expect(checksMid).toBeGreaterThanOrEqual(20);
    expect(clearsMid + batchesMid).toBeGreaterThan(0);
    // Memory follows the data down with deletes alone.
    for (const e of [...live.values()]) {
      index.step();
      index.erase(find(index, e));
      live.delete(e.offset);
    }
    for (let i = 0; i < 10_000; i++) index.step();
    expect(index.size).toBe(0);
    expect(index.bucketCount).toBe(8);
    expect(index.migrating).toBe(false);
  });

  it('does not shrink a table presized for recovery while it is filled one entry at a time', () => {
    const index = new HashIndex(100_000);
    const buckets = index.bucketCount;
    for (let i = 1; i <= 100; i++) {
      index.ensureRoomFor(1);
      index.insert(i << 20, 0, 1, i * 32);
    }
    expect(index.bucketCount).toBe(buckets);
    expect(index.migrating).toBe(false);
  });

  it('keeps entries homed at the last bucket (runs that wrap) findable through a migration', () => {
    const index = new HashIndex(0);
    const live = new Map<number, Entry>();
    // 35 entries homed at the last bucket of every table size: the run wraps to bucket 0.
    for (let i = 1; i <= 35; i++) {
      index.ensureRoomFor(1);
      const e = { tag: 0xffffff00 + i, extra: i, slot: 3, offset: i * 8 };
      index.insert(e.tag, e.extra, e.slot, e.offset);
      live.set(e.offset, e);
    }
    // One more passes 7/8 of 40 (35): a migration starts; check after every step until it ends.
    index.ensureRoomFor(1);
    const e = { tag: 0x00000010, extra: 0, slot: 3, offset: 999 * 8 };
    index.insert(e.tag, e.extra, e.slot, e.offset);
    live.set(e.offset, e);
    expect(index.migrating).toBe(true);
    for (let i = 0; index.migrating && i < 100; i++) {
      expectAll(index, live, []);
      index.step();
    }
    expect(index.migrating).toBe(false);
    expectAll(index, live, []);
  });
});
