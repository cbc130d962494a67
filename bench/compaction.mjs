// Compaction bench: space amplification under a long overwrite-heavy workload with the default
// policy, and GET/PUT throughput and p99 while a compaction runs against the same load without
// one. Writes its section into bench/RESULTS.md (between <!-- compaction:start --> and
// <!-- compaction:end -->) and bench/results-compaction.svg.
//
//   npm run bench:compaction [-- --keys 1000000 --rounds 6 --puts-per-second 100000
//                              --segment-size B --rate MiB/s --quick --out bench/RESULTS.md]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import hdr from 'hdr-histogram-js';

const require = createRequire(import.meta.url);
const BENCH = path.dirname(new URL(import.meta.url).pathname);
const { open } = require(path.join(BENCH, '..', 'dist', 'index.js'));

const args = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const QUICK = args.includes('--quick');
const KEYS = Number(arg('keys', QUICK ? 100_000 : 1_000_000));
const ROUNDS = Number(arg('rounds', QUICK ? 4 : 6)); // overwrites = ROUNDS * KEYS
const OUT = arg('out', path.join(BENCH, 'RESULTS.md'));
const SEGMENT = arg('segment-size') === undefined ? undefined : Number(arg('segment-size')); // default: the store's
const RATE = arg('rate') === undefined ? undefined : Number(arg('rate')); // MiB/s; default: the policy's
// Overwrites per second in the space-amplification run (0: as fast as the store takes them).
// 100K/s rewrites a 1M-key store every 10 s: heavy, yet a rate a disk-bound store sustains.
const PACE = Number(arg('puts-per-second', '100000'));
const VALUE = Buffer.alloc(100, 'v');
const INFLIGHT = 256;
const START = '<!-- compaction:start -->', END = '<!-- compaction:end -->';

const key = (i) => `key${String(i).padStart(12, '0')}`; // 15 B, as the main bench's 16 B keys
const histogram = () => hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60e9, numberOfSignificantValueDigits: 3 });
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'hashlog-bench-compaction-'));
const diskBytes = (dir) => fs.readdirSync(dir).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
const mib = (n) => (n / 1024 / 1024).toFixed(1);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A xorshift PRNG: the same keys in every run.
function rng(seed) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x / 2 ** 32;
  };
}

// Issues `total` puts of random keys with INFLIGHT in flight, at most `pace` a second (0: no
// limit); calls tick() now and then.
async function putLoad(db, total, rand, tick, latency, pace = 0) {
  let issued = 0, done = 0;
  const started = Date.now();
  await new Promise((resolve, reject) => {
    const one = () => {
      if (issued >= total) return;
      const due = pace > 0 ? started + (issued / pace) * 1000 : 0;
      if (due > Date.now()) {
        setTimeout(one, due - Date.now());
        return;
      }
      issued++;
      const t0 = latency ? process.hrtime.bigint() : 0n;
      db.put(key(Math.floor(rand() * KEYS)), VALUE).then(() => {
        if (latency) latency.recordValue(Number(process.hrtime.bigint() - t0));
        done++;
        if (done % 20000 === 0) tick?.(done);
        if (done === total) resolve();
        else one();
      }, reject);
    };
    for (let i = 0; i < INFLIGHT; i++) one();
  });
}

async function load(db) {
  for (let i = 0; i < KEYS; i += 1000) {
    const ops = [];
    for (let j = i; j < Math.min(KEYS, i + 1000); j++) ops.push({ type: 'put', key: key(j), value: VALUE });
    await db.batch(ops);
  }
}

// Part 1: the default policy under ROUNDS * KEYS durable overwrites.
async function spaceAmplification() {
  const dir = tmp();
  // Every default (durability 'sync', segment size, the compaction policy) unless --segment-size.
  const db = await open(dir, {
    ...(SEGMENT === undefined ? {} : { segmentSize: SEGMENT }),
    ...(RATE === undefined ? {} : { compaction: { maxBytesPerSecond: RATE * 1024 * 1024 } }),
  });
  await load(db);
  const samples = [];
  const t0 = Date.now();
  const sample = () => {
    const live = db.stats().liveBytes;
    samples.push({ t: (Date.now() - t0) / 1000, disk: diskBytes(dir), live });
  };
  const timer = setInterval(sample, 250);
  const rand = rng(1);
  const total = ROUNDS * KEYS;
  const loadStart = Date.now();
  await putLoad(db, total, rand, (n) => process.stderr.write(`\r  overwrites ${n.toLocaleString('en-US')} / ${total.toLocaleString('en-US')}`),
    undefined, PACE);
  const putRate = total / ((Date.now() - loadStart) / 1000);
  process.stderr.write('\n');
  // Let a last check of the policy run, as a store that keeps going would.
  await sleep(db.options.compaction.checkIntervalMs * 2);
  while (db.compacting) await sleep(50);
  sample();
  clearInterval(timer);
  const st = db.stats();
  const p = db.options.compaction;
  const config = `${SEGMENT === undefined && RATE === undefined ? 'every default' : 'defaults but'} (${mib(db.options.segmentSize)} MiB segments; ` +
    `policy: garbage ≥ ${p.garbageRatio * 100}% of the log and ≥ ${mib(p.minReclaimBytes)} MiB, ` +
    `copy ≤ ${p.maxBytesPerSecond === 0 ? 'unlimited' : `${mib(p.maxBytesPerSecond)} MiB/s`})`;
  const seconds = (Date.now() - t0) / 1000;
  await db.close();
  fs.rmSync(dir, { recursive: true, force: true });
  const amps = samples.filter((s) => s.live > 0).map((s) => s.disk / s.live);
  const written = total * (32 + 15 + VALUE.length);
  return {
    samples, seconds, total, config, compactions: st.compactions, putRate,
    mean: amps.reduce((a, b) => a + b, 0) / amps.length,
    max: Math.max(...amps),
    final: amps[amps.length - 1],
    p90: [...amps].sort((a, b) => a - b)[Math.floor(amps.length * 0.9)],
    writeAmp: (written + st.compactedBytesWritten) / written,
    live: st.liveBytes,
  };
}

// Part 2: GETs (timed one by one, 1000 per turn) and durable PUTs (INFLIGHT in flight) for
// `ms`, or while `during` runs.
async function mixed(db, ms, during) {
  const get = histogram(), put = histogram();
  const rand = rng(7);
  let gets = 0, stop = false;
  const t0 = Date.now();
  const puts = (async () => {
    let n = 0;
    while (!stop) {
      await putLoad(db, 5000, rand, undefined, put);
      n += 5000;
    }
    return n;
  })();
  const end = during ?? sleep(ms);
  let ended = false;
  end.then(() => { ended = true; });
  while (!ended) {
    for (let i = 0; i < 1000; i++) {
      const k = key(Math.floor(rand() * KEYS));
      const s = process.hrtime.bigint();
      db.get(k);
      get.recordValue(Number(process.hrtime.bigint() - s));
    }
    gets += 1000;
    await new Promise((r) => setImmediate(r));
  }
  await end;
  const seconds = (Date.now() - t0) / 1000;
  stop = true;
  const putCount = await puts;
  return {
    seconds,
    getRate: gets / seconds, getP99: get.getValueAtPercentile(99) / 1000,
    putRate: putCount / seconds, putP99: put.getValueAtPercentile(99) / 1000,
  };
}

async function underCompaction() {
  const dir = tmp();
  const db = await open(dir, { compaction: false, segmentSize: 64 * 1024 * 1024 });
  await load(db);
  await putLoad(db, KEYS * 2, rng(3)); // two thirds of the log is garbage
  const before = db.stats();
  const quiet = await mixed(db, 3000);
  // The same load while a compaction runs at the default rate limit (or --rate).
  const rate = RATE === undefined ? db.options.compaction.maxBytesPerSecond : RATE * 1024 * 1024;
  await db.close();
  const db2 = await open(dir, { compaction: { maxBytesPerSecond: rate, garbageRatio: 0.99 }, segmentSize: 64 * 1024 * 1024 });
  const job = db2.compact();
  const busy = await mixed(db2, 0, job);
  const report = await job;
  const after = db2.stats();
  await db2.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return { before, after, quiet, busy, report, rate };
}

function chart(samples) {
  const W = 640, H = 240, L = 50, B = 30, T = 20, R = 10;
  const maxT = Math.max(...samples.map((s) => s.t), 1);
  const amps = samples.filter((s) => s.live > 0).map((s) => ({ t: s.t, a: s.disk / s.live }));
  const maxA = Math.max(2, ...amps.map((s) => s.a));
  const x = (t) => L + (t / maxT) * (W - L - R);
  const y = (a) => H - B - (a / maxA) * (H - B - T);
  const pts = amps.map((s) => `${x(s.t).toFixed(1)},${y(s.a).toFixed(1)}`).join(' ');
  const lines = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<text x="${L}" y="14">space amplification (bytes on disk ÷ live bytes) during ${ROUNDS}x overwrites, default policy</text>`,
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#888"/>`,
    `<line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#888"/>`];
  for (let a = 0; a <= maxA; a += 0.5) {
    lines.push(`<text x="${L - 6}" y="${y(a) + 4}" text-anchor="end">${a.toFixed(1)}</text>`);
    lines.push(`<line x1="${L}" y1="${y(a)}" x2="${W - R}" y2="${y(a)}" stroke="#eee"/>`);
  }
  lines.push(`<line x1="${L}" y1="${y(1.5)}" x2="${W - R}" y2="${y(1.5)}" stroke="#d62728" stroke-dasharray="4 3"/>`,
    `<text x="${W - R}" y="${y(1.5) - 4}" text-anchor="end" fill="#d62728">target 1.5</text>`,
    `<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="${pts}"/>`,
    `<text x="${(W + L) / 2}" y="${H - 6}" text-anchor="middle">seconds</text>`,
    `<text x="${W - R}" y="${H - B + 14}" text-anchor="end">${maxT.toFixed(0)}</text>`, '</svg>');
  return lines.join('\n');
}

function section(space, busy, seconds) {
  const f = (n, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
  const q = busy.quiet, b = busy.busy;
  return [START, '## Compaction (`npm run bench:compaction`)', '',
    `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${KEYS.toLocaleString('en-US')} keys of 15 B with 100 B values, ` +
    `native engine, ${seconds.toFixed(0)} s. Ratios, not absolute numbers, are what carry over to another machine.`, '',
    `**Space amplification** under ${f(space.total)} durable overwrites of random keys (${ROUNDS}x the live data), 256 in flight, ` +
    `${PACE > 0 ? `paced at ${f(PACE)} puts/s` : 'as fast as the store takes them'} (${f(space.putRate)} puts/s, ` +
    `${f(space.putRate * (32 + 15 + VALUE.length) / 1024 / 1024, 1)} MiB/s of log), ` +
    `${space.config}; ` +
    'bytes of every file in the directory ÷ live record bytes, sampled every 250 ms:', '',
    '| mean | p90 | max | at the end | compactions | write amplification |', '|---|---|---|---|---|---|',
    `| ${f(space.mean, 2)} | ${f(space.p90, 2)} | ${f(space.max, 2)} | ${f(space.final, 2)} | ${space.compactions} | ${f(space.writeAmp, 2)} |`, '',
    'Write amplification: (record bytes the workload wrote + bytes compaction copied) ÷ record bytes the workload wrote.', '',
    `**Reads and writes while a compaction runs** (a log of ${mib(busy.before.liveBytes + busy.before.garbageBytes)} MiB, ` +
    `${f(100 * busy.before.garbageBytes / (busy.before.liveBytes + busy.before.garbageBytes))}% garbage, 64 MiB segments; ` +
    `the job copied ${mib(busy.report.bytesWritten)} MiB at ${busy.rate === 0 ? 'full speed' : `≤ ${mib(busy.rate)} MiB/s`} ` +
    `in ${f(busy.report.millis / 1000, 1)} s). ` +
    'GETs are synchronous `get()` of random keys, 1000 per event-loop turn, each timed; PUTs are durable, 256 in flight, ' +
    'timed from call to resolve:', '',
    '| | without compaction | during compaction | during ÷ without |', '|---|---|---|---|',
    `| GET ops/s | ${f(q.getRate)} | ${f(b.getRate)} | ${f(b.getRate / q.getRate, 2)}x |`,
    `| GET p99 (µs) | ${f(q.getP99, 2)} | ${f(b.getP99, 2)} | ${f(b.getP99 / q.getP99, 2)}x |`,
    `| durable PUT ops/s | ${f(q.putRate)} | ${f(b.putRate)} | ${f(b.putRate / q.putRate, 2)}x |`,
    `| durable PUT p99 (µs) | ${f(q.putP99)} | ${f(b.putP99)} | ${f(b.putP99 / q.putP99, 2)}x |`, '',
    '![space amplification over time](results-compaction.svg)', '', END].join('\n');
}

async function main() {
  const t0 = Date.now();
  process.stderr.write(`space amplification: ${KEYS} keys, ${ROUNDS}x overwrites\n`);
  const space = await spaceAmplification();
  process.stderr.write('reads and writes during a compaction\n');
  const busy = await underCompaction();
  const text = section(space, busy, (Date.now() - t0) / 1000);
  console.log(text);
  const old = fs.existsSync(OUT) ? fs.readFileSync(OUT, 'utf8') : '# hashlog benchmark results\n';
  const i = old.indexOf(START), j = old.indexOf(END);
  const next = i >= 0 && j > i ? old.slice(0, i) + text + old.slice(j + END.length) : `${old.trimEnd()}\n\n${text}\n`;
  fs.writeFileSync(OUT, next);
  fs.writeFileSync(path.join(path.dirname(OUT), 'results-compaction.svg'), chart(space.samples));
  console.log(`wrote ${OUT} and results-compaction.svg`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
