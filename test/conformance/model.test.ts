// Model-based test: random sequences of commands against a store and a model (a Map of value
// and expiry per key), with a small key space (so overwrites and deletes hit) and 4 KiB
// segments (so segments roll). The commands: put (with or without an expiry), del, get, has,
// getMany, expiresAt, expire, persist, batch, clear, iteration (entries() and scan()), a
// clock advance (through _setClockOffset), settle/flush, and reopen. After every command the
// store must agree with the model on get, has, expiresAt and size.
//
// Time: the engine decides expiry with its own clock (Date.now() plus the store's clock
// offset), and real time passes while a command runs. So the model knows an expiry set with
// ttlMs only as an interval [lo, hi] (the clock read before and after the call, plus ttlMs;
// expiresAt() then pins it down), and every check brackets its call between two clock reads
// t0 and t1: a key whose expiry might fall inside [t0, t1] may be seen either way. With TTLs
// of milliseconds to seconds and calls of microseconds that window is rarely hit, and never
// hides a wrong value.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { open as openStore, type BatchOperation, type Durability, type PutOptions, type Store } from '../../lib/index';
import { tmpdir } from '../helpers/tmpdir';
import { ENGINES, withEngine } from '../helpers/engines';

describe.each(ENGINES)('%s engine', (engine) => {
  const open = withEngine(openStore, engine);

  // Fixed seeds keep the suite deterministic; set HASHLOG_FC_SEED to explore other sequences.
  const SEED = process.env.HASHLOG_FC_SEED === undefined ? 0x4a5b1 : Number(process.env.HASHLOG_FC_SEED);

  const FIRST_RECORD_CHILD = path.join(__dirname, '..', 'helpers', 'first-record-child.cjs');

  const KEYS = ['a', 'b', 'c', 'key-3', 'ключ', '🔑', 'nul\u0000key', 'k'.repeat(300)];

  interface Entry {
    value: Buffer;
    /** The key expires at a moment in [lo, hi] (ms since the epoch); null: never. */
    expiry: { lo: number; hi: number } | null;
  }

  interface Model {
    map: Map<string, Entry>;
    /** The clock offset given to _setClockOffset (it only grows). */
    clock: number;
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

  /** The time the store decides expiry by. */
  const now = (m: Model): number => Date.now() + m.clock;

  /** Whether an entry is visible at some moment of [t0, t1]: surely, surely not, or maybe. */
  type Visibility = 'yes' | 'no' | 'maybe';

  function visibility(e: Entry | undefined, t0: number, t1: number): Visibility {
    if (e === undefined) return 'no';
    if (e.expiry === null) return 'yes';
    // The store hides a key once its clock reaches expiresAt.
    if (e.expiry.hi <= t0) return 'no';
    if (e.expiry.lo > t1) return 'yes';
    return 'maybe';
  }

  /** An expiry as the commands give it; `at` is relative to the model's clock when it runs. */
  type ExpirySpec = { kind: 'ttl'; ms: number } | { kind: 'at'; delta: number };

  /** The put/expire options for `spec`, and the interval the expiry will lie in if the call is made in [t0, t1]. */
  function resolveSpec(spec: ExpirySpec, m: Model): { options: PutOptions; bounds: (t0: number, t1: number) => { lo: number; hi: number } } {
    if (spec.kind === 'ttl') return { options: { ttlMs: spec.ms }, bounds: (t0, t1) => ({ lo: t0 + spec.ms, hi: t1 + spec.ms }) };
    const at = now(m) + spec.delta;
    return { options: { expiresAt: at }, bounds: () => ({ lo: at, hi: at }) };
  }

  function showSpec(spec: ExpirySpec): string {
    return spec.kind === 'ttl' ? `ttlMs ${spec.ms}` : `expiresAt now${spec.delta >= 0 ? '+' : ''}${spec.delta}`;
  }

  function keyArg(key: string, asBytes: boolean): string | Uint8Array {
    return asBytes ? new Uint8Array(Buffer.from(key, 'utf8')) : key;
  }

  function toBuffer(v: string | Uint8Array): Buffer {
    return typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.from(v);
  }

  function show(v: string | Uint8Array): string {
    const b = toBuffer(v);
    const s = typeof v === 'string' ? JSON.stringify(v.length > 12 ? `${v.slice(0, 12)}…` : v) : 'bytes';
    return `${s}(${b.length} B)`;
  }

  /** Checks a value read for a key that is `vis` under the model. */
  function expectValue(got: Buffer | undefined, e: Entry | undefined, vis: Visibility, what: string): void {
    if (vis === 'no') {
      expect(got, what).toBeUndefined();
      return;
    }
    if (vis === 'yes') expect(got, what).toBeDefined();
    if (got !== undefined) expect(got.equals(e!.value), `${what}: value (${got.length} B vs ${e!.value.length} B)`).toBe(true);
  }

  /** Checks expiresAt() for a key that is `vis` under the model, and narrows the model's interval to what it returned. */
  function expectExpiresAt(got: number | null | undefined, e: Entry | undefined, vis: Visibility, what: string): void {
    if (vis === 'no') {
      expect(got, what).toBeUndefined();
      return;
    }
    if (e!.expiry === null) {
      expect(got, what).toBeNull();
      return;
    }
    if (vis === 'yes') expect(typeof got, what).toBe('number');
    if (typeof got === 'number') {
      expect(got, `${what}: within the interval the call was made in`).toBeGreaterThanOrEqual(e!.expiry.lo);
      expect(got, `${what}: within the interval the call was made in`).toBeLessThanOrEqual(e!.expiry.hi);
      e!.expiry = { lo: got, hi: got };
    } else {
      expect(got, what).toBeUndefined();
    }
  }

  /**
   * Checks size. Keys without an expiry count exactly. A key with a TTL counts while it is
   * live and stops counting within one second after it expires (the store counts expiries per
   * second: it leaves size when its expiry second has passed), so a key whose expiry may lie
   * in the last second before the call may be counted or not; every other key must be.
   */
  function expectSize(m: Model, r: Real, where: string): void {
    const t0 = now(m);
    const size = r.db.size;
    const t1 = now(m);
    let lower = 0;
    let upper = 0;
    for (const e of m.map.values()) {
      if (e.expiry === null || e.expiry.lo > t1) lower++;
      if (e.expiry === null || e.expiry.hi + 1000 > t0) upper++;
    }
    expect(size, `${where}: size (at least the keys surely live)`).toBeGreaterThanOrEqual(lower);
    expect(size, `${where}: size (at most the keys live or expired less than a second ago)`).toBeLessThanOrEqual(upper);
  }

  // Compares every key of the key space (get, has, expiresAt), and the size, with the model.
  function expectAgrees(m: Model, r: Real, where: string): void {
    for (const k of KEYS) {
      const e = m.map.get(k);
      const t0 = now(m);
      const got = r.db.get(k);
      const has = r.db.has(k);
      const at = r.db.expiresAt(k);
      const t1 = now(m);
      const vis = visibility(e, t0, t1);
      const name = JSON.stringify(k.length > 12 ? `${k.slice(0, 12)}…` : k);
      expectValue(got, e, vis, `${where}: get(${name})`);
      if (vis !== 'maybe') expect(has, `${where}: has(${name})`).toBe(vis === 'yes');
      expectExpiresAt(at, e, vis, `${where}: expiresAt(${name})`);
    }
    expectSize(m, r, where);
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
      readonly expiry?: ExpirySpec,
    ) {}
    check(): boolean {
      return true;
    }
    async run(m: Model, r: Real): Promise<void> {
      let p: Promise<void>;
      if (this.expiry === undefined) {
        p = r.db.put(keyArg(this.key, this.asBytes), this.value);
        m.map.set(this.key, { value: toBuffer(this.value), expiry: null });
      } else {
        const { options, bounds } = resolveSpec(this.expiry, m);
        const t0 = now(m);
        p = r.db.put(keyArg(this.key, this.asBytes), this.value, options);
        const t1 = now(m);
        m.map.set(this.key, { value: toBuffer(this.value), expiry: bounds(t0, t1) });
      }
      // Reads see a write as soon as put() is called, durable or not.
      expectAgrees(m, r, this.toString());
      if (this.wait) await p;
      else track(r, this.toString(), p);
    }
    toString(): string {
      const exp = this.expiry === undefined ? '' : `, { ${showSpec(this.expiry)} }`;
      return `put(${JSON.stringify(this.key)}${this.asBytes ? ' as bytes' : ''}, ${show(this.value)}${exp})${this.wait ? '' : ' no-wait'}`;
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
      const t0 = now(m);
      const p = r.db.del(keyArg(this.key, this.asBytes));
      const t1 = now(m);
      const vis = visibility(m.map.get(this.key), t0, t1);
      m.map.delete(this.key);
      expectAgrees(m, r, this.toString());
      // An expired key did not exist.
      const checked = p.then((got) => {
        if (vis !== 'maybe') expect(got, `${this.toString()} resolves to whether the key existed`).toBe(vis === 'yes');
      });
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
      const t0 = now(m);
      const got = r.db.get(keyArg(this.key, this.asBytes));
      const t1 = now(m);
      expectValue(got, m.map.get(this.key), visibility(m.map.get(this.key), t0, t1), this.toString());
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
      const t0 = now(m);
      const has = r.db.has(keyArg(this.key, this.asBytes));
      const t1 = now(m);
      const vis = visibility(m.map.get(this.key), t0, t1);
      if (vis !== 'maybe') expect(has, this.toString()).toBe(vis === 'yes');
      expectSize(m, r, this.toString());
    }
    toString(): string {
      return `has(${JSON.stringify(this.key)}${this.asBytes ? ' as bytes' : ''})`;
    }
  }

  class GetManyCommand implements fc.AsyncCommand<Model, Real> {
    constructor(readonly keys: ReadonlyArray<readonly [string, boolean]>) {}
    check(): boolean {
      return true;
    }
    async run(m: Model, r: Real): Promise<void> {
      const t0 = now(m);
      const got = r.db.getMany(this.keys.map(([k, b]) => keyArg(k, b)));
      const t1 = now(m);
      expect(got.length, `${this.toString()}: one result per key`).toBe(this.keys.length);
      this.keys.forEach(([k], i) => {
        const e = m.map.get(k);
        expectValue(got[i], e, visibility(e, t0, t1), `${this.toString()}[${i}] (${JSON.stringify(k.slice(0, 12))})`);
      });
    }
    toString(): string {
      return `getMany([${this.keys.map(([k, b]) => `${JSON.stringify(k.slice(0, 12))}${b ? ' as bytes' : ''}`).join(', ')}])`;
    }
  }

  class ExpiresAtCommand implements fc.AsyncCommand<Model, Real> {
    constructor(readonly key: string) {}
    check(): boolean {
      return true;
    }
    async run(m: Model, r: Real): Promise<void> {
      const e = m.map.get(this.key);
      const t0 = now(m);
      const got = r.db.expiresAt(this.key);
      const t1 = now(m);
      expectExpiresAt(got, e, visibility(e, t0, t1), this.toString());
    }
    toString(): string {
      return `expiresAt(${JSON.stringify(this.key)})`;
    }
  }

  class ExpireCommand implements fc.AsyncCommand<Model, Real> {
    constructor(
      readonly key: string,
      readonly expiry: ExpirySpec,
    ) {}
    check(): boolean {
      return true;
    }
    async run(m: Model, r: Real): Promise<void> {
      const e = m.map.get(this.key);
      const { options, bounds } = resolveSpec(this.expiry, m);
      const t0 = now(m);
      const p = r.db.expire(this.key, options);
      const t1 = now(m);
      const vis = visibility(e, t0, t1);
      // The answer comes with the promise: resolves to whether the key was live.
      const changed = await p;
      if (vis !== 'maybe') expect(changed, `${this.toString()} resolves to whether the key was live`).toBe(vis === 'yes');
      if (changed) e!.expiry = bounds(t0, t1);
      // false for a key the model has: it had expired by the end of the call.
      else if (e?.expiry) e.expiry.hi = Math.min(e.expiry.hi, t1);
      expectAgrees(m, r, `${this.toString()} -> ${changed}`);
    }
    toString(): string {
      return `expire(${JSON.stringify(this.key)}, { ${showSpec(this.expiry)} })`;
    }
  }

  class PersistCommand implements fc.AsyncCommand<Model, Real> {
    constructor(readonly key: string) {}
    check(): boolean {
      return true;
    }
    async run(m: Model, r: Real): Promise<void> {
      const e = m.map.get(this.key);
      const t0 = now(m);
      const p = r.db.persist(this.key);
      const t1 = now(m);
      const vis = visibility(e, t0, t1);
      const changed = await p;
      // True only for a live key that had an expiry.
      if (vis === 'no' || e?.expiry === null) expect(changed, this.toString()).toBe(false);
      else if (vis === 'yes') expect(changed, this.toString()).toBe(true);
      if (changed) e!.expiry = null;
      else if (e?.expiry) e.expiry.hi = Math.min(e.expiry.hi, t1); // it had expired by the end of the call
      expectAgrees(m, r, `${this.toString()} -> ${changed}`);
    }
    toString(): string {
      return `persist(${JSON.stringify(this.key)})`;
    }
  }

  type BatchSpec = { type: 'put'; key: string; value: string | Uint8Array; expiry?: ExpirySpec } | { type: 'del'; key: string };

  class BatchCommand implements fc.AsyncCommand<Model, Real> {
    constructor(
      readonly ops: readonly BatchSpec[],
      readonly wait: boolean,
    ) {}
    check(): boolean {
      return true;
    }
    async run(m: Model, r: Real): Promise<void> {
      const resolved = this.ops.map((op) => (op.type === 'put' && op.expiry !== undefined ? resolveSpec(op.expiry, m) : undefined));
      const ops: BatchOperation[] = this.ops.map((op, i) =>
        op.type === 'del' ? { type: 'del', key: op.key } : { type: 'put', key: op.key, value: op.value, ...resolved[i]?.options },
      );
      const t0 = now(m);
      const p = r.db.batch(ops);
      const t1 = now(m);
      // In order: a later operation on the same key wins.
      this.ops.forEach((op, i) => {
        if (op.type === 'del') m.map.delete(op.key);
        else m.map.set(op.key, { value: toBuffer(op.value), expiry: resolved[i]?.bounds(t0, t1) ?? null });
      });
      expectAgrees(m, r, this.toString());
      if (this.wait) await p;
      else track(r, this.toString(), p);
    }
    toString(): string {
      const ops = this.ops.map((op) =>
        op.type === 'del'
          ? `del ${JSON.stringify(op.key.slice(0, 12))}`
          : `put ${JSON.stringify(op.key.slice(0, 12))}=${show(op.value)}${op.expiry ? ` ${showSpec(op.expiry)}` : ''}`,
      );
      return `batch([${ops.join(', ')}])${this.wait ? '' : ' no-wait'}`;
    }
  }

  class IterateCommand implements fc.AsyncCommand<Model, Real> {
    /** count: scan() with pages of this size; undefined: entries(). */
    constructor(readonly count: number | undefined) {}
    check(): boolean {
      return true;
    }
    async run(m: Model, r: Real): Promise<void> {
      const t0 = now(m);
      const seen: [string, Buffer | undefined][] = [];
      if (this.count === undefined) {
        for (const [k, v] of r.db.entries()) seen.push([k.toString(), v]);
      } else {
        let cursor = 0;
        do {
          const page = r.db.scan(cursor, this.count);
          for (const k of page.keys) seen.push([k.toString(), undefined]);
          cursor = page.cursor;
          expect(seen.length, `${this.toString()}: finishes`).toBeLessThan(1000);
        } while (cursor !== 0);
      }
      const t1 = now(m);
      const keys = seen.map(([k]) => k);
      expect(new Set(keys).size, `${this.toString()}: each key once`).toBe(keys.length);
      for (const k of keys) expect(KEYS, `${this.toString()}: a key never written`).toContain(k);
      for (const k of KEYS) {
        const e = m.map.get(k);
        const vis = visibility(e, t0, t1);
        const i = keys.indexOf(k);
        if (vis !== 'maybe') expect(i >= 0, `${this.toString()}: ${JSON.stringify(k.slice(0, 12))} present`).toBe(vis === 'yes');
        const v = i >= 0 ? seen[i][1] : undefined;
        if (v !== undefined) expect(v.equals(e!.value), `${this.toString()}: value of ${JSON.stringify(k.slice(0, 12))}`).toBe(true);
      }
    }
    toString(): string {
      return this.count === undefined ? 'entries()' : `scan(…, ${this.count})`;
    }
  }

  class ClockCommand implements fc.AsyncCommand<Model, Real> {
    constructor(readonly ms: number) {}
    check(): boolean {
      return true;
    }
    async run(m: Model, r: Real): Promise<void> {
      m.clock += this.ms;
      r.db._setClockOffset(m.clock);
      expectAgrees(m, r, this.toString());
    }
    toString(): string {
      return `clock += ${this.ms} ms`;
    }
  }

  class ClearCommand implements fc.AsyncCommand<Model, Real> {
    check(): boolean {
      return true;
    }
    async run(m: Model, r: Real): Promise<void> {
      await r.db.clear();
      m.map.clear();
      expectAgrees(m, r, this.toString());
    }
    toString(): string {
      return 'clear()';
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
      // The clock offset belongs to the store object: the new one needs it again.
      r.db._setClockOffset(m.clock);
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
  // Batches: small values, now and then one that fills most of a segment.
  const batchValue: fc.Arbitrary<string | Uint8Array> = fc.oneof(
    { arbitrary: fc.string({ maxLength: 40 }), weight: 4 },
    { arbitrary: fc.uint8Array({ maxLength: 300 }), weight: 2 },
    { arbitrary: fc.integer({ min: 1000, max: 3500 }).map((n) => 'B'.repeat(n)), weight: 1 },
  );
  // TTLs of 1 ms to 5 s, expiry times already past (0 to 3 s ago: hidden at once), and
  // expiry times 1 ms to 5 s ahead.
  const expiry: fc.Arbitrary<ExpirySpec> = fc.oneof(
    { arbitrary: fc.integer({ min: 1, max: 5000 }).map((ms): ExpirySpec => ({ kind: 'ttl', ms })), weight: 4 },
    { arbitrary: fc.integer({ min: -3000, max: 0 }).map((delta): ExpirySpec => ({ kind: 'at', delta })), weight: 1 },
    { arbitrary: fc.integer({ min: 1, max: 5000 }).map((delta): ExpirySpec => ({ kind: 'at', delta })), weight: 1 },
  );
  const batchOp: fc.Arbitrary<BatchSpec> = fc.oneof(
    { arbitrary: fc.tuple(key, batchValue).map(([k, v]): BatchSpec => ({ type: 'put', key: k, value: v })), weight: 3 },
    { arbitrary: fc.tuple(key, batchValue, expiry).map(([k, v, e]): BatchSpec => ({ type: 'put', key: k, value: v, expiry: e })), weight: 2 },
    { arbitrary: key.map((k): BatchSpec => ({ type: 'del', key: k })), weight: 2 },
  );
  // Mostly steps shorter than the TTLs, now and then one past most of them.
  const clockStep = fc.oneof({ arbitrary: fc.integer({ min: 1, max: 1500 }), weight: 4 }, { arbitrary: fc.integer({ min: 1500, max: 6000 }), weight: 1 });

  const putArb = fc.tuple(key, fc.boolean(), value, fc.boolean()).map(([k, b, v, w]) => new PutCommand(k, b, v, w));
  const putTtlArb = fc.tuple(key, fc.boolean(), value, fc.boolean(), expiry).map(([k, b, v, w, e]) => new PutCommand(k, b, v, w, e));
  const delArb = fc.tuple(key, fc.boolean(), fc.boolean()).map(([k, b, w]) => new DelCommand(k, b, w));
  const getArb = fc.tuple(key, fc.boolean()).map(([k, b]) => new GetCommand(k, b));
  const COMMANDS: Array<fc.Arbitrary<fc.AsyncCommand<Model, Real>>> = [
    putArb,
    putArb,
    putArb,
    putTtlArb,
    putTtlArb,
    putTtlArb,
    delArb,
    delArb,
    getArb,
    fc.tuple(key, fc.boolean()).map(([k, b]) => new HasCommand(k, b)),
    fc.array(fc.tuple(key, fc.boolean()), { maxLength: 10 }).map((ks) => new GetManyCommand(ks)),
    key.map((k) => new ExpiresAtCommand(k)),
    fc.tuple(key, expiry).map(([k, e]) => new ExpireCommand(k, e)),
    key.map((k) => new PersistCommand(k)),
    clockStep.map((ms) => new ClockCommand(ms)),
    clockStep.map((ms) => new ClockCommand(ms)),
    fc.tuple(fc.array(batchOp, { minLength: 2, maxLength: 6 }), fc.boolean()).map(([ops, w]) => new BatchCommand(ops, w)),
    fc.tuple(fc.array(batchOp, { minLength: 2, maxLength: 6 }), fc.boolean()).map(([ops, w]) => new BatchCommand(ops, w)),
    fc.option(fc.constantFrom(1, 2, 5), { nil: undefined }).map((count) => new IterateCommand(count)),
    fc.boolean().map((f) => new SettleCommand(f)),
    fc.boolean().map((w) => new ReopenCommand(w)),
    // clear() is rare (about one command in a hundred): it empties the model.
    fc.oneof({ arbitrary: fc.constant(new ClearCommand()), weight: 1 }, { arbitrary: getArb, weight: 4 }),
  ];

  async function runSequence(durability: Durability, cmds: Iterable<fc.AsyncCommand<Model, Real>>): Promise<void> {
    const dir = tmpdir('hashlog-model-');
    const real: Real = { db: await open(dir, OPTIONS(durability)), dir, durability, pending: [] };
    const model: Model = { map: new Map(), clock: 0 };
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
    ])(
      'agrees with a model after every put (with and without expiry), del, get, has, getMany, expiresAt, expire, persist, batch, clear, iteration, clock step and reopen (durability: %s, %i sequences)',
      async (durability, numRuns) => {
        await fc.assert(
          fc.asyncProperty(fc.commands(COMMANDS, { maxCommands: 100, size: 'max' }), (cmds) => runSequence(durability, cmds)),
          { numRuns, seed: SEED },
        );
      },
    );
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
      const r = spawnSync(process.execPath, [FIRST_RECORD_CHILD, dir, String(segmentSize), String(length), engine], {
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
});
