// Segment: one numbered log file and its descriptor (native/segment.h). The js engine
// cannot map files, so records are read with pread at their offsets.
//
// Owner-thread bookkeeping (end, sealedAt, liveBytes) is changed by the store; the log
// writer creates, grows, writes and seals the file. flushedEnd: every record that starts
// below it is in the file (commit groups hold whole records).
import fs from 'node:fs';
import path from 'node:path';
import type { FileSystem } from './file';
import { encodeSegmentHeader, SEGMENT_COMPACTED, SEGMENT_HEADER_SIZE } from './log-format';

/** Segment#firstGen before a record is placed in it. */
export const NO_GEN = -1;

export class Segment {
  readonly path: string;
  fd = -1;
  writable = false;
  fileSize = 0;
  flushedEnd = 0;
  liveBytes = 0;
  end = 0; // where the next record goes (records and pending ones)
  sealedAt = 0; // nonzero once the owner moved to a newer segment
  reserve = 0; // the most the segment may grow to (zero-fill never passes it)
  flags = 0; // header flags (SEGMENT_COMPACTED)
  // The commit group of its first record (NO_GEN until one is placed; 0 when recovered):
  // once that group is synced, the flush loop has left every older segment for good.
  firstGen = NO_GEN;

  /** `slot` may change only before the segment is shared with the writer or a reader. */
  constructor(private readonly fs: FileSystem, dir: string, readonly fileNumber: number, public slot: number) {
    this.path = path.join(dir, Segment.fileName(fileNumber));
  }

  static fileName(fileNumber: number): string {
    return `${String(fileNumber).padStart(10, '0')}.hlog`;
  }

  /** A compaction output before it is renamed into place: "<digits>.hlog.tmp". */
  static tempFileName(fileNumber: number): string {
    return `${Segment.fileName(fileNumber)}.tmp`;
  }

  static parseTempFileName(name: string): number | undefined {
    return name.endsWith('.tmp') ? Segment.parseFileName(name.slice(0, -4)) : undefined;
  }

  get compacted(): boolean {
    return (this.flags & SEGMENT_COMPACTED) !== 0;
  }

  /** Parses "<digits>.hlog"; undefined for any other name. */
  static parseFileName(name: string): number | undefined {
    const m = /^(\d{1,19})\.hlog$/.exec(name);
    return m ? Number(m[1]) : undefined;
  }

  get created(): boolean {
    return this.fd >= 0;
  }

  /**
   * Creates the file (which must not exist), writes and syncs its header. The caller syncs
   * the directory. On failure no file is left behind.
   */
  async create(): Promise<void> {
    this.fd = this.fs.openSync(this.path, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL);
    try {
      const header = encodeSegmentHeader(this.fileNumber);
      await this.fs.pwrite(this.fd, header, 0, header.length, 0, this.path);
      await this.fs.fdatasync(this.fd, this.path);
    } catch (e) {
      this.abandon();
      throw e;
    }
    this.markCreated();
  }

  /** Same as create(), synchronously (open() creating the first segment). */
  createSync(): void {
    this.fd = this.fs.openSync(this.path, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL);
    try {
      const header = encodeSegmentHeader(this.fileNumber);
      this.fs.pwriteSync(this.fd, header, 0, header.length, 0, this.path);
      this.fs.fdatasyncSync(this.fd, this.path);
    } catch (e) {
      this.abandon();
      throw e;
    }
    this.markCreated();
  }

  private markCreated(): void {
    this.fileSize = SEGMENT_HEADER_SIZE;
    this.flushedEnd = SEGMENT_HEADER_SIZE;
    this.writable = true;
  }

  // Leaves no half-made segment behind: a later attempt starts from scratch.
  private abandon(): void {
    this.fs.close(this.fd);
    this.fd = -1;
    try {
      this.fs.unlinkSync(this.path);
    } catch {
      // Best effort: a segment without a synced header holds nothing and recovery removes it.
    }
  }

  /** Opens an existing file; `writable` keeps it open for appends and truncation. */
  open(writable: boolean): void {
    this.fd = this.fs.openSync(this.path, writable ? fs.constants.O_RDWR : fs.constants.O_RDONLY);
    this.writable = writable;
    this.fileSize = this.fs.fileSizeSync(this.fd, this.path);
  }

  /** Reads up to len bytes at pos into buf[off]; fewer only at the end of the file. */
  read(buf: Buffer, off: number, len: number, pos: number): number {
    return this.fs.readSegmentSync(this.fd, buf, off, len, pos, this.path);
  }

  /** The whole file (recovery's damage rules look past the damage). */
  readAll(): Buffer {
    const buf = Buffer.allocUnsafe(this.fileSize);
    const got = this.read(buf, 0, this.fileSize, 0);
    return got === this.fileSize ? buf : buf.subarray(0, got);
  }

  /**
   * Makes [0, need) exist in the file, zero-filling ahead in whole chunks (at least half a
   * chunk past `need`). With chunk 0 nothing is allocated: write() extends the file.
   */
  async ensureAllocated(need: number, chunk: number, limit: number): Promise<void> {
    if (need <= this.fileSize || chunk === 0) return;
    const target = Math.max(need, Math.min(Math.ceil((need + chunk / 2) / chunk) * chunk, limit));
    await this.fs.allocate(this.fd, this.fileSize, target - this.fileSize, this.path);
    this.fileSize = target;
  }

  async write(buf: Uint8Array, off: number, len: number, pos: number): Promise<void> {
    await this.fs.pwrite(this.fd, buf, off, len, pos, this.path);
    if (pos + len > this.fileSize) this.fileSize = pos + len;
  }

  sync(): Promise<void> {
    return this.fs.fdatasync(this.fd, this.path);
  }

  /** Shrinks the file to `at`, dropping zero-filled space: a sealed segment ends at its last record. */
  seal(at: number): void {
    if (at >= this.fileSize) return;
    this.fs.ftruncateSync(this.fd, at, this.path);
    this.fileSize = at;
  }

  /** Seal, then fdatasync (recovery cutting a torn tail). */
  truncateTo(at: number): void {
    this.seal(at);
    this.fs.fdatasyncSync(this.fd, this.path);
  }

  /** Removes the file (a commit group that created it was rolled back). */
  discard(): void {
    if (this.fd < 0) return;
    try {
      this.fs.unlinkSync(this.path);
    } catch {
      // Best effort: an empty segment is harmless.
    }
    this.close();
  }

  close(): void {
    if (this.fd >= 0) this.fs.close(this.fd);
    this.fd = -1;
  }
}
