// Replication on loopback: a replica follows the primary's log, is read-only, catches up
// after a restart, resyncs in full when its history is not the primary's; WAIT counts
// replicas; after a kill -9 of the primary, a promoted replica has every write acknowledged
// with WAIT 1.
import type Redis from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { tmpdir } from '../helpers/tmpdir';
import { serve } from './cli-helpers';
import { startServer, type TestServer } from './helpers';
import { loadReplicaState } from '../../lib/server/replication/state';

const running: TestServer[] = [];

async function start(...args: Parameters<typeof startServer>): Promise<TestServer> {
  const t = await startServer(...args);
  running.push(t);
  return t;
}

afterEach(async () => {
  for (const t of running.splice(0)) await t.stop().catch(() => undefined);
});

async function until(check: () => Promise<boolean> | boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function snapshot(c: Redis): Promise<Record<string, string | null>> {
  const keys = (await c.keys('*')).sort();
  const values = keys.length === 0 ? [] : await c.mget(...keys);
  return Object.fromEntries(keys.map((k, i) => [k, values[i]]));
}

describe('replication', () => {
  it('a replica follows every kind of write, is read-only, and WAIT counts it', async () => {
    const primary = await start();
    const replica = await start({}, { replicaOf: { host: '127.0.0.1', port: primary.port } });
    const p = primary.client();
    const r = replica.client();
    await p.set('a', '1');
    await p.mset('b', '2', 'c', '3');
    await p.multi().set('d', '4').incr('n').del('c').exec();
    await p.set('t', 'x', 'EX', 1000);
    await p.flushdb();
    for (let i = 0; i < 500; i++) void p.set(`k${i}`, 'v'.repeat(i % 50));
    await p.set('last', 'yes');
    expect(await p.wait(1, 10_000)).toBe(1);
    expect(await snapshot(r)).toEqual(await snapshot(p));
    await expect(r.set('x', 'y')).rejects.toThrow("READONLY You can't write against a read only replica.");
    const role = await r.role();
    expect(role.slice(0, 3)).toEqual(['slave', '127.0.0.1', primary.port]);
    expect(await p.info('replication')).toMatch(/role:master[\s\S]*connected_slaves:1/);
    expect(await r.info('replication')).toMatch(/role:slave[\s\S]*master_link_status:up/);
    expect(await p.wait(2, 100)).toBe(1); // only one replica: WAIT gives up after its timeout
  });

  it('records larger than a frame (1 MiB) arrive whole', async () => {
    const primary = await start();
    const replica = await start({}, { replicaOf: { host: '127.0.0.1', port: primary.port } });
    const p = primary.client();
    const big = Buffer.alloc(5 * 1024 * 1024 + 7);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    await p.set('small', '1');
    await p.set('big', big);
    await p.mset('after', '2', 'also', '3');
    expect(await p.wait(1, 20_000)).toBe(1);
    const r = replica.client();
    expect((await r.getBuffer('big'))?.equals(big)).toBe(true);
    expect(await r.mget('small', 'after', 'also')).toEqual(['1', '2', '3']);
  });

  it('the link authenticates with masterauth, and without it the replica stays down', async () => {
    const primary = await start({}, { requirepass: 'pw' });
    const good = await start({}, { replicaOf: { host: '127.0.0.1', port: primary.port }, masterauth: 'pw' });
    const bad = await start({}, { replicaOf: { host: '127.0.0.1', port: primary.port } });
    const p = primary.client({ password: 'pw' });
    await p.set('k', 'v');
    expect(await p.wait(1, 10_000)).toBe(1);
    expect(await good.client().get('k')).toBe('v');
    await new Promise((r) => setTimeout(r, 200));
    expect(await bad.client().get('k')).toBeNull();
    expect(bad.logs.some((l) => l.includes('NOAUTH'))).toBe(true);
  });

  it('a restarted replica goes on from where it stopped', async () => {
    const primary = await start({ segmentSize: 64 * 1024 });
    const dir = tmpdir();
    let replica = await start({}, { replicaOf: { host: '127.0.0.1', port: primary.port } }, dir);
    const p = primary.client();
    await p.mset(...Array.from({ length: 200 }, (_, i) => [`a${i}`, 'x'.repeat(100)]).flat());
    expect(await p.wait(1, 10_000)).toBe(1);
    await replica.stop();
    running.splice(running.indexOf(replica), 1);
    // Writes while it is away, across several segments.
    for (let i = 0; i < 20; i++) await p.mset(...Array.from({ length: 50 }, (_, j) => [`b${i}:${j}`, 'y'.repeat(100)]).flat());
    await p.del('a0');
    replica = await start({}, { replicaOf: { host: '127.0.0.1', port: primary.port } }, dir);
    expect(await p.wait(1, 10_000)).toBe(1);
    expect(replica.logs.some((l) => l.includes('replicating from'))).toBe(true);
    expect(replica.logs.some((l) => l.includes('full resync'))).toBe(false);
    expect(await snapshot(replica.client())).toEqual(await snapshot(p));
  });

  it('a replica whose position was compacted away resyncs from the snapshot, then streams again', async () => {
    const primary = await start({ segmentSize: 16 * 1024, compaction: false });
    const dir = tmpdir();
    let replica = await start({}, { replicaOf: { host: '127.0.0.1', port: primary.port } }, dir);
    const p = primary.client();
    await p.mset(...Array.from({ length: 50 }, (_, j) => [`stable${j}`, 'never overwritten']).flat());
    for (let i = 0; i < 10; i++) await p.mset(...Array.from({ length: 50 }, (_, j) => [`k${j}`, `v${i}`.padEnd(100, '.')]).flat());
    await p.set('gone', 'soon');
    expect(await p.wait(1, 10_000)).toBe(1);
    await replica.stop();
    running.splice(running.indexOf(replica), 1);
    // While it is away: overwrites, a delete, and a compaction that removes the segment it was in.
    for (let i = 0; i < 10; i++) await p.mset(...Array.from({ length: 50 }, (_, j) => [`k${j}`, `w${i}`.padEnd(100, '.')]).flat());
    await p.del('gone');
    for (let i = 0; i < 5; i++) await p.mset(...Array.from({ length: 50 }, (_, j) => [`k${j}`, `x${i}`.padEnd(100, '.')]).flat());
    const report = await primary.db.compact();
    expect(report.segmentsRemoved).toBeGreaterThan(2);
    expect(report.segmentsWritten).toBeGreaterThan(0); // a snapshot to send first
    replica = await start({}, { replicaOf: { host: '127.0.0.1', port: primary.port } }, dir);
    expect(await p.wait(1, 10_000)).toBe(1);
    expect(replica.logs.some((l) => l.includes('full resync'))).toBe(true);
    expect(await snapshot(replica.client())).toEqual(await snapshot(p));
    expect(await replica.client().exists('gone')).toBe(0);
    // And it streams on from there, through another compaction.
    await p.set('after', '1');
    expect(await p.wait(1, 10_000)).toBe(1);
    await primary.db.compact();
    for (let i = 0; i < 5; i++) await p.mset(...Array.from({ length: 50 }, (_, j) => [`k${j}`, `y${i}`.padEnd(100, '.')]).flat());
    expect(await p.wait(1, 10_000)).toBe(1);
    await until(async () => JSON.stringify(await snapshot(replica.client())) === JSON.stringify(await snapshot(p)));
  });

  it('a new replica of a compacted primary gets the snapshot and the log after it', async () => {
    const primary = await start({ segmentSize: 16 * 1024, compaction: false });
    const p = primary.client();
    for (let i = 0; i < 10; i++) await p.mset(...Array.from({ length: 80 }, (_, j) => [`k${j}`, `v${i}`.padEnd(150, '.')]).flat());
    await p.del('k3');
    await primary.db.compact();
    await p.set('late', 'yes');
    const replica = await start({}, { replicaOf: { host: '127.0.0.1', port: primary.port } });
    expect(await p.wait(1, 10_000)).toBe(1);
    expect(await snapshot(replica.client())).toEqual(await snapshot(p));
    expect(await replica.client().get('k3')).toBeNull();
  });

  it('REPLICAOF NO ONE promotes; the old primary rejoins as a replica with a full resync', async () => {
    const a = await start();
    const b = await start({}, { replicaOf: { host: '127.0.0.1', port: a.port } });
    const ca = a.client();
    const cb = b.client();
    await ca.set('before', '1');
    expect(await ca.wait(1, 10_000)).toBe(1);
    expect(await cb.call('REPLICAOF', 'NO', 'ONE')).toBe('OK');
    expect((await cb.role())[0]).toBe('master');
    await cb.set('after', '2');
    await ca.set('diverged', 'only on a'); // a never learnt it is no longer primary
    // The resync clears a's store: by then its saved position must be 0, so that a crash
    // during the clear resyncs again instead of going on from an old position.
    const clear = a.db.clear.bind(a.db);
    let stateAtClear: unknown = 'not cleared';
    a.db.clear = () => {
      // The first clear is the resync's; later ones apply CLEAR records of b's log.
      if (stateAtClear === 'not cleared') stateAtClear = loadReplicaState(a.dir);
      return clear();
    };
    expect(await ca.call('REPLICAOF', '127.0.0.1', String(b.port))).toBe('OK');
    expect(await cb.wait(1, 10_000)).toBe(1);
    expect(a.logs.some((l) => l.includes('full resync'))).toBe(true);
    expect(stateAtClear).toMatchObject({ position: 0 });
    expect(await snapshot(ca)).toEqual({ after: '2', before: '1' });
  });

  it('after kill -9 of the primary, the promoted replica has every write acknowledged with WAIT 1', async () => {
    const pdir = tmpdir();
    const primary = await serve(['--dir', pdir]);
    const replica = await start({}, { replicaOf: { host: '127.0.0.1', port: primary.port } });
    const { default: RedisClient } = await import('ioredis');
    const clients = Array.from({ length: 4 }, () => {
      const c = new RedisClient({ port: primary.port, host: '127.0.0.1', maxRetriesPerRequest: 0, retryStrategy: () => null });
      c.on('error', () => undefined);
      return c;
    });
    const confirmed: string[] = [];
    const acked: string[] = [];
    let stop = false;
    const loops = clients.map(async (c, ci) => {
      for (let i = 0; !stop; i++) {
        try {
          const keys = Array.from({ length: 5 }, (_, j) => `c${ci}:${i}:${j}`);
          for (const k of keys) await c.set(k, `v-${k}`);
          acked.push(...keys);
          if ((await c.wait(1, 2000)) === 1) confirmed.push(...keys);
        } catch {
          return;
        }
      }
    });
    await until(() => confirmed.length > 200);
    primary.child.kill('SIGKILL');
    await primary.exited;
    stop = true;
    await Promise.all(loops);
    for (const c of clients) c.disconnect();
    const r = replica.client();
    await until(async () => (await r.info('replication')).includes('master_link_status:down'));
    expect(await r.call('REPLICAOF', 'NO', 'ONE')).toBe('OK');
    const values = await r.mget(...confirmed);
    confirmed.forEach((k, i) => expect(values[i], k).toBe(`v-${k}`));
    // The rest was acknowledged by the primary; what the replica lacks is replication lag.
    const lagging = (await r.mget(...acked)).filter((v) => v === null).length;
    expect(lagging).toBeLessThan(acked.length);
    expect(await r.set('new', 'primary')).toBe('OK');
  });
});
