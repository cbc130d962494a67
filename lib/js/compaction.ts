// Compaction: the job and the phases that run off the owner's slices, copy and unlink
// (native/compaction.h and compaction.cc; docs/DESIGN.md "The js engine" for how they run
// here). A job takes a prefix of the log: every compacted segment plus the oldest ordinary
// ones; mark, install and retire are JsStore methods (native/store_compaction.cc).
//
// Native copies on a pool thread from the sources' mappings. Here the copy is an async
// function on the JavaScript thread: it reads the sources and writes the outputs on the
// libuv pool, one MiB at a time, so reads and writes of the store interleave with it between
// those awaits. A CRC check of each record copied is the only work it does on the thread.
import fs from 'node:fs';
import path from 'node:path';
import { HashlogError } from '../errors';
import type { FileSystem } from './file';
import {
  decodeRecord, DecodeResult, encodeSegmentHeader, RECORD_HEADER_SIZE, readU32, RecordHeader, SEGMENT_COMPACTED,
  SEGMENT_HEADER_SIZE,
} from './log-format';
import { Segment } from './segment';

// One read or write of the copy: large enough that the pool's round trips cost nothing, small
// enough that the thread's share (the CRC check of one window) stays around a millisecond.
const WINDOW = 1 << 20;
const WRITE_SIZE = 1 << 20; // native OutputWriter::kWriteSize

/** Growable columns of numbers (a job may mark millions of records). */
class Column {
  data = new Float64Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const grown = new Float64Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = v;
  }
}

/** A live record to copy (moves) or an expired one whose entry install erases (drops). */
export class RecordList {
  readonly source = new Column();
  readonly offset = new Column();
  readonly tag = new Column();
  readonly extra = new Column();
  readonly size = new Column();
  readonly expiresAt = new Column(); // drops
  readonly output = new Column(); // moves, set by the copy
  readonly toOffset = new Column(); // moves, set by the copy

  get length(): number {
    return this.source.length;
  }

  add(source: number, offset: number, tag: number, extra: number, size: number, expiresAt: number): void {
    this.source.push(source);
    this.offset.push(offset);
    this.tag.push(tag);
    this.extra.push(extra);
    this.size.push(size);
    this.expiresAt.push(expiresAt);
    this.output.push(0);
    this.toOffset.push(0);
  }
}

export interface CompactionOutput {
  fileNumber: number;
  size: number;
}

/** One job (native CompactionJob); owned by the JsStore while it runs. */
export class CompactionJob {
  readonly moves = new RecordList();
  readonly drops = new RecordList();
  // mark
  markSource = 0;
  markOffset = 0; // within sources[markSource]; 0 = at its first record
  skippedBytes = 0; // damaged ranges (a repaired store) stepped over while marking
  // copy
  outputs: CompactionOutput[] = [];
  bytesWritten = 0;
  // A failed copy could not remove an output it had renamed into place. Such a file must
  // not outlive the sources: a later job may drop a tombstone that deletes one of its
  // records, which would then come back. The store fails-stop instead.
  orphaned = false;
  // install
  readonly mapped: Segment[] = [];
  installNext = 0;
  dropNext = 0;
  genAfterInstall = 0;
  installed = false; // the outputs replaced the sources in the log order
  // unlink
  unlinked = 0;

  /** `sources` in log order; `bytesRead` their record bytes. */
  constructor(readonly sources: Segment[], readonly firstOutputNumber: number, readonly outputNumbers: number,
    readonly maxOutputSize: number, readonly bytesPerSecond: number, readonly bytesRead: number,
    readonly failuresAtStart: number) {}
}

/**
 * A window over [0, limit) of one segment: the bytes [start, end) of it in buf. Mark reads it
 * synchronously (native reads the mapping on the owner thread), the copy on the pool.
 */
export class SegmentWindow {
  buf: Buffer = Buffer.alloc(0);
  start = 0;
  end = 0;
  private seg: Segment | undefined;

  constructor(private readonly fs: FileSystem) {}

  /** Makes [pos, pos + n) available (REQUIRES: pos + n <= limit); returns where pos is in buf. */
  ensureSync(seg: Segment, pos: number, n: number, limit: number): number {
    if (seg === this.seg && pos >= this.start && pos + n <= this.end) return pos - this.start;
    const len = this.prepare(seg, pos, n, limit);
    this.end = pos + this.fs.preadSync(seg.fd, this.buf, 0, len, pos, seg.path);
    return 0;
  }

  async ensure(seg: Segment, pos: number, n: number, limit: number): Promise<number> {
    if (seg === this.seg && pos >= this.start && pos + n <= this.end) return pos - this.start;
    const len = this.prepare(seg, pos, n, limit);
    this.end = pos + await this.fs.pread(seg.fd, this.buf, 0, len, pos, seg.path);
    return 0;
  }

  /** Makes the record at pos available: its header, and all of it if it ends by `limit`. */
  ensureRecordSync(seg: Segment, pos: number, limit: number): number {
    const avail = limit - pos;
    if (avail < RECORD_HEADER_SIZE) return this.ensureSync(seg, pos, avail, limit);
    const at = this.ensureSync(seg, pos, RECORD_HEADER_SIZE, limit);
    const total = RECORD_HEADER_SIZE + readU32(this.buf, at + 8) + readU32(this.buf, at + 12);
    return total <= avail ? this.ensureSync(seg, pos, total, limit) : at;
  }

  private prepare(seg: Segment, pos: number, n: number, limit: number): number {
    this.seg = seg;
    this.start = pos;
    this.end = pos;
    const len = Math.min(Math.max(WINDOW, n), limit - pos);
    if (this.buf.length < len) this.buf = Buffer.allocUnsafe(len);
    return len;
  }
}

// One output file being written: records are gathered in a buffer and written in large pwrites.
class OutputWriter {
  private fd = -1;
  private path = '';
  private buf = Buffer.allocUnsafe(2 * WRITE_SIZE);
  private used = 0;
  private flushed = 0;
  number = 0;
  size = 0;

  constructor(private readonly fs: FileSystem, private readonly dir: string) {}

  start(number: number): void {
    this.number = number;
    this.path = path.join(this.dir, Segment.tempFileName(number));
    this.fd = this.fs.openSync(this.path, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o644);
    encodeSegmentHeader(number, SEGMENT_COMPACTED).copy(this.buf, 0);
    this.used = SEGMENT_HEADER_SIZE;
    this.size = SEGMENT_HEADER_SIZE;
    this.flushed = 0;
  }

  /** Appends src[at, at + n); returns its offset in the file. */
  async add(src: Buffer, at: number, n: number): Promise<number> {
    const offset = this.size;
    if (this.used + n > this.buf.length) {
      const grown = Buffer.allocUnsafe(this.used + n);
      this.buf.copy(grown, 0, 0, this.used);
      this.buf = grown;
    }
    src.copy(this.buf, this.used, at, at + n);
    this.used += n;
    this.size += n;
    if (this.used >= WRITE_SIZE) await this.write();
    return offset;
  }

  /** Writes, syncs and closes the file (still under its temporary name). */
  async finish(): Promise<void> {
    try {
      await this.write();
      await this.fs.fdatasync(this.fd, this.path);
    } finally {
      this.close();
    }
  }

  close(): void {
    if (this.fd >= 0) this.fs.close(this.fd);
    this.fd = -1;
  }

  private async write(): Promise<void> {
    if (this.used === 0) return;
    const n = this.used;
    this.used = 0;
    await this.fs.pwrite(this.fd, this.buf, 0, n, this.flushed, this.path);
    this.flushed += n;
    if (this.buf.length > 2 * WRITE_SIZE) this.buf = Buffer.allocUnsafe(2 * WRITE_SIZE); // after a huge record
  }
}

const closedError = (): HashlogError => new HashlogError('store is closed', 'HASHLOG_CLOSED');
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// Waits as needed so that `bytes` since `start` stay under the rate; false if cancelled.
async function throttle(bytesPerSecond: number, bytes: number, start: number, cancelled: () => boolean): Promise<boolean> {
  if (bytesPerSecond <= 0) return !cancelled();
  const due = start + (bytes / bytesPerSecond) * 1000;
  for (let now = performance.now(); now < due; now = performance.now()) {
    if (cancelled()) return false;
    await sleep(Math.min(due - now, 20));
  }
  return !cancelled();
}

async function copyInto(fs: FileSystem, job: CompactionJob, cancelled: () => boolean,
  out: OutputWriter): Promise<void> {
  const start = performance.now();
  const window = new SegmentWindow(fs);
  const h = new RecordHeader();
  const m = job.moves;
  let started = false;
  for (let i = 0; i < m.length; i++) {
    const src = job.sources[m.source.data[i]];
    const offset = m.offset.data[i];
    const size = m.size.data[i];
    // The copy is the only place the bytes are read again: a record that no longer checks
    // out stops the compaction instead of spreading.
    const at = offset + size > src.end ? -1 : await window.ensure(src, offset, size, src.end);
    if (at < 0 || window.end - window.start - at < size || decodeRecord(window.buf, at, size, h) !== DecodeResult.Ok
      || h.totalSize !== size) {
      throw new HashlogError(`corrupt record in ${src.path} at offset ${offset}`, 'HASHLOG_CORRUPTION');
    }
    if (started && out.size + size > job.maxOutputSize) {
      await out.finish();
      job.outputs.push({ fileNumber: out.number, size: out.size });
      started = false;
    }
    if (!started) {
      if (job.outputs.length >= job.outputNumbers) throw new HashlogError('compaction ran out of file numbers', 'HASHLOG_FULL');
      out.start(job.firstOutputNumber + job.outputs.length);
      started = true;
    }
    m.toOffset.data[i] = await out.add(window.buf, at, size);
    m.output.data[i] = job.outputs.length;
    job.bytesWritten += size;
    if (!await throttle(job.bytesPerSecond, job.bytesWritten, start, cancelled)) throw closedError();
  }
  if (started) {
    await out.finish();
    job.outputs.push({ fileNumber: out.number, size: out.size });
  }
}

/**
 * Copies every move's record into new compacted segments, syncs them and renames them into
 * place (native CopyLiveRecords). On failure nothing is left under a segment name (or
 * job.orphaned says what could not be removed). Rejects with HASHLOG_CLOSED once
 * `cancelled()` turns true.
 */
export async function copyLiveRecords(fs: FileSystem, dir: string, job: CompactionJob,
  cancelled: () => boolean): Promise<void> {
  const out = new OutputWriter(fs, dir);
  let error: unknown;
  let renamed = 0;
  try {
    await copyInto(fs, job, cancelled, out);
    for (; renamed < job.outputs.length; renamed++) {
      const n = job.outputs[renamed].fileNumber;
      await fs.rename(path.join(dir, Segment.tempFileName(n)), path.join(dir, Segment.fileName(n)));
    }
    await fs.syncDir(dir);
    return;
  } catch (e) {
    error = e;
  } finally {
    out.close();
  }
  // Leave nothing behind: an output under its final name with its sources still there is
  // harmless (its records are copies), but it is garbage. Best effort: recovery removes
  // what stays of the temporary files.
  for (let i = 0; i < job.outputs.length + 1 && i < job.outputNumbers; i++) {
    const n = job.firstOutputNumber + i;
    try {
      await fs.unlink(path.join(dir, i < renamed ? Segment.fileName(n) : Segment.tempFileName(n)));
    } catch {
      if (i < renamed) job.orphaned = true;
    }
  }
  if (renamed > 0) {
    try {
      await fs.syncDir(dir);
    } catch {
      job.orphaned = true;
    }
  }
  job.outputs = [];
  throw error;
}

/**
 * Deletes the sources in log order, syncing the directory after each (a later source's
 * tombstones may be what keeps an earlier one's records deleted).
 */
export async function unlinkSources(fs: FileSystem, dir: string, job: CompactionJob): Promise<void> {
  for (; job.unlinked < job.sources.length; job.unlinked++) {
    await fs.unlink(job.sources[job.unlinked].path);
    await fs.syncDir(dir);
  }
}
