// Store: the public API over the native engine: validation, key encoding, lifecycle, and
// the promises that settle when the flush thread reports a commit group durable.
import { loadBinding, type FaultOp, type NativeRecovery, type NativeStore } from './binding';
import { closedError, HashlogError, rangeError, typeError } from './errors';
import { MAX_KEY_SIZE, resolveOptions, type OpenOptions, type ResolvedOptions } from './options';

/** A key: a UTF-8 string or bytes, 1 byte to 64 KiB. */
export type Key = string | Uint8Array;
/** A value: a UTF-8 string or bytes, 0 bytes to `maxValueSize`. */
export type Value = string | Uint8Array;

/** The lifecycle of a store. */
export type StoreStatus = 'open' | 'closing' | 'closed';

export interface StoreStats {
  /** Live keys. */
  keys: number;
  /** Bytes of the records the index points at. */
  liveBytes: number;
  /** Bytes of overwritten or deleted records and tombstones (reclaimable). */
  garbageBytes: number;
  /** Segment files. */
  segments: number;
  /** Entries the index can hold before it grows. */
  indexCapacity: number;
  /** RAM held by the index. */
  indexBytes: number;
  /** fdatasync calls made since open. */
  fsyncs: number;
  /** The newest sequence number. */
  seq: number;
}

/** What open() found and repaired. */
export type RecoveryReport = NativeRecovery;

// Shared buffers: a key, and a value up to this size, cross the N-API boundary through
// them, so a get or put allocates nothing native (docs/DESIGN.md, "The N-API crossing").
const VALUE_BUFFER_SIZE = 64 * 1024;
// A string of at most this many UTF-16 units encodes to at most 3 bytes each: it fits.
const KEY_FAST_CHARS = Math.floor(MAX_KEY_SIZE / 3);
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

function makeCohort(gen: number): Cohort {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { gen, promise, resolve, reject };
}

export class Store {
  readonly location: string;
  readonly options: Readonly<ResolvedOptions>;
  private readonly native: NativeStore;
  private readonly keyBuf = Buffer.allocUnsafe(MAX_KEY_SIZE);
  private readonly valueBuf = Buffer.allocUnsafe(VALUE_BUFFER_SIZE);
  private readonly syncMode: boolean;
  private state: StoreStatus = 'open';
  // Writes waiting for their commit group, oldest first; one promise per group.
  private cohorts: Cohort[] = [];
  private flushWaiters: FlushWaiter[] = [];
  private durableGen = 0;
  private syncedGen = 0;
  private active = false;
  private failure: HashlogError | undefined;
  private closing: Promise<void> | undefined;
  private kickQueued = false;
  private readonly kick = (): void => {
    this.kickQueued = false;
    if (this.state !== 'closed') this.native.kick();
  };

  /** @internal Use open(). */
  constructor(location: string, options: ResolvedOptions) {
    this.location = location;
    this.options = Object.freeze({ ...options });
    this.syncMode = options.durability === 'sync';
    const { NativeStore: Native } = loadBinding();
    this.native = new Native(this.keyBuf, this.valueBuf, (w, s, rf, rl, err) => this.onFlush(w, s, rf, rl, err));
  }

  /** @internal */
  async _open(): Promise<void> {
    const o = this.options;
    await this.native.open(this.location, this.syncMode, o.flushIntervalMs, o.segmentSize, o.maxValueSize, o.repair);
  }

  /** 'open', 'closing' (close() was called) or 'closed'. */
  get status(): StoreStatus {
    return this.state;
  }

  /** Which engine runs this store. */
  get engine(): 'native' {
    return 'native';
  }

  /** The value stored under key, or undefined. Synchronous: no syscall when the page is cached. */
  get(key: Key): Buffer | undefined {
    this.assertOpen();
    const n = this.encodeKey(key);
    const len = this.native.get(n);
    if (len < 0) return undefined;
    const out = Buffer.allocUnsafe(len);
    if (len <= VALUE_BUFFER_SIZE) {
      this.valueBuf.copy(out, 0, 0, len);
    } else {
      this.native.getInto(n, out);
    }
    return out;
  }

  /** True if key has a value. */
  has(key: Key): boolean {
    this.assertOpen();
    return this.native.has(this.encodeKey(key));
  }

  /** Stores value under key. Resolves when durable (see `durability`). */
  put(key: Key, value: Value): Promise<void> {
    try {
      this.assertOpen();
      const kn = this.encodeKey(key);
      let gen: number;
      if (typeof value === 'string') {
        if (value.length <= VALUE_FAST_CHARS) {
          gen = this.native.put(kn, null, this.valueBuf.write(value, 0), 0);
        } else {
          gen = this.native.put(kn, this.checkValueSize(Buffer.from(value, 'utf8')), 0, 0);
        }
      } else if (value instanceof Uint8Array) {
        gen = this.native.put(kn, this.checkValueSize(value), 0, 0);
      } else {
        throw typeError('value must be a string or Uint8Array');
      }
      return this.waitFor(gen);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Deletes key. Resolves to true if it existed, once the delete is durable. */
  del(key: Key): Promise<boolean> {
    try {
      this.assertOpen();
      const r = this.native.del(this.encodeKey(key));
      const existed = r % 2 === 1;
      const gen = Math.floor(r / 2);
      return this.waitFor(gen).then(() => existed);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Live keys. */
  get size(): number {
    this.assertOpen();
    return this.native.stats().keys;
  }

  stats(): StoreStats {
    this.assertOpen();
    const s = this.native.stats();
    return {
      keys: s.keys,
      liveBytes: s.liveBytes,
      garbageBytes: s.garbageBytes,
      segments: s.segments,
      indexCapacity: s.indexCapacity,
      indexBytes: s.indexBytes,
      fsyncs: s.fsyncs,
      seq: s.seq,
    };
  }

  /** What open() recovered: segments and records scanned, bytes of torn tail discarded. */
  get recovery(): RecoveryReport {
    this.assertOpen();
    return this.native.recovery();
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
      this.closing = this.flushInternal()
        .catch(() => undefined) // a failed store still closes; its writes were rejected
        .then(() => {
          this.native.close(); // writes and syncs anything still pending, unless the store failed
          this.state = 'closed';
          this.settleAll();
          this.setActive(false);
        });
    }
    return this.closing;
  }

  /**
   * @internal For tests of the error paths: the call of `op` after the next `afterCalls`
   * fails with `errno` (and every later one if `sticky`). No arguments: disarm.
   */
  _injectFault(op?: FaultOp, afterCalls = 0, errno = 5, sticky = false): void {
    if (op === undefined) this.native.setFault();
    else this.native.setFault(op, afterCalls, errno, sticky);
  }

  private assertOpen(): void {
    if (this.state !== 'open') throw closedError();
  }

  private encodeKey(key: Key): number {
    let n: number;
    if (typeof key === 'string') {
      if (key.length <= KEY_FAST_CHARS) {
        n = this.keyBuf.write(key, 0);
      } else {
        n = Buffer.byteLength(key, 'utf8');
        if (n > MAX_KEY_SIZE) throw rangeError(`key is ${n} bytes; the limit is ${MAX_KEY_SIZE}`, 'HASHLOG_KEY_TOO_LARGE');
        this.keyBuf.write(key, 0);
      }
    } else if (key instanceof Uint8Array) {
      n = key.byteLength;
      if (n > MAX_KEY_SIZE) throw rangeError(`key is ${n} bytes; the limit is ${MAX_KEY_SIZE}`, 'HASHLOG_KEY_TOO_LARGE');
      this.keyBuf.set(key, 0);
    } else {
      throw typeError('key must be a string or Uint8Array');
    }
    if (n === 0) throw rangeError('key must not be empty');
    return n;
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
    if (this.cohorts.length === 0 && this.flushWaiters.length === 0) this.setActive(false);
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
    this.cohorts = [];
    this.flushWaiters = [];
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
