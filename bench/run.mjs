// The benchmark orchestrator: runs every (repeat, engine, trial) in a fresh child process, shows
// progress on stderr, then prints the tables and writes RESULTS.md and its two SVG charts.
// See bench/README.md.
//
//   node bench/run.mjs [--keys N] [--value-size B] [--engines LIST] [--quick] [--repeat R]
//                      [--trials main,curve,values] [--curve-max N] [--out FILE]
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ALIASES, DRIVERS, ENGINE_NAMES } from './drivers.mjs';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(BENCH);
const SUBJECT = 'hashlog';
const BASELINE = 'lmdb';
const CURVE_SIZES = [10_000, 100_000, 1_000_000, 10_000_000];
const VALUE_SIZES = [16, 100, 1024, 16384];
const TRIALS = ['main', 'curve', 'values'];

const USAGE = `usage: npm run bench -- [options]
  --keys N          keys in the main trial's store (default 1000000; --quick: 20000)
  --value-size B    value bytes of the main trial and the O(1) curve (default 100)
  --engines LIST    comma-separated, or "all" (default all: ${ENGINE_NAMES.join(',')})
  --quick           small smoke run for CI (fewer keys, short time boxes, 1 repeat, under a minute)
  --repeat R        trials per engine, each in a fresh process (default 3; --quick: 1)
  --trials LIST     which trials: main (the main table), curve (the O(1) curve), values (the
                    value-size tables); default main,curve,values
  --curve-max N     largest store of the O(1) curve: 10000, 100000, 1000000 or 10000000
                    (default 1000000; --quick: 100000)
  --out FILE        Markdown report (default bench/RESULTS.md); the SVGs go beside it
Exit status: 0, or 1 when the bench itself broke (a trial crashed, a throughput was zero or not
finite, or hashlog read back the wrong number of keys); never because of a timing.`;

const isTTY = process.stderr.isTTY === true;
let progress; // set in main()
const log = (msg) => (progress ? progress.print(msg) : process.stderr.write(`${msg}\n`));

function parseArgs(argv) {
  const a = { keys: undefined, valueSize: 100, engines: [...ENGINE_NAMES], quick: false, repeat: undefined, curveMax: undefined, trials: new Set(TRIALS), out: path.join(BENCH, 'RESULTS.md') };
  const int = (name, v, min) => {
    const n = Number(String(v).replace(/_/g, ''));
    if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}, got ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    const value = () => {
      if (inline !== undefined) return inline;
      if (i + 1 >= argv.length) throw new Error(`${flag} needs a value`);
      return argv[++i];
    };
    switch (flag) {
      case '--keys': a.keys = int('--keys', value(), 1000); break;
      case '--value-size': a.valueSize = int('--value-size', value(), 1); break;
      case '--engines': {
        const v = value();
        a.engines = v === 'all' ? [...ENGINE_NAMES] : v.split(',').map((s) => s.trim()).filter(Boolean).map((s) => ALIASES[s] ?? s);
        if (a.engines.length === 0) throw new Error('--engines needs at least one engine');
        break;
      }
      case '--quick': a.quick = true; break;
      case '--repeat': a.repeat = int('--repeat', value(), 1); break;
      case '--curve-max': a.curveMax = int('--curve-max', value(), 10_000); break;
      case '--trials': {
        const t = value().split(',').map((s) => s.trim()).filter(Boolean);
        const bad = t.filter((x) => !TRIALS.includes(x));
        if (bad.length || t.length === 0) throw new Error(`--trials takes a list of ${TRIALS.join(', ')}; got ${t.join(',') || 'nothing'}`);
        a.trials = new Set(t);
        break;
      }
      case '--out': a.out = path.resolve(value()); break;
      case '--help': case '-h': process.stderr.write(`${USAGE}\n`); process.exit(0); break;
      default: throw new Error(`unknown option ${argv[i]}`);
    }
  }
  a.keys ??= a.quick ? 20_000 : 1_000_000;
  a.repeat ??= a.quick ? 1 : 3;
  a.curveMax ??= a.quick ? 100_000 : 1_000_000;
  a.engines = [...new Set(a.engines)];
  return a;
}

/** What each trial does; --quick shrinks the counts and time boxes. */
function trialConfig(a) {
  const q = a.quick;
  return {
    mode: 'main',
    keys: a.keys,
    valueSize: a.valueSize,
    gets: q ? 100_000 : 1_000_000, // prepared random keys for the GET loops (cycled through)
    warmupGets: q ? 20_000 : 100_000,
    warmMs: q ? 100 : 200, // warm-up time box before each timed phase
    phaseMs: q ? 200 : 600, // time box of each throughput phase
    gridPhaseMs: q ? 150 : 500, // the same in the grid trials
    singleMs: q ? 400 : 2_000, // time box of the one-awaited-put latency phase
    singleMax: q ? 5_000 : 30_000,
    inflights: [16, 256],
    durableMax: 5_000_000,
    asyncInflight: 256,
    getManyBatches: [16, 256],
    mixedClients: 64,
    loadMs: 10_000, // the random-order load stops here (SQLite's B-tree takes ~30 s for 1M keys)
    fsyncCount: q ? 300 : 2_000,
  };
}

/** The grid: the O(1) curve (store sizes at --value-size) and the value-size table. */
function gridPlan(a) {
  const curveSizes = a.trials.has('curve') ? CURVE_SIZES.filter((k) => k <= a.curveMax) : [];
  if (a.trials.has('curve') && curveSizes.length === 0) curveSizes.push(CURVE_SIZES[0]);
  const valueKeys = a.quick ? 10_000 : 100_000;
  const byteCap = a.quick ? 32 << 20 : 256 << 20; // value bytes per store at most: 16 KiB values get fewer keys
  const values = !a.trials.has('values') ? [] : VALUE_SIZES.map((vs) => ({ valueSize: vs, keys: Math.max(1000, Math.min(valueKeys, Math.floor(byteCap / vs / 1000) * 1000)) }));
  const points = [];
  const seen = new Set();
  for (const p of [...curveSizes.map((k) => ({ keys: k, valueSize: a.valueSize })), ...values]) {
    const id = `${p.keys}x${p.valueSize}`;
    if (!seen.has(id)) {
      seen.add(id);
      points.push(p);
    }
  }
  return { curve: curveSizes.length ? { sizes: curveSizes, valueSize: a.valueSize } : undefined, values, points };
}

function gridConfig(main, p) {
  return { ...main, mode: 'grid', keys: p.keys, valueSize: p.valueSize, phaseMs: main.gridPhaseMs, warmMs: Math.min(main.warmMs, 150) };
}

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const hasPackage = (name) => fs.existsSync(path.join(BENCH, 'node_modules', ...name.split('/'), 'package.json'));

/**
 * Installs what the requested engines need from bench/package.json: `npm install --ignore-scripts`
 * when a package is missing (the peers ship prebuilt binaries; nothing is compiled), then
 * `npm rebuild` of a package that must compile (better-sqlite3), only if its engine is requested.
 * A failure is reported, not fatal: that engine is then skipped. Returns { engine: reason }.
 */
function ensureInstalled(engines) {
  const reasons = {};
  const wanted = ['hdr-histogram-js', ...engines.flatMap((e) => DRIVERS[e]?.packages ?? [])];
  if (wanted.some((p) => !hasPackage(p))) {
    log(`bench: installing peers (npm install --prefix bench --ignore-scripts) ...`);
    const t0 = Date.now();
    const r = spawnSync(npm, ['install', '--prefix', BENCH, '--ignore-scripts', '--no-audit', '--no-fund'], { stdio: ['ignore', 2, 2] });
    if (r.status !== 0) log(`bench: npm install failed (${r.error?.message ?? `exit ${r.status}`}); peers that cannot load are skipped`);
    else log(`bench: installed in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  }
  for (const e of engines) {
    const b = DRIVERS[e]?.build;
    if (!b || !hasPackage(b.pkg) || fs.existsSync(path.join(BENCH, 'node_modules', b.pkg, b.file))) continue;
    log(`bench: building ${b.pkg} from source for ${e} (npm rebuild; about a minute on 2 cores) ...`);
    const t0 = Date.now();
    const r = spawnSync(npm, ['rebuild', b.pkg, '--prefix', BENCH, '--no-audit', '--no-fund'], { stdio: ['ignore', 2, 2] });
    if (r.status !== 0 || !fs.existsSync(path.join(BENCH, 'node_modules', b.pkg, b.file))) {
      reasons[e] = `npm rebuild ${b.pkg} failed (${r.error?.message ?? `exit ${r.status}`})`;
      log(`bench: ${reasons[e]}`);
    } else {
      log(`bench: built ${b.pkg} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    }
  }
  return reasons;
}

/**
 * A single status line at the bottom of the terminal (a TTY only): step k of n, elapsed, an
 * estimate of what is left, the trial and its phase. Other output is printed above it. Without
 * a TTY (CI), each trial's start and the trials' result lines are printed as plain lines.
 */
class Progress {
  constructor(total) {
    this.total = total; // estimated seconds of all steps
    this.doneWeight = 0;
    this.steps = 0;
    this.step = 0;
    this.t0 = Date.now();
    this.what = '';
    this.phase = '';
    this.shown = false;
    // Redraw every second so the clock moves during long phases.
    this.timer = isTTY ? setInterval(() => this.render(), 1000).unref() : undefined;
  }
  elapsed() {
    return (Date.now() - this.t0) / 1000;
  }
  static clock(s) {
    s = Math.max(0, Math.round(s));
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
  }
  line() {
    const e = this.elapsed();
    const left = this.doneWeight > 0 ? (e / this.doneWeight) * (this.total - this.doneWeight) : this.total - e;
    const text = `bench [${this.step}/${this.steps}] ${Progress.clock(e)} elapsed, ~${Progress.clock(left)} left · ${this.what}${this.phase ? ` · ${this.phase}` : ''}`;
    const cols = process.stderr.columns || 120;
    return text.length > cols - 1 ? `${text.slice(0, cols - 2)}…` : text;
  }
  render() {
    if (!isTTY) return;
    process.stderr.write(`\r\x1b[K${this.line()}`);
    this.shown = true;
  }
  clear() {
    if (isTTY && this.shown) process.stderr.write('\r\x1b[K');
    this.shown = false;
  }
  print(msg) {
    this.clear();
    process.stderr.write(`${msg}\n`);
    this.render();
  }
  start(step, what) {
    this.step = step;
    this.what = what;
    this.phase = '';
    if (isTTY) this.render();
    else process.stderr.write(`bench [${step}/${this.steps}] ${Progress.clock(this.elapsed())} ${what}\n`);
  }
  setPhase(p) {
    this.phase = p;
    this.render();
  }
  finish(weight) {
    this.doneWeight += weight;
  }
  stop() {
    clearInterval(this.timer);
    this.clear();
  }
}

/** Runs one trial child; resolves to its JSON, or { failed: reason }. Kills it after `timeoutS`. */
function runChild(engine, config, label, timeoutS = 600) {
  return new Promise((resolve) => {
    let timedOut = false;
    const child = spawn(process.execPath, ['--expose-gc', path.join(BENCH, 'trial.mjs'), engine, JSON.stringify({ ...config, label })],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let errTail = '';
    let partial = '';
    child.stdout.setEncoding('utf8').on('data', (d) => { out += d; });
    child.stderr.setEncoding('utf8').on('data', (d) => {
      errTail = (errTail + d).slice(-4000);
      const lines = (partial + d).split('\n');
      partial = lines.pop();
      for (const l of lines) {
        if (l.startsWith('@phase ')) progress.setPhase(l.slice(7));
        else progress.print(l);
      }
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutS * 1000);
    child.on('error', (e) => resolve({ failed: e.message }));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) return resolve({ failed: `no result after ${timeoutS} s: killed` });
      if (partial) progress.print(partial);
      const last = out.trim().split('\n').pop();
      let parsed;
      try {
        parsed = last ? JSON.parse(last) : undefined;
      } catch {
        parsed = undefined;
      }
      if (code === 0 && parsed) return resolve(parsed);
      const tail = errTail.split('\n').map((l) => l.trim());
      const why = tail.find((l) => /^(Uncaught )?\w*Error\b.*:/.test(l)) ?? tail.find((l) => /Error|error:/.test(l));
      resolve({ failed: `${signal ? `killed by ${signal}` : `exit ${code}`}${why ? `: ${why}` : ''}` });
    });
  });
}

function sh(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

function cpuCaches() {
  const dir = '/sys/devices/system/cpu/cpu0/cache';
  try {
    return fs.readdirSync(dir).filter((d) => d.startsWith('index')).map((d) => {
      const f = (n) => fs.readFileSync(path.join(dir, d, n), 'utf8').trim();
      return `L${f('level')}${f('type') === 'Data' ? 'd' : f('type') === 'Instruction' ? 'i' : ''} ${f('size')}`;
    }).join(', ');
  } catch {
    return 'unknown';
  }
}

function machineInfo() {
  const cpuinfo = fs.existsSync('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8') : '';
  const model = /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  const tmp = os.tmpdir();
  const df = sh('df', ['--output=fstype', tmp])?.split('\n').pop();
  const statf = sh('stat', ['-f', '-c', '%T', tmp]);
  const rev = sh('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']);
  const dirty = sh('git', ['-C', ROOT, 'status', '--porcelain', '--', 'lib', 'native', 'binding.gyp']);
  const version = (dir) => {
    try {
      return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
    } catch {
      return 'not installed';
    }
  };
  return {
    cpu: model,
    cores: os.cpus().length,
    caches: cpuCaches(),
    memGiB: (os.totalmem() / 2 ** 30).toFixed(1),
    kernel: `${os.type()} ${os.release()}`,
    tmpdir: tmp,
    fs: df && statf && df !== statf ? `${df} (\`stat -f\`: ${statf})` : df ?? statf ?? 'unknown',
    node: process.version,
    hashlog: `${version(ROOT)} (git ${rev ?? '?'}${dirty ? ', with uncommitted changes in lib/ or native/' : ''}; the build in dist/ and build/)`,
    hdr: version(path.join(BENCH, 'node_modules', 'hdr-histogram-js')),
  };
}

/**
 * A section of an earlier report at `file` between `<!-- name:start -->` and `<!-- name:end -->`,
 * kept across runs: the hand-written analysis, and the server bench's section (bench/server.mjs).
 */
function keptSection(file, name) {
  const start = `<!-- ${name}:start -->`, end = `<!-- ${name}:end -->`;
  try {
    const old = fs.readFileSync(file, 'utf8');
    const i = old.indexOf(start), j = old.indexOf(end);
    return i >= 0 && j > i ? old.slice(i, j + end.length) : undefined;
  } catch {
    return undefined;
  }
}

const fmtInt = (n) => n.toLocaleString('en-US');

function writeReport(a, config, plan, machine, engines, fsync, table, grid, report, seconds) {
  const { markdownTable, ratioTable, curveTable, valueTable, evaluateTargets, formatValue, formatCount, formatBytes, svgChart, svgCurve } = report;
  const base = path.basename(a.out) === 'RESULTS.md' ? path.join(path.dirname(a.out), 'results') : a.out.replace(/(\.md)?$/, '');
  const svgPath = `${base}.svg`;
  const curvePath = `${base}-curve.svg`;
  const ok = engines.filter((e) => e.status === 'ok');
  const byName = Object.fromEntries(engines.map((e) => [e.name, e]));
  const haveBoth = byName[SUBJECT]?.status === 'ok' && byName[BASELINE]?.status === 'ok';
  const hasMain = a.trials.has('main');
  const barChart = hasMain && ok.some((e) => e.name !== BASELINE) && byName[BASELINE]?.status === 'ok';
  const targets = haveBoth ? evaluateTargets(table, grid, fsync, SUBJECT, BASELINE, plan.curve) : [];
  const n = fmtInt(a.keys);
  const md = [];
  md.push('# hashlog benchmark results', '');
  md.push(`Generated by \`npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}\` on ` +
    `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC in ${Math.round(seconds)} s: ${a.repeat} repeat${a.repeat > 1 ? 's' : ''} ` +
    `of every trial${a.quick ? ' (**--quick**: a smoke run, not for quoting)' : ''}. Each cell is the median over the repeats, with the ` +
    'range (min–max) in parentheses. A ratio in a table is hashlog ÷ peer of the medians (the "better" column says whether ' +
    'higher or lower is good); the bar chart turns every ratio so that right of 1 is better for the engine.', '');
  md.push('## Machine', '');
  md.push(`- CPU: ${machine.cpu}, ${machine.cores} cores (caches per core as the VM reports them: ${machine.caches}), ${machine.memGiB} GiB RAM`);
  md.push(`- Kernel: ${machine.kernel}`);
  md.push(`- Filesystem of \`os.tmpdir()\` (${machine.tmpdir}): ${machine.fs}`);
  md.push(`- Node ${machine.node}; hdr-histogram-js ${machine.hdr}; hashlog ${machine.hashlog}`);
  for (const e of engines) {
    if (e.name !== SUBJECT) md.push(`- ${DRIVERS[e.name]?.title ?? e.name}: ${e.status === 'ok' ? e.version : `skipped (${e.reason})`}`);
  }
  if (machine.loads.length) {
    const hi = Math.max(...machine.loads);
    md.push(`- Load: 1-minute load average ${machine.loadStart.toFixed(2)} at the start, ${machine.loadEnd.toFixed(2)} at the end; ` +
      `${Math.min(...machine.loads).toFixed(2)}–${hi.toFixed(2)} as each trial started (the bench's own previous trial counts for about 1` +
      `${hi > 1.8 ? '; more means other work shared the 2 cores and may have slowed some trials' : ''})`);
  }
  md.push('');
  md.push('## Methodology', '');
  md.push(
    '- Every (repeat, engine, trial) runs in a fresh `node --expose-gc bench/trial.mjs` process, in its own temporary ' +
      'directory under `os.tmpdir()` that is removed afterwards; the engine order rotates between repeats. `gc()` runs between phases.',
    '- Workload: the same for every engine, from a fixed-seed PRNG (`bench/workload.mjs`): 16-byte binary keys (Buffers); ' +
      'values of distinct random bytes (incompressible, so LevelDB\'s and RocksDB\'s Snappy gains nothing); "sorted order" is ' +
      'bytewise key order, "random order" a fixed shuffle; every access order is a fixed-seed stream.',
    hasMain && `- **Main trial** (${n} keys, ${a.valueSize} B values): warm-up load of 20,000 keys into a scratch store; load all keys ` +
      '(sorted; non-durable store); memory and disk; memory to open it (fresh process); reopen durable; sync GETs of present keys, ' +
      'of missing keys, lmdb\'s `getBinaryFast`; async GETs; `getMany`; the mixed run; durable PUTs with 1, 16, 256 in flight; ' +
      'durable DELs; close and time the reopen; reopen non-durable for non-durable PUTs and DELs; load all keys again in random ' +
      'order into a fresh store.',
    `- Timing: every timed phase runs after a warm-up (up to ${fmtInt(config.warmupGets)} ops or ${config.warmMs} ms) and stops ` +
      `after ${config.phaseMs} ms (a time box; rates count the ops done). Sync GETs: a tight loop over ${fmtInt(config.gets)} prepared ` +
      'uniformly random keys, cycling, the clock (`process.hrtime.bigint()`) read every 1,024 gets; the hit count is checked. ' +
      `Async GETs: ${config.asyncInflight} in flight. \`getMany\`: batches of ${config.getManyBatches.join(' and ')} keys, one call at a time ` +
      '(awaited where the engine\'s `getMany` is async); the rate counts keys.',
    `- "N in flight": N concurrent clients, each awaiting its write before issuing the next (overwrites of random present keys; ` +
      'DELs of distinct present keys). "One awaited durable put": 1 client, latency of each from hdr-histogram-js (ns precision), ' +
      `after 50 warm-up puts, for ${config.singleMs / 1000} s or ${fmtInt(config.singleMax)} puts.`,
    `- Mixed: ${config.mixedClients} clients; each op is a sync GET of a random present key (90%) or an awaited durable PUT of a random ` +
      'present key (10%), from a fixed-seed sequence; ops/s counts both.',
    '- Load: every key once, then a flush (fdatasync); the rate includes the flush. The random-order load stops at ' +
      `${config.loadMs / 1000} s (noted when it does).`,
    '- Memory: "after the load" is the growth of `RssAnon` (/proc/self/status: heap, malloc, anonymous mmap; not ' +
      'file pages) from just before opening to just after loading, divided by the keys; it includes what the load idiom ' +
      'leaves behind. "To open" is the same growth across `open()` + one get of the loaded store in a fresh process.',
    '- Disk: the sum of the file sizes in the store directory after the load, divided by the keys.',
    `- Raw reference: \`fs.writeSync\` of 128 B + \`fs.fdatasyncSync\` on the same filesystem, ${fmtInt(config.fsyncCount)} ` +
      'times, once into blocks written and synced beforehand (the reference of the target) and once appending to a growing file.',
  );
  if (plan.curve) {
    md.push(`- **Grid trials** (the O(1) curve and the value-size tables): one fresh process per (engine, store size, value size): ` +
      'load the keys (sorted, non-durable store), then time sync GETs of random present keys and non-durable PUTs (overwrites, 256 in ' +
      'flight), each after a warm-up and within the same time box.');
  }
  md.push('', '**Durability and idioms per engine** (every "durable" number means the write was fdatasynced before its promise settled; ' +
    '"non-durable" means written to the OS, as a killed process would keep it but a power cut might not):', '');
  for (const e of engines) {
    const title = DRIVERS[e.name]?.title ?? e.name;
    if (e.status === 'ok') {
      md.push(`- **${title}** — durable: ${e.info.durability}. Non-durable: ${e.info.nonDurable}. Load: ${e.info.bulkLoad}. Reads: ${e.info.reads}.`);
    } else {
      md.push(`- **${title}**: skipped (${e.reason}).`);
    }
  }
  if (hasMain) {
    md.push('', `## Results: ${n} keys, 16 B keys, ${a.valueSize} B values`, '');
    md.push(markdownTable(table, engines, SUBJECT, BASELINE), '');
    md.push(`Raw write(128 B) + fdatasync p50: ${formatValue('us', fsync.overwrite?.median)} into pre-written blocks, ` +
      `${formatValue('us', fsync.append?.median)} appending (p99 ${formatValue('us', fsync.overwriteP99?.median)} / ${formatValue('us', fsync.appendP99?.median)}).`, '');
    if (barChart) md.push(`![times better than ${BASELINE}, per operation](${path.relative(path.dirname(a.out), svgPath)})`, '');
    const rt = ratioTable(table, engines, SUBJECT);
    if (rt && ok.length > 2) md.push(`### ${SUBJECT} ÷ each peer`, '', rt, '');
  }

  if (plan.curve && ok.length) {
    const sizes = plan.curve.sizes;
    md.push(`## The O(1) curve: cost per operation as the store grows (${a.valueSize} B values)`, '');
    md.push(curveTable(grid, engines, plan.curve), '');
    md.push(`![ns per GET and PUT against store size](${path.relative(path.dirname(a.out), curvePath)})`, '');
    const mib = (b) => `${(b / 2 ** 20).toFixed(b < 2 ** 20 ? 2 : b < 10 * 2 ** 20 ? 1 : 0)} MiB`;
    const idx = sizes.map((k) => {
      const c = grid[SUBJECT]?.[`${k}x${a.valueSize}`];
      return c?.indexBytes ? `${formatCount(k)} keys: index ${mib(c.indexBytes.median)} + log ${mib(c.diskBytes?.median ?? 0)}` : undefined;
    }).filter(Boolean);
    md.push('**Reading the curve.** A hashlog GET hashes the key, reads one bucket of the in-RAM index (a tag and a ' +
      'location, no keys) and then the record in the log, which is in the page cache: two dependent memory accesses whatever ' +
      'the number of keys. Its cost stays flat while the index and the touched records sit in the CPU caches, and steps up once ' +
      'they do not: each access becomes a cache (and TLB) miss, ~100–400 ns on this machine (see /work/shared/MACHINE-FACTS.md), ' +
      `and then stays flat again. hashlog's index and log${idx.length ? ` (${idx.join('; ')})` : ''} against this CPU's caches (${machine.caches}; ` +
      'a VM shares the L3 with other guests) tell where the step falls. A PUT appends to the log and updates one bucket: the same ' +
      'shape. A B-tree (lmdb, SQLite) walks log(n) pages per lookup, so its cost climbs with every tenfold growth as more levels ' +
      'and more pages fall out of the caches; an LSM tree (LevelDB, RocksDB) searches a memtable and then a growing number of ' +
      'levels and files (index blocks, block cache), so its cost climbs too, and a write also pays its share of compaction.', '');
  }
  if (plan.values.length && ok.length) {
    md.push('## Value sizes: GET and PUT by value size', '');
    md.push(`Stores of ${plan.values.map((v) => `${formatCount(v.keys)} keys × ${formatBytes(v.valueSize)}`).join(', ')} ` +
      '(fewer keys for the largest values, to bound the bytes written); the rates are operations per second.', '');
    md.push('**Sync GET of a random present key**', '', valueTable(grid, engines, plan.values, 'get', SUBJECT, BASELINE), '');
    md.push('**Non-durable PUT (overwrite), 256 in flight**', '', valueTable(grid, engines, plan.values, 'put', SUBJECT, BASELINE), '');
  }
  md.push('## Targets (hashlog ÷ lmdb unless stated)', '');
  if (targets.length === 0) {
    md.push(`Not evaluated: needs both ${SUBJECT} and ${BASELINE}.`);
  } else {
    md.push('| target | achieved | |', '|---|---|---|');
    for (const t of targets) md.push(`| ${t.target} | ${t.achieved} | ${t.met === undefined ? 'n/a' : t.met ? 'met' : '**missed**'} |`);
  }
  const kept = keptSection(a.out, 'analysis');
  if (kept) md.push('', kept);
  for (const name of ['server', 'compaction', 'growth', 'open', 'threads']) {
    const kept = keptSection(a.out, name); // written by bench/<name>.mjs
    if (kept) md.push('', kept);
  }
  const notes = [];
  for (const e of ok) {
    for (const note of e.info.notes ?? []) notes.push(`${e.name}: ${note}`);
    const perSync = e.extras.map((x) => x.putDurable256?.fsyncs && x.putDurable256.ops / x.putDurable256.fsyncs).filter(Boolean);
    if (perSync.length) {
      notes.push(`${e.name}: durable puts per fdatasync with 256 in flight: ${perSync.map((x) => x.toFixed(0)).join(', ')} ` +
        '(per repeat; from `stats().fsyncs`).');
    }
    const boxed = e.extras.map((x) => x.loadRandomKeys).filter((x) => x !== undefined);
    if (boxed.length) {
      notes.push(`${e.name}: the random-order load stopped at its ${config.loadMs / 1000} s time box in ${boxed.length} of ` +
        `${e.extras.length} repeats, after ${boxed.map(fmtInt).join(', ')} of ${fmtInt(a.keys)} keys; its rate is over those keys ` +
        '(a B-tree slows as it grows, so over all keys it would be lower).');
    }
    const rec = e.extras.map((x) => x.afterReopen?.recovery).filter(Boolean);
    if (rec.length) {
      const r = rec[0];
      notes.push(`${e.name}: reopen scanned ${r.segments} segment(s), ${fmtInt(r.records)} records, ` +
        `${(r.bytesScanned / 2 ** 20).toFixed(0)} MiB in ${r.millis.toFixed(0)} ms (\`recovery\`, first repeat).`);
    }
    const seen = new Set();
    for (const x of e.extras) {
      for (const note of x.notes ?? []) {
        if (!seen.has(note)) notes.push(`${e.name}: ${note}`);
        seen.add(note);
      }
    }
    for (const f of e.failures) notes.push(`${e.name}: a trial failed (${f}).`);
  }
  if (notes.length) md.push('', '## Notes', '', ...notes.map((x) => `- ${x}`));
  for (let i = md.length - 1; i >= 0; i--) if (md[i] === false) md.splice(i, 1);
  fs.mkdirSync(path.dirname(a.out), { recursive: true });
  fs.writeFileSync(a.out, `${md.join('\n')}\n`);
  const wrote = [path.relative(process.cwd(), a.out)];
  if (barChart) {
    fs.writeFileSync(svgPath, svgChart(table, engines, BASELINE, `hashlog and peers vs ${BASELINE}: ${n} keys, ${a.valueSize} B values (medians of ${a.repeat})`));
    wrote.push(path.relative(process.cwd(), svgPath));
  } else {
    fs.rmSync(svgPath, { force: true }); // a chart from an earlier run would not match this report
  }
  if (plan.curve && ok.length) {
    fs.writeFileSync(curvePath, svgCurve(grid, engines, plan.curve, `The O(1) curve: ns per operation against store size (${a.valueSize} B values, medians of ${a.repeat})`));
    wrote.push(path.relative(process.cwd(), curvePath));
  } else {
    fs.rmSync(curvePath, { force: true });
  }
  log(`bench: wrote ${wrote.join(', ')}`);
  return { md: md.join('\n'), targets };
}

/** The checks that make the exit status: the bench itself must work. Returns a list of problems. */
function sanityCheck(engines, report) {
  const problems = [];
  const rateKeys = new Set(report.ROWS.filter((r) => r.unit === 'rate').map((r) => r.key));
  for (const e of engines) {
    if (e.name === SUBJECT && e.status !== 'ok') problems.push(`${SUBJECT} did not run: ${e.reason}`);
    if (e.status !== 'ok') continue;
    for (const f of e.failures) problems.push(`${e.name}: a trial failed (${f})`);
    for (const m of e.runs) {
      for (const [k, v] of Object.entries(m)) {
        if (rateKeys.has(k) && !(Number.isFinite(v) && v > 0)) problems.push(`${e.name}: ${k} = ${v}`);
      }
    }
    for (const g of e.grid) {
      for (const k of ['get', 'put', 'load']) {
        if (!(Number.isFinite(g[k]) && g[k] > 0)) problems.push(`${e.name}: grid ${g.keys}x${g.valueSize} ${k} = ${g[k]}`);
      }
    }
    if (e.name === SUBJECT) {
      for (const x of e.extras) {
        const c = x.checks ?? {};
        if (!(c.getOps > 0) || c.getHits !== c.getOps) problems.push(`${SUBJECT}: get found ${c.getHits} of ${c.getOps} present keys`);
        if (c.missHits !== 0) problems.push(`${SUBJECT}: get returned a value for ${c.missHits} missing keys`);
      }
      for (const g of e.grid) {
        if (g.getHits !== g.getOps) problems.push(`${SUBJECT}: grid ${g.keys}x${g.valueSize}: get found ${g.getHits} of ${g.getOps} present keys`);
      }
    }
  }
  return problems;
}

async function main() {
  let a;
  try {
    a = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`bench: ${e.message}\n${USAGE}\n`);
    process.exit(2);
  }
  const started = process.hrtime.bigint();
  const loadStart = os.loadavg()[0];
  const buildFailures = ensureInstalled(a.engines.filter((e) => Object.hasOwn(DRIVERS, e)));
  const report = await import('./report.mjs');
  const config = trialConfig(a);
  const plan = gridPlan(a);
  const engines = a.engines.map((name) => ({ name, status: 'ok', runs: [], extras: [], grid: [], failures: [], info: undefined }));
  for (const e of engines) {
    if (!Object.hasOwn(DRIVERS, e.name)) {
      e.status = 'skipped';
      e.reason = `unknown engine (known: ${ENGINE_NAMES.join(', ')})`;
    } else if (buildFailures[e.name]) {
      e.status = 'skipped';
      e.reason = buildFailures[e.name];
    }
  }

  // The steps and a rough estimate of each one's seconds, for the progress line.
  const mainEst = 10 + 22 * (config.phaseMs / 1000) + (config.singleMs / 1000) + 6 * (a.keys / 1e6);
  const gridEst = (p) => 1 + 3 * (config.gridPhaseMs / 1000) + 4 * (p.keys * Math.max(p.valueSize, 64)) / 1e8;
  const steps = [];
  for (let r = 0; r < a.repeat; r++) {
    const order = engines.map((_, i) => engines[(i + r) % engines.length]);
    if (a.trials.has('main')) {
      steps.push({ kind: 'fsync', r, est: 2 });
      for (const e of order) steps.push({ kind: 'main', r, e, est: mainEst });
    }
    for (const p of plan.points) for (const e of order) steps.push({ kind: 'grid', r, e, p, est: gridEst(p) });
  }
  const live = (s) => s.kind === 'fsync' || s.e.status === 'ok';
  progress = new Progress(steps.filter(live).reduce((t, s) => t + s.est, 0));
  progress.steps = steps.filter(live).length;
  log(`bench: ${fmtInt(a.keys)} keys, ${a.valueSize} B values, engines ${a.engines.join(', ')}, ${a.repeat} repeat(s)` +
    `${plan.curve ? `, curve ${plan.curve.sizes.map(report.formatCount).join('/')}` : ''}${a.quick ? ', quick' : ''}`);
  const fsyncRuns = [];
  const loads = []; // 1-minute load average as each trial starts: other work on the machine skews results
  let k = 0;
  for (const s of steps) {
    if (!live(s)) {
      progress.total -= s.est;
      continue;
    }
    k++;
    const label = `${s.r + 1}/${a.repeat}`;
    if (s.kind === 'fsync') {
      progress.start(k, `repeat ${label}: raw write+fdatasync reference`);
      const f = await runChild('fsync-ref', { ...config, mode: 'fsync-ref' }, label);
      if (f.fsync) fsyncRuns.push(f.fsync);
      progress.finish(s.est);
      continue;
    }
    const e = s.e;
    loads.push(os.loadavg()[0]);
    const what = s.kind === 'main' ? `${e.name} main trial` : `${e.name} grid ${report.formatCount(s.p.keys)} keys × ${report.formatBytes(s.p.valueSize)}`;
    progress.start(k, `repeat ${label}: ${what} (load average ${loads.at(-1).toFixed(2)})`);
    // A hung trial (a stuck engine) must not stall the run: ten times the estimate, at least 2 minutes.
    const res = await runChild(e.name, s.kind === 'main' ? config : gridConfig(config, s.p), label, Math.max(120, 10 * s.est));
    progress.finish(s.est);
    if (res.skipped) {
      e.status = 'skipped';
      e.reason = res.skipped;
      log(`bench: ${e.name} skipped (${res.skipped})`);
      progress.steps -= steps.filter((x) => x.kind !== 'fsync' && x.e === e && steps.indexOf(x) > steps.indexOf(s)).length;
    } else if (res.failed) {
      e.failures.push(`${what}, repeat ${label}: ${res.failed}`);
      log(`bench: ${e.name} trial failed (${res.failed})`);
    } else {
      e.info ??= { version: res.version, durability: res.durability, nonDurable: res.nonDurable, bulkLoad: res.bulkLoad, reads: res.reads, notes: res.notes };
      e.version = res.version;
      if (res.grid) {
        e.grid.push(res.grid);
      } else {
        e.runs.push(res.metrics);
        e.extras.push(res.extra);
      }
    }
  }
  progress.stop();
  for (const e of engines) {
    if (e.status === 'ok' && e.runs.length === 0 && e.grid.length === 0) {
      e.status = 'skipped';
      e.reason = `every trial failed: ${e.failures[0]}`;
      e.failedAll = true;
    }
  }
  const fsync = {
    overwrite: report.summarize(fsyncRuns.map((x) => x.overwrite.p50)),
    append: report.summarize(fsyncRuns.map((x) => x.append.p50)),
    overwriteP99: report.summarize(fsyncRuns.map((x) => x.overwrite.p99)),
    appendP99: report.summarize(fsyncRuns.map((x) => x.append.p99)),
  };
  const table = report.tabulate(engines);
  const grid = report.tabulateGrid(engines);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const machine = { ...machineInfo(), loads, loadStart, loadEnd: os.loadavg()[0] };
  const { targets } = writeReport(a, config, plan, machine, engines, fsync, table, grid, report, seconds);
  process.stdout.write(`\n${report.markdownTable(table, engines, SUBJECT, BASELINE)}\n\n`);
  if (plan.curve) process.stdout.write(`${report.curveTable(grid, engines, plan.curve)}\n\n`);
  for (const t of targets) process.stdout.write(`${t.met === undefined ? 'n/a   ' : t.met ? 'met   ' : 'MISSED'}  ${t.target}: ${t.achieved}\n`);
  for (const e of engines) if (e.status !== 'ok') process.stdout.write(`skipped ${e.name}: ${e.reason}\n`);
  const problems = sanityCheck(engines, report);
  for (const e of engines) if (e.failedAll && e.name !== SUBJECT) problems.push(`${e.name}: every trial failed (${e.failures[0]})`);
  log(`bench: done in ${seconds.toFixed(0)} s`);
  if (problems.length) {
    process.stderr.write(`bench: FAILED sanity check:\n${problems.map((p) => `  - ${p}`).join('\n')}\n`);
    process.exit(1);
  }
}

await main();
