// Server commands: INFO, CONFIG GET, COMMAND, SAVE/BGSAVE/LASTSAVE, SHUTDOWN, backup and
// compaction (HASHLOG.BACKUP, HASHLOG.COMPACT, BGREWRITEAOF).
import type { ReplyWriter } from '../../resp/reply';
import { ReplyError, replyText } from '../errors';
import { globMatch } from '../glob';
import { infoText } from '../info';
import { command, type CommandResult, type CommandSpec, type Context } from '../context';
import { VERSION } from '../../version';

function configValues(ctx: Context): [string, string][] {
  const s = ctx.server.settings;
  const o = ctx.ks.store.options;
  return [
    ['bind', s.host], ['port', String(s.port)], ['maxclients', String(s.maxClients)],
    ['timeout', String(s.timeoutSeconds)], ['proto-max-bulk-len', String(s.maxBulkLength)],
    ['requirepass', s.requirepass === undefined ? '' : '********'], ['databases', '1'], ['save', ''],
    ['appendonly', 'yes'], ['appendfsync', o.durability === 'sync' ? 'always' : 'everysec'],
    ['maxmemory', '0'], ['dir', ctx.ks.store.location], ['hashlog-durability', o.durability],
    ['hashlog-max-value-size', String(o.maxValueSize)], ['hashlog-segment-size', String(o.segmentSize)],
  ];
}

function config(ctx: Context, args: Buffer[]): void {
  const sub = args[1].toString('latin1').toUpperCase();
  if (sub === 'GET' && args.length >= 3) {
    const patterns = args.slice(2).map((p) => Buffer.from(p.toString('latin1').toLowerCase(), 'latin1'));
    const hits = configValues(ctx).filter(([k]) => patterns.some((p) => globMatch(p, Buffer.from(k, 'latin1'))));
    ctx.w.map(hits.length);
    for (const [k, v] of hits) {
      ctx.w.bulk(k);
      ctx.w.bulk(v);
    }
  } else if (sub === 'RESETSTAT' && args.length === 2) {
    const st = ctx.server.stats;
    for (const k of Object.keys(st) as (keyof typeof st)[]) st[k] = 0;
    ctx.w.simple('OK');
  } else if (sub === 'SET') {
    throw new ReplyError('ERR CONFIG SET is not supported: restart hashlog serve with the option instead');
  } else {
    throw new ReplyError(`ERR unknown subcommand or wrong number of arguments for '${args[1].toString()}'. Try CONFIG HELP.`);
  }
}

// One COMMAND INFO entry in Redis 7's shape: name, arity, flags, first/last key, step,
// ACL categories, tips, key specs, subcommands.
function describe(ctx: Context, spec: CommandSpec): void {
  ctx.w.array(10);
  ctx.w.bulk(spec.name);
  ctx.w.integer(spec.arity);
  ctx.w.set(spec.flags.length);
  for (const f of spec.flags) ctx.w.simple(f);
  ctx.w.integer(spec.keys[0]);
  ctx.w.integer(spec.keys[1]);
  ctx.w.integer(spec.keys[2]);
  ctx.w.set(0);
  ctx.w.array(0);
  ctx.w.array(0);
  ctx.w.array(0);
}

function commandCmd(table: () => Map<string, CommandSpec>) {
  return (ctx: Context, args: Buffer[]): void => {
    const all = table();
    const sub = args.length > 1 ? args[1].toString('latin1').toUpperCase() : '';
    if (sub === '') {
      ctx.w.array(all.size);
      for (const spec of all.values()) describe(ctx, spec);
    } else if (sub === 'COUNT') {
      ctx.w.integer(all.size);
    } else if (sub === 'INFO') {
      const names = args.length > 2 ? args.slice(2).map((a) => a.toString('latin1').toLowerCase()) : [...all.keys()];
      ctx.w.array(names.length);
      for (const n of names) {
        const spec = all.get(n);
        if (spec === undefined) ctx.w.nilArray();
        else describe(ctx, spec);
      }
    } else if (sub === 'DOCS') {
      ctx.w.map(0); // no docs: redis-cli falls back to its built-in hints
    } else if (sub === 'LIST') {
      ctx.w.array(all.size);
      for (const n of all.keys()) ctx.w.bulk(n);
    } else {
      throw new ReplyError(`ERR unknown subcommand '${args[1].toString()}'. Try COMMAND HELP.`);
    }
  };
}

// SAVE and BGSAVE write a checkpoint (Store#checkpoint(): the index and segment list, so a
// restart replays only the log after it). SAVE replies once it is durable; BGSAVE at once,
// like Redis, and logs a failure.
function save(background: boolean) {
  return (ctx: Context): Promise<unknown> | undefined => {
    ctx.w.simple(background ? 'Background saving started' : 'OK');
    const server = ctx.server;
    const done = ctx.ks.store.checkpoint().then(() => {
      server.lastSave = Date.now();
      server.lastSaveOk = true;
    }, (e: unknown) => {
      server.lastSaveOk = false;
      throw e;
    });
    if (!background) return done;
    done.catch((e: unknown) => server.log(`background checkpoint failed: ${(e as Error).message}`));
    return undefined;
  };
}

// HASHLOG.BACKUP <dir>: an online backup into a new directory on the server's machine.
function backup(ctx: Context, args: Buffer[]): Promise<unknown> {
  const target = args[1].toString('utf8');
  ctx.w.simple('OK');
  ctx.server.log(`backup to ${target} requested by client id=${ctx.session.id}`);
  return ctx.ks.store.backup(target).then((r) => {
    ctx.server.log(`backup to ${target} done: ${r.segments} segment(s), ${r.bytes} bytes in ${Math.round(r.millis)} ms`);
  });
}

// HASHLOG.COMPACT: runs a compaction; the reply (a map of what it did) comes once it is done.
function compact(ctx: Context): CommandResult {
  ctx.server.log(`compaction requested by client id=${ctx.session.id}`);
  const late = ctx.ks.store.compact().then((r) => {
    ctx.server.log(`compaction done: ${r.segmentsRemoved} segment(s) removed, ${r.segmentsWritten} written, `
      + `${r.bytesRead - r.bytesWritten} bytes reclaimed in ${r.millis} ms`);
    return (w: ReplyWriter): void => {
      const fields = Object.entries(r);
      w.map(fields.length);
      for (const [k, v] of fields) {
        w.bulk(k);
        w.integer(typeof v === 'boolean' ? Number(v) : v);
      }
    };
  }, (e: unknown) => (w: ReplyWriter): void => w.error(replyText(e)));
  return { late };
}

// BGREWRITEAOF: Redis's rewrite of its log is our compaction; it runs in the background.
function bgrewriteaof(ctx: Context): void {
  const running = ctx.ks.store.compacting;
  ctx.w.simple(running ? 'Background append only file rewriting already in progress'
    : 'Background append only file rewriting started');
  if (running) return;
  ctx.ks.store.compact().then((r) => {
    ctx.server.log(`background compaction done: ${r.bytesRead - r.bytesWritten} bytes reclaimed in ${r.millis} ms`);
  }, (e: Error) => ctx.server.log(`background compaction failed: ${e.message}`));
}

function shutdown(ctx: Context, args: Buffer[]): void {
  for (const a of args.slice(1)) {
    if (!['NOSAVE', 'SAVE', 'NOW', 'FORCE', 'ABORT'].includes(a.toString('latin1').toUpperCase())) {
      throw new ReplyError('ERR syntax error');
    }
  }
  if (args.slice(1).some((a) => a.toString('latin1').toUpperCase() === 'ABORT')) {
    throw new ReplyError('ERR No shutdown in progress.');
  }
  ctx.server.shutdown(`SHUTDOWN from client id=${ctx.session.id} ${ctx.session.address}`);
  ctx.closeAfterReply(); // like Redis: no reply, the connection closes
}

export function adminCommands(table: () => Map<string, CommandSpec>): CommandSpec[] {
  return [
    command('info', -1, ['loading', 'stale'], (ctx, a) => {
      ctx.w.verbatim(infoText(ctx.server, a.slice(1).map((x) => x.toString('latin1').toLowerCase()), VERSION));
    }),
    command('config', -2, ['admin', 'loading', 'stale'], config),
    command('command', -1, ['loading', 'stale'], commandCmd(table)),
    command('save', 1, ['admin'], save(false)),
    command('bgsave', -1, ['admin'], save(true)),
    command('lastsave', 1, ['fast'], (ctx) => ctx.w.integer(Math.floor(ctx.server.lastSave / 1000))),
    command('shutdown', -1, ['admin', 'noscript'], shutdown),
    command('hashlog.backup', 2, ['admin'], backup),
    command('hashlog.compact', 1, ['admin'], compact),
    command('bgrewriteaof', 1, ['admin'], bgrewriteaof),
  ];
}
