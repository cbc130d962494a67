// One engine, one fresh process: runs one kind of trial and prints one JSON object on stdout.
// Progress goes to stderr: result lines as "  [tag] text", and "@phase text" lines that the
// orchestrator shows on its status line only.
//
//   node --expose-gc bench/trial.mjs <engine> '<json config>'
//
// config.mode: "main" (every phase on one store of config.keys keys), "grid" (GET and PUT cost
// at one store size and value size: the O(1) curve and the value-size table), or "fsync-ref"
// (the raw write+fdatasync reference; <engine> is ignored). config.memoryProbe: internal, see
// memoryProbe() below.
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
const phase = (msg) => process.stderr.write(`@phase ${msg}\n`);

const now = () => process.hrtime.bigint();
const seconds = (t0) => Number(now() - t0) / 1e9;
const msToNs = (ms) => BigInt(Math.round(ms * 1e6));
const gc = () => {
  if (typeof globalThis.gc === 'function') {
    globalThis.gc();
    globalThis.gc();
  }
};
const fmt = (x) => (x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)}K` : x.toFixed(1));
const isThenable = (x) => x !== null && typeof x === 'object' && typeof x.then === 'function';

/** Anonymous resident memory in bytes (heap, malloc, anonymous mmap; not file pages). */
function rssAnon() {
  const m = /RssAnon:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/**
 * Sum of apparent file sizes and of allocated blocks under dir. The store may be open: a file that
 * a background compaction (LevelDB, RocksDB) removes between readdir and stat counts as gone.
 */
function diskUsage(dir) {
  let size = 0, allocated = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      const u = diskUsage(p);
      size += u.size;
      allocated += u.allocated;
    } else {
      const st = fs.statSync(p, { throwIfNoEntry: false });
      if (st === undefined) continue;
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

/**
 * `inflight` concurrent clients, each awaiting `issue(j)` and then issuing the next j, until
 * `maxOps` ops are issued or `maxMs` has passed. With `hist`, records each op's latency (ns).
 * Returns { ops, seconds, rate, timeboxed, results } where `results` counts truthy settles.
 */
async function concurrent(inflight, maxOps, maxMs, issue, hist) {
  let next = 0, done = 0, truthy = 0;
  let stop = false;
  const t0 = now();
  const deadline = Number.isFinite(maxMs) ? t0 + msToNs(maxMs) : null;
  const worker = async () => {
    while (!stop && next < maxOps) {
      const j = next++;
      let r;
      if (hist) {
        const s = now();
        r = issue(j);
        if (isThenable(r)) r = await r;
        const e = now();
        hist.recordValue(Number(e - s));
        if (deadline !== null && e > deadline) stop = true;
      } else {
        r = issue(j);
        if (isThenable(r)) r = await r;
        if (deadline !== null && (j & 31) === 0 && now() > deadline) stop = true;
      }
      done++;
      if (r) truthy++;
    }
  };
  const ws = new Array(inflight);
  for (let i = 0; i < inflight; i++) ws[i] = worker();
  await Promise.all(ws);
  const s = seconds(t0);
  return { ops: done, seconds: s, rate: done / s, timeboxed: done < maxOps, results: truthy };
}

/**
 * A tight synchronous loop of `get` over the prepared keys (cycling through them), until
 * `maxOps` gets or `maxMs` have passed; the clock is read once per 1,024 gets.
 */
function timeGets(get, keys, maxMs, maxOps = Infinity) {
  let hits = 0, bytes = 0, ops = 0, i = 0;
  const n = keys.length;
  const t0 = now();
  const deadline = t0 + msToNs(maxMs);
  for (;;) {
    const start = i;
    const end = Math.min(i + 1024, n);
    for (; i < end; i++) {
      const v = get(keys[i]);
      if (v !== undefined) {
        hits++;
        bytes += v.length;
      }
    }
    ops += end - start;
    if (i >= n) i = 0;
    if (ops >= maxOps || now() > deadline) break;
  }
  const s = seconds(t0);
  return { ops, seconds: s, rate: ops / s, hits, bytes };
}

async function load(h, w, order, window, maxMs = Infinity) {
  const n = w.n;
  const t0 = now();
  const deadline = Number.isFinite(maxMs) ? t0 + msToNs(maxMs) : null;
  let done = 0;
  for (let i = 0; i < n; i += window) {
    const end = Math.min(n, i + window);
    if (h.loadBatch) {
      const ks = new Array(end - i), vs = new Array(end - i);
      for (let j = i; j < end; j++) {
        const k = order === null ? j : order[j];
        ks[j - i] = w.key(k);
        vs[j - i] = w.value(k);
      }
      await h.loadBatch(ks, vs);
    } else {
      const ps = new Array(end - i);
      for (let j = i; j < end; j++) {
        const k = order === null ? j : order[j];
        ps[j - i] = h.put(w.key(k), w.value(k));
      }
      // Promise.all takes at most ~2M promises (lmdb issues every put of a 10M-key load at once).
      for (let o = 0; o < ps.length; o += 1 << 20) await Promise.all(o === 0 && ps.length <= 1 << 20 ? ps : ps.slice(o, o + (1 << 20)));
    }
    done = end;
    if (deadline !== null && now() > deadline) break;
  }
  await h.flush();
  const s = seconds(t0);
  return { rate: done / s, keys: done, seconds: s, timeboxed: done < n };
}

/** Loads the driver, or emits { skipped } and returns undefined. */
async function loadDriver() {
  try {
    if (!Object.hasOwn(DRIVERS, engine)) throw new Error(`unknown engine (known: ${Object.keys(DRIVERS).join(', ')})`);
    return await DRIVERS[engine].load();
  } catch (e) {
    emit({ engine, skipped: `${e.code ? `${e.code}: ` : ''}${String(e.message).split('\n')[0]}` });
    return undefined;
  }
}

function describe(driver) {
  return {
    version: driver.version,
    durability: driver.durability,
    nonDurable: driver.nonDurable,
    bulkLoad: driver.bulkLoad,
    reads: driver.reads,
    notes: driver.notes ?? [],
  };
}

/** Runs `fn(root)` with a fresh temporary directory that is removed afterwards. */
async function withRoot(fn) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `hashlog-bench-${engine}-`));
  try {
    return await fn(root);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

// Warm-up: the same load and get path on a small scratch store, so JIT and module code are hot.
async function warmUp(driver, root) {
  const warmN = Math.min(opt.keys, 20000);
  const ww = makeWorkload(warmN, opt.valueSize, 7);
  const dir = path.join(root, 'warmup');
  fs.mkdirSync(dir);
  const h = await driver.open(dir, { durable: false });
  await load(h, ww, null, driver.loadWindow);
  timeGets(h.get, Array.from({ length: warmN }, (_, i) => ww.key(i)), 200);
  await h.close();
  fs.rmSync(dir, { recursive: true, force: true });
  gc();
}

async function runMain() {
  const driver = await loadDriver();
  if (!driver) return;
  const N = opt.keys;
  const box = opt.phaseMs;
  const metrics = {};
  const extra = { notes: [], checks: {} };
  await withRoot(async (root) => {
    phase(`generating ${N} keys`);
    const w = makeWorkload(N, opt.valueSize);
    phase('warm-up');
    await warmUp(driver, root);

    // Load in sorted order, into the store that the later phases use.
    phase('load, sorted order');
    const mainDir = path.join(root, 'main');
    fs.mkdirSync(mainDir);
    const rss0 = rssAnon();
    let h = await driver.open(mainDir, { durable: false });
    const ls = await load(h, w, null, driver.loadWindow);
    metrics.load_sorted = ls.rate;
    log(`load (sorted order) ${fmt(ls.rate)} keys/s`);

    // Memory and disk right after the load.
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

    // The RAM it takes to hold the loaded store open, in a fresh process (no load residue).
    phase('memory to open the store (fresh process)');
    const probe = spawnSync(process.execPath, ['--expose-gc', process.argv[1], engine,
      JSON.stringify({ memoryProbe: mainDir, keys: N, probeKey: w.key(0).toString('hex') })],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    const probed = JSON.parse(probe.stdout.trim().split('\n').pop() || '{}');
    if (probed.rssAnonPerKey === undefined) throw new Error(`memory probe failed (exit ${probe.status})`);
    metrics.rss_open_per_key = probed.rssAnonPerKey;
    log(`memory to open the loaded store ${metrics.rss_open_per_key.toFixed(1)} B/key anon RSS`);

    h = await driver.open(mainDir, { durable: true });

    // Synchronous random GET of present keys, then of missing keys.
    phase('sync get, present keys');
    gc();
    const hitKeys = Array.from(w.randomIndexes(opt.gets, 1), (i) => w.key(i));
    timeGets(h.get, hitKeys, opt.warmMs, opt.warmupGets);
    const g = timeGets(h.get, hitKeys, box);
    extra.checks.getOps = g.ops;
    extra.checks.getHits = g.hits;
    if (g.hits !== g.ops) extra.notes.push(`get: ${g.ops - g.hits} of ${g.ops} present keys read as missing`);
    metrics.get_hit = g.rate;
    log(`get (hit) ${fmt(g.rate)} ops/s`);

    phase('sync get, missing keys');
    gc();
    const missKeys = Array.from({ length: Math.min(opt.gets, 1 << 18) }, w.missingKey);
    timeGets(h.get, missKeys, opt.warmMs, opt.warmupGets);
    const m = timeGets(h.get, missKeys, box);
    extra.checks.missOps = m.ops;
    extra.checks.missHits = m.hits;
    if (m.hits !== 0) extra.notes.push(`get missing: ${m.hits} missing keys returned a value`);
    metrics.get_miss = m.rate;
    log(`get (missing) ${fmt(m.rate)} ops/s`);

    // The engine's second sync read path, if any (lmdb: getBinaryFast), after the plain get's
    // loops so that those call sites stay monomorphic.
    if (h.getFast) {
      phase('sync get, fast path');
      gc();
      timeGets(h.getFast, hitKeys, opt.warmMs, opt.warmupGets);
      const f = timeGets(h.getFast, hitKeys, box);
      metrics.get_fast = f.rate;
      log(`get (fast path) ${fmt(f.rate)} ops/s`);
    }

    // The engine's async read, `asyncInflight` in flight.
    if (h.getAsync) {
      const runAsync = async (keys, name) => {
        phase(`async get, ${name}`);
        gc();
        const len = keys.length;
        await concurrent(opt.asyncInflight, opt.warmupGets, opt.warmMs, (j) => h.getAsync(keys[j % len]));
        return concurrent(opt.asyncInflight, Infinity, box, (j) => h.getAsync(keys[j % len]));
      };
      const ah = await runAsync(hitKeys, 'present keys');
      metrics.get_async_hit = ah.rate;
      if (ah.results !== ah.ops) extra.notes.push(`getAsync: ${ah.ops - ah.results} of ${ah.ops} present keys read as missing`);
      log(`async get (hit, ${opt.asyncInflight} in flight) ${fmt(ah.rate)} ops/s`);
      if (h.asyncMiss) {
        const am = await runAsync(missKeys, 'missing keys');
        metrics.get_async_miss = am.rate;
        if (am.results !== 0) extra.notes.push(`getAsync missing: ${am.results} missing keys returned a value`);
        log(`async get (missing) ${fmt(am.rate)} ops/s`);
      }
    }

    // Batched reads: one call for a batch of keys; the rate counts keys.
    if (h.getMany) {
      for (const size of opt.getManyBatches) {
        phase(`getMany, batches of ${size}`);
        gc();
        const batches = [];
        for (let o = 0; o + size <= hitKeys.length && batches.length * size < (1 << 18); o += size) batches.push(hitKeys.slice(o, o + size));
        const nb = batches.length;
        let hits = 0;
        const count = (vs) => {
          for (let i = 0; i < vs.length; i++) if (vs[i] !== undefined) hits++;
        };
        const first = h.getMany(batches[0]);
        let r;
        if (isThenable(first)) {
          await first;
          await concurrent(1, Math.ceil(opt.warmupGets / size), opt.warmMs, (j) => h.getMany(batches[j % nb]));
          r = await concurrent(1, Infinity, box, (j) => h.getMany(batches[j % nb]).then(count));
          extra.getManyAsync = true;
        } else {
          timeGets(h.getMany, batches, opt.warmMs, Math.ceil(opt.warmupGets / size));
          r = timeGets((ks) => {
            const vs = h.getMany(ks);
            count(vs);
            return vs;
          }, batches, box);
        }
        metrics[`getmany_${size}`] = r.rate * size;
        if (hits !== r.ops * size) extra.notes.push(`getMany(${size}): ${r.ops * size - hits} of ${r.ops * size} present keys read as missing`);
        log(`getMany, batches of ${size}: ${fmt(r.rate * size)} keys/s`);
      }
    }

    // Mixed: `mixedClients` clients; 90% sync GETs of present keys, 10% awaited durable PUTs.
    {
      phase('mixed 90% get / 10% durable put');
      gc();
      const ops = new Uint8Array(1 << 16);
      const mixIdx = w.randomIndexes(ops.length, 6);
      for (let i = 0; i < ops.length; i++) ops[i] = mixIdx[i] % 10 === 0 ? 1 : 0;
      const putIdx = w.randomIndexes(1 << 16, 8);
      const hl = hitKeys.length;
      let writes = 0;
      const issue = (j) => {
        if (ops[j & 0xffff] === 1) {
          writes++;
          return h.put(w.key(putIdx[j & 0xffff]), w.value(j));
        }
        return h.get(hitKeys[j % hl]) !== undefined;
      };
      await concurrent(opt.mixedClients, 2000, opt.warmMs, issue);
      writes = 0;
      const r = await concurrent(opt.mixedClients, Infinity, box, issue);
      metrics.mixed_90_10 = r.rate;
      extra.mixed = { ops: r.ops, writes };
      log(`mixed 90/10 (${opt.mixedClients} clients) ${fmt(r.rate)} ops/s (${writes} durable puts)`);
    }
    hitKeys.length = 0;
    missKeys.length = 0;

    // Durable PUT, overwrites of random present keys: 1 in flight (latency), then 16 and 256.
    const putIdx = w.randomIndexes(1 << 20, 3);
    const putIssue = (base) => (j) => h.put(w.key(putIdx[(base + j) & 0xfffff]), w.value(j + 1));
    const fsyncsNow = () => h.info().stats?.fsyncs;
    {
      phase('one awaited durable put at a time');
      gc();
      await concurrent(1, 50, Infinity, putIssue(0));
      const lat = histogram();
      const fs0 = fsyncsNow();
      const r = await concurrent(1, opt.singleMax, opt.singleMs, putIssue(50), lat);
      const pc = percentilesUs(lat);
      metrics.put_durable_1 = r.rate;
      metrics.put_single_p50 = pc.p50;
      metrics.put_single_p99 = pc.p99;
      metrics.put_single_p999 = pc.p999;
      metrics.put_single_max = pc.max;
      extra.putSingle = { ops: r.ops, seconds: r.seconds };
      if (fs0 !== undefined) extra.putSingle.fsyncs = fsyncsNow() - fs0;
      log(`durable put, 1 in flight: ${fmt(r.rate)} ops/s; p50 ${pc.p50.toFixed(0)} µs, p99 ${pc.p99.toFixed(0)} µs, ` +
        `p99.9 ${pc.p999.toFixed(0)} µs, max ${pc.max.toFixed(0)} µs (${r.ops} ops)`);
    }
    for (const inflight of opt.inflights) {
      phase(`durable put, ${inflight} in flight`);
      gc();
      const base = 100000 * inflight;
      await concurrent(inflight, 2 * inflight, Infinity, putIssue(base));
      const fs0 = fsyncsNow();
      const r = await concurrent(inflight, opt.durableMax, box, putIssue(base + 2 * inflight));
      metrics[`put_durable_${inflight}`] = r.rate;
      extra[`putDurable${inflight}`] = { ops: r.ops, seconds: r.seconds };
      if (fs0 !== undefined) extra[`putDurable${inflight}`].fsyncs = fsyncsNow() - fs0;
      log(`durable put, ${inflight} in flight: ${fmt(r.rate)} ops/s (${r.ops} ops)`);
    }

    // Durable DEL, 256 in flight, of distinct present keys.
    const delOrder = w.permutation(5);
    const delCap = Math.max(1, Math.floor(0.4 * (N - 2048)));
    let delUsed = 0;
    const delPhase = async (name) => {
      gc();
      const warm = 256;
      const base = delUsed;
      await concurrent(256, warm, Infinity, (j) => h.del(w.key(delOrder[base + j])));
      const r = await concurrent(256, delCap, box, (j) => h.del(w.key(delOrder[base + warm + j])));
      delUsed += warm + r.ops;
      for (let j = 0; j < Math.min(r.ops, 1000); j++) {
        if (h.get(w.key(delOrder[base + warm + j])) !== undefined) {
          extra.notes.push(`${name}: a deleted key still reads back`);
          break;
        }
      }
      return r;
    };
    {
      phase('durable delete, 256 in flight');
      const r = await delPhase('durable del');
      metrics.del_durable_256 = r.rate;
      extra.delDurable = { ops: r.ops, seconds: r.seconds };
      log(`durable del, 256 in flight: ${fmt(r.rate)} ops/s (${r.ops} ops)`);
    }

    // Reopen: close, then time open() + the first get.
    phase('reopen');
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

    // Non-durable PUT and DEL, 256 in flight, on the same store opened non-durably.
    h = await driver.open(mainDir, { durable: false });
    {
      phase('non-durable put, 256 in flight');
      gc();
      const idx = w.randomIndexes(1 << 20, 7);
      const issue = (j) => h.put(w.key(idx[j & 0xfffff]), w.value(j));
      await concurrent(256, 512, Infinity, issue);
      const r = await concurrent(256, Infinity, box, (j) => issue(j + 512));
      metrics.put_nd_256 = r.rate;
      log(`non-durable put, 256 in flight: ${fmt(r.rate)} ops/s (${r.ops} ops)`);
    }
    {
      phase('non-durable delete, 256 in flight');
      const r = await delPhase('non-durable del');
      metrics.del_nd_256 = r.rate;
      log(`non-durable del, 256 in flight: ${fmt(r.rate)} ops/s (${r.ops} ops)`);
    }
    await h.close();
    fs.rmSync(mainDir, { recursive: true, force: true });

    // Load in random order into a fresh store (after the main store is gone).
    phase('load, random order');
    gc();
    const randDir = path.join(root, 'random');
    fs.mkdirSync(randDir);
    const order = w.permutation(1);
    h = await driver.open(randDir, { durable: false });
    const lr = await load(h, w, order, driver.loadWindow, opt.loadMs);
    metrics.load_random = lr.rate;
    if (lr.timeboxed) extra.loadRandomKeys = lr.keys; // the report says so
    log(`load (random order) ${fmt(lr.rate)} keys/s${lr.timeboxed ? ` (time-boxed at ${lr.keys} keys)` : ''}`);
    await h.close();
  });
  emit({ engine, ...describe(driver), metrics, extra });
}

// The O(1) curve and the value-size table: at one store size and value size, the cost of a
// sync GET of a random present key and of a non-durable PUT (overwrite, 256 in flight).
async function runGrid() {
  const driver = await loadDriver();
  if (!driver) return;
  const N = opt.keys;
  const out = { keys: N, valueSize: opt.valueSize };
  await withRoot(async (root) => {
    phase(`grid ${N} keys × ${opt.valueSize} B: generating keys`);
    const w = makeWorkload(N, opt.valueSize);
    const dir = path.join(root, 'store');
    fs.mkdirSync(dir);
    const h = await driver.open(dir, { durable: false });
    phase(`grid ${N} keys × ${opt.valueSize} B: load`);
    const ls = await load(h, w, null, driver.loadWindow);
    out.load = ls.rate;
    out.indexBytes = h.indexBytes();
    out.diskBytes = diskUsage(dir).size;
    gc();

    phase(`grid ${N} keys × ${opt.valueSize} B: sync get`);
    const keys = Array.from(w.randomIndexes(Math.min(opt.gets, 1 << 20), 11), (i) => w.key(i));
    timeGets(h.get, keys, opt.warmMs, opt.warmupGets);
    const g = timeGets(h.get, keys, opt.phaseMs);
    out.get = g.rate;
    out.getHits = g.hits;
    out.getOps = g.ops;
    keys.length = 0;
    gc();

    phase(`grid ${N} keys × ${opt.valueSize} B: non-durable put, 256 in flight`);
    const idx = w.randomIndexes(1 << 20, 12);
    const issue = (j) => h.put(w.key(idx[j & 0xfffff]), w.value(j));
    await concurrent(256, opt.warmupGets, opt.warmMs, issue);
    const p = await concurrent(256, Infinity, opt.phaseMs, (j) => issue(j + (1 << 19)));
    out.put = p.rate;
    await h.close();
    log(`${N} keys × ${opt.valueSize} B: get ${(1e9 / g.rate).toFixed(0)} ns/op (${fmt(g.rate)}/s), ` +
      `non-durable put ${(1e9 / p.rate).toFixed(0)} ns/op (${fmt(p.rate)}/s)` +
      (g.hits !== g.ops ? `; ${g.ops - g.hits} of ${g.ops} present keys read as missing` : ''));
  });
  emit({ engine, ...describe(driver), grid: out });
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

// Any error ends the process at once: an engine's native threads must not keep a failed trial alive.
const fail = (e) => {
  process.stderr.write(`${e?.stack ?? e}\n`);
  process.exit(1);
};
process.on('unhandledRejection', fail);
try {
  if (opt.memoryProbe !== undefined) {
    await memoryProbe();
  } else if (opt.mode === 'fsync-ref' || engine === 'fsync-ref') {
    emit({ engine, fsync: fsyncReference(opt.fsyncCount ?? 1000) });
  } else if (opt.mode === 'grid') {
    await runGrid();
  } else {
    await runMain();
  }
} catch (e) {
  fail(e);
}
