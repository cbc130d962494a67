// The native addon: loaded once (prebuild if one matches, else the local build) and typed.
import path from 'node:path';
import nodeGypBuild from 'node-gyp-build';
import { HashlogError } from './errors';
import type { NativeReader } from './reader';

/** The flush callback: generations written/synced, a rejected range, and its error. */
export type FlushCallback = (
  writtenGen: number,
  syncedGen: number,
  rejectFirst: number,
  rejectLast: number,
  error: HashlogError | undefined,
) => void;

export interface NativeStats {
  keys: number;
  /** Index entries: live keys plus expired ones whose records compaction has not dropped yet. */
  indexedKeys?: number;
  liveBytes: number;
  garbageBytes: number;
  logBytes: number;
  segments: number;
  indexCapacity: number;
  indexBytes: number;
  fsyncs: number;
  seq: number;
  compactions?: number;
  compactedBytesRead?: number;
  compactedBytesWritten?: number;
  /** Record bytes appended since the last checkpoint (or since an open that had none). */
  bytesSinceCheckpoint: number;
  /** How long the last checkpoint's snapshot held the JavaScript thread, in ms. */
  checkpointPauseMs: number;
  /** Worker-thread handles attached (openShared), with their getAsync reads in flight. */
  sharedReaders?: number;
}

export interface NativeRecovery {
  segments: number;
  records: number;
  bytesScanned: number;
  discardedBytes: number;
  dropped: string[];
  millis: number;
  /** 'used' if open loaded the CHECKPOINT file, else why it scanned the whole log ('none', 'bad CRC', ...). */
  checkpoint: string;
  /** Index entries loaded from the checkpoint (0 without one). */
  checkpointEntries: number;
  /** Record bytes the scan applied: the log after the checkpoint, or all of it. */
  replayedBytes: number;
}

/** The private contract of native/binding/store_wrap.cc. */
export interface NativeStore {
  open(dir: string, sync: boolean, flushIntervalMs: number, segmentSize: number, maxValueSize: number,
    repair: boolean, maxKeys: number, maxDiskBytes: number, readOnly: boolean, useCheckpoint: boolean): Promise<void>;
  get(keyLength: number): number;
  getInto(keyLength: number, target: Buffer): number;
  has(keyLength: number): boolean;
  put(keyLength: number, value: Uint8Array | null, valueLength: number, expiresAt: number): number;
  del(keyLength: number): number;
  flush(): number;
  kick(): void;
  close(): void;
  setActive(active: boolean): void;
  stats(): NativeStats;
  recovery(): NativeRecovery;
  /** [bytes scanned, bytes to scan] of the recovery that open() runs; callable while it runs. */
  recoveryProgress?(): [number, number];
  /**
   * [[segment file name, bytes written, end, flags], ...] of every segment with records, in log
   * order: written is whole commit groups; end is where its records end (final for all but
   * the newest); flags 1 = compacted (docs/FORMAT.md).
   */
  writtenSegments?(): [string, number, number, number][];
  /** [[name, flags, bytes, liveBytes, compactable], ...] in log order (lib/compaction.ts). */
  listSegments?(): [string, number, number, number, boolean][];
  /** Compaction phases (native/compaction.h); absent when the engine cannot compact. */
  compactStart?(maxOutputSize: number, bytesPerSecond: number, keepFromFile?: number): boolean;
  compactMark?(budget: number): boolean;
  compactCopy?(): Promise<void>;
  compactInstall?(budget: number): boolean;
  compactSettle?(): boolean;
  compactUnlink?(): Promise<void>;
  compactRetire?(): boolean;
  compactAbort?(): void;
  /** The next write starts a new segment (compaction then reaches the old one's garbage). */
  rollSegment?(): void;
  setFault(op?: FaultOp, afterCalls?: number, errno?: number, sticky?: boolean): void;
  batch(ops: Uint8Array): number;
  expiresAt(keyLength: number): number;
  setExpiry(keyLength: number, expiresAt: number, onlyIfExpiring: boolean): number;
  appendClear(): number;
  applyClear(): void;
  scan(cursor: number, count: number): [number, Buffer[]];
  getMany(count: number): number;
  getAsync(keyLength: number): Promise<Buffer | undefined>;
  size(): number;
  setClockOffset(ms: number): void;
  /**
   * Snapshots the store for a checkpoint (on this thread); returns the generation whose
   * fdatasync must be reported before checkpointWrite().
   */
  checkpointBegin(): number;
  /** Writes the snapshot off the JavaScript thread; rejects if a commit failed since checkpointBegin(). */
  checkpointWrite(): Promise<void>;
  /** stats().bytesSinceCheckpoint without building the stats object (checked after every commit). */
  bytesSinceCheckpoint(): number;
  /** Registers the store for worker threads; the id a NativeSharedReader attaches to (native only). */
  share?(): number;
}

/** The private contract of native/binding/shared_wrap.cc: a store read from another thread. */
export interface NativeSharedReader extends NativeReader {
  attach(id: number): void;
  close(): void;
  getAsync(keyLength: number): Promise<Buffer | undefined>;
  /** 0 if every write placed so far is durable, else the commit group to wait for. */
  barrierGen(): number;
}

/**
 * A syscall of the I/O seam that tests can make fail (native/file.h, lib/js/file.ts).
 * 'read' is the js engine's whole-segment read at open, where the native engine maps ('mmap').
 */
export type FaultOp = 'open' | 'pwrite' | 'allocate' | 'fdatasync' | 'syncdir' | 'ftruncate' | 'mmap' | 'rename' | 'unlink'
  | 'read';

export interface NativeBinding {
  NativeStore: new (keyBuffer: Buffer, valueBuffer: Buffer, metaBuffer: Buffer, onFlush: FlushCallback) => NativeStore;
  NativeSharedReader: new (keyBuffer: Buffer, valueBuffer: Buffer, metaBuffer: Buffer) => NativeSharedReader;
  setErrorClass(cls: typeof HashlogError): void;
  /** A duplicate (close-on-exec) of a descriptor, or -1. */
  dupFd(fd: number): number;
  crc32cHardware: boolean;
}

let cached: NativeBinding | undefined;
let loader: (() => NativeBinding) | undefined;

/** Loads the addon (throws the loader's error when no build or prebuild fits). */
export function loadBinding(): NativeBinding {
  if (loader !== undefined) return loader();
  if (cached === undefined) {
    const binding = nodeGypBuild(path.join(__dirname, '..')) as NativeBinding;
    binding.setErrorClass(HashlogError);
    cached = binding;
  }
  return cached;
}

/** @internal Tests: replaces the addon loader (undefined restores it), to simulate a missing build. */
export function _setBindingLoaderForTesting(fn: (() => NativeBinding) | undefined): void {
  loader = fn;
}
