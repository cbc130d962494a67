// Child process for test/recovery/kill-9.test.ts: opens a store and writes until it is killed.
//
//   node writer-child.mjs <dir> <options-json> <seed> <inflight> <keys>
//
// Prints one JSON line per event to stdout, synchronously (fs.writeSync on fd 1), so that a
// line is in the pipe before the write it announces is issued, and stays there when the
// process is SIGKILLed:
//   {"e":"ready"}                                  the store is open
//   {"e":"a","i":7,"op":"put","k":"k12","v":"k12#7","pad":300}   attempt i is about to be issued
//   {"e":"a","i":8,"op":"del","k":"k3"}
//   {"e":"k","i":7}                                attempt i's promise resolved (acknowledged)
//   {"e":"error","i":7,"message":"..."}            a write failed (the parent fails the test)
// A put's value is `${v}` followed by `pad` dots.
import { createRequire } from 'node:module';
import { emit, mulberry32, reportOutcome } from './child-util.mjs';

const require = createRequire(import.meta.url);
const { open } = require('../../dist/index.js');

const [dir, optionsJson, seedArg, inflightArg, keysArg] = process.argv.slice(2);
const options = JSON.parse(optionsJson);
const maxInflight = Number(inflightArg);
const keyCount = Number(keysArg);

const rand = mulberry32(Number(seedArg));


const db = await open(dir, options);
emit('{"e":"ready"}\n');

let next = 0;
let inflight = 0;

function pump() {
  // Announce a whole batch in one write, then issue it in the same order, synchronously.
  const batch = [];
  let lines = '';
  while (inflight + batch.length < maxInflight) {
    const i = next++;
    const k = `k${Math.floor(rand() * keyCount)}`;
    let a;
    if (rand() < 0.2) {
      a = { e: 'a', i, op: 'del', k };
    } else {
      // Mostly small values, now and then a few KiB, to cross segment boundaries.
      const pad = rand() < 0.1 ? Math.floor(rand() * 6000) : Math.floor(rand() * 200);
      a = { e: 'a', i, op: 'put', k, v: `${k}#${i}`, pad };
    }
    batch.push(a);
    lines += JSON.stringify(a) + '\n';
  }
  if (batch.length === 0) return;
  emit(lines);
  for (const a of batch) {
    inflight++;
    const p = a.op === 'put' ? db.put(a.k, a.v + '.'.repeat(a.pad)) : db.del(a.k);
    reportOutcome(p, a, (ok) => {
      inflight--;
      if (ok) pump();
    });
  }
}

pump();
// The pending writes keep the event loop alive; the parent kills this process.
setInterval(() => {}, 1 << 30);
