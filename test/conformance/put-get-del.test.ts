import { describe, expect, it } from 'vitest';
import { open as openStore } from '../../lib/index';
import { tmpdir } from '../helpers/tmpdir';
import { ENGINES, withEngine } from '../helpers/engines';

describe.each(ENGINES)('%s engine', (engine) => {
  const open = withEngine(openStore, engine);

  describe('Store#put() and Store#get()', () => {
    it('round-trips string and binary keys and values', async () => {
      const db = await open(tmpdir());
      await db.put('s', 'text');
      await db.put(Buffer.from([0, 1, 2, 0]), Buffer.from([0, 0, 255, 0]));
      await db.put(new Uint8Array([9]), new Uint8Array([8, 7]));
      await db.put('unicode ✓ 🚀', 'ünïcödé ✓ 🚀');
      expect(db.get('s')?.toString()).toBe('text');
      expect(db.get(Buffer.from([0, 1, 2, 0]))).toEqual(Buffer.from([0, 0, 255, 0]));
      expect(db.get(Buffer.from([9]))).toEqual(Buffer.from([8, 7]));
      expect(db.get('unicode ✓ 🚀')?.toString()).toBe('ünïcödé ✓ 🚀');
      await db.close();
    });

    it('treats a string key and its UTF-8 bytes as the same key', async () => {
      const db = await open(tmpdir());
      await db.put('héllo', 'v');
      expect(db.get(Buffer.from('héllo', 'utf8'))?.toString()).toBe('v');
      await db.close();
    });

    it('stores an empty value, distinct from a missing key', async () => {
      const db = await open(tmpdir());
      await db.put('empty', '');
      expect(db.get('empty')).toEqual(Buffer.alloc(0));
      expect(db.has('empty')).toBe(true);
      expect(db.get('missing')).toBeUndefined();
      expect(db.has('missing')).toBe(false);
      await db.close();
    });

    it('accepts a 64 KiB key and 1 MiB and 64 MiB values, across reopen', async () => {
      const dir = tmpdir();
      const bigKey = Buffer.alloc(64 * 1024, 'k');
      const mib = Buffer.alloc(1 << 20);
      for (let i = 0; i < mib.length; i++) mib[i] = (i * 31) & 0xff;
      const huge = Buffer.alloc(64 << 20, 0xab);
      huge[12345] = 0;
      let db = await open(dir, { segmentSize: 1 << 20 });
      await db.put(bigKey, 'big key');
      await db.put('mib', mib);
      await db.put('huge', huge);
      await db.put('after', 'x');
      expect(db.get(bigKey)?.toString()).toBe('big key');
      expect(db.get('mib')?.equals(mib)).toBe(true);
      expect(db.get('huge')?.equals(huge)).toBe(true);
      await db.close();
      db = await open(dir, { segmentSize: 1 << 20 });
      expect(db.get(bigKey)?.toString()).toBe('big key');
      expect(db.get('mib')?.equals(mib)).toBe(true);
      expect(db.get('huge')?.equals(huge)).toBe(true);
      expect(db.get('after')?.toString()).toBe('x');
      await db.close();
    });

    it('returns the newest value after overwrites, before and after the commit', async () => {
      const db = await open(tmpdir());
      const p1 = db.put('k', 'one');
      expect(db.get('k')?.toString()).toBe('one'); // read-your-writes before durability
      const p2 = db.put('k', 'two');
      expect(db.get('k')?.toString()).toBe('two');
      await Promise.all([p1, p2]);
      expect(db.get('k')?.toString()).toBe('two');
      expect(db.size).toBe(1);
      await db.close();
    });

    it('returns a copy that later writes do not change', async () => {
      const db = await open(tmpdir());
      await db.put('k', 'first');
      const v = db.get('k');
      await db.put('k', 'second');
      db.get('other');
      expect(v?.toString()).toBe('first');
      await db.close();
    });

    it('keeps many keys across index growth and segment rolls', async () => {
      const dir = tmpdir();
      let db = await open(dir, { segmentSize: 8192 });
      const n = 20_000;
      const writes: Promise<void>[] = [];
      for (let i = 0; i < n; i++) writes.push(db.put(`key-${i}`, `value-${i}`));
      await Promise.all(writes);
      expect(db.size).toBe(n);
      for (let i = 0; i < n; i++) expect(db.get(`key-${i}`)?.toString()).toBe(`value-${i}`);
      expect(db.stats().segments).toBeGreaterThan(10);
      await db.close();
      db = await open(dir, { segmentSize: 8192 });
      expect(db.size).toBe(n);
      for (let i = 0; i < n; i += 97) expect(db.get(`key-${i}`)?.toString()).toBe(`value-${i}`);
      await db.close();
    });
  });

  describe('Store#del()', () => {
    it('resolves true for a present key and false for an absent one', async () => {
      const db = await open(tmpdir());
      await db.put('a', '1');
      expect(await db.del('a')).toBe(true);
      expect(await db.del('a')).toBe(false);
      expect(await db.del('never')).toBe(false);
      expect(db.get('a')).toBeUndefined();
      expect(db.size).toBe(0);
      await db.close();
    });

    it('shrinks the index as keys are deleted and keeps every remaining key, also with writes in between', async () => {
      const db = await open(tmpdir(), { durability: 'none' });
      const n = 40_000;
      await Promise.all(Array.from({ length: n }, (_, i) => db.put(`key-${i}`, `value-${i}`)));
      const full = db.stats();
      // Delete all but every 50th key, with a few puts of new keys among the deletes.
      const writes: Promise<unknown>[] = [];
      for (let i = 0; i < n; i++) {
        if (i % 50 !== 0) writes.push(db.del(`key-${i}`));
        if (i % 1000 === 0) writes.push(db.put(`new-${i}`, `v-${i}`));
      }
      await Promise.all(writes);
      const kept = n / 50 + n / 1000;
      expect(db.size).toBe(kept);
      const after = db.stats();
      expect(after.indexCapacity, 'the index shrank').toBeLessThanOrEqual(full.indexCapacity / 4);
      expect(after.indexBytes).toBeLessThan(full.indexBytes);
      for (let i = 0; i < n; i++) {
        expect(db.get(`key-${i}`)?.toString()).toBe(i % 50 === 0 ? `value-${i}` : undefined);
        if (i % 1000 === 0) expect(db.get(`new-${i}`)?.toString()).toBe(`v-${i}`);
      }
      await db.close();
    });

    it('hides the key at once and keeps it deleted after reopen', async () => {
      const dir = tmpdir();
      let db = await open(dir);
      await db.put('a', '1');
      await db.put('b', '2');
      const p = db.del('a');
      expect(db.has('a')).toBe(false);
      await p;
      await db.close();
      db = await open(dir);
      expect(db.get('a')).toBeUndefined();
      expect(db.get('b')?.toString()).toBe('2');
      await db.close();
    });

    it('lets a deleted key be written again', async () => {
      const dir = tmpdir();
      let db = await open(dir);
      await db.put('k', 'v1');
      await db.del('k');
      await db.put('k', 'v2');
      await db.close();
      db = await open(dir);
      expect(db.get('k')?.toString()).toBe('v2');
      await db.close();
    });

    it('shares one commit with concurrent writes and resolves each in order', async () => {
      const db = await open(tmpdir());
      const before = db.stats().fsyncs;
      const ops: Promise<unknown>[] = [];
      for (let i = 0; i < 500; i++) ops.push(db.put(`k${i}`, 'v'));
      for (let i = 0; i < 500; i += 2) ops.push(db.del(`k${i}`));
      await Promise.all(ops);
      expect(db.size).toBe(250);
      // Group commit: far fewer fdatasyncs than writes.
      expect(db.stats().fsyncs - before).toBeLessThan(100);
      await db.close();
    });
  });

  describe('Store#stats()', () => {
    it('accounts live and garbage bytes and index memory', async () => {
      const db = await open(tmpdir());
      await db.put('k', 'v'.repeat(100));
      const s1 = db.stats();
      expect(s1.keys).toBe(1);
      expect(s1.liveBytes).toBe(32 + 1 + 100);
      expect(s1.garbageBytes).toBe(0);
      await db.put('k', 'w'.repeat(100));
      const s2 = db.stats();
      expect(s2.liveBytes).toBe(133);
      expect(s2.garbageBytes).toBe(133);
      await db.del('k');
      const s3 = db.stats();
      expect(s3.keys).toBe(0);
      expect(s3.liveBytes).toBe(0);
      expect(s3.garbageBytes).toBe(133 * 2 + 33);
      expect(s3.indexBytes).toBeGreaterThan(0);
      expect(s3.indexBytes / s3.indexCapacity).toBeLessThanOrEqual(16);
      await db.close();
    });
  });
});
