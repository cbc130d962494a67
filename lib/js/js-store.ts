// JsStore: the pure-TypeScript engine behind the NativeStore contract of lib/binding.ts, so
// lib/store.ts runs on either engine. It mirrors native/store.cc: the same files, records,
// index, recovery, limits, group commit, rollback and fail-stop; see docs/DESIGN.md, "The
// js engine", for where it differs (pread instead of mmap, HalfSipHash, the LOCK file alone).
//
// Reads see every write as soon as put/del returns; a write is durable when the generation
// it returned is reported synced (durability 'sync') or written ('none').
import type { FaultOp, FlushCallback, NativeRecovery, NativeStats, NativeStore } from '../binding';
import { HashlogError } from '../errors';
import { ExpiryCounter } from './expiry-counter';
import path from 'node:path';
import { FileSystem, ioError, type JsFaultOp } from './file';
import { Hasher } from './hash';
import { HashIndex, IndexFullError } from './hash-index';
import { LockFile } from './lock-file';
import {
  decodeHeader, decodeRecord, DecodeResult, decodeSegmentHeader, encodeHeaderInPlace, encodeRecord, HeaderResult,
  MAX_KEY_SIZE, MAX_VALUE_SIZE, RECORD_HEADER_SIZE, RecordHeader, recordHasKey, readU32, readU64, SEGMENT_COMPACTED,
  SEGMENT_HEADER_SIZE, type SegmentHeader, TYPE_BATCH, TYPE_CLEAR, TYPE_DELETE, TYPE_PUT,
} from './log-format';
import { failedError, LogWriter, type FlushEvent, type UndoEntry } from './log-writer';
import { buildCheckpoint, finishCheckpoint, writeCheckpoint, type CheckpointImage } from './checkpoint';
import { recover, type RecoveryReport } from './recovery';
import { NO_GEN, Segment } from './segment';
import { CompactionJob, copyLiveRecords, SegmentWindow, unlinkSources } from './compaction';

const MAX_SEGMENT_SLOTS = 0xffff;
// Bytes one compactMark call reads and checks at most, whatever its record budget: the
// budget counts records, and a slice of large ones would hold the JavaScript thread for
// tens of milliseconds with the CRC check in JavaScript (native checks them with SSE4.2).
const MARK_SLICE_BYTES = 1 << 20;
const BATCH_OP_HEADER = 24; // lib/store.ts encodes batch operations with this header
const PREALLOC_CHUNK = 1 << 20;
const TWO32 = 2 ** 32;
// Bytes read past a record's key on a GET, so a small value comes with the same pread.
const READ_AHEAD = 1024;

const invalid = (m: string): HashlogError => new HashlogError(m, 'HASHLOG_INVALID_ARGUMENT');
const fullError = (m: string): HashlogError => new HashlogError(m, 'HASHLOG_FULL');

interface Options {
  sync: boolean;
  flushIntervalMs: number;
  segmentSize: number;
  maxValueSize: number;
  repair: boolean;
  maxKeys: number;
  maxDiskBytes: number;
  readOnly: boolean;
  useCheckpoint: boolean;
}

interface BatchOp {
  type: number;
  keyAt: number;
  keyLen: number;
  valueAt: number;
  valueLen: number;
  expiresAt: number;
}

export class JsStore implements NativeStore {
  private readonly fs = new FileSystem();
  private readonly lock = new LockFile(this.fs);
  private readonly hasher = new Hasher(); // rekeyed by open when a checkpoint is loaded
  private readonly index = new HashIndex();
  private readonly expiry = new ExpiryCounter();
  // By slot (index entries name a slot); compaction leaves holes, which are reused first.
  private segments: (Segment | undefined)[] = [];
  private freeSlots: number[] = [];
  // Log order: compacted segments first, the active one last.
  private log: Segment[] = [];
  private readonly progress = { done: 0, total: 0 };
  private active: Segment | undefined;
  private writer: LogWriter | undefined;
  private report: RecoveryReport | undefined;
  private o: Options | undefined;
  private dir = '';
  private seq = 0;
  private nextFileNumber = 1;
  private lastGen = 0;
  private logBytes = 0;
  private clockOffsetMs = 0;
  private appended = 0; // record bytes reserved since open, never decreasing
  private checkpointAppended = 0; // `appended` that the last checkpoint covers
  private rollbacks = 0; // failed commit events handled (checkpoints check it)
  private checkpointPauseMs = 0;
  private pendingCheckpoint: CheckpointImage | undefined;
  private failed: HashlogError | undefined;
  private syncedGen = 0; // every group up to it is durable
  private failures = 0; // failed flush events seen
  private job: CompactionJob | undefined;
  private readonly markWindow = new SegmentWindow(this.fs);
  private background = false; // a copy or unlink is running
  private finishClose: (() => void) | undefined; // close() waits for the writer and the background phase
  private asyncReads = 0; // getAsync reads that hold a record location
  private flushWaiters: (() => void)[] = []; // woken by every flush event, and by close
  // Set when a job had to leave sources on disk that the log no longer lists (compactUnlink).
  private sourcesLeft = false;
  private rollRequested = false; // the next write seals the active segment (compaction's policy)
  private compactions = 0;
  private compactedRead = 0;
  private compactedWritten = 0;
  private opened = false;
  private closed = false;
  private readonly manyMax: number;
  private readonly manyLengths: Uint32Array;
  private readonly manySizes: Int32Array;
  // The record a lookup found: its bytes at recBuf[recAt] (the read buffer or a commit group).
  private readonly readBuf = Buffer.allocUnsafe(RECORD_HEADER_SIZE + MAX_KEY_SIZE + READ_AHEAD);
  private recBuf: Buffer = this.readBuf;
  private recAt = 0;
  private recGot = 0; // bytes of the record at recBuf[recAt] that are valid
  private readonly h = new RecordHeader();
  private readonly old = new RecordHeader();
  // The key being looked up, for confirm(): keyBuf-like bytes at kAt.
  private kBuf: Buffer;
  private kAt = 0;
  private kLen = 0;
  private readAhead = 0;
  private tag = 0;
  private extra = 0;

  constructor(private readonly keyBuf: Buffer, private readonly valueBuf: Buffer, metaBuf: Buffer,
    private readonly onFlush: FlushCallback) {
    if (!Buffer.isBuffer(keyBuf) || !Buffer.isBuffer(valueBuf) || !Buffer.isBuffer(metaBuf) || typeof onFlush !== 'function') {
      throw new TypeError('JsStore(keyBuffer, valueBuffer, metaBuffer, onFlush)');
    }
    this.kBuf = keyBuf;
    this.manyMax = Math.floor(metaBuf.length / 8);
    this.manyLengths = new Uint32Array(metaBuf.buffer, metaBuf.byteOffset, this.manyMax);
    this.manySizes = new Int32Array(metaBuf.buffer, metaBuf.byteOffset + this.manyMax * 4, this.manyMax);
  }

  // ---- open and close ----

  async open(dir: string, sync: boolean, flushIntervalMs: number, segmentSize: number, maxValueSize: number,
    repair: boolean, maxKeys: number, maxDiskBytes: number, readOnly: boolean, useCheckpoint = true): Promise<void> {
    if (this.opened || this.closed) throw invalid('store already opened');
    this.opened = true;
    this.o = { sync, flushIntervalMs, segmentSize, maxValueSize, repair, maxKeys, maxDiskBytes, readOnly, useCheckpoint };
    this.dir = dir;
    try {
      if (readOnly) {
        this.lock.acquireShared(dir);
      } else {
        this.fs.mkdirSync(dir);
        this.lock.acquire(dir);
      }
      await this.recover();
    } catch (e) {
      for (const s of this.segments) s?.close();
      this.segments = [];
      this.log = [];
      this.lock.release();
      this.closed = true;
      if (e instanceof IndexFullError) throw fullError(e.message);
      throw e;
    }
  }

  private async recover(): Promise<void> {
    const o = this.options;
    this.report = await recover(this.fs, this.dir,
      { repair: o.repair, readOnly: o.readOnly, segmentSize: o.segmentSize, useCheckpoint: o.useCheckpoint, progress: this.progress },
      this.hasher, this.segments as Segment[], this.index, this.expiry);
    this.log = [...this.segments as Segment[]];
    this.recountLogBytes();
    this.appended = this.report.replayedBytes;
    this.seq = this.report.maxSeq;
    if (o.readOnly) return; // no writer, no new segment
    this.nextFileNumber = this.report.nextFileNumber;
    const last = this.log[this.log.length - 1] as Segment | undefined;
    // Appends never go to a compacted segment (it must stay a copy of older records).
    if (last === undefined || !last.writable || last.compacted) {
      const seg = new Segment(this.fs, this.dir, this.nextFileNumber++, 0);
      seg.reserve = o.segmentSize;
      seg.createSync();
      try {
        this.fs.syncDirSync(this.dir);
      } catch (e) {
        seg.close();
        throw e;
      }
      seg.end = SEGMENT_HEADER_SIZE;
      this.addSegment(seg);
    }
    this.active = this.log[this.log.length - 1];
    // Zero-fill ahead only when every group is synced (docs/DESIGN.md, "Zero-filled segments").
    const chunk = o.sync ? Math.min(PREALLOC_CHUNK, Math.ceil(o.segmentSize / 4096) * 4096) : 0;
    this.writer = new LogWriter(this.fs, this.dir, o.sync, o.flushIntervalMs, chunk, this.active,
      (ev) => this.handleFlushEvent(ev));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true; // also what makes a running copy stop (HASHLOG_CLOSED)
    for (const wake of this.flushWaiters.splice(0)) wake();
    const w = this.writer;
    this.finishClose = (): void => {
      for (const s of this.segments) s?.close();
      this.segments = [];
      this.log = [];
      this.job = undefined;
      this.active = undefined;
      this.lock.release();
    };
    w?.stopNow();
    // A write, copy or unlink still in flight on the pool must not find its descriptor
    // closed (or reused).
    if (w?.busy === true) void w.idle().then(() => this.tryFinishClose());
    this.tryFinishClose();
  }

  private tryFinishClose(): void {
    const finish = this.finishClose;
    if (finish === undefined || this.writer?.busy === true || this.background) return;
    this.finishClose = undefined;
    finish();
  }

  setActive(): void {
    // Pending fs requests keep the event loop alive by themselves.
  }

  // ---- reads ----

  private get options(): Options {
    if (this.o === undefined) throw invalid('store is not open');
    return this.o;
  }

  private ready(): void {
    if (!this.opened || this.closed || this.o === undefined) throw new HashlogError('store is closed', 'HASHLOG_CLOSED');
  }

  private now(): number {
    return Date.now() + this.clockOffsetMs;
  }

  private expired(h: RecordHeader): boolean {
    return h.expiresAt !== 0 && h.expiresAt <= this.now();
  }

  // Points recBuf/recAt at the record at (slot, off), with at least `want` bytes of it
  // (fewer at the end of the file). A record below flushedEnd is in the file.
  private locate(slot: number, off: number, want: number): void {
    const seg = this.segments[slot] as Segment;
    if (off < seg.flushedEnd) {
      this.recGot = this.fs.preadSync(seg.fd, this.readBuf, 0, Math.min(want, this.readBuf.length), off, seg.path);
      this.recBuf = this.readBuf;
      this.recAt = 0;
      return;
    }
    const w = this.writer;
    if (w === undefined || !w.findPending(seg, off, RECORD_HEADER_SIZE)) {
      throw new HashlogError(`record at ${seg.path}@${off} is missing`, 'HASHLOG_CORRUPTION');
    }
    this.recBuf = w.pendingBuf;
    this.recAt = w.pendingAt;
    this.recGot = w.pendingBuf.length - w.pendingAt;
  }

  private readonly confirm = (slot: number, off: number): boolean => {
    this.locate(slot, off, RECORD_HEADER_SIZE + this.kLen + this.readAhead);
    return recordHasKey(this.recBuf, this.recAt, this.kBuf, this.kAt, this.kLen);
  };

  // Hashes the key at buf[at, at + len) and finds its entry (-1 if none); on a hit the
  // record is at recBuf[recAt] and its header in this.h.
  private findKey(buf: Buffer, at: number, len: number, readAhead: number): number {
    this.hasher.hash(buf, at, len);
    this.tag = HashIndex.tagOf(this.hasher.hi);
    this.extra = this.hasher.lo & 0xffff;
    this.kBuf = buf;
    this.kAt = at;
    this.kLen = len;
    this.readAhead = readAhead;
    const e = this.index.find(this.tag, this.extra, this.confirm);
    if (e >= 0) decodeHeader(this.recBuf, this.recAt, this.h);
    return e;
  }

  private checkKey(keyLength: number): void {
    if (!(keyLength > 0 && keyLength <= MAX_KEY_SIZE)) throw invalid('key size out of range');
  }

  // The live record of the key in keyBuf[0, n) (header in this.h), or false.
  private findLive(n: number, readAhead: number): boolean {
    this.checkKey(n);
    return this.findKey(this.keyBuf, 0, n, readAhead) >= 0 && !this.expired(this.h);
  }

  // Copies the found record's value into target (when it fits); returns its length.
  private copyValue(target: Buffer): number {
    const h = this.h;
    const size = h.valueSize;
    if (size > target.length) return size;
    const start = this.recAt + RECORD_HEADER_SIZE + h.keySize;
    const have = Math.max(0, Math.min(size, this.recGot - RECORD_HEADER_SIZE - h.keySize));
    this.recBuf.copy(target, 0, start, start + have);
    if (have < size) {
      // A value longer than the read-ahead: read the rest straight into the target.
      const e = this.index.find(this.tag, this.extra, this.confirm); // re-locates the record
      const seg = this.segments[this.index.slotOf(e)] as Segment;
      const off = this.index.offsetOf(e) + RECORD_HEADER_SIZE + h.keySize + have;
      this.fs.preadSync(seg.fd, target, have, size - have, off, seg.path);
    }
    return size;
  }

  get(keyLength: number): number {
    this.ready();
    if (!this.findLive(keyLength, READ_AHEAD)) return -1;
    return this.copyValue(this.valueBuf);
  }

  getInto(keyLength: number, target: Buffer): number {
    this.ready();
    if (!this.findLive(keyLength, READ_AHEAD)) return -1;
    return this.copyValue(target);
  }

  has(keyLength: number): boolean {
    this.ready();
    return this.findLive(keyLength, 0);
  }

  expiresAt(keyLength: number): number {
    this.ready();
    return this.findLive(keyLength, 0) ? this.h.expiresAt : -1;
  }

  getMany(count: number): number {
    this.ready();
    const n = Math.min(count, this.manyMax);
    let keyAt = 0;
    let used = 0;
    for (let i = 0; i < n; i++) {
      const len = this.manyLengths[i];
      this.checkKey(len);
      let size = -1;
      if (this.findKey(this.keyBuf, keyAt, len, READ_AHEAD) >= 0 && !this.expired(this.h)) {
        size = this.h.valueSize;
        if (used + size > this.valueBuf.length) return i; // the caller continues from here
        this.copyValue(this.valueBuf.subarray(used));
        used += size;
      }
      this.manySizes[i] = size;
      keyAt += len;
    }
    return n;
  }

  getAsync(keyLength: number): Promise<Buffer | undefined> {
    this.ready();
    this.checkKey(keyLength);
    // The probe touches only the index (RAM) now; the records, which may be cold, are read
    // on the libuv pool (native Store::Locate). A candidate still in a commit group is
    // answered at once, from memory.
    this.hasher.hash(this.keyBuf, 0, keyLength);
    const candidates: number[] = [];
    let pending = false;
    this.index.candidates(HashIndex.tagOf(this.hasher.hi), this.hasher.lo & 0xffff, (slot, off) => {
      if (off < (this.segments[slot] as Segment).flushedEnd) candidates.push(slot, off);
      else pending = true;
      return false;
    });
    if (pending) {
      if (!this.findLive(keyLength, READ_AHEAD)) return Promise.resolve(undefined);
      const out = Buffer.allocUnsafe(this.h.valueSize);
      this.copyValue(out);
      return Promise.resolve(out);
    }
    if (candidates.length === 0) return Promise.resolve(undefined);
    return this.readLocated(candidates, Buffer.from(this.keyBuf.subarray(0, keyLength)));
  }

  // The value of the first of the candidate records (slot, offset pairs) that holds `key`
  // and has not expired. The records stay in their files until close, which waits for this,
  // and their slots stay taken: compactRetire waits for asyncReads to drop to 0.
  private async readLocated(candidates: number[], key: Buffer): Promise<Buffer | undefined> {
    this.asyncReads++;
    try {
      return await this.readCandidates(candidates, key);
    } finally {
      this.asyncReads--;
    }
  }

  private async readCandidates(candidates: number[], key: Buffer): Promise<Buffer | undefined> {
    const h = new RecordHeader();
    const head = RECORD_HEADER_SIZE + key.length;
    for (let i = 0; i < candidates.length; i += 2) {
      const seg = this.segments[candidates[i]] as Segment;
      const off = candidates[i + 1];
      const buf = Buffer.allocUnsafe(head + READ_AHEAD);
      const got = await this.fs.pread(seg.fd, buf, 0, buf.length, off, seg.path);
      if (got < head || !recordHasKey(buf, 0, key, 0, key.length)) continue;
      decodeHeader(buf, 0, h);
      if (h.type !== TYPE_PUT || this.expired(h)) return undefined;
      const out = Buffer.allocUnsafe(h.valueSize);
      const have = Math.min(h.valueSize, got - head);
      buf.copy(out, 0, head, head + have);
      if (have < h.valueSize) await this.fs.pread(seg.fd, out, have, h.valueSize - have, off + head + have, seg.path);
      return out;
    }
    return undefined;
  }

  scan(cursor: number, count: number): [number, Buffer[]] {
    this.ready();
    const keys: Buffer[] = [];
    const step = TWO32 / this.index.bucketCount; // one bucket's share of the tags
    let at = cursor;
    const h = this.h;
    while (at < TWO32 && keys.length < count) {
      const until = Math.min(TWO32, (Math.floor(at / step) + 1) * step);
      this.index.forEachInTagRange(at, until, (slot, off) => {
        this.locate(slot, off, RECORD_HEADER_SIZE + 256);
        decodeHeader(this.recBuf, this.recAt, h);
        if (this.expired(h)) return;
        const k = Buffer.allocUnsafe(h.keySize);
        const start = this.recAt + RECORD_HEADER_SIZE;
        if (this.recGot >= RECORD_HEADER_SIZE + h.keySize) {
          this.recBuf.copy(k, 0, start, start + h.keySize);
        } else {
          const seg = this.segments[slot] as Segment;
          this.fs.preadSync(seg.fd, k, 0, h.keySize, off + RECORD_HEADER_SIZE, seg.path);
        }
        keys.push(k);
      });
      at = until;
    }
    return [at >= TWO32 ? 0 : at, keys];
  }

  size(): number {
    this.ready();
    return this.liveKeys();
  }

  /** [bytes scanned, bytes to scan] of the recovery open() runs (native: recoveryProgress). */
  recoveryProgress(): [number, number] {
    return [this.progress.done, this.progress.total];
  }

  /**
   * Every segment with records, in log order, and how many of its bytes are in the file
   * (online backup): [name, written, end, flags].
   */
  writtenSegments(): [string, number, number, number][] {
    this.ready();
    return this.log.filter((s) => s.flushedEnd > SEGMENT_HEADER_SIZE)
      .map((s): [string, number, number, number] => [Segment.fileName(s.fileNumber), s.flushedEnd, s.end, s.flags]);
  }

  private liveKeys(): number {
    const expired = this.expiry.expiredAt(this.now());
    return this.index.size > expired ? this.index.size - expired : 0;
  }

  // ---- writes ----

  private checkWritable(): LogWriter {
    this.ready();
    if (this.options.readOnly) throw new HashlogError('store is open read-only', 'HASHLOG_READONLY');
    if (this.failed !== undefined) throw failedError(this.failed.cause as HashlogError);
    return this.writer as LogWriter;
  }

  private checkLimits(newKey: boolean, n: number): void {
    const o = this.options;
    if (newKey && o.maxKeys !== 0 && this.liveKeys() >= o.maxKeys) throw fullError(`maxKeys (${o.maxKeys}) reached`);
    if (o.maxDiskBytes !== 0 && this.logBytes + n > o.maxDiskBytes) throw fullError(`maxDiskBytes (${o.maxDiskBytes}) reached`);
  }

  private ensureRoom(more: number): void {
    try {
      this.index.ensureRoomFor(more);
    } catch (e) {
      if (e instanceof IndexFullError) throw fullError(e.message);
      throw e;
    }
  }

  // Places a record of n bytes, rolling to a new segment; returns its offset in `active`.
  private reserve(n: number): number {
    const o = this.options;
    let active = this.active as Segment;
    // Roll when the record would pass the segment size (unless the segment is empty: a large
    // record gets a segment of its own) or its reservation.
    const tooBig = active.end + n > o.segmentSize && active.end > SEGMENT_HEADER_SIZE;
    const roll = this.rollRequested && active.end > SEGMENT_HEADER_SIZE;
    if (tooBig || roll || active.end + n > Math.max(active.reserve, o.segmentSize)) {
      this.rollRequested = false;
      const seg = new Segment(this.fs, this.dir, this.nextFileNumber, 0);
      seg.reserve = Math.max(o.segmentSize, SEGMENT_HEADER_SIZE + n);
      seg.end = SEGMENT_HEADER_SIZE;
      this.addSegment(seg);
      this.nextFileNumber++;
      active.sealedAt = active.end;
      this.active = active = seg;
    }
    if (active.firstGen === NO_GEN) active.firstGen = (this.writer as LogWriter).openGen;
    const off = active.end;
    active.end += n;
    this.logBytes += n;
    this.appended += n;
    return off;
  }

  // The record of one put or delete was encoded at (slot, off): points the index at it and
  // keeps the accounting and the undo log. `e` is the key's entry (or -1), this.old its header.
  private indexRecord(w: LogWriter, type: number, e: number, slot: number, off: number, n: number, expiresAt: number): void {
    const undo: UndoEntry = {
      tag: this.tag, extra: this.extra, newLoc: 0, oldLoc: 0, newSize: 0, oldSize: 0, newExpiresAt: 0, oldExpiresAt: 0,
    };
    if (e >= 0) {
      const oldSlot = this.index.slotOf(e);
      undo.oldLoc = oldSlot * TWO32 + this.index.offsetOf(e);
      undo.oldSize = this.old.totalSize;
      undo.oldExpiresAt = this.old.expiresAt;
      (this.segments[oldSlot] as Segment).liveBytes -= undo.oldSize;
      this.expiry.remove(this.old.expiresAt);
    }
    if (type === TYPE_PUT) {
      undo.newLoc = slot * TWO32 + off;
      undo.newSize = n;
      undo.newExpiresAt = expiresAt;
      if (e >= 0) this.index.replace(e, slot, off);
      else this.index.insert(this.tag, this.extra, slot, off);
      (this.segments[slot] as Segment).liveBytes += n;
      this.expiry.add(expiresAt);
    } else if (e >= 0) {
      this.index.erase(e);
    }
    w.addUndo(undo);
  }

  // Looks the key up for a write: its entry or -1, its old header in this.old.
  private findForWrite(buf: Buffer, at: number, len: number): number {
    const e = this.findKey(buf, at, len, 0);
    if (e >= 0) {
      const h = this.h;
      const old = this.old;
      old.type = h.type;
      old.keySize = h.keySize;
      old.valueSize = h.valueSize;
      old.seq = h.seq;
      old.expiresAt = h.expiresAt;
    }
    return e;
  }

  put(keyLength: number, value: Uint8Array | null, valueLength: number, expiresAt: number): number {
    const w = this.checkWritable();
    this.checkKey(keyLength);
    const v: Uint8Array = value === null ? this.valueBuf : value;
    const vLen = value === null ? Math.min(valueLength, this.valueBuf.length) : value.byteLength;
    if (vLen > this.options.maxValueSize) throw invalid('value too large');
    this.ensureRoom(1);
    return this.putBytes(w, this.keyBuf, keyLength, v, vLen, expiresAt);
  }

  private putBytes(w: LogWriter, key: Buffer, keyLength: number, v: Uint8Array, vLen: number, expiresAt: number): number {
    const n = RECORD_HEADER_SIZE + keyLength + vLen;
    const e = this.findForWrite(key, 0, keyLength);
    this.checkLimits(e < 0 || this.expired(this.old), n);
    const off = this.reserve(n);
    const active = this.active as Segment;
    const at = w.append(active, off, n);
    encodeRecord(w.open.buf, at, TYPE_PUT, ++this.seq, expiresAt, key, keyLength, v, 0, vLen);
    this.indexRecord(w, TYPE_PUT, e, active.slot, off, n, expiresAt);
    this.lastGen = w.openGen;
    w.kickIfLarge();
    return this.lastGen;
  }

  del(keyLength: number): number {
    const w = this.checkWritable();
    this.checkKey(keyLength);
    this.index.step(); // resize work (a shrink may start) before the lookup, as put grows first
    const e = this.findForWrite(this.keyBuf, 0, keyLength);
    // Nothing to write for an absent key; the caller still waits for the writes before it.
    if (e < 0) return this.lastGen * 2;
    // An expired record still gets a tombstone, so that replay never depends on the clock.
    const existed = !this.expired(this.old);
    const n = RECORD_HEADER_SIZE + keyLength;
    const off = this.reserve(n); // deletes pass maxDiskBytes: they are how space is won back
    const active = this.active as Segment;
    const at = w.append(active, off, n);
    encodeRecord(w.open.buf, at, TYPE_DELETE, ++this.seq, 0, this.keyBuf, keyLength, null, 0, 0);
    this.indexRecord(w, TYPE_DELETE, e, active.slot, off, n, 0);
    this.lastGen = w.openGen;
    w.kickIfLarge();
    return this.lastGen * 2 + (existed ? 1 : 0);
  }

  private parseBatch(ops: Uint8Array): { parsed: BatchOp[]; innerBytes: number } {
    const maxValue = this.options.maxValueSize;
    const parsed: BatchOp[] = [];
    let innerBytes = 0;
    let p = 0;
    const end = ops.byteLength;
    while (p < end) {
      if (end - p < BATCH_OP_HEADER) throw invalid('truncated batch');
      const type = ops[p];
      const keyLen = readU32(ops, p + 4);
      const valueLen = readU32(ops, p + 8);
      const expiresAt = readU64(ops, p + 16);
      if (type !== TYPE_PUT && type !== TYPE_DELETE) throw invalid('bad batch operation');
      if (keyLen === 0 || keyLen > MAX_KEY_SIZE) throw invalid('key size out of range');
      if (valueLen > maxValue || (type === TYPE_DELETE && valueLen !== 0)) throw invalid('value too large');
      if (end - p < BATCH_OP_HEADER + keyLen + valueLen) throw invalid('truncated batch');
      parsed.push({ type, keyAt: p + BATCH_OP_HEADER, keyLen, valueAt: p + BATCH_OP_HEADER + keyLen, valueLen, expiresAt });
      innerBytes += RECORD_HEADER_SIZE + keyLen + valueLen;
      p += BATCH_OP_HEADER + keyLen + valueLen;
    }
    if (innerBytes > MAX_VALUE_SIZE) throw invalid('batch too large');
    return { parsed, innerBytes };
  }

  batch(ops: Uint8Array): number {
    const w = this.checkWritable();
    const buf = Buffer.from(ops.buffer, ops.byteOffset, ops.byteLength);
    const { parsed, innerBytes } = this.parseBatch(buf);
    if (parsed.length === 0) return this.lastGen;
    this.ensureRoom(parsed.length);
    const n = RECORD_HEADER_SIZE + innerBytes;
    const o = this.options;
    if (o.maxKeys !== 0) {
      let fresh = 0; // keys the batch would add (a key put twice counts twice: conservative)
      for (const op of parsed) if (op.type === TYPE_PUT && this.findKey(buf, op.keyAt, op.keyLen, 0) < 0) fresh++;
      if (fresh > 0 && this.liveKeys() + fresh > o.maxKeys) throw fullError(`maxKeys (${o.maxKeys}) reached`);
    }
    // A batch of deletes only passes maxDiskBytes, like a delete.
    if (parsed.some((op) => op.type === TYPE_PUT)) this.checkLimits(false, n);
    const off = this.reserve(n);
    const active = this.active as Segment;
    const outer = w.append(active, off, n);
    // Inner records are encoded one by one and indexed at once, so a later operation on the
    // same key finds the earlier one (in the group buffer) like any other record. append()
    // is not called again in this batch, so `outer` stays valid.
    let rel = RECORD_HEADER_SIZE;
    for (const op of parsed) {
      const e = this.findForWrite(buf, op.keyAt, op.keyLen);
      const rn = RECORD_HEADER_SIZE + op.keyLen + op.valueLen;
      const g = w.open.buf;
      buf.copy(g, outer + rel + RECORD_HEADER_SIZE, op.keyAt, op.keyAt + op.keyLen + op.valueLen);
      encodeHeaderInPlace(g, outer + rel, op.type, ++this.seq, op.expiresAt, op.keyLen, op.valueLen);
      this.indexRecord(w, op.type, e, active.slot, off + rel, rn, op.expiresAt);
      rel += rn;
    }
    // The batch's own header: keyLen 0, the inner records as its value, the last inner seq.
    encodeHeaderInPlace(w.open.buf, outer, TYPE_BATCH, this.seq, 0, 0, innerBytes);
    this.lastGen = w.openGen;
    w.kickIfLarge();
    return this.lastGen;
  }

  setExpiry(keyLength: number, expiresAt: number, onlyIfExpiring: boolean): number {
    const w = this.checkWritable();
    if (!this.findLive(keyLength, READ_AHEAD)) return this.lastGen * 2;
    if (onlyIfExpiring && this.h.expiresAt === 0) return this.lastGen * 2;
    // Copy the value: put appends to the group buffer, which may move under a view of it.
    const value = Buffer.allocUnsafe(this.h.valueSize);
    this.copyValue(value);
    const key = Buffer.from(this.keyBuf.subarray(0, keyLength));
    if (value.length > this.options.maxValueSize) throw invalid('value too large');
    this.ensureRoom(1);
    return this.putBytes(w, key, keyLength, value, value.length, expiresAt) * 2 + 1;
  }

  appendClear(): number {
    const w = this.checkWritable();
    const off = this.reserve(RECORD_HEADER_SIZE);
    const at = w.append(this.active as Segment, off, RECORD_HEADER_SIZE);
    encodeRecord(w.open.buf, at, TYPE_CLEAR, ++this.seq, 0, this.keyBuf, 0, null, 0, 0);
    w.addUndo({ tag: 0, extra: 0, newLoc: 0, oldLoc: 0, newSize: 0, oldSize: 0, newExpiresAt: 0, oldExpiresAt: 0 });
    this.lastGen = w.openGen;
    w.wake();
    return this.lastGen;
  }

  applyClear(): void {
    if (this.closed) return;
    this.index.clear();
    this.expiry.clear();
    for (const seg of this.segments) if (seg !== undefined) seg.liveBytes = 0;
    this.index.shrinkToFit();
  }

  kick(): void {
    if (!this.closed && this.writer !== undefined) this.writer.wake();
  }

  flush(): number {
    this.ready();
    if (this.writer === undefined) return 0;
    return this.writer.requestSync();
  }

  // ---- segments: slots and log order ----

  // Gives a segment a slot (reusing one that compaction freed) and takes it over.
  private takeSlot(seg: Segment): void {
    let slot = this.freeSlots.pop();
    if (slot === undefined) {
      if (this.segments.length >= MAX_SEGMENT_SLOTS) throw fullError('too many segments');
      slot = this.segments.length;
      this.segments.push(undefined);
    }
    seg.slot = slot;
    this.segments[slot] = seg;
  }

  // takeSlot, then appends it to the log.
  private addSegment(seg: Segment): void {
    this.takeSlot(seg);
    this.log.push(seg);
  }

  private freeSlot(slot: number): void {
    this.segments[slot]?.close();
    this.segments[slot] = undefined;
    this.freeSlots.push(slot);
  }

  private recountLogBytes(): void {
    this.logBytes = 0;
    for (const seg of this.log) this.logBytes += seg.end - SEGMENT_HEADER_SIZE;
  }

  // ---- compaction (lib/js/compaction.ts; native/store_compaction.cc) ----

  // How many segments at the front of the log a compaction may take.
  private compactableCount(): number {
    const log = this.log;
    let n = 0;
    while (n < log.length && log[n].compacted) n++;
    // An ordinary segment may go once the segment after it has a synced group: every record
    // in it is then durable (a failed group can no longer roll back to it), and the flush
    // loop has moved on for good. The active segment never goes.
    while (n + 1 < log.length && !log[n].compacted && log[n + 1].firstGen !== NO_GEN && log[n + 1].firstGen <= this.syncedGen) n++;
    return n;
  }

  /** [[name, flags, bytes, liveBytes, compactable], ...] in log order (lib/compaction.ts). */
  listSegments(): [string, number, number, number, boolean][] {
    this.ready();
    const compactable = this.compactableCount();
    return this.log.map((seg, i): [string, number, number, number, boolean] =>
      [Segment.fileName(seg.fileNumber), seg.flags, seg.end - SEGMENT_HEADER_SIZE, seg.liveBytes, i < compactable]);
  }

  /**
   * Starts a job on the compacted segments and the oldest ordinary ones the writer has left
   * for good; false when they hold no garbage. maxOutputSize 0 = the segment size.
   */
  compactStart(maxOutputSize: number, bytesPerSecond: number, keepFromFile = 0): boolean {
    this.checkWritable();
    if (this.job !== undefined) throw invalid('a compaction is already running');
    // Sources a job left on disk hold records older than the log's outputs; a new job could
    // drop a tombstone that keeps one of them deleted, which the next open would bring back.
    // Until that open (which scans them in log order), no job runs.
    if (this.sourcesLeft) {
      throw new HashlogError(`compact ${this.dir}: an earlier job left segments behind after a failure: reopen the store`,
        'HASHLOG_IO');
    }
    let n = this.compactableCount();
    if (keepFromFile !== 0) {
      // Ordinary segments from keepFromFile on stay: a replication feed still streams them.
      let keep = 0;
      while (keep < n && (this.log[keep].compacted || this.log[keep].fileNumber < keepFromFile)) keep++;
      n = keep;
    }
    let bytes = 0;
    let live = 0;
    for (let i = 0; i < n; i++) {
      bytes += this.log[i].end - SEGMENT_HEADER_SIZE;
      live += this.log[i].liveBytes;
    }
    // No garbage in reach (or nothing at all), unless keys expired: their records count as
    // live bytes until a job drops them.
    if (bytes === live && this.expiry.expiredAt(this.now()) === 0) return false;
    // Offsets in a segment are 32-bit: an output stays below 4 GiB.
    const maxOut = Math.min(Math.max(maxOutputSize !== 0 ? maxOutputSize : this.options.segmentSize,
      SEGMENT_HEADER_SIZE + 1), TWO32 - 1);
    // Each output but the last is over half full unless a record does not fit: at most
    // 2 * live / max + 1 of them. Numbers are reserved now because the writer takes new ones too.
    const outputs = Math.floor((2 * live) / maxOut) + 2;
    this.job = new CompactionJob(this.log.slice(0, n), this.nextFileNumber, outputs, maxOut, bytesPerSecond, bytes,
      this.failures);
    this.nextFileNumber += outputs;
    return true;
  }

  // Notes the put at (source, offset) whose header is this.h and whose bytes are at buf[at]
  // as a move (live) or a drop (live but expired).
  private markRecord(job: CompactionJob, source: number, offset: number, buf: Buffer, at: number, h: RecordHeader): void {
    const slot = job.sources[source].slot;
    this.hasher.hash(buf, at + RECORD_HEADER_SIZE, h.keySize);
    const tag = HashIndex.tagOf(this.hasher.hi);
    const extra = this.hasher.lo & 0xffff;
    // Live means the index points at exactly this record: no key comparison needed.
    if (this.index.find(tag, extra, (s, o) => s === slot && o === offset) < 0) return;
    if (this.expired(h)) job.drops.add(source, offset, tag, extra, h.totalSize, h.expiresAt);
    else job.moves.add(source, offset, tag, extra, h.totalSize, 0);
  }

  // Marks the records of one source from job.markOffset, at most `budget` of them and
  // about `bytes` of it; returns [records, bytes] done.
  private markRecords(job: CompactionJob, source: number, budget: number, bytes: number): [number, number] {
    const seg = job.sources[source];
    const w = this.markWindow;
    const h = this.h;
    const inner = this.old;
    let pos = Math.max(job.markOffset, SEGMENT_HEADER_SIZE);
    const from = pos;
    let done = 0;
    while (pos < seg.end && done < budget && pos - from < bytes) {
      const at = w.ensureRecordSync(seg, pos, seg.end);
      if (decodeRecord(w.buf, at, seg.end - pos, h) !== DecodeResult.Ok) {
        // Only a store opened with repair has damaged ranges inside its segments (recovery
        // stepped over them); step over them the same way, to the next intact record.
        let next = pos + 1;
        while (next + RECORD_HEADER_SIZE <= seg.end) {
          const a = w.ensureRecordSync(seg, next, seg.end);
          if (decodeRecord(w.buf, a, seg.end - next, h) === DecodeResult.Ok) break;
          next++;
        }
        if (next + RECORD_HEADER_SIZE > seg.end) next = seg.end;
        job.skippedBytes += next - pos;
        pos = next;
        continue;
      }
      if (h.type === TYPE_PUT) {
        this.markRecord(job, source, pos, w.buf, at, h);
      } else if (h.type === TYPE_BATCH) {
        // Inner records are indexed one by one; the copies are plain records (a batch's
        // all-or-nothing promise is kept: it is whole on disk already).
        const total = h.totalSize;
        for (let p = RECORD_HEADER_SIZE; p < total;) {
          decodeHeader(w.buf, at + p, inner);
          if (inner.type === TYPE_PUT) this.markRecord(job, source, pos + p, w.buf, at + p, inner);
          p += inner.totalSize;
          done++;
        }
      }
      // Deletes and clears are dropped: nothing older than the job's sources exists for them
      // to delete, and the records they deleted are not copied.
      pos += h.totalSize;
      done++;
    }
    job.markOffset = pos;
    return [done, pos - from];
  }

  /** Marks up to `budget` records; true when every source is marked. */
  compactMark(budget: number): boolean {
    this.ready();
    const job = this.job;
    if (job === undefined) return true;
    const b = budget >= 1 ? Math.floor(budget) : 1;
    let used = 0;
    let read = 0;
    while (job.markSource < job.sources.length && used < b && read < MARK_SLICE_BYTES) {
      const [records, bytes] = this.markRecords(job, job.markSource, b - used, MARK_SLICE_BYTES - read);
      used += records;
      read += bytes;
      if (job.markOffset >= job.sources[job.markSource].end) {
        job.markSource++;
        job.markOffset = 0;
      }
    }
    return job.markSource >= job.sources.length;
  }

  // Runs a copy or unlink; close() waits for it before it closes the descriptors.
  private async inBackground(phase: (job: CompactionJob) => Promise<void>): Promise<void> {
    this.ready();
    if (this.job === undefined) throw invalid('no compaction is running');
    const job = this.job;
    this.background = true;
    try {
      await phase(job);
    } finally {
      this.background = false;
      this.tryFinishClose();
    }
  }

  /** The copy phase: the outputs are written, synced and renamed into place. */
  compactCopy(): Promise<void> {
    return this.inBackground((job) => copyLiveRecords(this.fs, this.dir, job, () => this.closed));
  }

  // Opens the outputs the copy wrote and gives them slots (native maps them).
  private mapOutputs(job: CompactionJob): void {
    const head = Buffer.alloc(SEGMENT_HEADER_SIZE);
    const out: SegmentHeader = { fileNumber: 0, major: 0, minor: 0, flags: 0 };
    for (let i = job.mapped.length; i < job.outputs.length; i++) {
      const o = job.outputs[i];
      const seg = new Segment(this.fs, this.dir, o.fileNumber, 0);
      seg.open(false);
      try {
        // Read through the seam's 'read' (native: 'mmap') step, as the mapping is in native.
        if (seg.read(head, 0, SEGMENT_HEADER_SIZE, 0) !== SEGMENT_HEADER_SIZE || decodeSegmentHeader(head, out) !== HeaderResult.Ok
          || out.fileNumber !== o.fileNumber || seg.fileSize !== o.size) {
          throw new HashlogError(`bad segment header in ${seg.path} at offset 0`, 'HASHLOG_CORRUPTION');
        }
        seg.flags = SEGMENT_COMPACTED;
        seg.end = o.size;
        seg.flushedEnd = o.size;
        seg.firstGen = 0;
        this.takeSlot(seg);
      } catch (e) {
        seg.close();
        throw e;
      }
      job.mapped.push(seg);
    }
  }

  /** Points the index at the copies where it still points at the originals, up to `budget` entries; true when done. */
  compactInstall(budget: number): boolean {
    this.ready();
    const job = this.job;
    if (job === undefined || job.installed) return true;
    const b = budget >= 1 ? Math.floor(budget) : 1;
    this.mapOutputs(job);
    let used = 0;
    const m = job.moves;
    for (; job.installNext < m.length && used < b; job.installNext++, used++) {
      const i = job.installNext;
      const src = job.sources[m.source.data[i]];
      const dst = job.mapped[m.output.data[i]];
      const from = m.offset.data[i];
      const e = this.index.find(m.tag.data[i], m.extra.data[i], (s, o) => s === src.slot && o === from);
      if (e < 0) continue; // overwritten or deleted since it was marked: the newer record wins
      this.index.replace(e, dst.slot, m.toOffset.data[i]);
      src.liveBytes -= m.size.data[i];
      dst.liveBytes += m.size.data[i];
    }
    const d = job.drops;
    for (; job.dropNext < d.length && used < b; job.dropNext++, used++) {
      const i = job.dropNext;
      const src = job.sources[d.source.data[i]];
      const at = d.offset.data[i];
      const e = this.index.find(d.tag.data[i], d.extra.data[i], (s, o) => s === src.slot && o === at);
      if (e < 0) continue;
      this.index.erase(e);
      this.expiry.remove(d.expiresAt.data[i]);
      src.liveBytes -= d.size.data[i];
    }
    if (job.installNext < m.length || job.dropNext < d.length) return false;
    // The sources were the front of the log, and nothing but a job removes from the front.
    this.log = [...job.mapped, ...this.log.slice(job.sources.length)];
    this.recountLogBytes();
    job.genAfterInstall = this.lastGen;
    job.installed = true;
    return true;
  }

  /**
   * Deletes the sources, oldest first, once every write made until the end of install is
   * durable. (Native deletes them at once: see docs/DESIGN.md, "The js engine".)
   */
  compactUnlink(): Promise<void> {
    return this.inBackground(async (job) => {
      // Mark skipped every record that a newer write had replaced. Until that write is
      // durable, the source holds the only durable copy of the key: a crash would lose both.
      while (this.syncedGen < job.genAfterInstall && this.failures === job.failuresAtStart && !this.closed) {
        (this.writer as LogWriter).requestSync();
        await new Promise<void>((resolve) => this.flushWaiters.push(resolve));
      }
      if (this.closed) throw new HashlogError('store is closed', 'HASHLOG_CLOSED');
      if (this.failures !== job.failuresAtStart) {
        // A rollback may have pointed an entry back at a record that was not copied: the
        // sources must stay (compactStart explains what that costs).
        this.sourcesLeft = true;
        return;
      }
      try {
        await unlinkSources(this.fs, this.dir, job);
      } catch (e) {
        if (job.unlinked < job.sources.length) this.sourcesLeft = true;
        throw e;
      }
    });
  }

  /**
   * Closes the sources once nothing can read them any more (every write that might roll
   * back to them is durable, and no getAsync read holds a location). True when the job is over.
   */
  compactRetire(): boolean {
    this.ready();
    const job = this.job;
    if (job === undefined) return true;
    if (this.failures === job.failuresAtStart) {
      // A write that was in flight during install may still roll back to a source record:
      // wait until it is durable.
      if (this.syncedGen < job.genAfterInstall || this.asyncReads > 0) return false;
      for (const seg of job.sources) this.freeSlot(seg.slot);
    }
    // else: a rollback may have pointed an entry back at a source; the sources stay open
    // (and their slots taken) until close. Their files are gone either way.
    this.compactions++;
    this.compactedRead += job.bytesRead;
    this.compactedWritten += job.bytesWritten;
    this.job = undefined;
    return true;
  }

  /**
   * Ends a job that failed in copy or at the start of install (REQUIRES: no entry moved);
   * removes the outputs, failing-stop if one cannot be removed.
   */
  /**
   * Native's settle step (Store::CompactSettle). Here compactUnlink() itself waits until the
   * writes made before install are durable, and after a failed commit or unlink it leaves the
   * sources on disk and refuses new jobs until the store is reopened (native instead keeps
   * them in the log for the next job).
   */
  compactSettle(): boolean {
    return this.job?.installed ?? false;
  }

  /** The next write starts a new segment (native Store::RollActive). */
  rollSegment(): void {
    this.rollRequested = true;
  }

  compactAbort(): void {
    const job = this.job;
    if (job === undefined || this.closed) return;
    // No entry points at an output yet (install moves none before every output is mapped).
    // Outputs already renamed into place must go, like a failed copy's (compaction.h).
    let orphaned = job.orphaned;
    for (const seg of job.mapped) this.freeSlot(seg.slot);
    for (const o of job.outputs) {
      try {
        this.fs.unlinkSync(path.join(this.dir, Segment.fileName(o.fileNumber)));
      } catch {
        orphaned = true;
      }
    }
    if (job.outputs.length > 0) {
      try {
        this.fs.syncDirSync(this.dir);
      } catch {
        orphaned = true;
      }
    }
    if (orphaned && this.failed === undefined) {
      const cause = ioError('unlink', `${this.dir} (a compaction output)`, { errno: 5, code: 'EIO', message: 'EIO: i/o error' });
      this.failed = failedError(cause);
    }
    this.job = undefined;
  }

  // ---- commit events and rollback ----

  private undo(u: UndoEntry): void {
    if (u.newLoc !== 0) {
      const e = this.index.find(u.tag, u.extra, (s, o) => s * TWO32 + o === u.newLoc);
      if (e < 0) return;
      (this.segments[Math.floor(u.newLoc / TWO32)] as Segment).liveBytes -= u.newSize;
      this.expiry.remove(u.newExpiresAt);
      if (u.oldLoc !== 0) {
        this.index.replace(e, Math.floor(u.oldLoc / TWO32), u.oldLoc % TWO32);
        (this.segments[Math.floor(u.oldLoc / TWO32)] as Segment).liveBytes += u.oldSize;
        this.expiry.add(u.oldExpiresAt);
      } else {
        this.index.erase(e);
      }
    } else if (u.oldLoc !== 0) {
      // A delete: put the old entry back.
      try {
        this.index.ensureRoomFor(1);
      } catch {
        return; // out of memory: the index stays short
      }
      this.index.insert(u.tag, u.extra, Math.floor(u.oldLoc / TWO32), u.oldLoc % TWO32);
      (this.segments[Math.floor(u.oldLoc / TWO32)] as Segment).liveBytes += u.oldSize;
      this.expiry.add(u.oldExpiresAt);
    }
  }

  private handleFlushEvent(ev: FlushEvent): void {
    let first = 0;
    let last = 0;
    const w = this.writer as LogWriter;
    if (ev.error === undefined) this.syncedGen = Math.max(this.syncedGen, ev.syncedGen);
    if (ev.error !== undefined && !this.closed) this.failures++;
    for (const wake of this.flushWaiters.splice(0)) wake();
    if (ev.error !== undefined && !this.closed) {
      const resume = ev.error.code !== 'HASHLOG_FAILED';
      if (!resume) this.failed = ev.error;
      this.rollbacks++;
      const rb = w.takeForRollback();
      first = rb.firstGen;
      last = rb.lastGen;
      for (const u of rb.undo) this.undo(u); // newest first
      if (resume && rb.start !== undefined) {
        // No record of the failed groups reached a file: append again from where they
        // started, dropping segments they opened (a file may exist with just its header).
        // (File numbers are not reused: a compaction may have reserved the next ones.)
        const start = rb.start;
        let removed = false;
        while (this.log[this.log.length - 1] !== start) {
          const seg = this.log.pop() as Segment;
          if (seg.created) {
            seg.discard();
            removed = true;
          }
          this.freeSlot(seg.slot);
        }
        if (removed) {
          try {
            this.fs.syncDirSync(this.dir);
          } catch {
            // Best effort: an empty segment is harmless.
          }
        }
        this.active = start;
        start.end = rb.offset;
        start.sealedAt = 0;
        if (rb.offset === SEGMENT_HEADER_SIZE) start.firstGen = NO_GEN;
        this.recountLogBytes();
        // A segment the failed groups were to create was never left by the flush loop's
        // predecessor, which is therefore still in the log (compaction takes none it may use).
        w.resume(start.created ? start : this.log[this.log.length - 2]);
      } else if (resume) {
        w.resume(undefined);
      }
    }
    if (this.closed) return;
    this.onFlush(ev.writtenGen, ev.syncedGen, first, last, ev.error);
  }

  // ---- introspection and tests ----

  stats(): NativeStats {
    this.ready();
    let liveBytes = 0;
    let logBytes = 0;
    for (const seg of this.log) {
      liveBytes += seg.liveBytes;
      logBytes += seg.end - SEGMENT_HEADER_SIZE;
    }
    return {
      keys: this.liveKeys(),
      indexedKeys: this.index.size,
      liveBytes,
      garbageBytes: logBytes - liveBytes,
      logBytes,
      segments: this.log.length,
      indexCapacity: this.index.capacity,
      indexBytes: this.index.bytes,
      fsyncs: this.writer?.fsyncs ?? 0,
      seq: this.seq,
      bytesSinceCheckpoint: this.bytesSinceCheckpoint(),
      checkpointPauseMs: this.checkpointPauseMs,
      compactions: this.compactions,
      compactedBytesRead: this.compactedRead,
      compactedBytesWritten: this.compactedWritten,
    };
  }

  recovery(): NativeRecovery {
    this.ready();
    const r = this.report as RecoveryReport;
    return {
      segments: r.segments,
      records: r.records,
      bytesScanned: r.bytesScanned,
      discardedBytes: r.discardedBytes,
      dropped: [...r.dropped],
      millis: r.millis,
      checkpoint: r.checkpoint,
      checkpointEntries: r.checkpointEntries,
      replayedBytes: r.replayedBytes,
    };
  }

  // ---- checkpoints (native Store::BeginCheckpoint and friends) ----

  bytesSinceCheckpoint(): number {
    return this.appended - Math.min(this.appended, this.checkpointAppended);
  }

  checkpointBegin(): number {
    this.ready();
    if (this.options.readOnly) throw new HashlogError('store is open read-only', 'HASHLOG_READONLY');
    if (this.failed !== undefined) throw failedError(this.failed.cause as HashlogError);
    const img = buildCheckpoint(this.fs, this.hasher.seed, this.seq, this.log, this.index, this.expiry);
    img.rollbacks = this.rollbacks;
    img.appended = this.appended;
    this.checkpointPauseMs = img.buildMillis;
    this.pendingCheckpoint = img;
    return this.flush();
  }

  async checkpointWrite(): Promise<void> {
    this.ready();
    const img = this.pendingCheckpoint;
    this.pendingCheckpoint = undefined;
    if (img === undefined) throw invalid('checkpointWrite() without checkpointBegin()');
    if (this.failed !== undefined) throw failedError(this.failed.cause as HashlogError);
    // A rolled-back group would leave the snapshot naming records that never reached the disk.
    if (img.rollbacks !== this.rollbacks) {
      throw new HashlogError(`checkpoint ${this.dir}: a commit group failed while it was taken`, 'HASHLOG_IO');
    }
    // A compaction may have retired a listed segment meanwhile (its descriptor closed).
    if (img.segments.some((seg, i) => this.log[i] !== seg)) {
      throw new HashlogError(`checkpoint ${this.dir}: a compaction changed the log while it was taken`, 'HASHLOG_IO');
    }
    // The js engine has no thread to hand this to: the tail CRCs and the file's CRC run here,
    // and count as part of the pause.
    const t0 = performance.now();
    finishCheckpoint(this.fs, img);
    this.checkpointPauseMs = img.buildMillis + performance.now() - t0;
    await writeCheckpoint(this.fs, this.dir, img);
    this.checkpointAppended = Math.max(this.checkpointAppended, img.appended);
  }

  setFault(op?: FaultOp | 'read', afterCalls = 0, errno = 5, sticky = false): void {
    if (op === undefined) this.fs.disarm();
    else this.fs.arm(op as JsFaultOp, afterCalls, errno, sticky);
  }

  setClockOffset(ms: number): void {
    this.clockOffsetMs = ms;
  }
}
