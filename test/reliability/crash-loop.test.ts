import { describe, expect, it } from 'vitest';
import { checkRecovered, crashLoop } from './crash-loop';
import { tmpdir } from '../helpers/tmpdir';

// The short crash loop; npm run soak runs the same loop for as long as asked.
describe('crash loop (SIGKILL at random moments)', () => {
  it('loses no acknowledged put, delete or batch, resurrects no delete and applies no half batch', async () => {
    const report = await crashLoop(tmpdir('hashlog-crash-loop-'), 7, 10);
    console.log(`crash loop: iterations=${report.iterations} attempts=${report.attempts} ` +
      `acked_checked=${report.ackedChecked} writes_lost=${report.writesLost}`);
    expect(report.problems).toEqual([]);
    expect(report.iterations).toBe(10);
    expect(report.ackedChecked).toBeGreaterThan(0);
  });
});

describe('crash loop with compaction running all the time', () => {
  it('loses no acknowledged write and resurrects no delete when killed in any phase of a compaction', async () => {
    const report = await crashLoop(tmpdir('hashlog-compact-loop-'), 11, 20, Infinity, true);
    console.log(`compaction crash loop: iterations=${report.iterations} attempts=${report.attempts} ` +
      `acked_checked=${report.ackedChecked} writes_lost=${report.writesLost}`);
    expect(report.problems).toEqual([]);
    expect(report.iterations).toBe(20);
    expect(report.ackedChecked).toBeGreaterThan(0);
  });
});

describe('crash loop with compaction running all the time, js engine', () => {
  it('loses no acknowledged write and resurrects no delete when killed in any phase of a js compaction', async () => {
    const report = await crashLoop(tmpdir('hashlog-js-compact-loop-'), 13, 8, Infinity, true, 'js');
    console.log(`js compaction crash loop: iterations=${report.iterations} attempts=${report.attempts} ` +
      `acked_checked=${report.ackedChecked} writes_lost=${report.writesLost}`);
    expect(report.problems).toEqual([]);
    expect(report.iterations).toBe(8);
    expect(report.ackedChecked).toBeGreaterThan(0);
  });
});

describe('the crash loop checker', () => {
  const put = (k: string): ['p', string, number] => ['p', k, 0];
  it('reports an acknowledged write that is missing and a deleted key that came back', () => {
    const attempts = [
      { i: 0, b: 0, ops: [put('k1')] },
      { i: 1, b: 0, ops: [['d', 'k2'] as ['d', string]] },
    ];
    const before = new Map([['k2', 'old']]);
    const problems = checkRecovered(0, before, attempts, new Set([0, 1]), new Map([['k2', 'old']]));
    expect(problems).toHaveLength(2);
  });
  it('reports a batch applied on one key but not another, and accepts an unacknowledged one left out', () => {
    const attempts = [{ i: 0, b: 1, ops: [put('k1'), put('k2')] }];
    const half = new Map([['k1', 'r0#0.0']]);
    expect(checkRecovered(0, new Map(), attempts, new Set(), half)).toHaveLength(1);
    expect(checkRecovered(0, new Map(), attempts, new Set(), new Map())).toEqual([]);
  });
});
