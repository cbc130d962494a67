// Options: defaults and validation, applied once at open (the engine takes primitives).
import { resolveCompaction, type CompactionPolicy, type ResolvedCompaction } from './compaction';
import { rangeError, typeError } from './errors';

/** How long a write waits before its promise resolves. */
export type Durability = 'sync' | 'none';

/** Which engine runs a store: the C++ addon, the pure-TypeScript one, or native when it loads. */
export type EngineChoice = 'auto' | 'native' | 'js';

export interface OpenOptions {
  /**
   * 'sync' (default): a write resolves after the fdatasync that covers it.
   * 'none': a write resolves once it is in the OS (it survives a killed process, not a
   * power cut) and is fdatasynced within `flushIntervalMs`.
   */
  durability?: Durability;
  /** With durability 'none': the longest a written record waits for its fdatasync. Default 100. */
  flushIntervalMs?: number;
  /** Segment files are sealed once they would pass this many bytes. Default 256 MiB. */
  segmentSize?: number;
  /** Largest value accepted, in bytes. Default 64 MiB, at most 1 GiB. */
  maxValueSize?: number;
  /** Salvage every intact record instead of failing on mid-log corruption. Default false. */
  repair?: boolean;
  /** A put of a new key fails with HASHLOG_FULL once this many keys are live. Default: no limit. */
  maxKeys?: number;
  /** A write fails with HASHLOG_FULL once the log would pass this many bytes (deletes still work). Default: no limit. */
  maxDiskBytes?: number;
  /**
   * Open without changing any file (a damaged tail is reported, not cut); writes fail with
   * HASHLOG_READONLY. Fails with HASHLOG_LOCKED while a writer holds the directory. Default false.
   */
  readOnly?: boolean;
  /**
   * Called about every 100 ms while open() recovers the log, with the bytes scanned so far and
   * the bytes to scan (for a progress display), and once more when recovery is done.
   */
  onProgress?: (scannedBytes: number, totalBytes: number) => void;
  /**
   * 'auto' (default): the native engine when the addon loads, else the pure-TypeScript one
   * (with one process warning). 'native': fail with HASHLOG_NOT_SUPPORTED if the addon cannot
   * load. 'js': the pure-TypeScript engine. Both read and write the same files.
   */
  engine?: EngineChoice;
  /**
   * When compaction runs by itself (docs/api.md, "Compaction"), or false to run it only on
   * db.compact(). Default: once garbage is 20% of the log and at least 32 MiB, copying at
   * most 256 MiB/s.
   */
  compaction?: CompactionPolicy | false;
  /**
   * Write a checkpoint in the background each time the log has grown by this many bytes
   * since the last one, so that a restart replays at most about that much. 0 disables
   * background checkpoints (close() and checkpoint() still write one). Default 256 MiB.
   */
  checkpointBytes?: number;
  /**
   * Load the CHECKPOINT file at open when it is valid (default true). false: scan the whole
   * log, checking every record's CRC (what `hashlog check` does).
   */
  useCheckpoint?: boolean;
}

/** Per-write options of put(). At most one of the two. */
export interface PutOptions {
  /** The key expires this many milliseconds from now. */
  ttlMs?: number;
  /** The key expires at this time, in milliseconds since the Unix epoch. */
  expiresAt?: number;
}

export interface ResolvedOptions {
  durability: Durability;
  flushIntervalMs: number;
  segmentSize: number;
  maxValueSize: number;
  repair: boolean;
  maxKeys: number;
  maxDiskBytes: number;
  readOnly: boolean;
  onProgress: ((scannedBytes: number, totalBytes: number) => void) | undefined;
  engine: EngineChoice;
  compaction: ResolvedCompaction;
  checkpointBytes: number;
  useCheckpoint: boolean;
}

export const MAX_KEY_SIZE = 64 * 1024;
export const MAX_VALUE_SIZE_LIMIT = 1024 * 1024 * 1024;
const MIN_SEGMENT_SIZE = 4096;

const DEFAULTS: ResolvedOptions = {
  durability: 'sync',
  flushIntervalMs: 100,
  segmentSize: 256 * 1024 * 1024,
  maxValueSize: 64 * 1024 * 1024,
  repair: false,
  maxKeys: 0,
  maxDiskBytes: 0,
  readOnly: false,
  onProgress: undefined,
  engine: 'auto',
  compaction: resolveCompaction(undefined),
  checkpointBytes: 256 * 1024 * 1024,
  useCheckpoint: true,
};

function integerIn(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw typeError(`${name} must be an integer`);
  if (v < min || v > max) throw rangeError(`${name} must be between ${min} and ${max}, got ${v}`);
  return v;
}

export function resolveOptions(user: OpenOptions | undefined): ResolvedOptions {
  if (user === undefined) return { ...DEFAULTS, compaction: resolveCompaction(undefined) };
  if (user === null || typeof user !== 'object') throw typeError('options must be an object');
  const known = new Set(Object.keys(DEFAULTS));
  for (const k of Object.keys(user)) if (!known.has(k)) throw typeError(`unknown option "${k}"`);
  const o = { ...DEFAULTS };
  if (user.durability !== undefined) {
    if (user.durability !== 'sync' && user.durability !== 'none') {
      throw typeError(`durability must be 'sync' or 'none', got ${String(user.durability)}`);
    }
    o.durability = user.durability;
  }
  if (user.flushIntervalMs !== undefined) o.flushIntervalMs = integerIn('flushIntervalMs', user.flushIntervalMs, 1, 60_000);
  if (user.segmentSize !== undefined) o.segmentSize = integerIn('segmentSize', user.segmentSize, MIN_SEGMENT_SIZE, 1024 ** 3);
  if (user.maxValueSize !== undefined) {
    o.maxValueSize = integerIn('maxValueSize', user.maxValueSize, 0, MAX_VALUE_SIZE_LIMIT);
  }
  if (user.repair !== undefined) {
    if (typeof user.repair !== 'boolean') throw typeError('repair must be a boolean');
    o.repair = user.repair;
  }
  if (user.readOnly !== undefined) {
    if (typeof user.readOnly !== 'boolean') throw typeError('readOnly must be a boolean');
    o.readOnly = user.readOnly;
  }
  if (user.onProgress !== undefined) {
    if (typeof user.onProgress !== 'function') throw typeError('onProgress must be a function');
    o.onProgress = user.onProgress;
  }
  if (user.engine !== undefined) {
    if (user.engine !== 'auto' && user.engine !== 'native' && user.engine !== 'js') {
      throw typeError(`engine must be 'auto', 'native' or 'js', got ${String(user.engine)}`);
    }
    o.engine = user.engine;
  }
  o.compaction = resolveCompaction(user.compaction);
  if (user.checkpointBytes !== undefined) {
    o.checkpointBytes = integerIn('checkpointBytes', user.checkpointBytes, 0, Number.MAX_SAFE_INTEGER);
  }
  if (user.useCheckpoint !== undefined) {
    if (typeof user.useCheckpoint !== 'boolean') throw typeError('useCheckpoint must be a boolean');
    o.useCheckpoint = user.useCheckpoint;
  }
  if (user.maxKeys !== undefined) o.maxKeys = integerIn('maxKeys', user.maxKeys, 1, Number.MAX_SAFE_INTEGER);
  if (user.maxDiskBytes !== undefined) {
    o.maxDiskBytes = integerIn('maxDiskBytes', user.maxDiskBytes, 1, Number.MAX_SAFE_INTEGER);
  }
  return o;
}

const MAX_TTL_MS = 2 ** 52;

/** The expiry (ms since the epoch, 0 = none) that put/expire options ask for. */
export function resolveExpiry(o: PutOptions | undefined, now: number, required: boolean): number {
  if (o === undefined || o === null) {
    if (required) throw typeError('an expiry needs { ttlMs } or { expiresAt }');
    return 0;
  }
  if (typeof o !== 'object') throw typeError('options must be an object');
  const { ttlMs, expiresAt } = o;
  if (ttlMs !== undefined && expiresAt !== undefined) throw typeError('give ttlMs or expiresAt, not both');
  if (ttlMs !== undefined) return now + integerIn('ttlMs', ttlMs, 1, MAX_TTL_MS);
  if (expiresAt !== undefined) return integerIn('expiresAt', expiresAt, 1, MAX_TTL_MS);
  if (required) throw typeError('an expiry needs { ttlMs } or { expiresAt }');
  return 0;
}
