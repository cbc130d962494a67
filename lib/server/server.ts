// The Redis-protocol server: accepts TCP (or TLS) connections on one store, enforces the
// limits that keep one client from hurting the others, and shuts down gracefully.
import net from 'node:net';
import tls from 'node:tls';
import { HashlogError, rangeError, typeError } from '../errors';
import type { Store } from '../store';
import { commandTable } from './commands/index';
import { Connection, type MovedConnection, type ServerCore } from './connection';
import { newServerStats, type CommandSpec, type Context, type ServerSettings, type ServerStats, type Session } from './context';
import { ReplyWriter } from '../resp/reply';
import { forwardedContextParts, ServerThreads, type MovedSession, type ThreadHost } from './threads';
import { Replication } from './replication/replication';

export interface ServerOptions {
  /** Address to listen on. Default 127.0.0.1. */
  host?: string;
  /** TCP port; 0 picks a free one. Default 6380. */
  port?: number;
  /** Clients must AUTH with this password. */
  requirepass?: string;
  /** Allow listening on a non-loopback address without a password. Default false. */
  unsafeNoAuth?: boolean;
  /** Most simultaneous clients; more are refused with an error. Default 10000. */
  maxClients?: number;
  /** Close a client idle this many seconds; 0 never. Default 0. */
  timeoutSeconds?: number;
  /** Largest bulk string in a request. Default: the store's maxValueSize (at least 64 KiB for keys). */
  maxBulkLength?: number;
  /** Most arguments in one command. Default 1048576. */
  maxArgs?: number;
  /** TLS certificate and key (PEM): serve TLS instead of plain TCP. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Where log lines go. Default: stderr with a timestamp. */
  log?: (line: string) => void;
  /** Start as a replica of this primary (REPLICAOF at run time). */
  replicaOf?: { host: string; port: number };
  /** The password for the link to the primary, if it requires one. */
  masterauth?: string;
  /**
   * Threads that serve connections (docs/server.md, "Threads"): this one and threads-1
   * workers that read the store directly and send other commands here. Default 1. Native
   * engine, without TLS.
   */
  threads?: number;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;
const KEY_LIMIT = 64 * 1024;

function defaultLog(line: string): void {
  process.stderr.write(`${new Date().toISOString()} ${line}\n`);
}

export class Server implements ServerCore, ThreadHost {
  readonly store: Store;
  readonly settings: ServerSettings;
  readonly stats: ServerStats = newServerStats();
  readonly startedAt = Date.now();
  readonly table: Map<string, CommandSpec> = commandTable();
  lastSave = Date.now();
  lastSaveOk = true;
  gate: Promise<unknown> | undefined;
  readonly replication: Replication;
  private readonly replicaOf: { host: string; port: number } | undefined;
  private readonly listener: net.Server;
  private readonly connections = new Set<Connection>();
  private readonly logLine: (line: string) => void;
  readonly maxArgs: number;
  private nextId = 1;
  private readonly lastWriteErrorLog = new Map<string, number>();
  private closing: Promise<void> | undefined;
  private shutdownHandler: ((reason: string) => void) | undefined;
  private readonly threadCount: number;
  private threads: ServerThreads | undefined;

  constructor(store: Store, options: ServerOptions = {}) {
    this.store = store;
    this.settings = resolveSettings(store, options);
    this.maxArgs = options.maxArgs ?? 1024 * 1024;
    this.logLine = options.log ?? defaultLog;
    this.replication = new Replication(store, (l) => this.log(l), options.masterauth, options.replicaOf !== undefined);
    this.replicaOf = options.replicaOf;
    this.threadCount = resolveThreads(store, options);
    const accept = (socket: net.Socket): void => this.accept(socket);
    this.listener = options.tls === undefined
      // With worker threads a connection must not be read here before it is dealt out.
      ? net.createServer({ allowHalfOpen: true, pauseOnConnect: this.threadCount > 1 }, accept)
      : tls.createServer({ cert: options.tls.cert, key: options.tls.key, allowHalfOpen: true }, accept);
  }

  /** Starts listening; resolves with the bound address. */
  listen(): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.listener.once('error', reject);
      this.listener.listen(this.settings.port, this.settings.host, () => {
        this.listener.off('error', reject);
        const a = this.listener.address() as net.AddressInfo;
        this.settings.port = a.port;
        if (this.threadCount > 1) this.threads = new ServerThreads(this, this.threadCount);
        this.log(`listening on ${a.address}:${a.port}${this.settings.tls ? ' (TLS)' : ''}, `
          + `durability ${this.store.options.durability}, engine ${this.store.engine}, threads ${this.threadCount}`);
        if (this.replicaOf !== undefined) void this.replication.follow(this.replicaOf.host, this.replicaOf.port);
        resolve({ host: a.address, port: a.port });
      });
    });
  }

  /** Called when a client asks for SHUTDOWN (the CLI closes the store and exits). */
  onShutdown(handler: (reason: string) => void): void {
    this.shutdownHandler = handler;
  }

  /**
   * Stops accepting connections, lets every connection finish the commands it has started
   * and send their replies, then closes them. Does not close the store.
   */
  close(): Promise<void> {
    if (this.closing === undefined) {
      this.closing = new Promise<void>((resolve) => {
        let pending = 3;
        const done = (): void => {
          if (--pending === 0) resolve();
        };
        this.listener.close(done);
        void this.replication.close().finally(done);
        void (this.threads?.close() ?? Promise.resolve()).finally(done);
        for (const c of this.connections) c.endAfterReplies();
        // A client that never reads its replies must not hold the shutdown forever.
        const timer = setTimeout(() => {
          for (const c of this.connections) c.destroy();
        }, 5000);
        timer.unref();
      });
    }
    return this.closing;
  }

  get clientCount(): number {
    return this.connections.size;
  }

  // ServerApi / ServerCore

  sessions(): Iterable<Session> {
    return [...this.connections].map((c) => c.session);
  }

  failure(): Error | undefined {
    return this.store.failed;
  }

  pendingWrites(): Promise<unknown> | undefined {
    return this.store._lastPending();
  }

  barrier(work: Promise<unknown>): Promise<unknown> {
    const gate = work.finally(() => {
      if (this.gate === gate) this.gate = undefined;
      for (const c of this.connections) c.resume();
    });
    this.gate = gate;
    gate.catch(() => undefined);
    return work;
  }

  shutdown(reason: string): void {
    this.log(`shutting down: ${reason}`);
    if (this.shutdownHandler !== undefined) this.shutdownHandler(reason);
    else void this.close();
  }

  log(message: string): void {
    this.logLine(message);
  }

  closed(conn: Connection): void {
    this.connections.delete(conn);
    this.replication.dropSink(conn);
  }

  committed(): void {
    this.replication.committed();
  }

  role(): 'master' | 'replica' {
    return this.replication.role === 'replica' ? 'replica' : 'master';
  }

  get readOnlyReplica(): boolean {
    return this.replication.role === 'replica';
  }

  writeFailed(error: unknown): void {
    const code = error instanceof HashlogError ? error.code : 'unknown';
    // Only the disk's failures: a bad argument (an oversized key) is the client's business.
    if (code !== 'HASHLOG_FAILED' && code !== 'HASHLOG_NO_SPACE' && code !== 'HASHLOG_IO') return;
    const now = Date.now();
    if (now - (this.lastWriteErrorLog.get(code) ?? 0) < 10_000) return;
    this.lastWriteErrorLog.set(code, now);
    const text = error instanceof Error ? error.message : String(error);
    this.log(code === 'HASHLOG_FAILED'
      ? `the store stopped accepting writes (fail-stop; restart to resume once the disk is sound): ${text}`
      : `a commit failed (${code}): ${text}`);
  }

  private accept(socket: net.Socket): void {
    this.stats.connectionsReceived++;
    socket.on('error', () => undefined); // a reset before the connection is set up
    if (this.closing !== undefined || this.connections.size >= this.settings.maxClients) {
      this.stats.rejectedConnections++;
      socket.end(this.closing !== undefined ? '-ERR the server is shutting down\r\n' : '-ERR max number of clients reached\r\n');
      return;
    }
    if (this.threads?.dispatch(socket) === true) return;
    this.addConnection(socket);
    if (this.threadCount > 1) socket.resume(); // accepted paused (pauseOnConnect)
  }

  private addConnection(socket: net.Socket, moved?: MovedConnection): void {
    const limits = { maxBulkLength: this.settings.maxBulkLength, maxArgs: this.maxArgs };
    const id = this.threadCount > 1 ? this.nextId++ * this.threadCount : this.nextId++;
    this.connections.add(new Connection(socket, this, id, limits, moved));
  }

  // ThreadHost

  context(session: Session, w: ReplyWriter, close: () => void): Context {
    const { ks, sink } = forwardedContextParts(this.store);
    return { ks, w, session, server: this, closeAfterReply: close, sink };
  }

  adopt(socket: net.Socket, session: MovedSession, unread: Buffer): void {
    socket.on('error', () => undefined);
    this.addConnection(socket, { session, unread });
  }
}

function resolveSettings(store: Store, o: ServerOptions): ServerSettings {
  if (o === null || typeof o !== 'object') throw typeError('server options must be an object');
  const host = o.host ?? '127.0.0.1';
  const port = o.port ?? 6380;
  if (typeof host !== 'string' || host === '') throw typeError('host must be a non-empty string');
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw rangeError(`port must be 0-65535, got ${port}`);
  if (o.requirepass !== undefined && (typeof o.requirepass !== 'string' || o.requirepass === '')) {
    throw typeError('requirepass must be a non-empty string');
  }
  if (!LOOPBACK.test(host) && o.requirepass === undefined && o.unsafeNoAuth !== true) {
    throw new HashlogError(`refusing to listen on ${host} without a password: give requirepass `
      + '(--requirepass), or unsafeNoAuth (--unsafe-no-auth) if the network is trusted', 'HASHLOG_INVALID_ARGUMENT');
  }
  const maxClients = o.maxClients ?? 10_000;
  if (!Number.isInteger(maxClients) || maxClients < 1) throw rangeError('maxClients must be a positive integer');
  const timeoutSeconds = o.timeoutSeconds ?? 0;
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 0) throw rangeError('timeoutSeconds must be an integer >= 0');
  const maxBulkLength = o.maxBulkLength ?? Math.max(store.options.maxValueSize, KEY_LIMIT);
  if (!Number.isInteger(maxBulkLength) || maxBulkLength < 1) throw rangeError('maxBulkLength must be a positive integer');
  return {
    host, port, requirepass: o.requirepass, maxClients, timeoutSeconds, maxBulkLength, tls: o.tls !== undefined,
  };
}

function resolveThreads(store: Store, o: ServerOptions): number {
  const threads = o.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1 || threads > 64) throw rangeError(`threads must be 1-64, got ${threads}`);
  if (threads === 1) return 1;
  if (store.engine !== 'native') {
    throw new HashlogError('threads > 1 needs the native engine (worker threads read its shared index)', 'HASHLOG_NOT_SUPPORTED');
  }
  if (o.tls !== undefined) throw new HashlogError('threads > 1 is not supported with TLS yet', 'HASHLOG_NOT_SUPPORTED');
  return threads;
}

/** A Redis-protocol server over `store` (call listen() to start it). */
export function createServer(store: Store, options?: ServerOptions): Server {
  return new Server(store, options);
}
