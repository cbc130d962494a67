// hashlog get | put | del | stats DIR ...: one operation on a directory no server holds.
import type { Command } from 'commander';
import { CliError, openDir } from './open-dir';

function parseTtl(v: string | undefined): { ttlMs: number } | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new CliError(`--ttl must be a positive integer of milliseconds, got ${v}`, 2);
  return { ttlMs: n };
}

export function registerData(program: Command): void {
  program.command('get')
    .description('print the value of KEY (exit code 1 if there is none)')
    .argument('<dir>', 'store directory')
    .argument('<key>')
    .action(async (dir: string, key: string) => {
      const db = await openDir(dir, { readOnly: true });
      try {
        const v = db.get(key);
        if (v === undefined) throw new CliError(`(nil): no key ${JSON.stringify(key)}`, 1);
        process.stdout.write(v);
        if (process.stdout.isTTY) process.stdout.write('\n');
      } finally {
        await db.close();
      }
    });

  program.command('put')
    .description('store VALUE under KEY (durably: returns after fdatasync)')
    .argument('<dir>', 'store directory (created if missing)')
    .argument('<key>')
    .argument('<value>')
    .option('--ttl <ms>', 'expire the key after this many milliseconds')
    .action(async (dir: string, key: string, value: string, o: { ttl?: string }) => {
      const ttl = parseTtl(o.ttl);
      const db = await openDir(dir);
      try {
        await db.put(key, value, ttl);
      } finally {
        await db.close();
      }
    });

  program.command('del')
    .description('delete KEY (exit code 1 if there was none)')
    .argument('<dir>', 'store directory')
    .argument('<key>')
    .action(async (dir: string, key: string) => {
      const db = await openDir(dir);
      let existed: boolean;
      try {
        existed = await db.del(key);
      } finally {
        await db.close();
      }
      if (!existed) throw new CliError(`no key ${JSON.stringify(key)}`, 1);
    });

  program.command('backup')
    .description('copy the store into a new directory TARGET (for a running server: HASHLOG.BACKUP TARGET)')
    .argument('<dir>', 'store directory')
    .argument('<target>', 'new or empty directory')
    .action(async (dir: string, target: string) => {
      let db;
      try {
        db = await openDir(dir, { readOnly: true });
      } catch (e) {
        if (e instanceof CliError && e.exitCode === 3) {
          throw new CliError(`${dir} is held by a running server: ask it instead, e.g. redis-cli -p 6380 HASHLOG.BACKUP ${target}`, 3);
        }
        throw e;
      }
      try {
        const r = await db.backup(target);
        process.stdout.write(`backed up ${db.size} keys: ${r.segments} segment(s), ${r.bytes} bytes in ${Math.round(r.millis)} ms to ${target}\n`);
      } finally {
        await db.close();
      }
    });

  program.command('compact')
    .description('rewrite the log without its garbage (for a running server: HASHLOG.COMPACT or BGREWRITEAOF)')
    .argument('<dir>', 'store directory')
    .option('--rate <MBps>', 'copy at most this many MiB per second (0: no limit)', '0')
    .action(async (dir: string, opts: { rate: string }) => {
      const rate = Number(opts.rate);
      if (!Number.isFinite(rate) || rate < 0) throw new CliError(`--rate must be a number of MiB/s, got ${opts.rate}`, 2);
      let db;
      try {
        db = await openDir(dir, { compaction: { maxBytesPerSecond: Math.round(rate * 1024 * 1024) } });
      } catch (e) {
        if (e instanceof CliError && e.exitCode === 3) {
          throw new CliError(`${dir} is held by a running server: ask it instead, e.g. redis-cli -p 6380 HASHLOG.COMPACT`, 3);
        }
        throw e;
      }
      try {
        const before = db.stats();
        const r = await db.compact();
        const after = db.stats();
        const mib = (n: number): string => (n / 1024 / 1024).toFixed(1);
        process.stdout.write(r.compacted
          ? `compacted ${db.size} keys: ${r.segmentsRemoved} segment(s) removed, ${r.segmentsWritten} written; `
            + `log ${mib(before.liveBytes + before.garbageBytes)} -> ${mib(after.liveBytes + after.garbageBytes)} MiB `
            + `in ${r.millis} ms\n`
          : 'nothing to compact: no sealed segment holds garbage\n');
      } finally {
        await db.close();
      }
    });

  program.command('stats')
    .description('print the store\'s figures as JSON (keys, bytes, index, recovery)')
    .argument('<dir>', 'store directory')
    .action(async (dir: string) => {
      const db = await openDir(dir, { readOnly: true });
      try {
        process.stdout.write(`${JSON.stringify({ engine: db.engine, ...db.stats(), recovery: db.recovery }, null, 2)}\n`);
      } finally {
        await db.close();
      }
    });
}
