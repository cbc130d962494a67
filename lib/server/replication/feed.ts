// The primary's side of a replication link: streams the log's bytes, as they are in the
// segment files, from the replica's position onwards, and keeps streaming as the log grows.
// Frames are RESP arrays: *2 :<position> $<n> <n bytes of records> (whole commit groups, or
// a part of one when a group is larger than a frame: the replica carries the rest over).
import fs from 'node:fs';
import path from 'node:path';
import type { Store } from '../../store';
import { fileOf, logSegments, offsetOf, position, SEGMENT_HEADER_SIZE } from './position';

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
    if (this.sent === 0 && segs.length > 0) this.sent = position(segs[0].file, SEGMENT_HEADER_SIZE); // from an empty log
    const i = segs.findIndex((s) => s.file === fileOf(this.sent));
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
      const bytes = Buffer.allocUnsafe(n);
      const fd = await fs.promises.open(path.join(this.store.location, seg.name), 'r');
      try {
        const { bytesRead } = await fd.read(bytes, 0, n, off);
        if (bytesRead !== n) throw new Error(`short read of ${seg.name}`);
      } finally {
        await fd.close();
      }
      if (this.stopped) return false;
      const head = Buffer.from(`*2\r\n:${this.sent}\r\n$${n}\r\n`, 'latin1');
      this.sink.push(Buffer.concat([head, bytes, Buffer.from('\r\n')]));
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
