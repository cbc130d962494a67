// Child process for test/recovery/batch-crash.test.ts: opens a store and issues atomic
// batches, several in flight at once, until it is killed.
//
//   node batch-child.mjs <dir> <options-json> <seed> <inflight> <run> <shared-keys>
//
// Every batch b of run r writes:
//   - 2 to 20 private keys `r<r>/b<b>:<i>` that no other batch touches (checked all-or-none),
//   - 1 to 4 of the shared keys `s<j>` (overwritten by many batches; now and then put twice
//     in the same batch, the later put winning),
//   - 0 to 2 deletable keys `r<r>/d<b>:<i>`, and deletes of 0 to 2 deletable keys put by
//     earlier batches of this run (sometimes put and deleted within the same batch).
// A put's value is `r<r>b<b>|<key>|<op index>|` followed by `pad` dots, so a recovered value
// names the batch (and the operation) that wrote it.
//
// Prints one JSON line per event to stdout, synchronously (fs.writeSync on fd 1), so that a
// line is in the pipe before the batch it announces is issued, and stays there when the
// process is SIGKILLed:
//   {"e":"ready"}                                   the store is open
//   {"e":"a","b":7,"ops":[["p","r0/b7:0",12,1],["d","r0/d3:0"],...]}
//                                                   batch 7 is about to be issued: puts as
//                                                   [p, key, pad, ttl flag], deletes as [d, key]
//   {"e":"k","b":7}                                 batch 7's promise resolved (acknowledged)
//   {"e":"error","b":7,"message":"..."}             a batch failed (the parent fails the test)
// A put with the ttl flag set carries { ttlMs: 3_600_000 }.
import { createRequire } from 'node:module';
import { emit, mulberry32 } from './child-util.mjs';

const require = createRequire(import.meta.url);
const { open } = require('../../dist/index.js');

const [dir, optionsJson, seedArg, inflightArg, runArg, sharedArg] = process.argv.slice(2);
const options = JSON.parse(optionsJson);
const maxInflight = Number(inflightArg);
const run = Number(runArg);
const sharedKeys = Number(sharedArg);

const rand = mulberry32(Number(seedArg));
const randInt = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1)); // inclusive


const TTL_MS = 3_600_000;

const db = await open(dir, options);
emit('{"e":"ready"}\n');

let next = 0;
let inflight = 0;
// Deletable keys put by batches of this run and not deleted since (in issue order, which is
// the order the store applies them in).
const deletable = [];

function pad() {
  // Mostly small values, now and then a few KiB, so that batches cross 16 KiB segment
  // boundaries and some are larger than a segment.
  return rand() < 0.08 ? randInt(2000, 9000) : randInt(0, 300);
}

function makeBatch(b) {
  const ops = [];
  const privateCount = randInt(2, 20);
  for (let i = 0; i < privateCount; i++) ops.push(['p', `r${run}/b${b}:${i}`, pad(), rand() < 0.1 ? 1 : 0]);
  const sharedCount = randInt(1, 4);
  for (let i = 0; i < sharedCount; i++) {
    const k = `s${randInt(0, sharedKeys - 1)}`;
    // A throwaway put of the same key first: the later operation must win.
    if (rand() < 0.2) ops.push(['p', k, randInt(0, 50), 0]);
    ops.push(['p', k, pad(), 0]);
  }
  const dels = randInt(0, 2);
  for (let i = 0; i < dels && deletable.length > 0; i++) {
    const [k] = deletable.splice(Math.floor(rand() * deletable.length), 1);
    ops.push(['d', k]);
  }
  const puts = randInt(0, 2);
  for (let i = 0; i < puts; i++) {
    const k = `r${run}/d${b}:${i}`;
    ops.push(['p', k, randInt(0, 300), 0]);
    if (rand() < 0.15) ops.push(['d', k]); // put and deleted in the same batch: gone
    else deletable.push(k);
  }
  // Interleave private, shared and deleting operations: a random merge of the keys' lists
  // that keeps each key's operations in the order they were made (it decides which one wins).
  const byKey = new Map();
  for (const op of ops) {
    if (!byKey.has(op[1])) byKey.set(op[1], []);
    byKey.get(op[1]).push(op);
  }
  const lists = [...byKey.values()];
  const merged = [];
  while (lists.length > 0) {
    const i = Math.floor(rand() * lists.length);
    merged.push(lists[i].shift());
    if (lists[i].length === 0) lists.splice(i, 1);
  }
  return merged;
}

function valueOf(b, key, j, padLen) {
  return `r${run}b${b}|${key}|${j}|${'.'.repeat(padLen)}`;
}

function pump() {
  // Announce the batches in one write, then issue them in the same order, synchronously.
  const batches = [];
  let lines = '';
  while (inflight + batches.length < maxInflight) {
    const b = next++;
    const ops = makeBatch(b);
    batches.push({ b, ops });
    lines += JSON.stringify({ e: 'a', b, ops }) + '\n';
  }
  if (batches.length === 0) return;
  emit(lines);
  for (const { b, ops } of batches) {
    inflight++;
    const encoded = ops.map((op, j) =>
      op[0] === 'p'
        ? { type: 'put', key: op[1], value: valueOf(b, op[1], j, op[2]), ...(op[3] ? { ttlMs: TTL_MS } : {}) }
        : { type: 'del', key: op[1] },
    );
    db.batch(encoded).then(
      () => {
        emit(`{"e":"k","b":${b}}\n`);
        inflight--;
        pump();
      },
      (err) => {
        emit(JSON.stringify({ e: 'error', b, message: String(err && err.message), code: err && err.code }) + '\n');
        inflight--;
      },
    );
  }
}

pump();
// The pending batches keep the event loop alive; the parent kills this process.
setInterval(() => {}, 1 << 30);
