import { describe, expect, it } from 'vitest';
import { open as openStore } from '../../lib/index';
import { tmpdir } from '../helpers/tmpdir';
import { ENGINES, withEngine } from '../helpers/engines';

describe.each(ENGINES)('%s engine', (engine) => {
  const open = withEngine(openStore, engine);

  describe('Store#getMany()', () => {
    it('agrees with get() for hits, misses, empty and large values, in order', async () => {
      const db = await open(tmpdir(), { durability: 'none' });
      const keys: string[] = [];
      for (let i = 0; i < 3000; i++) {
        keys.push(`k${i}`);
        if (i % 3 !== 0) await db.put(`k${i}`, i % 10 === 1 ? '' : `value-${i}`);
      }
      await db.put('big', Buffer.alloc(200_000, 7)); // larger than the shared value buffer
      keys.splice(1500, 0, 'big', 'big');
      const many = db.getMany(keys);
      expect(many.length).toBe(keys.length);
      keys.forEach((k, i) => expect(many[i]).toEqual(db.get(k)));
      expect(db.getMany([])).toEqual([]);
      await db.close();
    });

    it('sees writes not yet durable and accepts string and binary keys', async () => {
      const db = await open(tmpdir());
      const p = db.put('fresh', 'v');
      expect(db.getMany(['fresh', Buffer.from('fresh'), 'missing']).map((v) => v?.toString())).toEqual(['v', 'v', undefined]);
      await p;
      await db.close();
    });

    it('rejects a non-array and bad keys', async () => {
      const db = await open(tmpdir());
      // @ts-expect-error deliberate misuse
      expect(() => db.getMany('k')).toThrow(expect.objectContaining({ code: 'HASHLOG_INVALID_ARGUMENT' }));
      // @ts-expect-error deliberate misuse
      expect(() => db.getMany(['a', 3])).toThrow(expect.objectContaining({ code: 'HASHLOG_INVALID_ARGUMENT' }));
      expect(() => db.getMany([''])).toThrow(expect.objectContaining({ code: 'HASHLOG_INVALID_ARGUMENT' }));
      await db.close();
    });
  });

  describe('Store#getAsync()', () => {
    it('reads flushed, pending, missing and large values', async () => {
      const db = await open(tmpdir());
      await db.put('a', 'durable');
      await db.put('big', Buffer.alloc(1 << 20, 3));
      const pending = db.put('p', 'pending');
      expect((await db.getAsync('p'))?.toString()).toBe('pending');
      await pending;
      expect((await db.getAsync('a'))?.toString()).toBe('durable');
      expect((await db.getAsync('big'))?.equals(Buffer.alloc(1 << 20, 3))).toBe(true);
      expect(await db.getAsync('missing')).toBeUndefined();
      const all = await Promise.all(Array.from({ length: 200 }, () => db.getAsync('a')));
      expect(all.every((v) => v?.toString() === 'durable')).toBe(true);
      await db.close();
    });

    it('lets close() wait for reads in flight', async () => {
      const db = await open(tmpdir());
      for (let i = 0; i < 100; i++) await db.put(`k${i}`, `v${i}`);
      const reads = Array.from({ length: 100 }, (_, i) => db.getAsync(`k${i}`));
      await db.close();
      const values = await Promise.all(reads);
      values.forEach((v, i) => expect(v?.toString()).toBe(`v${i}`));
      await expect(db.getAsync('k1')).rejects.toMatchObject({ code: 'HASHLOG_CLOSED' });
    });
  });

  describe('Store#clear()', () => {
    it('removes every key durably; writes issued meanwhile apply after it', async () => {
      const dir = tmpdir();
      let db = await open(dir, { segmentSize: 8192 });
      for (let i = 0; i < 500; i++) db.put(`k${i}`, `v${i}`, i % 2 ? { ttlMs: 100_000 } : undefined);
      const cleared = db.clear();
      const after = db.put('after', 'yes');
      await Promise.all([cleared, after]);
      expect(db.size).toBe(1);
      expect(db.get('k1')).toBeUndefined();
      expect(db.get('after')?.toString()).toBe('yes');
      expect(db.stats().liveBytes).toBe(32 + 5 + 3);
      await db.close();
      db = await open(dir, { segmentSize: 8192 });
      expect(db.size).toBe(1);
      expect(db.get('k1')).toBeUndefined();
      expect(db.get('after')?.toString()).toBe('yes');
      await db.close();
    });

    it('leaves the store as it was when the clear cannot be written', async () => {
      const os = await import('node:os');
      const db = await open(tmpdir());
      await db.put('k', 'v');
      db._injectFault('fdatasync', 0, os.constants.errno.EIO, false);
      await expect(db.clear()).rejects.toMatchObject({ code: 'HASHLOG_FAILED' });
      expect(db.get('k')?.toString()).toBe('v');
      await db.close();
    });
  });

  describe('limits', () => {
    it('rejects a put of a new key past maxKeys with HASHLOG_FULL; overwrites and deletes still work', async () => {
      const db = await open(tmpdir(), { maxKeys: 3 });
      await db.put('a', '1');
      await db.put('b', '1');
      await db.put('c', '1');
      await expect(db.put('d', '1')).rejects.toMatchObject({ name: 'HashlogError', code: 'HASHLOG_FULL' });
      await expect(db.batch([{ type: 'put', key: 'e', value: '1' }])).rejects.toMatchObject({ code: 'HASHLOG_FULL' });
      expect(db.has('d')).toBe(false);
      await db.put('a', '2');
      expect(await db.del('b')).toBe(true);
      await db.put('d', '1');
      expect(db.size).toBe(3);
      await db.close();
    });

    it('rejects writes past maxDiskBytes with HASHLOG_FULL, and deletes still work', async () => {
      const dir = tmpdir();
      const db = await open(dir, { maxDiskBytes: 1000 });
      await db.put('a', 'x'.repeat(400));
      await db.put('b', 'x'.repeat(400));
      await expect(db.put('c', 'x'.repeat(400))).rejects.toMatchObject({ code: 'HASHLOG_FULL' });
      expect(db.has('c')).toBe(false);
      expect(await db.del('a')).toBe(true);
      await db.close();
      const again = await open(dir, { maxDiskBytes: 1000 });
      expect(again.has('a')).toBe(false);
      expect(again.get('b')?.length).toBe(400);
      await again.close();
    });

    it('validates the limits', async () => {
      await expect(open(tmpdir(), { maxKeys: 0 })).rejects.toMatchObject({ code: 'HASHLOG_INVALID_ARGUMENT' });
      await expect(open(tmpdir(), { maxDiskBytes: -1 })).rejects.toMatchObject({ code: 'HASHLOG_INVALID_ARGUMENT' });
    });
  });
});
