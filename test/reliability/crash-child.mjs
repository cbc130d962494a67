// Child process for the crash loop (test/reliability/crash-loop.test.ts, npm run soak): opens a
// store and issues puts, deletes and atomic batches, many in flight, until it is killed.
//
//   node crash-child.mjs <dir> <options-json> <seed> <inflight> <keys> <run>
//
// Prints one JSON line per event to stdout, synchronously (child-util.mjs emit), so that a
// line is in the pipe before the write it announces is issued:
//   {"e":"ready"}                                       the store is open
//   {"e":"a","i":7,"b":1,"ops":[["p","k3",40],["d","k9"]]}   attempt 7 (b: a batch) is about to be issued
//   {"e":"k","i":7}                                     attempt 7 resolved (acknowledged)
//   {"e":"error","i":7,"message":"..."}                 a write failed (the parent fails)
// The value of put j of attempt i in run r is `r<r>#<i>.<j>` followed by `pad` dots.
import { createRequire } from 'node:module';
import { emit, mulberry32, reportOutcome } from '../helpers/child-util.mjs';

const require = createRequire(import.meta.url);
const { open } = require('../../dist/index.js');

const [dir, optionsJson, seedArg, inflightArg, keysArg, runArg] = process.argv.slice(2);
const maxInflight = Number(inflightArg);
const keyCount = Number(keysArg);
const run = Number(runArg);
const rand = mulberry32(Number(seedArg));

const db = await open(dir, JSON.parse(optionsJson));
emit('{"e":"ready"}\n');

let next = 0;
let inflight = 0;

function makeOp(i, j) {
  const k = `k${Math.floor(rand() * keyCount)}`;
  if (rand() < 0.2) return ['d', k];
  // Mostly small values, now and then a few KiB, to cross segment boundaries.
  return ['p', k, rand() < 0.08 ? Math.floor(rand() * 6000) : Math.floor(rand() * 100)];
}

const valueOf = (i, j, pad) => `r${run}#${i}.${j}${'.'.repeat(pad)}`;

function issue(a) {
  if (a.b) {
    return db.batch(a.ops.map((op, j) =>
      op[0] === 'p' ? { type: 'put', key: op[1], value: valueOf(a.i, j, op[2]) } : { type: 'del', key: op[1] }));
  }
  const op = a.ops[0];
  return op[0] === 'p' ? db.put(op[1], valueOf(a.i, 0, op[2])) : db.del(op[1]);
}

function pump() {
  const attempts = [];
  let lines = '';
  while (inflight + attempts.length < maxInflight) {
    const i = next++;
    const batch = rand() < 0.2;
    const n = batch ? 2 + Math.floor(rand() * 6) : 1;
    const ops = [];
    for (let j = 0; j < n; j++) ops.push(makeOp(i, j));
    const a = { e: 'a', i, b: batch ? 1 : 0, ops };
    attempts.push(a);
    lines += JSON.stringify(a) + '\n';
  }
  if (attempts.length === 0) return;
  emit(lines);
  for (const a of attempts) {
    inflight++;
    reportOutcome(issue(a), a, (ok) => {
      inflight--;
      if (ok) pump();
    });
  }
}

pump();
setInterval(() => {}, 1 << 30); // the parent kills this process
