// The js engine's CRC32C and keyed hash against published values and the format's rules.
import { describe, expect, it } from 'vitest';
import { crc32c, maskCrc } from '../../lib/js/crc32c';
import { Hasher } from '../../lib/js/hash';
import {
  COMPACTED_FORMAT_MAJOR, decodeSegmentHeader, encodeSegmentHeader, HeaderResult, SEGMENT_COMPACTED, type SegmentHeader,
} from '../../lib/js/log-format';
import { crc32c as referenceCrc } from '../helpers/format';

describe('crc32c (js engine)', () => {
  it('matches the published check value and the test helper at every length and offset', () => {
    expect(crc32c(Buffer.from('123456789'), 0, 9)).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(32), 0, 32)).toBe(0x8a9136aa); // RFC 3720 B.4: 32 bytes of zeros
    const data = Buffer.alloc(300);
    for (let i = 0; i < data.length; i++) data[i] = (i * 131 + 7) & 0xff;
    for (let start = 0; start < 9; start++) {
      for (let end = start; end <= data.length; end += 13) {
        expect(crc32c(data, start, end)).toBe(referenceCrc(data.subarray(start, end)));
      }
    }
  });

  it('masks as LevelDB does', () => {
    const c = crc32c(Buffer.from('hashlog'), 0, 7);
    expect(maskCrc(c)).toBe(((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) % 2 ** 32);
  });
});

describe('Hasher (HalfSipHash-1-3, js engine)', () => {
  it('is deterministic per key, differs across seeds, and depends on every byte and the length', () => {
    const seed = Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]);
    const a = new Hasher(seed);
    const b = new Hasher(seed);
    const c = new Hasher(Buffer.from([8, 7, 6, 5, 4, 3, 2, 1]));
    const seen = new Set<string>();
    for (let len = 0; len <= 20; len++) {
      const key = Buffer.alloc(len, 0x61);
      a.hash(key, 0, len);
      b.hash(key, 0, len);
      c.hash(key, 0, len);
      expect([b.hi, b.lo]).toEqual([a.hi, a.lo]);
      expect([c.hi, c.lo]).not.toEqual([a.hi, a.lo]);
      seen.add(`${a.hi}:${a.lo}`);
      for (let i = 0; i < len; i++) {
        const flipped = Buffer.from(key);
        flipped[i] ^= 1;
        a.hash(flipped, 0, len);
        seen.add(`${a.hi}:${a.lo}`);
      }
    }
    expect(seen.size).toBe(21 + (20 * 21) / 2); // no collision among these 231 keys
  });
});

describe('segment header (js engine)', () => {
  const decode = (b: Buffer): [HeaderResult, SegmentHeader] => {
    const out: SegmentHeader = { fileNumber: 0, major: 0, minor: 0, flags: 0 };
    return [decodeSegmentHeader(b, out), out];
  };

  it('writes an ordinary segment as 1.0 and a compacted one as 2.0 with flag bit 0, and reads both', () => {
    expect(decode(encodeSegmentHeader(7))).toEqual([HeaderResult.Ok, { fileNumber: 7, major: 1, minor: 0, flags: 0 }]);
    const compacted = encodeSegmentHeader(2 ** 40 + 3, SEGMENT_COMPACTED);
    expect(compacted.readUInt16LE(8)).toBe(COMPACTED_FORMAT_MAJOR);
    expect(decode(compacted)).toEqual([HeaderResult.Ok, { fileNumber: 2 ** 40 + 3, major: 2, minor: 0, flags: 1 }]);
  });

  it('refuses a major version above 2', () => {
    const b = encodeSegmentHeader(7, SEGMENT_COMPACTED);
    b.writeUInt16LE(3, 8);
    b.writeUInt32LE(maskCrc(crc32c(b, 0, 28)), 28);
    expect(decode(b)[0]).toBe(HeaderResult.NewerMajor);
  });
});
