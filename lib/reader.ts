// StoreReader: the read side of the API (get, has, getMany, scan, entries, ...), shared by
// Store and by SharedStore (a store read from a worker thread): key encoding into the
// registered buffers, and decoding what the engine copied back.
import type { NativeStats } from './binding';
import { rangeError, typeError } from './errors';
import { MAX_KEY_SIZE } from './options';

/** A key: a UTF-8 string or bytes, 1 byte to 64 KiB. */
export type Key = string | Uint8Array;
/** A value: a UTF-8 string or bytes, 0 bytes to `maxValueSize`. */
export type Value = string | Uint8Array;

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
  /** Compactions completed since open, and the record bytes they read and wrote. */
  compactions: number;
  compactedBytesRead: number;
  compactedBytesWritten: number;
  /** Record bytes appended since the last checkpoint (what a restart would replay). */
  bytesSinceCheckpoint: number;
  /** How long the last checkpoint's snapshot held the JavaScript thread, in ms (0 if none yet). */
  checkpointPauseMs: number;
  /** When the last checkpoint since open was written, in ms since the epoch; 0 if none. */
  lastCheckpointAt: number;
  /** Worker-thread handles reading the store (openShared), with their getAsync reads in flight. */
  sharedReaders: number;
}

/** One page of Store#scan(). */
export interface ScanPage {
  /** Pass it to the next scan() call; 0 when the iteration is complete. */
  cursor: number;
  keys: Buffer[];
}

/** What StoreReader needs of an engine: NativeStore, JsStore and NativeSharedReader all have it. */
export interface NativeReader {
  get(keyLength: number): number;
  getInto(keyLength: number, target: Buffer): number;
  has(keyLength: number): boolean;
  expiresAt(keyLength: number): number;
  scan(cursor: number, count: number): [number, Buffer[]];
  getMany(count: number): number;
  size(): number;
  stats(): NativeStats;
}

export const MANY_MAX = 1024; // keys per getMany() crossing (the meta buffer holds their lengths and sizes)
const TAG_SPACE = 2 ** 32; // scan cursors run over the 32-bit tag space

// Shared buffers: a key, and a value up to this size, cross the N-API boundary through
// them, so a get or put allocates nothing native (docs/DESIGN.md, "The N-API crossing").
export const VALUE_BUFFER_SIZE = 64 * 1024;
// A string of at most this many UTF-16 units encodes to at most 3 bytes each: it fits.
const KEY_FAST_CHARS = Math.floor(MAX_KEY_SIZE / 3);

export function toStats(s: NativeStats, lastCheckpointAt: number): StoreStats {
  return {
    keys: s.keys,
    liveBytes: s.liveBytes,
    garbageBytes: s.garbageBytes,
    segments: s.segments,
    indexCapacity: s.indexCapacity,
    indexBytes: s.indexBytes,
    fsyncs: s.fsyncs,
    seq: s.seq,
    compactions: s.compactions ?? 0,
    compactedBytesRead: s.compactedBytesRead ?? 0,
    compactedBytesWritten: s.compactedBytesWritten ?? 0,
    bytesSinceCheckpoint: s.bytesSinceCheckpoint,
    checkpointPauseMs: s.checkpointPauseMs,
    lastCheckpointAt,
    sharedReaders: s.sharedReaders ?? 0,
  };
}

export abstract class StoreReader {
  protected abstract readonly native: NativeReader;
  protected readonly keyBuf = Buffer.allocUnsafe(MAX_KEY_SIZE);
  protected readonly valueBuf = Buffer.allocUnsafe(VALUE_BUFFER_SIZE);
  protected readonly metaBuf = Buffer.alloc(MANY_MAX * 8);
  private readonly manyLengths = new Uint32Array(this.metaBuf.buffer, this.metaBuf.byteOffset, MANY_MAX);
  private readonly manySizes = new Int32Array(this.metaBuf.buffer, this.metaBuf.byteOffset + MANY_MAX * 4, MANY_MAX);

  /** Throws HASHLOG_CLOSED unless reads may run. */
  protected abstract assertOpen(): void;

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

  /** When key expires: ms since the epoch, null if it never does, undefined if there is no such key. */
  expiresAt(key: Key): number | null | undefined {
    this.assertOpen();
    const e = this.native.expiresAt(this.encodeKey(key));
    return e < 0 ? undefined : e === 0 ? null : e;
  }

  /** The values of many keys in one call, their memory accesses overlapped. */
  getMany(keys: readonly Key[]): (Buffer | undefined)[] {
    this.assertOpen();
    if (!Array.isArray(keys)) throw typeError('getMany() takes an array of keys');
    const out: (Buffer | undefined)[] = new Array(keys.length);
    let i = 0;
    while (i < keys.length) {
      // Lay out as many keys as fit in the key buffer (and the meta buffer) end to end.
      let n = 0;
      let used = 0;
      while (i + n < keys.length && n < MANY_MAX) {
        const len = this.keyLength(keys[i + n]);
        if (used + len > MAX_KEY_SIZE) break;
        this.writeKeyAt(keys[i + n], used);
        this.manyLengths[n] = len;
        used += len;
        n++;
      }
      const answered = this.native.getMany(n);
      let off = 0;
      for (let j = 0; j < answered; j++) {
        const size = this.manySizes[j];
        if (size < 0) {
          out[i + j] = undefined;
        } else {
          const v = Buffer.allocUnsafe(size);
          this.valueBuf.copy(v, 0, off, off + size);
          off += size;
          out[i + j] = v;
        }
      }
      i += answered;
      if (answered < n && answered === 0) out[i] = this.get(keys[i++]); // one value larger than the buffer
    }
    return out;
  }

  /**
   * One page of keys. Start with cursor 0; pass each returned cursor back; 0 means done.
   * Every key present for the whole iteration is returned at least once, even while the
   * index resizes; with no writes during it, each exactly once. Keys written or deleted
   * meanwhile may or may not appear.
   */
  scan(cursor: number, count: number): ScanPage {
    this.assertOpen();
    if (!Number.isInteger(cursor) || cursor < 0 || cursor >= TAG_SPACE) throw rangeError('cursor must come from scan()');
    if (!Number.isInteger(count) || count < 1) throw rangeError('count must be a positive integer');
    const [next, keys] = this.native.scan(cursor, Math.min(count, 1_000_000));
    return { cursor: next, keys };
  }

  /** Every live [key, value] pair (see scan() for what it guarantees under writes). */
  *entries(): IterableIterator<[Buffer, Buffer]> {
    let cursor = 0;
    do {
      const page = this.scan(cursor, 256);
      for (const k of page.keys) {
        const v = this.get(k);
        if (v !== undefined) yield [k, v];
      }
      cursor = page.cursor;
    } while (cursor !== 0);
  }

  [Symbol.iterator](): IterableIterator<[Buffer, Buffer]> {
    return this.entries();
  }

  /** Live keys (keys with a TTL leave it within a second of expiring; get/has are exact). */
  get size(): number {
    this.assertOpen();
    return this.native.size();
  }

  protected encodeKey(key: Key): number {
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

  // The key's byte length, validated (for laying several keys out in the key buffer).
  protected keyLength(key: Key): number {
    let n: number;
    if (typeof key === 'string') n = Buffer.byteLength(key, 'utf8');
    else if (key instanceof Uint8Array) n = key.byteLength;
    else throw typeError('key must be a string or Uint8Array');
    if (n === 0) throw rangeError('key must not be empty');
    if (n > MAX_KEY_SIZE) throw rangeError(`key is ${n} bytes; the limit is ${MAX_KEY_SIZE}`, 'HASHLOG_KEY_TOO_LARGE');
    return n;
  }

  protected writeKeyAt(key: Key, at: number): void {
    if (typeof key === 'string') this.keyBuf.write(key, at);
    else this.keyBuf.set(key, at);
  }
}
