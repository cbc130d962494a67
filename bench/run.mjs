// The benchmark orchestrator: runs every (repeat, engine) trial in a fresh child process, then
// prints the table and writes RESULTS.md and its SVG chart. See bench/README.md.
//
//   node bench/run.mjs [--keys N] [--value-size B] [--engines hashlog,lmdb] [--quick]
//                      [--repeat R] [--out FILE]
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(BENCH);
const SUBJECT = 'hashlog';
const BASELINE = 'lmdb';

const USAGE = `usage: npm run bench -- [options]
  --keys N          keys to load (default 1000000; --quick: 20000)
  --value-size B    value bytes (default 100)
  --engines LIST    comma-separated (default hashlog,lmdb)
  --quick           small smoke run (fewer keys and ops, under a minute)
  --repeat R        trials per engine, each in a fresh process (default 3)
  --out FILE        Markdown report (default bench/RESULTS.md); the SVG goes beside it`;

const log = (msg) => process.stderr.write(`${msg}\n`);

function parseArgs(argv) {
  const a = { keys: undefined, valueSize: 100, engines: [SUBJECT, BASELINE], quick: false, repeat: 3, out: path.join(BENCH, 'RESULTS.md') };
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
      case '--engines': a.engines = value().split(',').map((s) => s.trim()).filter(Boolean); break;
      case '--quick': a.quick = true; break;
      case '--repeat': a.repeat = int('--repeat', value(), 1); break;
      case '--out': a.out = path.resolve(value()); break;
      case '--help': case '-h': log(USAGE); process.exit(0); break;
      default: throw new Error(`unknown option ${argv[i]}`);
    }
  }
  a.keys ??= a.quick ? 20_000 : 1_000_000;
  return a;
}

/** What each trial does; --quick shrinks the counts and time boxes. */
function trialConfig(a) {
  const q = a.quick;
  return {
    keys: a.keys,
    valueSize: a.valueSize,
    gets: q ? 100_000 : 1_000_000,
    warmupGets: q ? 20_000 : 100_000,
    inflight: 256,
    durablePuts: q ? 5_000 : 200_000,
    durableMs: q ? 1_000 : 5_000,
    singlePuts: q ? 300 : 2_000,
    singleMs: q ? 1_000 : 5_000,
    dels: Math.min(q ? 5_000 : 50_000, Math.floor(a.keys / 2)),
    delMs: q ? 1_000 : 5_000,
    fsyncCount: q ? 300 : 2_000,
  };
}

/** Installs bench/package.json's peers on the first run. A failure is reported, not fatal. */
function ensureInstalled() {
  if (fs.existsSync(path.join(BENCH, 'node_modules'))) return;
  log('bench: installing peers (npm install --prefix bench) ...');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const r = spawnSync(npm, ['install', '--prefix', BENCH, '--no-audit', '--no-fund'], { stdio: ['ignore', 2, 2] });
  if (r.status !== 0) log(`bench: npm install failed (${r.error?.message ?? `exit ${r.status}`}); peers that cannot load are skipped`);
}

/** Runs one trial child; resolves to its JSON, or { failed: reason }. */
function runChild(engine, config, label) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--expose-gc', path.join(BENCH, 'trial.mjs'), engine, JSON.stringify({ ...config, label })],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let errTail = '';
    child.stdout.setEncoding('utf8').on('data', (d) => { out += d; });
    child.stderr.setEncoding('utf8').on('data', (d) => {
      process.stderr.write(d);
      errTail = (errTail + d).slice(-4000);
    });
    child.on('error', (e) => resolve({ failed: e.message }));
    child.on('close', (code, signal) => {
      const last = out.trim().split('\n').pop();
      let parsed;
      try {
        parsed = last ? JSON.parse(last) : undefined;
      } catch {
        parsed = undefined;
      }
      if (code === 0 && parsed) return resolve(parsed);
      const why = errTail.split('\n').map((l) => l.trim()).filter((l) => /Error|error:/.test(l)).shift();
      resolve({ failed: `${signal ? `killed by ${signal}` : `exit ${code}`}${why ? `: ${why}` : ''}` });
    });
  });
}

function sh(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
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
    memGiB: (os.totalmem() / 2 ** 30).toFixed(1),
    kernel: `${os.type()} ${os.release()}`,
    tmpdir: tmp,
    fs: df && statf && df !== statf ? `${df} (\`stat -f\`: ${statf})` : df ?? statf ?? 'unknown',
    node: process.version,
    hashlog: `${version(ROOT)} (git ${rev ?? '?'}${dirty ? ', lib/ or native/ modified since' : ''}; the build in dist/ and build/)`,
    lmdb: version(path.join(BENCH, 'node_modules', 'lmdb')),
    hdr: version(path.join(BENCH, 'node_modules', 'hdr-histogram-js')),
  };
}

function writeReport(a, config, machine, engines, fsync, table, report, seconds) {
  const { ROWS, markdownTable, evaluateTargets, formatValue, svgChart } = report;
  const svgPath = path.basename(a.out) === 'RESULTS.md' ? path.join(path.dirname(a.out), 'results.svg')
    : a.out.replace(/(\.md)?$/, '.svg');
  const ok = engines.filter((e) => e.status === 'ok');
  const byName = Object.fromEntries(engines.map((e) => [e.name, e]));
  const targets = byName[SUBJECT]?.status === 'ok' && byName[BASELINE]?.status === 'ok'
    ? evaluateTargets(table, fsync, SUBJECT, BASELINE) : [];
  const n = a.keys.toLocaleString('en-US');
  const md = [];
  md.push('# hashlog benchmark results', '');
  md.push(`Generated by \`npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}\` on ` +
    `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC in ${Math.round(seconds)} s: ${n} keys of 16 B, ` +
    `values of ${a.valueSize} B, ${a.repeat} repeat${a.repeat > 1 ? 's' : ''} per engine${a.quick ? ' (**--quick**: a smoke run, not for quoting)' : ''}. ` +
    'Each cell is the median over the repeats, with the range (min–max) in parentheses.', '');
  md.push('## Machine', '');
  md.push(`- CPU: ${machine.cpu}, ${machine.cores} cores, ${machine.memGiB} GiB RAM`);
  md.push(`- Kernel: ${machine.kernel}`);
  md.push(`- Filesystem of \`os.tmpdir()\` (${machine.tmpdir}): ${machine.fs}`);
  md.push(`- Node ${machine.node}; hashlog ${machine.hashlog}; lmdb ${machine.lmdb}; hdr-histogram-js ${machine.hdr}`);
  if (machine.loads.length) {
    const hi = Math.max(...machine.loads);
    md.push(`- 1-minute load average as each trial started: ${Math.min(...machine.loads).toFixed(2)}–${hi.toFixed(2)} ` +
      `(the previous trial counts for about 1${hi > 1.5 ? '; more means other work shared the cores and may have slowed this run' : ''})`);
  }
  md.push('');
  md.push('## Methodology', '');
  md.push(
    '- Every (repeat, engine) pair runs in a fresh `node --expose-gc bench/trial.mjs` process, in its own temporary ' +
      'directory under `os.tmpdir()` that is removed afterwards; the engine order rotates between repeats. `gc()` runs between phases.',
    '- Workload: the same for every engine, from a fixed-seed PRNG (`bench/workload.mjs`): 16-byte binary keys (Buffers), ' +
      `${a.valueSize}-byte values; "sorted order" is bytewise key order, "random order" a fixed shuffle.`,
    '- Order of phases in a trial: warm-up load of 20,000 keys into a scratch store; load all keys (sorted); memory and ' +
      'disk; reopen durable; random GETs of present keys; GETs of missing keys; durable PUTs with 256 in flight; one ' +
      'awaited durable PUT at a time; durable DELs with 256 in flight; close and reopen; load all keys again in random ' +
      'order into a fresh store.',
    `- GETs: a tight synchronous loop over ${config.gets.toLocaleString('en-US')} prepared key Buffers (uniformly random keys), ` +
      `timed as a whole with \`process.hrtime.bigint()\` after a warm-up pass of ${config.warmupGets.toLocaleString('en-US')}; the hit count is checked.`,
    `- Durable writes, 256 in flight: windows of 256 concurrent promises, the next window once all settle; ` +
      `${config.durablePuts.toLocaleString('en-US')} overwrites of random present keys and ${config.dels.toLocaleString('en-US')} deletes of distinct present keys ` +
      `(each phase stops early after ${config.durableMs / 1000} s), after a warm-up of 2 windows.`,
    `- One awaited durable PUT: ${config.singlePuts.toLocaleString('en-US')} sequential \`await put()\` after 50 warm-up puts; ` +
      'percentiles from hdr-histogram-js (ns precision).',
    '- Load: every key once, then a flush; the rate includes the final flush.',
    '- Memory: "after the load" is the growth of `RssAnon` (/proc/self/status: heap, malloc, anonymous mmap; not ' +
      'file pages) from just before opening to just after loading, divided by the keys; it includes what the load idiom ' +
      'leaves behind. "To open" is the same growth across `open()` + one get of the loaded store in a fresh process.',
    '- Disk: the sum of the file sizes in the store directory after the load, divided by the keys.',
    `- Raw reference: \`fs.writeSync\` of 128 B + \`fs.fdatasyncSync\` on the same filesystem, ${config.fsyncCount.toLocaleString('en-US')} ` +
      'times, once into blocks written and synced beforehand (the reference of the target) and once appending to a growing file.',
    '',
    '**Durability and load per engine** (every "durable" number means the write was fdatasynced before its promise settled):',
    '',
  );
  for (const e of engines) {
    if (e.status === 'ok') md.push(`- ${e.name}: durable writes: ${e.durability}. Load: ${e.bulkLoad}.`);
    else md.push(`- ${e.name}: skipped (${e.reason}).`);
  }
  md.push('', '## Results', '');
  md.push(markdownTable(table, engines, SUBJECT), '');
  md.push(`Ratios are ${SUBJECT} ÷ peer on the medians; the last column says whether a higher or a lower number is ` +
    `better for ${SUBJECT}. Raw write(128 B) + fdatasync p50: ${formatValue('us', fsync.overwrite?.median)} into pre-written ` +
    `blocks, ${formatValue('us', fsync.append?.median)} appending.`, '');
  if (ok.some((e) => e.name !== BASELINE) && byName[BASELINE]?.status === 'ok') {
    md.push(`![times better than ${BASELINE}, per operation](${path.relative(path.dirname(a.out), svgPath)})`, '');
  }
  md.push('## Targets', '');
  if (targets.length === 0) {
    md.push(`Not evaluated: needs both ${SUBJECT} and ${BASELINE}.`);
  } else {
    md.push('| target | achieved | |', '|---|---|---|');
    for (const t of targets) md.push(`| ${t.target} | ${t.achieved} | ${t.met === undefined ? 'n/a' : t.met ? 'met' : '**missed**'} |`);
  }
  const notes = [];
  for (const e of ok) {
    const boxed = e.extras.filter((x) => x.putDurable?.timeboxed || x.delDurable?.timeboxed || x.putSingle?.timeboxed).length;
    if (boxed) notes.push(`${e.name}: ${boxed} of ${e.runs.length} trials stopped a write phase at its time box (rates use the ops done).`);
    const fsyncs = e.extras.map((x) => x.putDurable?.fsyncs && x.putDurable.ops / x.putDurable.fsyncs).filter(Boolean);
    if (fsyncs.length) {
      notes.push(`${e.name}: durable puts per fdatasync with 256 in flight: ${fsyncs.map((x) => x.toFixed(0)).join(', ')} ` +
        `(per repeat; from \`stats().fsyncs\`).`);
    }
    const rec = e.extras.map((x) => x.afterReopen?.recovery).filter(Boolean);
    if (rec.length) {
      const r = rec[0];
      notes.push(`${e.name}: reopen scanned ${r.segments} segment(s), ${r.records.toLocaleString('en-US')} records, ` +
        `${(r.bytesScanned / 2 ** 20).toFixed(0)} MiB in ${r.millis.toFixed(0)} ms (\`recovery\`, first repeat).`);
    }
    for (const x of e.extras) for (const note of x.notes ?? []) notes.push(`${e.name}: ${note}`);
    for (const f of e.failures) notes.push(`${e.name}: a trial failed (${f}).`);
  }
  if (notes.length) md.push('', '## Notes', '', ...notes.map((x) => `- ${x}`));
  fs.writeFileSync(a.out, `${md.join('\n')}\n`);
  if (ok.some((e) => e.name !== BASELINE) && byName[BASELINE]?.status === 'ok') {
    fs.writeFileSync(svgPath, svgChart(table, engines, BASELINE, `${SUBJECT} vs ${BASELINE}: ${n} keys, ${a.valueSize} B values (medians of ${a.repeat})`));
    log(`bench: wrote ${path.relative(process.cwd(), a.out)} and ${path.relative(process.cwd(), svgPath)}`);
  } else {
    fs.rmSync(svgPath, { force: true }); // a chart from an earlier run would not match this report
    log(`bench: wrote ${path.relative(process.cwd(), a.out)} (no chart: needs ${BASELINE} and another engine)`);
  }
  return { md: md.join('\n'), targets };
}

async function main() {
  let a;
  try {
    a = parseArgs(process.argv.slice(2));
  } catch (e) {
    log(`bench: ${e.message}\n${USAGE}`);
    process.exit(2);
  }
  const started = process.hrtime.bigint();
  ensureInstalled();
  const report = await import('./report.mjs');
  const config = trialConfig(a);
  const engines = a.engines.map((name) => ({ name, status: 'ok', runs: [], extras: [], failures: [] }));
  const fsyncRuns = [];
  const loads = []; // 1-minute load average as each trial starts: other work on the machine skews results
  log(`bench: ${a.keys} keys, ${a.valueSize} B values, engines ${a.engines.join(', ')}, ${a.repeat} repeat(s)${a.quick ? ', quick' : ''}`);
  for (let r = 0; r < a.repeat; r++) {
    const label = `${r + 1}/${a.repeat}`;
    log(`bench: repeat ${label}: raw write+fdatasync reference`);
    const f = await runChild('fsync-ref', config, label);
    if (f.fsync) fsyncRuns.push(f.fsync);
    const order = engines.map((_, i) => engines[(i + r) % engines.length]);
    for (const e of order) {
      if (e.status === 'skipped') continue;
      loads.push(os.loadavg()[0]);
      log(`bench: repeat ${label}: ${e.name} (load average ${loads.at(-1).toFixed(2)})`);
      const res = await runChild(e.name, config, label);
      if (res.skipped) {
        e.status = 'skipped';
        e.reason = res.skipped;
        log(`bench: ${e.name} skipped (${res.skipped})`);
      } else if (res.failed) {
        e.failures.push(res.failed);
        log(`bench: ${e.name} trial failed (${res.failed})`);
      } else {
        e.runs.push(res.metrics);
        e.extras.push(res.extra);
        e.version = res.version;
        e.durability = res.durability;
        e.bulkLoad = res.bulkLoad;
      }
    }
  }
  for (const e of engines) {
    if (e.status === 'ok' && e.runs.length === 0) {
      e.status = 'skipped';
      e.reason = `every trial failed: ${e.failures[0]}`;
    }
  }
  const fsync = {
    overwrite: report.summarize(fsyncRuns.map((x) => x.overwrite.p50)),
    append: report.summarize(fsyncRuns.map((x) => x.append.p50)),
  };
  const table = report.tabulate(engines);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const machine = { ...machineInfo(), loads };
  const { targets } = writeReport(a, config, machine, engines, fsync, table, report, seconds);
  process.stdout.write(`\n${report.markdownTable(table, engines, SUBJECT)}\n\n`);
  for (const t of targets) process.stdout.write(`${t.met === undefined ? 'n/a   ' : t.met ? 'met   ' : 'MISSED'}  ${t.target}: ${t.achieved}\n`);
  log(`bench: done in ${seconds.toFixed(0)} s`);
}

await main();
