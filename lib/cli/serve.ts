// hashlog serve: the Redis-protocol server on a store directory, until SIGINT/SIGTERM/SHUTDOWN.
import fs from 'node:fs';
import os from 'node:os';
import type { Command } from 'commander';
import { createServer } from '../server/server';
import type { Durability, EngineChoice } from '../options';
import { VERSION } from '../version';
import { CliError, openDir } from './open-dir';

interface ServeOptions {
  dir: string;
  host: string;
  port: string;
  durability: string;
  requirepass?: string;
  unsafeNoAuth?: boolean;
  maxClients: string;
  timeout: string;
  tlsCert?: string;
  tlsKey?: string;
  maxValueSize?: string;
  checkpointBytes?: string;
  engine: string;
  replicaOf?: string;
  masterauth?: string;
  threads?: string;
}

function int(name: string, v: string, min: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new CliError(`${name} must be an integer >= ${min}, got ${v}`, 2);
  return n;
}

// --threads, or by default one per core where the server can use them (native engine, no TLS).
function serverThreads(threads: number | undefined, o: ServeOptions, engine: string): number {
  if (threads !== undefined) return threads;
  if (engine !== 'native' || o.tlsCert !== undefined) return 1;
  return Math.min(os.availableParallelism(), 64);
}

function log(line: string): void {
  process.stderr.write(`${new Date().toISOString()} ${line}\n`);
}

async function serve(o: ServeOptions): Promise<void> {
  if (o.durability !== 'sync' && o.durability !== 'none') throw new CliError('--durability must be sync or none', 2);
  if (!['auto', 'native', 'js'].includes(o.engine)) throw new CliError('--engine must be auto, native or js', 2);
  if ((o.tlsCert === undefined) !== (o.tlsKey === undefined)) throw new CliError('--tls-cert and --tls-key go together', 2);
  const password = o.requirepass ?? process.env.HASHLOG_PASSWORD;
  let replicaOf: { host: string; port: number } | undefined;
  if (o.replicaOf !== undefined) {
    const m = /^(.+):(\d+)$/.exec(o.replicaOf);
    if (m === null) throw new CliError('--replica-of must be HOST:PORT', 2);
    replicaOf = { host: m[1].replace(/^\[(.*)\]$/, '$1'), port: int('--replica-of port', m[2], 1) };
  }
  const threads = o.threads === undefined ? undefined : int('--threads', o.threads, 1); // before the store opens
  log(`hashlog ${VERSION} (node ${process.version}, pid ${process.pid}): opening ${o.dir}`);
  const db = await openDir(o.dir, {
    durability: o.durability as Durability,
    engine: o.engine as EngineChoice,
    ...(o.maxValueSize === undefined ? {} : { maxValueSize: int('--max-value-size', o.maxValueSize, 0) }),
    ...(o.checkpointBytes === undefined ? {} : { checkpointBytes: int('--checkpoint-bytes', o.checkpointBytes, 0) }),
  });
  const r = db.recovery;
  log(`recovered ${db.size} keys from ${r.records} records in ${r.segments} segment(s) in ${Math.round(r.millis)} ms`
    + (r.checkpoint === 'used' ? ` (from a checkpoint and the ${r.replayedBytes} bytes of log after it)` : ` (full scan: checkpoint ${r.checkpoint})`)
    + (r.discardedBytes > 0 ? ` (cut a torn tail of ${r.discardedBytes} bytes)` : ''));
  const server = createServer(db, {
    threads: serverThreads(threads, o, db.engine),
    host: o.host,
    port: int('--port', o.port, 0),
    requirepass: password,
    unsafeNoAuth: o.unsafeNoAuth === true,
    maxClients: int('--max-clients', o.maxClients, 1),
    timeoutSeconds: int('--timeout', o.timeout, 0),
    tls: o.tlsCert === undefined || o.tlsKey === undefined
      ? undefined : { cert: fs.readFileSync(o.tlsCert), key: fs.readFileSync(o.tlsKey) },
    log,
    replicaOf,
    masterauth: o.masterauth ?? process.env.HASHLOG_MASTERAUTH,
  });
  let stopping = false;
  const stop = async (why: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log(`stopping (${why}): finishing in-flight commands`);
    await server.close();
    await db.close();
    log('store closed; bye');
    process.exit(0);
  };
  server.onShutdown((why) => void stop(why));
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  try {
    await server.listen();
  } catch (e) {
    await db.close();
    throw e;
  }
}

export function registerServe(program: Command): void {
  program.command('serve')
    .description('serve a store over the Redis protocol (RESP2/RESP3) until SIGINT, SIGTERM or SHUTDOWN')
    .option('--dir <dir>', 'store directory (created if missing)', './data')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'TCP port (0: any free port)', '6380')
    .option('--durability <mode>', 'sync: reply after fdatasync; none: after the write reaches the OS', 'sync')
    .option('--requirepass <password>', 'clients must AUTH (or set HASHLOG_PASSWORD)')
    .option('--unsafe-no-auth', 'allow a non-loopback --host without a password')
    .option('--max-clients <n>', 'most simultaneous clients', '10000')
    .option('--timeout <seconds>', 'close clients idle this long (0: never)', '0')
    .option('--max-value-size <bytes>', 'largest value accepted')
    .option('--checkpoint-bytes <bytes>', 'write a checkpoint each time the log grows by this much (0: only at shutdown and SAVE)')
    .option('--engine <engine>', 'auto: native when the addon loads, else js; native; js', 'auto')
    .option('--replica-of <host:port>', 'start as a read-only replica of that primary (REPLICAOF at run time)')
    .option('--masterauth <password>', 'the primary\'s password for the replication link (or set HASHLOG_MASTERAUTH)')
    .option('--threads <n>', 'threads serving connections: reads on every one, writes through this one (default: one per core)')
    .option('--tls-cert <file>', 'serve TLS with this certificate (PEM)')
    .option('--tls-key <file>', 'the TLS private key (PEM)')
    .action(serve);
}
