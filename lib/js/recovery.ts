// Recovery: opens every segment of a store directory and rebuilds the index by scanning
// them in log order (compacted segments first, then the others, each by number); the newer
// sequence number wins where a key appears twice (native/recovery.h, docs/FORMAT.md
// "Recovery" for the damage rules, "Compaction" for the order).
//
// Without mmap, a segment is read through a sliding window of 1 MiB (grown for a record
// larger than that), so open needs no RAM in proportion to the log; a key outside the window
// is read back with pread when an overwrite must confirm it. Damage, which is rare, reads
// the rest of the log whole.
import path from 'node:path';
import { HashlogError } from '../errors';
import type { ExpiryCounter } from './expiry-counter';
import type { FileSystem } from './file';
import type { Hasher } from './hash';
import { HashIndex, IndexFullError } from './hash-index';
import {
  COMPACTED_FORMAT_MAJOR, decodeHeader, decodeRecord, decodeSegmentHeader, DecodeResult, HeaderResult, MAX_KEY_SIZE, MAX_VALUE_SIZE,
  RECORD_HEADER_SIZE,
  readU32, RecordHeader, recordHasKey, SEGMENT_HEADER_SIZE, TYPE_BATCH, TYPE_CLEAR, TYPE_DELETE, TYPE_PUT, type SegmentHeader,
} from './log-format';
import { Segment } from './segment';
import { CHECKPOINT_TMP_NAME, loadCheckpoint, readCheckpoint } from './checkpoint';

export interface RecoveryReport {
  segments: number;
  records: number;
  bytesScanned: number;
  discardedBytes: number; // torn tail plus, with repair, every dropped range
  dropped: string[]; // "file@offset+bytes" per dropped range
  maxSeq: number;
  nextFileNumber: number;
  millis: number;
  checkpoint: string; // 'used', or why the whole log was scanned
  checkpointEntries: number;
  replayedBytes: number; // record bytes the scan applied
}

export interface RecoveryOptions {
  repair: boolean;
  readOnly: boolean; // change no file: report a torn tail, do not cut it
  segmentSize: number;
  useCheckpoint: boolean; // false: scan the whole log even with a valid CHECKPOINT
  /** Updated as the scan goes (native's RecoveryProgress): bytes scanned, bytes to scan. */
  progress?: { done: number; total: number };
}

const PAGE = 4096; // native rounds a segment's reservation to the page size (4 KiB on x86-64)

const corruption = (m: string): HashlogError => new HashlogError(m, 'HASHLOG_CORRUPTION');

function full(e: unknown): never {
  if (e instanceof IndexFullError) throw new HashlogError(e.message, 'HASHLOG_FULL');
  throw e;
}

// The offset of the first intact record after pos in p[0, size), or -1.
function intactRecordAfter(p: Buffer, pos: number, size: number): number {
  const h = new RecordHeader();
  for (let q = pos + 1; q + RECORD_HEADER_SIZE <= size; q++) {
    const type = p[q + 4];
    if (type < TYPE_PUT || type > TYPE_CLEAR || p[q + 5] !== 0 || p[q + 6] !== 0 || p[q + 7] !== 0) continue;
    if (decodeRecord(p, q, size - q, h) === DecodeResult.Ok) return q;
  }
  return -1;
}

// The end of the inner records of a damaged batch at pos, or pos if pos is not a batch: a
// batch cut short still holds whole inner records, which belong to the damaged record.
function innerRecordsEnd(p: Buffer, pos: number, size: number): number {
  if (size - pos < RECORD_HEADER_SIZE) return pos;
  const outer = new RecordHeader();
  decodeHeader(p, pos, outer);
  if (outer.type !== TYPE_BATCH || p[pos + 5] !== 0 || p[pos + 6] !== 0 || p[pos + 7] !== 0 || outer.keySize !== 0) return pos;
  let at = pos + RECORD_HEADER_SIZE;
  let prevSeq = 0;
  const inner = new RecordHeader();
  while (at < size && decodeRecord(p, at, size - at, inner) === DecodeResult.Ok
    && (inner.type === TYPE_PUT || inner.type === TYPE_DELETE) && inner.seq <= outer.seq
    && (prevSeq === 0 || inner.seq === prevSeq + 1)) {
    prevSeq = inner.seq;
    at += inner.totalSize;
  }
  return at;
}

const YIELD_BYTES = 4 << 20; // ~10 ms of scanning on the project machine
const WINDOW = 1 << 20; // one read per MiB costs nothing next to the scan; RAM is what it saves

// A sliding window over one segment file at a time: the bytes [start, end) of it in buf.
class Window {
  buf: Buffer = Buffer.alloc(0);
  start = 0;
  end = 0;
  private seg: Segment | undefined;

  /** Switches to another segment (the buffer is kept). */
  use(seg: Segment): this {
    this.seg = seg;
    this.start = 0;
    this.end = 0;
    return this;
  }

  private get file(): Segment {
    return this.seg as Segment;
  }

  /** Makes [pos, pos + n) of the file available; returns where pos is in buf. REQUIRES: pos + n <= file size. */
  ensure(pos: number, n: number): number {
    if (pos >= this.start && pos + n <= this.end) return pos - this.start;
    const len = Math.min(Math.max(WINDOW, n), this.file.fileSize - pos);
    if (this.buf.length < len) this.buf = Buffer.allocUnsafe(len);
    const got = this.file.read(this.buf, 0, len, pos);
    this.start = pos;
    this.end = pos + got;
    return 0;
  }

  /** Makes the record at pos available: its header, and all of it if the file holds all of it. */
  ensureRecord(pos: number): number {
    const avail = this.file.fileSize - pos;
    if (avail < RECORD_HEADER_SIZE) return this.ensure(pos, avail);
    const at = this.ensure(pos, RECORD_HEADER_SIZE);
    const keySize = readU32(this.buf, at + 8);
    const valueSize = readU32(this.buf, at + 12);
    // Lengths no record can have are a damaged header: do not read on their word.
    if (keySize > MAX_KEY_SIZE || valueSize > MAX_VALUE_SIZE) return at;
    const total = RECORD_HEADER_SIZE + keySize + valueSize;
    return total <= avail ? this.ensure(pos, total) : at;
  }
}

// An upper bound of the keys a segment holds: its put records, by a walk of the headers.
function countPuts(seg: Segment, w: Window, start: number): number {
  let count = 0;
  for (let pos = start; pos + RECORD_HEADER_SIZE <= seg.fileSize;) {
    const at = w.ensure(pos, RECORD_HEADER_SIZE);
    const type = w.buf[at + 4];
    const valueSize = readU32(w.buf, at + 12);
    if (type === TYPE_PUT) count++;
    else if (type === TYPE_BATCH) count += Math.floor(valueSize / (RECORD_HEADER_SIZE + 1));
    else if (type !== TYPE_DELETE) break;
    pos += RECORD_HEADER_SIZE + readU32(w.buf, at + 8) + valueSize;
  }
  return count;
}

class Scanner {
  private readonly h = new RecordHeader();
  private readonly old = new RecordHeader();
  private readonly scratch = Buffer.allocUnsafe(RECORD_HEADER_SIZE + 64 * 1024);
  private slot = -1; // the segment being scanned, read through `window`
  private readonly window = new Window();
  private readonly contents = new Map<number, Buffer>(); // whole segments read for damage checks
  // The key being applied, for confirm().
  private kBuf: Buffer = this.scratch;
  private kAt = 0;
  private kLen = 0;

  constructor(private readonly options: RecoveryOptions, private readonly hasher: Hasher,
    private readonly segments: Segment[], private readonly index: HashIndex, private readonly expiry: ExpiryCounter,
    private readonly report: RecoveryReport, private readonly fs: FileSystem) {}

  // A whole later segment, for the damage rules (read once).
  private contentOf(i: number): Buffer {
    let b = this.contents.get(i);
    if (b === undefined) {
      b = this.segments[i].readAll();
      this.contents.set(i, b);
    }
    return b;
  }

  // Points recBuf/recAt at the record at (slot, off), at least its header and key.
  private recBuf: Buffer = this.scratch;
  private recAt = 0;
  private recordAt(slot: number, off: number): void {
    const w = this.window;
    if (slot === this.slot && off >= w.start && off + RECORD_HEADER_SIZE + this.kLen <= w.end) {
      this.recBuf = w.buf;
      this.recAt = off - w.start;
      return;
    }
    const seg = this.segments[slot];
    this.fs.preadSync(seg.fd, this.scratch, 0, RECORD_HEADER_SIZE + this.kLen, off, seg.path);
    this.recBuf = this.scratch;
    this.recAt = 0;
  }

  private readonly confirm = (slot: number, off: number): boolean => {
    this.recordAt(slot, off);
    return recordHasKey(this.recBuf, this.recAt, this.kBuf, this.kAt, this.kLen);
  };

  /**
   * Scans segment i; resolves to where its valid data stops. It yields to the event loop every
   * YIELD_BYTES, so a long open does not stall the process (native opens on the pool).
   */
  async scan(i: number, start: number): Promise<number> {
    const seg = this.segments[i];
    const w = this.window.use(seg);
    this.slot = i;
    const size = seg.fileSize;
    try {
      this.index.ensureRoomFor(countPuts(seg, w, start));
    } catch (e) {
      full(e);
    }
    const h = this.h;
    let pos = start;
    let yieldAt = pos + YIELD_BYTES;
    while (pos < size) {
      if (pos >= yieldAt) {
        yieldAt = pos + YIELD_BYTES;
        if (this.options.progress !== undefined) this.options.progress.done = this.report.bytesScanned + pos;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      const at = w.ensureRecord(pos);
      const r = decodeRecord(w.buf, at, size - pos, h);
      if (r === DecodeResult.Ok) {
        if (h.type === TYPE_PUT || h.type === TYPE_DELETE) {
          this.applyRecord(h, w.buf, at, i, pos);
        } else if (h.type === TYPE_BATCH) {
          this.applyBatch(h, w.buf, at, i, pos);
        } else {
          this.applyClear(h, i);
        }
        pos += h.totalSize;
        continue;
      }
      const next = this.damage(i, pos);
      if (next < 0) break; // pos is the end of the valid data
      pos = next;
    }
    this.report.bytesScanned += Math.max(0, size - start);
    return Math.min(pos, size);
  }

  /** Where the last non-zero byte of segment i after `from` ends (from if none). */
  lastNonZero(i: number, from: number): number {
    const seg = this.segments[i];
    const w = this.window.use(seg);
    let last = seg.fileSize;
    while (last > from) {
      const start = Math.max(from, last - WINDOW);
      const at = w.ensure(start, last - start);
      let j = last - start;
      while (j > 0 && w.buf[at + j - 1] === 0) j--;
      if (j > 0) return start + j;
      last = start;
    }
    return from;
  }

  release(): void {
    this.slot = -1;
    this.contents.clear();
  }

  private applyRecord(h: RecordHeader, p: Buffer, at: number, slot: number, off: number): void {
    const report = this.report;
    report.records++;
    if (h.seq > report.maxSeq) report.maxSeq = h.seq;
    const type = h.type;
    const seq = h.seq;
    const expiresAt = h.expiresAt;
    const total = h.totalSize;
    const keyAt = at + RECORD_HEADER_SIZE;
    this.hasher.hash(p, keyAt, h.keySize);
    const tag = HashIndex.tagOf(this.hasher.hi);
    const extra = this.hasher.lo & 0xffff;
    this.kBuf = p;
    this.kAt = keyAt;
    this.kLen = h.keySize;
    const e = this.index.find(tag, extra, this.confirm);
    if (e >= 0) {
      // The confirm step that found it left the record at recBuf[recAt].
      const oldSlot = this.index.slotOf(e);
      decodeHeader(this.recBuf, this.recAt, this.old);
      if (this.old.seq > seq) return; // a newer copy was seen already
      this.segments[oldSlot].liveBytes -= this.old.totalSize;
      this.expiry.remove(this.old.expiresAt);
    }
    if (type === TYPE_PUT) {
      this.expiry.add(expiresAt);
      if (e >= 0) {
        this.index.replace(e, slot, off);
      } else {
        try {
          this.index.ensureRoomFor(1);
        } catch (err) {
          full(err);
        }
        this.index.insert(tag, extra, slot, off);
      }
      this.segments[slot].liveBytes += total;
    } else if (e >= 0) {
      this.index.erase(e);
    }
  }

  // A batch whose bytes are at p[at] and whose file offset is pos.
  private applyBatch(h: RecordHeader, p: Buffer, at: number, slot: number, pos: number): void {
    // The batch's CRC covered every inner record: inner damage means a writer bug.
    let rel = RECORD_HEADER_SIZE;
    let left = h.valueSize;
    const inner = new RecordHeader();
    while (left > 0) {
      if (decodeRecord(p, at + rel, left, inner) !== DecodeResult.Ok || (inner.type !== TYPE_PUT && inner.type !== TYPE_DELETE)) {
        throw corruption(`malformed batch at ${pos}`);
      }
      const n = inner.totalSize;
      this.applyRecord(inner, p, at + rel, slot, pos + rel);
      rel += n;
      left -= n;
    }
  }

  // Everything before a clear record is deleted: empty the index and the accounting.
  private applyClear(h: RecordHeader, slot: number): void {
    this.report.records++;
    if (h.seq > this.report.maxSeq) this.report.maxSeq = h.seq;
    this.index.clear();
    this.expiry.clear();
    for (let j = 0; j <= slot; j++) this.segments[j].liveBytes = 0;
  }

  // Damage at pos of segment i: -1 for a torn tail (stop), else where to resume (repair).
  // The rest of the segment is read whole (once per segment, however many ranges repair drops).
  private damage(i: number, pos: number): number {
    const seg = this.segments[i];
    const size = seg.fileSize;
    const all = this.contentOf(i);
    const from = innerRecordsEnd(all, pos, size);
    const found = intactRecordAfter(all, from > pos ? from - 1 : pos, size);
    let moreLater = false;
    for (let j = i + 1; j < this.segments.length && found < 0 && !moreLater; j++) {
      const later = this.contentOf(j);
      moreLater = intactRecordAfter(later, SEGMENT_HEADER_SIZE - 1, later.length) >= 0;
    }
    if (found < 0 && !moreLater) {
      // The tail of the log: count the non-zero bytes dropped (zero-fill is not data).
      let last = size;
      while (last > pos && all[last - 1] === 0) last--;
      this.report.discardedBytes += last - pos;
      return -1;
    }
    if (!this.options.repair) {
      throw corruption(`corrupt record in ${seg.path} at offset ${pos} (open with repair: true to salvage every intact record)`);
    }
    const resume = found >= 0 ? found : size;
    this.report.discardedBytes += resume - pos;
    this.report.dropped.push(`${Segment.fileName(seg.fileNumber)}@${pos}+${resume - pos}`);
    return resume;
  }
}

// Reads a segment's header (Zero when the file is shorter than one).
function readHeader(seg: Segment, fs: FileSystem, out: SegmentHeader): HeaderResult {
  const head = Buffer.alloc(SEGMENT_HEADER_SIZE);
  const got = seg.fileSize < SEGMENT_HEADER_SIZE ? 0 : fs.preadSync(seg.fd, head, 0, SEGMENT_HEADER_SIZE, 0, seg.path);
  return got < SEGMENT_HEADER_SIZE ? HeaderResult.Zero : decodeSegmentHeader(head, out);
}

// Checks a segment's header and reads its flags; true if it is the newest and its header
// never reached the disk (the header is synced before any record is written).
function checkHeader(seg: Segment, newest: boolean, repair: boolean, fs: FileSystem): boolean {
  const out: SegmentHeader = { fileNumber: 0, major: 0, minor: 0, flags: 0 };
  const r = readHeader(seg, fs, out);
  if (r === HeaderResult.NewerMajor) {
    throw new HashlogError(
      `${seg.path} has format version ${out.major}.${out.minor}; this build reads up to ${COMPACTED_FORMAT_MAJOR}.x`,
      'HASHLOG_NOT_SUPPORTED');
  }
  if (r === HeaderResult.Ok && out.fileNumber === seg.fileNumber) {
    seg.flags = out.flags;
    return false;
  }
  if (newest && r === HeaderResult.Zero) return true;
  if (repair) return false; // salvage its records anyway
  throw corruption(`bad segment header in ${seg.path} at offset 0`);
}

// The flags of a segment whose header is intact, else 0 (checkHeader judges it later).
function peekFlags(seg: Segment, fs: FileSystem): number {
  const out: SegmentHeader = { fileNumber: 0, major: 0, minor: 0, flags: 0 };
  return readHeader(seg, fs, out) === HeaderResult.Ok && out.fileNumber === seg.fileNumber ? out.flags : 0;
}

// Removes what an interrupted compaction left: outputs that were never renamed into place.
function removeTempFiles(fs: FileSystem, dir: string, names: string[]): void {
  let removed = false;
  for (const name of names) {
    if (Segment.parseTempFileName(name) === undefined) continue;
    fs.unlinkSync(path.join(dir, name));
    removed = true;
  }
  if (removed) fs.syncDirSync(dir);
}

/**
 * Fills `segments` (slot i = the i-th in log order) and `index`, cutting off a torn tail. A
 * newest segment whose header never reached the disk is removed. On failure the caller
 * closes whatever is in `segments`.
 */
export async function recover(fs: FileSystem, dir: string, options: RecoveryOptions, hasher: Hasher, segments: Segment[],
  index: HashIndex, expiry: ExpiryCounter): Promise<RecoveryReport> {
  const start = performance.now();
  const report: RecoveryReport = {
    segments: 0, records: 0, bytesScanned: 0, discardedBytes: 0, dropped: [], maxSeq: 0, nextFileNumber: 1, millis: 0,
    checkpoint: 'none', checkpointEntries: 0, replayedBytes: 0,
  };
  const names = fs.readdirSync(dir);
  const numbers: number[] = [];
  for (const name of names) {
    const n = Segment.parseFileName(name);
    if (n !== undefined) numbers.push(n);
    // A checkpoint write that never reached its rename: the old CHECKPOINT (if any) stands.
    if (name === CHECKPOINT_TMP_NAME && !options.readOnly) fs.unlinkSync(path.join(dir, name));
  }
  numbers.sort((a, b) => a - b);
  if (numbers.length > 0xffff) throw new HashlogError(`too many segment files in ${dir}`, 'HASHLOG_NOT_SUPPORTED');
  if (!options.readOnly) removeTempFiles(fs, dir, names);
  // Open every file first: only their headers say which one the writer was appending to.
  // The caller closes what `segments` holds on failure, so they go there at once.
  const opened: (Segment | undefined)[] = [];
  for (const number of numbers) {
    const seg = new Segment(fs, dir, number, segments.length);
    // Every segment is opened writable: a torn log tail may end in any of them.
    seg.open(!options.readOnly);
    segments.push(seg);
    seg.flags = peekFlags(seg, fs);
    opened.push(seg);
  }
  if (numbers.length > 0) report.nextFileNumber = numbers[numbers.length - 1] + 1;
  // The newest ordinary segment is where the writer was (a compacted one may carry a higher
  // number): it may have a torn header, and only it keeps room to grow.
  let newest = -1;
  for (let i = 0; i < opened.length; i++) if (!(opened[i] as Segment).compacted) newest = i;
  const growing = newest >= 0 ? opened[newest] : undefined;
  for (let i = 0; i < opened.length; i++) {
    const seg = opened[i] as Segment;
    if (!checkHeader(seg, i === newest, options.repair, fs)) continue;
    report.discardedBytes += seg.fileSize;
    opened[i] = undefined;
    if (options.readOnly) {
      seg.close();
      continue;
    }
    seg.discard();
    fs.syncDirSync(dir);
  }
  // Log order: compacted segments first (they hold copies of the oldest records), then the
  // others, each by number (docs/FORMAT.md, "Compaction"). Slot i is the i-th in log order.
  segments.length = 0;
  for (const seg of opened) if (seg !== undefined && seg.compacted) segments.push(seg);
  for (const seg of opened) if (seg !== undefined && !seg.compacted) segments.push(seg);
  segments.forEach((seg, i) => {
    seg.slot = i;
  });
  const starts = segments.map(() => SEGMENT_HEADER_SIZE);
  // A repairing open wants every record's CRC checked: it never trusts a checkpoint.
  const checkpoint = options.repair ? 'not used by a repairing open'
    : !options.useCheckpoint ? 'not used (useCheckpoint: false)' : readCheckpoint(dir);
  const why = typeof checkpoint === 'string' ? checkpoint : loadCheckpoint(fs, checkpoint, segments, index, expiry, starts);
  if (why === undefined && typeof checkpoint !== 'string') {
    hasher.setSeed(checkpoint.seed);
    report.maxSeq = checkpoint.maxSeq;
    report.checkpoint = 'used';
    report.checkpointEntries = checkpoint.entryCount;
  } else {
    report.checkpoint = why ?? 'none';
    // Undo whatever a checkpoint that failed a late check loaded.
    index.init(0);
    expiry.clear();
    for (let i = 0; i < segments.length; i++) {
      segments[i].liveBytes = 0;
      starts[i] = SEGMENT_HEADER_SIZE;
    }
  }
  if (options.progress !== undefined) {
    options.progress.total = segments.reduce((n, s, i) => n + Math.max(0, s.fileSize - starts[i]), 0);
  }
  const scanner = new Scanner(options, hasher, segments, index, expiry, report, fs);
  for (let i = 0; i < segments.length; i++) {
    const cur = segments[i];
    const end = await scanner.scan(i, starts[i]);
    report.segments++;
    report.replayedBytes += Math.max(0, end - starts[i]);
    // Cut garbage after the last good record; keep the newest segment's zero-filled space.
    const last = i + 1 === segments.length ? scanner.lastNonZero(i, end) : cur.fileSize;
    if (last > end && !options.readOnly) cur.truncateTo(end);
    scanner.release();
    cur.end = end;
    // As native's reservation of the segment's mapping: page-rounded.
    cur.reserve = Math.ceil(Math.max(cur === growing ? options.segmentSize : 0, cur.fileSize, SEGMENT_HEADER_SIZE) / PAGE) * PAGE;
    cur.flushedEnd = end;
    cur.firstGen = 0; // everything recovered is durable
  }
  index.shrinkToFit();
  report.millis = performance.now() - start;
  return report;
}
