// HashIndex: the open-addressed hash table of native/hash_index.h in typed arrays: no key
// bytes, only 48 bits of each key's hash and where its newest record is.
//
// Each bucket has five entries, each a 32-bit tag (the hash's high half; 0 = empty), the
// record's 32-bit offset, and a 32-bit word of segment slot (low 16 bits) and 16 more hash
// bits (high 16): 12 bytes per entry in three parallel Uint32Arrays (no seqlock word: no
// other thread reads this table). A key's home bucket is the top log2(buckets) bits of its
// tag, so the table resizes from the tags alone; collisions spill into the next bucket; a
// lookup stops at the first bucket with an empty entry; erase shifts entries back.
//
// A tag match is confirmed by the caller (it reads the key from the log).

export const WAYS = 5;
const MIN_LOG2 = 3;
const MAX_LOG2 = 28; // 2^28 buckets * 5 entries: typed arrays of 5 GiB, past any machine here
const LOAD_NUM = 7;
const LOAD_DEN = 8;

/** Confirms that the record at (slot, offset) holds the key being looked up. */
export type Confirm = (slot: number, offset: number) => boolean;

export class IndexFullError extends Error {}

function log2For(keys: number): number {
  let log2 = MIN_LOG2;
  while (log2 < MAX_LOG2 && Math.floor(2 ** log2 * WAYS * LOAD_NUM / LOAD_DEN) < keys) log2++;
  return log2;
}

export class HashIndex {
  tags!: Uint32Array;
  offsets!: Uint32Array;
  words!: Uint32Array; // slot | extra << 16
  private mask = 0;
  private shift = 32;
  private count = 0;
  private maxCount = 0;

  constructor(keys = 0) {
    this.init(keys);
  }

  /** Allocates a table that holds at least `keys` entries below the load threshold. */
  init(keys: number): void {
    this.allocate(log2For(keys));
    this.count = 0;
  }

  private allocate(log2: number): void {
    const n = 2 ** log2 * WAYS;
    this.tags = new Uint32Array(n);
    this.offsets = new Uint32Array(n);
    this.words = new Uint32Array(n);
    this.mask = 2 ** log2 - 1;
    this.shift = 32 - log2;
    this.maxCount = Math.floor((this.mask + 1) * WAYS * LOAD_NUM / LOAD_DEN);
  }

  static tagOf(hi: number): number {
    return hi === 0 ? 1 : hi; // 0 marks an empty entry
  }

  private home(tag: number): number {
    return tag >>> this.shift;
  }

  /** The entry whose hash matches and for which confirm() is true, or -1. */
  find(tag: number, extra: number, confirm: Confirm): number {
    const tags = this.tags;
    const words = this.words;
    for (let b = this.home(tag); ; b = (b + 1) & this.mask) {
      let full = true;
      const base = b * WAYS;
      for (let e = base; e < base + WAYS; e++) {
        const t = tags[e];
        if (t === 0) {
          full = false;
        } else if (t === tag && words[e] >>> 16 === extra && confirm(words[e] & 0xffff, this.offsets[e])) {
          return e;
        }
      }
      if (!full) return -1;
    }
  }

  /** Calls fn(slot, offset) for every entry whose 48 hash bits match (candidates, unconfirmed). */
  candidates(tag: number, extra: number, fn: Confirm): void {
    this.find(tag, extra, (s, o) => {
      fn(s, o);
      return false;
    });
  }

  slotOf(e: number): number {
    return this.words[e] & 0xffff;
  }

  offsetOf(e: number): number {
    return this.offsets[e];
  }

  private place(tag: number, word: number, offset: number): void {
    const tags = this.tags;
    for (let b = this.home(tag); ; b = (b + 1) & this.mask) {
      const base = b * WAYS;
      for (let e = base; e < base + WAYS; e++) {
        if (tags[e] === 0) {
          tags[e] = tag;
          this.words[e] = word;
          this.offsets[e] = offset;
          return;
        }
      }
    }
  }

  /** Adds an entry. REQUIRES: no entry for this key; ensureRoomFor(1) succeeded. */
  insert(tag: number, extra: number, slot: number, offset: number): void {
    this.place(tag, (slot | (extra << 16)) >>> 0, offset);
    this.count++;
  }

  replace(e: number, slot: number, offset: number): void {
    this.words[e] = ((this.words[e] & 0xffff0000) | slot) >>> 0;
    this.offsets[e] = offset;
  }

  erase(e: number): void {
    const tags = this.tags;
    let hole = e;
    tags[hole] = 0;
    this.count--;
    // Backward shift: an entry further along whose home is at or before the hole relied on
    // the hole's bucket being full to be found; move it into the hole and repeat from there.
    let h = Math.floor(hole / WAYS);
    for (let j = (h + 1) & this.mask; ; j = (j + 1) & this.mask) {
      let full = true;
      let movable = -1;
      const base = j * WAYS;
      for (let w = base; w < base + WAYS && movable < 0; w++) {
        const t = tags[w];
        if (t === 0) {
          full = false;
          continue;
        }
        const distHome = (j - this.home(t)) & this.mask;
        const distHole = (j - h) & this.mask;
        if (distHome >= distHole) movable = w;
      }
      if (movable >= 0) {
        tags[hole] = tags[movable];
        this.words[hole] = this.words[movable];
        this.offsets[hole] = this.offsets[movable];
        tags[movable] = 0;
        hole = movable;
        h = j;
        continue;
      }
      if (!full) return;
    }
  }

  private rebuild(log2: number): void {
    const { tags, words, offsets } = this;
    try {
      this.allocate(log2);
    } catch (e) {
      // Out of memory (or past the typed-array limit): keep the old table.
      this.tags = tags;
      this.words = words;
      this.offsets = offsets;
      this.mask = tags.length / WAYS - 1;
      this.shift = 32 - Math.log2(this.mask + 1);
      this.maxCount = Math.floor((this.mask + 1) * WAYS * LOAD_NUM / LOAD_DEN);
      throw new IndexFullError(`index cannot grow: ${(e as Error).message}`);
    }
    for (let e = 0; e < tags.length; e++) if (tags[e] !== 0) this.place(tags[e], words[e], offsets[e]);
  }

  /** Grows the table (if needed) so that `more` entries fit below the load threshold. */
  ensureRoomFor(more: number): void {
    if (this.count + more <= this.maxCount) return;
    const log2 = Math.max(log2For(this.count + more), Math.log2(this.mask + 1) + 1);
    if (log2 > MAX_LOG2 || 2 ** log2 * WAYS < this.count + more) throw new IndexFullError('index is at its maximum size');
    this.rebuild(log2);
  }

  /** Calls fn(tag, offset, word) for every entry in bucket order (checkpoints); word = slot | extra << 16. */
  forEachEntry(fn: (tag: number, offset: number, word: number) => void): void {
    const { tags, offsets, words } = this;
    for (let e = 0; e < tags.length; e++) if (tags[e] !== 0) fn(tags[e], offsets[e], words[e]);
  }

  /** Adds an entry as forEachEntry() reported it. REQUIRES: no entry for this key; room for it. */
  insertWord(tag: number, offset: number, word: number): void {
    this.place(tag, word, offset);
    this.count++;
  }

  /** Removes every entry (keeps the table). */
  clear(): void {
    this.tags.fill(0);
    this.count = 0;
  }

  /** Rebuilds into the smallest table that holds the entries when it is under a quarter full. */
  shrinkToFit(): void {
    if (this.count * 4 >= this.maxCount) return;
    const log2 = log2For(this.count + 1);
    if (2 ** log2 >= this.mask + 1) return;
    try {
      this.rebuild(log2);
    } catch {
      // The larger table still works.
    }
  }

  /**
   * Calls fn(slot, offset) for each entry whose home lies in [first, last) of the 2^32 tag
   * space, each exactly once while the table does not change (native ForEachInTagRange).
   */
  forEachInTagRange(first: number, last: number, fn: (slot: number, offset: number) => void): void {
    const nb = this.mask + 1;
    const unit = 2 ** this.shift;
    const b0 = Math.floor(first / unit);
    const b1 = Math.floor((last + unit - 1) / unit);
    if (b0 >= b1) return;
    let prevFull = true;
    for (let i = b0; i < b1 || prevFull; i++) {
      if (i - b0 >= nb) break; // a full circle
      const base = (i & this.mask) * WAYS;
      let full = true;
      for (let e = base; e < base + WAYS; e++) {
        const t = this.tags[e];
        if (t === 0) {
          full = false;
          continue;
        }
        const home = this.home(t);
        if (home >= b0 && home < b1 && t >= first && t < last) fn(this.words[e] & 0xffff, this.offsets[e]);
      }
      prevFull = full;
    }
  }

  get size(): number {
    return this.count;
  }

  get capacity(): number {
    return (this.mask + 1) * WAYS;
  }

  get bytes(): number {
    return (this.mask + 1) * WAYS * 12;
  }

  get bucketCount(): number {
    return this.mask + 1;
  }
}
