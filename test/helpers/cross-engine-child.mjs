// Child process for test/recovery/cross-engine.test.ts: writes distinct keys with one
// engine until it is killed.
//
//   node cross-engine-child.mjs <dir> <options-json>
//
// Prints {"e":"k","i":7} as put i (key k7, value valueOf(7)) is acknowledged, and
// {"e":"ready"} once open and put 0 is acknowledged, synchronously (see child-util.mjs).
import { createRequire } from 'node:module';
import { emit } from './child-util.mjs';

const require = createRequire(import.meta.url);
const { open } = require('../../dist/index.js');

const [dir, optionsJson] = process.argv.slice(2);
const db = await open(dir, JSON.parse(optionsJson));
// One acknowledged put before "ready", so the parent always has one to check.
await db.put('k0', valueOf(0));
emit('{"e":"k","i":0}\n');
emit('{"e":"ready"}\n');

function valueOf(i) {
  return `v${i}-${'x'.repeat(i % 200)}`;
}

const INFLIGHT = 16;
let next = 1;
function issue() {
  const i = next++;
  db.put(`k${i}`, valueOf(i)).then(() => {
    emit(`{"e":"k","i":${i}}\n`);
    issue();
  }, (e) => emit(`${JSON.stringify({ e: 'error', message: String(e) })}\n`));
}
for (let j = 0; j < INFLIGHT; j++) issue();
