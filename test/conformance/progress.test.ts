// open()'s onProgress: reports the recovery's scanned and total bytes, and a final call at the end.
import { describe, expect, it } from 'vitest';
import { open as openStore } from '../../lib/index';
import { ENGINES, withEngine } from '../helpers/engines';
import { tmpdir } from '../helpers/tmpdir';

describe.each(ENGINES)('%s engine', (engine) => {
  const open = withEngine(openStore, engine);

  describe('open({ onProgress })', () => {
    it('is called when recovery is done with the bytes scanned, never past the total', async () => {
      const dir = tmpdir();
      const db = await open(dir);
      await Promise.all(Array.from({ length: 2000 }, (_, i) => db.put(`k${i}`, 'v'.repeat(100))));
      await db.close();
      const calls: [number, number][] = [];
      const again = await open(dir, { onProgress: (done, total) => calls.push([done, total]) });
      const scanned = again.recovery.bytesScanned;
      expect(scanned).toBeGreaterThan(2000 * 100);
      expect(calls[calls.length - 1]).toEqual([scanned, scanned]);
      for (const [done, total] of calls) expect(done).toBeLessThanOrEqual(total);
      await again.close();
    });

    it('a callback that throws does not break open()', async () => {
      const db = await open(tmpdir(), { onProgress: () => { throw new Error('display broke'); } });
      await db.put('k', 'v');
      expect(db.get('k')?.toString()).toBe('v');
      await db.close();
    });

    it('must be a function', async () => {
      await expect(open(tmpdir(), { onProgress: 5 as unknown as () => void })).rejects.toMatchObject({
        code: 'HASHLOG_INVALID_ARGUMENT',
      });
    });
  });
});
