// The RESP reply encoder, RESP2 and RESP3. Small replies are written into a slab that is cut
// into chunks without copying; a large value is passed through as its own chunk.

export type Protocol = 2 | 3;

const SLAB_SIZE = 64 * 1024;
const COPY_MAX = 16 * 1024; // larger bulk values go out as their own chunk, uncopied

export class ReplyWriter {
  protocol: Protocol = 2;
  private readonly slabSize: number;
  private slab: Buffer;
  private start = 0; // first byte not yet taken
  private end = 0;
  private chunks: Buffer[] = [];
  private chunkBytes = 0; // in `chunks`

  /** `slabSize`: small for a writer of one reply (a connection's writer keeps the default). */
  constructor(slabSize = SLAB_SIZE) {
    this.slabSize = slabSize;
    this.slab = Buffer.allocUnsafe(slabSize);
  }

  /** Bytes written since the last take(). */
  get size(): number {
    return this.chunkBytes + this.end - this.start;
  }

  /** Everything written since the last take(), as chunks to write in order. */
  take(): Buffer[] {
    this.cut();
    const out = this.chunks;
    this.chunks = [];
    this.chunkBytes = 0;
    return out;
  }

  /**
   * The bytes written after the first `offset` (a `size` read earlier), as chunks; the first
   * `offset` bytes stay in the writer for a later take().
   */
  takeFrom(offset: number): Buffer[] {
    this.cut();
    const head: Buffer[] = [];
    const tail: Buffer[] = [];
    let at = 0;
    for (const c of this.chunks) {
      if (at >= offset) tail.push(c);
      else if (at + c.length <= offset) head.push(c);
      else {
        head.push(c.subarray(0, offset - at));
        tail.push(c.subarray(offset - at));
      }
      at += c.length;
    }
    this.chunks = head;
    this.chunkBytes = offset;
    return tail;
  }

  /** True if nothing was written since the last take(). */
  get empty(): boolean {
    return this.end === this.start && this.chunks.length === 0;
  }

  simple(s: string): void {
    this.line(0x2b, s);
  }

  /** An error reply; `message` starts with its code word (ERR, WRONGTYPE, ...). */
  error(message: string): void {
    this.line(0x2d, message);
  }

  // A +status or -error line: text from clients may hold any byte, so it is encoded first and
  // every CR or LF byte of the result becomes a space (one stray byte would end the line).
  private line(prefix: number, text: string): void {
    const b = Buffer.from(`_${text}\r\n`, 'utf8');
    b[0] = prefix;
    for (let i = 1; i < b.length - 2; i++) if (b[i] === 13 || b[i] === 10) b[i] = 32;
    this.bytes(b);
  }

  integer(n: number | bigint): void {
    this.ascii(`:${n}\r\n`);
  }

  bulk(value: Buffer | string): void {
    if (typeof value === 'string') value = Buffer.from(value, 'utf8');
    this.ascii(`$${value.length}\r\n`);
    if (value.length > COPY_MAX) {
      this.cut();
      this.chunks.push(value);
      this.chunkBytes += value.length;
    } else {
      this.bytes(value);
    }
    this.ascii('\r\n');
  }

  nil(): void {
    this.ascii(this.protocol === 3 ? '_\r\n' : '$-1\r\n');
  }

  /** A null where Redis replies with a null array in RESP2 (EXEC aborted, BLPOP timeout). */
  nilArray(): void {
    this.ascii(this.protocol === 3 ? '_\r\n' : '*-1\r\n');
  }

  array(length: number): void {
    this.ascii(`*${length}\r\n`);
  }

  /** A map of `pairs` entries: `%` in RESP3, a flat array in RESP2. */
  map(pairs: number): void {
    this.ascii(this.protocol === 3 ? `%${pairs}\r\n` : `*${pairs * 2}\r\n`);
  }

  set(length: number): void {
    this.ascii(this.protocol === 3 ? `~${length}\r\n` : `*${length}\r\n`);
  }

  double(n: number): void {
    this.ascii(this.protocol === 3 ? `,${n}\r\n` : `$${String(n).length}\r\n${n}\r\n`);
  }

  /** Text meant for humans (INFO, CLIENT LIST): a verbatim string in RESP3, bulk in RESP2. */
  verbatim(text: string): void {
    if (this.protocol === 2) {
      this.bulk(text);
      return;
    }
    const body = Buffer.from(`txt:${text}`, 'utf8');
    this.ascii(`=${body.length}\r\n`);
    this.bytes(body);
    this.ascii('\r\n');
  }

  /** Bytes already encoded as RESP. */
  raw(encoded: Buffer): void {
    this.bytes(encoded);
  }

  private ascii(s: string): void {
    if (this.end + s.length > this.slab.length) this.grow(s.length);
    this.end += this.slab.write(s, this.end, 'latin1');
  }

  private bytes(b: Buffer): void {
    if (this.end + b.length > this.slab.length) this.grow(b.length);
    b.copy(this.slab, this.end);
    this.end += b.length;
  }

  // Moves the untaken bytes to the chunk list.
  private cut(): void {
    if (this.end > this.start) {
      this.chunks.push(this.slab.subarray(this.start, this.end));
      this.chunkBytes += this.end - this.start;
    }
    this.start = this.end;
  }

  // A new slab: chunks already cut keep pointing into the old one, which is never rewritten.
  private grow(need: number): void {
    this.cut();
    this.slab = Buffer.allocUnsafe(Math.max(this.slabSize, need));
    this.start = 0;
    this.end = 0;
  }
}
