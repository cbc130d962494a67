// Operations figures: server restart time, a new replica's full-sync rate, and failover time
// (REPLICAOF NO ONE until a write is accepted), on loopback, for a store of N keys.
//
//   node bench/replication.mjs [--keys 1000000]
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Redis from 'ioredis';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
const i = process.argv.indexOf('--keys');
const KEYS = i >= 0 ? Number(process.argv[i + 1]) : 1_000_000;

function serve(args) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c) => {
      err += c;
      const m = /listening on [^\s]+:(\d+)/.exec(err);
      if (m) resolve({ child, port: Number(m[1]), ms: performance.now() - t0, log: () => err });
    });
    child.on('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
  });
}

const client = (port) => new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
const stop = async (s) => {
  s.child.kill('SIGTERM');
  await new Promise((r) => s.child.once('exit', r));
};
const field = (info, name) => Number(new RegExp(`${name}:(\\d+)`).exec(info)?.[1]);

async function main() {
  const pdir = fs.mkdtempSync(path.join(os.tmpdir(), 'hashlog-repl-p-'));
  const rdir = fs.mkdtempSync(path.join(os.tmpdir(), 'hashlog-repl-r-'));
  try {
    let p = await serve(['--dir', pdir, '--durability', 'none']);
    // Load KEYS keys of 16 B with 100 B values with redis-benchmark if present, else ioredis.
    const value = 'v'.repeat(100);
    if (spawnSync('redis-benchmark', ['--version']).status === 0) {
      spawnSync('redis-benchmark', ['-p', String(p.port), '-n', String(KEYS), '-r', String(KEYS * 100), '-c', '50', '-P', '64',
        '-q', 'set', 'key:__rand_int__', value], { stdio: 'ignore' });
    } else {
      const c = client(p.port);
      for (let k = 0; k < KEYS; k += 1000) await c.mset(...Array.from({ length: 1000 }, (_, j) => [`key:${k + j}`, value]).flat());
      c.disconnect();
    }
    const pc = client(p.port);
    const keys = await pc.dbsize();
    pc.disconnect();
    await stop(p);
    const logBytes = fs.readdirSync(pdir).filter((f) => f.endsWith('.hlog')).reduce((n, f) => n + fs.statSync(path.join(pdir, f)).size, 0);

    p = await serve(['--dir', pdir]);
    const restartMs = p.ms;
    const t0 = performance.now();
    const r = await serve(['--dir', rdir, '--replica-of', `127.0.0.1:${p.port}`]);
    const rc = client(r.port);
    const pc2 = client(p.port);
    const target = field(await pc2.info('replication'), 'master_repl_offset');
    for (;;) {
      const info = await rc.info('replication');
      if (field(info, 'slave_repl_offset') >= target) break;
      await new Promise((res) => setTimeout(res, 20));
    }
    const syncMs = performance.now() - t0;
    await stop(p);
    const f0 = performance.now();
    await rc.call('REPLICAOF', 'NO', 'ONE');
    await rc.set('after-failover', '1');
    const failoverMs = performance.now() - f0;
    const replicaKeys = await rc.dbsize();
    rc.disconnect();
    pc2.disconnect();
    await stop(r);
    const mb = logBytes / 1048576;
    console.log(`keys: ${keys} (log ${mb.toFixed(0)} MiB); replica holds ${replicaKeys - 1} after failover`);
    console.log(`restart (spawn to listening, recovery included): ${restartMs.toFixed(0)} ms`);
    console.log(`new replica, full sync: ${(syncMs / 1000).toFixed(2)} s = ${(mb / (syncMs / 1000)).toFixed(0)} MiB/s, ` +
      `${Math.round(keys / (syncMs / 1000)).toLocaleString('en-US')} keys/s (process start included)`);
    console.log(`failover (REPLICAOF NO ONE + first write acknowledged): ${failoverMs.toFixed(1)} ms`);
  } finally {
    fs.rmSync(pdir, { recursive: true, force: true });
    fs.rmSync(rdir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
