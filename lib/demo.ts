// `npm start` until the server exists: a short tour of the store in a temporary directory.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { open } from './index';

const N = 100_000;

function rate(ops: number, startNs: bigint): string {
  const secs = Number(process.hrtime.bigint() - startNs) / 1e9;
  return `${Math.round(ops / secs).toLocaleString('en-US')} ops/s`;
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hashlog-demo-'));
  console.log(`hashlog demo: a store in ${dir}`);
  try {
    let db = await open(dir);

    let t = process.hrtime.bigint();
    let inFlight: Promise<void>[] = [];
    for (let i = 0; i < N; i++) {
      inFlight.push(db.put(`user:${i}`, `{"id":${i},"name":"user ${i}"}`));
      if (inFlight.length === 256) {
        await Promise.all(inFlight);
        inFlight = [];
      }
    }
    await Promise.all(inFlight);
    console.log(`put     ${N.toLocaleString('en-US')} keys, durable, 256 in flight: ${rate(N, t)}`);

    t = process.hrtime.bigint();
    let found = 0;
    for (let i = 0; i < N; i++) if (db.get(`user:${(i * 7919) % N}`) !== undefined) found++;
    console.log(`get     ${found.toLocaleString('en-US')} random keys: ${rate(N, t)}`);
    console.log(`get     user:42 -> ${db.get('user:42')?.toString()}`);

    t = process.hrtime.bigint();
    const deletes: Promise<boolean>[] = [];
    for (let i = 0; i < N; i += 2) deletes.push(db.del(`user:${i}`));
    const existed = (await Promise.all(deletes)).filter(Boolean).length;
    console.log(`del     ${existed.toLocaleString('en-US')} keys, durable: ${rate(deletes.length, t)}`);

    const s = db.stats();
    console.log(`stats   ${s.keys.toLocaleString('en-US')} keys, ${s.segments} segment(s), ` +
      `index ${(s.indexBytes / 1024).toFixed(0)} KiB, ${s.fsyncs} fdatasyncs`);
    await db.close();

    t = process.hrtime.bigint();
    db = await open(dir);
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    console.log(`reopen  ${db.size.toLocaleString('en-US')} keys recovered from the log in ${ms.toFixed(1)} ms; ` +
      `user:1 -> ${db.get('user:1')?.toString()}, user:2 -> ${String(db.get('user:2'))}`);
    await db.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
