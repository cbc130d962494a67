// The workload: a fixed-seed PRNG, the keys, the access orders and the values. Every engine gets
// byte-for-byte the same sequence of operations.

/** sfc32: a small, fast 32-bit PRNG; same seed, same stream on every run and engine. */
export function prng(seed) {
  let a = 0x9e3779b9, b = 0x243f6a88, c = 0xb7e15162, d = seed >>> 0;
  const next = () => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    const t = (a + b + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t;
  };
  for (let i = 0; i < 16; i++) next();
  return next;
}

export const KEY_SIZE = 16;

/**
 * The workload for `n` keys. Keys are 16 random-looking bytes; `key(i)` for i in [0, n) is present
 * and sorts bytewise in index order (so "sorted order" is simply i = 0, 1, 2, ...). Present keys
 * end in an even byte and missing keys in an odd one, so a missing key is never present.
 * Keys live in one Buffer (16 B each): no per-key JS object stays alive between phases.
 */
export function makeWorkload(n, valueSize, seed = 20240607) {
  const rnd = prng(seed);
  const prefixes = new BigUint64Array(n);
  for (let i = 0; i < n; i++) prefixes[i] = (BigInt(rnd()) << 32n) | BigInt(rnd());
  prefixes.sort();
  for (let i = 1; i < n; i++) if (prefixes[i] <= prefixes[i - 1]) prefixes[i] = prefixes[i - 1] + 1n;
  const keys = Buffer.allocUnsafe(n * KEY_SIZE);
  for (let i = 0; i < n; i++) {
    const o = i * KEY_SIZE;
    keys.writeBigUInt64BE(prefixes[i], o);
    keys.writeUInt32BE(rnd(), o + 8);
    keys.writeUInt32BE((rnd() & ~1) >>> 0, o + 12);
  }

  const missingRnd = prng(seed ^ 0x5bd1e995);
  const missingKey = () => {
    const k = Buffer.allocUnsafe(KEY_SIZE);
    for (let j = 0; j < KEY_SIZE; j += 4) k.writeUInt32BE(missingRnd(), j);
    k[KEY_SIZE - 1] |= 1;
    return k;
  };

  // Distinct values that share no bytes (so a block of neighbouring records does not compress,
  // in engines that compress: LevelDB and RocksDB use Snappy): 4,096 of them, or fewer for large
  // values (a 16 MiB pool at most), each a view into one random pool; value(j) cycles through them.
  const VALUES = Math.max(64, Math.min(4096, Math.floor((16 << 20) / Math.max(1, valueSize))));
  const pool = Buffer.allocUnsafe(VALUES * valueSize);
  const poolRnd = prng(seed ^ 0x1b873593);
  let j = 0;
  for (; j + 4 <= pool.length; j += 4) pool.writeUInt32LE(poolRnd(), j);
  for (; j < pool.length; j++) pool[j] = poolRnd() & 0xff;
  const values = [];
  for (let v = 0; v < VALUES; v++) values.push(pool.subarray(v * valueSize, (v + 1) * valueSize));

  return {
    n,
    valueSize,
    /** Present key i as a view (a new object per call). */
    key: (i) => keys.subarray(i * KEY_SIZE, (i + 1) * KEY_SIZE),
    missingKey,
    value: (j) => values[j % VALUES],
    /** A random permutation of [0, n) (Fisher-Yates); the same `stream` gives the same one. */
    permutation(stream) {
      const orderRnd = prng(seed ^ Math.imul(stream + 1, 0xcc9e2d51));
      const p = new Uint32Array(n);
      for (let i = 0; i < n; i++) p[i] = i;
      for (let i = n - 1; i > 0; i--) {
        const j = orderRnd() % (i + 1);
        const t = p[i];
        p[i] = p[j];
        p[j] = t;
      }
      return p;
    },
    /** `count` uniformly random key indexes (with repeats); the same `stream`, the same ones. */
    randomIndexes(count, stream) {
      const orderRnd = prng(seed ^ Math.imul(stream + 1, 0x85ebca6b));
      const a = new Uint32Array(count);
      for (let i = 0; i < count; i++) a[i] = orderRnd() % n;
      return a;
    },
  };
}
