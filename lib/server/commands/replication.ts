// Replication commands: REPLICAOF (SLAVEOF), ROLE, WAIT, and the link's own HASHLOG.SYNC and
// HASHLOG.ACK (docs/server.md, "Replication").
import { NOT_INTEGER, ReplyError } from '../errors';
import { intArg } from '../int';
import { command, type CommandResult, type CommandSpec, type Context } from '../context';
import type { ReplyWriter } from '../../resp/reply';

function replicaof(ctx: Context, args: Buffer[]): Promise<unknown> {
  const host = args[1].toString('utf8');
  const rep = ctx.server.replication;
  if (host.toUpperCase() === 'NO' && args[2].toString('latin1').toUpperCase() === 'ONE') {
    ctx.w.simple('OK');
    return rep.promote();
  }
  const port = intArg(args[2]);
  if (port < 1 || port > 65535) throw new ReplyError('ERR Invalid master port');
  ctx.w.simple('OK');
  return rep.follow(host, port);
}

function role(ctx: Context): void {
  const rep = ctx.server.replication;
  const w = ctx.w;
  if (rep.link === undefined) {
    w.array(3);
    w.bulk('master');
    w.integer(rep.offset);
    w.array(rep.feeds.size);
    for (const [sink, feed] of rep.feeds) {
      const [ip, port] = splitAddress(sink.address);
      w.array(3);
      w.bulk(ip);
      w.bulk(port);
      w.bulk(String(feed.acked));
    }
    return;
  }
  const link = rep.link;
  w.array(5);
  w.bulk('slave');
  w.bulk(link.host);
  w.integer(link.port);
  w.bulk(link.status === 'up' ? 'connected' : link.status === 'sync' ? 'sync' : 'connect');
  w.integer(link.applied);
}

/** "host:port" (IPv6 hosts have colons of their own) as [host, port]. */
export function splitAddress(a: string): [string, string] {
  const i = a.lastIndexOf(':');
  return [a.slice(0, i), a.slice(i + 1)];
}

// WAIT numreplicas timeout: how many replicas hold every write made so far.
function wait(ctx: Context, args: Buffer[]): CommandResult {
  const count = intArg(args[1]);
  const timeout = intArg(args[2]);
  if (count < 0) throw new ReplyError(NOT_INTEGER);
  if (timeout < 0) throw new ReplyError('ERR timeout is negative');
  const rep = ctx.server.replication;
  if (rep.role === 'replica') throw new ReplyError('ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.');
  // The writes issued before WAIT must be in the files before the target is taken.
  const before = ctx.server.pendingWrites() ?? Promise.resolve();
  const late = before.catch(() => undefined).then(() => rep.wait(count, timeout));
  return { late: late.then((n: number) => (w: ReplyWriter) => w.integer(n)) };
}

// HASHLOG.SYNC <replid> <position>: turns this connection into a replication feed.
function sync(ctx: Context, args: Buffer[]): void {
  const rep = ctx.server.replication;
  if (rep.role === 'replica') throw new ReplyError('ERR this server is a replica: point replicas at its primary');
  const pos = Number(args[2].toString('latin1'));
  if (!Number.isSafeInteger(pos) || pos < 0) throw new ReplyError('ERR invalid replication position');
  const { line, from } = rep.syncPoint(args[1].toString('latin1'), pos);
  ctx.w.simple(line);
  rep.startFeed(ctx.sink, from);
}

// HASHLOG.ACK <position>: the replica has applied and made durable everything before it. No reply.
function ack(ctx: Context, args: Buffer[]): void {
  const pos = Number(args[1].toString('latin1'));
  if (Number.isSafeInteger(pos)) ctx.server.replication.ack(ctx.sink, pos);
}

const A = ['admin', 'noscript'];

export const replicationCommands: CommandSpec[] = [
  command('replicaof', 3, A, replicaof),
  command('slaveof', 3, A, replicaof),
  command('role', 1, ['fast'], role),
  command('wait', 3, ['no-multi'], wait),
  command('hashlog.sync', 3, A, sync),
  command('hashlog.ack', 2, ['fast'], ack),
];
