// The server benchmark: redis-benchmark against `hashlog serve` (durable and not) and, in the
// same run, against redis-server with appendfsync always and everysec. Writes its section of
// bench/RESULTS.md (between <!-- server:start --> and <!-- server:end -->) and
// bench/results-server.svg. Installs nothing: a peer that is not installed is skipped, and said.
//
//   npm run bench:server [-- --quick] [--out bench/RESULTS.md]
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.join(BENCH, '..');
const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
const START = '<!-- server:start -->';
const END = '<!-- server:end -->';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const outIdx = args.indexOf('--out');
const OUT = outIdx >= 0 ? args[outIdx + 1] : path.join(BENCH, 'RESULTS.md');
const N = quick ? 20_000 : 200_000;

function has(cmd) {
  return spawnSync(cmd, ['--version']).status === 0;
}

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function waitForPort(port, child) {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 20_000;
    const attempt = () => {
      if (child.exitCode !== null) return reject(new Error(`server exited with ${child.exitCode}`));
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve();
      });
      s.on('error', () => (Date.now() > deadline ? reject(new Error('server did not start')) : setTimeout(attempt, 50)));
    };
    attempt();
  });
}

function rssAnon(pid) {
  const m = /RssAnon:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

const TARGETS = [
  { name: 'hashlog (durable)', kind: 'hashlog', durability: 'sync', threads: 1 },
  { name: 'hashlog (durable, 2 threads)', kind: 'hashlog', durability: 'sync', threads: 2 },
  { name: 'hashlog (durability none)', kind: 'hashlog', durability: 'none', threads: 1 },
  { name: 'Redis appendfsync always', kind: 'redis', fsync: 'always' },
  { name: 'Redis appendfsync everysec', kind: 'redis', fsync: 'everysec' },
];

async function startTarget(t, dir) {
  const port = await freePort();
  const child = t.kind === 'hashlog'
    ? spawn(process.execPath, [CLI, 'serve', '--dir', dir, '--port', String(port), '--durability', t.durability,
      '--threads', String(t.threads)], { stdio: 'ignore' })
    : spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes',
      '--appendfsync', t.fsync, '--daemonize', 'no', '--logfile', ''], { stdio: 'ignore' });
  await waitForPort(port, child);
  return { port, child };
}

function redisBenchmark(port, extra) {
  const r = spawnSync('redis-benchmark', ['-p', String(port), '--csv', ...extra], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`redis-benchmark failed: ${r.stderr}`);
  const rows = [];
  for (const line of r.stdout.trim().split('\n').slice(1)) {
    const cells = line.split(',').map((c) => c.replace(/"/g, ''));
    rows.push({ test: cells[0], rps: Number(cells[1]), p50: Number(cells[4]), p99: Number(cells[6]) });
  }
  return rows;
}

function redisCli(port, ...cmd) {
  return spawnSync('redis-cli', ['-p', String(port), ...cmd], { encoding: 'utf8' }).stdout;
}

const RUNS = [
  { label: 'SET -c 1 -P 1', args: (n) => ['-t', 'set', '-n', String(Math.max(2000, n / 20)), '-r', '1000000', '-d', '100', '-c', '1', '-P', '1'] },
  { label: 'GET -c 1 -P 1', args: (n) => ['-t', 'get', '-n', String(Math.max(2000, n / 10)), '-r', '1000000', '-d', '100', '-c', '1', '-P', '1'] },
  { label: 'SET -c 50 -P 1', args: (n) => ['-t', 'set', '-n', String(n), '-r', '1000000', '-d', '100', '-c', '50', '-P', '1'] },
  { label: 'GET -c 50 -P 1', args: (n) => ['-t', 'get', '-n', String(n), '-r', '1000000', '-d', '100', '-c', '50', '-P', '1'] },
  { label: 'SET -c 50 -P 16', args: (n) => ['-t', 'set', '-n', String(n), '-r', '1000000', '-d', '100', '-c', '50', '-P', '16'] },
  { label: 'GET -c 50 -P 16', args: (n) => ['-t', 'get', '-n', String(n), '-r', '1000000', '-d', '100', '-c', '50', '-P', '16'] },
  // DELs of keys the SET runs wrote: the keyspace is 1M, so half the random DELs hit.
  { label: 'DEL -c 50 -P 1', args: (n) => ['-n', String(n), '-r', '1000000', '-c', '50', '-P', '1', 'del', 'key:__rand_int__'] },
];

async function benchTarget(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hashlog-server-bench-'));
  const { port, child } = await startTarget(t, dir);
  try {
    const rssStart = rssAnon(child.pid);
    const results = {};
    for (const run of RUNS) {
      process.stderr.write(`  ${t.name}: ${run.label}\n`);
      const [row] = redisBenchmark(port, run.args(N));
      results[run.label] = row;
    }
    // Memory per key: a fixed load of 100,000 keys (16 B keys, 100 B values) into a fresh keyspace.
    redisCli(port, 'FLUSHALL');
    const before = rssAnon(child.pid);
    redisBenchmark(port, ['-n', '100000', '-r', '100000000', '-c', '50', '-P', '16', '-d', '100', 'set', 'mem:__rand_int__', 'v'.repeat(100)]);
    const keys = Number(redisCli(port, 'DBSIZE').trim());
    const after = rssAnon(child.pid);
    const info = redisCli(port, 'INFO', 'memory');
    const index = /hashlog_index_bytes_per_key:([\d.]+)/.exec(info);
    return { results, rssStart, memPerKey: (after - before) / keys, indexPerKey: index ? Number(index[1]) : undefined, keys };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function fmt(n) {
  return Math.round(n).toLocaleString('en-US');
}

function chart(done) {
  const labels = RUNS.map((r) => r.label);
  const names = done.map((d) => d.target.name);
  const colors = ['#1f77b4', '#2ca02c', '#aec7e8', '#d62728', '#ff9896'];
  const max = Math.max(...done.flatMap((d) => labels.map((l) => d.out.results[l]?.rps ?? 0)));
  const rowH = 14 * names.length + 10;
  const W = 760, left = 130, top = 40;
  const H = top + rowH * labels.length + 20 + 16 * names.length;
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<text x="10" y="20" font-size="14">redis-benchmark req/s (100 B values), hashlog serve vs redis-server, same run</text>`];
  labels.forEach((l, i) => {
    const y0 = top + i * rowH;
    parts.push(`<text x="10" y="${y0 + rowH / 2}">${l}</text>`);
    done.forEach((d, j) => {
      const v = d.out.results[l]?.rps ?? 0;
      const w = ((W - left - 90) * v) / max;
      parts.push(`<rect x="${left}" y="${y0 + j * 14}" width="${w.toFixed(1)}" height="12" fill="${colors[j % colors.length]}"/>`,
        `<text x="${left + w + 4}" y="${y0 + j * 14 + 10}">${fmt(v)}</text>`);
    });
  });
  names.forEach((n, j) => {
    const y = top + rowH * labels.length + 10 + j * 16;
    parts.push(`<rect x="${left}" y="${y}" width="12" height="12" fill="${colors[j % colors.length]}"/>`, `<text x="${left + 18}" y="${y + 10}">${n}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

function section(done, skipped, seconds) {
  const md = [START, '', '## The server: redis-benchmark against `hashlog serve` and redis-server', ''];
  md.push(`Generated by \`npm run bench:server${quick ? ' -- --quick' : ''}\` on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC ` +
    `in ${Math.round(seconds)} s${quick ? ' (**--quick**: a smoke run, not for quoting)' : ''}. redis-benchmark ${spawnSync('redis-benchmark', ['--version'], { encoding: 'utf8' }).stdout.trim()}; ` +
    `every target a fresh process in a fresh directory under \`os.tmpdir()\`, the same commands in the same order: ` +
    `\`-r 1000000 -d 100\`, ${fmt(N)} requests for -c 50 (a twentieth/tenth for -c 1). ` +
    'Durable means the reply is sent after the fdatasync that covers the write (hashlog `--durability sync`, Redis `appendfsync always`). ' +
    'redis-benchmark runs on the same 2 cores as the server.', '');
  for (const s of skipped) md.push(`- ${s.name}: skipped (${s.reason})`);
  if (skipped.length) md.push('');
  md.push(`| run | ${done.map((d) => d.target.name).join(' | ')} |`, `|---|${done.map(() => '---:').join('|')}|`);
  for (const r of RUNS) {
    md.push(`| ${r.label} req/s (p50 / p99 ms) | ${done.map((d) => {
      const x = d.out.results[r.label];
      return x ? `${fmt(x.rps)} (${x.p50} / ${x.p99})` : '–';
    }).join(' | ')} |`);
  }
  md.push(`| RSS growth per key, 100K keys | ${done.map((d) => `${d.out.memPerKey.toFixed(0)} B`).join(' | ')} |`);
  md.push(`| index per key | ${done.map((d) => (d.out.indexPerKey === undefined ? '–' : `${d.out.indexPerKey} B`)).join(' | ')} |`);
  const hd = done.find((d) => d.target.name === 'hashlog (durable)');
  const ra = done.find((d) => d.target.name === 'Redis appendfsync always');
  if (hd && ra) {
    md.push('', '**hashlog durable ÷ Redis appendfsync always** (req/s; > 1 means hashlog is faster):', '');
    md.push(RUNS.map((r) => `${r.label}: ${(hd.out.results[r.label].rps / ra.out.results[r.label].rps).toFixed(2)}x`).join('; ') + '.');
    md.push(`Memory per key (RSS growth): ${(hd.out.memPerKey / ra.out.memPerKey).toFixed(2)}x of Redis's.`);
  }
  const h2 = done.find((d) => d.target.name === 'hashlog (durable, 2 threads)');
  if (hd && h2) {
    md.push('', '**`--threads 2` ÷ `--threads 1`** (hashlog durable, req/s):', '');
    md.push(RUNS.map((r) => `${r.label}: ${(h2.out.results[r.label].rps / hd.out.results[r.label].rps).toFixed(2)}x`).join('; ') + '.');
    if (ra) {
      md.push('', '**`--threads 2` ÷ Redis appendfsync always** (req/s):', '');
      md.push(RUNS.map((r) => `${r.label}: ${(h2.out.results[r.label].rps / ra.out.results[r.label].rps).toFixed(2)}x`).join('; ') + '.');
    }
  }
  md.push('', '![server chart](results-server.svg)', '', END);
  return md.join('\n');
}

async function main() {
  const t0 = Date.now();
  if (!fs.existsSync(CLI)) throw new Error('build first: npx tsc -p tsconfig.build.json');
  if (!has('redis-benchmark')) {
    console.log('redis-benchmark is not installed (apt-get install redis-tools): nothing to measure');
    return;
  }
  const done = [];
  const skipped = [];
  for (const t of TARGETS) {
    if (t.kind === 'redis' && !has('redis-server')) {
      skipped.push({ name: t.name, reason: 'redis-server is not installed (apt-get install redis-server)' });
      continue;
    }
    process.stderr.write(`${t.name}\n`);
    done.push({ target: t, out: await benchTarget(t) });
  }
  const text = section(done, skipped, (Date.now() - t0) / 1000);
  console.log(text);
  const old = fs.existsSync(OUT) ? fs.readFileSync(OUT, 'utf8') : '# hashlog benchmark results\n';
  const i = old.indexOf(START), j = old.indexOf(END);
  const next = i >= 0 && j > i ? old.slice(0, i) + text + old.slice(j + END.length) : `${old.trimEnd()}\n\n${text}\n`;
  fs.writeFileSync(OUT, next);
  fs.writeFileSync(path.join(path.dirname(OUT), 'results-server.svg'), chart(done));
  console.log(`wrote ${OUT} and results-server.svg`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
