// Compaction: the log shrinks to its live records while reads and writes go on, and no key is
// lost, made up or brought back from the dead, before or after a reopen.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { open as openStore, type Store } from '../../lib/index';
import { policyWants } from '../../lib/compaction';
import path from 'node:path';
import { prng, segmentFiles } from '../helpers/format';
import { ENGINES, withEngine } from '../helpers/engines';
import { tmpdir } from '../helpers/tmpdir';

const SEGMENT = 16 * 1024;
const OPTS = { segmentSize: SEGMENT, compaction: false } as const;

type Model = Map<string, string>;

function expectMatches(db: Store, model: Model, keys: number): void {
  for (let i = 0; i < keys; i++) {
    const k = `k${i}`;
    expect(db.get(k)?.toString(), k).toBe(model.get(k));
  }
  expect(db.size).toBe(model.size);
}

// Puts, deletes and batches over `keys` keys: most records end up garbage.
async function churn(db: Store, model: Model, rand: () => number, n: number, keys: number, tag: string): Promise<void> {
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < n; i++) {
    const k = `k${Math.floor(rand() * keys)}`;
    const r = rand();
    if (r < 0.2) {
      pending.push(db.del(k));
      model.delete(k);
    } else if (r < 0.3) {
      const k2 = `k${Math.floor(rand() * keys)}`;
      const v = `${tag}:${i}:batch`;
      pending.push(db.batch([{ type: 'put', key: k, value: v }, { type: 'del', key: k2 }]));
      model.set(k, v);
      model.delete(k2);
      if (k2 === k) model.delete(k);
    } else {
      const v = `${tag}:${i}:${'x'.repeat(Math.floor(rand() * 200))}`;
      pending.push(db.put(k, v));
      model.set(k, v);
    }
  }
  await Promise.all(pending);
}

describe.each(ENGINES)('%s engine', (engine) => {
  const open = withEngine(openStore, engine);
  describe('compact()', () => {
    it('reclaims the garbage of sealed segments and keeps every live key, across reopens', async () => {
      const dir = tmpdir();
      let db = await open(dir, OPTS);
      const model: Model = new Map();
      const rand = prng(1);
      await churn(db, model, rand, 3000, 200, 'a');
      const before = db.stats();
      expect(before.segments).toBeGreaterThan(10);
      const report = await db.compact();
      expect(report.compacted).toBe(true);
      expect(report.segmentsRemoved).toBeGreaterThan(5);
      const after = db.stats();
      expect(after.garbageBytes).toBeLessThan(before.garbageBytes / 4);
      expect(after.liveBytes).toBe(before.liveBytes);
      expect(after.compactions).toBe(1);
      expectMatches(db, model, 200);
      await db.close();
      db = await open(dir, OPTS);
      expectMatches(db, model, 200);
      // Again, on a log that starts with compacted segments.
      await churn(db, model, rand, 3000, 200, 'b');
      expect((await db.compact()).compacted).toBe(true);
      expectMatches(db, model, 200);
      await db.close();
      db = await open(dir, OPTS);
      expectMatches(db, model, 200);
      await db.close();
    });

    it('never brings back a deleted key whose older value lived in an older segment', async () => {
      const dir = tmpdir();
      let db = await open(dir, OPTS);
      await db.put('victim', 'old value');
      for (let i = 0; i < 400; i++) await db.put(`filler${i % 20}`, 'f'.repeat(100)); // several segments on
      await db.del('victim');
      for (let i = 0; i < 400; i++) await db.put(`filler${i % 20}`, 'g'.repeat(100));
      await db.compact();
      expect(db.has('victim')).toBe(false);
      await db.close();
      db = await open(dir, OPTS);
      expect(db.has('victim')).toBe(false);
      expect(db.get('filler3')?.toString()).toBe('g'.repeat(100));
      await db.close();
    });

    it('lets writes that race the copy win, and serves reads throughout', async () => {
      const dir = tmpdir();
      let db = await open(dir, { ...OPTS });
      const model: Model = new Map();
      const rand = prng(2);
      await churn(db, model, rand, 4000, 300, 'a');
      const running = db.compact();
      // Overwrite and delete keys whose records are being copied, and read every key, while it runs.
      let rounds = 0;
      let done = false;
      void running.finally(() => { done = true; });
      while (!done || rounds < 3) {
        await churn(db, model, rand, 200, 300, `race${rounds}`);
        expectMatches(db, model, 300);
        rounds++;
      }
      expect((await running).compacted).toBe(true);
      expectMatches(db, model, 300);
      await db.close();
      db = await open(dir, OPTS);
      expectMatches(db, model, 300);
      await db.close();
    });

    it('drops expired records and a clear, and keeps TTLs of the live ones', async () => {
      const dir = tmpdir();
      let db = await open(dir, OPTS);
      for (let i = 0; i < 50; i++) await db.put(`gone${i}`, 'x'.repeat(200));
      await db.clear();
      for (let i = 0; i < 50; i++) await db.put(`short${i}`, 'y'.repeat(200), { ttlMs: 1 });
      const far = Date.now() + 3_600_000;
      for (let i = 0; i < 50; i++) await db.put(`long${i}`, 'z'.repeat(200), { expiresAt: far });
      for (let i = 0; i < 200; i++) await db.put(`filler${i % 5}`, 'f'.repeat(200)); // seal the rest
      await new Promise((r) => setTimeout(r, 5));
      const before = db.stats();
      await db.compact();
      const after = db.stats();
      expect(after.liveBytes).toBeLessThan(before.liveBytes); // the expired records went
      expect(db.has('gone1')).toBe(false);
      expect(db.has('short1')).toBe(false);
      expect(db.expiresAt('long7')).toBe(far);
      await db.close();
      db = await open(dir, OPTS);
      expect(db.has('gone1')).toBe(false);
      expect(db.has('short1')).toBe(false);
      expect(db.expiresAt('long7')).toBe(far);
      expect(db.size).toBe(55);
      await db.close();
    });

    it('keeps getAsync reads valid while segments are retired', async () => {
      const db = await open(tmpdir(), OPTS);
      const model: Model = new Map();
      await churn(db, model, prng(3), 3000, 100, 'a');
      const running = db.compact();
      const reads: Promise<void>[] = [];
      for (let round = 0; round < 20; round++) {
        for (let i = 0; i < 100; i++) {
          const k = `k${i}`;
          const want = model.get(k);
          reads.push(db.getAsync(k).then((v) => expect(v?.toString()).toBe(want)));
        }
        await new Promise((r) => setImmediate(r));
      }
      await Promise.all([running, ...reads]);
      await db.close();
    });

    it('turns a concurrent second call into the same job, and waits for a backup', async () => {
      const db = await open(tmpdir(), OPTS);
      const model: Model = new Map();
      await churn(db, model, prng(4), 2000, 100, 'a');
      const backup = db.backup(`${tmpdir()}/copy`);
      const a = db.compact();
      const b = db.compact();
      expect(b).toBe(a);
      await Promise.all([a, backup]);
      expectMatches(db, model, 100);
      await db.close();
    });

    it('appends to a new segment when the log ends with a compacted one', async () => {
      const dir = tmpdir();
      let db = await open(dir, OPTS);
      const model: Model = new Map();
      for (let i = 0; i < 100; i++) {
        await db.put(`k${i}`, `v${i}`.repeat(20));
        model.set(`k${i}`, `v${i}`.repeat(20));
      }
      // Then only keys that are put and deleted again: no segment after the first ones holds a live record.
      for (let i = 0; i < 400; i++) {
        await db.put(`tmp${i}`, 't'.repeat(150));
        await db.del(`tmp${i}`);
      }
      expect((await db.compact()).compacted).toBe(true);
      await db.close();
      const compacted = (f: string): boolean => (fs.readFileSync(f).readUInt32LE(12) & 1) === 1;
      // Remove the ordinary segments that are left (puts and their deletes): the log now ends
      // with a compacted segment.
      for (const f of segmentFiles(dir)) if (!compacted(f)) fs.rmSync(f);
      const outputs = new Map(segmentFiles(dir).map((f) => [path.basename(f), fs.readFileSync(f)]));
      expect(outputs.size).toBeGreaterThan(0);
      db = await open(dir, OPTS);
      expectMatches(db, model, 100);
      await db.put('after', 'a');
      model.set('after', 'a');
      await db.close();
      const files = segmentFiles(dir);
      const last = files[files.length - 1];
      expect(compacted(last)).toBe(false);
      expect(outputs.has(path.basename(last))).toBe(false);
      for (const [name, bytes] of outputs) expect(fs.readFileSync(path.join(dir, name)).equals(bytes), name).toBe(true);
      db = await open(dir, OPTS);
      expect(db.get('after')?.toString()).toBe('a');
      expectMatches(db, model, 100);
      await db.close();
    });

    // Found by the js port: the native engine deleted the sources before the replacing write
    // was durable, so K was lost at the reopen.
    it('keeps a value whose replacement failed while the job ran, across a reopen', async () => {
      const dir = tmpdir();
      let db = await open(dir, OPTS);
      await db.put('K', 'a');
      for (let i = 0; i < 400; i++) await db.put(`filler${i % 10}`, 'f'.repeat(100));
      const running = db.compact();
      // Settles before the job's own flush: K is replaced before it is marked, so its record
      // is not copied, and the replacement then fails before it is written (resumable).
      const replaced = db.flush().then(() => {
        db._injectFault('allocate', 0, 28, false);
        return db.put('K', 'b'.repeat(20_000)); // a new segment, allocated first
      });
      await expect(replaced).rejects.toMatchObject({ code: 'HASHLOG_NO_SPACE' });
      expect((await running).compacted).toBe(true);
      expect(db.get('K')?.toString()).toBe('a');
      await db.close();
      db = await open(dir, OPTS);
      expect(db.get('K')?.toString()).toBe('a');
      await db.close();
    });

    it('is rejected on a read-only store and on a closed one', async () => {
      const dir = tmpdir();
      const db = await open(dir, OPTS);
      await db.put('a', 'b');
      await db.close();
      await expect(db.compact()).rejects.toMatchObject({ code: 'HASHLOG_CLOSED' });
      const ro = await open(dir, { readOnly: true });
      await expect(ro.compact()).rejects.toMatchObject({ code: 'HASHLOG_READONLY' });
      await ro.close();
    });

    it('stops cleanly when the store closes in the middle', async () => {
      const dir = tmpdir();
      let db = await open(dir, { ...OPTS, compaction: { maxBytesPerSecond: 64 * 1024 } }); // a slow copy
      const model: Model = new Map();
      await churn(db, model, prng(5), 6000, 400, 'a');
      const running = db.compact();
      await new Promise((r) => setTimeout(r, 30));
      await db.close();
      await expect(running).rejects.toMatchObject({ code: 'HASHLOG_CLOSED' });
      expect(fs.readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
      db = await open(dir, OPTS);
      expectMatches(db, model, 400);
      expect((await db.compact()).compacted).toBe(true);
      expectMatches(db, model, 400);
      await db.close();
    });

    it('leaves the store intact when a file operation of the job fails', async () => {
      for (const op of ['pwrite', 'fdatasync', 'rename', 'syncdir', 'unlink', 'open', 'mmap'] as const) {
        const dir = tmpdir();
        let db = await open(dir, OPTS);
        const model: Model = new Map();
        await churn(db, model, prng(6), 2000, 100, op);
        await db.flush();
        db._injectFault(op, 0, 5, false);
        // The job's first call of `op` fails: the copy, the renames, the mapping or the unlink.
        await expect(db.compact(), op).rejects.toMatchObject({ code: 'HASHLOG_IO' });
        db._injectFault();
        expect(db.failed).toBeUndefined();
        expect(fs.readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
        // The sources a failed unlink left: native keeps them in the log for the next job; js
        // starts no job until a reopen (either way no later job may drop a tombstone that
        // keeps one of their records deleted).
        if (op === 'unlink' && engine === 'js') {
          await expect(db.compact()).rejects.toMatchObject({ code: 'HASHLOG_IO', message: /reopen/ });
        } else if (op === 'unlink') {
          expect((await db.compact()).compacted).toBe(true);
          expectMatches(db, model, 100);
        }
        expectMatches(db, model, 100);
        await churn(db, model, prng(7), 300, 100, `${op}2`);
        expectMatches(db, model, 100);
        await db.close();
        db = await open(dir, OPTS);
        expectMatches(db, model, 100);
        await db.compact();
        expectMatches(db, model, 100);
        await db.close();
      }
    });

    it('leaves the segments a guard keeps (a replica still streams them), and waits while it is paused', async () => {
      const dir = tmpdir();
      const db = await open(dir, OPTS);
      const model: Model = new Map();
      await churn(db, model, prng(10), 3000, 100, 'a');
      await db.flush();
      const files = fs.readdirSync(dir).filter((n) => n.endsWith('.hlog')).sort();
      const keep = Number.parseInt(files[Math.floor(files.length / 2)], 10);
      db._setCompactionGuard({ keepFrom: () => keep, paused: () => false });
      expect((await db.compact()).compacted).toBe(true);
      const after = fs.readdirSync(dir).filter((n) => n.endsWith('.hlog'));
      for (const f of files) if (Number.parseInt(f, 10) >= keep) expect(after).toContain(f);
      expect(after.some((f) => Number.parseInt(f, 10) < keep && files.includes(f))).toBe(false);
      expectMatches(db, model, 100);
      await db.close();
    });

    it('runs by itself once the policy says so', async () => {
      const db = await open(tmpdir(), {
        segmentSize: SEGMENT,
        compaction: { garbageRatio: 0.5, minReclaimBytes: 32 * 1024, checkIntervalMs: 10, maxBytesPerSecond: 0 },
      });
      const model: Model = new Map();
      await churn(db, model, prng(8), 4000, 50, 'a');
      for (let i = 0; i < 200 && db.stats().compactions === 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(db.stats().compactions).toBeGreaterThan(0);
      expectMatches(db, model, 50);
      await db.close();
    });

    it('runs by itself for keys that only expire (never overwritten or deleted)', async () => {
      const db = await open(tmpdir(), {
        segmentSize: SEGMENT,
        compaction: { garbageRatio: 0.5, minReclaimBytes: 64 * 1024, checkIntervalMs: 10, maxBytesPerSecond: 0 },
      });
      for (let i = 0; i < 2000; i++) await db.put(`session${i}`, 's'.repeat(200), { ttlMs: 50 });
      for (let i = 0; i < 20; i++) await db.put(`kept${i}`, 'k'.repeat(200));
      const before = db.stats();
      expect(before.garbageBytes).toBeLessThan(before.liveBytes / 10); // no overwrite, no delete
      await new Promise((r) => setTimeout(r, 1100)); // the expiry second has passed
      for (let i = 0; i < 300 && db.stats().compactions === 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(db.stats().compactions).toBeGreaterThan(0);
      expect(db.stats().liveBytes).toBeLessThan(before.liveBytes / 4); // the expired records went
      expect(db.size).toBe(20);
      expect(db.get('kept7')?.toString()).toBe('k'.repeat(200));
      await db.close();
    });

    it('seals the active segment when the garbage is all there, then compacts it', async () => {
      const db = await open(tmpdir(), {
        segmentSize: 1024 * 1024, // one segment holds everything this test writes
        compaction: { garbageRatio: 0.5, minReclaimBytes: 64 * 1024, checkIntervalMs: 10, maxBytesPerSecond: 0 },
      });
      const model: Model = new Map();
      const rand = prng(9);
      for (let round = 0; round < 100 && db.stats().compactions === 0; round++) {
        await churn(db, model, rand, 200, 20, `r${round}`);
        await new Promise((r) => setTimeout(r, 15));
      }
      expect(db.stats().compactions).toBeGreaterThan(0);
      expectMatches(db, model, 20);
      await db.close();
    });
  });
});

describe('the compaction policy', () => {
  const policy = { auto: true, garbageRatio: 0.3, minReclaimBytes: 100, maxBytesPerSecond: 0, checkIntervalMs: 1000 };
  it('compacts when garbage in reach passes both thresholds, rolls when it is all in the active segment', () => {
    expect(policyWants([['1', 0, 1000, 900, true], ['2', 0, 100, 100, false]], policy)).toBe('none'); // 9% garbage
    expect(policyWants([['1', 0, 1000, 500, true], ['2', 0, 100, 100, false]], policy)).toBe('compact');
    expect(policyWants([['1', 0, 100, 50, true], ['2', 0, 100, 100, false]], policy)).toBe('none'); // 50 < 100 bytes
    expect(policyWants([['1', 0, 1000, 1000, true], ['2', 0, 1000, 100, false]], policy)).toBe('roll');
    expect(policyWants([], policy)).toBe('none');
    // All live bytes, but half the keys expired: that half is garbage too.
    expect(policyWants([['1', 0, 1000, 1000, true], ['2', 0, 100, 100, false]], policy)).toBe('none');
    expect(policyWants([['1', 0, 1000, 1000, true], ['2', 0, 100, 100, false]], policy, 0.5)).toBe('compact');
  });
});

describe('compaction options', () => {
  it('are validated with stable codes', async () => {
    const dir = tmpdir();
    await expect(openStore(dir, { compaction: { garbageRatio: 1 } })).rejects.toMatchObject({ code: 'HASHLOG_INVALID_ARGUMENT' });
    await expect(openStore(dir, { compaction: { maxBytesPerSecond: -1 } })).rejects.toMatchObject({ code: 'HASHLOG_INVALID_ARGUMENT' });
    await expect(openStore(dir, { compaction: { nope: 1 } as never })).rejects.toMatchObject({ code: 'HASHLOG_INVALID_ARGUMENT' });
    await expect(openStore(dir, { compaction: 'yes' as never })).rejects.toMatchObject({ code: 'HASHLOG_INVALID_ARGUMENT' });
    const db = await openStore(dir, { compaction: false });
    await db.close();
  });
});
