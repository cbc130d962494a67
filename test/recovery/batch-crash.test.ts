// SIGKILL while atomic batches are in flight: a child process issues overlapping batches,
// several at a time, and reports every attempt and acknowledgement; the parent kills it at a
// seeded moment, reopens the store and checks that no batch is half-applied, every
// acknowledged batch is there, and the log holds exactly a prefix of the batches issued.
// Then the damage such a kill can leave, made by hand: a batch record cut short at the tail.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { open as openStore, type Durability, type OpenOptions, type Store } from '../../lib/index';
import { patchFile, prng, readRecords, segmentFiles, TYPE_BATCH } from '../helpers/format';
import { runUntilKilled } from '../helpers/child';
import { tmpdir } from '../helpers/tmpdir';
import { ENGINES, withEngine } from '../helpers/engines';

describe.each(ENGINES)('%s engine', (engine) => {
  const open = withEngine(openStore, engine);

  const CHILD = path.join(__dirname, '..', 'helpers', 'batch-child.mjs');
  const SHARED_KEYS = 16;
  const ITERATIONS = 6;
  // Iterations share a directory in chains of this many, so that later ones recover a store
  // that was already torn, recovered and appended to. The first chain uses 16 KiB segments,
  // so that batches cross segment boundaries and some need a segment of their own.
  const CHAIN = 3;
  const SMALL_SEGMENT = 16 * 1024;
  const INFLIGHT = [4, 16, 1, 32, 2, 8];

  /** A put as [p, key, pad, ttl flag], a delete as [d, key] (see batch-child.mjs). */
  type Op = ['p', string, number, 0 | 1] | ['d', string];

  interface Attempt {
    b: number;
    ops: Op[];
  }

  interface ChildRun {
    attempts: Attempt[];
    acked: Set<number>;
    errors: string[];
  }

  /** What a key holds: its value and whether it was put with a TTL (undefined: absent). */
  interface Entry {
    v: string;
    ttl: boolean;
  }
  type State = Map<string, Entry>;

  /** Runs the batch child until it is killed `killAfterMs` after it reports ready. */
  async function runChild(dir: string, options: OpenOptions, seed: number, inflight: number, run: number, killAfterMs: number): Promise<ChildRun> {
    const args = [dir, JSON.stringify({ ...options, engine }), String(seed), String(inflight), String(run), String(SHARED_KEYS)];
    const result: ChildRun = { attempts: [], acked: new Set(), errors: [] };
    for (const line of await runUntilKilled(CHILD, args, killAfterMs)) {
      const ev = JSON.parse(line) as { e: string; b: number; ops: Op[] };
      if (ev.e === 'a') result.attempts.push({ b: ev.b, ops: ev.ops });
      else if (ev.e === 'k') result.acked.add(ev.b);
      else if (ev.e === 'error') result.errors.push(line);
    }
    return result;
  }

  /** The value batch `b` of run `run` puts with its operation `j` (batch-child.mjs valueOf). */
  function valueOf(run: number, b: number, key: string, j: number, pad: number): string {
    return `r${run}b${b}|${key}|${j}|${'.'.repeat(pad)}`;
  }

  /** What batch `a` leaves in each key it touches: the last operation on a key wins. */
  function effects(run: number, a: Attempt): Map<string, Entry | undefined> {
    const out = new Map<string, Entry | undefined>();
    a.ops.forEach((op, j) => {
      out.set(op[1], op[0] === 'p' ? { v: valueOf(run, a.b, op[1], j, op[2]), ttl: op[3] === 1 } : undefined);
    });
    return out;
  }

  const isPrivate = (run: number, key: string): boolean => key.startsWith(`r${run}/b`);

  const show = (v: string | undefined): string => (v === undefined ? '<absent>' : v.length > 48 ? `${v.slice(0, 48)}…` : v);

  function readState(db: Store, keys: Iterable<string>): State {
    const s: State = new Map();
    for (const k of keys) {
      const v = db.get(k);
      if (v !== undefined) s.set(k, { v: v.toString(), ttl: db.expiresAt(k) !== null });
    }
    return s;
  }

  /**
   * Checks the recovered state `after` against the attempts of `run`, starting from `before`.
   * Returns the violations (empty when all is well) and, when the batches found form a
   * prefix of the attempts, the state that prefix leads to.
   */
  function check(run: number, before: State, child: ChildRun, after: State): { problems: string[]; expected?: State } {
    const problems: string[] = [];
    const fx = child.attempts.map((a) => effects(run, a));

    // 1. All or none, on the keys only this batch writes.
    const applied: boolean[] = [];
    child.attempts.forEach((a, idx) => {
      const mine = [...fx[idx]].filter(([k]) => isPrivate(run, k));
      const present = mine.filter(([k, e]) => after.get(k)?.v === e!.v).length;
      for (const [k, e] of mine) {
        const got = after.get(k);
        if (got !== undefined && got.v !== e!.v) problems.push(`batch ${a.b}: ${k} holds ${show(got.v)}, never written`);
        if (got !== undefined && got.v === e!.v && got.ttl !== e!.ttl) problems.push(`batch ${a.b}: ${k} has ttl ${got.ttl}, written with ${e!.ttl}`);
      }
      if (present !== 0 && present !== mine.length) {
        problems.push(`batch ${a.b} is half-applied: ${present} of its ${mine.length} private keys recovered`);
      }
      applied.push(present === mine.length);
      // 2. Acknowledged means recovered.
      if (child.acked.has(a.b) && present !== mine.length) problems.push(`batch ${a.b} was acknowledged but is missing`);
    });

    // 3. Per shared or deletable key: the value after the last acknowledged batch that touched
    // it, or after a later attempted one; never older, never a value no batch left there.
    const touches = new Map<string, number[]>(); // key -> indexes of the attempts touching it
    fx.forEach((m, idx) => {
      for (const k of m.keys()) {
        if (isPrivate(run, k)) continue;
        if (!touches.has(k)) touches.set(k, []);
        touches.get(k)!.push(idx);
      }
    });
    for (const [k, idxs] of touches) {
      let lastAck = -1;
      idxs.forEach((idx, j) => {
        if (child.acked.has(child.attempts[idx].b)) lastAck = j;
      });
      const allowed: Array<string | undefined> = [];
      if (lastAck === -1) allowed.push(before.get(k)?.v);
      for (let j = Math.max(lastAck, 0); j < idxs.length; j++) allowed.push(fx[idxs[j]].get(k)?.v);
      const got = after.get(k)?.v;
      if (!allowed.includes(got)) {
        problems.push(`${k}: recovered ${show(got)}; allowed ${allowed.map(show).join(' | ')}`);
      }
      // 4. Within one batch, no mix: a batch that is there left each key it touched in its own
      // state or in that of a later batch; a batch that is not there left no value anywhere.
      idxs.forEach((idx, j) => {
        const mine = fx[idx].get(k);
        const later = idxs.slice(j).map((i) => fx[i].get(k)?.v);
        if (applied[idx] && !later.includes(got)) {
          problems.push(`batch ${child.attempts[idx].b} is half-applied: its private keys are there, but ${k} holds ${show(got)}`);
        }
        if (!applied[idx] && mine !== undefined && got === mine.v) {
          problems.push(`batch ${child.attempts[idx].b} is half-applied: its private keys are missing, but ${k} holds its value`);
        }
      });
    }

    // 5. The log is one ordered sequence: the batches found are the first P attempted, and the
    // store holds exactly what they leave.
    const count = applied.filter(Boolean).length;
    if (applied.some((x, idx) => x !== idx < count)) {
      const holes = applied.map((x, idx) => (x ? -1 : idx)).filter((idx) => idx >= 0 && idx < count);
      problems.push(`the recovered batches are not a prefix of the attempts: ${count} recovered, missing ${holes.slice(0, 5).map((i) => child.attempts[i].b)}`);
      return { problems };
    }
    const expected: State = new Map(before);
    for (let idx = 0; idx < count; idx++) {
      for (const [k, e] of fx[idx]) {
        if (e === undefined) expected.delete(k);
        else expected.set(k, e);
      }
    }
    return { problems, expected };
  }

  function diff(expected: State, got: State): string[] {
    const out: string[] = [];
    for (const k of new Set([...expected.keys(), ...got.keys()])) {
      const e = expected.get(k);
      const g = got.get(k);
      if (e?.v !== g?.v || e?.ttl !== g?.ttl) out.push(`${k}: expected ${show(e?.v)}${e?.ttl ? ' (ttl)' : ''}, got ${show(g?.v)}${g?.ttl ? ' (ttl)' : ''}`);
    }
    return out;
  }

  function allKeys(db: Store): string[] {
    return [...db.entries()].map(([k]) => k.toString());
  }

  describe('Store#batch() after SIGKILL', () => {
    describe.each<Durability>(['sync', 'none'])('durability: %s', (durability) => {
      it(`recovers every acknowledged batch whole and no batch in part, across ${ITERATIONS} kills at seeded moments`, async () => {
        const rand = prng(durability === 'sync' ? 0xba7c01 : 0xba7c02);
        let dir = '';
        let state: State = new Map();
        let totalAcked = 0;
        let totalAttempted = 0;
        for (let iter = 0; iter < ITERATIONS; iter++) {
          const options: OpenOptions = { durability, ...(iter < CHAIN ? { segmentSize: SMALL_SEGMENT } : {}) };
          if (iter % CHAIN === 0) {
            dir = tmpdir('hashlog-batch-crash-');
            state = new Map();
          }
          const seed = Math.floor(rand() * 2 ** 31);
          const killAfterMs = 30 + Math.floor(rand() * 271);
          const context = `iteration ${iter}, seed ${seed}, ${INFLIGHT[iter]} in flight, killed ${killAfterMs} ms after ready, ${JSON.stringify(options)}`;
          const child = await runChild(dir, options, seed, INFLIGHT[iter], iter, killAfterMs);
          expect(child.errors, context).toEqual([]);
          child.attempts.forEach((a, idx) => expect(a.b, `${context}: attempts in order`).toBe(idx));
          for (const b of child.acked) expect(b, `${context}: acknowledged batch ${b} was attempted`).toBeLessThan(child.attempts.length);
          totalAcked += child.acked.size;
          totalAttempted += child.attempts.length;

          const mentioned = new Set(state.keys());
          for (const a of child.attempts) for (const op of a.ops) mentioned.add(op[1]);
          const db = await open(dir, options).catch((e: Error) => {
            throw new Error(`${context}: open() after the kill failed: ${e.message}`, { cause: e });
          });
          try {
            expect(db.recovery.dropped, context).toEqual([]);
            const after = readState(db, mentioned);
            const { problems, expected } = check(iter, state, child, after);
            expect(problems.slice(0, 20), context).toEqual([]);
            expect(diff(expected!, after).slice(0, 20), `${context}: the store differs from the recovered prefix`).toEqual([]);
            expect(db.size, context).toBe(expected!.size);
            expect(allKeys(db).sort(), `${context}: entries()`).toEqual([...expected!.keys()].sort());

            // Fully usable: a batch of the parent's own, across a reopen.
            const pk = `parent-${iter}`;
            await db.batch([
              { type: 'put', key: pk, value: `written by the parent after kill ${iter}` },
              { type: 'del', key: 's0' },
            ]);
            expected!.set(pk, { v: `written by the parent after kill ${iter}`, ttl: false });
            expected!.delete('s0');
            mentioned.add(pk);
            state = expected!;
          } finally {
            await db.close();
          }

          const again = await open(dir, options);
          try {
            expect(again.recovery.discardedBytes, context).toBe(0);
            expect(diff(state, readState(again, mentioned)).slice(0, 20), context).toEqual([]);
            expect(again.size, context).toBe(state.size);
          } finally {
            await again.close();
          }
        }
        // Not a timing assertion: across six runs of at least 30 ms the child issues and
        // acknowledges batches.
        expect(totalAttempted).toBeGreaterThan(0);
        expect(totalAcked).toBeGreaterThan(0);
      });
    });
  });

  // A SIGKILL during the pwrite of a commit group leaves a prefix of it: a batch record may end
  // after some of its inner records, each of them a complete record with a valid CRC of its own.
  // docs/DESIGN.md: "a torn batch is a torn tail".
  describe('Store#batch() cut short at the tail of the log', () => {
    const INNER = 5;

    interface Prepared {
      dir: string;
      file: string;
      /** Offset of the batch record, and one past its end. */
      start: number;
      end: number;
      /** Offsets, relative to start, where each inner record ends. */
      innerEnds: number[];
    }

    async function prepare(): Promise<Prepared> {
      const dir = tmpdir('hashlog-batch-torn-');
      const db = await open(dir, { durability: 'sync' });
      await db.put('before', 'kept');
      await db.put('gone', 'deleted by the batch');
      await db.batch([
        ...Array.from({ length: INNER - 1 }, (_, i) => ({ type: 'put' as const, key: `b${i}`, value: `batch value ${i} ${'v'.repeat(40)}` })),
        { type: 'del', key: 'gone' },
      ]);
      await db.close();
      const files = segmentFiles(dir);
      expect(files).toHaveLength(1);
      const records = readRecords(files[0]);
      const last = records[records.length - 1];
      expect(last.type).toBe(TYPE_BATCH);
      // The inner records: 32-byte headers with key_len at 8 and value_len at 12.
      const innerEnds: number[] = [];
      let at = 32;
      while (at < last.size) {
        const h = last.value.subarray(at - 32, at);
        at += 32 + h.readUInt32LE(8) + h.readUInt32LE(12);
        innerEnds.push(at);
      }
      expect(innerEnds).toHaveLength(INNER);
      return { dir, file: files[0], start: last.offset, end: last.offset + last.size, innerEnds };
    }

    // Cut points: inside the batch header, and at, just before and just after every inner
    // record's end (but not the last: that is the whole record).
    function cuts(p: Prepared): number[] {
      const out = new Set<number>([1, 16, 31, 32, 33]);
      for (const e of p.innerEnds.slice(0, -1)) for (const d of [-1, 0, 1]) out.add(e + d);
      return [...out].sort((a, b) => a - b);
    }

    it.each([
      ['the file ends there', 'truncate'],
      ['the rest of the record is zeros', 'zeros'],
    ])('drops a batch cut anywhere as a torn tail, and open() succeeds without it (%s)', async (_name, damage) => {
      const p = await prepare();
      const failures: string[] = [];
      for (const repair of [false, true]) {
        for (const cut of cuts(p)) {
          const dir = tmpdir('hashlog-batch-torn-copy-');
          const file = path.join(dir, path.basename(p.file));
          fs.copyFileSync(p.file, file);
          if (damage === 'truncate') fs.truncateSync(file, p.start + cut);
          else patchFile(file, p.start + cut, Buffer.alloc(p.end - p.start - cut));
          const where = `cut ${cut} bytes into the ${p.end - p.start}-byte batch record${repair ? ', repair: true' : ''}`;
          const issues: string[] = [];
          const threw = (what: string, e: unknown): string => `${what} threw ${(e as { code?: string }).code}: ${(e as Error).message}`;
          let db: Store | undefined;
          try {
            db = await open(dir, { repair });
          } catch (e) {
            issues.push(threw('open()', e));
          }
          if (db !== undefined) {
            try {
              const visible = Array.from({ length: INNER - 1 }, (_, i) => `b${i}`).filter((k) => db.has(k));
              if (visible.length > 0) issues.push(`part of the batch is visible: ${visible.join(', ')}`);
              if (db.get('gone')?.toString() !== 'deleted by the batch') issues.push(`the batch's delete was applied`);
              if (db.get('before')?.toString() !== 'kept') issues.push('the record before the batch is lost');
              if (db.recovery.dropped.length !== 0) issues.push(`reported as damage mid-log: ${JSON.stringify(db.recovery.dropped)}`);
              if (db.recovery.discardedBytes === 0) issues.push('no discarded bytes reported');
              // The store goes on: the next batch lands where the torn one was.
              await db.batch([{ type: 'put', key: 'after', value: 'x' }]);
            } finally {
              await db.close();
            }
            try {
              const again = await open(dir);
              if (again.get('after')?.toString() !== 'x' || again.has('b0')) issues.push('wrong contents after the next batch and a reopen');
              await again.close();
            } catch (e) {
              issues.push(threw('after the next batch, a reopen', e));
            }
          }
          if (issues.length > 0) failures.push(`${where}: ${issues.join('; ')}`);
        }
      }
      expect(failures).toEqual([]);
    });
  });
});
