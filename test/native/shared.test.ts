import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { open, openShared, type SharedHandle, type Store } from '../../lib/index';
import { tmpdir } from '../helpers/tmpdir';
import { DIST } from '../helpers/worker';

// db.share() / openShared(): one store read from worker threads without a lock, written
// through its owner (docs/api.md, "Worker threads").

// Runs `source` in a worker with the handle transferred; resolves with every message it sent
// and its exit code.
function runShared(source: string, handle: SharedHandle, data: Record<string, unknown> = {}):
  { messages: unknown[]; done: Promise<number>; worker: Worker } {
  const messages: unknown[] = [];
  const worker = new Worker(`
    const { parentPort, workerData } = require('node:worker_threads');
    const { openShared } = require(${JSON.stringify(DIST)});
    ${source}`, { eval: true, workerData: { handle, ...data }, transferList: [handle.port] });
  const done = new Promise<number>((resolve, reject) => {
    worker.on('message', (m) => messages.push(m));
    worker.on('error', reject);
    worker.on('exit', resolve);
  });
  return { messages, done, worker };
}

// A value that names its key and version and checks itself (a torn read cannot pass).
const VALUE = `
  function value(k, v) { return 'k' + k + 'v' + v + '|' + String.fromCharCode(97 + (k + v) % 26).repeat(v % 300); }
  function valid(k, s) {
    const m = /^k(\\d+)v(\\d+)\\|/.exec(s);
    return m !== null && Number(m[1]) === k && s === value(k, Number(m[2]));
  }`;
// eslint-disable-next-line no-new-func
const { value } = new Function(`${VALUE}; return { value };`)() as { value: (k: number, v: number) => string };

describe('a store shared with worker threads', () => {
  it('is read in a worker (get, has, getMany, getAsync, scan, entries, expiresAt, stats) and written through its owner', async () => {
    const db = await open(tmpdir());
    for (let i = 0; i < 1000; i++) await db.put(`k${i}`, `v${i}`);
    await db.put('ttl', 'x', { ttlMs: 60_000 });
    await db.put('big', Buffer.alloc(200_000, 7)); // larger than the value buffer
    const { messages, done } = runShared(`
      (async () => {
        const s = openShared(workerData.handle);
        const out = {};
        out.get = s.get('k5').toString();
        out.missing = s.get('nope');
        out.has = [s.has('k7'), s.has('nope')];
        out.many = s.getMany(['k1', 'nope', 'k999']).map((b) => b && b.toString());
        out.big = s.get('big').length;
        out.async = (await s.getAsync('k9')).toString();
        out.asyncMissing = await s.getAsync('nope');
        out.expires = s.expiresAt('ttl') > Date.now();
        out.never = s.expiresAt('k1');
        let n = 0;
        for (const [k] of s.entries()) n++;
        out.entries = n;
        out.size = s.size;
        out.statsKeys = s.stats().keys;
        await s.put('from-worker', 'w');
        out.readBack = s.get('from-worker').toString();
        out.deleted = await s.del('k0');
        out.deletedAgain = await s.del('k0');
        await s.batch([{ type: 'put', key: 'b1', value: '1' }, { type: 'del', key: 'k1' }]);
        out.persist = await s.persist('ttl');
        await s.flush();
        out.afterWrites = [s.get('k0'), s.get('k1'), s.get('b1').toString(), s.expiresAt('ttl')];
        out.emptyKey = await s.put('', 'x').catch((e) => [e.name, e.code]);
        out.tooBig = await s.put('x', Buffer.alloc(64 * 1024 * 1024 + 1)).catch((e) => e.code);
        await s.close();
        out.afterClose = (() => { try { s.get('k5'); } catch (e) { return e.code; } })();
        out.putAfterClose = await s.put('a', 'b').catch((e) => e.code);
        parentPort.postMessage(out);
      })();`, db.share());
    expect(await done).toBe(0);
    expect(messages[0]).toEqual({
      get: 'v5', missing: undefined, has: [true, false], many: ['v1', undefined, 'v999'], big: 200_000,
      async: 'v9', asyncMissing: undefined, expires: true, never: null, entries: 1002, size: 1002, statsKeys: 1002,
      readBack: 'w', deleted: true, deletedAgain: false, persist: true,
      afterWrites: [undefined, undefined, '1', null],
      emptyKey: ['RangeError', 'HASHLOG_INVALID_ARGUMENT'], tooBig: 'HASHLOG_VALUE_TOO_LARGE',
      afterClose: 'HASHLOG_CLOSED', putAfterClose: 'HASHLOG_CLOSED',
    });
    // The owner sees the worker's writes.
    expect(db.get('from-worker')?.toString()).toBe('w');
    expect(db.get('k0')).toBeUndefined();
    expect(db.stats().sharedReaders).toBe(0); // the handle was released
    await db.close();
  });

  it('gives readers on two threads neither a torn nor a wrong value, and always a key present throughout, while the owner puts, deletes, batches, grows the index and compacts', async () => {
    const db = await open(tmpdir(), { segmentSize: 1 << 20, durability: 'none', flushIntervalMs: 5 });
    const stable = 300;
    const version = new Array<number>(stable).fill(0);
    for (let k = 0; k < stable; k++) db.put(`s${k}`, value(k, 0));
    await db.flush();
    const workers = [0, 1].map(() => runShared(`
      ${VALUE}
      const s = openShared(workerData.handle);
      let gets = 0, found = 0, bad = '';
      const until = Date.now() + workerData.ms;
      while (Date.now() < until && bad === '') {
        for (let i = 0; i < 200; i++) {
          const k = Math.floor(Math.random() * workerData.stable);
          const v = s.get('s' + k);
          if (v === undefined) { bad = 'lost s' + k; break; }
          if (!valid(k, v.toString())) { bad = 'torn s' + k + ': ' + v.toString().slice(0, 30); break; }
          const c = s.get('c' + Math.floor(Math.random() * 50000));
          if (c !== undefined && !/^c\\d+$/.test(c.toString())) { bad = 'wrong churn value'; break; }
          gets += 2; found += c === undefined ? 1 : 2;
        }
      }
      s.close().then(() => parentPort.postMessage({ gets, found, bad }));`, db.share(), { stable, ms: 3000 }));
    // The owner: overwrites, churn puts and deletes (the index grows past 20,000 keys and
    // shrinks), batches, and compaction jobs, until the readers are done.
    let running = true;
    const readersDone = Promise.all(workers.map((w) => w.done)).finally(() => { running = false; });
    let compactions = 0;
    let churn = 0;
    while (running) {
      for (let i = 0; i < 2000; i++) {
        const k = Math.floor(Math.random() * stable);
        void db.put(`s${k}`, value(k, ++version[k]));
        const c = Math.floor(Math.random() * 50_000);
        if (churn++ % 3 === 2) void db.del(`c${c}`);
        else void db.put(`c${c}`, `c${c}`);
      }
      const b = Math.floor(Math.random() * stable);
      void db.batch([{ type: 'put', key: `s${b}`, value: value(b, ++version[b]) }, { type: 'del', key: 'c1' }]);
      await db.flush();
      if (churn % 20_000 < 2000) compactions += (await db.compact()).compacted ? 1 : 0;
    }
    expect(await readersDone).toEqual([0, 0]);
    for (const w of workers) {
      const r = w.messages[0] as { gets: number; found: number; bad: string };
      expect(r.bad).toBe('');
      expect(r.gets).toBeGreaterThan(1000);
    }
    expect(compactions).toBeGreaterThan(0);
    for (let k = 0; k < stable; k++) expect(db.get(`s${k}`)?.toString()).toBe(value(k, version[k]));
    await db.close();
  }, 60_000);

  it('releases a handle whose worker exits without close(), and stays usable', async () => {
    const dir = tmpdir();
    const db = await open(dir);
    await db.put('a', '1');
    for (let i = 0; i < 12; i++) {
      const { messages, done } = runShared(`
        const s = openShared(workerData.handle);
        s.put('w', 'pending'); // forwarded, not awaited
        parentPort.postMessage(s.get('a').toString());
        process.exit(0);`, db.share());
      expect(await done).toBe(0);
      expect(messages).toEqual(['1']);
    }
    expect(db.stats().sharedReaders).toBe(0); // every exit released its handle (cleanup hook)
    await db.put('b', '2');
    expect(db.get('b')?.toString()).toBe('2');
    await db.close();
    const again = await open(dir); // no leaked lock
    expect(again.get('a')?.toString()).toBe('1');
    await again.close();
  });

  it('fails reads with HASHLOG_CLOSED and rejects forwarded writes once the owner closes, with workers still running', async () => {
    const dir = tmpdir();
    const db = await open(dir);
    for (let i = 0; i < 100; i++) await db.put(`k${i}`, `v${i}`);
    const { messages, done, worker } = runShared(`
      const s = openShared(workerData.handle);
      let reads = 0;
      parentPort.postMessage('ready');
      const tick = () => {
        try {
          for (let i = 0; i < 100; i++) { s.get('k' + i); reads++; }
          setImmediate(tick);
        } catch (e) {
          s.put('late', 'x').then(() => 'resolved', (w) => w.code).then((put) => {
            parentPort.postMessage({ code: e.code, reads: reads > 0, put });
          });
        }
      };
      tick();`, db.share());
    await new Promise<void>((resolve) => worker.once('message', () => resolve()));
    await new Promise((r) => setTimeout(r, 50));
    await db.close(); // returns without waiting for the worker's handle
    expect(await done).toBe(0);
    expect(messages[1]).toEqual({ code: 'HASHLOG_CLOSED', reads: true, put: 'HASHLOG_CLOSED' });
    const again = await open(dir); // the lock is free at once
    expect(again.get('late')).toBeUndefined();
    await again.close();
  });

  it('refuses what cannot be shared: the js engine, a closed store, a bad handle', async () => {
    const js = await open(tmpdir(), { engine: 'js' });
    expect(() => js.share()).toThrow(expect.objectContaining({ code: 'HASHLOG_NOT_SUPPORTED' }));
    await js.close();
    const db: Store = await open(tmpdir());
    const handle = db.share();
    await db.close();
    expect(() => db.share()).toThrow(expect.objectContaining({ code: 'HASHLOG_CLOSED' }));
    expect(() => openShared(handle)).toThrow(expect.objectContaining({ code: 'HASHLOG_CLOSED' }));
    handle.port.close();
    expect(() => openShared({} as SharedHandle)).toThrow(expect.objectContaining({ code: 'HASHLOG_INVALID_ARGUMENT' }));
  });

  it('refuses a reader past the 1,024 epoch slots with HASHLOG_FULL, and takes one again once a slot is released', async () => {
    const db = await open(tmpdir());
    await db.put('a', '1');
    const readers = Array.from({ length: 1024 }, () => openShared(db.share()));
    expect(db.stats().sharedReaders).toBe(1024);
    const extra = db.share();
    expect(() => openShared(extra)).toThrow(expect.objectContaining({ code: 'HASHLOG_FULL' }));
    await readers[0].close();
    const again = openShared(extra);
    expect(again.get('a')?.toString()).toBe('1');
    await Promise.all([...readers.slice(1), again].map((r) => r.close()));
    expect(db.stats().sharedReaders).toBe(0);
    await db.close();
  });
});
