// The server's replication state: its role, its replication id, the feeds to its replicas
// (primary), or its link to a primary (replica); WAIT; promotion.
import type { Store } from '../../store';
import { Feed, type FeedSink } from './feed';
import { ReplicaLink } from './link';
import { fileOf, logEnd, logSegments, logStart, offsetOf, SEGMENT_HEADER_SIZE } from './position';
import { loadReplicaState, loadReplid, newReplid, saveReplicaState, saveReplid } from './state';

interface AckWaiter {
  target: number;
  count: number;
  resolve: (n: number) => void;
}

export class Replication {
  replid: string;
  link: ReplicaLink | undefined;
  readonly feeds = new Map<FeedSink, Feed>();
  private readonly store: Store;
  private readonly log: (line: string) => void;
  private readonly masterauth: string | undefined;
  private waiters: AckWaiter[] = [];

  /** `replica`: the server starts as a replica, so a saved replica position stays valid. */
  constructor(store: Store, log: (line: string) => void, masterauth: string | undefined, replica: boolean) {
    this.store = store;
    this.log = log;
    this.masterauth = masterauth;
    this.replid = store.options.readOnly ? newReplid() : loadReplid(store.location);
    const was = store.options.readOnly || replica ? undefined : loadReplicaState(store.location);
    if (!replica && !store.options.readOnly && store.recovery.discardedBytes > 0) {
      // Recovery cut a tail that a replica may already hold: positions past it now name other
      // bytes, so this log starts a new history and such a replica resyncs in full.
      this.replid = saveReplid(store.location, newReplid());
    }
    if (was !== undefined) {
      // This store followed a primary: as a primary now, its log is a history of its own.
      this.log('this store was a replica; starting as a primary with a new replication id '
        + '(start with --replica-of to go on replicating)');
      saveReplicaState(store.location, undefined);
      this.replid = saveReplid(store.location, newReplid());
    }
    // A compaction must not delete what a feed still streams: a replica a little behind
    // would otherwise have to resync in full after every job.
    store._setCompactionGuard({
      keepFrom: () => {
        let min = 0;
        for (const f of this.feeds.values()) {
          const file = f.neededFrom();
          if (file !== undefined && (min === 0 || file < min)) min = file;
        }
        return min;
      },
      paused: () => [...this.feeds.values()].some((f) => f.inSnapshot),
    });
  }

  get role(): 'primary' | 'replica' {
    return this.link === undefined ? 'primary' : 'replica';
  }

  /** Position of the end of this store's log (master_repl_offset). */
  get offset(): number {
    return this.link?.applied ?? logEnd(this.store);
  }

  /**
   * HASHLOG.SYNC: the reply line for a replica at (replid, position), and where its feed starts.
   * It goes on from its position if that is in this history and log, else it resyncs in full.
   */
  syncPoint(replid: string, pos: number): { line: string; from: number } {
    const segs = logSegments(this.store);
    // Position 0 (nothing applied, or a snapshot cut short) always resyncs: the replica's store
    // is cleared first, so that nothing of an older snapshot survives.
    const inLog = pos !== 0 && segs.some((s) => !s.compacted && s.file === fileOf(pos)
      && offsetOf(pos) >= SEGMENT_HEADER_SIZE && offsetOf(pos) <= s.written);
    if (replid === this.replid && inLog) return { line: `CONTINUE ${this.replid} ${pos}`, from: pos };
    const start = logStart(this.store);
    return { line: `FULLRESYNC ${this.replid} ${start} ${logEnd(this.store)}`, from: start };
  }

  startFeed(sink: FeedSink, from: number): void {
    const feed = new Feed(this.store, sink, from);
    this.feeds.set(sink, feed);
    this.log(`replica ${sink.address} attached at position ${from}`);
    void feed.run().catch((e: Error) => {
      // A read of a segment failed (a file gone, out of descriptors): end this link, not the server.
      this.log(`replication feed to ${sink.address} failed: ${e.message}`);
      sink.close(`replication feed failed: ${e.message}`);
    }).finally(() => this.feeds.delete(sink));
  }

  dropSink(sink: FeedSink): void {
    const feed = this.feeds.get(sink);
    if (feed === undefined) return;
    feed.stop();
    this.feeds.delete(sink);
    this.log(`replica ${sink.address} detached`);
  }

  ack(sink: FeedSink, pos: number): void {
    const feed = this.feeds.get(sink);
    if (feed === undefined) return;
    feed.acked = Math.max(feed.acked, pos);
    feed.ackedAt = Date.now();
    this.waiters = this.waiters.filter((w) => {
      if (this.countAt(w.target) < w.count) return true;
      w.resolve(this.countAt(w.target));
      return false;
    });
  }

  committed(): void {
    for (const f of this.feeds.values()) f.notify();
  }

  /** WAIT: resolves with how many replicas have everything written so far, once `count` do or after `timeoutMs` (0: no limit). */
  wait(count: number, timeoutMs: number): Promise<number> {
    const target = logEnd(this.store);
    if (this.countAt(target) >= count || count === 0) return Promise.resolve(this.countAt(target));
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter: AckWaiter = {
        target, count, resolve: (n) => {
          if (timer !== undefined) clearTimeout(timer);
          resolve(n);
        },
      };
      this.waiters.push(waiter);
      if (timeoutMs > 0) {
        timer = setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          resolve(this.countAt(target));
        }, timeoutMs);
        timer.unref();
      }
    });
  }

  /** REPLICAOF host port: follow that primary (replies go on being served from this store). */
  async follow(host: string, port: number): Promise<void> {
    // Swapped synchronously: two REPLICAOF racing must not leave a link nobody can stop.
    const old = this.link;
    const next = new ReplicaLink(this.store, host, port, { password: this.masterauth, log: this.log });
    this.link = next;
    for (const sink of [...this.feeds.keys()]) sink.close('this server became a replica');
    await old?.stop();
    if (this.link !== next) return; // superseded meanwhile
    this.log(`replicating from ${host}:${port}`);
    next.start();
  }

  /** REPLICAOF NO ONE: stop following; accept writes, as a new history (a new replication id). */
  async promote(): Promise<void> {
    const link = this.link;
    if (link === undefined) return;
    this.link = undefined;
    await link.stop();
    if (this.link !== undefined) return; // a REPLICAOF host port came meanwhile
    saveReplicaState(this.store.location, undefined);
    this.replid = saveReplid(this.store.location, newReplid());
    this.log(`promoted to primary at position ${link.applied} of ${link.host}:${link.port}'s log; replication id ${this.replid}`);
  }

  async close(): Promise<void> {
    for (const f of this.feeds.values()) f.stop();
    await this.link?.stop();
    for (const w of this.waiters) w.resolve(0);
    this.waiters = [];
  }

  private countAt(target: number): number {
    let n = 0;
    for (const f of this.feeds.values()) if (f.acked >= target) n++;
    return n;
  }
}
