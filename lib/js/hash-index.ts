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
// Resizing is incremental both ways, as in native: a resize allocates the new table and
// then migrates a few old home buckets per write. During a migration an entry whose home in
// the OLD table is below the cursor lives in the new table, every other entry in the old;
// each table is valid on its own, so a lookup probes one (docs/DESIGN.md, section 7).
//
// A tag match is confirmed by the caller (it reads the key from the log).

export const WAYS = 5;
const MIN_LOG2 = 3;
const MAX_LOG2 = 28; // 2^28 buckets * 5 entries: typed arrays of 5 GiB, past any machine here
const LOAD_NUM = 7;
const LOAD_DEN = 8;
// Shrink under 1/8 of the threshold; the new size puts the load in (7/32, 7/16]: no oscillation.
const SHRINK_DEN = 8;
const MAX_SHRINK_LOG2 = 2; // a shrink at most quarters the table (see STEP_BUCKETS)
// Buckets of the smaller table migrated per reserved entry: the migration ends within
// small-buckets/4 reservations, so the smaller table takes at most 1/20 of its capacity in
// inserts meanwhile and never fills (native kStepBuckets).
const STEP_BUCKETS = 4;

/** Confirms that the record at (slot, offset) holds the key being looked up. */
export type Confirm = (slot: number, offset: number) => boolean;

export class IndexFullError extends Error {}

function threshold(buckets: number): number {
  return Math.floor(buckets * WAYS * LOAD_NUM / LOAD_DEN);
}

function log2For(keys: number): number {
  let log2 = MIN_LOG2;
  while (log2 < MAX_LOG2 && threshold(2 ** log2) < keys) log2++;
  return log2;
}

// One open-addressed table, valid on its own (every entry reachable from its home).
class Table {
  readonly tags: Uint32Array;
  readonly offsets: Uint32Array;
  readonly words: Uint32Array; // slot | extra << 16
  readonly mask: number;
  readonly shift: number;

  constructor(readonly log2: number) {
    const n = 2 ** log2 * WAYS;
    this.tags = new Uint32Array(n);
    this.offsets = new Uint32Array(n);
    this.words = new Uint32Array(n);
    this.mask = 2 ** log2 - 1;
    this.shift = 32 - log2;
  }

  get buckets(): number {
    return this.mask + 1;
  }

  home(tag: number): number {
    return tag >>> this.shift;
  }

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

  place(tag: number, word: number, offset: number): void {
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

  // Empties entry e and shifts later entries back (no tombstones).
  eraseAt(e: number): void {
    const tags = this.tags;
    let hole = e;
    tags[hole] = 0;
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

  forEachInTagRange(first: number, last: number, fn: (tag: number, e: number) => void): void {
    const nb = this.mask + 1;
    const unit = 2 ** this.shift;
    const b0 = Math.floor(first / unit);
    const b1 = Math.floor((last + unit - 1) / unit);
    if (b0 >= b1) return;
    // An entry homed in [b0, b1) is stored at or after its home, within the run of full
    // buckets that follows it: scan on past b1 while the run continues (wrapping).
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
        if (home >= b0 && home < b1 && t >= first && t < last) fn(t, e);
      }
      prevFull = full;
    }
  }
}

/**
 * An entry handle (from find) is valid until the next change, and a migration step (in
 * ensureRoomFor, step, shrinkToFit) is a change. Handles below cur.tags.length point into
 * the new table, the others into the old one.
 */
export class HashIndex {
  private cur!: Table; // the table being filled (the only one outside a migration)
  private old: Table | null = null; // the table being emptied
  private cursor = 0; // old home buckets below it have been migrated
  private stepBuckets = STEP_BUCKETS; // old buckets per reserved entry in this migration
  private count = 0;
  private maxCount = 0;

  constructor(keys = 0) {
    this.init(keys);
  }

  /** Allocates a table that holds at least `keys` entries below the load threshold. */
  init(keys: number): void {
    this.cur = new Table(log2For(keys));
    this.old = null;
    this.cursor = 0;
    this.maxCount = threshold(this.cur.buckets);
    this.count = 0;
  }

  static tagOf(hi: number): number {
    return hi === 0 ? 1 : hi; // 0 marks an empty entry
  }

  // The table that holds (or would hold) `tag`: the migration cursor splits the old homes.
  private tableFor(tag: number): Table {
    const old = this.old;
    return old !== null && old.home(tag) >= this.cursor ? old : this.cur;
  }

  /** The entry whose hash matches and for which confirm() is true, or -1. */
  find(tag: number, extra: number, confirm: Confirm): number {
    const table = this.tableFor(tag);
    const e = table.find(tag, extra, confirm);
    return e < 0 || table === this.cur ? e : e + this.cur.tags.length;
  }

  /** Calls fn(slot, offset) for every entry whose 48 hash bits match (candidates, unconfirmed). */
  candidates(tag: number, extra: number, fn: Confirm): void {
    this.find(tag, extra, (s, o) => {
      fn(s, o);
      return false;
    });
  }

  // Handles index the new table's entries first, then the old one's (no allocation per call).
  slotOf(e: number): number {
    const n = this.cur.tags.length;
    return e < n ? this.cur.words[e] & 0xffff : (this.old as Table).words[e - n] & 0xffff;
  }

  offsetOf(e: number): number {
    const n = this.cur.tags.length;
    return e < n ? this.cur.offsets[e] : (this.old as Table).offsets[e - n];
  }

  /** Adds an entry. REQUIRES: no entry for this key; ensureRoomFor(1) succeeded. */
  insert(tag: number, extra: number, slot: number, offset: number): void {
    this.insertEntry(tag, (slot | (extra << 16)) >>> 0, offset);
  }

  /** Adds an entry exactly as forEachEntry reported it. REQUIRES: as insert. */
  insertEntry(tag: number, word: number, offset: number): void {
    this.tableFor(tag).place(tag, word, offset);
    this.count++;
  }

  replace(e: number, slot: number, offset: number): void {
    const n = this.cur.tags.length;
    const t = e < n ? this.cur : (this.old as Table);
    const i = e < n ? e : e - n;
    t.words[i] = ((t.words[i] & 0xffff0000) | slot) >>> 0;
    t.offsets[i] = offset;
  }

  erase(e: number): void {
    const n = this.cur.tags.length;
    if (e < n) this.cur.eraseAt(e);
    else (this.old as Table).eraseAt(e - n);
    this.count--;
  }

  // Starts migrating every entry into a fresh table of 2^log2 buckets (finishing any
  // migration in progress first). Throws (out of memory) with the index unchanged.
  private beginMigration(log2: number): void {
    this.migrate(Infinity);
    const fresh = new Table(log2);
    this.old = this.cur;
    this.cur = fresh;
    this.cursor = 0;
    this.maxCount = threshold(fresh.buckets);
    // Paced by the smaller table, so that it cannot fill before the migration ends.
    this.stepBuckets = STEP_BUCKETS * Math.max(1, this.old.buckets / fresh.buckets);
  }

  // Migrates the entries of the next `buckets` old home buckets; drops the old table when
  // the cursor reaches its end. Native Migrate has the reasoning.
  private migrate(buckets: number): void {
    const old = this.old;
    if (old === null || buckets === 0) return;
    const nb = old.buckets;
    const end = nb - this.cursor <= buckets ? nb : this.cursor + buckets;
    // The stretch that holds the entries homed in [cursor, end): on past `end` while the
    // run of full buckets continues. One that reaches the last bucket may hold entries homed
    // near the end that rely on buckets the pass would empty later: then erase one by one.
    const stretchEnd = this.stretchEnd(old, end);
    if (stretchEnd < nb) this.moveByReinsertion(old, end, stretchEnd);
    else this.moveByErase(old, end);
    this.cursor = end;
    if (end === nb) {
      this.old = null;
      this.cursor = 0;
    }
  }

  private stretchEnd(old: Table, end: number): number {
    const start = this.cursor;
    let prevFull = true;
    let i = start;
    for (; (i < end || prevFull) && i - start < old.buckets; i++) {
      const base = (i & old.mask) * WAYS;
      prevFull = true;
      for (let e = base; e < base + WAYS; e++) if (old.tags[e] === 0) prevFull = false;
    }
    return i;
  }

  // Entries homed in range go to the new table; every other entry of the stretch moves back
  // to the first free entry from its home if one opened up in an earlier bucket (deletion by
  // re-insertion, Knuth 6.4 R): one pass. REQUIRES: stretchEnd < buckets (native).
  private moveByReinsertion(old: Table, end: number, stretchEnd: number): void {
    const cur = this.cur;
    const start = this.cursor;
    const { tags, words, offsets } = old;
    let holeLo = start; // every bucket in [start, holeLo) is full
    for (let i = start; i < stretchEnd; i++) {
      const base = i * WAYS; // i < buckets: no wrap
      for (let e = base; e < base + WAYS; e++) {
        const t = tags[e];
        if (t === 0) continue;
        const home = old.home(t);
        if (home >= start && home < end) {
          cur.place(t, words[e], offsets[e]);
        } else {
          // One homed past i wrapped from the end: it may move back as far as the cursor.
          const from = Math.max(home > i ? start : home, holeLo);
          let to = -1;
          for (let j = from; j < i && to < 0; j++) {
            for (let f = j * WAYS; f < j * WAYS + WAYS; f++) {
              if (tags[f] === 0) {
                to = f;
                if (from === holeLo) holeLo = j;
                break;
              }
            }
          }
          if (to < 0) {
            if (from === holeLo) holeLo = i;
            continue; // no free entry before it: it stays
          }
          tags[to] = t;
          words[to] = words[e];
          offsets[to] = offsets[e];
        }
        tags[e] = 0;
      }
    }
  }

  // Each entry homed in range goes to the new table and is erased with the back-shift:
  // correct for a stretch that wraps all the way round, at O(run) per entry.
  private moveByErase(old: Table, end: number): void {
    const cur = this.cur;
    const nb = old.buckets;
    const start = this.cursor;
    const tags = old.tags;
    let prevFull = true;
    for (let i = start; i < end || prevFull; i++) {
      if (i - start >= nb) break; // a full circle
      const base = (i & old.mask) * WAYS;
      let full = true;
      for (let e = base; e < base + WAYS; ) {
        const t = tags[e];
        if (t === 0) {
          full = false;
          e++;
          continue;
        }
        const home = old.home(t);
        if (home < start || home >= end) {
          e++;
          continue;
        }
        cur.place(t, old.words[e], old.offsets[e]);
        // The back-shift may move a later entry (maybe also in range) into this very entry,
        // and only ever into later buckets after it: look at the same entry again.
        old.eraseAt(e);
      }
      prevFull = full;
    }
  }

  // Starts a shrink when entries are under 1/SHRINK_DEN of the threshold. Out of memory
  // leaves the big table, which still works.
  private maybeShrink(): void {
    const log2 = this.cur.log2;
    if (this.old !== null || log2 <= MIN_LOG2 || this.count * SHRINK_DEN >= this.maxCount) return;
    // Room for twice the entries: the load lands in (7/32, 7/16], far from both triggers.
    const target = Math.max(log2For(2 * this.count), log2 - MAX_SHRINK_LOG2);
    if (target >= log2) return;
    try {
      this.beginMigration(target);
    } catch {
      // The larger table still works.
    }
  }

  /**
   * Room for `more` inserts, none of which can then fail: advances a migration in progress
   * by `more` steps and grows if needed (starting a migration). Throws
   * IndexFullError when the table cannot grow. Invalidates handles.
   */
  ensureRoomFor(more: number): void {
    this.migrate(this.stepBuckets * more);
    // No shrink starts here: recovery reserves one entry at a time into a table sized for
    // every put record, which would look far too big until the end. Deletes start shrinks.
    if (this.count + more <= this.maxCount) return;
    const log2 = Math.max(log2For(this.count + more), this.cur.log2 + 1);
    if (log2 > MAX_LOG2 || 2 ** log2 * WAYS < this.count + more) throw new IndexFullError('index is at its maximum size');
    try {
      this.beginMigration(log2);
    } catch (e) {
      // Out of memory (or past the typed-array limit): the old table stays.
      throw new IndexFullError(`index cannot grow: ${(e as Error).message}`);
    }
    this.migrate(this.stepBuckets * more);
  }

  /** One migration step, or the start of a shrink: for deletes, before their lookup. */
  step(): void {
    if (this.old !== null) this.migrate(this.stepBuckets);
    else this.maybeShrink();
  }

  /** Removes every entry (keeps the new table of a migration, drops the old one). */
  clear(): void {
    this.old = null;
    this.cursor = 0;
    this.cur.tags.fill(0);
    this.count = 0;
  }

  /** Finishes any migration, then rebuilds at once into the smallest table that holds the entries when it is under a quarter full. */
  shrinkToFit(): void {
    this.migrate(Infinity);
    if (this.count * 4 >= this.maxCount) return;
    const log2 = log2For(this.count + 1);
    if (log2 >= this.cur.log2) return;
    try {
      this.beginMigration(log2);
    } catch {
      return; // the larger table still works
    }
    this.migrate(Infinity);
  }

  /**
   * Calls fn(slot, offset) for each entry whose tag lies in [first, last) of the 2^32 tag
   * space, each exactly once while the index does not change, in both tables during a
   * migration (native ForEachInTagRange).
   */
  forEachInTagRange(first: number, last: number, fn: (slot: number, offset: number) => void): void {
    for (const t of this.old === null ? [this.cur] : [this.old, this.cur]) {
      t.forEachInTagRange(first, last, (_tag, e) => fn(t.words[e] & 0xffff, t.offsets[e]));
    }
  }

  /** Calls fn(tag, word, offset) for every entry, in both tables during a migration (for checkpoints, with insertEntry). */
  forEachEntry(fn: (tag: number, word: number, offset: number) => void): void {
    for (const t of this.old === null ? [this.cur] : [this.old, this.cur]) {
      const tags = t.tags;
      for (let e = 0; e < tags.length; e++) if (tags[e] !== 0) fn(tags[e], t.words[e], t.offsets[e]);
    }
  }

  get migrating(): boolean {
    return this.old !== null;
  }

  get size(): number {
    return this.count;
  }

  /** Of the table being filled (the new one during a migration). */
  get capacity(): number {
    return this.cur.buckets * WAYS;
  }

  /** Both tables during a migration. */
  get bytes(): number {
    return (this.cur.buckets + (this.old === null ? 0 : this.old.buckets)) * WAYS * 12;
  }

  /** Of the new table during a migration; scan uses it only to size its tag ranges. */
  get bucketCount(): number {
    return this.cur.buckets;
  }
}
