// Messages between the threads of a threaded server, kept cheap: a command's arguments travel
// in one exactly sized buffer that is transferred, not cloned (a Buffer from a socket is a
// view of a much larger one, which postMessage would copy whole), and messages posted in one
// turn of the event loop go as one batch.

/** A command's arguments packed into one transferable buffer. */
export interface PackedArgs {
  lens: number[];
  data: Uint8Array;
}

export function packArgs(args: Buffer[]): PackedArgs {
  let total = 0;
  for (const a of args) total += a.length;
  const data = new Uint8Array(total);
  const lens = new Array<number>(args.length);
  let at = 0;
  args.forEach((a, i) => {
    data.set(a, at);
    at += a.length;
    lens[i] = a.length;
  });
  return { lens, data };
}

export function unpackArgs(p: PackedArgs, from = 0, count = p.lens.length): { args: Buffer[]; end: number } {
  let at = 0;
  for (let i = 0; i < from; i++) at += p.lens[i];
  const args: Buffer[] = [];
  for (let i = from; i < from + count; i++) {
    args.push(Buffer.from(p.data.buffer, p.data.byteOffset + at, p.lens[i]));
    at += p.lens[i];
  }
  return { args, end: from + count };
}

/** A copy of bytes in a buffer of their own (transferable without copying anything else). */
export function ownBuffer(bytes: Buffer): Uint8Array {
  const out = new Uint8Array(bytes.length);
  out.set(bytes);
  return out;
}

export interface Batch<T> {
  type: 'batch';
  items: T[];
}

/** Collects messages and posts them once per event-loop turn, transferring their buffers. */
export class Outbox<T> {
  private items: T[] = [];
  private transfer: ArrayBuffer[] = [];
  private scheduled = false;
  private readonly post: (batch: Batch<T>, transfer: ArrayBuffer[]) => void;

  constructor(post: (batch: Batch<T>, transfer: ArrayBuffer[]) => void) {
    this.post = post;
  }

  push(item: T, transfer?: Uint8Array): void {
    this.items.push(item);
    if (transfer !== undefined) this.transfer.push(transfer.buffer as ArrayBuffer);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.scheduled = false;
    if (this.items.length === 0) return;
    const items = this.items;
    const transfer = this.transfer;
    this.items = [];
    this.transfer = [];
    this.post({ type: 'batch', items }, transfer);
  }
}
