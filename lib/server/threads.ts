// The threaded server, owner side (docs/server.md, "Threads"). The owner thread (the one that
// opened the store) keeps the listener and deals accepted connections round-robin to itself
// and to N-1 worker threads (lib/server/worker.ts): Node cannot move a socket between
// threads, so the descriptor is duplicated and the worker wraps the copy. A worker serves
// reads from the shared store itself and sends every other command here, where it runs as
// it would on a connection of this thread; its reply goes back to be sent in order.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { loadBinding } from '../binding';
import { ReplyWriter } from '../resp/reply';
import type { Store } from '../store';
import type { CommandSpec, Context, ServerSettings, Session } from './context';
import { replyText } from './errors';
import { runCommand, runTransaction } from './execute';
import { Outbox, ownBuffer, unpackArgs, type Batch, type PackedArgs } from './thread-messages';
import { Keyspace } from './keyspace';
import type { FeedSink } from './replication/feed';

/** What the owner side needs of the server (lib/server/server.ts). */
export interface ThreadHost {
  readonly store: Store;
  readonly settings: ServerSettings;
  readonly table: Map<string, CommandSpec>;
  readonly readOnlyReplica: boolean;
  /** The request parser's limit on arguments, for the workers' connections too. */
  readonly maxArgs: number;
  /** A context with this server's stats, replication and shutdown; `close` for QUIT and SHUTDOWN. */
  context(session: Session, w: ReplyWriter, close: () => void): Context;
  pendingWrites(): Promise<unknown> | undefined;
  committed(): void;
  writeFailed(error: unknown): void;
  /** Takes over a connection a worker moved here. */
  adopt(socket: net.Socket, session: MovedSession, unread: Buffer): void;
  log(line: string): void;
}

export type MovedSession = Pick<Session, 'authenticated' | 'protocol' | 'name' | 'libName' | 'libVersion'>;

/** Messages from a worker. */
export type FromWorker =
  | { type: 'command'; id: number; session: RemoteSession; args: PackedArgs }
  // counts[i]: how many of args' arguments the i-th queued command has.
  | { type: 'transaction'; id: number; session: RemoteSession; counts: number[]; args: PackedArgs }
  | { type: 'move'; fd: number; session: MovedSession; unread: Uint8Array }
  | { type: 'log'; line: string }
  | { type: 'closed' };

/** Messages to a worker. */
export type ToWorker =
  | { type: 'socket'; fd: number }
  | { type: 'reply'; id: number; reply: Uint8Array; close: boolean }
  | { type: 'role'; replica: boolean }
  | { type: 'close' };

/** The session fields a command may read, as the worker's connection had them. */
export type RemoteSession = Pick<Session, 'id' | 'address' | 'authenticated' | 'protocol' | 'name' | 'inMulti'>;

// Commands that need no owner: reads of the shared store and the connection's own state.
// Everything else (writes, read-modify-writes, admin, replication, INFO) runs on the owner.
export const LOCAL_COMMANDS = new Set(['get', 'mget', 'exists', 'ttl', 'pttl', 'type', 'strlen', 'dbsize', 'scan',
  'keys', 'randomkey', 'ping', 'echo', 'select', 'quit', 'auth', 'hello', 'client', 'reset', 'command', 'multi',
  'discard']);
// Commands after which the connection itself moves to the owner (it streams replication).
export const MOVING_COMMANDS = new Set(['hashlog.sync']);

// The compiled worker: beside this file in dist/, or in dist/ when this runs from source (tests).
const WORKER_FILE = [path.join(__dirname, 'worker.js'), path.resolve(__dirname, '../../dist/server/worker.js')]
  .find((f) => fs.existsSync(f)) ?? path.join(__dirname, 'worker.js');

// A feed sink for contexts that are not connections: forwarded commands never stream.
const NO_SINK: FeedSink = { address: 'forwarded', backlog: 0, push: () => undefined, close: () => undefined };

export class ServerThreads {
  private readonly host: ThreadHost;
  private readonly workers: Worker[] = [];
  private readonly outboxes: Outbox<ToWorker>[] = [];
  private readonly alive: boolean[] = [];
  private closing = false;
  private readonly exited: Promise<void>[] = [];
  private next = 0;
  private lastRole: boolean | undefined;
  private readonly roleTimer: NodeJS.Timeout;

  constructor(host: ThreadHost, threads: number) {
    this.host = host;
    for (let i = 1; i < threads; i++) this.spawn(i, threads);
    // Workers refuse writes while this server is a replica; tell them when that changes.
    this.roleTimer = setInterval(() => this.broadcastRole(), 200);
    this.roleTimer.unref();
    this.broadcastRole();
  }

  get count(): number {
    return this.workers.length + 1;
  }

  /**
   * Deals an accepted (paused) socket: false if this thread keeps it, true once a worker has it.
   */
  dispatch(socket: net.Socket): boolean {
    const turn = this.next++ % this.count;
    if (turn === 0 || !this.alive[turn - 1]) return false; // a thread that died gets no more
    const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
    const copy = typeof fd === 'number' && fd >= 0 ? loadBinding().dupFd(fd) : -1;
    if (copy < 0) return false; // serve it here rather than drop it
    this.post(turn - 1, { type: 'socket', fd: copy });
    socket.destroy(); // closes this thread's descriptor; the worker's copy stays open
    return true;
  }

  /** Asks every worker to finish its connections' replies and stop; resolves when they exited. */
  async close(): Promise<void> {
    clearInterval(this.roleTimer);
    this.closing = true;
    this.workers.forEach((w, i) => {
      w.ref(); // the process must not end (its loop empty) before they have
      this.post(i, { type: 'close' });
    });
    await Promise.all(this.exited);
  }

  private spawn(index: number, threads: number): void {
    const handle = this.host.store.share();
    const worker = new Worker(WORKER_FILE, {
      workerData: { handle, index, threads, settings: this.host.settings, maxArgs: this.host.maxArgs },
      transferList: [handle.port],
    });
    const n = this.workers.length;
    this.alive.push(true);
    this.exited.push(new Promise((resolve) => worker.once('exit', (code) => {
      if (!this.closing) this.host.log(`server thread ${index} exited (code ${code}); its connections are lost, new ones stay on the other threads`);
      this.alive[n] = false;
      resolve();
    })));
    worker.on('message', (b: Batch<FromWorker>) => {
      for (const m of b.items) this.receive(n, m);
    });
    this.outboxes.push(new Outbox((b, transfer) => worker.postMessage(b, transfer)));
    worker.on('error', (e) => this.host.log(`server thread ${index} failed: ${e.message}`));
    worker.unref();
    this.workers.push(worker);
  }

  private receive(worker: number, m: FromWorker): void {
    const answer = (id: number, reply: Buffer, close: boolean): void => {
      const own = ownBuffer(reply);
      this.post(worker, { type: 'reply', id, reply: own, close }, own);
    };
    switch (m.type) {
      case 'command': {
        let close = false;
        void this.runCommand(m.session, unpackArgs(m.args).args, () => {
          close = true;
        }).then((reply) => answer(m.id, reply, close));
        break;
      }
      case 'transaction': {
        const queued: Buffer[][] = [];
        let at = 0;
        for (const count of m.counts) {
          const { args, end } = unpackArgs(m.args, at, count);
          queued.push(args);
          at = end;
        }
        void this.runTransaction(m.session, queued).then((reply) => answer(m.id, reply, false));
        break;
      }
      case 'move':
        this.host.log('a replication sync moved to the owner thread from a server thread');
        this.adoptFd(m.fd, m.session, Buffer.from(m.unread));
        break;
      case 'log':
        this.host.log(m.line);
        break;
      default:
        break;
    }
  }

  private adoptFd(fd: number, session: MovedSession, unread: Buffer): void {
    this.host.adopt(new net.Socket({ fd, readable: true, writable: true, allowHalfOpen: true }), session, unread);
  }

  // Runs a forwarded command as a connection of this thread would, and settles with its
  // reply once what it wrote (or, for a read, the newest write in flight) is durable.
  private runCommand(session: RemoteSession, args: Buffer[], close: () => void): Promise<Buffer> {
    const spec = this.host.table.get(Buffer.from(args[0]).toString('latin1').toLowerCase());
    if (spec === undefined) return Promise.resolve(errorReply(session, 'ERR unknown command'));
    if (this.host.readOnlyReplica && spec.flags.includes('write')) {
      return Promise.resolve(errorReply(session, "READONLY You can't write against a read only replica."));
    }
    const w = writer(session);
    const ctx = this.host.context(asSession(session), w, close);
    const ran = runCommand(ctx, spec, args);
    if ('late' in ran) {
      return ran.late.then((write) => {
        const out = writer(session);
        write(out);
        return Buffer.concat(out.take());
      }, (e: unknown) => errorReply(session, replyText(e)));
    }
    return this.settle(session, w, ran.work);
  }

  private runTransaction(session: RemoteSession, queued: Buffer[][]): Promise<Buffer> {
    const specs = queued.map((a) => this.host.table.get(Buffer.from(a[0]).toString('latin1').toLowerCase()));
    if (specs.some((s) => s === undefined)) return Promise.resolve(errorReply(session, 'EXECABORT Transaction discarded because of previous errors.'));
    if (this.host.readOnlyReplica && specs.some((s) => (s as CommandSpec).flags.includes('write'))) {
      return Promise.resolve(errorReply(session,
        "EXECABORT Transaction discarded because of: READONLY You can't write against a read only replica."));
    }
    const w = writer(session);
    const ctx = this.host.context(asSession({ ...session, inMulti: true }), w, () => undefined);
    const work = runTransaction(ctx, specs as CommandSpec[], queued);
    return this.settle(session, w, work);
  }

  private settle(session: RemoteSession, w: ReplyWriter, work: Promise<unknown> | undefined): Promise<Buffer> {
    const reply = Buffer.concat(w.take());
    const barrier = work ?? this.host.pendingWrites();
    if (barrier === undefined) return Promise.resolve(reply);
    return barrier.then(() => {
      if (work !== undefined) this.host.committed();
      return reply;
    }, (e: unknown) => {
      this.host.writeFailed(e);
      return errorReply(session, replyText(e));
    });
  }

  private broadcastRole(): void {
    const replica = this.host.readOnlyReplica;
    if (replica === this.lastRole) return;
    this.lastRole = replica;
    this.workers.forEach((_, i) => this.post(i, { type: 'role', replica }));
  }

  private post(worker: number, m: ToWorker, transfer?: Uint8Array): void {
    this.outboxes[worker].push(m, transfer);
  }
}

// One reply: a small slab (a connection's 64 KiB one per command would be most of the cost).
function writer(session: RemoteSession): ReplyWriter {
  const w = new ReplyWriter(512);
  w.protocol = session.protocol;
  return w;
}

function errorReply(session: RemoteSession, text: string): Buffer {
  const w = writer(session);
  w.error(text);
  return Buffer.concat(w.take());
}

function asSession(s: RemoteSession): Session {
  const now = Date.now();
  return { ...s, libName: '', libVersion: '', lastCommand: 'NULL', createdAt: now, lastActive: now };
}

/** The keyspace and the sink of a forwarded command's context. */
export function forwardedContextParts(store: Store): { ks: Keyspace; sink: FeedSink } {
  return { ks: new Keyspace(store), sink: NO_SINK };
}
