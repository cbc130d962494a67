import { describe, expect, it } from 'vitest';
import { open } from '../../lib/index';
import { prng } from '../helpers/format';
import { tmpdir } from '../helpers/tmpdir';

// Drives the bucketed index through growth, long overflow runs and backward-shift erases,
// checking every key against a Map. A PRNG with a fixed seed keeps it reproducible.
describe('the hash index', () => {
  it('finds every live key and no deleted one through growth and heavy churn', async () => {
    const dir = tmpdir();
    const db = await open(dir, { durability: 'none' });
    const model = new Map<string, string>();
    const rand = prng(42);
    const space = 60_000;
    let pending: Promise<unknown>[] = [];
    for (let op = 0; op < 200_000; op++) {
      const k = `k${Math.floor(rand() * space)}`;
      if (rand() < 0.35) {
        pending.push(db.del(k));
        model.delete(k);
      } else {
        const v = `v${op}`;
        pending.push(db.put(k, v));
        model.set(k, v);
      }
      if (pending.length >= 1000) {
        await Promise.all(pending);
        pending = [];
      }
      if (op % 20_000 === 0) expect(db.size).toBe(model.size);
    }
    await Promise.all(pending);
    expect(db.size).toBe(model.size);
    for (let i = 0; i < space; i++) {
      const k = `k${i}`;
      expect(db.get(k)?.toString()).toBe(model.get(k));
    }
    const s = db.stats();
    expect(s.keys).toBe(model.size);
    expect(s.keys).toBeLessThanOrEqual(s.indexCapacity * 7 / 8);
    await db.close();
    const again = await open(dir);
    expect(again.size).toBe(model.size);
    for (const [k, v] of model) expect(again.get(k)?.toString()).toBe(v);
    await again.close();
  });
});
