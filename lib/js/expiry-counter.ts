// ExpiryCounter: how many indexed keys have expired, without RAM per key: a count of keys
// per expiry second (native/expiry_counter.h). Keys whose expiry falls in the current
// second count as live until that second ends.

export class ExpiryCounter {
  private readonly pending = new Map<number, number>(); // expiry second -> keys, not yet folded
  private heap: number[] = []; // the seconds of `pending`, a min-heap (may hold stale ones)
  private foldedBelow = 0; // seconds below this are counted in `expired`
  private expired = 0;

  add(expiresAt: number): void {
    this.adjust(expiresAt, 1);
  }

  remove(expiresAt: number): void {
    this.adjust(expiresAt, -1);
  }

  /** Keys in the index whose expiry second ended before nowMs. */
  expiredAt(nowMs: number): number {
    const nowSec = Math.floor(nowMs / 1000);
    while (this.heap.length > 0 && this.heap[0] < nowSec) {
      const sec = this.popMin();
      const n = this.pending.get(sec);
      if (n !== undefined) {
        this.expired += n;
        this.pending.delete(sec);
      }
    }
    if (nowSec > this.foldedBelow) this.foldedBelow = nowSec;
    return this.expired;
  }

  /** Checkpoints: fn(second, keys) per second not yet folded, then fn(0, keys already expired). */
  forEachSecond(fn: (sec: number, n: number) => void): void {
    for (const [sec, n] of this.pending) fn(sec, n);
    if (this.expired !== 0) fn(0, this.expired);
  }

  /** Takes back a pair forEachSecond() reported. */
  restore(sec: number, n: number): void {
    if (sec === 0) this.expired += n;
    else this.adjust(sec * 1000, n);
  }

  clear(): void {
    this.pending.clear();
    this.heap = [];
    this.expired = 0;
  }

  private adjust(expiresAt: number, delta: number): void {
    if (expiresAt === 0) return;
    const sec = Math.floor(expiresAt / 1000);
    if (sec < this.foldedBelow) {
      this.expired += delta;
      return;
    }
    const n = (this.pending.get(sec) ?? 0) + delta;
    if (n === 0) {
      this.pending.delete(sec);
    } else {
      if (!this.pending.has(sec)) this.push(sec);
      this.pending.set(sec, n);
    }
  }

  private push(v: number): void {
    const h = this.heap;
    h.push(v);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p] <= v) break;
      h[i] = h[p];
      i = p;
    }
    h[i] = v;
  }

  private popMin(): number {
    const h = this.heap;
    const top = h[0];
    const last = h.pop() as number;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= h.length) break;
        const c = l + 1 < h.length && h[l + 1] < h[l] ? l + 1 : l;
        if (h[c] >= last) break;
        h[i] = h[c];
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}
