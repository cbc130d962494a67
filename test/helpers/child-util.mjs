// Shared by the crash tests' child processes (plain JavaScript, so they can import it).
import fs from 'node:fs';

// mulberry32: a small seeded PRNG (test/helpers/format.ts has the same one for TypeScript).
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Writes a line to stdout synchronously, so that it is in the pipe before the write it
// announces is issued, and stays there when the process is SIGKILLed.
export function emit(text) {
  const buf = Buffer.from(text);
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(1, buf, off, buf.length - off);
    } catch (e) {
      if (e.code !== 'EAGAIN') throw e;
    }
  }
}

/**
 * Reports attempt `a`'s outcome when `p` settles: {"e":"k"} once acknowledged (then calls
 * `next`), {"e":"error"} with the code otherwise.
 */
export function reportOutcome(p, a, next) {
  p.then(
    () => {
      emit(`{"e":"k","i":${a.i}}\n`);
      next(true);
    },
    (err) => {
      emit(JSON.stringify({ e: 'error', i: a.i, message: String(err && err.message), code: err && err.code }) + '\n');
      next(false);
    },
  );
}
