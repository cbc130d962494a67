// The on-disk format: segment header and record layout, byte for byte as
// native/log_format.h (docs/FORMAT.md is the normative description).
import { crc32c, maskCrc } from './crc32c';

export const SEGMENT_MAGIC = Buffer.from('HASHLOG\n', 'latin1');
export const FORMAT_MAJOR = 1;
export const FORMAT_MINOR = 0;
// Only compacted segments are written as 2.0, so a store that never compacted stays readable
// by 1.x builds, and a 1.x build refuses a compacted segment instead of scanning it in the
// wrong order (native/log_format.h). This engine reads both.
export const COMPACTED_FORMAT_MAJOR = 2;
/** Segment header flag: written by compaction; its records are copies of older records, in log order. */
export const SEGMENT_COMPACTED = 1;
export const SEGMENT_HEADER_SIZE = 32;
export const RECORD_HEADER_SIZE = 32;

export const TYPE_ZERO = 0; // never written: zero bytes here are pre-allocated space
export const TYPE_PUT = 1;
export const TYPE_DELETE = 2;
export const TYPE_BATCH = 3;
export const TYPE_CLEAR = 4;

export const MAX_KEY_SIZE = 64 * 1024;
export const MAX_VALUE_SIZE = 1024 * 1024 * 1024;

const TWO32 = 2 ** 32;

/** A decoded record header (reused by callers to avoid an allocation per record). */
export class RecordHeader {
  type = 0;
  keySize = 0;
  valueSize = 0;
  seq = 0;
  expiresAt = 0;

  get totalSize(): number {
    return RECORD_HEADER_SIZE + this.keySize + this.valueSize;
  }
}

export function recordSize(keySize: number, valueSize: number): number {
  return RECORD_HEADER_SIZE + keySize + valueSize;
}

function writeU64(dst: Uint8Array, at: number, v: number): void {
  const lo = v % TWO32;
  const hi = (v - lo) / TWO32;
  dst[at] = lo; dst[at + 1] = lo >>> 8; dst[at + 2] = lo >>> 16; dst[at + 3] = lo >>> 24;
  dst[at + 4] = hi; dst[at + 5] = hi >>> 8; dst[at + 6] = hi >>> 16; dst[at + 7] = hi >>> 24;
}

export function readU32(p: Uint8Array, at: number): number {
  return (p[at] | (p[at + 1] << 8) | (p[at + 2] << 16) | (p[at + 3] << 24)) >>> 0;
}

function writeU32(dst: Uint8Array, at: number, v: number): void {
  dst[at] = v; dst[at + 1] = v >>> 8; dst[at + 2] = v >>> 16; dst[at + 3] = v >>> 24;
}

export function readU64(p: Uint8Array, at: number): number {
  return readU32(p, at) + readU32(p, at + 4) * TWO32;
}

/**
 * Writes the header and CRC of a record whose key and value bytes are already at
 * dst[at + 32, ...) (a batch's inner records are encoded in place).
 */
export function encodeHeaderInPlace(dst: Uint8Array, at: number, type: number, seq: number, expiresAt: number,
  keySize: number, valueSize: number): void {
  dst[at + 4] = type;
  dst[at + 5] = 0;
  dst[at + 6] = 0;
  dst[at + 7] = 0;
  writeU32(dst, at + 8, keySize);
  writeU32(dst, at + 12, valueSize);
  writeU64(dst, at + 16, seq);
  writeU64(dst, at + 24, expiresAt);
  writeU32(dst, at, maskCrc(crc32c(dst, at + 4, at + RECORD_HEADER_SIZE + keySize + valueSize)));
}

/** Writes a whole record at dst[at]: key from key[0, keyLen), value from value[vOff, vOff + vLen). */
export function encodeRecord(dst: Buffer, at: number, type: number, seq: number, expiresAt: number,
  key: Uint8Array, keyLen: number, value: Uint8Array | null, vOff: number, vLen: number): void {
  // Buffer#copy takes offsets, so no view is allocated per record (Uint8Array#set needs one).
  if (keyLen > 0) Buffer.prototype.copy.call(key, dst, at + RECORD_HEADER_SIZE, 0, keyLen);
  if (value !== null && vLen > 0) Buffer.prototype.copy.call(value, dst, at + RECORD_HEADER_SIZE + keyLen, vOff, vOff + vLen);
  encodeHeaderInPlace(dst, at, type, seq, expiresAt, keyLen, vLen);
}

/** Parses the header at p[at] (32 bytes readable) without checking the CRC. */
export function decodeHeader(p: Uint8Array, at: number, h: RecordHeader): void {
  h.type = p[at + 4];
  h.keySize = readU32(p, at + 8);
  h.valueSize = readU32(p, at + 12);
  h.seq = readU64(p, at + 16);
  h.expiresAt = readU64(p, at + 24);
}

export enum DecodeResult { Ok, Zero, Truncated, BadHeader, BadChecksum }

function allZero(p: Uint8Array, at: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (p[at + i] !== 0) return false;
  return true;
}

/** Validates the record at p[at] with `avail` readable bytes; fills h when the header is sane. */
export function decodeRecord(p: Uint8Array, at: number, avail: number, h: RecordHeader): DecodeResult {
  if (avail < RECORD_HEADER_SIZE) return allZero(p, at, avail) ? DecodeResult.Zero : DecodeResult.Truncated;
  if (allZero(p, at, RECORD_HEADER_SIZE)) return DecodeResult.Zero;
  decodeHeader(p, at, h);
  const saneType = h.type >= TYPE_PUT && h.type <= TYPE_CLEAR;
  if (!saneType || p[at + 5] !== 0 || p[at + 6] !== 0 || p[at + 7] !== 0) return DecodeResult.BadHeader;
  if (h.keySize > MAX_KEY_SIZE || (h.type === TYPE_PUT && h.valueSize > MAX_VALUE_SIZE)) return DecodeResult.BadHeader;
  const keyless = h.type === TYPE_BATCH || h.type === TYPE_CLEAR;
  if (keyless ? h.keySize !== 0 : h.keySize === 0) return DecodeResult.BadHeader;
  if ((h.type === TYPE_DELETE || h.type === TYPE_CLEAR) && h.valueSize !== 0) return DecodeResult.BadHeader;
  const total = h.totalSize;
  if (total > avail) return DecodeResult.Truncated;
  if (maskCrc(crc32c(p, at + 4, at + total)) !== readU32(p, at)) return DecodeResult.BadChecksum;
  return DecodeResult.Ok;
}

export function encodeSegmentHeader(fileNumber: number, flags = 0): Buffer {
  const b = Buffer.alloc(SEGMENT_HEADER_SIZE);
  SEGMENT_MAGIC.copy(b, 0);
  b.writeUInt16LE(flags !== 0 ? COMPACTED_FORMAT_MAJOR : FORMAT_MAJOR, 8);
  b.writeUInt16LE(FORMAT_MINOR, 10);
  writeU32(b, 12, flags);
  writeU64(b, 16, fileNumber);
  writeU32(b, 28, maskCrc(crc32c(b, 0, 28)));
  return b;
}

export enum HeaderResult { Ok, Zero, BadMagic, BadChecksum, NewerMajor }

export interface SegmentHeader {
  fileNumber: number;
  major: number;
  minor: number;
  flags: number;
}

/** Validates a segment header (32 bytes at p[0]); fills `out` on Ok and NewerMajor. */
export function decodeSegmentHeader(p: Uint8Array, out: SegmentHeader): HeaderResult {
  if (allZero(p, 0, SEGMENT_HEADER_SIZE)) return HeaderResult.Zero;
  for (let i = 0; i < 8; i++) if (p[i] !== SEGMENT_MAGIC[i]) return HeaderResult.BadMagic;
  if (maskCrc(crc32c(p, 0, 28)) !== readU32(p, 28)) return HeaderResult.BadChecksum;
  out.major = p[8] | (p[9] << 8);
  out.minor = p[10] | (p[11] << 8);
  out.fileNumber = readU64(p, 16);
  out.flags = readU32(p, 12);
  // A newer minor version only adds what older readers may ignore; a newer major does not.
  if (out.major > COMPACTED_FORMAT_MAJOR) return HeaderResult.NewerMajor;
  return HeaderResult.Ok;
}

/** True if the record at p[at] holds exactly key[keyAt, keyAt + keyLen). */
export function recordHasKey(p: Uint8Array, at: number, key: Uint8Array, keyAt: number, keyLen: number): boolean {
  if (readU32(p, at + 8) !== keyLen) return false;
  const base = at + RECORD_HEADER_SIZE;
  if (keyLen > 48) return Buffer.compare(p.subarray(base, base + keyLen), key.subarray(keyAt, keyAt + keyLen)) === 0;
  for (let i = 0; i < keyLen; i++) if (p[base + i] !== key[keyAt + i]) return false;
  return true;
}
