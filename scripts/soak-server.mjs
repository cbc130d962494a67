// The server soak: `hashlog serve` in a child process under the mixed load of
// scripts/server-load.mjs for a fixed time, its memory sampled; then a kill -9, a restart, and
// a check that every acknowledged write is there. Prints what it checked and what was lost.
//
//   npm run soak:server -- --seconds 600 [--clients 50]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runLoad, verify } from './server-load.mjs';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const SECONDS = arg('--seconds', 60);
const CLIENTS = arg('--clients', 50);

function serve(dir) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'dist', 'cli', 'main.js'), 'serve', '--dir', dir, '--port', '0'],
      { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c) => {
      err += c;
      const m = /listening on [^\s]+:(\d+)/.exec(err);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.on('exit', (code) => reject(new Error(`server exited (${code}): ${err}`)));
  });
}

// Anonymous memory (heap, malloc, the index): what a leak grows. The mapped log's file pages,
// which VmRSS also counts, grow with the log itself (no compaction yet) and are reported apart.
function rss(pid) {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(s)?.[1] ?? NaN) * 1024;
  return { anon: kb('RssAnon'), file: kb('RssFile') };
}

const mib = (b) => `${(b / 1048576).toFixed(1)} MiB`;

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hashlog-soak-server-'));
  try {
    const s = await serve(dir);
    const samples = [];
    const timer = setInterval(() => samples.push(rss(s.child.pid)), 1000);
    const t0 = Date.now();
    const { stats, models } = await runLoad({ port: s.port, seconds: SECONDS, clients: CLIENTS });
    clearInterval(timer);
    const secs = (Date.now() - t0) / 1000;
    const before = await verify(s.port, models);
    s.child.kill('SIGKILL');
    await new Promise((r) => s.child.once('exit', r));
    const again = await serve(dir);
    const after = await verify(again.port, models);
    again.child.kill('SIGTERM');
    await new Promise((r) => again.child.once('exit', r));
    const warm = samples.slice(Math.min(5, Math.floor(samples.length / 4))).map((x) => x.anon);
    const files = samples.map((x) => x.file);
    console.log(`server soak: ${secs.toFixed(0)} s, ${CLIENTS} connections (5 slow readers), ${stats.pipelines} pipelines, ` +
      `${stats.writes} acknowledged writes, ${stats.reads} reads checked against the model`);
    console.log(`anonymous RSS (after warm-up): first ${mib(warm[0] ?? NaN)}, max ${mib(Math.max(...warm))}, ` +
      `last ${mib(warm[warm.length - 1] ?? NaN)}; mapped log pages (RssFile): ${mib(files[0] ?? NaN)} -> ${mib(files[files.length - 1] ?? NaN)}`);
    console.log(`anonymous RSS every 10 s: ${samples.filter((_, i) => i % 10 === 0).map((x) => (x.anon / 1048576).toFixed(0)).join(' ')} MiB`);
    console.log(`keys checked: ${before.checked} live, ${after.checked} after kill -9 and restart`);
    console.log(`acknowledged writes lost: ${before.lost} live, ${after.lost} after the restart`);
    for (const w of [...before.wrong, ...after.wrong]) console.log(`  ${w}`);
    if (before.lost + after.lost > 0) process.exitCode = 1;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
