// The RESP request parser: incremental (bytes arrive in any split), pull-based (the connection
// takes one command at a time, so it can stop when its replies back up), zero-copy where an
// argument lies within one chunk, and it never allocates for a length it has not bounded.

/** A malformed request. The message is Redis's own text (sent as `-ERR <message>`). */
export class ProtocolError extends Error {}
ProtocolError.prototype.name = 'ProtocolError';

export interface ParserLimits {
  /** Largest bulk string (Redis's proto-max-bulk-len). */
  maxBulkLength: number;
  /** Most arguments in one command (Redis: 1024 * 1024). */
  maxArgs: number;
  /** Longest inline command or `*`/`$` header line (Redis: 64 KiB). */
  maxInlineLength: number;
}

export const DEFAULT_LIMITS: ParserLimits = {
  maxBulkLength: 512 * 1024 * 1024,
  maxArgs: 1024 * 1024,
  maxInlineLength: 64 * 1024,
};

const CR = 13;
const LF = 10;
const STAR = 42;
const DOLLAR = 36;
const NO_LINE = -1;

export class RequestParser {
  private readonly limits: ParserLimits;
  // Unconsumed input: `buf` from `pos`, plus chunks parked while a large bulk string arrives.
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  private parked: Buffer[] = [];
  private parkedBytes = 0;
  // A multibulk command in progress.
  private args: Buffer[] = [];
  private argsLeft = 0;
  private bulkLength = -1; // of the next argument, once its `$` line is read

  constructor(limits: Partial<ParserLimits> = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  /** Bytes received and not yet returned as part of a command. */
  get buffered(): number {
    return this.buf.length - this.pos + this.parkedBytes;
  }

  /**
   * Everything received after the last command next() returned (REQUIRES: it returned one,
   * so no command is half read); the parser is empty afterwards. A connection moving to
   * another thread takes its unread requests along.
   */
  takeRest(): Buffer {
    const rest = Buffer.concat([this.buf.subarray(this.pos), ...this.parked]);
    this.buf = Buffer.alloc(0);
    this.pos = 0;
    this.parked = [];
    this.parkedBytes = 0;
    return rest;
  }

  push(chunk: Buffer): void {
    if (this.pos >= this.buf.length) {
      this.buf = chunk;
      this.pos = 0;
    } else if (this.bulkLength >= 0) {
      // Waiting for a bulk string: park chunks, join once, when all of it is here.
      this.parked.push(chunk);
      this.parkedBytes += chunk.length;
    } else {
      this.buf = Buffer.concat([this.buf.subarray(this.pos), chunk]);
      this.pos = 0;
    }
  }

  /** The next complete command (its arguments), or undefined until more bytes arrive. */
  next(): Buffer[] | undefined {
    for (;;) {
      if (this.argsLeft === 0) {
        if (this.pos >= this.buf.length) return undefined;
        if (this.buf[this.pos] !== STAR) {
          const inline = this.readInline();
          if (inline === undefined) return undefined;
          if (inline.length > 0) return inline;
          continue; // an empty line: skip it, as Redis does
        }
        const count = this.readLength(STAR, this.limits.maxArgs, 'invalid multibulk length', 'too big mbulk count string');
        if (count === undefined) return undefined;
        if (count <= 0) continue; // `*0` and `*-1`: nothing to run
        this.argsLeft = count;
        this.args = [];
      }
      if (!this.readArguments()) return undefined;
      const args = this.args;
      this.args = [];
      return args;
    }
  }

  // Reads arguments until the command is complete (true) or the input runs out (false).
  private readArguments(): boolean {
    while (this.argsLeft > 0) {
      if (this.bulkLength < 0) {
        if (this.pos >= this.buf.length) return false;
        if (this.buf[this.pos] !== DOLLAR) {
          throw new ProtocolError(`Protocol error: expected '$', got '${String.fromCharCode(this.buf[this.pos])}'`);
        }
        const len = this.readLength(DOLLAR, this.limits.maxBulkLength, 'invalid bulk length', 'too big bulk count string');
        if (len === undefined) return false;
        if (len < 0) throw new ProtocolError('Protocol error: invalid bulk length');
        this.bulkLength = len;
      }
      const need = this.bulkLength + 2;
      if (this.buf.length - this.pos + this.parkedBytes < need) return false;
      this.joinParked();
      const start = this.pos;
      const end = start + this.bulkLength;
      if (this.buf[end] !== CR || this.buf[end + 1] !== LF) throw new ProtocolError('Protocol error: expected CRLF after bulk string');
      this.args.push(this.buf.subarray(start, end));
      this.pos = end + 2;
      this.bulkLength = -1;
      this.argsLeft--;
    }
    return true;
  }

  private joinParked(): void {
    if (this.parked.length === 0) return;
    this.buf = Buffer.concat([this.buf.subarray(this.pos), ...this.parked]);
    this.pos = 0;
    this.parked = [];
    this.parkedBytes = 0;
  }

  // The end of the line starting at pos (the index of its CR), or NO_LINE if not all here yet.
  private lineEnd(tooLong: string): number {
    const nl = this.buf.indexOf(LF, this.pos);
    if (nl < 0) {
      if (this.buf.length - this.pos > this.limits.maxInlineLength) throw new ProtocolError(`Protocol error: ${tooLong}`);
      return NO_LINE;
    }
    if (nl - this.pos > this.limits.maxInlineLength) throw new ProtocolError(`Protocol error: ${tooLong}`);
    return nl > this.pos && this.buf[nl - 1] === CR ? nl - 1 : nl;
  }

  // A `*<n>\r\n` or `$<n>\r\n` line: n, bounded by max; undefined if the line is incomplete.
  private readLength(prefix: number, max: number, invalid: string, tooLong: string): number | undefined {
    const end = this.lineEnd(tooLong);
    if (end === NO_LINE) return undefined;
    const n = parseDecimal(this.buf, this.pos + 1, end);
    if (n === undefined || n > max || (prefix === DOLLAR && n < 0)) throw new ProtocolError(`Protocol error: ${invalid}`);
    this.pos = end + (this.buf[end] === CR ? 2 : 1);
    return n;
  }

  // An inline command (`SET k v\r\n`, as typed into telnet): split as Redis splits it.
  private readInline(): Buffer[] | undefined {
    const end = this.lineEnd('too big inline request');
    if (end === NO_LINE) return undefined;
    const line = this.buf.subarray(this.pos, end);
    this.pos = end + (this.buf[end] === CR ? 2 : 1);
    return splitInline(line);
  }
}

// A signed decimal of at most 15 digits (lengths never need more); undefined if malformed.
function parseDecimal(buf: Buffer, start: number, end: number): number | undefined {
  let i = start;
  let sign = 1;
  if (buf[i] === 45 /* - */) {
    sign = -1;
    i++;
  }
  if (i >= end || end - i > 15) return undefined;
  let n = 0;
  for (; i < end; i++) {
    const d = buf[i] - 48;
    if (d < 0 || d > 9) return undefined;
    n = n * 10 + d;
  }
  return sign * n;
}

const SPACE = new Set([32, 9, 10, 13, 11, 12]);

/** Splits an inline command line like Redis's sdssplitargs: spaces, "quoted\x41", 'single'. */
export function splitInline(line: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && SPACE.has(line[i])) i++;
    if (i >= line.length) break;
    const bytes: number[] = [];
    const q = line[i];
    if (q === 34 /* " */ || q === 39 /* ' */) {
      i++;
      for (;;) {
        if (i >= line.length) throw new ProtocolError('Protocol error: unbalanced quotes in request');
        const c = line[i];
        if (c === q) {
          i++;
          if (i < line.length && !SPACE.has(line[i])) throw new ProtocolError('Protocol error: unbalanced quotes in request');
          break;
        }
        if (c === 92 /* \ */ && i + 1 < line.length) {
          i += unescape(line, i, q, bytes);
        } else {
          bytes.push(c);
          i++;
        }
      }
    } else {
      while (i < line.length && !SPACE.has(line[i])) bytes.push(line[i++]);
    }
    out.push(Buffer.from(bytes));
  }
  return out;
}

// One backslash escape at line[i]; pushes its byte(s), returns the characters consumed.
function unescape(line: Buffer, i: number, quote: number, out: number[]): number {
  const c = line[i + 1];
  if (quote === 39) {
    if (c === 39) { out.push(39); return 2; }
    out.push(92);
    return 1;
  }
  if (c === 120 /* x */ && i + 3 < line.length) {
    const hex = Number.parseInt(String.fromCharCode(line[i + 2], line[i + 3]), 16);
    if (!Number.isNaN(hex) && /^[0-9a-fA-F]{2}$/.test(String.fromCharCode(line[i + 2], line[i + 3]))) {
      out.push(hex);
      return 4;
    }
  }
  const map: Record<number, number> = { 110: 10, 114: 13, 116: 9, 98: 8, 97: 7 };
  out.push(map[c] ?? c);
  return 2;
}
