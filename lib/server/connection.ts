// One client connection: parses requests, runs every command of a read at once, and sends the
// replies in request order, each as soon as the commit it depends on is durable. A write's
// reply waits for its own commit group; a read's reply waits for the newest group in flight,
// so no client ever sees a write that a crash could still take back.
import type { Socket } from 'node:net';
import { ProtocolError, RequestParser, type ParserLimits } from '../resp/parser';
import { ReplyWriter } from '../resp/reply';
import type { CommandSpec, Context, ServerApi, Session } from './context';
import { arityError, replyText, unknownCommand } from './errors';
import { runCommand, runTransaction } from './execute';
import { Keyspace } from './keyspace';
import type { FeedSink } from './replication/feed';

// Replies held back (queued or in the socket) before the connection stops reading requests:
// a client that does not read its replies cannot make the server buffer without bound.
const OUTPUT_HIGH_WATER = 4 * 1024 * 1024;
const MAX_WAITING_REPLIES = 4096;
const FLUSH_AT = 64 * 1024;
const UNAUTHENTICATED_MAX = 64 * 1024;
const MULTI_OK = new Set(['exec', 'discard', 'multi', 'quit', 'reset']);
// On a worker thread: once the commands sent to the owner outnumber those run here by this
// many, the connection moves to the owner thread.
const MOVE_AFTER = 64;

interface Slot {
  chunks: Buffer[];
  bytes: number;
  done: boolean;
  /** Command replies in the slot (each becomes the error if its barrier fails). */
  replies: number;
  /** Replies of commands that wrote: they turn into errors if their commit fails. */
  writes: number;
  barrier: Promise<unknown> | undefined;
}

/** A connection that another thread served until now: its session and the requests it had not run. */
export interface MovedConnection {
  session: Pick<Session, 'authenticated' | 'protocol' | 'name' | 'libName' | 'libVersion'>;
  unread: Buffer;
}

/** How a worker thread's connections reach the owner thread (lib/server/threads.ts). */
export interface RemoteRouter {
  /** Commands this thread runs itself (reads against the shared store, connection state). */
  isLocal(name: string): boolean;
  /** Commands for which the whole connection moves to the owner thread (streams). */
  movesToOwner(name: string): boolean;
  /** Runs one command on the owner thread; resolves with a writer of its reply. `close` if it ends the connection. */
  command(session: Session, args: Buffer[], close: () => void): Promise<(w: ReplyWriter) => void>;
  /** Runs EXEC's queued commands on the owner thread. */
  transaction(session: Session, queued: Buffer[][]): Promise<(w: ReplyWriter) => void>;
  /** Hands the socket, the session and the requests not yet run to the owner thread. */
  transfer(socket: Socket, session: Session, unread: Buffer): void;
}

/** What the connection needs from the server beyond what commands see. */
export interface ServerCore extends ServerApi {
  /** Set on a worker thread of a threaded server. */
  readonly remote?: RemoteRouter;
  readonly table: Map<string, CommandSpec>;
  /** Set while every connection must hold its next command (FLUSHDB running). */
  readonly gate: Promise<unknown> | undefined;
  closed(conn: Connection): void;
  /** A commit failed: log it (once per kind and while it persists, not per reply). */
  writeFailed(error: unknown): void;
  /** A commit succeeded: replication feeds may have new bytes to send. */
  committed(): void;
  /** True while this server is a replica: write commands are refused. */
  readonly readOnlyReplica: boolean;
}

export class Connection implements FeedSink {
  readonly session: Session;
  readonly address: string;
  private readonly socket: Socket;
  private readonly server: ServerCore;
  private readonly parser: RequestParser;
  private readonly w = new ReplyWriter();
  private readonly ks: Keyspace;
  private readonly ctx: Context;
  private ready: Buffer[] = [];
  private readyBytes = 0;
  private mark = 0; // bytes in the writer before the current command's reply
  private slots: Slot[] = [];
  private head = 0;
  private waitingBytes = 0;
  private multi: Buffer[][] | undefined;
  private multiFailed = false;
  private ending = false; // QUIT, a protocol error or shutdown: no more commands, close once flushed
  private gone = false;
  private reading = true;
  private peerEnded = false; // the client closed its side: run what it sent, reply, then close
  private forwarded = 0; // commands sent to the owner thread and not answered yet (worker threads)
  private ownerWork = 0; // commands sent to the owner, less those run here (worker threads)
  private moving: Buffer[] | undefined; // the command that moves this connection to the owner thread

  constructor(socket: Socket, server: ServerCore, id: number, limits: Partial<ParserLimits>, moved?: MovedConnection) {
    this.socket = socket;
    this.server = server;
    this.parser = new RequestParser(limits);
    this.ks = new Keyspace(server.store);
    this.address = `${socket.remoteAddress}:${socket.remotePort}`;
    const now = Date.now();
    this.session = {
      id, address: this.address, createdAt: now, name: '', libName: '',
      libVersion: '', protocol: 2, authenticated: server.settings.requirepass === undefined, lastCommand: 'NULL',
      lastActive: now, inMulti: false,
    };
    this.ctx = {
      ks: this.ks, w: this.w, session: this.session, server,
      closeAfterReply: () => {
        this.ending = true;
      },
      sink: this,
    };
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.resume());
    socket.on('end', () => {
      this.peerEnded = true;
      this.resume();
    });
    socket.on('error', () => this.destroy());
    socket.on('close', () => this.destroy());
    if (server.settings.timeoutSeconds > 0) {
      socket.setTimeout(server.settings.timeoutSeconds * 1000, () => this.destroy());
    }
    if (moved !== undefined) {
      Object.assign(this.session, moved.session);
      this.w.protocol = this.session.protocol;
      // Before any byte the socket delivers here: they come after these.
      this.parser.push(moved.unread);
      queueMicrotask(() => this.process());
    }
  }

  /** Stops taking commands; closes once every reply already due is written (shutdown). */
  endAfterReplies(): void {
    this.ending = true;
    this.finishIfDone();
  }

  /** True once the connection has no reply left to send. */
  get idle(): boolean {
    return this.head === this.slots.length && this.ready.length === 0 && this.w.empty;
  }

  /** Runs the commands that are waiting, if nothing holds them (called when a gate lifts). */
  resume(): void {
    if (this.gone) return;
    this.process();
  }

  /** Closes the connection now (a replication feed that cannot go on). */
  close(reason: string): void {
    this.server.log(`client id=${this.session.id} ${this.session.address}: ${reason}; closing the connection`);
    this.destroy();
  }

  destroy(): void {
    if (this.gone) return;
    this.gone = true;
    this.socket.destroy();
    this.server.closed(this);
  }

  private onData(chunk: Buffer): void {
    this.session.lastActive = Date.now();
    if (this.ending || this.gone) return;
    this.parser.push(chunk);
    // Before AUTH a client may not make the server hold much of its input (as Redis).
    if (!this.session.authenticated && this.parser.buffered > UNAUTHENTICATED_MAX) {
      this.protocolError(new ProtocolError('Protocol error: unauthenticated request too large'));
      this.process();
      return;
    }
    this.process();
  }

  private held(): boolean {
    return this.ending || this.moving !== undefined || this.server.gate !== undefined
      || this.socket.writableLength + this.waitingBytes + this.readyBytes + this.w.size > OUTPUT_HIGH_WATER
      || this.slots.length - this.head > MAX_WAITING_REPLIES;
  }

  private process(): void {
    while (!this.gone && !this.held()) {
      let args: Buffer[] | undefined;
      try {
        args = this.parser.next();
      } catch (e) {
        this.protocolError(e as ProtocolError);
        break;
      }
      if (args === undefined) {
        if (this.peerEnded) this.ending = true; // nothing more will come
        break;
      }
      this.execute(args);
      // Large replies go to the socket as they come, so its buffer shows the backlog.
      if (this.w.size + this.readyBytes > FLUSH_AT) this.flush();
    }
    this.flush();
    // Stop reading while commands are held, so unread requests stay in the kernel's buffers.
    const hold = this.held() && !this.ending;
    if (hold && this.reading) this.socket.pause();
    else if (!hold && !this.reading) this.socket.resume();
    this.reading = !hold;
    this.finishIfDone();
  }

  private protocolError(e: ProtocolError): void {
    if (!(e instanceof ProtocolError)) throw e;
    this.server.stats.protocolErrors++;
    this.mark = this.w.size;
    this.server.log(`client id=${this.session.id} ${this.session.address}: ${e.message}; closing the connection`);
    this.w.error(`ERR ${e.message}`);
    this.settle(undefined, 0);
    this.ending = true;
  }

  private execute(args: Buffer[]): void {
    this.server.stats.commandsProcessed++;
    this.mark = this.w.size;
    const name = args[0].toString('latin1').toLowerCase();
    this.session.lastCommand = name;
    const spec = this.server.table.get(name);
    const refusal = spec === undefined ? replyText(unknownCommand(args)) : this.refusal(spec, args);
    if (refusal !== undefined) {
      if (this.multi !== undefined) this.multiFailed = true;
      this.fail(refusal);
      return;
    }
    if (this.multi !== undefined && !MULTI_OK.has(name)) {
      if ((spec as CommandSpec).flags.includes('no-multi')) {
        this.multiFailed = true;
        this.fail('ERR Command not allowed inside a transaction');
        return;
      }
      this.multi.push(args);
      this.w.simple('QUEUED');
      this.settle(undefined, 0);
      return;
    }
    if (this.server.remote?.movesToOwner(name) === true) this.moveToOwner(args);
    else if (name === 'multi') this.beginMulti();
    else if (name === 'exec') this.exec();
    else if (name === 'discard') this.discard();
    else {
      if (name === 'reset') this.endMulti();
      this.run(spec as CommandSpec, args);
    }
  }

  // Why the command may not run now (arity, authentication), or undefined.
  private refusal(spec: CommandSpec, args: Buffer[]): string | undefined {
    if (spec.arity > 0 ? args.length !== spec.arity : args.length < -spec.arity) return arityError(spec.name).message;
    if (!this.session.authenticated && !spec.flags.includes('noauth')) return 'NOAUTH Authentication required.';
    if (this.server.readOnlyReplica && spec.flags.includes('write')) return "READONLY You can't write against a read only replica.";
    return undefined;
  }

  private run(spec: CommandSpec, args: Buffer[]): void {
    const remote = this.server.remote;
    if (remote !== undefined && (this.forwarded > 0 || !remote.isLocal(spec.name))) {
      // A connection that mostly writes moves to the owner thread: its writes then skip the
      // hop between threads, and the worker keeps the connections that read.
      if (++this.ownerWork >= MOVE_AFTER) {
        this.moveToOwner(args);
        return;
      }
      this.settleLate(this.forward(remote.command(this.session, args, this.ctx.closeAfterReply)));
      return;
    }
    if (this.ownerWork > 0) this.ownerWork--;
    const ran = runCommand(this.ctx, spec, args);
    if ('late' in ran) this.settleLate(ran.late);
    else this.settle(ran.work, ran.work === undefined ? 0 : 1);
  }

  // A command the owner thread runs: later ones wait for it (even reads, which must see it).
  private forward(reply: Promise<(w: ReplyWriter) => void>): Promise<(w: ReplyWriter) => void> {
    this.forwarded++;
    return reply.finally(() => {
      this.forwarded--;
    });
  }

  private fail(text: string): void {
    this.server.stats.errorReplies++;
    this.w.error(text);
    this.settle(undefined, 0);
  }

  private beginMulti(): void {
    if (this.multi !== undefined) {
      this.fail('ERR MULTI calls can not be nested');
      return;
    }
    this.multi = [];
    this.multiFailed = false;
    this.session.inMulti = true;
    this.w.simple('OK');
    this.settle(undefined, 0);
  }

  private discard(): void {
    if (this.multi === undefined) {
      this.fail('ERR DISCARD without MULTI');
      return;
    }
    this.endMulti();
    this.w.simple('OK');
    this.settle(undefined, 0);
  }

  private endMulti(): void {
    this.multi = undefined;
    this.multiFailed = false;
    this.session.inMulti = false;
  }

  // Runs the queued commands against one keyspace view and commits their writes as one batch.
  private exec(): void {
    const queued = this.multi;
    if (queued === undefined) {
      this.fail('ERR EXEC without MULTI');
      return;
    }
    if (this.multiFailed) {
      this.endMulti();
      this.fail('EXECABORT Transaction discarded because of previous errors.');
      return;
    }
    // The server may have become a replica since the writes were queued.
    const specs = queued.map((args) => this.server.table.get(args[0].toString('latin1').toLowerCase()) as CommandSpec);
    if (this.server.readOnlyReplica && specs.some((s) => s.flags.includes('write'))) {
      this.endMulti();
      this.fail("EXECABORT Transaction discarded because of: READONLY You can't write against a read only replica.");
      return;
    }
    const remote = this.server.remote;
    if (remote !== undefined) {
      // On a worker thread the owner runs the whole transaction, atomically with its writes.
      this.endMulti();
      this.settleLate(this.forward(remote.transaction(this.session, queued)));
      return;
    }
    // No-multi commands (late replies) were refused when queued. Still in MULTI while they
    // run (FLUSHDB joins the batch then).
    const work = runTransaction(this.ctx, specs, queued);
    this.endMulti();
    this.settle(work, work === undefined ? 0 : 1);
  }

  private readyFromWriter(): void {
    this.readyBytes += this.w.size;
    for (const c of this.w.take()) this.ready.push(c);
  }

  // Places the reply just written: straight out if nothing is in flight, else in a slot that
  // opens when its commit (or the newest commit in flight, for a read) settles.
  private settle(work: Promise<unknown> | undefined, writes: number): void {
    const barrier = work ?? this.server.pendingWrites();
    if (barrier === undefined && this.head === this.slots.length) return; // stays in the writer
    // Earlier replies still in the writer are due now; this one waits in its slot.
    const chunks = this.w.takeFrom(this.mark);
    if (!this.w.empty) this.readyFromWriter();
    let bytes = 0;
    for (const c of chunks) bytes += c.length;
    this.waitingBytes += bytes;
    const last = this.slots[this.slots.length - 1];
    if (last !== undefined && last.barrier === barrier && (last.writes > 0) === (writes > 0)) {
      for (const c of chunks) last.chunks.push(c);
      last.bytes += bytes;
      last.writes += writes;
      last.replies++;
      return;
    }
    const slot: Slot = { chunks, bytes, done: barrier === undefined, replies: 1, writes, barrier };
    this.slots.push(slot);
    if (barrier !== undefined) {
      barrier.then(() => this.open(slot), (e: unknown) => this.open(slot, e));
    }
  }

  // A reply whose content is known only later (WAIT): an empty slot, filled when it resolves.
  private settleLate(late: Promise<(w: ReplyWriter) => void>): void {
    if (!this.w.empty) this.readyFromWriter();
    const slot: Slot = { chunks: [], bytes: 0, done: false, replies: 1, writes: 0, barrier: late };
    this.slots.push(slot);
    late.then((write) => {
      const w = new ReplyWriter(512); // one reply
      w.protocol = this.session.protocol;
      write(w);
      slot.chunks = w.take();
      slot.bytes = slot.chunks.reduce((n, c) => n + c.length, 0);
      this.waitingBytes += slot.bytes;
      this.open(slot);
    }, (e: unknown) => {
      const w = new ReplyWriter(512); // one reply
      w.error(replyText(e));
      slot.chunks = w.take();
      this.open(slot);
    });
  }

  /** Sends bytes after every reply due before them (a replication feed's frames). */
  push(bytes: Buffer): void {
    if (this.gone) return;
    if (this.head === this.slots.length) {
      if (!this.w.empty) this.readyFromWriter();
      this.ready.push(bytes);
      this.readyBytes += bytes.length;
      this.flush();
    } else {
      this.slots.push({ chunks: [bytes], bytes: bytes.length, done: true, replies: 0, writes: 0, barrier: undefined });
      this.waitingBytes += bytes.length;
    }
  }

  /** Bytes sent or queued that the client has not taken yet. */
  get backlog(): number {
    return this.socket.writableLength + this.waitingBytes + this.readyBytes;
  }

  private open(slot: Slot, error?: unknown): void {
    if (error !== undefined) this.server.writeFailed(error);
    else if (slot.writes > 0) this.server.committed();
    if (error !== undefined && slot.replies > 0) {
      // A commit failed: the slot's write replies, and its reads (which may have seen the
      // failed writes, now undone), all become the error.
      const w = new ReplyWriter(512); // one reply
      for (let i = 0; i < slot.replies; i++) w.error(replyText(error));
      this.server.stats.errorReplies += slot.replies;
      this.waitingBytes -= slot.bytes;
      slot.chunks = w.take();
      slot.bytes = slot.chunks.reduce((n, c) => n + c.length, 0);
      this.waitingBytes += slot.bytes;
    }
    slot.done = true;
    slot.barrier = undefined;
    if (this.gone) return;
    if (this.slots[this.head] === slot) this.process();
  }

  // Writes every reply that is due, in order, in one corked burst.
  private flush(): void {
    while (this.head < this.slots.length && this.slots[this.head].done) {
      const s = this.slots[this.head++];
      for (const c of s.chunks) this.ready.push(c);
      this.readyBytes += s.bytes;
      this.waitingBytes -= s.bytes;
    }
    if (this.head === this.slots.length && this.head > 0) {
      this.slots = [];
      this.head = 0;
    }
    if (this.head === this.slots.length && !this.w.empty) this.readyFromWriter();
    if (this.ready.length === 0 || this.gone) return;
    const out = coalesce(this.ready);
    this.ready = [];
    this.readyBytes = 0;
    if (out.length === 1) {
      this.socket.write(out[0]);
      return;
    }
    this.socket.cork();
    for (const c of out) this.socket.write(c);
    this.socket.uncork();
  }

  // A command that streams (a replica's HASHLOG.SYNC) needs the owner thread's connection:
  // once every earlier reply is out, the socket moves there with its unread requests.
  private moveToOwner(args: Buffer[]): void {
    this.moving = args;
    this.finishIfDone();
  }

  private finishIfDone(): void {
    const remote = this.server.remote;
    if (this.moving !== undefined && remote !== undefined && !this.gone && this.idle) {
      this.gone = true;
      const again = encodeCommand(this.moving);
      remote.transfer(this.socket, this.session, Buffer.concat([again, this.parser.takeRest()]));
      this.server.closed(this);
      return;
    }
    if (this.ending && !this.gone && this.idle) {
      this.gone = true;
      // Close once the replies are written, without waiting for the client to close its side.
      this.socket.destroySoon();
      this.server.closed(this);
    }
  }
}

// Joins neighbouring chunks that are adjacent in memory (slices of one slab), so a burst of
// small replies goes out as one buffer instead of a long writev.
function coalesce(chunks: Buffer[]): Buffer[] {
  if (chunks.length < 2) return chunks;
  const out: Buffer[] = [chunks[0]];
  for (let i = 1; i < chunks.length; i++) {
    const prev = out[out.length - 1];
    const c = chunks[i];
    if (c.buffer === prev.buffer && prev.byteOffset + prev.length === c.byteOffset) {
      out[out.length - 1] = Buffer.from(prev.buffer, prev.byteOffset, prev.length + c.length);
    } else {
      out.push(c);
    }
  }
  return out;
}

// A command as a client sends it (RESP multibulk), to be parsed again by another thread.
function encodeCommand(args: Buffer[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) parts.push(Buffer.from(`$${a.length}\r\n`), a, Buffer.from('\r\n'));
  return Buffer.concat(parts);
}
