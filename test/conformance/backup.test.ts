// Online backup: taken under a concurrent write load, the copy opens as a store with every
// write acknowledged before the backup began, correct values, and whole batches only.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { open as openStore } from '../../lib/index';
import { ENGINES, withEngine } from '../helpers/engines';
import { tmpdir } from '../helpers/tmpdir';

describe.each(ENGINES)('%s engine', (engine) => {
  const open = withEngine(openStore, engine);

  describe('store.backup(target)', () => {
    it('copies a consistent store while writes go on', async () => {
      const db = await open(tmpdir(), { segmentSize: 64 * 1024 }); // several segments, some sealed
      const acked: string[] = [];
      const batches = new Map<string, string[]>();
      let stop = false;
      const writers = Array.from({ length: 4 }, async (_, w) => {
        for (let n = 0; !stop; n++) {
          if (n % 5 === 4) {
            const keys = Array.from({ length: 5 }, (_, j) => `b${w}:${n}:${j}`);
            await db.batch(keys.map((key) => ({ type: 'put' as const, key, value: `value-of-${key}` })));
            batches.set(`b${w}:${n}`, keys);
            acked.push(...keys);
          } else {
            const key = `w${w}:${n}`;
            await db.put(key, `value-of-${key}`.repeat(4));
            acked.push(key);
          }
        }
      });
      while (acked.length < 3000) await new Promise((r) => setTimeout(r, 5));
      const before = [...acked];
      const target = path.join(tmpdir(), 'copy');
      const report = await db.backup(target);
      stop = true;
      await Promise.all(writers);
      expect(report.segments).toBeGreaterThan(1);
      await db.close();

      const copy = await open(target);
      for (const key of before) {
        const want = key.startsWith('b') ? `value-of-${key}` : `value-of-${key}`.repeat(4);
        expect(copy.get(key)?.toString(), key).toBe(want);
      }
      for (const [k, v] of copy) {
        const key = k.toString();
        expect(v.toString()).toBe(key.startsWith('b') ? `value-of-${key}` : `value-of-${key}`.repeat(4));
      }
      for (const keys of batches.values()) {
        const present = keys.filter((k) => copy.has(k)).length;
        expect(present === 0 || present === keys.length).toBe(true);
      }
      await copy.close();
    });

    it('refuses a target that is not empty, and works on a read-only store', async () => {
      const dir = tmpdir();
      const db = await open(dir);
      await db.put('k', 'v');
      const busy = tmpdir();
      fs.writeFileSync(path.join(busy, 'x'), 'x');
      await expect(db.backup(busy)).rejects.toMatchObject({ code: 'HASHLOG_INVALID_ARGUMENT' });
      await expect(db.backup('')).rejects.toMatchObject({ code: 'HASHLOG_INVALID_ARGUMENT' });
      await db.close();
      await expect(db.backup(tmpdir())).rejects.toMatchObject({ code: 'HASHLOG_CLOSED' });
      const ro = await open(dir, { readOnly: true });
      const target = path.join(tmpdir(), 'ro-copy');
      await ro.backup(target);
      await ro.close();
      const copy = await open(target);
      expect(copy.get('k')?.toString()).toBe('v');
      await copy.close();
    });
  });
});
