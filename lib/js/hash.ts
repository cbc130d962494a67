// Key hashing for the index: HalfSipHash-1-3 with 64-bit output and a per-store random key.
//
// native/hash.cc uses SipHash-1-3, whose 64-bit additions and rotations cost BigInt or
// four 16-bit limbs in JavaScript. HalfSipHash is SipHash's 32-bit sibling (the Linux
// kernel's hsiphash): the same construction on 32-bit words, which V8 runs as plain int32
// ops. The hash never reaches the disk, so the engines need not agree on it; what matters is
// the same keyed, flood-resistant 48 bits the index compares.
import { randomBytes } from 'node:crypto';

const rotl = (x: number, b: number): number => (x << b) | (x >>> (32 - b));

/** A keyed hash; the result of hash() is left in `hi` (the tag's source) and `lo`. */
export class Hasher {
  hi = 0;
  lo = 0;
  private k0 = 0;
  private k1 = 0;

  constructor(seed: Uint8Array = randomBytes(8)) {
    this.setSeed(seed);
  }

  /** The 8-byte key (a checkpoint saves it: its tags were made with it). */
  get seed(): Buffer {
    const b = Buffer.alloc(8);
    b.writeUInt32LE(this.k0, 0);
    b.writeUInt32LE(this.k1, 4);
    return b;
  }

  /** Rekeys the hash (open, before any key is hashed, when a checkpoint is loaded). */
  setSeed(seed: Uint8Array): void {
    this.k0 = (seed[0] | (seed[1] << 8) | (seed[2] << 16) | (seed[3] << 24)) >>> 0;
    this.k1 = (seed[4] | (seed[5] << 8) | (seed[6] << 16) | (seed[7] << 24)) >>> 0;
  }

  /** Hashes p[off, off + n): sets `hi` and `lo` (unsigned 32-bit). */
  hash(p: Uint8Array, off: number, n: number): void {
    let v0 = this.k0;
    let v1 = this.k1 ^ 0xee;
    let v2 = 0x6c796765 ^ this.k0;
    let v3 = 0x74656462 ^ this.k1;
    const end = off + (n & ~3);
    let i = off;
    for (; i < end; i += 4) {
      const m = p[i] | (p[i + 1] << 8) | (p[i + 2] << 16) | (p[i + 3] << 24);
      v3 ^= m;
      // One compression round (SIPROUND of HalfSipHash).
      v0 = (v0 + v1) | 0; v1 = rotl(v1, 5); v1 ^= v0; v0 = rotl(v0, 16);
      v2 = (v2 + v3) | 0; v3 = rotl(v3, 8); v3 ^= v2;
      v0 = (v0 + v3) | 0; v3 = rotl(v3, 7); v3 ^= v0;
      v2 = (v2 + v1) | 0; v1 = rotl(v1, 13); v1 ^= v2; v2 = rotl(v2, 16);
      v0 ^= m;
    }
    let b = (n & 0xff) << 24;
    const left = n & 3;
    if (left >= 3) b |= p[i + 2] << 16;
    if (left >= 2) b |= p[i + 1] << 8;
    if (left >= 1) b |= p[i];
    v3 ^= b;
    v0 = (v0 + v1) | 0; v1 = rotl(v1, 5); v1 ^= v0; v0 = rotl(v0, 16);
    v2 = (v2 + v3) | 0; v3 = rotl(v3, 8); v3 ^= v2;
    v0 = (v0 + v3) | 0; v3 = rotl(v3, 7); v3 ^= v0;
    v2 = (v2 + v1) | 0; v1 = rotl(v1, 13); v1 ^= v2; v2 = rotl(v2, 16);
    v0 ^= b;
    v2 ^= 0xee;
    for (let r = 0; r < 3; r++) {
      v0 = (v0 + v1) | 0; v1 = rotl(v1, 5); v1 ^= v0; v0 = rotl(v0, 16);
      v2 = (v2 + v3) | 0; v3 = rotl(v3, 8); v3 ^= v2;
      v0 = (v0 + v3) | 0; v3 = rotl(v3, 7); v3 ^= v0;
      v2 = (v2 + v1) | 0; v1 = rotl(v1, 13); v1 ^= v2; v2 = rotl(v2, 16);
    }
    this.lo = (v1 ^ v3) >>> 0;
    v1 ^= 0xdd;
    for (let r = 0; r < 3; r++) {
      v0 = (v0 + v1) | 0; v1 = rotl(v1, 5); v1 ^= v0; v0 = rotl(v0, 16);
      v2 = (v2 + v3) | 0; v3 = rotl(v3, 8); v3 ^= v2;
      v0 = (v0 + v3) | 0; v3 = rotl(v3, 7); v3 ^= v0;
      v2 = (v2 + v1) | 0; v1 = rotl(v1, 13); v1 ^= v2; v2 = rotl(v2, 16);
    }
    this.hi = (v1 ^ v3) >>> 0;
  }
}
