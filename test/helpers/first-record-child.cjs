// Child process for test/conformance/model.test.ts: writes one value as the first record of a
// fresh store and reads it back, in a process of its own because a wrong read here can crash.
//
//   node first-record-child.cjs <dir> <segmentSize> <valueLength> [engine]
//
// Prints one JSON line: {"afterPut": <first wrong byte or -1>, "afterReopen": <same>}.
'use strict';
const { open } = require('../../dist/index.js');

const [dir, segmentSizeArg, lengthArg, engine = 'auto'] = process.argv.slice(2);
const segmentSize = Number(segmentSizeArg);
const value = Buffer.alloc(Number(lengthArg));
for (let i = 0; i < value.length; i++) value[i] = (i * 7 + 1) & 0xff;

function firstWrongByte(got) {
  if (got === undefined) return 0;
  if (got.length !== value.length) return Math.min(got.length, value.length);
  for (let i = 0; i < value.length; i++) if (got[i] !== value[i]) return i;
  return -1;
}

(async () => {
  let db = await open(dir, { durability: 'sync', segmentSize, engine });
  await db.put('a', value);
  const afterPut = firstWrongByte(db.get('a'));
  await db.close();
  db = await open(dir, { durability: 'sync', segmentSize, engine });
  const afterReopen = firstWrongByte(db.get('a'));
  await db.close();
  process.stdout.write(JSON.stringify({ afterPut, afterReopen }) + '\n');
})().catch((e) => {
  process.stderr.write(String((e && e.stack) || e) + '\n');
  process.exit(1);
});
