// One engine, one fresh process: runs every measurement in order and prints one JSON object on
// stdout (progress goes to stderr). Usage: node --expose-gc bench/trial.mjs <engine> '<json>'
// where <engine> is a key of DRIVERS, or "fsync-ref" for the raw write+fdatasync reference.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import hdr from 'hdr-histogram-js';
import { DRIVERS } from './drivers.mjs';
import { makeWorkload } from './workload.mjs';

const engine = process.argv[2];
const opt = JSON.parse(process.argv[3] ?? '{}');
const tag = opt.label ? `${engine} ${opt.label}` : engine;
const log = (msg) => process.stderr.write(`  [${tag}] ${msg}\n`);

const now = () => process.hrtime.bigint();
const seconds = (t0) => Number(now() - t0) / 1e9;
const gc = () => {
  if (typeof globalThis.gc === 'function') {
    globalThis.gc();
    globalThis.gc();
  }
};
const fmt = (x) => (x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)}K` : x.toFixed(1));

/** Anonymous resident memory in bytes (heap, malloc, anonymous mmap; not file pages). */
function rssAnon() {
  const m = /RssAnon:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Sum of apparent file sizes and of allocated blocks under dir. */
function diskUsage(dir) {
  let size = 0, allocated = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      const u = diskUsage(p);
      size += u.size;
      allocated += u.allocated;
    } else {
      const st = fs.statSync(p);
      size += st.size;
      allocated += st.blocks * 512;
    }
  }
  return { size, allocated };
}

function histogram() {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60e9, numberOfSignificantValueDigits: 3 });
}

function percentilesUs(h) {
  return {
    p50: h.getValueAtPercentile(50) / 1e3,
    p99: h.getValueAtPercentile(99) / 1e3,
    p999: h.getValueAtPercentile(99.9) / 1e3,
    max: h.maxValue / 1e3,
    count: h.totalCount,
  };
}

function emit(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

// The reference for single-put latency: write 128 bytes + fdatasync, on os.tmpdir()'s filesystem.
// "append" grows the file on every write (ext4 also commits metadata); "overwrite" writes into
// blocks written and synced beforehand, as a store that pre-fills its segment does.
function fsyncReference(count) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hashlog-bench-fsync-'));
  try {
    const buf = Buffer.alloc(128, 0x61);
    const measure = (file, prepare, writeAt) => {
      const fd = fs.openSync(path.join(dir, file), 'w+');
      try {
        prepare(fd);
        const h = histogram();
        for (let i = 0; i < count + 50; i++) {
          const t0 = now();
          fs.writeSync(fd, buf, 0, buf.length, writeAt(i));
          fs.fdatasyncSync(fd);
          if (i >= 50) h.recordValue(Number(now() - t0));
        }
        return percentilesUs(h);
      } finally {
        fs.closeSync(fd);
      }
    };
    const append = measure('append', () => {}, (i) => i * 128);
    const overwrite = measure(
      'overwrite',
      (fd) => {
        const block = Buffer.alloc(1 << 20);
        for (let off = 0; off < (count + 50) * 128; off += block.length) fs.writeSync(fd, block, 0, block.length, off);
        fs.fsyncSync(fd);
      },
      (i) => i * 128,
    );
    return { append, overwrite };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// Puts (or dels) issued in windows of `inflight` concurrent promises; stops after `total` ops
// or once `maxMs` has passed at the end of a window, whichever comes first.
async function windowed(total, inflight, maxMs, issue) {
  let n = 0;
  const t0 = now();
  const limit = Number.isFinite(maxMs) ? BigInt(Math.round(maxMs * 1e6)) : null;
  while (n < total) {
    const end = Math.min(total, n + inflight);
    const ps = new Array(end - n);
    for (let j = 0; n < end; j++) ps[j] = issue(n++);
    await Promise.all(ps);
    if (limit !== null && now() - t0 > limit) break;
  }
  const s = seconds(t0);
  return { ops: n, seconds: s, rate: n / s, timeboxed: n < total };
}

// A tight synchronous loop over prepared key views; checks the hit count outside the clock.
function timeGets(get, keys) {
  let hits = 0, bytes = 0;
  const t0 = now();
  for (let i = 0; i < keys.length; i++) {
    const v = get(keys[i]);
    if (v !== undefined) {
      hits++;
      bytes += v.length;
    }
  }
  const s = seconds(t0);
  return { rate: keys.length / s, hits, bytes };
}

function warmGets(get, keys) {
  timeGets(get, keys.slice(0, Math.min(keys.length, opt.warmupGets)));
}

async function load(h, w, order, window) {
  const n = w.n;
  const t0 = now();
  for (let i = 0; i < n; i += window) {
    const end = Math.min(n, i + window);
    const ps = new Array(end - i);
    for (let j = i; j < end; j++) {
      const k = order === null ? j : order[j];
      ps[j - i] = h.put(w.key(k), w.value(k));
    }
    await Promise.all(ps);
  }
  await h.flush();
  return n / seconds(t0);
}

async function runEngine() {
  let driver;
  try {
    if (!Object.hasOwn(DRIVERS, engine)) throw new Error(`unknown engine (known: ${Object.keys(DRIVERS).join(', ')})`);
    driver = await DRIVERS[engine].load();
  } catch (e) {
    emit({ engine, skipped: `${e.code ? `${e.code}: ` : ''}${String(e.message).split('\n')[0]}` });
    return;
  }
  const N = opt.keys;
  const metrics = {};
  const extra = { notes: [] };
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `hashlog-bench-${engine}-`));
  const dirOf = (name) => {
    const d = path.join(root, name);
    fs.mkdirSync(d);
    return d;
  };
  try {
    log(`generating ${N} keys`);
    const w = makeWorkload(N, opt.valueSize);

    // Warm-up: the same load path on a small scratch store, so JIT and module code are hot.
    {
      const warmN = Math.min(N, 20000);
      const ww = makeWorkload(warmN, opt.valueSize, 7);
      const dir = dirOf('warmup');
      const h = await driver.open(dir, { durable: false });
      await load(h, ww, null, driver.loadWindow);
      timeGets(h.get, Array.from({ length: warmN }, (_, i) => ww.key(i)));
      await h.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
    gc();

    // 1. Load in sorted order, into the store that the later phases use.
    const mainDir = dirOf('main');
    const rss0 = rssAnon();
    let h = await driver.open(mainDir, { durable: false });
    metrics.load_sorted = await load(h, w, null, driver.loadWindow);
    log(`load (sorted order) ${fmt(metrics.load_sorted)} keys/s`);

    // 7. and 8. Memory and disk right after the load (measured here, reported with the rest).
    gc();
    metrics.rss_anon_per_key = (rssAnon() - rss0) / N;
    const ib = h.indexBytes();
    if (ib !== undefined) metrics.index_bytes_per_key = ib / N;
    const du = diskUsage(mainDir);
    metrics.disk_bytes_per_key = du.size / N;
    metrics.disk_alloc_per_key = du.allocated / N;
    extra.afterLoad = h.info();
    log(`memory ${metrics.rss_anon_per_key.toFixed(1)} B/key anon RSS` +
      (ib !== undefined ? `, index ${metrics.index_bytes_per_key.toFixed(1)} B/key` : '') +
      `; disk ${metrics.disk_bytes_per_key.toFixed(1)} B/key (allocated ${metrics.disk_alloc_per_key.toFixed(1)})`);

    // Spot check: the values read back are the values written.
    for (let c = 0; c < 1000; c++) {
      const i = Math.floor((c * N) / 1000);
      const v = h.get(w.key(i));
      if (v === undefined || !w.value(i).equals(v)) throw new Error(`read-back mismatch at key ${i}`);
    }
    await h.close();

    // 7b. The RAM it takes to hold the loaded store open, in a fresh process (no load residue).
    const probe = spawnSync(process.execPath, ['--expose-gc', process.argv[1], engine,
      JSON.stringify({ memoryProbe: mainDir, keys: N, probeKey: w.key(0).toString('hex') })],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    const probed = JSON.parse(probe.stdout.trim().split('\n').pop() || '{}');
    if (probed.rssAnonPerKey === undefined) throw new Error(`memory probe failed (exit ${probe.status})`);
    metrics.rss_open_per_key = probed.rssAnonPerKey;
    log(`memory to open the loaded store ${metrics.rss_open_per_key.toFixed(1)} B/key anon RSS`);

    h = await driver.open(mainDir, { durable: true });

    // 2. Random GET of present keys.
    gc();
    const hitKeys = Array.from(w.randomIndexes(opt.gets, 1), (i) => w.key(i));
    warmGets(h.get, hitKeys);
    const g = timeGets(h.get, hitKeys);
    if (g.hits !== hitKeys.length) extra.notes.push(`get: ${hitKeys.length - g.hits} present keys read as missing`);
    metrics.get_hit = g.rate;
    log(`get (hit) ${fmt(g.rate)} ops/s`);

    // 3. GET of missing keys.
    gc();
    const missKeys = Array.from({ length: opt.gets }, w.missingKey);
    warmGets(h.get, missKeys);
    const m = timeGets(h.get, missKeys);
    if (m.hits !== 0) extra.notes.push(`get missing: ${m.hits} missing keys returned a value`);
    metrics.get_miss = m.rate;
    log(`get (missing) ${fmt(m.rate)} ops/s`);

    // 2b. The engine's second read path, if any (lmdb: getBinaryFast), after the plain get's
    // loops so that those call sites stay monomorphic.
    if (h.getFast) {
      gc();
      warmGets(h.getFast, hitKeys);
      const f = timeGets(h.getFast, hitKeys);
      metrics.get_fast = f.rate;
      log(`get (fast path) ${fmt(f.rate)} ops/s`);
    }
    hitKeys.length = 0;
    missKeys.length = 0;

    // 4. Durable PUT, 256 in flight: overwrites of random present keys.
    gc();
    const putIdx = w.randomIndexes(opt.durablePuts + 2 * opt.inflight, 3);
    await windowed(2 * opt.inflight, opt.inflight, Infinity, (j) => h.put(w.key(putIdx[j]), w.value(j + 1)));
    const fs0 = h.info().stats?.fsyncs;
    const p = await windowed(opt.durablePuts, opt.inflight, opt.durableMs,
      (j) => h.put(w.key(putIdx[j + 2 * opt.inflight]), w.value(j + 1)));
    metrics.put_durable_256 = p.rate;
    extra.putDurable = { ops: p.ops, seconds: p.seconds, timeboxed: p.timeboxed };
    if (fs0 !== undefined) extra.putDurable.fsyncs = h.info().stats.fsyncs - fs0;
    log(`durable put, ${opt.inflight} in flight: ${fmt(p.rate)} ops/s (${p.ops} ops${p.timeboxed ? ', time-boxed' : ''})`);

    // 5. One awaited durable PUT at a time: latency.
    gc();
    const oneIdx = w.randomIndexes(opt.singlePuts + 50, 4);
    const lat = histogram();
    const limit = now() + BigInt(Math.round(opt.singleMs * 1e6));
    let singles = 0;
    for (let j = 0; j < oneIdx.length; j++) {
      const t0 = now();
      await h.put(w.key(oneIdx[j]), w.value(j + 3));
      const t1 = now();
      if (j < 50) continue; // warm-up
      lat.recordValue(Number(t1 - t0));
      singles++;
      if (t1 > limit) break;
    }
    const pc = percentilesUs(lat);
    metrics.put_single_p50 = pc.p50;
    metrics.put_single_p99 = pc.p99;
    metrics.put_single_p999 = pc.p999;
    metrics.put_single_max = pc.max;
    extra.putSingle = { ops: singles, timeboxed: singles < opt.singlePuts };
    log(`single durable put p50 ${pc.p50.toFixed(0)} µs, p99 ${pc.p99.toFixed(0)} µs (${singles} ops)`);

    // 6. Durable DEL, 256 in flight, of distinct present keys.
    gc();
    const delOrder = w.permutation(5);
    const warmDel = opt.inflight;
    await windowed(warmDel, opt.inflight, Infinity, (j) => h.del(w.key(delOrder[j])));
    let existed = 0;
    const d = await windowed(Math.min(opt.dels, N - warmDel), opt.inflight, opt.delMs, (j) =>
      h.del(w.key(delOrder[j + warmDel])).then((r) => {
        if (r) existed++;
      }));
    metrics.del_durable_256 = d.rate;
    extra.delDurable = { ops: d.ops, seconds: d.seconds, timeboxed: d.timeboxed, reportedExisted: existed };
    for (let j = 0; j < Math.min(d.ops, 1000); j++) {
      if (h.get(w.key(delOrder[j + warmDel])) !== undefined) {
        extra.notes.push('del: a deleted key still reads back');
        break;
      }
    }
    log(`durable del, ${opt.inflight} in flight: ${fmt(d.rate)} ops/s (${d.ops} ops${d.timeboxed ? ', time-boxed' : ''})`);

    // 9. Reopen: close, then time open() + the first get.
    await h.close();
    gc();
    const probeKey = w.key(delOrder[N - 1]);
    const t0 = now();
    h = await driver.open(mainDir, { durable: true });
    const first = h.get(probeKey);
    metrics.reopen_ms = seconds(t0) * 1e3;
    if (first === undefined) extra.notes.push('reopen: the first get found nothing');
    extra.afterReopen = h.info();
    log(`reopen + first get ${metrics.reopen_ms.toFixed(1)} ms`);
    await h.close();
    fs.rmSync(mainDir, { recursive: true, force: true });

    // 1b. Load in random order into a fresh store (after the main store is gone).
    gc();
    const randDir = dirOf('random');
    const order = w.permutation(1);
    h = await driver.open(randDir, { durable: false });
    metrics.load_random = await load(h, w, order, driver.loadWindow);
    log(`load (random order) ${fmt(metrics.load_random)} keys/s`);
    await h.close();
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
  emit({ engine, version: driver.version, durability: driver.durability, bulkLoad: driver.bulkLoad, metrics, extra });
}

// Opens an existing store in this fresh process and reports the anonymous RSS it added.
async function memoryProbe() {
  const driver = await DRIVERS[engine].load();
  const key = Buffer.from(opt.probeKey, 'hex');
  gc();
  const r0 = rssAnon();
  const h = await driver.open(opt.memoryProbe, { durable: true });
  if (h.get(key) === undefined) throw new Error('memory probe: key not found');
  gc();
  const grown = rssAnon() - r0;
  await h.close();
  emit({ engine, rssAnonPerKey: grown / opt.keys });
}

if (opt.memoryProbe !== undefined) {
  await memoryProbe();
} else if (engine === 'fsync-ref') {
  emit({ engine, fsync: fsyncReference(opt.fsyncCount ?? 1000) });
} else {
  await runEngine();
}
