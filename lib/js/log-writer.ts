// LogWriter: group commit (native/log_writer.h). The owner appends encoded records to the
// open commit group in memory; a flush loop takes the whole group, writes it with one
// pwrite per segment, makes it durable with one fdatasync, and reports the group's
// generation. Every write that arrives while a sync runs shares the next one.
//
// JavaScript has one thread, so the flush loop is an async function whose I/O runs on the
// libuv pool: the JavaScript thread never waits for a write or a sync. It is started in a
// microtask (never inside the caller's write), so a burst of writes in one turn forms one
// group and an event never reaches the store before the write that caused it has returned.
//
// Failure: an error before any byte of a group reached a file (ENOSPC while growing a file,
// a failed create) stalls the writer with a resumable error; any error after (a failed
// pwrite of records, any failed fdatasync) stalls it with HASHLOG_FAILED. Either way the
// owner rolls the non-durable groups back (takeForRollback) before anything resumes.
import { HashlogError } from '../errors';
import type { FileSystem } from './file';
import type { Segment } from './segment';

// A group this large is written without waiting for the end of the turn (native
// LogWriter::kEagerKickBytes).
const EAGER_KICK_BYTES = 256 * 1024;

/** How to undo one not-yet-durable record in the index if its group fails. 0 = no location. */
export interface UndoEntry {
  tag: number;
  extra: number;
  newLoc: number;
  oldLoc: number;
  newSize: number;
  oldSize: number;
  newExpiresAt: number;
  oldExpiresAt: number;
}

interface Chunk {
  segment: Segment;
  fileOffset: number;
  bufferOffset: number;
  size: number;
}

class CommitGroup {
  gen = 0;
  buf: Buffer = Buffer.allocUnsafe(0);
  size = 0;
  chunks: Chunk[] = [];
  undo: UndoEntry[] = [];

  get empty(): boolean {
    return this.chunks.length === 0;
  }

  clear(): void {
    this.size = 0;
    this.chunks = [];
    this.undo = [];
  }

  // Grows by n bytes and returns the offset of the first (the buffer may be replaced).
  extend(n: number): number {
    if (this.size + n > this.buf.length) {
      const fresh = Buffer.allocUnsafe(Math.max(this.size + n, this.buf.length * 2, 64 * 1024));
      this.buf.copy(fresh, 0, 0, this.size);
      this.buf = fresh;
    }
    const at = this.size;
    this.size += n;
    return at;
  }
}

/** What the flush loop reports after each group or sync. */
export interface FlushEvent {
  writtenGen: number;
  syncedGen: number;
  error: HashlogError | undefined; // set: the writer is stalled until the owner rolls back
}

/** A fail-stop error: after it only a reopen can tell what reached the disk. */
export function failedError(cause: HashlogError): HashlogError {
  const e = new HashlogError(`writes stopped after an I/O error (reopen the store to resume): ${cause.message}`,
    'HASHLOG_FAILED', { cause });
  e.errno = cause.errno;
  e.syscall = cause.syscall;
  return e;
}

export class LogWriter {
  open = new CommitGroup();
  private writing = new CommitGroup();
  private writtenGen = 0;
  private syncedGen = 0;
  private syncRequestedGen = 0;
  private stalled = false;
  private stopped = false;
  private running = false;
  private scheduled = false;
  private timer: NodeJS.Timeout | undefined;
  private lastSync = Date.now();
  private current: Segment | undefined; // the segment the flush loop appends to
  private dirty: Segment[] = []; // written since the last fdatasync
  fsyncs = 0;
  // findPending's answer: the buffer and offset of the record.
  pendingBuf: Buffer = this.open.buf;
  pendingAt = 0;
  private idleWaiters: (() => void)[] = [];

  /**
   * syncEachGroup: fdatasync every group (durability 'sync'); otherwise every
   * flushIntervalMs and on requestSync(). `prealloc` is the zero-fill chunk (0 = none);
   * `notify` runs after each group or sync.
   */
  constructor(private readonly fs: FileSystem, private readonly dir: string, private readonly syncEachGroup: boolean,
    private readonly intervalMs: number, private readonly prealloc: number, active: Segment,
    private readonly notify: (ev: FlushEvent) => void) {
    this.open.gen = 1;
    this.current = active;
  }

  /** Reserves n bytes at (segment, offset) in the open group; returns their offset in open.buf. */
  append(segment: Segment, offset: number, n: number): number {
    const chunks = this.open.chunks;
    const last = chunks[chunks.length - 1];
    if (last !== undefined && last.segment === segment && last.fileOffset + last.size === offset) {
      last.size += n;
      return this.open.extend(n);
    }
    chunks.push({ segment, fileOffset: offset, bufferOffset: this.open.size, size: n });
    return this.open.extend(n);
  }

  addUndo(u: UndoEntry): void {
    this.open.undo.push(u);
  }

  get openGen(): number {
    return this.open.gen;
  }

  /** Finds a record that is not yet written: sets pendingBuf/pendingAt and returns true. */
  findPending(segment: Segment, offset: number, n: number): boolean {
    for (const g of [this.writing, this.open]) {
      for (const c of g.chunks) {
        if (c.segment === segment && offset >= c.fileOffset && offset + n <= c.fileOffset + c.size) {
          this.pendingBuf = g.buf;
          this.pendingAt = c.bufferOffset + (offset - c.fileOffset);
          return true;
        }
      }
    }
    return false;
  }

  /** Asks for an fdatasync covering everything appended so far; returns its generation. */
  requestSync(): number {
    const gen = !this.open.empty ? this.open.gen : !this.writing.empty ? this.writing.gen : this.writtenGen;
    if (gen <= this.syncedGen) return gen;
    if (gen > this.syncRequestedGen) this.syncRequestedGen = gen;
    this.wake();
    return gen;
  }

  /**
   * Starts the flush loop now if the open group is large: a long synchronous loop of writes
   * then streams (the pool writes one group while the loop fills the next) instead of
   * building one huge group. Safe inside a write call: the loop reports nothing before its
   * first await. Call after the write has taken its generation.
   */
  kickIfLarge(): void {
    if (this.open.size < EAGER_KICK_BYTES || this.running || this.stalled || this.stopped) return;
    void this.run();
  }

  /** Starts the flush loop (in a microtask) unless it runs or is stalled. */
  wake(): void {
    if (this.running || this.scheduled || this.stalled || this.stopped) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      if (!this.running && !this.stalled && !this.stopped) void this.run();
    });
  }

  /**
   * After a failed event: collects the undo entries of every group that is not durable
   * (newest first) and the range of their generations, clears those groups, and says where
   * they started. The writer stays stalled.
   */
  takeForRollback(): { undo: UndoEntry[]; firstGen: number; lastGen: number; start: Segment | undefined; offset: number } {
    const undo: UndoEntry[] = [];
    for (const g of [this.open, this.writing]) for (let i = g.undo.length - 1; i >= 0; i--) undo.push(g.undo[i]);
    const first = this.writing.empty ? this.open : this.writing;
    const out = {
      undo,
      firstGen: first.gen,
      lastGen: this.open.gen,
      start: first.empty ? undefined : first.chunks[0].segment,
      offset: first.empty ? 0 : first.chunks[0].fileOffset,
    };
    this.writing.clear();
    this.open.clear();
    this.open.gen++;
    // Rolled-back generations count as written (the owner rejects them), so that later
    // generations can complete; the next sync still covers what was really written.
    this.writtenGen = Math.max(this.writtenGen, this.open.gen - 1);
    return out;
  }

  /** After a resumable failure was rolled back: appends continue in `current`. */
  resume(current: Segment | undefined): void {
    this.current = current;
    this.stalled = false;
    this.wake();
  }

  /** True while a write or sync is in flight. */
  get busy(): boolean {
    return this.running;
  }

  /** Resolves when the flush loop is idle. */
  idle(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Synchronously writes and syncs what is still pending (close), then stops. REQUIRES:
   * not busy. Errors are swallowed: close() cannot report them, and their writes were
   * never acknowledged.
   */
  stopNow(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.stalled || this.running) return;
    try {
      for (const g of [this.writing, this.open]) {
        for (const c of g.chunks) {
          if (!c.segment.created) return; // a group that needs a new file: never acknowledged
          this.fs.pwriteSync(c.segment.fd, g.buf, c.bufferOffset, c.size, c.fileOffset, c.segment.path);
          if (!this.dirty.includes(c.segment)) this.dirty.push(c.segment);
        }
      }
      for (const s of this.dirty) this.fs.fdatasyncSync(s.fd, s.path);
    } catch {
      // See above.
    }
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      for (;;) {
        if (this.stalled || this.stopped) return;
        const now = Date.now();
        const have = !this.open.empty;
        const unsynced = this.writtenGen > this.syncedGen;
        const due = now - this.lastSync >= this.intervalMs;
        const syncAsked = this.syncRequestedGen > this.syncedGen;
        if (!have && !(unsynced && (syncAsked || due))) {
          if (unsynced) this.armTimer(this.lastSync + this.intervalMs - now);
          return;
        }
        if (have) {
          const g = this.writing;
          this.writing = this.open;
          this.open = g;
          this.open.gen = this.writing.gen + 1;
        }
        const doSync = this.syncEachGroup || syncAsked || due;
        let error: HashlogError | undefined;
        this.wroteRecords = false;
        try {
          if (have) await this.writeGroup(this.writing);
          if (doSync) {
            this.lastSync = now;
            try {
              await this.syncDirty();
            } catch (e) {
              throw failedError(e as HashlogError); // the kernel may have dropped the dirty pages
            }
          }
        } catch (e) {
          error = e as HashlogError;
          if (error.code !== 'HASHLOG_FAILED' && this.wroteRecords) error = failedError(error); // records may be half on disk
        }
        if (error === undefined) {
          if (have) {
            for (const c of this.writing.chunks) c.segment.flushedEnd = c.fileOffset + c.size;
            this.writtenGen = this.writing.gen;
            this.writing.clear();
          }
          if (doSync) this.syncedGen = this.writtenGen;
        } else {
          this.stalled = true;
        }
        this.notify({ writtenGen: this.writtenGen, syncedGen: this.syncedGen, error });
      }
    } finally {
      this.running = false;
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  private wroteRecords = false;

  private armTimer(ms: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.wake();
    }, Math.max(1, ms));
    this.timer.unref();
  }

  // Creates and allocates every segment the group needs (no record is written yet).
  private async prepare(): Promise<void> {
    for (const c of this.writing.chunks) {
      const seg = c.segment;
      if (!seg.created) {
        // The segment the group leaves ends at its last record (sealedAt is set when the
        // owner moved on; 0 would mean it never did, and must not truncate the file).
        if (this.current !== undefined && this.current !== seg && this.current.sealedAt > 0) {
          this.current.seal(this.current.sealedAt);
        }
        await seg.create();
        await this.fs.syncDir(this.dir);
        this.fsyncs += 2;
      }
      this.current = seg;
      const need = c.fileOffset + c.size;
      await seg.ensureAllocated(need, this.prealloc, Math.max(need, Math.ceil(seg.reserve / 4096) * 4096));
    }
  }

  private async writeGroup(g: CommitGroup): Promise<void> {
    // Every file the group needs exists and is allocated before its first record is
    // written, so running out of space fails the group cleanly (resumable).
    await this.prepare();
    for (let i = 0; i < g.chunks.length; i++) {
      const c = g.chunks[i];
      this.wroteRecords = true;
      await c.segment.write(g.buf, c.bufferOffset, c.size, c.fileOffset);
      if (this.dirty[this.dirty.length - 1] !== c.segment) this.dirty.push(c.segment);
      if (i + 1 < g.chunks.length && g.chunks[i + 1].segment !== c.segment) {
        // A sealed segment is made durable before any record reaches its successor, so a
        // crash leaves damage only at the very end of the log.
        await this.syncDirty();
      }
    }
  }

  private async syncDirty(): Promise<void> {
    for (const seg of this.dirty) {
      await seg.sync();
      this.fsyncs++;
    }
    this.dirty = [];
  }
}
