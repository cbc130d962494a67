// The two engines read and write each other's files: a directory written by one opens, with
// every key and value intact, in the other, including after a crash and after a torn tail.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { open, type Store } from '../../lib/index';
import type { EngineName } from '../helpers/engines';
import { runUntilKilled } from '../helpers/child';
import { flipByte, prng, readRecords, segmentFiles } from '../helpers/format';
import { tmpdir } from '../helpers/tmpdir';

const CHILD = path.join(__dirname, '..', 'helpers', 'cross-engine-child.mjs');
const KEYS = 300;
const OPTIONS = { segmentSize: 16 * 1024 };
const PAIRS: [EngineName, EngineName][] = [['native', 'js'], ['js', 'native']];

type Model = Map<string, string>;

// Random puts (some large, some with a far expiry), deletes and batches over a small key
// space, applied to the store and the model alike.
async function mutate(db: Store, model: Model, seed: number, ops: number): Promise<void> {
  const rand = prng(seed);
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < ops; i++) {
    const k = `key${Math.floor(rand() * KEYS)}`;
    const r = rand();
    if (r < 0.6) {
      const v = `${db.engine}-${seed}-${i}-${'p'.repeat(Math.floor(rand() * (r < 0.05 ? 20_000 : 300)))}`;
      model.set(k, v);
      pending.push(r < 0.2 ? db.put(k, v, { ttlMs: 3_600_000 }) : db.put(k, v));
    } else if (r < 0.85) {
      model.delete(k);
      pending.push(db.del(k));
    } else {
      const k2 = `key${Math.floor(rand() * KEYS)}`;
      const v = `batch-${seed}-${i}`;
      model.set(k, v);
      model.delete(k2);
      if (k2 === k) model.delete(k);
      pending.push(db.batch([{ type: 'put', key: k, value: v }, { type: 'del', key: k2 }]));
    }
    if (pending.length >= 64) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
}

function expectModel(db: Store, model: Model, context: string): void {
  for (let i = 0; i < KEYS; i++) {
    const k = `key${i}`;
    expect(db.get(k)?.toString(), `${context}: ${k}`).toBe(model.get(k));
  }
  expect(db.size, context).toBe(model.size);
  const seen = new Map([...db.entries()].map(([k, v]) => [k.toString(), v.toString()]));
  expect(seen, context).toEqual(model);
}

describe('the files of both engines', () => {
  it('are byte for byte the same for the same writes (records, batches, clear, deletes, segment rolls)', async () => {
    const files: Record<string, Map<string, Buffer>> = {};
    for (const engine of ['native', 'js'] as const) {
      const dir = tmpdir('hashlog-bytes-');
      const db = await open(dir, { segmentSize: 8192, engine });
      const rand = prng(99);
      for (let i = 0; i < 400; i++) {
        const k = `key${Math.floor(rand() * 50)}`;
        const r = rand();
        if (r < 0.6) await db.put(k, 'v'.repeat(Math.floor(rand() * 500)), r < 0.1 ? { expiresAt: 4_000_000_000_000 + i } : undefined);
        else if (r < 0.85) await db.del(k);
        else if (r < 0.99) await db.batch([{ type: 'put', key: k, value: `b${i}` }, { type: 'del', key: `key${i % 50}` }]);
        else await db.clear();
      }
      await db.close();
      files[engine] = new Map(segmentFiles(dir).map((f) => [path.basename(f), fs.readFileSync(f)]));
    }
    expect([...files.js.keys()]).toEqual([...files.native.keys()]);
    for (const [name, bytes] of files.native) expect(files.js.get(name)?.equals(bytes), name).toBe(true);
  });
});

describe('the files of both engines, continued after a reopen', () => {
  it('place a record that passes an odd segment size the same way', async () => {
    const files: Record<string, Map<string, Buffer>> = {};
    for (const engine of ['native', 'js'] as const) {
      const dir = tmpdir('hashlog-bytes-');
      await (await open(dir, { segmentSize: 5000, engine })).close();
      const db = await open(dir, { segmentSize: 5000, engine });
      await db.put('a', 'x'.repeat(4980)); // 5013 bytes: past 5000, within the page-rounded reservation
      await db.put('b', 'y'.repeat(100));
      await db.close();
      files[engine] = new Map(segmentFiles(dir).map((f) => [path.basename(f), fs.readFileSync(f)]));
    }
    expect([...files.js.keys()]).toEqual([...files.native.keys()]);
    for (const [name, bytes] of files.native) expect(files.js.get(name)?.equals(bytes), name).toBe(true);
  });
});

describe('the files of both engines, for random sequences', () => {
  // Each sequence runs one awaited write at a time (so both engines form the same commit
  // groups), with reopens, at segment sizes that are and are not page multiples.
  it('are byte for byte the same after 40 random sequences of writes and reopens', async () => {
    for (let seed = 1; seed <= 40; seed++) {
      const rand = prng(seed);
      const segmentSize = [4096, 5000, 8192, 12_345][Math.floor(rand() * 4)];
      const ops: { kind: number; key: string; size: number; other: string }[] = [];
      for (let i = 0; i < 30; i++) {
        ops.push({ kind: rand(), key: `k${Math.floor(rand() * 12)}`, size: Math.floor(rand() ** 3 * 20_000), other: `k${Math.floor(rand() * 12)}` });
      }
      const files: Record<string, Map<string, Buffer>> = {};
      for (const engine of ['native', 'js'] as const) {
        const dir = tmpdir('hashlog-fuzz-');
        let db = await open(dir, { segmentSize, engine });
        for (const [i, op] of ops.entries()) {
          if (op.kind < 0.5) await db.put(op.key, 'v'.repeat(op.size), op.size % 3 === 0 ? { expiresAt: 5_000_000_000_000 + i } : undefined);
          else if (op.kind < 0.7) await db.del(op.key);
          else if (op.kind < 0.8) await db.batch([{ type: 'put', key: op.key, value: 'b'.repeat(op.size) }, { type: 'del', key: op.other }]);
          else if (op.kind < 0.85) await db.persist(op.key);
          else if (op.kind < 0.88) await db.clear();
          else {
            await db.close();
            db = await open(dir, { segmentSize, engine });
          }
        }
        await db.close();
        files[engine] = new Map(segmentFiles(dir).map((f) => [path.basename(f), fs.readFileSync(f)]));
      }
      const context = `seed ${seed}, segmentSize ${segmentSize}`;
      expect([...files.js.keys()], context).toEqual([...files.native.keys()]);
      for (const [name, bytes] of files.native) expect(files.js.get(name)?.equals(bytes), `${context}: ${name}`).toBe(true);
    }
  });
});

describe('the files of both engines, compacted', () => {
  // One awaited write at a time, so both engines form the same commit groups, seal the same
  // segments and find the same records live; expiries are fixed (no TTL reads the clock).
  async function writeSequence(db: Store, seed: number, n: number): Promise<void> {
    const rand = prng(seed);
    for (let i = 0; i < n; i++) {
      const k = `key${Math.floor(rand() * 40)}`;
      const r = rand();
      if (r < 0.6) await db.put(k, 'v'.repeat(Math.floor(rand() * 400)), r < 0.1 ? { expiresAt: 4_000_000_000_000 + i } : undefined);
      else if (r < 0.8) await db.del(k);
      else if (r < 0.99) await db.batch([{ type: 'put', key: k, value: `b${seed}.${i}` }, { type: 'del', key: `key${i % 40}` }]);
      else await db.clear();
    }
  }

  it('are byte for byte the same after the same writes and compactions, compacted segments included', async () => {
    const files: Record<string, Map<string, Buffer>> = {};
    for (const engine of ['native', 'js'] as const) {
      const dir = tmpdir('hashlog-compacted-bytes-');
      let db = await open(dir, { segmentSize: 8192, engine, compaction: false });
      await writeSequence(db, 5, 600);
      expect((await db.compact()).compacted, engine).toBe(true);
      // Again on a log that starts with compacted segments, after a reopen.
      await db.close();
      db = await open(dir, { segmentSize: 8192, engine, compaction: false });
      await writeSequence(db, 6, 600);
      expect((await db.compact()).compacted, engine).toBe(true);
      await db.close();
      files[engine] = new Map(segmentFiles(dir).map((f) => [path.basename(f), fs.readFileSync(f)]));
    }
    const compacted = [...files.native].filter(([, b]) => (b.readUInt32LE(12) & 1) === 1).map(([name]) => name);
    expect(compacted.length).toBeGreaterThan(0);
    expect([...files.js.keys()]).toEqual([...files.native.keys()]);
    for (const [name, bytes] of files.native) expect(files.js.get(name)?.equals(bytes), name).toBe(true);
  });
});

describe('the js engine reading a segment larger than its read window', () => {
  it('recovers every record, those across the window boundaries and a large one included', async () => {
    const dir = tmpdir('hashlog-window-');
    const db = await open(dir, { engine: 'native', durability: 'none' });
    const model: Model = new Map();
    const pending: Promise<void>[] = [];
    for (let i = 0; i < 60_000; i++) {
      const v = `value-${i}-${'w'.repeat(i % 173)}`;
      model.set(`key${i % 50_000}`, v);
      pending.push(db.put(`key${i % 50_000}`, v));
      if (i === 30_000) {
        const big = 'B'.repeat(5 << 20); // larger than the window itself
        model.set('big', big);
        pending.push(db.put('big', big));
      }
    }
    await Promise.all(pending);
    await db.close();
    expect(segmentFiles(dir).length).toBe(1);
    expect(fs.statSync(segmentFiles(dir)[0]).size).toBeGreaterThan(12 << 20);
    const js = await open(dir, { engine: 'js' });
    expect(js.size).toBe(model.size);
    for (const [k, v] of model) expect(js.get(k)?.toString(), k).toBe(v);
    expect(js.recovery.discardedBytes).toBe(0);
    await js.close();
    // Damage past the first windows: reported where it is, and salvaged with repair. The
    // close wrote a checkpoint, and open trusts the log it covers but for its last 64 KiB
    // (docs/DESIGN.md, "Checkpoints"): remove it, so that this open scans the whole log.
    fs.rmSync(path.join(dir, 'CHECKPOINT'));
    const file = segmentFiles(dir)[0];
    const victim = readRecords(file).find((r) => r.offset > 9 << 20) as { offset: number; size: number };
    flipByte(file, victim.offset + 40);
    const err = await open(dir, { engine: 'js' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'HASHLOG_CORRUPTION' });
    expect((err as Error).message).toContain(`at offset ${victim.offset}`);
    const repaired = await open(dir, { engine: 'js', repair: true });
    expect(repaired.recovery.dropped).toEqual([`${path.basename(file)}@${victim.offset}+${victim.size}`]);
    await repaired.close();
  });
});

describe.each(PAIRS)('written by the %s engine, reopened by the %s engine', (first, second) => {
  it('keeps every key and value through alternating opens and writes, as a model Map says', async () => {
    const dir = tmpdir('hashlog-cross-');
    const model: Model = new Map();
    const engines = [first, second, first, second];
    for (let round = 0; round < engines.length; round++) {
      const db = await open(dir, { ...OPTIONS, engine: engines[round] });
      expect(db.engine).toBe(engines[round]);
      expectModel(db, model, `round ${round} (${engines[round]}) after open`);
      await mutate(db, model, 1000 + round, 600);
      expectModel(db, model, `round ${round} (${engines[round]}) after writes`);
      if (round === 1) {
        await db.clear();
        model.clear();
        await mutate(db, model, 2000, 200);
      }
      await db.close();
    }
    const last = await open(dir, { ...OPTIONS, engine: first });
    expectModel(last, model, 'final');
    expect(last.recovery.discardedBytes).toBe(0);
    await last.close();
  });

  it('opens a store the other engine compacted with the same contents, and compacts it in turn', async () => {
    const dir = tmpdir('hashlog-cross-compact-');
    const model: Model = new Map();
    const opts = { ...OPTIONS, compaction: false } as const;
    for (const [round, engine] of [first, second, first].entries()) {
      const db = await open(dir, { ...opts, engine });
      expectModel(db, model, `round ${round} (${engine}) after open`);
      await mutate(db, model, 5000 + round, 800);
      const report = await db.compact();
      expect(report.compacted, `round ${round} (${engine})`).toBe(true);
      expect(db.stats().compactions).toBe(1);
      expectModel(db, model, `round ${round} (${engine}) after compact`);
      await db.close();
    }
    const last = await open(dir, { ...opts, engine: second });
    expectModel(last, model, 'final');
    expect(last.recovery.discardedBytes).toBe(0);
    await last.close();
  });

  it('recovers a store the other engine was killed while writing (SIGKILL), and continues it', async () => {
    const dir = tmpdir('hashlog-cross-kill-');
    const lines = await runUntilKilled(CHILD, [dir, JSON.stringify({ ...OPTIONS, engine: first })], 150);
    const acked: number[] = [];
    for (const line of lines) {
      const ev = JSON.parse(line) as { e: string; i?: number; message?: string };
      expect(ev.e, line).not.toBe('error');
      if (ev.e === 'k') acked.push(ev.i as number);
    }
    expect(acked).toContain(0); // acknowledged before the child said it was ready
    const valueOf = (i: number): string => `v${i}-${'x'.repeat(i % 200)}`;
    const model: Model = new Map();
    const db = await open(dir, { ...OPTIONS, engine: second });
    expect(db.recovery.dropped).toEqual([]);
    for (const i of acked) expect(db.get(`k${i}`)?.toString(), `acknowledged put ${i}`).toBe(valueOf(i));
    // Unacknowledged puts may or may not be there, but never with a wrong value.
    const maxAcked = Math.max(-1, ...acked);
    for (let i = 0; i <= maxAcked + 16; i++) {
      const v = db.get(`k${i}`)?.toString();
      if (v !== undefined) {
        expect(v).toBe(valueOf(i));
        model.set(`k${i}`, v);
      }
    }
    expect(db.size).toBe(model.size);
    for (let i = 0; i < 50; i++) {
      await db.put(`after${i}`, `by ${second}`);
      model.set(`after${i}`, `by ${second}`);
    }
    await db.del('k0');
    model.delete('k0');
    await db.close();
    const back = await open(dir, { ...OPTIONS, engine: first });
    expect(back.recovery.discardedBytes).toBe(0);
    expect(new Map([...back.entries()].map(([k, v]) => [k.toString(), v.toString()]))).toEqual(model);
    await back.close();
  });

  it('cuts a torn tail left in the files of the other engine and keeps every earlier record', async () => {
    const dir = tmpdir('hashlog-cross-torn-');
    const model: Model = new Map();
    let db = await open(dir, { ...OPTIONS, engine: first });
    await mutate(db, model, 3000, 300);
    await db.put('last', 'the torn one');
    await db.close();
    // Tear the last record: cut the file in the middle of it (dropping any zero-fill).
    const files = segmentFiles(dir);
    const newest = files[files.length - 1];
    const records = readRecords(newest);
    const lastRecord = records[records.length - 1];
    expect(lastRecord.key.toString()).toBe('last');
    fs.truncateSync(newest, lastRecord.offset + lastRecord.size - 5);
    db = await open(dir, { ...OPTIONS, engine: second });
    expect(db.recovery.discardedBytes).toBeGreaterThan(0);
    expect(db.recovery.dropped).toEqual([]);
    expect(db.get('last')).toBeUndefined();
    expectModel(db, model, `${second} after the tear`);
    await db.put('last', 'again');
    model.set('last', 'again');
    await db.close();
    db = await open(dir, { ...OPTIONS, engine: first });
    expect(db.recovery.discardedBytes).toBe(0);
    expect(db.get('last')?.toString()).toBe('again');
    model.delete('last');
    for (const [k, v] of model) expect(db.get(k)?.toString()).toBe(v);
    await db.close();
  });

  it('opens read-only what the other engine wrote, changing no file, and reports a torn tail without cutting it', async () => {
    const dir = tmpdir('hashlog-cross-ro-');
    const model: Model = new Map();
    const db = await open(dir, { ...OPTIONS, engine: first });
    await mutate(db, model, 4000, 300);
    await db.close();
    const files = segmentFiles(dir);
    fs.appendFileSync(files[files.length - 1], Buffer.from('torn bytes'));
    const snapshot = (): string[] => segmentFiles(dir).map((f) => `${path.basename(f)}:${fs.readFileSync(f).toString('base64')}`);
    const before = snapshot();
    const ro = await open(dir, { ...OPTIONS, engine: second, readOnly: true });
    expect(ro.recovery.discardedBytes).toBeGreaterThanOrEqual(10);
    expectModel(ro, model, `${second} read-only`);
    await expect(ro.put('x', 'y')).rejects.toMatchObject({ code: 'HASHLOG_READONLY' });
    await ro.close();
    expect(snapshot()).toEqual(before);
    expect(fs.existsSync(path.join(dir, 'LOCK'))).toBe(false);
  });

  it('honours the LOCK of a store the other engine holds open in this process', async () => {
    const dir = tmpdir('hashlog-cross-lock-');
    const db = await open(dir, { engine: first });
    await expect(open(dir, { engine: second })).rejects.toMatchObject({ code: 'HASHLOG_LOCKED' });
    await db.close();
    const other = await open(dir, { engine: second });
    await other.close();
  });
});
