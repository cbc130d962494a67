// The threaded server, worker side (lib/server/threads.ts has the owner side). A worker
// thread serves the connections the owner deals it: reads from the shared store here, every
// other command forwarded to the owner; replies go out in request order either way.
import net from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { loadBinding } from '../binding';
import type { ReplyWriter } from '../resp/reply';
import { openShared, type SharedHandle, type SharedStore } from '../shared';
import type { Store } from '../store';
import { commandTable } from './commands/index';
import { Connection, type RemoteRouter, type ServerCore } from './connection';
import { newServerStats, type CommandSpec, type ServerSettings, type ServerStats, type Session } from './context';
import type { Replication } from './replication/replication';
import { Outbox, ownBuffer, packArgs, type Batch } from './thread-messages';
import { LOCAL_COMMANDS, MOVING_COMMANDS, type FromWorker, type RemoteSession, type ToWorker } from './threads';

interface WorkerData {
  handle: SharedHandle;
  index: number;
  threads: number;
  settings: ServerSettings;
  maxArgs: number;
}

class WorkerServer implements ServerCore, RemoteRouter {
  readonly store: Store;
  readonly shared: SharedStore;
  readonly settings: ServerSettings;
  readonly stats: ServerStats = newServerStats();
  readonly startedAt = Date.now();
  readonly table: Map<string, CommandSpec> = commandTable();
  readonly gate = undefined;
  readonly remote: RemoteRouter = this;
  lastSave = Date.now();
  lastSaveOk = true;
  readOnlyReplica = false;
  private readonly connections = new Set<Connection>();
  private readonly waiting = new Map<number, (reply: Buffer, close: boolean) => void>();
  private readonly index: number;
  private readonly threads: number;
  private readonly maxArgs: number;
  private nextId = 1;
  private nextRequest = 1;
  private closing = false;
  private readonly outbox = new Outbox<FromWorker>((b, transfer) => parentPort?.postMessage(b, transfer));

  constructor(data: WorkerData) {
    this.shared = openShared(data.handle);
    // Commands that run here only read (LOCAL_COMMANDS): the shared store has every read
    // method a Store has, and writes never reach it from this thread.
    this.store = this.shared as unknown as Store;
    this.settings = data.settings;
    this.index = data.index;
    this.threads = data.threads;
    this.maxArgs = data.maxArgs;
  }

  role(): 'master' | 'replica' {
    return this.readOnlyReplica ? 'replica' : 'master';
  }

  get replication(): Replication {
    throw new Error('replication runs on the owner thread'); // its commands are forwarded
  }

  // RemoteRouter

  isLocal(name: string): boolean {
    return LOCAL_COMMANDS.has(name);
  }

  movesToOwner(name: string): boolean {
    return MOVING_COMMANDS.has(name);
  }

  command(session: Session, args: Buffer[], close: () => void): Promise<(w: ReplyWriter) => void> {
    const packed = packArgs(args);
    return this.request((id) => ({ type: 'command', id, session: remoteSession(session), args: packed }), close, packed.data);
  }

  transaction(session: Session, queued: Buffer[][]): Promise<(w: ReplyWriter) => void> {
    const packed = packArgs(queued.flat());
    const counts = queued.map((c) => c.length);
    return this.request((id) => ({ type: 'transaction', id, session: remoteSession(session), counts, args: packed }),
      () => undefined, packed.data);
  }

  transfer(socket: net.Socket, session: Session, unread: Buffer): void {
    const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
    const copy = typeof fd === 'number' ? loadBinding().dupFd(fd) : -1;
    socket.destroy();
    if (copy < 0) return; // the client reconnects
    const { authenticated, protocol, name, libName, libVersion } = session;
    const bytes = ownBuffer(unread);
    this.send({ type: 'move', fd: copy, session: { authenticated, protocol, name, libName, libVersion }, unread: bytes }, bytes);
  }

  // ServerCore / ServerApi

  sessions(): Iterable<Session> {
    return [...this.connections].map((c) => c.session);
  }

  failure(): Error | undefined {
    return undefined; // the owner's commands report it
  }

  pendingWrites(): Promise<unknown> | undefined {
    return this.shared._durableBarrier();
  }

  barrier(work: Promise<unknown>): Promise<unknown> {
    return work; // FLUSHDB runs on the owner
  }

  shutdown(reason: string): void {
    this.log(`shutdown requested on a server thread: ${reason}`);
  }

  log(line: string): void {
    this.send({ type: 'log', line: `[thread ${this.index}] ${line}` });
  }

  closed(conn: Connection): void {
    this.connections.delete(conn);
    if (this.closing && this.connections.size === 0) void this.exit();
  }

  writeFailed(): void {
    // The owner logs it when it runs the write.
  }

  committed(): void {
    // Replication feeds live on the owner.
  }

  accept(fd: number): void {
    this.stats.connectionsReceived++;
    const socket = new net.Socket({ fd, readable: true, writable: true, allowHalfOpen: true });
    socket.on('error', () => undefined); // a reset before the connection is set up
    if (this.closing) {
      socket.end('-ERR the server is shutting down\r\n');
      return;
    }
    const id = this.nextId++ * this.threads + this.index;
    const limits = { maxBulkLength: this.settings.maxBulkLength, maxArgs: this.maxArgs };
    this.connections.add(new Connection(socket, this, id, limits));
  }

  reply(id: number, reply: Uint8Array, close: boolean): void {
    const settle = this.waiting.get(id);
    if (settle === undefined) return;
    this.waiting.delete(id);
    settle(Buffer.from(reply.buffer, reply.byteOffset, reply.byteLength), close);
  }

  close(): void {
    this.closing = true;
    for (const c of this.connections) c.endAfterReplies();
    if (this.connections.size === 0) void this.exit();
    // A client that never reads its replies must not hold the shutdown forever.
    setTimeout(() => {
      for (const c of this.connections) c.destroy();
    }, 5000).unref();
  }

  private async exit(): Promise<void> {
    await this.shared.close();
    process.exit(0);
  }

  private request(make: (id: number) => FromWorker, close: () => void, data: Uint8Array): Promise<(w: ReplyWriter) => void> {
    const id = this.nextRequest++;
    return new Promise((resolve) => {
      this.waiting.set(id, (reply, closes) => {
        if (closes) close();
        resolve((w) => w.raw(reply));
      });
      this.send(make(id), data);
    });
  }

  private send(m: FromWorker, transfer?: Uint8Array): void {
    this.outbox.push(m, transfer);
  }
}

function remoteSession(s: Session): RemoteSession {
  return { id: s.id, address: s.address, authenticated: s.authenticated, protocol: s.protocol, name: s.name, inMulti: false };
}

const server = new WorkerServer(workerData as WorkerData);
parentPort?.on('message', (b: Batch<ToWorker>) => {
  for (const m of b.items) receive(m);
});

function receive(m: ToWorker): void {
  switch (m.type) {
    case 'socket': server.accept(m.fd); break;
    case 'reply': server.reply(m.id, m.reply, m.close); break;
    case 'role': server.readOnlyReplica = m.replica; break;
    case 'close': server.close(); break;
    default: break;
  }
}
