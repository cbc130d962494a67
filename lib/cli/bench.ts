// hashlog bench: a quick self-benchmark of this machine (hashlog only; `npm run bench` in the
// repository compares with lmdb, LevelDB, SQLite and RocksDB).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { open, type Store } from '../store';
import { CliError } from './open-dir';
import { progress } from './progress';

interface Row {
  op: string;
  opsPerSec: number;
  note: string;
}

function key(i: number): string {
  return `key:${String(i).padStart(12, '0')}`;
}

async function timed(label: string, n: number, step: (i: number) => Promise<unknown> | unknown, inFlight: number,
  note: string): Promise<Row> {
  const bar = progress(label, n);
  const start = process.hrtime.bigint();
  let pending: Promise<unknown>[] = [];
  for (let i = 0; i < n; i++) {
    const r = step(i);
    if (r instanceof Promise) {
      pending.push(r);
      if (pending.length >= inFlight) {
        await Promise.all(pending);
        pending = [];
      }
    }
    if ((i & 4095) === 0) bar.update(i);
  }
  await Promise.all(pending);
  bar.stop();
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  return { op: label, opsPerSec: n / secs, note };
}

async function run(o: { keys: string; valueSize: string }): Promise<void> {
  const n = Number(o.keys);
  const size = Number(o.valueSize);
  if (!Number.isInteger(n) || n < 1000) throw new CliError('--keys must be an integer >= 1000', 2);
  if (!Number.isInteger(size) || size < 0) throw new CliError('--value-size must be an integer >= 0', 2);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hashlog-bench-'));
  const value = Buffer.alloc(size, 0x61);
  const rows: Row[] = [];
  let db: Store | undefined;
  try {
    db = await open(dir);
    const store = db;
    rows.push(await timed('put (durable, 256 in flight)', n, (i) => store.put(key(i), value), 256, 'one fdatasync per group'));
    rows.push(await timed('get (hit)', n, (i) => store.get(key((i * 7919) % n)), 1, 'random order'));
    rows.push(await timed('get (miss)', n, (i) => store.get(`missing:${i}`), 1, ''));
    rows.push(await timed('del (durable, 256 in flight)', n, (i) => store.del(key(i)), 256, ''));
    const stats = store.stats();
    await store.close();
    const t0 = process.hrtime.bigint();
    db = await open(dir, { readOnly: true });
    const openMs = Number(process.hrtime.bigint() - t0) / 1e6;
    process.stdout.write(`hashlog bench: ${n} keys, ${size}-byte values, engine ${db.engine}, ${os.cpus().length} cores\n\n`);
    process.stdout.write('| operation | ops/s | note |\n|---|---:|---|\n');
    for (const r of rows) process.stdout.write(`| ${r.op} | ${Math.round(r.opsPerSec).toLocaleString('en-US')} | ${r.note} |\n`);
    process.stdout.write(`\nreopen (full log scan): ${openMs.toFixed(0)} ms; fdatasyncs: ${stats.fsyncs}; `
      + `index: ${stats.indexBytes} bytes\n`);
  } finally {
    await db?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function registerBench(program: Command): void {
  program.command('bench')
    .description('a quick benchmark of hashlog on this machine, in a temporary directory')
    .option('--keys <n>', 'keys to write, read and delete', '200000')
    .option('--value-size <bytes>', 'value size', '100')
    .action(run);
}
