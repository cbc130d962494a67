import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildProgram, runProgram } from './cc-build';

// Replays the kept libFuzzer corpus (scripts/fuzz-decoder.sh adds to it) through the fuzz
// target built with plain g++: every input that once found a crash or new coverage in the
// record decoder and recovery still opens cleanly or fails with HASHLOG_CORRUPTION.
describe('record decoder and recovery (fuzz corpus)', () => {
  it('replays every kept input without a crash', () => {
    const bin = buildProgram('fuzz_replay', ['fuzz_decoder']);
    const out = runProgram(bin, [path.join(__dirname, 'fuzz-corpus')]);
    console.log(`fuzz corpus: ${out.trim()}`);
    expect(out).toMatch(/^ok inputs=[1-9]\d*$/m);
  });
});
