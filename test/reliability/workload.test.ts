import { describe, expect, it } from 'vitest';
import { buildProgram, runProgram } from './cc-build';
import { scratchDir } from './scratch';

// native/cc/workload_driver.cc: the whole Store API against a model, in both durability
// modes, with reopens. npm run test:asan runs it (and the other programs) under ASan/UBSan.
describe('Store (C++) under a mixed workload', () => {
  it('agrees with a model through puts, deletes, batches, expiries, clears, scans and reopens', () => {
    const bin = buildProgram('workload_driver');
    const scratch = scratchDir('hashlog-workload-');
    for (const seed of ['1', '2', '3']) {
      expect(runProgram(bin, [seed, '10', scratch])).toMatch(/^ok seed=\d+ rounds=10 ops=600$/m);
    }
  });
});
