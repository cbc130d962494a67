// The replica's side of the log: decodes the primary's records (each CRC-checked) and applies
// them through the store's own API, so the replica's log is its own, with its own sequence
// numbers. Applying is idempotent (puts and deletes of whole values, absolute expiries, whole
// batches, clears), so re-applying from an older position after a crash ends in the same state.
import {
  DecodeResult, decodeRecord, RECORD_HEADER_SIZE, RecordHeader, TYPE_BATCH, TYPE_CLEAR, TYPE_DELETE, TYPE_PUT,
} from '../../js/log-format';
import type { BatchOperation, Store } from '../../store';

export class ReplicationError extends Error {}

/**
 * Applies every whole record in `bytes`; returns how many bytes that was (the rest is the
 * start of a record that continues in the next frame) and the writes' promise.
 */
export function applyRecords(store: Store, bytes: Buffer): { used: number; done: Promise<unknown> } {
  const h = new RecordHeader();
  const pending: Promise<unknown>[] = [];
  let at = 0;
  while (at < bytes.length) {
    const r = decodeRecord(bytes, at, bytes.length - at, h);
    if (r === DecodeResult.Truncated) break;
    if (r !== DecodeResult.Ok) throw new ReplicationError(`bad record from the primary (${DecodeResult[r]})`);
    const p = applyOne(store, h, bytes, at);
    if (p !== undefined) pending.push(p);
    at += h.totalSize;
  }
  return { used: at, done: Promise.all(pending) };
}

function applyOne(store: Store, h: RecordHeader, b: Buffer, at: number): Promise<unknown> | undefined {
  const key = b.subarray(at + RECORD_HEADER_SIZE, at + RECORD_HEADER_SIZE + h.keySize);
  const value = b.subarray(at + RECORD_HEADER_SIZE + h.keySize, at + h.totalSize);
  switch (h.type) {
    case TYPE_PUT:
      return store.put(key, value, h.expiresAt === 0 ? undefined : { expiresAt: h.expiresAt });
    case TYPE_DELETE:
      return store.del(key);
    case TYPE_BATCH:
      return store.batch(batchOps(value));
    case TYPE_CLEAR:
      return store.clear();
    default:
      return undefined;
  }
}

// A batch's value is its inner PUT/DELETE records (docs/FORMAT.md).
function batchOps(inner: Buffer): BatchOperation[] {
  const h = new RecordHeader();
  const ops: BatchOperation[] = [];
  for (let at = 0; at < inner.length; at += h.totalSize) {
    if (decodeRecord(inner, at, inner.length - at, h) !== DecodeResult.Ok) throw new ReplicationError('bad batch from the primary');
    const key = inner.subarray(at + RECORD_HEADER_SIZE, at + RECORD_HEADER_SIZE + h.keySize);
    if (h.type === TYPE_DELETE) ops.push({ type: 'del', key });
    else {
      const value = inner.subarray(at + RECORD_HEADER_SIZE + h.keySize, at + h.totalSize);
      ops.push(h.expiresAt === 0 ? { type: 'put', key, value } : { type: 'put', key, value, expiresAt: h.expiresAt });
    }
  }
  return ops;
}
