// Iteration: scan() pages and the entries() iterator return every key exactly once on a
// store nobody writes to, and every key present for the whole iteration at least once while
// other keys are put and deleted and the index doubles under the cursor.
import { describe, expect, it } from 'vitest';
import { open as openStore, type Store } from '../../lib/index';
import { prng } from '../helpers/format';
import { tmpdir } from '../helpers/tmpdir';
import { ENGINES, withEngine } from '../helpers/engines';

describe.each(ENGINES)('%s engine', (engine) => {
  const open = withEngine(openStore, engine);

  // More pages than this means the cursor went backwards or never reached 0.
  const MAX_PAGES = 1 << 20;

  /** Every page of a scan with `count`, concatenated (keys as strings, in the order returned). */
  function scanAll(db: Store, count: number): string[] {
    const out: string[] = [];
    let cursor = 0;
    let pages = 0;
    do {
      const page = db.scan(cursor, count);
      for (const k of page.keys) out.push(k.toString());
      cursor = page.cursor;
      if (++pages > MAX_PAGES) throw new Error(`scan with count ${count} did not finish`);
    } while (cursor !== 0);
    return out;
  }

  function duplicates(keys: string[]): string[] {
    const seen = new Set<string>();
    const dup = new Set<string>();
    for (const k of keys) {
      if (seen.has(k)) dup.add(k);
      seen.add(k);
    }
    return [...dup];
  }

  async function fill(db: Store, keys: Iterable<string>, value: (k: string) => string = (k) => `v:${k}`): Promise<void> {
    const writes: Promise<void>[] = [];
    for (const k of keys) writes.push(db.put(k, value(k)));
    await Promise.all(writes);
  }

  const range = (prefix: string, from: number, to: number): string[] => Array.from({ length: to - from }, (_, i) => `${prefix}${from + i}`);

  describe('Store#scan()', () => {
    it('returns each key exactly once on a store nobody writes to, whatever the page size', async () => {
      const db = await open(tmpdir('hashlog-iter-'), { durability: 'none' });
      try {
        const keys = range('key-', 0, 10_000);
        await fill(db, keys);
        // A key that shares nothing with the others but its length, and a binary one.
        await db.put(Buffer.from([0, 255, 1, 254]), 'binary');
        const want = [...keys, Buffer.from([0, 255, 1, 254]).toString()].sort();
        for (const count of [1, 7, 1000]) {
          const got = scanAll(db, count);
          expect(duplicates(got), `count ${count}: keys returned twice`).toEqual([]);
          expect(got.length, `count ${count}`).toBe(want.length);
          expect(got.sort(), `count ${count}`).toEqual(want);
        }
      } finally {
        await db.close();
      }
    });

    it('returns each key exactly once at the fullest point of every index size', async () => {
      // The index doubles when it would pass 7/8 of its capacity (native/hash_index.h): just
      // below that, runs of full buckets are longest and wrap around the end of the table.
      // Deletes on the way leave entries shifted back along their runs.
      const db = await open(tmpdir('hashlog-iter-'), { durability: 'none' });
      try {
        const rand = prng(0xf111);
        const live: string[] = [];
        let next = 0;
        let levels = 0;
        while (live.length < 9000) {
          const target = (db.stats().indexCapacity * 7) / 8;
          const writes: Promise<unknown>[] = [];
          while (live.length < target) {
            const k = `key-${next++}`;
            live.push(k);
            writes.push(db.put(k, 'v'));
            if (rand() < 0.2) writes.push(db.del(live.splice(Math.floor(rand() * live.length), 1)[0]));
          }
          await Promise.all(writes);
          const want = [...live].sort();
          for (const count of [1, 3]) {
            const got = scanAll(db, count);
            expect(duplicates(got), `${live.length} keys, count ${count}: keys returned twice`).toEqual([]);
            expect(got.sort(), `${live.length} keys, count ${count}`).toEqual(want);
          }
          levels++;
          // One more: the index doubles.
          live.push(`key-${next}`);
          await db.put(`key-${next++}`, 'v');
        }
        expect(levels).toBeGreaterThanOrEqual(8);
      } finally {
        await db.close();
      }
    });

    it('returns cursor 0 and no keys on an empty store', async () => {
      const db = await open(tmpdir('hashlog-iter-'));
      try {
        expect(db.scan(0, 10)).toEqual({ cursor: 0, keys: [] });
      } finally {
        await db.close();
      }
    });

    it('returns every key present for the whole scan at least once while the index doubles and keys come and go', async () => {
      // Starts from an empty store: the index is at its smallest and has to double again and
      // again while the scan is between pages.
      const db = await open(tmpdir('hashlog-iter-'), { durability: 'none' });
      try {
        const rand = prng(0x5ca1);
        const stable = range('stable-', 0, 1000);
        await fill(db, stable);
        // Deleted before the scan starts and never written again: must not appear.
        const gone = range('gone-', 0, 200);
        await fill(db, gone);
        await Promise.all(gone.map((k) => db.del(k)));
        const capacityAtStart = db.stats().indexCapacity;
        let capacityMax = capacityAtStart;

        const churn: string[] = []; // live non-stable keys
        let nextChurn = 0;
        const returned = new Set<string>();
        let cursor = 0;
        let pages = 0;
        do {
          const page = db.scan(cursor, 10);
          for (const k of page.keys) returned.add(k.toString());
          cursor = page.cursor;
          pages++;
          // Between pages: the first ten steps add 5,000 keys each (the index doubles several
          // times); every step deletes a random tenth of the non-stable keys (backward shifts
          // move entries across the cursor's bucket).
          const adds = pages <= 10 ? 5000 : 50;
          const writes: Promise<unknown>[] = [];
          for (let i = 0; i < adds; i++) {
            const k = `churn-${nextChurn++}`;
            churn.push(k);
            writes.push(db.put(k, 'c'));
          }
          const dels = Math.floor(churn.length / 10);
          for (let i = 0; i < dels; i++) {
            const [k] = churn.splice(Math.floor(rand() * churn.length), 1);
            writes.push(db.del(k));
          }
          await Promise.all(writes);
          capacityMax = Math.max(capacityMax, db.stats().indexCapacity);
          expect(pages, 'the scan finishes').toBeLessThan(MAX_PAGES);
        } while (cursor !== 0);

        expect(capacityMax, 'the index grew at least 8-fold during the scan').toBeGreaterThanOrEqual(capacityAtStart * 8);
        // The deletes then drain the churn keys, so the index shrinks again while the scan goes on.
        expect(db.stats().indexCapacity, 'the index shrank during the scan').toBeLessThan(capacityMax);
        expect(stable.filter((k) => !returned.has(k)), 'stable keys never returned').toEqual([]);
        expect([...returned].filter((k) => k.startsWith('gone-')), 'keys deleted before the scan').toEqual([]);
        expect([...returned].filter((k) => !/^(stable|churn)-\d+$/.test(k)), 'keys never written').toEqual([]);
      } finally {
        await db.close();
      }
    });

    it('skips expired keys, to the millisecond', async () => {
      const db = await open(tmpdir('hashlog-iter-'));
      try {
        await db.put('forever', 'v');
        await db.put('soon', 'v', { ttlMs: 10_000 });
        const at = db.expiresAt('soon')!;
        db._setClockOffset(at - Date.now() - 50);
        expect(scanAll(db, 10).sort()).toEqual(['forever', 'soon']);
        db._setClockOffset(at - Date.now() + 1);
        expect(scanAll(db, 10)).toEqual(['forever']);
      } finally {
        await db.close();
      }
    });

    it('rejects a cursor or count that is not a valid integer with a RangeError carrying HASHLOG_INVALID_ARGUMENT', async () => {
      const db = await open(tmpdir('hashlog-iter-'));
      try {
        await db.put('k', 'v');
        const bad: Array<[number, number]> = [
          [-1, 10],
          [1.5, 10],
          [Number.NaN, 10],
          [Number.POSITIVE_INFINITY, 10],
          [2 ** 32, 10],
          [0, 0],
          [0, -1],
          [0, 2.5],
          [0, Number.NaN],
          [0, Number.POSITIVE_INFINITY],
        ];
        for (const [cursor, count] of bad) {
          let caught: unknown;
          try {
            db.scan(cursor, count);
          } catch (e) {
            caught = e;
          }
          expect(caught, `scan(${cursor}, ${count})`).toBeInstanceOf(RangeError);
          expect(caught, `scan(${cursor}, ${count})`).toMatchObject({ code: 'HASHLOG_INVALID_ARGUMENT' });
        }
        // Not numbers at all: still an argument error with the code.
        // @ts-expect-error deliberate misuse
        expect(() => db.scan('0', 10)).toThrow(expect.objectContaining({ code: 'HASHLOG_INVALID_ARGUMENT' }));
        // @ts-expect-error deliberate misuse
        expect(() => db.scan(0)).toThrow(expect.objectContaining({ code: 'HASHLOG_INVALID_ARGUMENT' }));
        // The largest cursor is valid.
        expect(() => db.scan(2 ** 32 - 1, 1)).not.toThrow();
      } finally {
        await db.close();
      }
    });

    it('throws HASHLOG_CLOSED after close()', async () => {
      const db = await open(tmpdir('hashlog-iter-'));
      await db.put('k', 'v');
      const first = db.scan(0, 1);
      await db.close();
      expect(() => db.scan(0, 10)).toThrow(expect.objectContaining({ name: 'HashlogError', code: 'HASHLOG_CLOSED' }));
      // Nor does a cursor from before the close revive it.
      expect(() => db.scan(first.cursor, 10)).toThrow(expect.objectContaining({ code: 'HASHLOG_CLOSED' }));
    });
  });

  describe('Store#entries()', () => {
    it('yields each key exactly once with its value on a store nobody writes to', async () => {
      const db = await open(tmpdir('hashlog-iter-'), { durability: 'none' });
      try {
        const keys = range('key-', 0, 10_000);
        await fill(db, keys);
        const got: string[] = [];
        for (const [k, v] of db.entries()) {
          const key = k.toString();
          got.push(key);
          expect(v.toString(), key).toBe(`v:${key}`);
        }
        expect(duplicates(got)).toEqual([]);
        expect(got.sort()).toEqual(keys.sort());
        // The store itself iterates the same way.
        expect([...db].map(([k]) => k.toString()).sort()).toEqual(keys);
      } finally {
        await db.close();
      }
    });

    it('yields every key present for the whole iteration at least once while keys are written during it', async () => {
      const db = await open(tmpdir('hashlog-iter-'), { durability: 'none' });
      try {
        const rand = prng(0xe17e);
        const stable = range('stable-', 0, 1000);
        await fill(db, stable);
        const capacityAtStart = db.stats().indexCapacity;
        const churn: string[] = [];
        let nextChurn = 0;
        const seen = new Set<string>();
        let n = 0;
        const pending: Promise<unknown>[] = [];
        for (const [k, v] of db.entries()) {
          const key = k.toString();
          seen.add(key);
          if (key.startsWith('stable-')) expect(v.toString(), key).toBe(`v:${key}`);
          // Every 25 keys: 2,000 new keys (for the first 200 keys yielded), and deletes.
          if (++n % 25 === 0) {
            const adds = n <= 200 ? 2000 : 20;
            for (let i = 0; i < adds; i++) {
              const c = `churn-${nextChurn++}`;
              churn.push(c);
              pending.push(db.put(c, 'c'));
            }
            for (let i = 0; i < 10 && churn.length > 0; i++) pending.push(db.del(churn.splice(Math.floor(rand() * churn.length), 1)[0]));
          }
          if (n > 10_000_000) throw new Error('entries() did not finish');
        }
        await Promise.all(pending);
        expect(db.stats().indexCapacity, 'the index grew at least 8-fold during the iteration').toBeGreaterThanOrEqual(capacityAtStart * 8);
        expect(stable.filter((k) => !seen.has(k)), 'stable keys never yielded').toEqual([]);
      } finally {
        await db.close();
      }
    });

    it('skips expired and deleted keys', async () => {
      const dir = tmpdir('hashlog-iter-');
      let db = await open(dir);
      try {
        const writes: Promise<unknown>[] = [];
        for (let i = 0; i < 300; i++) {
          if (i % 3 === 0) writes.push(db.put(`k${i}`, `v${i}`, { ttlMs: 5_000 }));
          else if (i % 3 === 1) writes.push(db.put(`k${i}`, `v${i}`, { ttlMs: 3_600_000 }));
          else writes.push(db.put(`k${i}`, `v${i}`));
        }
        for (let i = 0; i < 300; i += 10) writes.push(db.del(`k${i + 1}`)); // every tenth key is deleted
        await Promise.all(writes);
        const live = (shortLived: boolean): string[] =>
          range('k', 0, 300)
            .filter((k) => (Number(k.slice(1)) - 1) % 10 !== 0 && (shortLived || Number(k.slice(1)) % 3 !== 0))
            .sort();
        const keysOf = (): string[] => [...db.entries()].map(([k]) => k.toString()).sort();

        expect(keysOf()).toEqual(live(true));
        db._setClockOffset(6_000); // the 5 s keys have expired
        expect(keysOf()).toEqual(live(false));
        for (const [k, v] of db.entries()) expect(v.toString()).toBe(`v${k.toString().slice(1)}`);

        // The same after a reopen (the clock offset belongs to the store object).
        await db.close();
        db = await open(dir);
        db._setClockOffset(6_000);
        expect(keysOf()).toEqual(live(false));
      } finally {
        await db.close();
      }
    });

    it('throws HASHLOG_CLOSED after close(), also from an iterator started before it', async () => {
      const db = await open(tmpdir('hashlog-iter-'));
      await db.put('a', '1');
      await db.put('b', '2');
      const it = db.entries();
      expect(it.next().done).toBe(false);
      await db.close();
      expect(() => it.next()).toThrow(expect.objectContaining({ code: 'HASHLOG_CLOSED' }));
      expect(() => [...db.entries()]).toThrow(expect.objectContaining({ name: 'HashlogError', code: 'HASHLOG_CLOSED' }));
      expect(() => [...db]).toThrow(expect.objectContaining({ code: 'HASHLOG_CLOSED' }));
    });
  });
});
