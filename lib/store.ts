// Store: the public API over the native engine: validation, key encoding, lifecycle, and
// the promises that settle when the flush thread reports a commit group durable.
import { loadBinding, type FaultOp, type FlushCallback, type NativeRecovery, type NativeStore } from './binding';
import { copySegments, type BackupReport } from './backup';
import {
  policyWants, runCompaction, type CompactingEngine, type CompactionGuard, type CompactionReport,
} from './compaction';
import { closedError, HashlogError, rangeError, typeError } from './errors';
import { JsStore } from './js/js-store';
import type { MessagePort } from 'node:worker_threads';
import { shareStore, type SharedHandle } from './shared';
import { StoreReader, toStats, VALUE_BUFFER_SIZE, type Key, type StoreStats, type Value } from './reader';
import {
  resolveExpiry, resolveOptions, type OpenOptions, type PutOptions, type ResolvedOptions,
} from './options';

export type { Key, Value, ScanPage, StoreStats } from './reader';

/** The lifecycle of a store. */
export type StoreStatus = 'open' | 'closing' | 'closed';

/** What open() found and repaired. */
export type RecoveryReport = NativeRecovery;

/** One operation of Store#batch(). */
export type BatchOperation =
  | { type: 'put'; key: Key; value: Value; ttlMs?: number; expiresAt?: number }
  | { type: 'del'; key: Key };

const BATCH_OP_HEADER = 24; // native/store.h kBatchOpHeaderSize
// A value string of at most this many UTF-16 units fits the value buffer (3 bytes each).
const VALUE_FAST_CHARS = Math.floor(VALUE_BUFFER_SIZE / 3);

interface Cohort {
  gen: number;
  promise: Promise<void>;
  resolve: () => void;
  reject: (e: Error) => void;
}

interface FlushWaiter {
  gen: number;
  resolve: () => void;
  reject: (e: Error) => void;
}

/** The engine a store runs on. */
export type EngineName = 'native' | 'js';

let warnedFallback = false;

// Builds the engine `choice` asks for (docs/api.md, the `engine` option).
function createEngine(choice: ResolvedOptions['engine'], keyBuf: Buffer, valueBuf: Buffer, metaBuf: Buffer,
  onFlush: FlushCallback): [NativeStore, EngineName] {
  if (choice === 'js') return [new JsStore(keyBuf, valueBuf, metaBuf, onFlush), 'js'];
  let Native: ReturnType<typeof loadBinding>['NativeStore'];
  try {
    Native = loadBinding().NativeStore;
  } catch (e) {
    if (choice === 'native') {
      throw new HashlogError('the native engine cannot be loaded (no build or prebuild fits this platform)',
        'HASHLOG_NOT_SUPPORTED', { cause: e });
    }
    if (!warnedFallback) {
      warnedFallback = true;
      process.emitWarning(`hashlog: the native addon cannot be loaded (${(e as Error).message}); using the pure-TypeScript engine`,
        { code: 'HASHLOG_JS_FALLBACK' });
    }
    return [new JsStore(keyBuf, valueBuf, metaBuf, onFlush), 'js'];
  }
  return [new Native(keyBuf, valueBuf, metaBuf, onFlush), 'native'];
}

function makeCohort(gen: number): Cohort {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { gen, promise, resolve, reject };
}

export class Store extends StoreReader {
  readonly location: string;
  readonly options: Readonly<ResolvedOptions>;
  protected readonly native: NativeStore;
  private readonly engineName: EngineName;
  private clockOffsetMs = 0;
  private clearing: Promise<void> | undefined;
  private readonly asyncReads = new Set<Promise<unknown>>();
  private readonly syncMode: boolean;
  private state: StoreStatus = 'open';
  // Writes waiting for their commit group, oldest first; one promise per group.
  private cohorts: Cohort[] = [];
  private barrier: { gen: number; first: number; promise: Promise<unknown> } | undefined;
  private flushWaiters: FlushWaiter[] = [];
  private checkpointWaiters: FlushWaiter[] = [];
  private durableGen = 0;
  private syncedGen = 0;
  private active = false;
  private failure: HashlogError | undefined;
  private closing: Promise<void> | undefined;
  private checkpointing: Promise<void> | undefined; // the checkpoint being written
  private checkpointNext: Promise<void> | undefined; // one more, asked for while it runs
  private lastCheckpointAt = 0;
  private kickQueued = false;
  // Backup and compaction take turns: a backup copies the files a compaction deletes.
  private maintenance: Promise<unknown> = Promise.resolve();
  private compaction: Promise<CompactionReport> | undefined;
  private compactTimer: NodeJS.Timeout | undefined;
  private compactionGuard: CompactionGuard | undefined;
  private readonly shares = new Set<MessagePort>(); // the owner's ends of share() handles
  private readonly kick = (): void => {
    this.kickQueued = false;
    if (this.state !== 'closed') this.native.kick();
  };

  /** @internal Use open(). */
  constructor(location: string, options: ResolvedOptions) {
    super();
    this.location = location;
    this.options = Object.freeze({ ...options });
    this.syncMode = options.durability === 'sync';
    [this.native, this.engineName] = createEngine(options.engine, this.keyBuf, this.valueBuf, this.metaBuf,
      (w, s, rf, rl, err) => this.onFlush(w, s, rf, rl, err));
  }

  /** @internal */
  async _open(): Promise<void> {
    const o = this.options;
    const report = o.onProgress;
    // A callback that throws must not break open(): its errors are dropped.
    const safeReport = report === undefined ? undefined : (done: number, total: number): void => {
      try {
        report(done, total);
      } catch {
        // ignored: progress is advisory
      }
    };
    const poll = safeReport === undefined || this.native.recoveryProgress === undefined ? undefined : (): void => {
      const [done, total] = (this.native.recoveryProgress as () => [number, number])();
      safeReport(done, total);
    };
    const timer = poll === undefined ? undefined : setInterval(poll, 100);
    try {
      await this.native.open(this.location, this.syncMode, o.flushIntervalMs, o.segmentSize, o.maxValueSize, o.repair,
        o.maxKeys, o.maxDiskBytes, o.readOnly, o.useCheckpoint);
    } finally {
      if (timer !== undefined) clearInterval(timer);
    }
    if (safeReport !== undefined) safeReport(this.recovery.bytesScanned, this.recovery.bytesScanned);
    const policy = o.compaction;
    if (policy.auto && !o.readOnly && this.compactingEngine() !== undefined) {
      this.compactTimer = setInterval(() => this.maybeCompact(), policy.checkIntervalMs);
      this.compactTimer.unref();
    }
  }

  /** 'open', 'closing' (close() was called) or 'closed'. */
  get status(): StoreStatus {
    return this.state;
  }

  /** The error that stopped writes (fail-stop after a failed fdatasync), or undefined. */
  get failed(): HashlogError | undefined {
    return this.failure;
  }

  /**
   * @internal Settles when every commit group now in flight has: resolves if all succeed,
   * rejects with the first failure (the server's read barrier). Undefined if none is in flight.
   */
  _lastPending(): Promise<unknown> | undefined {
    const n = this.cohorts.length;
    if (n === 0) return undefined;
    const newest = this.cohorts[n - 1];
    if (this.barrier?.gen !== newest.gen || this.barrier.first !== this.cohorts[0].gen) {
      const all = n === 1 ? newest.promise : Promise.all(this.cohorts.map((c) => c.promise));
      all.catch(() => undefined);
      this.barrier = { gen: newest.gen, first: this.cohorts[0].gen, promise: all };
    }
    return this.barrier.promise;
  }

  /** Which engine runs this store: 'native' (the C++ addon) or 'js' (pure TypeScript). */
  get engine(): EngineName {
    return this.engineName;
  }

  /**
   * Stores value under key, optionally expiring (`ttlMs` from now, or at `expiresAt` ms since
   * the epoch). Visible at once; resolves when durable (see `durability`).
   */
  put(key: Key, value: Value, options?: PutOptions): Promise<void> {
    if (this.clearing !== undefined) return this.clearing.then(() => this.put(key, value, options));
    try {
      this.assertOpen();
      const expiresAt = options === undefined ? 0 : resolveExpiry(options, this.now(), false);
      const kn = this.encodeKey(key);
      let gen: number;
      if (typeof value === 'string') {
        if (value.length <= VALUE_FAST_CHARS) {
          gen = this.native.put(kn, null, this.valueBuf.write(value, 0), expiresAt);
        } else {
          gen = this.native.put(kn, this.checkValueSize(Buffer.from(value, 'utf8')), 0, expiresAt);
        }
      } else if (value instanceof Uint8Array) {
        gen = this.native.put(kn, this.checkValueSize(value), 0, expiresAt);
      } else {
        throw typeError('value must be a string or Uint8Array');
      }
      return this.waitFor(gen);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Removes key's expiry. Resolves to false if there is no such key or it has no expiry. */
  persist(key: Key): Promise<boolean> {
    if (this.clearing !== undefined) return this.clearing.then(() => this.persist(key));
    try {
      this.assertOpen();
      return this.settleFlagged(this.native.setExpiry(this.encodeKey(key), 0, true));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Sets key's expiry (`ttlMs` from now, or `expiresAt`). Resolves to false if there is no such key. */
  expire(key: Key, options: PutOptions): Promise<boolean> {
    if (this.clearing !== undefined) return this.clearing.then(() => this.expire(key, options));
    try {
      this.assertOpen();
      const expiresAt = resolveExpiry(options, this.now(), true);
      return this.settleFlagged(this.native.setExpiry(this.encodeKey(key), expiresAt, false));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Applies the operations atomically: after a crash either all of them are there or none.
   * They share a commit group with concurrent writes. Resolves when durable.
   */
  batch(operations: readonly BatchOperation[]): Promise<void> {
    if (this.clearing !== undefined) return this.clearing.then(() => this.batch(operations));
    try {
      this.assertOpen();
      if (!Array.isArray(operations)) throw typeError('batch() takes an array of operations');
      return this.waitFor(this.native.batch(this.encodeBatch(operations)));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Like get(), with the record read on the libuv thread pool: for values that may not be in RAM. */
  getAsync(key: Key): Promise<Buffer | undefined> {
    try {
      this.assertOpen();
      const p = this.native.getAsync(this.encodeKey(key));
      this.asyncReads.add(p);
      const done = (): void => {
        this.asyncReads.delete(p);
      };
      p.then(done, done);
      return p;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Removes every key, durably (one record in the log). Writes issued while it runs wait
   * and apply after it. The space is reclaimed by compaction.
   */
  clear(): Promise<void> {
    if (this.clearing !== undefined) return this.clearing.then(() => this.clear());
    try {
      this.assertOpen();
    } catch (e) {
      return Promise.reject(e);
    }
    const run = async (): Promise<void> => {
      try {
        await this.waitFor(this.native.appendClear());
        this.native.applyClear();
      } finally {
        this.clearing = undefined;
      }
    };
    this.clearing = run();
    return this.clearing;
  }

  /** @internal Tests: shifts the clock that decides expiry by ms. */
  _setClockOffset(ms: number): void {
    this.clockOffsetMs = ms;
    this.native.setClockOffset(ms);
  }

  /** Deletes key. Resolves to true if it existed, once the delete is durable. */
  del(key: Key): Promise<boolean> {
    if (this.clearing !== undefined) return this.clearing.then(() => this.del(key));
    try {
      this.assertOpen();
      return this.settleFlagged(this.native.del(this.encodeKey(key)));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  // A native result of generation * 2 + flag: the flag, once the generation is durable.
  private settleFlagged(r: number): Promise<boolean> {
    const flag = r % 2 === 1;
    return this.waitFor(Math.floor(r / 2)).then(() => flag);
  }

  private now(): number {
    return Date.now() + this.clockOffsetMs;
  }

  stats(): StoreStats {
    this.assertOpen();
    return toStats(this.native.stats(), this.lastCheckpointAt);
  }

  /**
   * Rewrites the live records of the oldest segments into new segments and deletes the old
   * ones, while reads and writes go on (docs/api.md, "Compaction"). Runs even below the
   * policy's thresholds; resolves with what it did ({ compacted: false } when no segment has
   * garbage in reach). A compaction already running is joined, not started twice.
   */
  compact(): Promise<CompactionReport> {
    if (this.state !== 'open') return Promise.reject(closedError());
    if (this.options.readOnly) return Promise.reject(new HashlogError('the store is open read-only', 'HASHLOG_READONLY'));
    const engine = this.compactingEngine();
    if (engine === undefined) {
      return Promise.reject(new HashlogError(`compaction is not supported by the ${this.engine} engine`,
        'HASHLOG_NOT_SUPPORTED'));
    }
    if (this.compaction === undefined) {
      const run = this.exclusive(() => runCompaction(engine, this.options.compaction.maxBytesPerSecond,
        () => this.flushInternal(), () => this.state === 'open', this.compactionGuard?.keepFrom() ?? 0));
      this.compaction = run;
      const done = (): void => {
        if (this.compaction === run) this.compaction = undefined;
      };
      run.then((r) => {
        done();
        // The last checkpoint lists segments the job deleted: without a new one the next
        // open would scan the whole log.
        if (r.compacted && this.state === 'open' && this.options.checkpointBytes !== 0) {
          this.checkpointInternal().catch(() => undefined);
        }
      }, done);
    }
    return this.compaction;
  }

  /** True while a compaction runs. */
  get compacting(): boolean {
    return this.compaction !== undefined;
  }

  private compactingEngine(): CompactingEngine | undefined {
    const n = this.native;
    if (n.listSegments === undefined || n.compactStart === undefined || n.compactMark === undefined
      || n.compactCopy === undefined || n.compactInstall === undefined || n.compactSettle === undefined
      || n.compactUnlink === undefined
      || n.compactRetire === undefined || n.compactAbort === undefined || n.rollSegment === undefined) return undefined;
    return n as CompactingEngine & NativeStore;
  }

  /**
   * @internal The replication feeds' say in compaction (lib/compaction.ts, CompactionGuard):
   * segments a replica still streams stay, and no automatic run deletes a snapshot in flight.
   */
  _setCompactionGuard(guard: CompactionGuard | undefined): void {
    this.compactionGuard = guard;
  }

  private maybeCompact(): void {
    if (this.state !== 'open' || this.compaction !== undefined || this.failure !== undefined) return;
    if (this.compactionGuard?.paused() === true) return;
    const engine = this.compactingEngine();
    if (engine === undefined) return;
    const s = this.native.stats();
    const indexed = s.indexedKeys ?? s.keys;
    const want = policyWants(engine.listSegments(), this.options.compaction, indexed > 0 ? (indexed - s.keys) / indexed : 0);
    if (want === 'roll') engine.rollSegment();
    // A failed automatic run is retried at the next check; the store reports real trouble
    // through its writes (fail-stop) and stats.
    if (want === 'compact') this.compact().catch(() => undefined);
  }

  /** Runs `task` after every earlier backup or compaction has settled. */
  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.maintenance.then(task, task);
    this.maintenance = run.catch(() => undefined);
    return run;
  }

  /**
   * Writes a checkpoint (the index and segment list) so that the next open replays only the
   * log written after it. Reads and writes go on meanwhile. Resolves once the CHECKPOINT
   * file is durable; a call made while one is written waits for a later one.
   */
  checkpoint(): Promise<void> {
    if (this.state !== 'open') return Promise.reject(closedError());
    if (this.options.readOnly) {
      return Promise.reject(new HashlogError('a read-only store writes no checkpoint', 'HASHLOG_READONLY'));
    }
    return this.checkpointInternal();
  }

  private checkpointInternal(): Promise<void> {
    if (this.checkpointing === undefined) {
      const run = this.writeCheckpoint().finally(() => {
        if (this.checkpointing === run) this.checkpointing = undefined;
      });
      this.checkpointing = run;
      return run;
    }
    // One in flight took its snapshot before this call: queue exactly one more after it.
    if (this.checkpointNext === undefined) {
      const next = this.checkpointing.catch(() => undefined).then(() => {
        this.checkpointNext = undefined;
        return this.checkpointInternal();
      });
      this.checkpointNext = next;
    }
    return this.checkpointNext;
  }

  // Snapshot on this thread, wait until every record it covers is fdatasynced, write the
  // file on the pool (docs/DESIGN.md, "Checkpoints").
  private async writeCheckpoint(): Promise<void> {
    // A clear's record is in the log before the index is emptied: a snapshot in between
    // would cover the clear yet hold the keys it removed.
    while (this.clearing !== undefined) await this.clearing.catch(() => undefined);
    if (this.failure !== undefined) throw this.failure;
    if (this.state === 'closed') throw closedError();
    const gen = this.native.checkpointBegin();
    await this.waitSynced(gen);
    if ((this.state as StoreStatus) === 'closed') throw closedError();
    await this.native.checkpointWrite();
    this.lastCheckpointAt = Date.now();
  }

  // Resolves when generation gen is fdatasynced. Rejects on any failed commit event first:
  // a rolled-back group may hold records the snapshot names (and its generation may never
  // be reported synced).
  private waitSynced(gen: number): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (gen <= this.syncedGen) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.checkpointWaiters.push({ gen, resolve, reject });
      this.setActive(true);
    });
  }

  // Background checkpoints: once the log has grown by checkpointBytes since the last one.
  private maybeCheckpoint(): void {
    const every = this.options.checkpointBytes;
    if (every === 0 || this.options.readOnly || this.checkpointing !== undefined || this.state !== 'open'
      || this.failure !== undefined) return;
    if (this.native.bytesSinceCheckpoint() < every) return;
    this.checkpointInternal().catch(() => undefined); // best effort: the next growth retries
  }

  /** What open() recovered: segments and records scanned, bytes of torn tail discarded. */
  get recovery(): RecoveryReport {
    this.assertOpen();
    return this.native.recovery();
  }

  /**
   * Copies the store into directory `target` (created; must be empty if it exists) while reads
   * and writes go on. The copy opens as a store holding every write acknowledged before the
   * call, possibly some later ones, and never part of a batch. Its files are fdatasynced.
   */
  async backup(target: string): Promise<BackupReport> {
    this.assertOpen();
    if (typeof target !== 'string' || target.length === 0) throw typeError('target must be a non-empty string (a directory path)');
    if (this.native.writtenSegments === undefined) {
      throw new HashlogError(`backup() is not supported by the ${this.engine} engine`, 'HASHLOG_NOT_SUPPORTED');
    }
    const list = this.native.writtenSegments.bind(this.native);
    return this.exclusive(async () => {
      if (!this.options.readOnly) await this.flush();
      this.assertOpen();
      return copySegments(this.location, target, list());
    });
  }

  /**
   * @internal The log as it is in the files: [[segment file name, bytes written, end], ...]
   * (replication streams it). Empty if the engine cannot say.
   */
  _writtenSegments(): [string, number, number, number][] {
    this.assertOpen();
    return this.native.writtenSegments?.() ?? [];
  }

  /**
   * A handle for one worker thread, which opens it with openShared(): reads there go to
   * the engine directly, writes come back here (docs/api.md, "Worker threads"). Native
   * engine only. The handle lives until this store closes.
   */
  share(): SharedHandle {
    this.assertOpen();
    if (this.native.share === undefined) {
      throw new HashlogError('only the native engine can be shared with worker threads', 'HASHLOG_NOT_SUPPORTED');
    }
    const { handle, port } = shareStore(this, this.native.share());
    this.shares.add(port);
    return handle;
  }

  /** @internal Settles when commit group `gen` is durable in this store's mode (the read barrier of shared readers). */
  _whenDurable(gen: number): Promise<void> {
    if (this.state === 'closed') return Promise.reject(closedError());
    return gen <= this.durableGen ? Promise.resolve() : this.waitFor(gen);
  }

  /** Resolves once everything written before the call is fdatasynced (any durability). */
  flush(): Promise<void> {
    if (this.state !== 'open') return Promise.reject(closedError());
    return this.flushInternal();
  }

  /** Waits for pending writes to be durable, then closes. Idempotent. */
  close(): Promise<void> {
    if (this.closing === undefined) {
      this.state = 'closing';
      if (this.compactTimer !== undefined) clearInterval(this.compactTimer);
      const reads = Promise.allSettled([...this.asyncReads, this.clearing, this.checkpointing, this.checkpointNext]);
      this.closing = reads.then(() => this.flushInternal())
        .then(() => this.checkpointOnClose())
        .catch(() => undefined) // a failed store still closes; its writes were rejected
        .then(() => {
          this.native.close(); // writes and syncs anything still pending, unless the store failed
          this.state = 'closed';
          this.settleAll();
          this.setActive(false);
          // After the replies to forwarded writes were posted (they settled above).
          const shares = [...this.shares];
          this.shares.clear();
          if (shares.length > 0) setImmediate(() => shares.forEach((p) => p.close()));
        });
    }
    return this.closing;
  }

  // At close, after every write is durable, unless nothing was appended since the last
  // checkpoint. A failed one is not an error: the next open scans more of the log.
  private async checkpointOnClose(): Promise<void> {
    if (this.options.readOnly || this.failure !== undefined) return;
    if (this.native.bytesSinceCheckpoint() === 0) return;
    await this.checkpointInternal().catch(() => undefined);
  }

  /**
   * @internal For tests of the error paths: the call of `op` after the next `afterCalls`
   * fails with `errno` (and every later one if `sticky`). No arguments: disarm.
   */
  _injectFault(op?: FaultOp, afterCalls = 0, errno = 5, sticky = false): void {
    if (op === undefined) this.native.setFault();
    else this.native.setFault(op, afterCalls, errno, sticky);
  }

  protected assertOpen(): void {
    if (this.state !== 'open') throw closedError();
  }

  private encodeBatch(operations: readonly BatchOperation[]): Buffer {
    const parts: { type: number; key: Uint8Array; value: Uint8Array; expiresAt: number }[] = [];
    let total = 0;
    const now = this.now();
    for (const op of operations) {
      if (op === null || typeof op !== 'object') throw typeError('a batch operation must be an object');
      const key = this.keyBytes(op.key);
      if (op.type === 'put') {
        const { value } = op;
        let v: Uint8Array;
        if (typeof value === 'string') v = Buffer.from(value, 'utf8');
        else if (value instanceof Uint8Array) v = value;
        else throw typeError('value must be a string or Uint8Array');
        this.checkValueSize(v);
        const expiresAt = op.ttlMs === undefined && op.expiresAt === undefined
          ? 0 : resolveExpiry({ ttlMs: op.ttlMs, expiresAt: op.expiresAt }, now, false);
        parts.push({ type: 1, key, value: v, expiresAt });
        total += BATCH_OP_HEADER + key.byteLength + v.byteLength;
      } else if (op.type === 'del') {
        parts.push({ type: 2, key, value: new Uint8Array(0), expiresAt: 0 });
        total += BATCH_OP_HEADER + key.byteLength;
      } else {
        throw typeError(`a batch operation's type must be 'put' or 'del'`);
      }
    }
    const buf = Buffer.alloc(total);
    let at = 0;
    for (const p of parts) {
      buf[at] = p.type;
      buf.writeUInt32LE(p.key.byteLength, at + 4);
      buf.writeUInt32LE(p.value.byteLength, at + 8);
      buf.writeUInt32LE(p.expiresAt % 2 ** 32, at + 16);
      buf.writeUInt32LE(Math.floor(p.expiresAt / 2 ** 32), at + 20);
      buf.set(p.key, at + BATCH_OP_HEADER);
      buf.set(p.value, at + BATCH_OP_HEADER + p.key.byteLength);
      at += BATCH_OP_HEADER + p.key.byteLength + p.value.byteLength;
    }
    return buf;
  }

  private keyBytes(key: Key): Uint8Array {
    this.keyLength(key);
    return typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
  }

  private checkValueSize(v: Uint8Array): Uint8Array {
    if (v.byteLength > this.options.maxValueSize) {
      throw rangeError(`value is ${v.byteLength} bytes; maxValueSize is ${this.options.maxValueSize}`,
        'HASHLOG_VALUE_TOO_LARGE');
    }
    return v;
  }

  // The promise of commit group `gen`: shared by every write in the group.
  private waitFor(gen: number): Promise<void> {
    if (gen <= this.durableGen) return Promise.resolve();
    if (!this.kickQueued) {
      // Wake the flush thread once this turn's synchronous writes are all in the group.
      this.kickQueued = true;
      queueMicrotask(this.kick);
    }
    const last = this.cohorts[this.cohorts.length - 1];
    if (last !== undefined && last.gen === gen) return last.promise;
    const c = makeCohort(gen);
    this.cohorts.push(c);
    this.setActive(true);
    return c.promise;
  }

  private flushInternal(): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.state === 'closed') return Promise.resolve();
    const gen = this.native.flush();
    if (gen <= this.syncedGen) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.flushWaiters.push({ gen, resolve, reject });
      this.setActive(true);
    });
  }

  private onFlush(written: number, synced: number, rejectFirst: number, rejectLast: number,
    error: HashlogError | undefined): void {
    if (error !== undefined) {
      if (error.code === 'HASHLOG_FAILED') this.failure = error;
      if (rejectFirst > 0) {
        this.cohorts = this.cohorts.filter((c) => {
          if (c.gen < rejectFirst || c.gen > rejectLast) return true;
          c.reject(error);
          return false;
        });
      }
    }
    this.durableGen = Math.max(this.durableGen, this.syncMode ? synced : written);
    this.syncedGen = Math.max(this.syncedGen, synced);
    let i = 0;
    while (i < this.cohorts.length && this.cohorts[i].gen <= this.durableGen) this.cohorts[i++].resolve();
    if (i > 0) this.cohorts.splice(0, i);
    if (this.flushWaiters.length > 0) {
      this.flushWaiters = this.flushWaiters.filter((w) => {
        if (w.gen <= this.syncedGen) w.resolve();
        else if (this.failure !== undefined) w.reject(this.failure);
        else return true;
        return false;
      });
    }
    if (this.checkpointWaiters.length > 0) {
      this.checkpointWaiters = this.checkpointWaiters.filter((w) => {
        if (error !== undefined) w.reject(error);
        else if (w.gen <= this.syncedGen) w.resolve();
        else return true;
        return false;
      });
    }
    if (this.cohorts.length === 0 && this.flushWaiters.length === 0 && this.checkpointWaiters.length === 0) {
      this.setActive(false);
    }
    if (error === undefined && written > 0) this.maybeCheckpoint();
  }

  // After the native close: nothing is left in flight, so no promise may stay pending.
  private settleAll(): void {
    for (const c of this.cohorts) {
      if (this.failure !== undefined) c.reject(this.failure);
      else c.resolve();
    }
    for (const w of this.flushWaiters) {
      if (this.failure !== undefined) w.reject(this.failure);
      else w.resolve();
    }
    for (const w of this.checkpointWaiters) w.reject(this.failure ?? closedError());
    this.cohorts = [];
    this.flushWaiters = [];
    this.checkpointWaiters = [];
  }

  // Keeps the event loop alive exactly while a promise waits on the flush thread.
  private setActive(active: boolean): void {
    if (this.active === active || this.state === 'closed') return;
    this.active = active;
    this.native.setActive(active);
  }
}

/** Opens (creating if needed) the store in directory `location`. */
export async function open(location: string, options?: OpenOptions): Promise<Store> {
  if (typeof location !== 'string' || location.length === 0) {
    throw typeError('location must be a non-empty string (a directory path)');
  }
  const store = new Store(location, resolveOptions(options));
  await store._open();
  return store;
}
