// Checkpoints (docs/FORMAT.md, "Checkpoint"): open loads CHECKPOINT and replays only the log
// after it; a missing, stale or corrupt one falls back to a full scan, never to wrong data;
// a checkpoint taken while writes go on, or one whose write fails, loses nothing.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { open as openStore, type OpenOptions, type Store } from '../../lib/index';
import { runUntilKilled } from '../helpers/child';
import { ENGINES, withEngine } from '../helpers/engines';
import { crc32c, encodeSegmentHeader, maskCrc, prng, segmentFiles, segmentName } from '../helpers/format';
import { tmpdir } from '../helpers/tmpdir';

type Model = Map<string, { value: string; expiresAt: number | null }>;

const CHILD = path.join(__dirname, '..', 'helpers', 'writer-child.mjs');

// Everything a reader can see: every live key with its value and expiry.
function contents(db: Store): Model {
  const m: Model = new Map();
  for (const [k, v] of db.entries()) m.set(k.toString(), { value: v.toString(), expiresAt: db.expiresAt(k) ?? null });
  return m;
}

// A copy of an open store's files (not its LOCK), as a crash at this moment would leave them.
// A background checkpoint may rename CHECKPOINT.tmp between the listing and the copy: copy
// again from a fresh listing then (the rename is atomic, so some pass sees a stable directory).
function copyStore(dir: string): string {
  const to = tmpdir('hashlog-ckpt-copy-');
  for (;;) {
    try {
      for (const name of fs.readdirSync(dir)) if (name !== 'LOCK') fs.copyFileSync(path.join(dir, name), path.join(to, name));
      return to;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      for (const name of fs.readdirSync(to)) fs.rmSync(path.join(to, name));
    }
  }
}

// Rewrites the checkpoint's CRC after a test changed its bytes on purpose.
function resealCheckpoint(file: string): void {
  const b = fs.readFileSync(file);
  b.writeUInt32LE(maskCrc(crc32c(b.subarray(0, b.length - 4))), b.length - 4);
  fs.writeFileSync(file, b);
}

describe.each(ENGINES)('%s engine', (engine) => {
  const open = withEngine(openStore, engine);

  // Writes puts (some with TTLs), deletes, a batch and a clear; returns the model.
  async function populate(db: Store, rand: () => number, n: number): Promise<void> {
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < n; i++) {
      const k = `key-${Math.floor(rand() * n)}`;
      const r = rand();
      if (r < 0.15) writes.push(db.del(k));
      else if (r < 0.3) writes.push(db.put(k, `ttl-${i}`, { ttlMs: 3_600_000 + i }));
      else writes.push(db.put(k, `v-${i}-${'x'.repeat(i % 300)}`));
    }
    writes.push(db.batch([
      { type: 'put', key: 'batch-a', value: 'A' },
      { type: 'del', key: 'key-1' },
      { type: 'put', key: 'batch-b', value: 'B', ttlMs: 7_200_000 },
    ]));
    await Promise.all(writes);
  }

  describe('Store#close() and open()', () => {
    it('writes a checkpoint on close that the next open uses, with the same contents', async () => {
      const dir = tmpdir('hashlog-ckpt-');
      let db = await open(dir, { segmentSize: 64 * 1024 });
      const rand = prng(11);
      await populate(db, rand, 2000);
      await db.clear();
      await populate(db, rand, 3000);
      // Expired seconds ago: in the log and the index, never in size (which goes by the second).
      await db.put('expired', 'x', { expiresAt: Date.now() - 5000 });
      const before = contents(db);
      const size = db.size;
      expect(size).toBe(before.size);
      await db.close();
      expect(fs.existsSync(path.join(dir, 'CHECKPOINT'))).toBe(true);
      expect(fs.existsSync(path.join(dir, 'CHECKPOINT.tmp'))).toBe(false);
      const noCheckpoint = copyStore(dir);
      fs.rmSync(path.join(noCheckpoint, 'CHECKPOINT'));

      db = await open(dir);
      expect(db.recovery.checkpoint).toBe('used');
      expect(db.recovery.replayedBytes).toBe(0);
      expect(db.recovery.records).toBe(0);
      expect(db.recovery.checkpointEntries).toBeGreaterThan(0);
      expect(contents(db)).toEqual(before);
      expect(db.size).toBe(size);
      expect(db.stats().bytesSinceCheckpoint).toBe(0);
      // The expiry counts came through: an hour and a half on, the keys with a TTL of about an
      // hour are gone from size, as a full scan of the same log counts them. (On copies: the
      // counter folds expired seconds for good, so the clock is never moved back here.)
      const sizeLater = async (d: string): Promise<[number, string]> => {
        const ro = await open(d, { readOnly: true });
        ro._setClockOffset(5_400_000);
        const out: [number, string] = [ro.size, ro.recovery.checkpoint];
        await ro.close();
        return out;
      };
      const [viaCheckpoint, used] = await sizeLater(copyStore(dir));
      expect(used).toBe('used');
      expect(viaCheckpoint).toBeLessThan(size);
      expect(viaCheckpoint).toEqual((await sizeLater(noCheckpoint))[0]);
      // The store keeps working on the checkpoint's hash key: overwrite and delete old keys.
      const [k1, k2] = [...before.keys()];
      await db.put(k1, 'new');
      expect(await db.del(k2)).toBe(true);
      await db.close();

      db = await open(dir);
      expect(db.recovery.checkpoint).toBe('used');
      expect(db.get(k1)?.toString()).toBe('new');
      expect(db.get(k2)).toBeUndefined();
      expect(db.size).toBe(size - 1);
      await db.close();
    });

    it('replays only the log written after an on-demand checkpoint', async () => {
      const dir = tmpdir('hashlog-ckpt-');
      const db = await open(dir);
      await populate(db, prng(12), 1000);
      await db.checkpoint();
      expect(db.stats().bytesSinceCheckpoint).toBe(0);
      expect(db.stats().lastCheckpointAt).toBeGreaterThan(0);
      await db.put('after', 'checkpoint');
      await db.del('batch-a');
      const expected = contents(db);
      const copy = copyStore(dir); // a crash now: the checkpoint plus a tail
      await db.close();
      const again = await open(copy);
      expect(again.recovery.checkpoint).toBe('used');
      expect(again.recovery.replayedBytes).toBeGreaterThan(0);
      expect(again.recovery.records).toBe(2);
      expect(contents(again)).toEqual(expected);
      await again.close();
    });

    it('scans the whole log with useCheckpoint: false', async () => {
      const dir = tmpdir('hashlog-ckpt-');
      const db = await open(dir);
      await populate(db, prng(18), 300);
      const expected = contents(db);
      await db.close();
      const full = await open(dir, { useCheckpoint: false });
      expect(full.recovery.checkpoint).toMatch(/useCheckpoint/);
      expect(full.recovery.records).toBeGreaterThan(200); // every put and delete, not just a tail
      expect(contents(full)).toEqual(expected);
      await full.close();
      await expect(open(dir, { useCheckpoint: 1 as unknown as boolean })).rejects.toMatchObject({ code: 'HASHLOG_INVALID_ARGUMENT' });
    });

    it('writes no checkpoint from a read-only store, and checkpoint() rejects with HASHLOG_READONLY', async () => {
      const dir = tmpdir('hashlog-ckpt-');
      const db = await open(dir);
      await db.put('a', '1');
      await db.close();
      fs.rmSync(path.join(dir, 'CHECKPOINT'));
      const ro = await open(dir, { readOnly: true });
      await expect(ro.checkpoint()).rejects.toMatchObject({ code: 'HASHLOG_READONLY' });
      await ro.close();
      expect(fs.existsSync(path.join(dir, 'CHECKPOINT'))).toBe(false);
    });

    it('validates checkpointBytes', async () => {
      const dir = tmpdir('hashlog-ckpt-');
      await expect(open(dir, { checkpointBytes: -1 })).rejects.toMatchObject({ code: 'HASHLOG_INVALID_ARGUMENT' });
      await expect(open(dir, { checkpointBytes: 1.5 })).rejects.toBeInstanceOf(TypeError);
      await expect(open(dir, { checkpointBytes: '1' as unknown as number })).rejects.toMatchObject({
        code: 'HASHLOG_INVALID_ARGUMENT',
      });
    });

    it('rejects checkpoint() after close() with HASHLOG_CLOSED', async () => {
      const db = await open(tmpdir('hashlog-ckpt-'));
      await db.close();
      await expect(db.checkpoint()).rejects.toMatchObject({ code: 'HASHLOG_CLOSED' });
    });
  });

  describe('a stale or damaged checkpoint', () => {
    // A closed store of a few segments with a checkpoint, and what it holds.
    async function build(): Promise<{ dir: string; model: Model }> {
      const dir = tmpdir('hashlog-ckpt-');
      const db = await open(dir, { segmentSize: 16 * 1024 });
      await populate(db, prng(13), 1500);
      const model = contents(db);
      await db.close();
      expect(segmentFiles(dir).length).toBeGreaterThan(2);
      return { dir, model };
    }

    // What a full scan of the files as they are now says (the checkpoint set aside).
    async function fullScan(dir: string): Promise<Model> {
      const copy = copyStore(dir);
      fs.rmSync(path.join(copy, 'CHECKPOINT'), { force: true });
      const db = await open(copy, { readOnly: true });
      const m = contents(db);
      await db.close();
      return m;
    }

    async function expectFallback(dir: string, model: Model, why: RegExp): Promise<void> {
      const db = await open(dir);
      expect(db.recovery.checkpoint).toMatch(why);
      expect(db.recovery.checkpointEntries).toBe(0);
      expect(contents(db)).toEqual(model);
      await db.close();
      // The close replaced it with a good one.
      const again = await open(dir);
      expect(again.recovery.checkpoint).toBe('used');
      expect(contents(again)).toEqual(model);
      await again.close();
    }

    it('scans the whole log when a byte of CHECKPOINT is flipped', async () => {
      const { dir, model } = await build();
      const file = path.join(dir, 'CHECKPOINT');
      const b = fs.readFileSync(file);
      b[Math.floor(b.length / 2)] ^= 0x40;
      fs.writeFileSync(file, b);
      await expectFallback(dir, model, /bad CRC/);
    });

    it('scans the whole log when CHECKPOINT is truncated', async () => {
      const { dir, model } = await build();
      const file = path.join(dir, 'CHECKPOINT');
      fs.truncateSync(file, fs.statSync(file).size - 7);
      await expectFallback(dir, model, /bad CRC|size|truncated/);
      fs.truncateSync(file, 10);
      await expectFallback(dir, model, /truncated/);
    });

    it('scans the whole log when the checkpoint names another hash function', async () => {
      const { dir, model } = await build();
      const file = path.join(dir, 'CHECKPOINT');
      const b = fs.readFileSync(file);
      b.writeUInt32LE(b.readUInt32LE(12) === 1 ? 2 : 1, 12);
      fs.writeFileSync(file, b);
      resealCheckpoint(file);
      await expectFallback(dir, model, /hash function/);
    });

    it('scans the whole log when a listed segment is missing', async () => {
      const { dir } = await build();
      fs.rmSync(segmentFiles(dir)[1]);
      const truth = await fullScan(dir);
      await expectFallback(dir, truth, /missing/);
    });

    it('scans the whole log when an unknown older segment appears', async () => {
      const { dir, model } = await build();
      fs.writeFileSync(path.join(dir, segmentName(0)), encodeSegmentHeader({ fileNumber: 0 }));
      await expectFallback(dir, model, /missing or an older segment/);
    });

    it('scans the whole log when a listed segment was cut or changed before its covered end', async () => {
      const { dir } = await build();
      const files = segmentFiles(dir);
      const last = files[files.length - 1];
      const newest = fs.readFileSync(last);
      // Cut the newest segment in its last record (and its zero-fill).
      let end = newest.length;
      while (end > 32 && newest[end - 1] === 0) end--;
      fs.truncateSync(last, end - 5);
      const truth = await fullScan(dir);
      await expectFallback(dir, truth, /shorter/);
      // Change the last byte a sealed segment covers: the full scan finds the damage.
      const { dir: dir2 } = await build();
      const sealed = segmentFiles(dir2)[0];
      const b = fs.readFileSync(sealed);
      b[b.length - 1] ^= 0x01;
      fs.writeFileSync(sealed, b);
      await expect(open(dir2)).rejects.toMatchObject({ code: 'HASHLOG_CORRUPTION' });
      const db = await open(dir2, { repair: true });
      expect(db.recovery.checkpoint).toMatch(/repairing/);
      expect(db.recovery.dropped).toHaveLength(1);
      await db.close();
    });

    it('removes a stale CHECKPOINT.tmp at open and keeps using CHECKPOINT', async () => {
      const { dir, model } = await build();
      fs.writeFileSync(path.join(dir, 'CHECKPOINT.tmp'), 'half a checkpoint');
      const db = await open(dir);
      expect(fs.existsSync(path.join(dir, 'CHECKPOINT.tmp'))).toBe(false);
      expect(db.recovery.checkpoint).toBe('used');
      expect(contents(db)).toEqual(model);
      await db.close();
    });
  });

  describe('Store#checkpoint() while writes go on', () => {
    it('takes a consistent checkpoint on demand between writes in flight', async () => {
      const dir = tmpdir('hashlog-ckpt-');
      const db = await open(dir, { durability: 'sync' });
      const rand = prng(14);
      const writes: Promise<unknown>[] = [];
      const checkpoints: Promise<void>[] = [];
      for (let round = 0; round < 5; round++) {
        for (let i = 0; i < 400; i++) writes.push(db.put(`k${Math.floor(rand() * 500)}`, `r${round}-${i}`));
        writes.push(db.del(`k${round}`));
        checkpoints.push(db.checkpoint()); // snapshot with these writes still in their commit groups
      }
      await Promise.all([...writes, ...checkpoints]);
      const expected = contents(db);
      const copy = copyStore(dir);
      await db.close();
      const again = await open(copy);
      expect(again.recovery.checkpoint).toBe('used');
      expect(contents(again)).toEqual(expected);
      await again.close();
    });

    it('writes background checkpoints as the log grows by checkpointBytes', async () => {
      const dir = tmpdir('hashlog-ckpt-');
      const db = await open(dir, { durability: 'sync', checkpointBytes: 32 * 1024 });
      expect(db.stats().lastCheckpointAt).toBe(0);
      const rand = prng(15);
      for (let round = 0; round < 20; round++) {
        const writes: Promise<unknown>[] = [];
        for (let i = 0; i < 200; i++) writes.push(db.put(`k${Math.floor(rand() * 1000)}`, `v${round}-${i}-${'p'.repeat(40)}`));
        await Promise.all(writes);
      }
      // Each round appends more than checkpointBytes: a background checkpoint was started.
      await vi.waitFor(() => expect(db.stats().lastCheckpointAt).toBeGreaterThan(0), { timeout: 30_000 });
      const expected = contents(db);
      const copy = copyStore(dir);
      const logBytes = db.stats().liveBytes + db.stats().garbageBytes;
      await db.close();
      const again = await open(copy);
      expect(again.recovery.checkpoint).toBe('used');
      expect(again.recovery.replayedBytes).toBeLessThan(logBytes);
      expect(contents(again)).toEqual(expected);
      await again.close();
    });

    it('keeps every acknowledged write after a SIGKILL with background checkpoints running', async () => {
      const keys = 64;
      const options: OpenOptions = { engine, durability: 'sync', segmentSize: 64 * 1024, checkpointBytes: 8 * 1024 };
      // A kill can land just after a checkpoint that covers everything (the child's event loop
      // busy writing it): every run is checked, and runs go on until one also had a tail to replay.
      let replayed = 0;
      for (let run = 0; run < 4 && replayed === 0; run++) {
        const dir = tmpdir('hashlog-ckpt-kill-');
        const lines = await runUntilKilled(CHILD, [dir, JSON.stringify(options), String(77 + run), '16', String(keys)], 700);
        interface Attempt { i: number; op: 'put' | 'del'; k: string; v?: string; pad?: number }
        const attempts: Attempt[] = [];
        const acked = new Set<number>();
        for (const line of lines) {
          const ev = JSON.parse(line) as { e: string } & Attempt;
          if (ev.e === 'a') attempts.push(ev);
          else if (ev.e === 'k') acked.add(ev.i);
          else if (ev.e === 'error') throw new Error(line);
        }
        expect(acked.size).toBeGreaterThan(50);
        expect(fs.existsSync(path.join(dir, 'CHECKPOINT'))).toBe(true);
        const db = await open(dir);
        expect(db.recovery.checkpoint).toBe('used');
        replayed = db.recovery.replayedBytes;
        // Per key: the value after its last acknowledged write, or after a later attempted one.
        for (let n = 0; n < keys; n++) {
          const k = `k${n}`;
          const ops = attempts.filter((a) => a.k === k);
          let lastAck = -1;
          ops.forEach((a, j) => {
            if (acked.has(a.i)) lastAck = j;
          });
          const allowed: (string | undefined)[] = lastAck === -1 ? [undefined] : [];
          for (let j = Math.max(lastAck, 0); j < ops.length; j++) {
            allowed.push(ops[j].op === 'put' ? `${ops[j].v}${'.'.repeat(ops[j].pad ?? 0)}` : undefined);
          }
          expect(allowed, k).toContain(db.get(k)?.toString());
        }
        await db.close();
      }
      expect(replayed).toBeGreaterThan(0);
    });
  });

  describe('a failed checkpoint write', () => {
    it.each(['open', 'pwrite', 'fdatasync', 'rename'] as const)(
      'rejects when %s fails, leaves the old checkpoint and loses nothing',
      async (op) => {
        const dir = tmpdir('hashlog-ckpt-');
        const db = await open(dir, { durability: 'sync' });
        await populate(db, prng(16), 500);
        await db.checkpoint();
        const old = fs.readFileSync(path.join(dir, 'CHECKPOINT'));
        await db.put('after', 'the good checkpoint');
        await db.del('batch-a');
        db._injectFault(op, 0, 5, false);
        await expect(db.checkpoint()).rejects.toMatchObject({ code: 'HASHLOG_IO' });
        db._injectFault();
        expect(fs.readFileSync(path.join(dir, 'CHECKPOINT'))).toEqual(old);
        expect(fs.existsSync(path.join(dir, 'CHECKPOINT.tmp'))).toBe(false);
        // The store is not failed: writes go on.
        await db.put('still', 'writing');
        const expected = contents(db);
        const copy = copyStore(dir);
        await db.close();
        const again = await open(copy);
        expect(again.recovery.checkpoint).toBe('used');
        expect(again.recovery.records).toBeGreaterThanOrEqual(3);
        expect(contents(again)).toEqual(expected);
        await again.close();
      },
    );

    it('is abandoned when a commit group it covers is rolled back (ENOSPC), and loses nothing', async () => {
      const dir = tmpdir('hashlog-ckpt-');
      const db = await open(dir, { durability: 'sync' });
      await db.put('kept', '1');
      await db.checkpoint();
      const old = fs.readFileSync(path.join(dir, 'CHECKPOINT'));
      db._injectFault('allocate', 0, 28 /* ENOSPC */, true);
      const put = db.put('rolled-back', 'x'.repeat(4 << 20)); // needs the segment to grow
      const checkpoint = db.checkpoint(); // its snapshot holds the put that will fail
      await expect(put).rejects.toMatchObject({ code: 'HASHLOG_NO_SPACE' });
      await expect(checkpoint).rejects.toMatchObject({ code: 'HASHLOG_NO_SPACE' });
      expect(fs.readFileSync(path.join(dir, 'CHECKPOINT'))).toEqual(old);
      db._injectFault();
      await db.put('after', '2');
      await db.close();
      const again = await open(dir);
      expect(again.recovery.checkpoint).toBe('used');
      expect(again.get('rolled-back')).toBeUndefined();
      expect(again.get('kept')?.toString()).toBe('1');
      expect(again.get('after')?.toString()).toBe('2');
      await again.close();
    });
  });
});

describe('checkpoints across engines', () => {
  it.each([['native', 'js'], ['js', 'native']] as const)(
    'a checkpoint written by the %s engine is not used by the %s engine, which scans the log',
    async (first, second) => {
      const dir = tmpdir('hashlog-ckpt-x-');
      let db = await openStore(dir, { engine: first });
      const rand = prng(17);
      for (let i = 0; i < 800; i++) await db.put(`k${Math.floor(rand() * 400)}`, `v${i}`, i % 5 === 0 ? { ttlMs: 3_600_000 } : undefined);
      await db.del('k7');
      const model = contents(db);
      await db.close();
      db = await openStore(dir, { engine: second });
      expect(db.recovery.checkpoint).toMatch(/another engine/);
      expect(contents(db)).toEqual(model);
      await db.put('k8', 'changed');
      model.set('k8', { value: 'changed', expiresAt: null });
      await db.close();
      db = await openStore(dir, { engine: first });
      expect(db.recovery.checkpoint).toMatch(/another engine/);
      expect(contents(db)).toEqual(model);
      await db.close();
    },
  );
});
