import { describe, expect, it } from 'vitest';
import { buildProgram, runProgram } from './cc-build';
import { scratchDir } from './scratch';

// native/cc/shared_readers_test.cc: reader threads look keys up through Store::Shared* while
// the owner overwrites, deletes, batches, grows and shrinks the index and compacts; then the
// owner closes under them. The same program runs under ASan/UBSan and TSan in
// scripts/test-asan.sh.
describe('readers on other threads (C++ store)', () => {
  it('never read a torn or wrong value, always find a key present throughout, and stop cleanly when the owner closes', () => {
    const bin = buildProgram('shared_readers_test');
    const out = runProgram(bin, ['1', '15', scratchDir('hashlog-shared-readers-'), '2']);
    console.log(`shared readers: ${out.trim()}`);
    const runs = out.trim().split('\n');
    expect(runs).toHaveLength(2); // durability sync, then none (records wait in commit groups longer)
    for (const line of runs) {
      expect(line).toMatch(/^ok sync=[01] gets=\d+ found=\d+ scans=\d+ compactions=\d+ capacity=\d+$/);
      expect(Number(/compactions=(\d+)/.exec(line)?.[1])).toBeGreaterThan(0);
      expect(Number(/ gets=(\d+)/.exec(line)?.[1])).toBeGreaterThan(1000);
    }
  });
});
