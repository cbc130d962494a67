// The primary's feed, driven step by step against a store (no sockets), so that a compaction
// lands at a chosen point of a full resync: what the replica would apply must end as the
// primary's contents, or the feed must drop the link (the replica then resyncs from 0).
import { describe, expect, it } from 'vitest';
import { open, type Store } from '../../lib/index';
import { Feed, type FeedSink } from '../../lib/server/replication/feed';
import { applyRecords } from '../../lib/server/replication/apply';
import { tmpdir } from '../helpers/tmpdir';

const OPTS = { segmentSize: 16 * 1024, compaction: false } as const;

class Sink implements FeedSink {
  readonly address = 'test';
  readonly backlog = 0;
  frames: { pos: number; bytes: Buffer }[] = [];
  closed: string | undefined;
  push(frame: Buffer): void {
    // *2\r\n:<pos>\r\n$<n>\r\n<n bytes>\r\n
    const posEnd = frame.indexOf('\r\n', 4);
    const pos = Number(frame.subarray(5, posEnd).toString('latin1'));
    const lenEnd = frame.indexOf('\r\n', posEnd + 2);
    const n = Number(frame.subarray(posEnd + 3, lenEnd).toString('latin1'));
    this.frames.push({ pos, bytes: frame.subarray(lenEnd + 2, lenEnd + 2 + n) });
  }
  close(reason: string): void {
    this.closed = reason;
  }
}

type Steppable = { step(): Promise<boolean> };

// Steps the feed until it is caught up, fails or closes the link; true if the link stayed up.
async function drain(feed: Feed, sink: Sink): Promise<boolean> {
  for (let i = 0; i < 1000; i++) {
    let more: boolean;
    try {
      more = await (feed as unknown as Steppable).step();
    } catch {
      return false;
    }
    if (sink.closed !== undefined) return false;
    if (!more) return true;
  }
  throw new Error('the feed never caught up');
}

async function applyAll(replica: Store, frames: { bytes: Buffer }[]): Promise<void> {
  let carry = Buffer.alloc(0);
  for (const f of frames) {
    const data = Buffer.concat([carry, f.bytes]);
    const { used, done } = applyRecords(replica, data);
    await done;
    carry = data.subarray(used);
  }
}

describe('replication feed and compaction', () => {
  // A job whose sources hold no live record writes no output: the snapshot is gone without a
  // new one taking its place. The feed, still at position 0 with part of the old snapshot
  // sent, went on from the first ordinary segment: the deletes that killed the snapshot's
  // records were in the job's sources, so the replica kept keys the primary no longer has.
  it('drops the link when the snapshot it was sending is compacted away without a successor', async () => {
    const primary = await open(tmpdir(), OPTS);
    const keys = ['victim', ...Array.from({ length: 20 }, (_, i) => `filler${i}`)];
    for (let i = 0; i < 600; i++) await primary.put(keys[i % keys.length], 'f'.repeat(100));
    expect((await primary.compact()).compacted).toBe(true);
    const sink = new Sink();
    const feed = new Feed(primary, sink, 0);
    expect(await (feed as unknown as Steppable).step()).toBe(true); // a snapshot frame
    expect(sink.frames[0].pos).toBe(-1);
    // Every key of the snapshot dies; the segment with the deletes is sealed behind a new write.
    for (const k of keys) await primary.del(k);
    (primary as unknown as { native: { rollSegment(): void } }).native.rollSegment();
    await primary.put('new', 'value');
    await primary.flush();
    expect((await primary.compact()).compacted).toBe(true);
    const stayedUp = await drain(feed, sink);
    if (stayedUp) {
      const replica = await open(tmpdir(), OPTS);
      await applyAll(replica, sink.frames);
      expect(replica.has('victim')).toBe(primary.has('victim'));
      expect(replica.size).toBe(primary.size);
      await replica.close();
    }
    feed.stop();
    await primary.close();
  });
});
