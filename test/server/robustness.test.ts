// What clients cannot break: malformed bytes, absurd lengths, half commands, abrupt
// disconnects, huge pipelines, many clients, clients that never read, and limits.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawClient, resp, splitReplies, startServer, type TestServer } from './helpers';

let t: TestServer;

beforeAll(async () => {
  t = await startServer({}, { maxBulkLength: 1024 * 1024 });
});
afterAll(async () => {
  await t.stop();
});

async function roundTrip(bytes: string | Buffer, n: number): Promise<string[]> {
  const c = await RawClient.connect(t.port);
  c.send(bytes);
  const out = await c.replies(n);
  c.close();
  return out;
}

describe('malformed input closes only that connection', () => {
  const cases: [string, string | Buffer, string][] = [
    ['an absurd multibulk count', '*99999999999\r\n', '-ERR Protocol error: invalid multibulk length'],
    ['an absurd bulk length', '*1\r\n$99999999999\r\n', '-ERR Protocol error: invalid bulk length'],
    ['a bulk over the limit', '*1\r\n$2000000\r\n', '-ERR Protocol error: invalid bulk length'],
    ['a missing $', '*1\r\n+PING\r\n', "-ERR Protocol error: expected '$', got '+'"],
    ['garbage after a bulk', '*1\r\n$4\r\nPINGxx', '-ERR Protocol error: expected CRLF after bulk string'],
    ['unbalanced quotes inline', 'SET "a b\r\n', '-ERR Protocol error: unbalanced quotes in request'],
  ];
  for (const [what, bytes, reply] of cases) {
    it(what, async () => {
      const c = await RawClient.connect(t.port);
      c.send(resp('SET', 'before', 'ok'));
      c.send(bytes);
      const text = await c.until(() => c.closed);
      expect(splitReplies(text)).toEqual(['+OK', reply]);
      expect(t.db.get('before')?.toString()).toBe('ok');
    });
  }

  it('random garbage from many clients leaves the others and the data alone', async () => {
    const good = t.client();
    await good.set('steady', 'yes');
    const bad = await Promise.all(Array.from({ length: 20 }, () => RawClient.connect(t.port)));
    let seed = 7;
    for (const c of bad) {
      const junk = Buffer.alloc(4096);
      for (let i = 0; i < junk.length; i++) junk[i] = (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24;
      junk[0] = 0x2a; // '*': take the multibulk path
      c.send(junk);
    }
    // Each junk stream is either rejected (the server closes it) or an incomplete request it
    // keeps waiting on; the fixed seed makes the split deterministic.
    await new Promise((r) => setTimeout(r, 300));
    expect(bad.filter((c) => c.closed).length).toBeGreaterThan(0);
    for (const c of bad) c.close();
    expect(await good.get('steady')).toBe('yes');
    expect(await good.ping()).toBe('PONG');
  });

  it('half a command, then a disconnect, changes nothing', async () => {
    const c = await RawClient.connect(t.port);
    const whole = resp('SET', 'half', 'value');
    c.send(whole.subarray(0, whole.length - 3));
    await new Promise((r) => setTimeout(r, 50));
    c.close();
    await new Promise((r) => setTimeout(r, 50));
    expect(t.db.get('half')).toBeUndefined();
    expect(await roundTrip('PING\r\n', 1)).toEqual(['+PONG']);
  });

  it('a client that disconnects with writes in flight does not disturb the server', async () => {
    for (let i = 0; i < 20; i++) {
      const c = await RawClient.connect(t.port);
      c.send(Buffer.concat(Array.from({ length: 200 }, (_, j) => resp('SET', `gone:${i}:${j}`, 'v'))));
      c.close();
    }
    expect(await roundTrip(resp('PING'), 1)).toEqual(['+PONG']);
  });
});

describe('load', () => {
  it('answers 10,000 pipelined commands sent in one write, in order', async () => {
    const cmds: Buffer[] = [];
    for (let i = 0; i < 5000; i++) {
      cmds.push(resp('SET', `p:${i}`, `v${i}`));
      cmds.push(resp('GET', `p:${i}`));
    }
    const out = await roundTrip(Buffer.concat(cmds), 10_000);
    for (let i = 0; i < 5000; i++) {
      expect(out[2 * i]).toBe('+OK');
      expect(out[2 * i + 1]).toBe(`v${i}`);
    }
  });

  it('serves 200 concurrent clients, each reading its own writes', async () => {
    const clients = Array.from({ length: 200 }, () => t.client());
    await Promise.all(clients.map(async (c, i) => {
      for (let j = 0; j < 20; j++) {
        await c.set(`c:${i}:${j}`, `${i}-${j}`);
        expect(await c.get(`c:${i}:${j}`)).toBe(`${i}-${j}`);
      }
    }));
    for (const c of clients) c.disconnect();
    expect(t.db.get('c:199:19')?.toString()).toBe('199-19');
  });

  it('stops reading from a client that does not read its replies (bounded buffering)', async () => {
    await t.db.put('fat', Buffer.alloc(512 * 1024, 1));
    const s = net.connect(t.port, '127.0.0.1');
    await new Promise((r) => s.once('connect', r));
    s.pause(); // never read
    const processed = t.server.stats.commandsProcessed;
    // 4,000 GETs of 512 KiB would be 2 GB of replies; the server must stop reading long before.
    s.write(Buffer.concat(Array.from({ length: 4000 }, () => resp('GET', 'fat'))));
    await new Promise((r) => setTimeout(r, 500));
    expect(t.server.stats.commandsProcessed - processed).toBeLessThan(200);
    s.destroy();
    const c = t.client();
    expect(await c.ping()).toBe('PONG');
  });
});

describe('limits and security', () => {
  it('refuses clients beyond maxClients with Redis\'s error', async () => {
    const small = await startServer({}, { maxClients: 2 });
    const a = await RawClient.connect(small.port);
    const b = await RawClient.connect(small.port);
    const c = await RawClient.connect(small.port);
    expect(await c.until(() => c.closed)).toBe('-ERR max number of clients reached\r\n');
    a.close();
    b.close();
    await small.stop();
  });

  it('closes idle clients after the timeout', async () => {
    const s = await startServer({}, { timeoutSeconds: 1 });
    const c = await RawClient.connect(s.port);
    await c.until(() => c.closed, 5000);
    expect(c.closed).toBe(true);
    await s.stop();
  });

  it('requires AUTH when a password is set, compares it, and HELLO can carry it', async () => {
    const s = await startServer({}, { requirepass: 's3cret' });
    expect(await (async () => {
      const c = await RawClient.connect(s.port);
      c.send(resp('GET', 'k'));
      c.send(resp('AUTH', 'wrong'));
      c.send(resp('AUTH', 's3cret'));
      c.send(resp('GET', 'k'));
      return c.replies(4);
    })()).toEqual(['-NOAUTH Authentication required.',
      '-WRONGPASS invalid username-password pair or user is disabled.', '+OK', '(nil)']);
    const good = s.client({ password: 's3cret' });
    expect(await good.ping()).toBe('PONG');
    const raw = await RawClient.connect(s.port);
    raw.send(resp('HELLO', '3', 'AUTH', 'default', 'nope'));
    raw.send(resp('HELLO', '2', 'AUTH', 'default', 's3cret'));
    const [bad, ok] = [await raw.until((x) => x.includes('WRONGPASS')), await raw.until((x) => x.includes('proto'))];
    expect(bad).toContain('-WRONGPASS');
    expect(ok).toContain('standalone');
    raw.close();
    await s.stop();
  });

  it('a client that has not authenticated cannot make the server hold more than 64 KiB of its input', async () => {
    const s = await startServer({}, { requirepass: 'pw' });
    const c = await RawClient.connect(s.port);
    c.send(Buffer.from(`*2\r\n$3\r\nSET\r\n$${10 * 1024 * 1024}\r\n`));
    c.send(Buffer.alloc(100 * 1024, 0x61));
    const text = await c.until(() => c.closed);
    expect(text).toBe('-ERR Protocol error: unauthenticated request too large\r\n');
    await s.stop();
  });

  it('AUTH without a configured password gets Redis\'s error', async () => {
    expect(await roundTrip(resp('AUTH', 'x'), 1)).toEqual([
      '-ERR AUTH <password> called without any password configured for the default user. '
      + 'Are you sure your configuration is correct?']);
  });

  it('refuses a non-loopback address without a password unless told it is safe', async () => {
    await expect(startServer({}, { host: '0.0.0.0' })).rejects.toThrow(/without a password/);
    const s = await startServer({}, { host: '0.0.0.0', unsafeNoAuth: true });
    expect(await s.client().ping()).toBe('PONG');
    await s.stop();
  });
});

describe('a client that closes its side after sending', () => {
  it('still gets every reply, even for commands held back by backpressure', async () => {
    const t2 = await startServer();
    await t2.db.put('fat', Buffer.alloc(256 * 1024, 1));
    const c = await RawClient.connect(t2.port);
    const cmds = Array.from({ length: 40 }, () => resp('GET', 'fat'));
    cmds.push(resp('SET', 'last', 'done'));
    c.socket.end(Buffer.concat(cmds)); // send, then half-close
    const text = await c.until(() => c.closed, 20_000);
    expect(text.endsWith('+OK\r\n')).toBe(true);
    expect(t2.db.get('last')?.toString()).toBe('done');
    await t2.stop();
  });
});
