// Child process for test/recovery/cross-engine.test.ts: writes distinct keys with one
// engine until it is killed.
//
//   node cross-engine-child.mjs <dir> <options-json>
//
// Prints {"e":"ready"} once open, then {"e":"k","i":7} as put i (key k7, value valueOf(7))
// is acknowledged, synchronously (see child-util.mjs).
import { createRequire } from 'node:module';
import { emit } from './child-util.mjs';

const require = createRequire(import.meta.url);
const { open } = require('../../dist/index.js');

const [dir, optionsJson] = process.argv.slice(2);
const db = await open(dir, JSON.parse(optionsJson));
emit('{"e":"ready"}\n');

const INFLIGHT = 16;
let next = 0;
function issue() {
  const i = next++;
  db.put(`k${i}`, `v${i}-${'x'.repeat(i % 200)}`).then(() => {
    emit(`{"e":"k","i":${i}}\n`);
    issue();
  }, (e) => emit(`${JSON.stringify({ e: 'error', message: String(e) })}\n`));
}
for (let j = 0; j < INFLIGHT; j++) issue();
