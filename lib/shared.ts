// One store, many threads (docs/api.md, "Worker threads"; docs/DESIGN.md, "Worker threads").
//
// The owner's db.share() returns a handle: the id under which the native store is registered,
// and a MessagePort back to the owner. openShared(handle) in a worker thread gives a
// SharedStore whose reads go straight to the engine (no lock, no message: native
// shared_wrap.cc) and whose writes travel over the port to the owner, which applies them
// with its own put/del/batch: one writer, one group commit, the same durability promise.
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { loadBinding, type NativeSharedReader } from './binding';
import { closedError, HashlogError, rangeError, typeError, type ErrorCode } from './errors';
import type { PutOptions } from './options';
import { StoreReader, toStats, type Key, type StoreStats, type Value } from './reader';
import type { BatchOperation, Store } from './store';

/**
 * What Store#share() returns: pass it to one worker thread, listing `port` in the transfer
 * list (`new Worker(file, { workerData: handle, transferList: [handle.port] })`).
 */
export interface SharedHandle {
  readonly kind: 'hashlog.shared';
  readonly id: number;
  readonly location: string;
  readonly port: MessagePort;
}

type WriteOp =
  | { op: 'put'; key: Key; value: Value; options?: PutOptions }
  | { op: 'del'; key: Key }
  | { op: 'batch'; operations: readonly BatchOperation[] }
  | { op: 'persist'; key: Key }
  | { op: 'expire'; key: Key; options: PutOptions }
  | { op: 'flush' }
  | { op: 'durable'; gen: number };

type Request = WriteOp & { seq: number };
interface Reply {
  seq: number;
  result?: boolean;
  error?: { name: string; message: string; code?: ErrorCode };
}

// The owner's side of one handle: applies each request in arrival order.
export function shareStore(store: Store, id: number): { handle: SharedHandle; port: MessagePort } {
  const { port1, port2 } = new MessageChannel();
  port1.on('message', (req: Request) => {
    let p: Promise<unknown>;
    try {
      p = apply(store, req);
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then(
      (result) => port1.postMessage({ seq: req.seq, result: typeof result === 'boolean' ? result : undefined }),
      (e: unknown) => port1.postMessage({ seq: req.seq, error: serialize(e) }),
    );
  });
  port1.unref(); // an idle share keeps no thread alive
  return { handle: { kind: 'hashlog.shared', id, location: store.location, port: port2 }, port: port1 };
}

function apply(store: Store, req: Request): Promise<unknown> {
  switch (req.op) {
    case 'put': return store.put(req.key, req.value, req.options);
    case 'del': return store.del(req.key);
    case 'batch': return store.batch(req.operations);
    case 'persist': return store.persist(req.key);
    case 'expire': return store.expire(req.key, req.options);
    case 'flush': return store.flush();
    case 'durable': return store._whenDurable(req.gen);
    default: return Promise.reject(typeError('unknown shared-store request'));
  }
}

function serialize(e: unknown): Reply['error'] {
  if (e instanceof Error) return { name: e.name, message: e.message, code: (e as { code?: ErrorCode }).code };
  return { name: 'Error', message: String(e) };
}

function revive(err: NonNullable<Reply['error']>): Error {
  const code = err.code ?? 'HASHLOG_INVALID_ARGUMENT';
  if (err.name === 'TypeError') return typeError(err.message, code);
  if (err.name === 'RangeError') return rangeError(err.message, code);
  return new HashlogError(err.message, code);
}

/**
 * A store opened by another thread, read here without a lock and written through its
 * owner. Reads see every write the owner made (read-your-writes across threads once a
 * write's promise resolved); stats() and size are as of the owner's latest commit group.
 */
export class SharedStore extends StoreReader {
  readonly location: string;
  protected readonly native: NativeSharedReader;
  private readonly port: MessagePort;
  private readonly waiting = new Map<number, { resolve: (v: boolean) => void; reject: (e: Error) => void }>();
  private seq = 0;
  private closed = false;
  private closing: Promise<void> | undefined;
  private barrier: { gen: number; promise: Promise<void> } | undefined;
  private readonly inFlight = new Set<Promise<unknown>>(); // forwarded writes: close() waits for them

  /** @internal Use openShared(). */
  constructor(handle: SharedHandle) {
    super();
    this.location = handle.location;
    this.native = new (loadBinding().NativeSharedReader)(this.keyBuf, this.valueBuf, this.metaBuf);
    this.native.attach(handle.id);
    this.port = handle.port;
    this.port.on('message', (reply: Reply) => this.settle(reply));
    // The owner closed (or its thread ended): writes in flight can no longer be answered.
    this.port.on('close', () => this.failWaiting());
    this.port.unref();
  }

  /** 'open' until close() is called or the owner closes the store. */
  get status(): 'open' | 'closed' {
    return this.closed ? 'closed' : 'open';
  }

  /** Like get(), with the lookup run on the libuv thread pool. */
  getAsync(key: Key): Promise<Buffer | undefined> {
    try {
      this.assertOpen();
      return this.native.getAsync(this.encodeKey(key));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** As Store#stats(), as of the owner's latest commit group (lastCheckpointAt is 0). */
  stats(): StoreStats {
    this.assertOpen();
    return toStats(this.native.stats(), 0);
  }

  /**
   * @internal The server's read barrier: undefined if every write the owner placed so far is
   * durable; else a promise that settles when it is (rejects if that commit failed).
   */
  _durableBarrier(): Promise<void> | undefined {
    const gen = this.native.barrierGen();
    if (gen === 0) return undefined;
    if (this.barrier === undefined || this.barrier.gen < gen) {
      this.barrier = { gen, promise: this.forward({ op: 'durable', gen }).then(() => undefined) };
      this.barrier.promise.catch(() => undefined);
    }
    return this.barrier.promise;
  }

  /** Forwarded to the owner: resolves when its put resolves (durable in its durability mode). */
  put(key: Key, value: Value, options?: PutOptions): Promise<void> {
    return this.forward({ op: 'put', key, value, options }).then(() => undefined);
  }

  del(key: Key): Promise<boolean> {
    return this.forward({ op: 'del', key });
  }

  batch(operations: readonly BatchOperation[]): Promise<void> {
    return this.forward({ op: 'batch', operations }).then(() => undefined);
  }

  persist(key: Key): Promise<boolean> {
    return this.forward({ op: 'persist', key });
  }

  expire(key: Key, options: PutOptions): Promise<boolean> {
    return this.forward({ op: 'expire', key, options });
  }

  /** Resolves once everything the owner wrote before it received this call is fdatasynced. */
  flush(): Promise<void> {
    return this.forward({ op: 'flush' }).then(() => undefined);
  }

  /**
   * Waits for this handle's writes in flight, then releases it (the owner's store stays
   * open). Idempotent. A worker that exits without calling it releases it too.
   */
  close(): Promise<void> {
    if (this.closing === undefined) {
      this.closed = true;
      this.closing = Promise.allSettled([...this.inFlight]).then(() => {
        this.native.close();
        this.port.close();
      });
    }
    return this.closing;
  }

  protected assertOpen(): void {
    if (this.closed) throw closedError();
  }

  private forward<T extends boolean | undefined>(op: WriteOp): Promise<T> {
    if (this.closed) return Promise.reject(closedError());
    const seq = ++this.seq;
    const p = new Promise<T>((resolve, reject) => {
      if (this.waiting.size === 0) this.port.ref(); // a write in flight keeps the thread alive
      this.waiting.set(seq, { resolve: resolve as (v: boolean) => void, reject });
      try {
        this.port.postMessage({ ...op, seq });
      } catch (e) {
        this.waiting.delete(seq);
        reject(typeError(`cannot send the ${op.op} to the owner: ${(e as Error).message}`));
      }
    });
    this.inFlight.add(p);
    const done = (): void => {
      this.inFlight.delete(p);
    };
    p.then(done, done);
    return p;
  }

  private settle(reply: Reply): void {
    const w = this.waiting.get(reply.seq);
    if (w === undefined) return;
    this.waiting.delete(reply.seq);
    if (this.waiting.size === 0) this.port.unref();
    if (reply.error !== undefined) w.reject(revive(reply.error));
    else w.resolve(reply.result as boolean);
  }

  private failWaiting(): void {
    const all = [...this.waiting.values()];
    this.waiting.clear();
    for (const w of all) w.reject(closedError());
  }
}

/** In a worker thread: the store that another thread shared (Store#share()). */
export function openShared(handle: SharedHandle): SharedStore {
  if (handle === null || typeof handle !== 'object' || handle.kind !== 'hashlog.shared' ||
    typeof handle.id !== 'number' || handle.port === undefined) {
    throw typeError('openShared() takes the handle that Store#share() returned');
  }
  return new SharedStore(handle);
}
