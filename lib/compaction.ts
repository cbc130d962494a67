// Compaction scheduling: when to compact (the policy) and the driver that runs a job's phases
// (native/compaction.h): the owner-thread phases in slices between other work, the copy and
// the unlink off the JavaScript thread.
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { NativeStore } from './binding';
import { closedError, rangeError, typeError } from './errors';

/** When compaction runs by itself. All optional; `compaction: false` turns it off. */
export interface CompactionPolicy {
  /** Compact once garbage is at least this fraction of the log (0 < r < 1). Default 0.2. */
  garbageRatio?: number;
  /** ...and a job would reclaim at least this many bytes. Default 32 MiB. */
  minReclaimBytes?: number;
  /** Copy at most this many bytes per second (0 = no limit). Default 256 MiB/s. */
  maxBytesPerSecond?: number;
  /** How often the policy is checked, in ms. Default 1000. */
  checkIntervalMs?: number;
}

export interface ResolvedCompaction {
  auto: boolean;
  garbageRatio: number;
  minReclaimBytes: number;
  maxBytesPerSecond: number;
  checkIntervalMs: number;
}

export const COMPACTION_DEFAULTS: ResolvedCompaction = {
  auto: true,
  garbageRatio: 0.2,
  minReclaimBytes: 32 * 1024 * 1024,
  maxBytesPerSecond: 256 * 1024 * 1024,
  checkIntervalMs: 1000,
};

/** What one compaction did. */
export interface CompactionReport {
  /** False when there was nothing to reclaim (no job ran). */
  compacted: boolean;
  /** Segments removed and written. */
  segmentsRemoved: number;
  segmentsWritten: number;
  /** Record bytes read (the removed segments) and written (the live records copied). */
  bytesRead: number;
  bytesWritten: number;
  millis: number;
}

const POLICY_KEYS = new Set(['garbageRatio', 'minReclaimBytes', 'maxBytesPerSecond', 'checkIntervalMs']);

export function resolveCompaction(v: unknown): ResolvedCompaction {
  if (v === undefined) return { ...COMPACTION_DEFAULTS };
  if (v === false) return { ...COMPACTION_DEFAULTS, auto: false };
  if (v === null || typeof v !== 'object') throw typeError('compaction must be an object or false');
  for (const k of Object.keys(v)) if (!POLICY_KEYS.has(k)) throw typeError(`unknown compaction option "${k}"`);
  const p = v as CompactionPolicy;
  const o = { ...COMPACTION_DEFAULTS };
  if (p.garbageRatio !== undefined) {
    if (typeof p.garbageRatio !== 'number' || !(p.garbageRatio > 0 && p.garbageRatio < 1)) {
      throw rangeError(`compaction.garbageRatio must be a number between 0 and 1 (exclusive), got ${String(p.garbageRatio)}`);
    }
    o.garbageRatio = p.garbageRatio;
  }
  o.minReclaimBytes = count('minReclaimBytes', p.minReclaimBytes, o.minReclaimBytes, 0);
  o.maxBytesPerSecond = count('maxBytesPerSecond', p.maxBytesPerSecond, o.maxBytesPerSecond, 0);
  o.checkIntervalMs = count('checkIntervalMs', p.checkIntervalMs, o.checkIntervalMs, 10);
  return o;
}

function count(name: string, v: unknown, dflt: number, min: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw typeError(`compaction.${name} must be an integer`);
  if (v < min || v > Number.MAX_SAFE_INTEGER) throw rangeError(`compaction.${name} must be at least ${min}, got ${v}`);
  return v;
}

/** One segment as the engine lists it: [name, flags, bytes, liveBytes, compactable]. */
export type SegmentRow = [string, number, number, number, boolean];

/**
 * What the policy calls for now, given the log's segments and the keys that expired: a job,
 * a roll of the active segment (when the garbage is there, out of a job's reach), or nothing.
 * Expired records still count as live bytes until a job drops them, so `expiredFraction`
 * (expired index entries ÷ all of them) turns that share of the live bytes into garbage: a
 * store of keys with TTLs that are never overwritten must be compacted too.
 */
export function policyWants(rows: readonly SegmentRow[], p: ResolvedCompaction, expiredFraction = 0):
  'compact' | 'roll' | 'none' {
  let bytes = 0, garbage = 0, reclaimable = 0;
  for (const [, , b, l, compactable] of rows) {
    const g = b - l + l * expiredFraction; // expired records are spread like the live ones
    bytes += b;
    garbage += g;
    if (compactable) reclaimable += g;
  }
  const min = Math.max(1, p.minReclaimBytes);
  if (bytes === 0 || garbage / bytes < p.garbageRatio || garbage < min) return 'none';
  if (reclaimable >= min) return 'compact';
  const active = rows[rows.length - 1];
  return active[2] - active[3] * (1 - expiredFraction) >= min ? 'roll' : 'none';
}

/** The engine's compaction phases (NativeStore, when the engine has them). */
export type CompactingEngine = Required<Pick<NativeStore, 'listSegments' | 'compactStart' | 'compactMark' | 'compactCopy'
  | 'compactInstall' | 'compactSettle' | 'compactUnlink' | 'compactRetire' | 'compactAbort' | 'rollSegment'>>;

const COMPACTED = 1; // segment header flag (docs/FORMAT.md)

// Records marked, or entries installed, per slice: a few milliseconds of the JavaScript thread.
const SLICE = 8192;

/**
 * What else uses the log's files (the replication feeds): segments numbered from `keepFrom()`
 * on stay (0: none need to), and automatic runs wait while `paused()` (a snapshot is being
 * streamed: a job would delete it under the feed).
 */
export interface CompactionGuard {
  keepFrom(): number;
  paused(): boolean;
}

/**
 * Runs one job. `flush` makes everything written durable (so that sealed segments qualify,
 * and so that retire can free the sources); `alive` says whether the store is still open.
 */
export async function runCompaction(engine: CompactingEngine, rateBytesPerSecond: number,
  flush: () => Promise<void>, alive: () => boolean, keepFrom = 0): Promise<CompactionReport> {
  const started = Date.now();
  await flush();
  const before = engine.listSegments();
  if (!engine.compactStart(0, rateBytesPerSecond, keepFrom)) {
    return { compacted: false, segmentsRemoved: 0, segmentsWritten: 0, bytesRead: 0, bytesWritten: 0, millis: 0 };
  }
  try {
    while (!engine.compactMark(SLICE)) {
      await nextTurn();
      if (!alive()) throw closedError(); // closing: drop the job before it writes anything
    }
    await engine.compactCopy();
    while (!engine.compactInstall(SLICE)) await nextTurn();
  } catch (err) {
    // Install fails only before it moves an entry (mapping the outputs), so this is safe;
    // on a closed store it does nothing (close dropped the job).
    engine.compactAbort();
    throw err;
  }
  // Unlink only once no write placed before install can roll back any more: a rollback
  // points an entry back at a source record, which mark may not have copied (the engine
  // then keeps the sources).
  while (alive() && !engine.compactSettle()) {
    await flush().catch(() => undefined);
    await nextTurn();
  }
  let unlinkError: unknown;
  try {
    await engine.compactUnlink();
  } catch (err) {
    // The sources not deleted stay on disk and in the log (retire puts them back), where the
    // next job takes them.
    unlinkError = err;
  }
  // Retire waits for the writes made during install to be durable and for reads in flight.
  while (alive() && !engine.compactRetire()) {
    await flush().catch(() => undefined);
    await nextTurn();
  }
  if (unlinkError !== undefined) throw unlinkError;
  const after = engine.listSegments();
  const names = new Set(after.map((r) => r[0]));
  const removed = before.filter((r) => !names.has(r[0]));
  const old = new Set(before.map((r) => r[0]));
  const written = after.filter((r) => !old.has(r[0]) && (r[1] & COMPACTED) !== 0); // not new active segments
  return {
    compacted: true,
    segmentsRemoved: removed.length,
    segmentsWritten: written.length,
    bytesRead: removed.reduce((n, r) => n + r[2], 0),
    bytesWritten: written.reduce((n, r) => n + r[2], 0),
    millis: Date.now() - started,
  };
}
