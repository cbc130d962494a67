// Test servers on random loopback ports, ioredis clients, and a raw socket for bytes the
// client libraries would never send.
import net from 'node:net';
import Redis, { type RedisOptions } from 'ioredis';
import { open, type Store } from '../../lib/store';
import type { OpenOptions } from '../../lib/options';
import { createServer, type Server, type ServerOptions } from '../../lib/server/server';
import { tmpdir } from '../helpers/tmpdir';

export interface TestServer {
  dir: string;
  db: Store;
  server: Server;
  port: number;
  logs: string[];
  client(options?: RedisOptions): Redis;
  stop(): Promise<void>;
}

export async function startServer(store: OpenOptions = {}, options: ServerOptions = {}, dir = tmpdir()): Promise<TestServer> {
  const db = await open(dir, store);
  const logs: string[] = [];
  const server = createServer(db, { port: 0, log: (l) => logs.push(l), ...options });
  const { port } = await server.listen();
  const clients: Redis[] = [];
  return {
    dir, db, server, port, logs,
    client(o: RedisOptions = {}): Redis {
      const c = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1, retryStrategy: () => null, ...o });
      c.on('error', () => undefined);
      clients.push(c);
      return c;
    },
    async stop(): Promise<void> {
      for (const c of clients) c.disconnect();
      await server.close();
      await db.close();
    },
  };
}

/** A plain TCP connection: send bytes, read until the replies you expect have arrived. */
export class RawClient {
  readonly socket: net.Socket;
  private data = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  closed = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (c: Buffer) => {
      this.data = Buffer.concat([this.data, c]);
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  send(bytes: string | Buffer): void {
    this.socket.write(bytes);
  }

  /** Waits until the received text satisfies `done` (or the connection closes); returns it. */
  async until(done: (text: string) => boolean, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!done(this.text) && !this.closed) {
      if (Date.now() > deadline) throw new Error(`timed out; received so far: ${JSON.stringify(this.text.slice(0, 500))}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
    return this.text;
  }

  /** Waits for `n` complete top-level replies of simple types (+ - : $). */
  async replies(n: number): Promise<string[]> {
    await this.until((t) => splitReplies(t).length >= n);
    return splitReplies(this.text).slice(0, n);
  }

  get text(): string {
    return this.data.toString('latin1');
  }

  close(): void {
    this.socket.destroy();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

/** Splits a stream of flat RESP2 replies (+, -, :, $) into their texts, without CRLFs. */
export function splitReplies(text: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    const nl = text.indexOf('\r\n', i);
    if (nl < 0) break;
    if (text[i] === '$') {
      const len = Number(text.slice(i + 1, nl));
      if (len < 0) {
        out.push('(nil)');
        i = nl + 2;
        continue;
      }
      if (text.length < nl + 2 + len + 2) break;
      out.push(text.slice(nl + 2, nl + 2 + len));
      i = nl + 2 + len + 2;
    } else {
      out.push(text.slice(i, nl));
      i = nl + 2;
    }
  }
  return out;
}

/** A command encoded as a RESP multibulk request. */
export function resp(...args: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}
