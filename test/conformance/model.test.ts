// Model-based test: random sequences of put/del/get/has/reopen against a store and a Map, with
// a small key space (so overwrites and deletes hit) and 4 KiB segments (so segments roll).
// After every command the store must agree with the model on get, has and size.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { open, type Durability, type Store } from '../../lib/index';
import { tmpdir } from '../helpers/tmpdir';

// Fixed seeds keep the suite deterministic; set HASHLOG_FC_SEED to explore other sequences.
const SEED = process.env.HASHLOG_FC_SEED === undefined ? 0x4a5b1 : Number(process.env.HASHLOG_FC_SEED);

const FIRST_RECORD_CHILD = path.join(__dirname, '..', 'helpers', 'first-record-child.cjs');

const KEYS = ['a', 'b', 'c', 'key-3', 'ключ', '🔑', 'nul\u0000key', 'k'.repeat(300)];

interface Model {
  map: Map<string, Buffer>;
}

interface Real {
  db: Store;
  dir: string;
  durability: Durability;
  /** Writes issued without waiting; settled by Settle, Reopen and at the end. */
  pending: Pending[];
}

interface Pending {
  what: string;
  promise: Promise<unknown>;
  settled: boolean;
}

function track(r: Real, what: string, promise: Promise<unknown>): void {
  const p: Pending = { what, promise, settled: false };
  const done = () => {
    p.settled = true;
  };
  promise.then(done, done);
  r.pending.push(p);
}

const OPTIONS = (durability: Durability) => ({ durability, segmentSize: 4096 });

function keyArg(key: string, asBytes: boolean): string | Uint8Array {
  return asBytes ? new Uint8Array(Buffer.from(key, 'utf8')) : key;
}

function show(v: string | Uint8Array): string {
  const b = typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.from(v);
  const s = typeof v === 'string' ? JSON.stringify(v.length > 12 ? `${v.slice(0, 12)}…` : v) : 'bytes';
  return `${s}(${b.length} B)`;
}

// Compares every key of the key space, and the size, with the model.
function expectAgrees(m: Model, r: Real, where: string): void {
  for (const k of KEYS) {
    const want = m.map.get(k);
    const got = r.db.get(k);
    if (want === undefined) {
      expect(got, `${where}: get(${JSON.stringify(k)})`).toBeUndefined();
      expect(r.db.has(k), `${where}: has(${JSON.stringify(k)})`).toBe(false);
    } else {
      expect(got, `${where}: get(${JSON.stringify(k)})`).toBeDefined();
      expect(got!.equals(want), `${where}: value of ${JSON.stringify(k)} (${got!.length} B vs ${want.length} B)`).toBe(true);
      expect(r.db.has(k), `${where}: has(${JSON.stringify(k)})`).toBe(true);
    }
  }
  expect(r.db.size, `${where}: size`).toBe(m.map.size);
}

async function settle(r: Real): Promise<void> {
  await Promise.all(r.pending.splice(0).map((p) => p.promise));
}

// close() waits for pending writes: once it resolves, every write issued before it has settled.
// (Checked with flags rather than by awaiting, so that a promise left pending fails the case
// at once instead of hanging it.)
async function closeAndCheckSettled(r: Real, where: string): Promise<void> {
  await r.db.close();
  await new Promise((res) => setImmediate(res));
  const stuck = r.pending.filter((p) => !p.settled).map((p) => p.what);
  expect(stuck, `${where}: writes still pending after close() resolved`).toEqual([]);
  await settle(r);
}

class PutCommand implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly key: string,
    readonly asBytes: boolean,
    readonly value: string | Uint8Array,
    readonly wait: boolean,
  ) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    const p = r.db.put(keyArg(this.key, this.asBytes), this.value);
    m.map.set(this.key, typeof this.value === 'string' ? Buffer.from(this.value, 'utf8') : Buffer.from(this.value));
    // Reads see a write as soon as put() is called, durable or not.
    expectAgrees(m, r, this.toString());
    if (this.wait) await p;
    else track(r, this.toString(), p);
  }
  toString(): string {
    return `put(${JSON.stringify(this.key)}${this.asBytes ? ' as bytes' : ''}, ${show(this.value)})${this.wait ? '' : ' no-wait'}`;
  }
}

class DelCommand implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly key: string,
    readonly asBytes: boolean,
    readonly wait: boolean,
  ) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    const existed = m.map.has(this.key);
    const p = r.db.del(keyArg(this.key, this.asBytes));
    m.map.delete(this.key);
    expectAgrees(m, r, this.toString());
    const checked = p.then((got) => expect(got, `${this.toString()} resolves to whether the key existed`).toBe(existed));
    if (this.wait) await checked;
    else track(r, this.toString(), checked);
  }
  toString(): string {
    return `del(${JSON.stringify(this.key)}${this.asBytes ? ' as bytes' : ''})${this.wait ? '' : ' no-wait'}`;
  }
}

class GetCommand implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly key: string,
    readonly asBytes: boolean,
  ) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    const got = r.db.get(keyArg(this.key, this.asBytes));
    const want = m.map.get(this.key);
    if (want === undefined) expect(got, this.toString()).toBeUndefined();
    else expect(got?.equals(want), this.toString()).toBe(true);
  }
  toString(): string {
    return `get(${JSON.stringify(this.key)}${this.asBytes ? ' as bytes' : ''})`;
  }
}

class HasCommand implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly key: string,
    readonly asBytes: boolean,
  ) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    expect(r.db.has(keyArg(this.key, this.asBytes)), this.toString()).toBe(m.map.has(this.key));
    expect(r.db.size, `${this.toString()}: size`).toBe(m.map.size);
  }
  toString(): string {
    return `has(${JSON.stringify(this.key)}${this.asBytes ? ' as bytes' : ''})`;
  }
}

class SettleCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly flush: boolean) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    await settle(r);
    if (this.flush) await r.db.flush();
    expectAgrees(m, r, this.toString());
  }
  toString(): string {
    return this.flush ? 'settle+flush' : 'settle';
  }
}

class ReopenCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly waitFirst: boolean) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    // close() itself waits for every pending write; waiting first is the other path.
    if (this.waitFirst) await settle(r);
    await closeAndCheckSettled(r, this.toString());
    r.db = await open(r.dir, OPTIONS(r.durability));
    expect(r.db.recovery.discardedBytes, 'a clean close leaves nothing to discard').toBe(0);
    expect(r.db.recovery.dropped).toEqual([]);
    expectAgrees(m, r, this.toString());
  }
  toString(): string {
    return this.waitFirst ? 'reopen' : 'reopen (writes pending)';
  }
}

const key = fc.constantFrom(...KEYS);
const value: fc.Arbitrary<string | Uint8Array> = fc.oneof(
  { arbitrary: fc.constant(''), weight: 2 },
  { arbitrary: fc.constant(new Uint8Array(0)), weight: 1 },
  { arbitrary: fc.string({ maxLength: 40 }), weight: 4 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 40 }), weight: 2 },
  { arbitrary: fc.uint8Array({ maxLength: 300 }), weight: 3 },
  {
    // A few KiB: several values fill a 4 KiB segment, some exceed one.
    arbitrary: fc
      .tuple(fc.integer({ min: 1000, max: 6000 }), fc.integer({ min: 1, max: 255 }))
      .map(([n, b]) => Uint8Array.from({ length: n }, (_, i) => (i * b + (i >> 8)) & 0xff)),
    weight: 2,
  },
  {
    // Larger than the 64 KiB buffer values normally cross the N-API boundary through.
    arbitrary: fc.integer({ min: 64 * 1024 - 2, max: 70 * 1024 }).map((n) => 'L'.repeat(n)),
    weight: 1,
  },
);

const putArb = fc.tuple(key, fc.boolean(), value, fc.boolean()).map(([k, b, v, w]) => new PutCommand(k, b, v, w));
const delArb = fc.tuple(key, fc.boolean(), fc.boolean()).map(([k, b, w]) => new DelCommand(k, b, w));
const COMMANDS: Array<fc.Arbitrary<fc.AsyncCommand<Model, Real>>> = [
  putArb,
  putArb,
  putArb,
  putArb,
  delArb,
  delArb,
  fc.tuple(key, fc.boolean()).map(([k, b]) => new GetCommand(k, b)),
  fc.tuple(key, fc.boolean()).map(([k, b]) => new HasCommand(k, b)),
  fc.boolean().map((f) => new SettleCommand(f)),
  fc.boolean().map((w) => new ReopenCommand(w)),
];

async function runSequence(durability: Durability, cmds: Iterable<fc.AsyncCommand<Model, Real>>): Promise<void> {
  const dir = tmpdir('hashlog-model-');
  const real: Real = { db: await open(dir, OPTIONS(durability)), dir, durability, pending: [] };
  const model: Model = { map: new Map() };
  try {
    await fc.asyncModelRun(() => ({ model, real }), cmds);
    // Whatever the sequence ended with, a final reopen finds the model's contents.
    await new ReopenCommand(false).run(model, real);
  } finally {
    // Not awaited: after a failure some may never settle (each has a handler attached).
    real.pending.splice(0);
    await real.db.close();
  }
}

describe('Store (model-based)', () => {
  it.each<[Durability, number]>([
    ['none', 100],
    ['sync', 40],
  ])('agrees with a Map after every put, del, get, has and reopen (durability: %s, %i sequences)', async (durability, numRuns) => {
    await fc.assert(
      fc.asyncProperty(fc.commands(COMMANDS, { maxCommands: 100, size: 'max' }), (cmds) => runSequence(durability, cmds)),
      { numRuns, seed: SEED },
    );
  });
});

// Minimal cases of what the model found (both fixed), kept as plain tests so that a
// regression names the behaviour at once.
describe('Store#get()', () => {
  // Found by the model: the first record of the segment that open() created was read back
  // wrong when it ended past the page-rounded segmentSize (the segment's mapping stopped at its
  // reservation; a record far larger crashed the read), hence a child process per case.
  // Fixed: a record that would pass a segment's reservation goes to a new segment.
  it.each([
    [4096, 4031], // the record ends exactly at 4096
    [4096, 4032], // one byte past
    [4096, 5000],
    [4096, 200_000],
    [4096, 2_000_000],
    [8192, 9000],
  ])('returns the whole value of a first record that reaches or passes the segment size (%i B segments, %i B value)', (segmentSize, length) => {
    const dir = tmpdir('hashlog-model-');
    const r = spawnSync(process.execPath, [FIRST_RECORD_CHILD, dir, String(segmentSize), String(length)], {
      encoding: 'utf8',
    });
    expect(r.signal, `child died: ${r.stderr}`).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    // -1: no wrong byte.
    expect(JSON.parse(r.stdout)).toEqual({ afterPut: -1, afterReopen: -1 });
  });
});

describe('Store#close()', () => {
  // Found by the model: a write whose commit group the flush thread was already writing when
  // close() (or flush()) was called was not waited for, and its promise never settled.
  // Fixed: the flush generation covers the group in flight.
  it('settles every write issued before it by the time it resolves', async () => {
    for (const durability of ['sync', 'none'] as const) {
      for (let i = 0; i < 20; i++) {
        const db = await open(tmpdir('hashlog-model-'), { durability });
        let settled = false;
        const p = db.put('k', 'v').finally(() => {
          settled = true;
        });
        await db.close();
        await new Promise((res) => setImmediate(res));
        expect(settled, `${durability}, try ${i}: put() still pending after close() resolved`).toBe(true);
        await p;
      }
    }
  });
});

describe('Store#flush()', () => {
  // The same as under Store#close(): flush() must not resolve before a write in flight.
  it('resolves only after every write issued before it has resolved', async () => {
    const db = await open(tmpdir('hashlog-model-'), { durability: 'sync' });
    try {
      const early: number[] = [];
      for (let i = 0; i < 50; i++) {
        let acked = false;
        const p = db.put(`k${i}`, 'v').then(() => {
          acked = true;
        });
        await db.flush();
        if (!acked) early.push(i);
        await p;
      }
      expect(early, 'tries where flush() resolved before the earlier put()').toEqual([]);
    } finally {
      await db.close();
    }
  });
});
