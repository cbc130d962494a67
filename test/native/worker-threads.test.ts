import { describe, expect, it } from 'vitest';
import { open } from '../../lib/index';
import { tmpdir } from '../helpers/tmpdir';
import { DIST, runWorker } from '../helpers/worker';


describe('the addon in worker threads', () => {
  it('opens, writes and closes a store inside a worker', async () => {
    const dir = tmpdir();
    const src = `
      const { parentPort, workerData } = require('node:worker_threads');
      const { open } = require(${JSON.stringify(DIST)});
      (async () => {
        const db = await open(workerData.dir);
        await db.put('from-worker', 'hello');
        const v = db.get('from-worker').toString();
        await db.close();
        parentPort.postMessage(v);
      })();`;
    expect(await runWorker(src, { dir })).toBe('hello');
    const db = await open(dir);
    expect(db.get('from-worker')?.toString()).toBe('hello');
    await db.close();
  });

  it('closes a store that a worker left open when the worker exits, releasing the lock', async () => {
    const dir = tmpdir();
    const src = `
      const { parentPort, workerData } = require('node:worker_threads');
      const { open } = require(${JSON.stringify(DIST)});
      (async () => {
        const db = await open(workerData.dir);
        await db.put('acked', 'yes');
        db.put('unawaited', 'maybe');
        parentPort.postMessage('done');
        process.exit(0); // no close(): the environment's cleanup hook must close it
      })();`;
    expect(await runWorker(src, { dir })).toBe('done');
    const db = await open(dir); // would be HASHLOG_LOCKED if the store leaked
    expect(db.get('acked')?.toString()).toBe('yes');
    await db.close();
  });

  it('survives workers that exit with writes and async reads in flight, again and again', async () => {
    const src = `
      const { parentPort, workerData } = require('node:worker_threads');
      const { open } = require(${JSON.stringify(DIST)});
      (async () => {
        const db = await open(workerData.dir);
        await db.put('acked', 'yes');
        for (let i = 0; i < 200; i++) db.put('pending' + i, 'x'.repeat(1000));
        db.getAsync('acked');
        parentPort.postMessage('exiting');
        process.exit(0);
      })();`;
    for (let round = 0; round < 8; round++) {
      const dirs = [tmpdir(), tmpdir(), tmpdir(), tmpdir()];
      const results = await Promise.all(dirs.map((dir) => runWorker(src, { dir })));
      expect(results).toEqual(['exiting', 'exiting', 'exiting', 'exiting']);
      for (const dir of dirs) {
        const db = await open(dir);
        expect(db.get('acked')?.toString()).toBe('yes');
        await db.close();
      }
    }
  });

  it('loads in several workers at once, each with its own store', async () => {
    const dirs = [tmpdir(), tmpdir(), tmpdir()];
    const src = `
      const { parentPort, workerData } = require('node:worker_threads');
      const { open } = require(${JSON.stringify(DIST)});
      (async () => {
        const db = await open(workerData.dir);
        const writes = [];
        for (let i = 0; i < 1000; i++) writes.push(db.put('k' + i, 'v' + i));
        await Promise.all(writes);
        parentPort.postMessage(db.size);
        await db.close();
      })();`;
    const sizes = await Promise.all(dirs.map((dir) => runWorker(src, { dir })));
    expect(sizes).toEqual([1000, 1000, 1000]);
  });
});
