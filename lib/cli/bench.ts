// hashlog bench: a quick self-benchmark of this machine, both hashlog engines side by side
// (`npm run bench` in the repository compares with lmdb, LevelDB, SQLite and RocksDB).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { HashlogError } from '../errors';
import { open, type EngineName, type Store } from '../store';
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

interface EngineResult {
  engine: EngineName;
  rows: Row[];
  openMs: number;
  fsyncs: number;
  indexBytes: number;
}

async function benchEngine(engine: EngineName, n: number, value: Buffer): Promise<EngineResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hashlog-bench-'));
  let db: Store | undefined;
  try {
    db = await open(dir, { engine });
    const store = db;
    const rows: Row[] = [];
    rows.push(await timed(`${engine}: put (durable, 256 in flight)`, n, (i) => store.put(key(i), value), 256, 'one fdatasync per group'));
    rows.push(await timed(`${engine}: get (hit)`, n, (i) => store.get(key((i * 7919) % n)), 1, 'random order'));
    rows.push(await timed(`${engine}: get (miss)`, n, (i) => store.get(`missing:${i}`), 1, ''));
    rows.push(await timed(`${engine}: del (durable, 256 in flight)`, n, (i) => store.del(key(i)), 256, ''));
    const stats = store.stats();
    await store.close();
    const t0 = process.hrtime.bigint();
    db = await open(dir, { engine, readOnly: true });
    const openMs = Number(process.hrtime.bigint() - t0) / 1e6;
    return { engine, rows, openMs, fsyncs: stats.fsyncs, indexBytes: stats.indexBytes };
  } finally {
    await db?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const fmt = (x: number): string => Math.round(x).toLocaleString('en-US');

async function run(o: { keys: string; valueSize: string; engines: string }): Promise<void> {
  const n = Number(o.keys);
  const size = Number(o.valueSize);
  if (!Number.isInteger(n) || n < 1000) throw new CliError('--keys must be an integer >= 1000', 2);
  if (!Number.isInteger(size) || size < 0) throw new CliError('--value-size must be an integer >= 0', 2);
  const engines = o.engines.split(',');
  for (const e of engines) if (e !== 'native' && e !== 'js') throw new CliError(`--engines: unknown engine ${e}`, 2);
  const value = Buffer.alloc(size, 0x61);
  const results: EngineResult[] = [];
  const skipped: string[] = [];
  for (const engine of engines as EngineName[]) {
    try {
      results.push(await benchEngine(engine, n, value));
    } catch (e) {
      if (!(e instanceof HashlogError) || e.code !== 'HASHLOG_NOT_SUPPORTED') throw e;
      skipped.push(`${engine}: skipped (${e.message})`);
    }
  }
  const out = process.stdout;
  out.write(`hashlog bench: ${n} keys, ${size}-byte values, ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? ''}\n\n`);
  out.write(`| operation | ${results.map((r) => `${r.engine} ops/s`).join(' | ')} |${results.length === 2 ? ' native ÷ js |' : ''}\n`);
  out.write(`|---|${results.map(() => '---:').join('|')}|${results.length === 2 ? '---:|' : ''}\n`);
  const ops = results[0]?.rows.map((r) => r.op.slice(r.op.indexOf(': ') + 2)) ?? [];
  ops.forEach((op, i) => {
    const cells = results.map((r) => fmt(r.rows[i].opsPerSec));
    const ratio = results.length === 2 ? ` ${(results[0].rows[i].opsPerSec / results[1].rows[i].opsPerSec).toFixed(2)}x |` : '';
    out.write(`| ${op} | ${cells.join(' | ')} |${ratio}\n`);
  });
  out.write(`| reopen (full log scan), ms | ${results.map((r) => r.openMs.toFixed(0)).join(' | ')} |${results.length === 2 ? ' |' : ''}\n`);
  out.write(`| index bytes per key | ${results.map((r) => (r.indexBytes / n).toFixed(1)).join(' | ')} |${results.length === 2 ? ' |' : ''}\n`);
  for (const s of skipped) out.write(`\n${s}\n`);
}

export function registerBench(program: Command): void {
  program.command('bench')
    .description('a quick benchmark of hashlog on this machine, in a temporary directory')
    .option('--keys <n>', 'keys to write, read and delete', '200000')
    .option('--value-size <bytes>', 'value size', '100')
    .option('--engines <list>', 'engines to measure: native, js, or both', 'native,js')
    .action(run);
}
