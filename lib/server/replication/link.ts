// The replica's side of a replication link: connects to the primary (AUTH first when a
// password is set), asks for the log from where it stopped (HASHLOG.SYNC), applies each frame
// through the store, acknowledges what is durable (HASHLOG.ACK), and reconnects after a drop.
import net from 'node:net';
import type { Store } from '../../store';
import { RECORD_HEADER_SIZE } from '../../js/log-format';
import { applyRecords } from './apply';
import { fileOf, offsetOf, SEGMENT_HEADER_SIZE } from './position';
import { loadReplicaState, saveReplicaState } from './state';

const RETRY_MS = 1000;
const HEARTBEAT_MS = 1000; // an ACK at least this often, as Redis's REPLCONF ACK: the primary sees the link alive
const SAVE_EVERY_MS = 100;
const QUEUE_HIGH = 16; // frames (up to 1 MiB each) waiting to be applied before reading pauses
const QUEUE_LOW = 4;

export type LinkStatus = 'connecting' | 'sync' | 'up' | 'down';

export interface LinkOptions {
  password?: string;
  log: (line: string) => void;
}

function command(...args: string[]): Buffer {
  return Buffer.from(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
}

type Item = { kind: 'line'; text: string } | { kind: 'frame'; pos: number; bytes: Buffer };

// The primary's stream: status lines (+/-), then frames *2 :<pos> $<n> <bytes>.
class StreamReader {
  private buf: Buffer = Buffer.alloc(0);
  // Chunks of a frame whose length is known, parked until all of it is here (joined once).
  private parked: Buffer[] = [];
  private parkedBytes = 0;
  private need = 0;

  push(chunk: Buffer): void {
    if (this.need > 0) {
      this.parked.push(chunk);
      this.parkedBytes += chunk.length;
      if (this.buf.length + this.parkedBytes < this.need) return;
      this.buf = Buffer.concat([this.buf, ...this.parked]);
      this.parked = [];
      this.parkedBytes = 0;
      this.need = 0;
      return;
    }
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
  }

  next(): Item | undefined {
    if (this.need > 0) return undefined;
    const b = this.buf;
    if (b.length === 0) return undefined;
    const nl = b.indexOf('\r\n');
    if (nl < 0) return undefined;
    if (b[0] === 0x2b || b[0] === 0x2d || b[0] === 0x3a) { // + - :
      this.buf = b.subarray(nl + 2);
      return { kind: 'line', text: b.subarray(0, nl).toString('utf8') };
    }
    if (b[0] !== 0x2a) throw new Error(`unexpected byte ${b[0]} from the primary`);
    const nl2 = b.indexOf('\r\n', nl + 2);
    if (nl2 < 0) return undefined;
    const nl3 = b.indexOf('\r\n', nl2 + 2);
    if (nl3 < 0) return undefined;
    const pos = Number(b.subarray(nl + 3, nl2).toString('latin1'));
    const n = Number(b.subarray(nl2 + 3, nl3).toString('latin1'));
    if (!Number.isSafeInteger(pos) || !Number.isSafeInteger(n) || n < 0) throw new Error('bad frame from the primary');
    const start = nl3 + 2;
    if (b.length < start + n + 2) {
      this.need = start + n + 2;
      return undefined;
    }
    this.buf = b.subarray(start + n + 2);
    return { kind: 'frame', pos, bytes: b.subarray(start, start + n) };
  }
}

// The whole size of the record that `chunks` start with, once its header is there.
function recordSize(chunks: Buffer[], total: number): number | undefined {
  if (total < RECORD_HEADER_SIZE) return undefined;
  const head = chunks[0].length >= RECORD_HEADER_SIZE ? chunks[0] : Buffer.concat(chunks).subarray(0, RECORD_HEADER_SIZE);
  return RECORD_HEADER_SIZE + head.readUInt32LE(8) + head.readUInt32LE(12);
}

export class ReplicaLink {
  readonly host: string;
  readonly port: number;
  status: LinkStatus = 'connecting';
  /** The primary's replication id this replica follows. */
  replid = '?';
  /** How far the primary's log is applied here and durable. */
  applied = 0;
  lastIo = Date.now();
  private readonly store: Store;
  private readonly options: LinkOptions;
  private socket: net.Socket | undefined;
  // The start of a record that continues in the next frame(s), joined once it is whole.
  private carry: Buffer[] = [];
  private carryLen = 0;
  private work: Promise<void> = Promise.resolve();
  private stopped = false;
  private savedAt = 0;
  private queued = 0;
  private syncEnd = 0; // a full resync is in progress until the log is applied this far
  private retry: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(store: Store, host: string, port: number, options: LinkOptions) {
    this.store = store;
    this.host = host;
    this.port = port;
    this.options = options;
    const state = loadReplicaState(store.location);
    if (state !== undefined) {
      this.replid = state.replid;
      this.applied = state.position;
    }
  }

  start(): void {
    this.connect();
    this.heartbeat = setInterval(() => {
      if (this.status !== 'connecting' && this.status !== 'down') this.socket?.write(command('HASHLOG.ACK', String(this.applied)));
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /** Stops the link; resolves once what was received is applied and the position saved. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry !== undefined) clearTimeout(this.retry);
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat);
    this.socket?.destroy();
    await this.work.catch(() => undefined);
    if (this.store.status === 'open') this.save(true);
  }

  private connect(): void {
    if (this.stopped) return;
    this.status = 'connecting';
    this.carry = [];
    this.carryLen = 0;
    const reader = new StreamReader();
    const socket = net.connect(this.port, this.host, () => {
      this.status = 'sync';
      // Frames of an earlier connection may still be applying: ask from where they end.
      void this.work.then(() => {
        if (this.socket !== socket || this.stopped) return;
        if (this.options.password !== undefined) socket.write(command('AUTH', this.options.password));
        socket.write(command('HASHLOG.SYNC', this.replid, String(this.applied)));
      });
    });
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.lastIo = Date.now();
      reader.push(chunk);
      try {
        for (let item = reader.next(); item !== undefined; item = reader.next()) this.enqueue(item);
      } catch (e) {
        this.fail(e as Error);
      }
    });
    socket.on('error', (e) => this.options.log(`replication link to ${this.host}:${this.port}: ${e.message}`));
    socket.on('close', () => {
      if (this.socket !== socket) return;
      this.status = 'down';
      if (!this.stopped) this.retry = setTimeout(() => this.connect(), RETRY_MS);
    });
  }

  private fail(e: Error): void {
    this.options.log(`replication link to ${this.host}:${this.port} failed: ${e.message}; reconnecting`);
    this.socket?.destroy();
  }

  // Items are handled one after another: a frame is applied only after the previous is durable.
  private enqueue(item: Item): void {
    const socket = this.socket;
    // Backpressure: stop reading while frames wait to be applied.
    if (++this.queued > QUEUE_HIGH) socket?.pause();
    this.work = this.work.then(() => this.handle(item)).catch((e: Error) => {
      if (this.socket === socket) this.fail(e);
    }).finally(() => {
      if (--this.queued < QUEUE_LOW) socket?.resume();
    });
  }

  private async handle(item: Item): Promise<void> {
    if (this.stopped) return;
    if (item.kind === 'line') {
      await this.handleLine(item.text);
      return;
    }
    await this.applyFrame(item.pos, item.bytes);
  }

  private async handleLine(text: string): Promise<void> {
    if (text.startsWith('-')) throw new Error(`the primary says: ${text.slice(1)}`);
    const [word, replid, pos, end] = text.slice(1).split(' ');
    if (word === 'FULLRESYNC') {
      this.options.log(`full resync from ${this.host}:${this.port} (replication id ${replid})`);
      // Position 0 is saved before the clear: a crash in between must not leave a cleared
      // store that believes it is at its old position (it would go on from there, missing
      // everything before it). At 0 the next start resyncs in full again.
      this.replid = replid;
      this.applied = 0;
      this.save(true);
      await this.store.clear();
      this.applied = Number(pos);
      this.syncEnd = Number(end ?? pos);
      this.carry = [];
      this.carryLen = 0;
      this.save(true);
      this.status = this.applied >= this.syncEnd ? 'up' : 'sync'; // the data is partial until then
    } else if (word === 'CONTINUE') {
      this.options.log(`replicating from ${this.host}:${this.port} at position ${this.applied}`);
      this.status = 'up';
    }
  }

  private async applyFrame(pos: number, bytes: Buffer): Promise<void> {
    // Position -1: the snapshot (compacted segments) a resync from position 0 starts with. It
    // moves no position: cut short, it is sent again from the start after a clear.
    const snapshot = pos === -1;
    if (snapshot && this.applied !== 0) throw new Error(`snapshot frame at position ${this.applied}`);
    const expected = this.applied + this.carryLen;
    const nextSegment = this.carryLen === 0 && fileOf(pos) > fileOf(expected) && offsetOf(pos) === SEGMENT_HEADER_SIZE;
    if (!snapshot && pos !== expected && !nextSegment) throw new Error(`frame at ${pos}, expected ${expected}`);
    const base = snapshot ? 0 : pos - this.carryLen;
    let data = bytes;
    if (this.carryLen > 0) {
      this.carry.push(bytes);
      this.carryLen += bytes.length;
      // A record larger than a frame: wait for all of it, then join once (not once per frame).
      const need = recordSize(this.carry, this.carryLen);
      if (need !== undefined && this.carryLen < need) return;
      data = Buffer.concat(this.carry);
    }
    const { used, done } = applyRecords(this.store, data);
    this.carry = used < data.length ? [Buffer.from(data.subarray(used))] : [];
    this.carryLen = data.length - used;
    await done;
    // Acknowledge only what is on disk: with durability 'none' the writes resolved at write().
    if (this.store.options.durability !== 'sync') await this.store.flush();
    if (snapshot) return;
    this.applied = base + used;
    if (this.status === 'sync' && this.applied >= this.syncEnd) {
      this.status = 'up';
      this.options.log(`full resync from ${this.host}:${this.port} done at position ${this.applied}`);
    }
    this.socket?.write(command('HASHLOG.ACK', String(this.applied)));
    this.save(false);
  }

  // The position is saved only once what it covers is durable, and at most every 100 ms.
  private save(now: boolean): void {
    const t = Date.now();
    if (!now && t - this.savedAt < SAVE_EVERY_MS) return;
    this.savedAt = t;
    saveReplicaState(this.store.location, { replid: this.replid, position: this.applied });
  }
}
