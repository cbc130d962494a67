// Compaction against the rollback of a failed commit group, and other edges found in review.
// The job's phases are driven one by one through the engine (as lib/compaction.ts does) so
// that a failure lands at a chosen point of the job.
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { open, type Store } from '../../lib/index';
import type { CompactingEngine } from '../../lib/compaction';
import { tmpdir } from '../helpers/tmpdir';

const SEGMENT = 16 * 1024;
const OPTS = { segmentSize: SEGMENT, compaction: false } as const;
const { ENOSPC } = os.constants.errno;

function engineOf(db: Store): CompactingEngine {
  return (db as unknown as { native: CompactingEngine }).native;
}

async function settle(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return (e as { code: string }).code;
  }
}

// Runs the phases after mark, as runCompaction does.
async function finishJob(db: Store, e: CompactingEngine): Promise<void> {
  while (!e.compactMark(1 << 20));
  await e.compactCopy();
  while (!e.compactInstall(1 << 20));
  for (let i = 0; i < 100 && !e.compactSettle(); i++) await db.flush().catch(() => undefined);
  await e.compactUnlink();
  for (let i = 0; i < 100 && !e.compactRetire(); i++) await db.flush().catch(() => undefined);
}

describe('native engine: compaction and rolled-back writes', () => {
  // A write whose commit group fails (ENOSPC: resumable) is undone: the index points again at
  // the record it had replaced. When that record is in a source that mark already passed
  // (it was not live then), it is not copied, and unlink deletes its only copy: the key is
  // there until close and gone after the reopen.
  for (const kind of ['del', 'put'] as const) {
    it(`keeps a key whose ${kind} was rolled back after mark passed its record`, async () => {
      const dir = tmpdir();
      let db = await open(dir, OPTS);
      await db.put('victim', 'old value');
      for (let i = 0; i < 600; i++) await db.put(`filler${i % 20}`, 'f'.repeat(100)); // several sealed segments of garbage
      await db.flush();
      const e = engineOf(db);
      expect(e.compactStart(0, 0)).toBe(true);
      // The next group needs a new segment file, which the full disk refuses.
      db._injectFault('open', 0, ENOSPC, true);
      const w = kind === 'del' ? db.del('victim') : db.put('victim', 'new value');
      const big = db.put('big', 'b'.repeat(SEGMENT));
      // Mark sees the index before the failure is known: victim's old record is not live.
      while (!e.compactMark(1 << 20));
      expect(await settle(w)).toBe('HASHLOG_NO_SPACE');
      expect(await settle(big)).toBe('HASHLOG_NO_SPACE');
      db._injectFault();
      expect(db.get('victim')?.toString()).toBe('old value'); // rolled back
      await finishJob(db, e);
      expect(db.get('victim')?.toString()).toBe('old value');
      // The sources the job kept are in the log: the next job takes them.
      for (let i = 0; i < 600; i++) await db.put(`filler${i % 20}`, 'g'.repeat(100));
      expect((await db.compact()).compacted).toBe(true);
      expect(db.get('victim')?.toString()).toBe('old value');
      await db.close();
      db = await open(dir, OPTS);
      expect(db.get('victim')?.toString()).toBe('old value');
      expect(db.get('filler3')?.toString()).toBe('g'.repeat(100));
      await db.close();
    });
  }
});

describe('native engine: compaction whose unlink fails', () => {
  // Unlink fails on a source: it (and every later source) stays on disk, but out of the
  // log, so the next job neither copies nor deletes it. After that job deleted the newer
  // segments that overwrote or deleted its records, the reopen scans it after the new
  // compacted segments, and its old records come back.
  it('does not bring back old values after a second job and a reopen', async () => {
    const dir = tmpdir();
    let db = await open(dir, OPTS);
    await db.put('overwritten', 'old value');
    await db.put('deleted', 'old value');
    for (let i = 0; i < 600; i++) await db.put(`filler${i % 20}`, 'f'.repeat(100));
    await db.flush();
    db._injectFault('unlink', 0, 5, false); // the job's first unlink fails (EIO)
    await expect(db.compact()).rejects.toMatchObject({ code: 'HASHLOG_IO' });
    db._injectFault();
    await db.put('overwritten', 'new value');
    await db.del('deleted');
    for (let i = 0; i < 600; i++) await db.put(`filler${i % 20}`, 'g'.repeat(100));
    expect((await db.compact()).compacted).toBe(true);
    expect(db.get('overwritten')?.toString()).toBe('new value');
    expect(db.has('deleted')).toBe(false);
    await db.close();
    db = await open(dir, OPTS);
    expect(db.get('overwritten')?.toString()).toBe('new value');
    expect(db.has('deleted')).toBe(false);
    expect(db.get('filler3')?.toString()).toBe('g'.repeat(100));
    await db.close();
  });
});

describe('native engine: compaction output numbers', () => {
  // CompactStart reserves 2 * live / maxOutputSize + 2 file numbers, on the grounds that
  // every output but the last is over half full. With the 32-byte segment header, two
  // records of just over (size - 32) / 2 bytes do not fit in one output, although each is
  // under half of it: every output holds one record, and a job with enough of them runs out
  // of numbers and fails (HASHLOG_FULL), every time.
  it('does not run out of file numbers when records are just under half a segment', async () => {
    const segmentSize = 16 * 1024;
    const db = await open(tmpdir(), { segmentSize, compaction: false });
    const record = (segmentSize - 32) / 2 + 1; // 8177 bytes: under half, but two do not fit
    const n = 1100;
    const value = (i: number): string => `${i}:`.padEnd(record - 32 - `k${String(i).padStart(4, '0')}`.length, 'v');
    for (let i = 0; i < n; i++) await db.put(`k${String(i).padStart(4, '0')}`, value(i));
    for (let i = 0; i < 20; i++) await db.put(`k${String(i).padStart(4, '0')}`, value(i)); // some garbage
    await db.flush();
    const report = await db.compact();
    expect(report.compacted).toBe(true);
    expect(db.get('k0500')?.toString()).toBe(value(500));
    await db.close();
  });
});
