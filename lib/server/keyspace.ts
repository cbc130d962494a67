// The keyspace as one command (or one MULTI/EXEC transaction) sees it: reads go to the store,
// writes are collected and committed together, so a multi-key command is one atomic batch and
// a transaction's later commands see its earlier writes.
import { rangeError } from '../errors';
import { MAX_KEY_SIZE } from '../options';
import type { BatchOperation, Store } from '../store';

interface Pending {
  value: Buffer | null; // null: deleted
  expiresAt: number | null;
}

export class Keyspace {
  readonly store: Store;
  private ops: BatchOperation[] = [];
  private overlay: Map<string, Pending> | undefined;

  constructor(store: Store) {
    this.store = store;
  }

  get(key: Buffer): Buffer | undefined {
    if (this.ops.length > 0) {
      const p = this.pending(key);
      if (p !== undefined) return p.value !== null && !expired(p.expiresAt) ? p.value : undefined;
    }
    return this.store.get(key);
  }

  has(key: Buffer): boolean {
    if (this.ops.length > 0 && this.pending(key) !== undefined) return this.get(key) !== undefined;
    return this.store.has(key);
  }

  /** When key expires (ms since the epoch), null if never, undefined if there is no such key. */
  expiresAt(key: Buffer): number | null | undefined {
    if (this.ops.length > 0) {
      const p = this.pending(key);
      if (p !== undefined) return this.get(key) === undefined ? undefined : p.expiresAt;
    }
    return this.store.expiresAt(key);
  }

  put(key: Buffer, value: Buffer, expiresAt: number | null): void {
    checkKey(key);
    if (value.length > this.store.options.maxValueSize) {
      throw rangeError(`value is ${value.length} bytes; maxValueSize is ${this.store.options.maxValueSize}`, 'HASHLOG_VALUE_TOO_LARGE');
    }
    this.ops.push(expiresAt === null ? { type: 'put', key, value } : { type: 'put', key, value, expiresAt });
    if (this.ops.length > 1 || this.overlay !== undefined) this.remember(key, { value, expiresAt });
  }

  del(key: Buffer): void {
    checkKey(key);
    this.ops.push({ type: 'del', key });
    if (this.ops.length > 1 || this.overlay !== undefined) this.remember(key, { value: null, expiresAt: null });
  }

  /** Live keys, counting the writes not committed yet. */
  get size(): number {
    let n = this.store.size;
    for (const [key, p] of this.pendingEntries()) {
      n += (p.value !== null && !expired(p.expiresAt) ? 1 : 0) - (this.store.has(key) ? 1 : 0);
    }
    return n;
  }

  /** Keys written by the uncommitted writes (live or deleted: check with has()). */
  pendingKeys(): Buffer[] {
    return [...this.pendingEntries()].map(([k]) => k);
  }

  private *pendingEntries(): IterableIterator<[Buffer, Pending]> {
    if (this.ops.length === 0) return;
    if (this.overlay === undefined) {
      const key = this.ops[0].key as Buffer;
      yield [key, this.pending(key) as Pending];
      return;
    }
    for (const [k, p] of this.overlay) yield [Buffer.from(k, 'latin1'), p];
  }

  /** True if writes wait for commit(). */
  get dirty(): boolean {
    return this.ops.length > 0;
  }

  /** Issues the collected writes: one put or del, or one atomic batch. Undefined if none. */
  commit(): Promise<unknown> | undefined {
    const ops = this.ops;
    if (ops.length === 0) return undefined;
    this.ops = [];
    this.overlay = undefined;
    if (ops.length > 1) return this.store.batch(ops);
    const op = ops[0];
    if (op.type === 'del') return this.store.del(op.key);
    return this.store.put(op.key, op.value, op.expiresAt === undefined ? undefined : { expiresAt: op.expiresAt });
  }

  /** A point to roll back to: the writes collected so far. */
  get mark(): number {
    return this.ops.length;
  }

  /** Drops the writes collected after `mark` (a command that failed half-way). */
  rollback(mark: number): void {
    if (this.ops.length === mark) return;
    const kept = this.ops.slice(0, mark);
    this.discard();
    for (const op of kept) {
      if (op.type === 'put') this.put(op.key as Buffer, op.value as Buffer, op.expiresAt ?? null);
      else this.del(op.key as Buffer);
    }
  }

  /** Drops the collected writes (a transaction that failed before committing). */
  discard(): void {
    this.ops = [];
    this.overlay = undefined;
  }

  // The overlay starts with the second write (the first one is recorded on its arrival).
  private remember(key: Buffer, p: Pending): void {
    if (this.overlay === undefined) {
      this.overlay = new Map();
      const first = this.ops[0];
      const firstKey = first.key as Buffer;
      if (this.ops.length > 1) {
        this.overlay.set(firstKey.toString('latin1'), first.type === 'del'
          ? { value: null, expiresAt: null }
          : { value: first.value as Buffer, expiresAt: first.expiresAt ?? null });
      }
    }
    this.overlay.set(key.toString('latin1'), p);
  }

  private pending(key: Buffer): Pending | undefined {
    if (this.overlay === undefined) {
      // One write so far and no map yet: compare with it directly.
      const op = this.ops[0];
      if (!(op.key as Buffer).equals(key)) return undefined;
      return op.type === 'del' ? { value: null, expiresAt: null } : { value: op.value as Buffer, expiresAt: op.expiresAt ?? null };
    }
    return this.overlay.get(key.toString('latin1'));
  }
}

// The store's own key rules, checked when a write is staged so that a bad key fails its
// command, not the whole transaction's batch.
function checkKey(key: Buffer): void {
  if (key.length === 0) throw rangeError('key must not be empty');
  if (key.length > MAX_KEY_SIZE) throw rangeError(`key is ${key.length} bytes; the limit is ${MAX_KEY_SIZE}`, 'HASHLOG_KEY_TOO_LARGE');
}

function expired(expiresAt: number | null): boolean {
  return expiresAt !== null && expiresAt <= Date.now();
}
