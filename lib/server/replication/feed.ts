// The primary's side of a replication link: streams the log's bytes, as they are in the
// segment files, from the replica's position onwards, and keeps streaming as the log grows.
// Frames are RESP arrays: *2 :<position> $<n> <n bytes of records> (whole commit groups, or
// a part of one when a group is larger than a frame: the replica carries the rest over).
// A feed from position 0 first sends the compacted segments, the snapshot, in frames with
// position -1 (position.ts).
import fs from 'node:fs';
import path from 'node:path';
import type { Store } from '../../store';
import { fileOf, logSegments, offsetOf, position, SEGMENT_HEADER_SIZE, type LogSegment } from './position';

const FRAME_MAX = 1024 * 1024;
const BACKLOG_MAX = 4 * 1024 * 1024; // as a client's reply backlog (docs/server.md, backpressure)
const IDLE_POLL_MS = 50; // a commit wakes the feed at once; this only bounds a missed wake-up

/** The connection a feed writes to. */
export interface FeedSink {
  readonly address: string;
  /** Bytes queued and not yet taken by the socket. */
  readonly backlog: number;
  push(frame: Buffer): void;
  close(reason: string): void;
}

export class Feed {
  readonly sink: FeedSink;
  /** The next position to send. */
  sent: number;
  /** What the replica reported applied and durable (HASHLOG.ACK). */
  acked: number;
  ackedAt = Date.now();
  private readonly store: Store;
  private stopped = false;
  private wake: (() => void) | undefined;
  // Snapshot progress while sent is 0: the compacted segment (by name) and offset.
  private snapshot: { name: string; offset: number } | undefined;

  constructor(store: Store, sink: FeedSink, from: number) {
    this.store = store;
    this.sink = sink;
    this.sent = from;
    this.acked = from;
  }

  /** Runs until stop() or the replica's position is no longer in the log. */
  async run(): Promise<void> {
    while (!this.stopped) {
      if (this.sink.backlog > BACKLOG_MAX) {
        await this.sleep(5);
        continue;
      }
      const sent = await this.step();
      if (!sent) await this.sleep(IDLE_POLL_MS);
    }
  }

  /** True while the feed streams the snapshot (compacted segments) of a full resync. */
  get inSnapshot(): boolean {
    return this.sent === 0;
  }

  /** The first segment file this feed still needs (undefined: it needs the snapshot or nothing). */
  neededFrom(): number | undefined {
    return this.sent === 0 || this.stopped ? undefined : fileOf(this.sent);
  }

  /** A commit happened: new bytes may be in the files. */
  notify(): void {
    this.wake?.();
  }

  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  // Sends one frame if there is something to send; false if the feed is caught up.
  private async step(): Promise<boolean> {
    if (this.store.status !== 'open') {
      this.stop();
      return false;
    }
    const segs = logSegments(this.store);
    if (this.sent === 0) {
      const first = segs.findIndex((s) => !s.compacted);
      // Once part of a snapshot is sent, only snapshotStep may move on: it checks that the
      // snapshot is still there. A job that found no live record writes no output, and going
      // on from the first ordinary segment would skip the deletes of its sources.
      if (first > 0 || (first < 0 && segs.length > 0) || this.snapshot !== undefined) return this.snapshotStep(segs);
      if (first < 0) return false; // nothing written yet
      this.sent = position(segs[first].file, SEGMENT_HEADER_SIZE);
    }
    const i = segs.findIndex((s) => !s.compacted && s.file === fileOf(this.sent));
    if (i < 0) {
      if (segs.length === 0) return false; // nothing written yet
      this.sink.close(`position ${this.sent} is no longer in the log`);
      this.stop();
      return false;
    }
    const seg = segs[i];
    const off = offsetOf(this.sent);
    if (off < seg.written) {
      const n = Math.min(FRAME_MAX, seg.written - off);
      if (!await this.send(seg.name, off, n, this.sent)) return false;
      this.sent += n;
      return true;
    }
    if (i + 1 < segs.length && off >= seg.end) {
      // This segment is complete: go on with the next one.
      this.sent = position(segs[i + 1].file, SEGMENT_HEADER_SIZE);
      return true;
    }
    return false;
  }

  // Sends the next piece of the snapshot, or moves on to the first ordinary segment. The
  // snapshot's segments may be compacted away meanwhile: the read fails, the link drops, and
  // the replica (still at position 0) resyncs.
  private async snapshotStep(segs: LogSegment[]): Promise<boolean> {
    const snap = segs.filter((s) => s.compacted);
    let at = this.snapshot === undefined ? 0 : snap.findIndex((s) => s.name === this.snapshot?.name);
    if (at < 0 || at >= snap.length) throw new Error('the snapshot changed under the feed (a compaction ran)');
    let off = this.snapshot?.offset ?? SEGMENT_HEADER_SIZE;
    if (off >= snap[at].written) {
      at++;
      off = SEGMENT_HEADER_SIZE;
    }
    if (at >= snap.length) {
      const first = segs.find((s) => !s.compacted);
      if (first === undefined) return false; // (a log always has an ordinary segment once written to)
      this.snapshot = undefined;
      this.sent = position(first.file, SEGMENT_HEADER_SIZE);
      return true;
    }
    const n = Math.min(FRAME_MAX, snap[at].written - off);
    if (!await this.send(snap[at].name, off, n, -1)) return false;
    this.snapshot = { name: snap[at].name, offset: off + n };
    return true;
  }

  // Reads [off, off + n) of a segment file and pushes it as a frame at `pos`.
  private async send(name: string, off: number, n: number, pos: number): Promise<boolean> {
    const bytes = Buffer.allocUnsafe(n);
    const fd = await fs.promises.open(path.join(this.store.location, name), 'r');
    try {
      const { bytesRead } = await fd.read(bytes, 0, n, off);
      if (bytesRead !== n) throw new Error(`short read of ${name}`);
    } finally {
      await fd.close();
    }
    if (this.stopped) return false;
    const head = Buffer.from(`*2\r\n:${pos}\r\n$${n}\r\n`, 'latin1');
    this.sink.push(Buffer.concat([head, bytes, Buffer.from('\r\n')]));
    return true;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
  }
}
