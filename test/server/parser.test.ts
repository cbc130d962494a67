// The request parser alone: any split of the input gives the same commands, limits are
// enforced before anything is allocated, malformed input gets Redis's error texts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError, RequestParser, splitInline } from '../../lib/resp/parser';
import { resp } from './helpers';

function parseAll(p: RequestParser, chunks: Buffer[]): string[][] {
  const out: string[][] = [];
  for (const c of chunks) {
    p.push(c);
    for (let cmd = p.next(); cmd !== undefined; cmd = p.next()) out.push(cmd.map((a) => a.toString('latin1')));
  }
  return out;
}

function splitAt(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(buf.subarray(prev, p));
    prev = p;
  }
  out.push(buf.subarray(prev));
  return out;
}

const arg = fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a).toString('latin1'));
const command = fc.array(arg, { minLength: 1, maxLength: 6 });

describe('RequestParser', () => {
  it('returns the same commands however the bytes are split (property)', () => {
    fc.assert(fc.property(fc.array(command, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 20 }),
      (cmds, cuts) => {
        const wire = Buffer.concat(cmds.map((c) => resp(...c.map((a) => Buffer.from(a, 'latin1')))));
        expect(parseAll(new RequestParser(), splitAt(wire, cuts))).toEqual(cmds);
      }), { numRuns: 300 });
  });

  it('never throws anything but a ProtocolError on random bytes, and never returns garbage lengths', () => {
    fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 10 }), (chunks) => {
      const p = new RequestParser({ maxBulkLength: 1024, maxArgs: 16 });
      try {
        for (const cmd of parseAll(p, chunks.map((c) => Buffer.from(c)))) {
          expect(cmd.length).toBeLessThanOrEqual(16);
          for (const a of cmd) expect(a.length).toBeLessThanOrEqual(64 * 10);
        }
      } catch (e) {
        expect(e).toBeInstanceOf(ProtocolError);
      }
    }), { numRuns: 500 });
  });

  it('gives arguments that point into the received chunk (no copy) when a chunk holds them', () => {
    const p = new RequestParser();
    const wire = resp('SET', 'key', 'value');
    p.push(wire);
    const cmd = p.next() as Buffer[];
    expect(cmd[2].buffer).toBe(wire.buffer);
  });

  it('rejects lengths beyond its limits with Redis\'s texts, before buffering them', () => {
    const p = new RequestParser({ maxBulkLength: 100, maxArgs: 10 });
    p.push(Buffer.from('*11\r\n'));
    expect(() => p.next()).toThrow('Protocol error: invalid multibulk length');
    const q = new RequestParser({ maxBulkLength: 100, maxArgs: 10 });
    q.push(Buffer.from('*1\r\n$101\r\n'));
    expect(() => q.next()).toThrow('Protocol error: invalid bulk length');
    const r = new RequestParser();
    r.push(Buffer.from('*1\r\n$99999999999999999999\r\n'));
    expect(() => r.next()).toThrow('Protocol error: invalid bulk length');
    const s = new RequestParser();
    s.push(Buffer.from('*2\r\n:5\r\n'));
    expect(() => s.next()).toThrow("Protocol error: expected '$', got ':'");
    const t = new RequestParser();
    t.push(Buffer.from('*abc\r\n'));
    expect(() => t.next()).toThrow('Protocol error: invalid multibulk length');
    const u = new RequestParser({ maxInlineLength: 1000 });
    u.push(Buffer.alloc(2000, 0x61));
    expect(() => u.next()).toThrow('Protocol error: too big inline request');
    const v = new RequestParser();
    v.push(Buffer.from('*1\r\n$3\r\nabcXY'));
    expect(() => v.next()).toThrow('Protocol error: expected CRLF after bulk string');
  });

  it('waits for a large bulk string without re-copying it per chunk', () => {
    const p = new RequestParser();
    const value = Buffer.alloc(1_000_000, 0x62);
    const wire = resp('SET', 'k', value);
    const chunks = splitAt(wire, Array.from({ length: 100 }, (_, i) => (i + 1) * 10_000));
    const got = parseAll(p, chunks);
    expect(got.length).toBe(1);
    expect(got[0][2].length).toBe(1_000_000);
    expect(p.buffered).toBe(0);
  });

  it('skips empty commands and empty lines; parses inline commands like redis-cli --pipe does', () => {
    const p = new RequestParser();
    expect(parseAll(p, [Buffer.from('*0\r\n*-1\r\n\r\nPING\r\nSET a "b c\\x41\\n" \'d\\\'e\'\n')]))
      .toEqual([['PING'], ['SET', 'a', 'b cA\n', "d'e"]]);
  });

  it('splits inline arguments as Redis does, and rejects unbalanced quotes', () => {
    expect(splitInline(Buffer.from('  a   b\t"c d"  ')).map(String)).toEqual(['a', 'b', 'c d']);
    expect(() => splitInline(Buffer.from('"abc'))).toThrow('Protocol error: unbalanced quotes in request');
    expect(() => splitInline(Buffer.from('"abc"x'))).toThrow('Protocol error: unbalanced quotes in request');
  });
});
