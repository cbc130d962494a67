import { describe, expect, it } from 'vitest';
import { open as openStore } from '../../lib/index';
import { tmpdir } from '../helpers/tmpdir';
import { ENGINES, withEngine } from '../helpers/engines';

describe.each(ENGINES)('%s engine', (engine) => {
  const open = withEngine(openStore, engine);

  describe('Store#batch()', () => {
    it('applies puts and deletes together, later operations on a key winning', async () => {
      const dir = tmpdir();
      let db = await open(dir);
      await db.put('gone', 'x');
      await db.batch([
        { type: 'put', key: 'a', value: '1' },
        { type: 'put', key: Buffer.from('b'), value: Buffer.from([0, 2]) },
        { type: 'del', key: 'gone' },
        { type: 'put', key: 'a', value: '2' },
        { type: 'put', key: 'c', value: 'tmp' },
        { type: 'del', key: 'c' },
        { type: 'del', key: 'never-existed' },
        { type: 'put', key: 't', value: 'ttl', ttlMs: 1000 },
      ]);
      const check = (): void => {
        expect(db.get('a')?.toString()).toBe('2');
        expect(db.get('b')).toEqual(Buffer.from([0, 2]));
        expect(db.has('gone')).toBe(false);
        expect(db.has('c')).toBe(false);
        expect(db.size).toBe(3);
      };
      check();
      expect(db.expiresAt('t')).toBeGreaterThan(Date.now());
      await db.close();
      db = await open(dir);
      check();
      await db.close();
    });

    it('resolves an empty batch at once', async () => {
      const db = await open(tmpdir());
      await db.batch([]);
      expect(db.size).toBe(0);
      await db.close();
    });

    it('shares a commit group with concurrent writes', async () => {
      const db = await open(tmpdir());
      const before = db.stats().fsyncs;
      const ops = [db.put('x', '1'), db.batch([{ type: 'put', key: 'y', value: '2' }]), db.put('z', '3')];
      await Promise.all(ops);
      expect(db.stats().fsyncs - before).toBe(1);
      await db.close();
    });

    it('rejects the whole batch on a bad operation, changing nothing', async () => {
      const db = await open(tmpdir(), { maxValueSize: 10 });
      await db.put('a', 'old');
      const bad: unknown[][] = [
        [{ type: 'put', key: 'a', value: 'new' }, { type: 'nope', key: 'b' }],
        [{ type: 'put', key: 'a', value: 'new' }, { type: 'put', key: '', value: 'v' }],
        [{ type: 'put', key: 'a', value: 'new' }, { type: 'put', key: 'b', value: 'x'.repeat(11) }],
        [{ type: 'put', key: 'a', value: 'new' }, { type: 'put', key: 'b', value: 5 }],
        [{ type: 'put', key: 'a', value: 'new' }, null],
      ];
      for (const ops of bad) {
        // @ts-expect-error deliberate misuse
        await expect(db.batch(ops)).rejects.toHaveProperty('code');
      }
      // @ts-expect-error deliberate misuse
      await expect(db.batch('nope')).rejects.toMatchObject({ code: 'HASHLOG_INVALID_ARGUMENT' });
      expect(db.get('a')?.toString()).toBe('old');
      expect(db.size).toBe(1);
      await db.close();
    });

    it('spans segments: a batch larger than a segment gets one of its own', async () => {
      const dir = tmpdir();
      let db = await open(dir, { segmentSize: 4096 });
      const ops = Array.from({ length: 50 }, (_, i) => ({ type: 'put' as const, key: `k${i}`, value: 'v'.repeat(200) }));
      await db.batch(ops);
      await db.close();
      db = await open(dir, { segmentSize: 4096 });
      expect(db.size).toBe(50);
      expect(db.get('k49')?.toString()).toBe('v'.repeat(200));
      await db.close();
    });
  });
});
