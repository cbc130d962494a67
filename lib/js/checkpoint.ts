// Checkpoint: the index, segment list and counters in one file, so that open replays only
// the log written after it (native/checkpoint.h; layout in docs/FORMAT.md, "Checkpoint").
// The js engine writes hash id 2 (HalfSipHash): the native engine's tags (SipHash-1-3) are
// useless here and the reverse, so each falls back to a full scan on the other's file.
import fs from 'node:fs';
import path from 'node:path';
import { HashlogError } from '../errors';
import { crc32c, maskCrc } from './crc32c';
import type { ExpiryCounter } from './expiry-counter';
import type { FileSystem } from './file';
import type { HashIndex } from './hash-index';
import { SEGMENT_HEADER_SIZE } from './log-format';
import type { Segment } from './segment';

export const CHECKPOINT_MAGIC = Buffer.from('HLCKPT\n\0', 'latin1');
export const CHECKPOINT_MAJOR = 1;
export const CHECKPOINT_MINOR = 0;
export const CHECKPOINT_HEADER_SIZE = 64;
export const CHECKPOINT_SEGMENT_SIZE = 32;
export const CHECKPOINT_EXPIRY_SIZE = 16;
export const CHECKPOINT_ENTRY_SIZE = 12;
export const HASH_SIPHASH13 = 1; // native/hash.cc
export const HASH_HALFSIPHASH13 = 2; // lib/js/hash.ts
// Each listed segment carries a CRC of the last bytes it covers (native kCheckpointTailBytes).
export const CHECKPOINT_TAIL_BYTES = 64 * 1024;
export const CHECKPOINT_NAME = 'CHECKPOINT';
export const CHECKPOINT_TMP_NAME = 'CHECKPOINT.tmp';
const WAYS = 5;
const TWO32 = 2 ** 32;

/** A checkpoint's bytes (CRC included), built on the owner thread. */
export interface CheckpointImage {
  bytes: Buffer;
  rollbacks: number; // the store's count of failed commit events when it was taken
  appended: number; // the store's appended-bytes count when it was taken
  buildMillis: number;
  segments: Segment[]; // as listed
}

/** The masked CRC32C of [max(header, end - CHECKPOINT_TAIL_BYTES), end) of a segment file. */
export function tailCrc(fsys: FileSystem, seg: Segment, end: number): number {
  const from = Math.max(SEGMENT_HEADER_SIZE, end - CHECKPOINT_TAIL_BYTES);
  if (end <= from) return maskCrc(0);
  const b = Buffer.allocUnsafe(end - from);
  const got = fsys.preadSync(seg.fd, b, 0, end - from, from, seg.path);
  return maskCrc(crc32c(b, 0, got));
}

/** Once every record the image covers is written: the segments' tail CRCs, then the file's CRC. */
export function finishCheckpoint(fsys: FileSystem, image: CheckpointImage): void {
  const b = image.bytes;
  let p = CHECKPOINT_HEADER_SIZE;
  for (const seg of image.segments) {
    b.writeUInt32LE(tailCrc(fsys, seg, readU64(b, p + 16)), p + 12);
    p += CHECKPOINT_SEGMENT_SIZE;
  }
  b.writeUInt32LE(maskCrc(crc32c(b, 0, b.length - 4)), b.length - 4);
}

/** The segment header's flags word (0 for a segment the writer has not created yet). */
export function segmentFlags(fsys: FileSystem, seg: Segment): number {
  if (!seg.created) return 0;
  const b = Buffer.alloc(4);
  if (fsys.preadSync(seg.fd, b, 0, 4, 12, seg.path) < 4) return 0;
  return b.readUInt32LE(0);
}

/** Serialises the store's state; `segments` in log order. */
export function buildCheckpoint(fsys: FileSystem, seed: Buffer, maxSeq: number, segments: readonly Segment[],
  index: HashIndex, expiry: ExpiryCounter): CheckpointImage {
  const start = performance.now();
  const pairs: number[] = [];
  expiry.forEachSecond((sec, n) => pairs.push(sec, n));
  const size = CHECKPOINT_HEADER_SIZE + segments.length * CHECKPOINT_SEGMENT_SIZE
    + (pairs.length / 2) * CHECKPOINT_EXPIRY_SIZE + index.size * CHECKPOINT_ENTRY_SIZE + 4;
  const b = Buffer.alloc(size);
  CHECKPOINT_MAGIC.copy(b, 0);
  b.writeUInt16LE(CHECKPOINT_MAJOR, 8);
  b.writeUInt16LE(CHECKPOINT_MINOR, 10);
  b.writeUInt32LE(HASH_HALFSIPHASH13, 12);
  seed.copy(b, 16, 0, 8); // bytes 24..31 stay 0: HalfSipHash has a 64-bit key
  writeU64(b, 32, maxSeq);
  b.writeUInt32LE(segments.length, 40);
  b.writeUInt32LE(pairs.length / 2, 44);
  writeU64(b, 48, index.bucketCount);
  writeU64(b, 56, index.size);
  let p = CHECKPOINT_HEADER_SIZE;
  // Entries name their segment by position in this list, not by in-memory slot.
  const UNLISTED = 0xffffffff;
  const ordinalOfSlot = new Uint32Array(0x10000).fill(UNLISTED);
  segments.forEach((seg, i) => {
    writeU64(b, p, seg.fileNumber);
    b.writeUInt32LE(segmentFlags(fsys, seg), p + 8);
    writeU64(b, p + 16, seg.end);
    writeU64(b, p + 24, seg.liveBytes);
    ordinalOfSlot[seg.slot] = i;
    p += CHECKPOINT_SEGMENT_SIZE;
  });
  for (let i = 0; i < pairs.length; i += 2) {
    writeU64(b, p, pairs[i]);
    writeU64(b, p + 8, pairs[i + 1]);
    p += CHECKPOINT_EXPIRY_SIZE;
  }
  // The native word is offset | slot << 32 | extra << 48: as two u32, offset then slot | extra << 16.
  // Entries start 4-aligned (every part before them is a multiple of 4 bytes): a Uint32Array
  // view writes them ~10x faster than writeUInt32LE (little-endian host, as native assumes).
  const u32 = u32View(b, p, index.size * 3);
  let q = 0;
  let unlisted = false;
  index.forEachEntry((tag, word, offset) => {
    const ordinal = ordinalOfSlot[word & 0xffff];
    unlisted ||= ordinal === UNLISTED;
    u32[q] = tag;
    u32[q + 1] = offset;
    u32[q + 2] = ((word & 0xffff0000) | ordinal) >>> 0;
    q += 3;
  });
  // An entry in a segment outside the log order (a compaction's output while it is being
  // installed, or a source kept after a failure): such a checkpoint could not be loaded.
  if (unlisted) {
    throw new HashlogError('checkpoint: an index entry points outside the log (a compaction is running)', 'HASHLOG_IO');
  }
  return { bytes: b, rollbacks: 0, appended: 0, buildMillis: performance.now() - start, segments: [...segments] };
}

/**
 * Writes CHECKPOINT.tmp, fdatasyncs it, renames it over CHECKPOINT and syncs the directory.
 * On failure the old checkpoint (or none) stays and the temporary file is removed.
 */
export async function writeCheckpoint(fsys: FileSystem, dir: string, image: CheckpointImage): Promise<void> {
  const tmp = path.join(dir, CHECKPOINT_TMP_NAME);
  try {
    const fd = fsys.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC);
    try {
      await fsys.pwrite(fd, image.bytes, 0, image.bytes.length, 0, tmp);
      // The contents must be durable before the name points at them.
      await fsys.fdatasync(fd, tmp);
    } finally {
      fsys.close(fd);
    }
    await fsys.rename(tmp, path.join(dir, CHECKPOINT_NAME));
  } catch (e) {
    try {
      fs.unlinkSync(tmp);
    } catch {
      // Best effort: open removes a stale one too.
    }
    throw e;
  }
  await fsys.syncDir(dir);
}

export interface CheckpointSegment {
  fileNumber: number;
  flags: number;
  tailCrc: number;
  coveredEnd: number;
  liveBytes: number;
}

/** A checkpoint read back and checked for internal consistency (not yet against the files). */
export interface LoadedCheckpoint {
  bytes: Buffer;
  seed: Buffer;
  maxSeq: number;
  bucketCount: number;
  entryCount: number;
  segments: CheckpointSegment[];
  expiryAt: number;
  expiryCount: number;
  entriesAt: number;
}

/** Reads and checks CHECKPOINT: the checkpoint, or why it cannot be used ('none', 'bad CRC', ...). */
export function readCheckpoint(dir: string): LoadedCheckpoint | string {
  let b: Buffer;
  try {
    b = fs.readFileSync(path.join(dir, CHECKPOINT_NAME));
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'none' : `unreadable: ${(e as Error).message}`;
  }
  const size = b.length;
  if (size < CHECKPOINT_HEADER_SIZE + 4) return 'truncated';
  if (!b.subarray(0, 8).equals(CHECKPOINT_MAGIC)) return 'bad magic';
  if (b.readUInt32LE(size - 4) !== maskCrc(crc32c(b, 0, size - 4))) return 'bad CRC';
  if (b.readUInt16LE(8) !== CHECKPOINT_MAJOR) return `version ${b.readUInt16LE(8)}.${b.readUInt16LE(10)}`;
  const hashId = b.readUInt32LE(12);
  if (hashId !== HASH_HALFSIPHASH13) return `hash function ${hashId} (another engine's)`;
  const nseg = b.readUInt32LE(40);
  const expiryCount = b.readUInt32LE(44);
  const bucketCount = readU64(b, 48);
  const entryCount = readU64(b, 56);
  if (bucketCount < 8 || bucketCount > 2 ** 28 || (bucketCount & (bucketCount - 1)) !== 0 || nseg > 0xffff
    || entryCount > Math.floor(bucketCount * WAYS * 7 / 8)) return 'inconsistent header';
  const want = CHECKPOINT_HEADER_SIZE + nseg * CHECKPOINT_SEGMENT_SIZE + expiryCount * CHECKPOINT_EXPIRY_SIZE
    + entryCount * CHECKPOINT_ENTRY_SIZE + 4;
  if (want !== size) return 'size does not match its header';
  const segments: CheckpointSegment[] = [];
  let p = CHECKPOINT_HEADER_SIZE;
  for (let i = 0; i < nseg; i++, p += CHECKPOINT_SEGMENT_SIZE) {
    const s = { fileNumber: readU64(b, p), flags: b.readUInt32LE(p + 8), tailCrc: b.readUInt32LE(p + 12), coveredEnd: readU64(b, p + 16), liveBytes: readU64(b, p + 24) };
    if (s.coveredEnd < SEGMENT_HEADER_SIZE || s.coveredEnd > TWO32) return 'inconsistent segment list';
    segments.push(s);
  }
  return {
    bytes: b, seed: b.subarray(16, 24), maxSeq: readU64(b, 32), bucketCount, entryCount, segments,
    expiryAt: p, expiryCount, entriesAt: p + expiryCount * CHECKPOINT_EXPIRY_SIZE,
  };
}

/**
 * Loads a checkpoint into the index if it matches the segment files (docs/FORMAT.md,
 * "Checkpoint"): the scan of segment i then starts at starts[i]. Returns undefined on
 * success, else why not (the caller resets the index, expiry counter and live bytes).
 */
export function loadCheckpoint(fsys: FileSystem, c: LoadedCheckpoint, segments: Segment[], index: HashIndex,
  expiry: ExpiryCounter, starts: number[]): string | undefined {
  const k = c.segments.length;
  for (let i = 0; i < k; i++) {
    const cs = c.segments[i];
    const seg = segments[i] as Segment | undefined;
    if (seg === undefined || seg.fileNumber !== cs.fileNumber) {
      return `segment ${String(cs.fileNumber).padStart(10, '0')}.hlog is missing or an older segment appeared`;
    }
    if (seg.fileSize < cs.coveredEnd) return `segment ${path.basename(seg.path)} is shorter than the checkpoint says`;
    if (segmentFlags(fsys, seg) !== cs.flags) return `segment ${path.basename(seg.path)} has other header flags`;
    if (tailCrc(fsys, seg, cs.coveredEnd) !== cs.tailCrc) return `segment ${path.basename(seg.path)} changed before its covered end`;
  }
  for (let i = k; i < segments.length; i++) {
    if (segmentFlags(fsys, segments[i]) !== 0) return `segment ${path.basename(segments[i].path)} is not listed and not ordinary`;
  }
  // The recorded table's exact capacity at the load threshold: init() makes that many
  // buckets, so entries go back in bucket order.
  index.init(Math.floor(c.bucketCount * WAYS * 7 / 8));
  if (index.bucketCount !== c.bucketCount) return 'cannot allocate its index';
  const b = c.bytes;
  const u32 = u32View(b, c.entriesAt, c.entryCount * 3);
  const ends = c.segments.map((s) => s.coveredEnd);
  const slots = segments.map((s) => s.slot);
  for (let e = 0, q = 0; e < c.entryCount; e++, q += 3) {
    const tag = u32[q];
    const offset = u32[q + 1];
    const word = u32[q + 2];
    const ordinal = word & 0xffff;
    if (tag === 0 || ordinal >= k || offset < SEGMENT_HEADER_SIZE || offset >= ends[ordinal]) {
      return `entry ${e} points outside the listed segments`;
    }
    index.insertEntry(tag, ((word & 0xffff0000) | slots[ordinal]) >>> 0, offset);
  }
  let p = c.expiryAt;
  for (let i = 0; i < c.expiryCount; i++, p += CHECKPOINT_EXPIRY_SIZE) expiry.restore(readU64(b, p), readU64(b, p + 8));
  for (let i = 0; i < k; i++) {
    segments[i].liveBytes = c.segments[i].liveBytes;
    starts[i] = c.segments[i].coveredEnd;
  }
  return undefined;
}

// A little-endian u32 view of b[at, at + 4n); copies when b's memory is not 4-aligned there
// (a small file read into Node's buffer pool).
function u32View(b: Buffer, at: number, n: number): Uint32Array {
  if ((b.byteOffset + at) % 4 === 0) return new Uint32Array(b.buffer, b.byteOffset + at, n);
  return new Uint32Array(Uint8Array.from(b.subarray(at, at + 4 * n)).buffer);
}

function writeU64(b: Buffer, at: number, v: number): void {
  b.writeUInt32LE(v % TWO32, at);
  b.writeUInt32LE(Math.floor(v / TWO32), at + 4);
}

function readU64(b: Buffer, at: number): number {
  return b.readUInt32LE(at) + b.readUInt32LE(at + 4) * TWO32;
}
