// A store opened in a worker thread that exits while a compaction job is in each of its
// phases: the environment's cleanup hook closes the store (cancelling the copy, waiting for
// the pool), the process survives, and the directory reopens with every acknowledged write.
import { describe, expect, it } from 'vitest';
import { open } from '../../lib/index';
import { tmpdir } from '../helpers/tmpdir';
import { DIST, runWorker } from '../helpers/worker';


describe('compaction in a worker thread that exits', () => {
  it('leaves a store that reopens with every acknowledged write, whatever phase the job was in', async () => {
    // `turns`: how many event-loop turns the job gets before the worker exits (0: during the
    // copy, with a slow rate; larger: mark, install, unlink and retire slices).
    for (const turns of [0, 1, 2, 3, 5, 8, 13, 40]) {
      const dir = tmpdir();
      const src = `
        const { parentPort, workerData } = require('node:worker_threads');
        const { open } = require(${JSON.stringify(DIST)});
        (async () => {
          const db = await open(workerData.dir, { segmentSize: 16 * 1024,
            compaction: { maxBytesPerSecond: workerData.turns === 0 ? 64 * 1024 : 0 } });
          for (let i = 0; i < 3000; i++) await db.put('k' + (i % 150), 'v' + i + 'x'.repeat(i % 200));
          db.compact().catch(() => undefined);
          for (let i = 0; i < workerData.turns; i++) await new Promise((r) => setImmediate(r));
          parentPort.postMessage('exiting');
          process.exit(0); // no close(): the cleanup hook closes the store mid-job
        })();`;
      expect(await runWorker(src, { dir, turns }), `turns ${turns}`).toBe('exiting');
      const db = await open(dir, { compaction: false });
      for (let k = 0; k < 150; k++) {
        const last = 2850 + k; // the last i with i % 150 === k
        expect(db.get(`k${k}`)?.toString(), `turns ${turns} k${k}`).toBe(`v${last}${'x'.repeat(last % 200)}`);
      }
      expect(db.size).toBe(150);
      await db.close();
    }
  });
});
