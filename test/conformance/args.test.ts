import { describe, expect, it } from 'vitest';
import { open as openStore } from '../../lib/index';
import { tmpdir } from '../helpers/tmpdir';
import { ENGINES, withEngine } from '../helpers/engines';

describe.each(ENGINES)('%s engine', (engine) => {
  const open = withEngine(openStore, engine);

  describe('open() arguments', () => {
    it('rejects a missing or empty location with HASHLOG_INVALID_ARGUMENT', async () => {
      // @ts-expect-error deliberate misuse
      await expect(open()).rejects.toMatchObject({ name: 'TypeError', code: 'HASHLOG_INVALID_ARGUMENT' });
      await expect(open('')).rejects.toMatchObject({ code: 'HASHLOG_INVALID_ARGUMENT' });
    });

    it('rejects unknown options and out-of-range values', async () => {
      const dir = tmpdir();
      // @ts-expect-error deliberate misuse
      await expect(open(dir, { durabilty: 'sync' })).rejects.toMatchObject({ code: 'HASHLOG_INVALID_ARGUMENT' });
      // @ts-expect-error deliberate misuse
      await expect(open(dir, { durability: 'fast' })).rejects.toMatchObject({ code: 'HASHLOG_INVALID_ARGUMENT' });
      await expect(open(dir, { segmentSize: 100 })).rejects.toMatchObject({ name: 'RangeError' });
      await expect(open(dir, { flushIntervalMs: 1.5 })).rejects.toMatchObject({ name: 'TypeError' });
      await expect(open(dir, { maxValueSize: 2 ** 31 })).rejects.toMatchObject({ name: 'RangeError' });
      // @ts-expect-error deliberate misuse
      await expect(open(dir, { repair: 'yes' })).rejects.toMatchObject({ code: 'HASHLOG_INVALID_ARGUMENT' });
    });

    it('fails with HASHLOG_IO when the location cannot be a directory', async () => {
      await expect(open('/proc/version/x')).rejects.toMatchObject({ name: 'HashlogError', code: 'HASHLOG_IO' });
    });
  });

  describe('key and value validation', () => {
    it('rejects keys of the wrong type, empty keys and keys over 64 KiB, changing nothing', async () => {
      const db = await open(tmpdir());
      for (const bad of [undefined, null, 42, {}, [], true]) {
        // @ts-expect-error deliberate misuse
        expect(() => db.get(bad)).toThrow(expect.objectContaining({ name: 'TypeError', code: 'HASHLOG_INVALID_ARGUMENT' }));
        // @ts-expect-error deliberate misuse
        await expect(db.put(bad, 'v')).rejects.toMatchObject({ code: 'HASHLOG_INVALID_ARGUMENT' });
        // @ts-expect-error deliberate misuse
        await expect(db.del(bad)).rejects.toMatchObject({ code: 'HASHLOG_INVALID_ARGUMENT' });
      }
      await expect(db.put('', 'v')).rejects.toMatchObject({ name: 'RangeError', code: 'HASHLOG_INVALID_ARGUMENT' });
      expect(() => db.has(new Uint8Array(0))).toThrow(RangeError);
      const tooBig = Buffer.alloc(64 * 1024 + 1);
      await expect(db.put(tooBig, 'v')).rejects.toMatchObject({ code: 'HASHLOG_KEY_TOO_LARGE' });
      expect(() => db.get('é'.repeat(40_000))).toThrow(expect.objectContaining({ code: 'HASHLOG_KEY_TOO_LARGE' }));
      expect(db.size).toBe(0);
      await db.close();
    });

    it('rejects values of the wrong type and over maxValueSize with HASHLOG_VALUE_TOO_LARGE', async () => {
      const db = await open(tmpdir(), { maxValueSize: 1000 });
      // @ts-expect-error deliberate misuse
      await expect(db.put('k', 12)).rejects.toMatchObject({ name: 'TypeError', code: 'HASHLOG_INVALID_ARGUMENT' });
      // @ts-expect-error deliberate misuse
      await expect(db.put('k', undefined)).rejects.toMatchObject({ code: 'HASHLOG_INVALID_ARGUMENT' });
      await expect(db.put('k', Buffer.alloc(1001))).rejects.toMatchObject({ code: 'HASHLOG_VALUE_TOO_LARGE' });
      await expect(db.put('k', 'x'.repeat(30_000))).rejects.toMatchObject({ code: 'HASHLOG_VALUE_TOO_LARGE' });
      await db.put('k', Buffer.alloc(1000));
      expect(db.get('k')?.length).toBe(1000);
      await db.close();
    });
  });
});
