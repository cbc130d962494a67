// Runs a worker thread from source; resolves with its last message once it exits.
import path from 'node:path';
import { Worker } from 'node:worker_threads';

/** The built package, for `require()` inside a worker's source. */
export const DIST = path.resolve('dist/index.js');

export function runWorker(source: string, data: unknown): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const w = new Worker(source, { eval: true, workerData: data });
    let message: unknown;
    w.on('message', (m) => (message = m));
    w.on('error', reject);
    w.on('exit', () => resolve(message));
  });
}
