// Positions in a store's log, as one number: segment file number * 2^32 + offset. Segment
// files are at most 1 GiB, so the offset fits, and the number grows with the log, which makes
// "has this replica got that far" one comparison (WAIT, INFO's offsets).
//
// Compacted segments (docs/FORMAT.md) have no positions: they come first in the log but carry
// newer file numbers. A full resync streams them as a snapshot, position 0 ("nothing applied
// yet"), before the first ordinary segment.
import type { Store } from '../../store';

const SHIFT = 2 ** 32;
export const SEGMENT_HEADER_SIZE = 32; // docs/FORMAT.md

export function position(file: number, offset: number): number {
  return file * SHIFT + offset;
}

export function fileOf(p: number): number {
  return Math.floor(p / SHIFT);
}

export function offsetOf(p: number): number {
  return p % SHIFT;
}

/** One segment of the log as the files hold it. */
export interface LogSegment {
  file: number;
  name: string;
  /** Bytes in the file (whole commit groups). */
  written: number;
  /** Where its records end; final for every segment but the newest. */
  end: number;
  /** A compaction output: part of the snapshot, never addressed by a position. */
  compacted: boolean;
}

const COMPACTED = 1; // segment header flag (docs/FORMAT.md)

/** The segments with records, in log order: compacted ones first. */
export function logSegments(store: Store): LogSegment[] {
  return store._writtenSegments().map(([name, written, end, flags]) => (
    { file: Number.parseInt(name, 10), name, written, end, compacted: (flags & COMPACTED) !== 0 }));
}

/** The position just past the last record in the files (0 for an empty log). */
export function logEnd(store: Store): number {
  const segs = logSegments(store);
  const last = segs[segs.length - 1];
  return last === undefined ? 0 : position(last.file, last.written);
}

/**
 * Where a full resync starts: 0 when there is a snapshot (compacted segments) to send first,
 * else the first record of the oldest segment.
 */
export function logStart(store: Store): number {
  const first = logSegments(store)[0];
  return first === undefined || first.compacted ? 0 : position(first.file, SEGMENT_HEADER_SIZE);
}
