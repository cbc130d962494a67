import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { open } from '../../lib/index';
import { tmpdir } from '../helpers/tmpdir';
import { buildProgram, runProgram } from './cc-build';
import { scratchDir } from './scratch';

// native/cc/fault_loop_test.cc: every seam call (open, pwrite, allocate, fdatasync, syncdir,
// ftruncate, mmap, rename, unlink) failing with EIO, ENOSPC and EMFILE at its Nth call, for
// N = 0, 1, 2, ... until the workload no longer reaches it, in both durability modes. The long
// run is scripts/fault-loop.sh.
describe('I/O faults at the Nth call', () => {
  it('reports NO_SPACE, IO or FAILED as documented, resumes after resumable errors and loses nothing acknowledged', () => {
    const bin = buildProgram('fault_loop_test');
    const scratch = scratchDir('hashlog-fault-loop-');
    for (const seed of ['1', '2']) {
      const out = runProgram(bin, [seed, '40', scratch]);
      console.log(`fault loop (seed ${seed}): ${out.trim()}`);
      expect(out).toMatch(/^ok runs=\d+ faults_injected=[1-9]\d* .* lost=0$/m);
    }
  });
});

// native/cc/compaction_fault_loop_test.cc: the same faults while compaction jobs run between
// the workload's bursts, with writes pending across the phases; a store closed mid-job.
describe('I/O faults at the Nth call, with compaction', () => {
  it('loses nothing acknowledged and brings nothing back', () => {
    const bin = buildProgram('compaction_fault_loop_test');
    const scratch = scratchDir('hashlog-compaction-fault-loop-');
    const out = runProgram(bin, ['1', '40', scratch]);
    console.log(`compaction fault loop: ${out.trim()}`);
    expect(out).toMatch(/^ok runs=\d+ faults_injected=[1-9]\d* jobs=[1-9]\d* .* lost=0$/m);
  });
});

describe('after a rolled-back commit group', () => {
  it('settles a delete of an absent key that waits on the rolled-back generation', async () => {
    // Found by the fault loop: the writer stayed asleep after the rollback, and a delete that
    // appends nothing waited for a sync that no later write came to start.
    const db = await open(tmpdir());
    await db.put('a', '1');
    db._injectFault('allocate', 0, os.constants.errno.ENOSPC, false);
    await expect(db.put('b', 'x'.repeat(3 << 20))).rejects.toMatchObject({ code: 'HASHLOG_NO_SPACE' });
    await expect(db.del('absent')).resolves.toBe(false);
    expect(db.get('a')?.toString()).toBe('1');
    await db.close();
  });

  it('maps a grown segment when the group retries after an mmap failure', async () => {
    // Found by the fault loop: the retry found the file long enough, skipped mapping, and the
    // first get() of what it wrote read unmapped memory (SIGSEGV).
    const db = await open(tmpdir());
    await db.put('a', '1');
    db._injectFault('mmap', 0, os.constants.errno.EIO, false);
    await expect(db.put('big', 'x'.repeat(3 << 20))).rejects.toMatchObject({ code: 'HASHLOG_IO' });
    await db.put('big', 'y'.repeat(3 << 20));
    expect(db.get('big')?.length).toBe(3 << 20);
    expect(db.get('big')?.subarray(0, 3).toString()).toBe('yyy');
    await db.close();
  });
});
