import type Redis from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { open } from '../../lib/store';
import { createServer } from '../../lib/server/server';
import { tmpdir } from '../helpers/tmpdir';
import { hashlog } from './cli-helpers';
import { startServer, type TestServer } from './helpers';

// `hashlog serve --threads N` (docs/server.md, "Threads"): connections are dealt round-robin to
// the owner thread and N-1 workers; a worker serves reads itself and forwards the rest.

const running: TestServer[] = [];
afterEach(async () => {
  for (const s of running.splice(0)) await s.stop();
});

async function start(...args: Parameters<typeof startServer>): Promise<TestServer> {
  const s = await startServer(...args);
  running.push(s);
  return s;
}

// Clients connected one after another: with 2 threads, every other one is on the worker.
async function clients(s: TestServer, n: number): Promise<Redis[]> {
  const out: Redis[] = [];
  for (let i = 0; i < n; i++) {
    const c = s.client();
    await c.ping();
    out.push(c);
  }
  return out;
}

describe('the server with worker threads', () => {
  it('keeps each connection\'s replies in request order, with its own writes visible to its next reads', async () => {
    const s = await start({}, { threads: 2 });
    const cs = await clients(s, 6);
    await Promise.all(cs.map(async (c, i) => {
      for (let round = 0; round < 20; round++) {
        const p = c.pipeline();
        p.set(`k${i}`, `v${round}`).get(`k${i}`).append(`k${i}`, '!').get(`k${i}`).del(`k${i}`).get(`k${i}`)
          .set(`k${i}`, 'x', 'EX', 100).ttl(`k${i}`).strlen(`k${i}`).mget(`k${i}`, 'nope').exists(`k${i}`);
        const r = (await p.exec())?.map(([e, v]) => e ?? v);
        expect(r).toEqual(['OK', `v${round}`, `v${round}!`.length, `v${round}!`, 1, null, 'OK', 100, 1, ['x', null], 1]);
      }
    }));
    expect(s.logs.some((l) => l.includes('threads 2'))).toBe(true);
  });

  it('runs read-modify-writes atomically whichever thread serves the connection, and moves write-heavy connections to the owner mid-pipeline', async () => {
    const s = await start({}, { threads: 2 });
    const cs = await clients(s, 4);
    await Promise.all(cs.map(async (c) => {
      for (let i = 0; i < 50; i++) {
        const p = c.pipeline();
        for (let j = 0; j < 10; j++) p.incr('counter');
        await p.exec();
      }
    }));
    expect(await cs[1].get('counter')).toBe(String(4 * 50 * 10));
    expect(s.db.get('counter')?.toString()).toBe('2000');
    // The two workers' connections sent the owner 500 writes each: both moved there.
    expect(s.server.clientCount).toBe(4);
  });

  it('runs MULTI/EXEC from a worker connection as one transaction on the owner', async () => {
    const s = await start({}, { threads: 2 });
    const [, worker] = await clients(s, 2);
    const r = await worker.multi().set('a', '1').incr('a').get('a').exec();
    expect(r?.map(([e, v]) => e ?? v)).toEqual(['OK', 2, '2']);
    expect(await worker.exec().catch((e: Error) => e.message)).toMatch(/EXEC without MULTI/);
  });

  it('answers owner-only commands (INFO, DBSIZE after writes, CONFIG, FLUSHDB) from a worker connection', async () => {
    const s = await start({}, { threads: 2 });
    const [, worker] = await clients(s, 2);
    await worker.set('x', '1');
    expect(await worker.dbsize()).toBe(1);
    expect(await worker.info('persistence')).toMatch(/hashlog_durability:sync/);
    expect(await worker.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
    expect(await worker.flushdb()).toBe('OK');
    expect(await worker.get('x')).toBeNull();
  });

  it('moves a replica\'s sync connection that landed on a worker to the owner, and streams to it', async () => {
    const primary = await start({}, { threads: 2 });
    const [first] = await clients(primary, 1); // the replica's link is the next connection: a worker's
    await first.set('before', '1');
    const replica = await start({}, { replicaOf: { host: '127.0.0.1', port: primary.port } });
    const rc = replica.client();
    const until = Date.now() + 10_000;
    while (await rc.get('before') !== '1' && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    await first.set('after', '2');
    while (await rc.get('after') !== '2' && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect([await rc.get('before'), await rc.get('after')]).toEqual(['1', '2']);
    expect(primary.logs.some((l) => l.includes('sync moved to the owner thread'))).toBe(true);
  }, 20_000);

  it('refuses writes on every thread of a replica', async () => {
    const primary = await start();
    const replica = await start({}, { replicaOf: { host: '127.0.0.1', port: primary.port }, threads: 2 });
    const cs = await clients(replica, 2);
    await new Promise((r) => setTimeout(r, 300)); // the role reaches the worker
    for (const c of cs) await expect(c.set('a', '1')).rejects.toThrow(/READONLY/);
  });

  it('shuts down from a worker connection, closing every thread', async () => {
    const s = await startServer({}, { threads: 2 });
    let reason = '';
    s.server.onShutdown((why) => {
      reason = why;
    });
    const [, worker] = await clients(s, 2);
    await worker.shutdown().catch(() => undefined);
    expect(reason).toMatch(/SHUTDOWN/);
    await s.stop();
  });

  it('keeps serving on the owner thread when a worker thread dies', async () => {
    const s = await start({}, { threads: 2 });
    const [, worker] = await clients(s, 2);
    await worker.set('a', '1');
    const threads = (s.server as unknown as { threads: { workers: { terminate(): Promise<number> }[] } }).threads;
    await threads.workers[0].terminate();
    await new Promise((r) => setTimeout(r, 50));
    expect(s.logs.some((l) => /server thread 1 exited/.test(l))).toBe(true);
    const fresh = await clients(s, 4); // would include a dead thread's turn
    for (const c of fresh) expect(await c.get('a')).toBe('1');
  });

  it('refuses threads with the js engine, and a thread count out of range', async () => {
    const db = await open(tmpdir(), { engine: 'js' });
    expect(() => createServer(db, { threads: 2 })).toThrow(expect.objectContaining({ code: 'HASHLOG_NOT_SUPPORTED' }));
    expect(() => createServer(db, { threads: 0 })).toThrow(expect.objectContaining({ code: 'HASHLOG_INVALID_ARGUMENT' }));
    await db.close();
    const native = await open(tmpdir());
    expect(() => createServer(native, { threads: 2, tls: { cert: 'x', key: 'y' } }))
      .toThrow(expect.objectContaining({ code: 'HASHLOG_NOT_SUPPORTED' }));
    await native.close();
  });

  it('hashlog serve refuses a bad --threads', () => {
    const r = hashlog(['serve', '--dir', tmpdir(), '--port', '0', '--threads', '0']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--threads must be an integer >= 1/);
  });
});
