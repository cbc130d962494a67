// Regressions found in review (each failed before its fix): reply framing, FLUSHDB, MULTI on
// a replica and with failing commands, WAIT's target, racing REPLICAOF, reads of a failed
// commit, a feed's read error.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resp, startServer, type TestServer } from './helpers';

const running: TestServer[] = [];
afterEach(async () => {
  for (const t of running.splice(0)) await t.stop().catch(() => undefined);
});

async function start(...args: Parameters<typeof startServer>): Promise<TestServer> {
  const t = await startServer(...args);
  running.push(t);
  return t;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// Sends bytes on a fresh connection and returns what came back within `ms`.
function raw(port: number, payload: Buffer, ms = 300): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(payload));
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', () => undefined);
    setTimeout(() => {
      s.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    }, ms);
  });
}

describe('review regressions', () => {
  it('an error reply never carries a CR or LF byte from the request', async () => {
    const t = await start();
    const out = await raw(t.port, Buffer.concat([resp(Buffer.from('\u010a:1\u010d\u010a', 'utf8')), resp('PING')]));
    expect(out).not.toMatch(/'\n/);
    expect(out.endsWith('+PONG\r\n')).toBe(true);
  });

  it('FLUSHDB with stray arguments is a syntax error, not a flush', async () => {
    const t = await start();
    expect(await raw(t.port, Buffer.concat([resp('SET', 'k', 'v'), resp('FLUSHDB', 'oops', 'typo'), resp('DBSIZE')])))
      .toBe('+OK\r\n-ERR syntax error\r\n:1\r\n');
  });

  it('FLUSHDB inside MULTI also removes what the transaction wrote before it', async () => {
    const t = await start();
    const out = await raw(t.port, Buffer.concat([resp('SET', 'old', 'v'), resp('MULTI'), resp('SET', 'new', '1'),
      resp('FLUSHDB'), resp('EXEC'), resp('KEYS', '*')]));
    expect(out.endsWith('*0\r\n')).toBe(true);
  });

  it('EXEC of queued writes is refused once the server has become a replica', async () => {
    const t = await start();
    const c = net.connect(t.port, '127.0.0.1');
    const got: Buffer[] = [];
    c.on('data', (d: Buffer) => got.push(d));
    await new Promise((r) => c.once('connect', r));
    c.write(Buffer.concat([resp('MULTI'), resp('SET', 'k', 'v')]));
    await sleep(100);
    await raw(t.port, resp('REPLICAOF', '127.0.0.1', '1'), 100);
    c.write(Buffer.concat([resp('EXEC'), resp('GET', 'k')]));
    await sleep(300);
    const text = Buffer.concat(got).toString();
    expect(text).toContain('EXECABORT');
    expect(text).not.toContain('$1\r\nv\r\n');
    c.destroy();
  });

  it('a command that fails inside EXEC writes nothing; the others apply', async () => {
    const t = await start();
    const out = await raw(t.port, Buffer.concat([resp('SET', 'a', '1'), resp('MULTI'), resp('DEL', 'a', ''), resp('EXEC'),
      resp('EXISTS', 'a')]), 400);
    expect(out.endsWith(':1\r\n')).toBe(true);
    const out2 = await raw(t.port, Buffer.concat([resp('MULTI'), resp('SET', 'c', '1'), resp('SET', 'k'.repeat(70_000), 'x'),
      resp('EXEC'), resp('EXISTS', 'c')]), 400);
    expect(out2).toMatch(/\*2\r\n\+OK\r\n-ERR key is 70000 bytes.*HASHLOG_KEY_TOO_LARGE/);
    expect(out2.endsWith(':1\r\n')).toBe(true);
  });

  it('WAIT right after a pipelined SET counts only replicas that have the write', async () => {
    const p = await start();
    const r = await start({}, { replicaOf: { host: '127.0.0.1', port: p.port } });
    await raw(p.port, resp('SET', 'warm', '1'));
    expect(await p.client().wait(1, 5000)).toBe(1);
    for (let i = 0; i < 5; i++) {
      const out = await raw(p.port, Buffer.concat([resp('SET', `k${i}`, 'v'), resp('WAIT', '1', '5000')]), 1000);
      expect(out).toBe('+OK\r\n:1\r\n');
      expect(r.db.get(`k${i}`)?.toString()).toBe('v');
    }
  });

  it('two REPLICAOF racing leave no link behind after REPLICAOF NO ONE', async () => {
    const t = await start();
    await raw(t.port, Buffer.concat([resp('REPLICAOF', '127.0.0.1', '1'), resp('REPLICAOF', '127.0.0.1', '2')]), 200);
    await raw(t.port, resp('REPLICAOF', 'NO', 'ONE'), 200);
    const before = t.logs.length;
    await sleep(1500);
    expect(t.logs.slice(before).join('\n')).not.toMatch(/127\.0\.0\.1:[12]\b/);
  });

  it('a read that saw a write whose commit failed gets the error, not the value', async () => {
    const t = await start();
    t.db._injectFault('allocate', 0, 28, true);
    const out = await raw(t.port, Buffer.concat([resp('SET', 'x', 'phantom'), resp('GET', 'x')]), 500);
    t.db._injectFault();
    expect(out).not.toContain('phantom');
    expect(out.match(/HASHLOG_NO_SPACE/g)?.length).toBe(2);
  });

  it('a feed that cannot read a segment closes its link, not the server', async () => {
    const p = await start();
    await raw(p.port, resp('SET', 'a', '1'));
    const r = await start({}, { replicaOf: { host: '127.0.0.1', port: p.port } });
    await sleep(500);
    const seg = fs.readdirSync(p.dir).find((f) => f.endsWith('.hlog')) as string;
    fs.renameSync(path.join(p.dir, seg), path.join(p.dir, 'moved'));
    let unhandled: unknown;
    const onUnhandled = (e: unknown): void => {
      unhandled = e;
    };
    process.on('unhandledRejection', onUnhandled);
    await raw(p.port, resp('SET', 'b', '2'), 500);
    process.off('unhandledRejection', onUnhandled);
    fs.renameSync(path.join(p.dir, 'moved'), path.join(p.dir, seg));
    expect(unhandled).toBeUndefined();
    expect(p.logs.some((l) => l.includes('replication feed to'))).toBe(true);
    expect(r.logs.length).toBeGreaterThan(0);
  });
});
