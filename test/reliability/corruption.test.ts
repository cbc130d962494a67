import { describe, expect, it } from 'vitest';
import { buildProgram, runProgram } from './cc-build';
import { scratchDir } from './scratch';

// native/cc/corruption_test.cc: seeded bit flips, zeroed pages, truncations, garbage,
// duplicated and reordered ranges in segments. The long run is scripts/corruption.sh.
describe('damaged segments', () => {
  it('open recovers a prefix or fails with HASHLOG_CORRUPTION naming file and offset; repair opens; no value is ever wrong', () => {
    const bin = buildProgram('corruption_test');
    const scratch = scratchDir('hashlog-corruption-');
    for (const seed of ['1', '2', '3']) {
      const out = runProgram(bin, [seed, '400', scratch]);
      console.log(`corruption (seed ${seed}): ${out.trim()}`);
      expect(out).toMatch(/^ok files=400 .* wrong_values=0$/m);
    }
  });
});
