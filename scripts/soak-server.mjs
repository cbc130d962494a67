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

function rss(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
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
    const warm = samples.slice(Math.min(5, Math.floor(samples.length / 4)));
    console.log(`server soak: ${secs.toFixed(0)} s, ${CLIENTS} connections (5 slow readers), ${stats.pipelines} pipelines, ` +
      `${stats.writes} acknowledged writes, ${stats.reads} reads checked against the model`);
    console.log(`RSS (after warm-up): first ${mib(warm[0] ?? NaN)}, max ${mib(Math.max(...warm))}, last ${mib(warm[warm.length - 1] ?? NaN)}`);
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
