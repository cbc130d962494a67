// The on-disk format, re-implemented independently for tests that craft or damage segment
// files: CRC32C with its mask, record and segment-header encoding, and a record walker.
// Mirrors the layout in native/log_format.h; it deliberately shares no code with the engine.
import fs from 'node:fs';
import path from 'node:path';

export const SEGMENT_HEADER_SIZE = 32;
export const RECORD_HEADER_SIZE = 32;
export const TYPE_PUT = 1;
export const TYPE_DELETE = 2;
export const TYPE_BATCH = 3;

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC32C (Castagnoli, reflected polynomial 0x82f63b78) of `data`. */
export function crc32c(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** The stored form of a CRC (LevelDB's mask): rotate right by 15, add a constant. */
export function maskCrc(c: number): number {
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** The file name of segment `n`: `%010d.hlog`. */
export function segmentName(n: number): string {
  return `${String(n).padStart(10, '0')}.hlog`;
}

/** The segment files of `dir`, oldest first, as absolute paths. */
export function segmentFiles(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => /^\d{10}\.hlog$/.test(f))
    .sort()
    .map((f) => path.join(dir, f));
}

export interface SegmentHeaderFields {
  fileNumber: number;
  major?: number;
  minor?: number;
}

/** A 32-byte segment header with a correct masked CRC over bytes [0, 28). */
export function encodeSegmentHeader({ fileNumber, major = 1, minor = 0 }: SegmentHeaderFields): Buffer {
  const b = Buffer.alloc(SEGMENT_HEADER_SIZE);
  b.write('HASHLOG\n', 0, 'latin1');
  b.writeUInt16LE(major, 8);
  b.writeUInt16LE(minor, 10);
  b.writeUInt32LE(0, 12);
  b.writeBigUInt64LE(BigInt(fileNumber), 16);
  b.writeUInt32LE(0, 24);
  resealSegmentHeader(b);
  return b;
}

/** Recomputes the masked CRC of the segment header at the start of `b` in place. */
export function resealSegmentHeader(b: Buffer): void {
  b.writeUInt32LE(maskCrc(crc32c(b.subarray(0, 28))), 28);
}

export interface RecordFields {
  type?: number;
  key: string | Uint8Array;
  value?: string | Uint8Array;
  seq: number | bigint;
  expiresAt?: number | bigint;
}

/** A complete record (32-byte header, key, value) with a correct masked CRC. */
export function encodeRecord({ type = TYPE_PUT, key, value = '', seq, expiresAt = 0 }: RecordFields): Buffer {
  const k = typeof key === 'string' ? Buffer.from(key, 'utf8') : Buffer.from(key);
  const v = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
  const b = Buffer.alloc(RECORD_HEADER_SIZE + k.length + v.length);
  b.writeUInt8(type, 4);
  b.writeUInt8(0, 5);
  b.writeUInt16LE(0, 6);
  b.writeUInt32LE(k.length, 8);
  b.writeUInt32LE(v.length, 12);
  b.writeBigUInt64LE(BigInt(seq), 16);
  b.writeBigUInt64LE(BigInt(expiresAt), 24);
  k.copy(b, RECORD_HEADER_SIZE);
  v.copy(b, RECORD_HEADER_SIZE + k.length);
  b.writeUInt32LE(maskCrc(crc32c(b.subarray(4))), 0);
  return b;
}

export interface RecordInfo {
  /** Offset of the record's header in the segment file. */
  offset: number;
  /** Header + key + value, in bytes. */
  size: number;
  type: number;
  key: Buffer;
  value: Buffer;
  seq: bigint;
}

/**
 * The records of a well-formed segment file, in order, stopping at the first all-zero header
 * (the zero-filled space ahead of the writer) or the end of the file. Throws on anything else:
 * a test walks only files it has not damaged yet.
 */
export function readRecords(file: string | Buffer): RecordInfo[] {
  const b = typeof file === 'string' ? fs.readFileSync(file) : file;
  const out: RecordInfo[] = [];
  let pos = SEGMENT_HEADER_SIZE;
  while (pos + RECORD_HEADER_SIZE <= b.length) {
    const h = b.subarray(pos, pos + RECORD_HEADER_SIZE);
    if (h.every((x) => x === 0)) break;
    const keyLen = h.readUInt32LE(8);
    const valueLen = h.readUInt32LE(12);
    const size = RECORD_HEADER_SIZE + keyLen + valueLen;
    if (pos + size > b.length) throw new Error(`record at ${pos} runs past the end of the file`);
    const rec = b.subarray(pos, pos + size);
    if (maskCrc(crc32c(rec.subarray(4))) !== rec.readUInt32LE(0)) throw new Error(`bad CRC at ${pos}`);
    out.push({
      offset: pos,
      size,
      type: h.readUInt8(4),
      key: Buffer.from(rec.subarray(RECORD_HEADER_SIZE, RECORD_HEADER_SIZE + keyLen)),
      value: Buffer.from(rec.subarray(RECORD_HEADER_SIZE + keyLen)),
      seq: h.readBigUInt64LE(16),
    });
    pos += size;
  }
  return out;
}

/** Overwrites `bytes` at `offset` of `file` (the file keeps its size unless the write extends it). */
export function patchFile(file: string, offset: number, bytes: Uint8Array): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.writeSync(fd, bytes, 0, bytes.length, offset);
  } finally {
    fs.closeSync(fd);
  }
}

/** Reads `length` bytes at `offset` of `file`. */
export function readAt(file: string, offset: number, length: number): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.alloc(length);
    fs.readSync(fd, b, 0, length, offset);
    return b;
  } finally {
    fs.closeSync(fd);
  }
}

/** Inverts every bit of the byte at `offset` of `file`. */
export function flipByte(file: string, offset: number): void {
  const b = readAt(file, offset, 1);
  b[0] ^= 0xff;
  patchFile(file, offset, b);
}

/** A small deterministic PRNG (mulberry32): tests that need random bytes stay reproducible. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
