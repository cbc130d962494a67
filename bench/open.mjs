// Open time with and without a checkpoint (docs/DESIGN.md §6, "Restart time").
//
//   node bench/open.mjs [--keys 10000000] [--engine native|js|both] [--dir DIR] [--runs 3]
//
// Builds a store of N keys (16 B keys, 100 B values; durability 'none', batches of 1,000) in
// DIR (default /tmp/hashlog-open-<N>), reused by later runs. For each engine it makes sure
// the store has that engine's checkpoint, then opens it in a fresh process `runs` times with
// the checkpoint and `runs` times without (CHECKPOINT moved aside), read-only so that no run
// changes the files. Reports open() to resolved, the full-scan rate, and the snapshot pause
// of one db.checkpoint() (on the JavaScript thread) with its total time.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const { open } = require(path.join(ROOT, 'dist', 'index.js'));

function arg(name, def) {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? def : process.argv[i + 1];
}

const KEY_BYTES = 16;
const VALUE_BYTES = 100;
const key = (i) => `k${String(i).padStart(KEY_BYTES - 1, '0')}`;

// Child mode: one timed open, printed as JSON.
if (process.argv[2] === '--measure') {
  const [dir, engine] = process.argv.slice(3);
  const t0 = process.hrtime.bigint();
  const db = await open(dir, { engine, readOnly: true });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const probe = db.get(key(12345)); // the store answers
  const s = db.stats();
  process.stdout.write(JSON.stringify({
    ms, checkpoint: db.recovery.checkpoint, replayed: db.recovery.replayedBytes, logBytes: s.liveBytes + s.garbageBytes,
    keys: s.keys, found: probe !== undefined, rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
  }));
  await db.close();
  process.exit(0);
}

const N = Number(arg('keys', '10000000'));
const DIR = arg('dir', `/tmp/hashlog-open-${N}`);
const RUNS = Number(arg('runs', '3'));
const ENGINES = arg('engine', 'both') === 'both' ? ['native', 'js'] : [arg('engine')];

async function build() {
  if (fs.existsSync(DIR) && fs.readdirSync(DIR).some((f) => f.endsWith('.hlog'))) return;
  const t0 = Date.now();
  const db = await open(DIR, { engine: 'native', durability: 'none', checkpointBytes: 0 });
  const value = 'v'.repeat(VALUE_BYTES);
  for (let i = 0; i < N; i += 1000) {
    const ops = [];
    for (let j = i; j < Math.min(N, i + 1000); j++) ops.push({ type: 'put', key: key(j), value });
    await db.batch(ops);
  }
  await db.flush();
  await db.close();
  console.error(`built ${N} keys in ${DIR} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

function measure(engine) {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--measure', DIR, engine], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

await build();
const ckpt = path.join(DIR, 'CHECKPOINT');
const aside = path.join(DIR, 'CHECKPOINT.bench');
const rows = [];
for (const engine of ENGINES) {
  if (fs.existsSync(aside)) fs.renameSync(aside, ckpt);
  // This engine's checkpoint, and how long taking one costs (snapshot pause, total).
  const db = await open(DIR, { engine, checkpointBytes: 0 });
  const t0 = process.hrtime.bigint();
  await db.checkpoint();
  const checkpointMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const pauseMs = db.stats().checkpointPauseMs;
  await db.close();
  const checkpointBytes = fs.statSync(ckpt).size;
  const withCk = [];
  for (let i = 0; i < RUNS; i++) withCk.push(measure(engine));
  fs.renameSync(ckpt, aside);
  const without = [];
  for (let i = 0; i < RUNS; i++) without.push(measure(engine));
  fs.renameSync(aside, ckpt);
  for (const m of [...withCk, ...without]) if (!m.found || m.keys < N) throw new Error(`bad open: ${JSON.stringify(m)}`);
  if (withCk.some((m) => m.checkpoint !== 'used')) throw new Error(`checkpoint not used: ${withCk[0].checkpoint}`);
  const scanMs = median(without.map((m) => m.ms));
  rows.push({
    engine, keys: N, logMiB: +(without[0].logBytes / 2 ** 20).toFixed(0), checkpointMiB: +(checkpointBytes / 2 ** 20).toFixed(1),
    openWithCheckpointMs: withCk.map((m) => Math.round(m.ms)), openFullScanMs: without.map((m) => Math.round(m.ms)),
    fullScanMiBps: Math.round(without[0].logBytes / 2 ** 20 / (scanMs / 1000)),
    snapshotPauseMs: Math.round(pauseMs), checkpointTotalMs: Math.round(checkpointMs),
    rssMiBWithCheckpoint: withCk[0].rssMiB, rssMiBFullScan: without[0].rssMiB,
  });
  console.log(JSON.stringify(rows[rows.length - 1]));
}
