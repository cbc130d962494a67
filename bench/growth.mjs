// The worst single PUT while a store grows from 0 to N keys (issue 5, "Resizing"): times
// every put() call with process.hrtime.bigint() and reports max, p99.99, p99.9 and the five
// worst puts with the key count at which each happened. durability 'none', so that no fsync
// is waited for; the timed part is what the caller's thread does in put() (hash, index probe,
// index growth, record copy into the commit group), not the promise's resolution.
// Every 64 puts (outside the timing) it samples stats(): a window in which indexCapacity
// changed, or in which indexBytes shows two tables (a migration), is a resize window, so
// the report separates the worst put of a resize from the worst put elsewhere (on a shared
// machine, a descheduled thread or a GC pause can be the worst put of a run).
//   node bench/growth.mjs [--keys 10000000] [--engine native|js] [--root <repo>] [--out <md>] [--label <text>]
// --root runs another checkout's build (e.g. the code before a change) with this script.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function parseArgs(argv) {
  const o = { keys: 10_000_000, engine: 'native', root: path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..'), out: '', label: '' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (a === '--keys') o.keys = Number(v.replaceAll('_', ''));
    else if (a === '--engine') o.engine = v;
    else if (a === '--root') o.root = path.resolve(v);
    else if (a === '--out') o.out = v;
    else if (a === '--label') o.label = v;
    else throw new Error(`unknown option ${a}`);
    i++;
  }
  if (!Number.isInteger(o.keys) || o.keys <= 0) throw new Error('--keys must be a positive integer');
  if (o.engine !== 'native' && o.engine !== 'js') throw new Error('--engine must be native or js');
  return o;
}

const KEY_DIGITS = 12; // 'key:' + 12 digits = 16 bytes
const CHUNK = 10_000; // puts issued before their promises are awaited (outside the timing)
const SAMPLE = 64; // puts between stats() samples

function us(ns) {
  return (Number(ns) / 1000).toFixed(1);
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const require = createRequire(path.join(o.root, 'package.json'));
  const hashlog = require(o.root);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hashlog-growth-'));
  const value = 'v'.repeat(100);
  const lat = new Float64Array(o.keys); // ns per put
  const resizing = new Uint8Array(Math.ceil(o.keys / SAMPLE)); // per window of SAMPLE puts
  const db = await hashlog.open(dir, { durability: 'none', engine: o.engine });
  // Bytes per entry of capacity with one table (an empty store is not migrating).
  const s0 = db.stats();
  const oneTable = s0.indexBytes / s0.indexCapacity;
  let lastCapacity = s0.indexCapacity;
  let lastTwo = false;
  const t0 = process.hrtime.bigint();
  try {
    let pending = new Array(CHUNK);
    for (let base = 0; base < o.keys; base += CHUNK) {
      const n = Math.min(CHUNK, o.keys - base);
      for (let j = 0; j < n; j++) {
        const i = base + j;
        const key = 'key:' + String(i).padStart(KEY_DIGITS, '0');
        const s = process.hrtime.bigint();
        pending[j] = db.put(key, value);
        lat[i] = Number(process.hrtime.bigint() - s);
        if ((i + 1) % SAMPLE === 0 || i + 1 === o.keys) {
          const st = db.stats();
          const two = st.indexBytes > oneTable * st.indexCapacity * 1.2;
          if (two || lastTwo || st.indexCapacity !== lastCapacity) resizing[Math.floor(i / SAMPLE)] = 1;
          lastTwo = two;
          lastCapacity = st.indexCapacity;
        }
      }
      await Promise.all(n === CHUNK ? pending : pending.slice(0, n));
      pending = new Array(CHUNK);
    }
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const stats = db.stats();
    const order = Array.from(lat.keys()).sort((a, b) => lat[b] - lat[a]).slice(0, 5);
    const sorted = Float64Array.from(lat).sort();
    const q = (p) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
    let resizeMax = 0;
    let resizeAt = -1;
    let otherMax = 0;
    let otherAt = -1;
    let resizePuts = 0;
    for (let i = 0; i < o.keys; i++) {
      if (resizing[Math.floor(i / SAMPLE)] === 1) {
        resizePuts++;
        if (lat[i] > resizeMax) [resizeMax, resizeAt] = [lat[i], i];
      } else if (lat[i] > otherMax) {
        [otherMax, otherAt] = [lat[i], i];
      }
    }
    // p99 of the puts inside resize windows and outside: what each migration step costs.
    const inside = new Float64Array(resizePuts);
    const outside = new Float64Array(o.keys - resizePuts);
    for (let i = 0, a = 0, b = 0; i < o.keys; i++) {
      if (resizing[Math.floor(i / SAMPLE)] === 1) inside[a++] = lat[i];
      else outside[b++] = lat[i];
    }
    const p99 = (xs) => (xs.length === 0 ? 0 : xs.sort()[Math.ceil(0.99 * xs.length) - 1]);
    const p99Inside = p99(inside);
    const p99Outside = p99(outside);
    const r = {
      engine: o.engine,
      label: o.label,
      keys: o.keys,
      seconds,
      max: sorted[sorted.length - 1],
      p9999: q(0.9999),
      p999: q(0.999),
      p50: q(0.5),
      worst: order.map((i) => ({ ns: lat[i], at: i })),
      indexBytes: stats.indexBytes,
    };
    const line =
      `${o.label || o.engine} ${o.keys} keys in ${seconds.toFixed(1)} s: max ${us(r.max)} µs, p99.99 ${us(r.p9999)} µs, ` +
      `p99.9 ${us(r.p999)} µs, p50 ${us(r.p50)} µs; worst in resize windows (${resizePuts} puts) ${us(resizeMax)} µs at key ${resizeAt}, ` +
      `elsewhere ${us(otherMax)} µs at key ${otherAt}; p99 inside resize windows ${us(p99Inside)} µs, outside ${us(p99Outside)} µs; worst: ` +
      r.worst.map((w) => `${us(w.ns)} µs at key ${w.at.toLocaleString('en-US')}`).join(', ');
    console.log(line);
    if (o.out) {
      const row =
        `| ${o.label || o.engine} | ${o.engine} | ${o.keys.toLocaleString('en-US')} | ${us(r.max)} | ${us(r.p9999)} | ${us(r.p999)} | ${us(r.p50)} | ` +
        `${us(resizeMax)} @ ${resizeAt.toLocaleString('en-US')} | ${us(otherMax)} @ ${otherAt.toLocaleString('en-US')} | ${us(p99Inside)} / ${us(p99Outside)} | ` +
        r.worst.map((w) => `${us(w.ns)} @ ${w.at.toLocaleString('en-US')}`).join('; ') + ` | ${seconds.toFixed(1)} |\n`;
      fs.appendFileSync(o.out, row);
    }
  } finally {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
