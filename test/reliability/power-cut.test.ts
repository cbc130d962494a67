import { describe, expect, it } from 'vitest';
import { buildProgram, runProgram } from './cc-build';
import { scratchDir } from './scratch';

// native/cc/power_cut_test.cc: a workload on a recording file system, then every fsync
// boundary and random lost, torn and reordered un-synced writes rebuilt and reopened.
// The long run is scripts/power-cut.sh.
describe('power cuts (lost page-cache writes)', () => {
  it('keeps every acknowledged write, resurrects no delete and applies no half batch on a plain open, at every fsync boundary and with random losses between, compactions included', () => {
    const bin = buildProgram('power_cut_test');
    const out = runProgram(bin, ['1', '24', '4', scratchDir('hashlog-power-cut-')]);
    console.log(`power cut: ${out.trim()}`);
    expect(out).toMatch(/^ok workloads=24 .* lost=0$/m);
    // Half the workloads compact between bursts: crash states fall inside jobs too.
    expect(Number(/compactions=(\d+)/.exec(out)?.[1])).toBeGreaterThan(10);
  });
});
