// FileSystem: the one seam through which the js engine makes every file syscall, so that
// tests can make chosen calls fail (native/file.h and file_faults.cc, LevelDB's Env).
//
// Synchronous calls serve open/recovery, reads and close; the commit path (pwrite, allocate,
// fdatasync, segment creation) is asynchronous, on the libuv pool, so a sync never blocks
// the JavaScript thread.
import fs from 'node:fs';
import os from 'node:os';
import { HashlogError } from '../errors';

/** A syscall of the seam that tests can make fail (the native names, plus 'read'). */
export type JsFaultOp = 'open' | 'pwrite' | 'allocate' | 'fdatasync' | 'syncdir' | 'ftruncate' | 'mmap' | 'rename'
  | 'unlink' | 'read';

const ERRNO_NAMES = new Map<number, string>(
  Object.entries(os.constants.errno).map(([name, n]) => [n, name]),
);

/** An OS error as the native engine reports it: HASHLOG_NO_SPACE for ENOSPC/EDQUOT, else HASHLOG_IO. */
export function ioError(syscall: string, path: string, e: unknown): HashlogError {
  const err = e as NodeJS.ErrnoException;
  const errno = typeof err.errno === 'number' ? Math.abs(err.errno)
    : (err.code !== undefined ? os.constants.errno[err.code as keyof typeof os.constants.errno] : undefined) ?? 5;
  const name = ERRNO_NAMES.get(errno) ?? err.code ?? 'EIO';
  const code = name === 'ENOSPC' || name === 'EDQUOT' ? 'HASHLOG_NO_SPACE' : 'HASHLOG_IO';
  // Node's message is "ENOSPC: no space left on device, write"; keep the description.
  const m = /^[A-Z0-9]+: ([^,]*)/.exec(err.message ?? '');
  const out = new HashlogError(`${syscall} ${path}: ${m ? m[1] : name}`, code);
  out.errno = errno;
  out.syscall = syscall;
  return out;
}

function injected(errno: number): NodeJS.ErrnoException {
  const name = ERRNO_NAMES.get(errno) ?? 'EIO';
  const e: NodeJS.ErrnoException = new Error(`${name}: injected fault`);
  e.errno = -errno;
  e.code = name;
  return e;
}

const ZEROS = Buffer.alloc(1 << 20);

function writeAll(fd: number, buf: Uint8Array, off: number, len: number, pos: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (o: number, l: number, p: number): void => {
      fs.write(fd, buf, o, l, p, (err, n) => {
        if (err) reject(err);
        else if (n < l) step(o + n, l - n, p + n);
        else resolve();
      });
    };
    step(off, len, pos);
  });
}

/**
 * Every method throws (or rejects with) a HashlogError from ioError(). Paths are only for
 * messages, except where the call takes one.
 */
export class FileSystem {
  private armedOp: JsFaultOp | undefined;
  private remaining = 0;
  private errno = 0;
  private sticky = false;

  /** The call of `op` after the next `after` calls fails with `errno`; every later one too if `sticky`. */
  arm(op: JsFaultOp, after: number, errno: number, sticky: boolean): void {
    this.armedOp = op;
    this.remaining = after;
    this.errno = errno;
    this.sticky = sticky;
  }

  disarm(): void {
    this.armedOp = undefined;
  }

  // Throws the injected error for this call of `op`, if one is armed.
  private check(op: JsFaultOp): void {
    if (this.armedOp !== op) return;
    if (this.remaining > 0) {
      this.remaining--;
      return;
    }
    if (!this.sticky) this.armedOp = undefined;
    throw injected(this.errno);
  }

  openSync(path: string, flags: number, mode = 0o644): number {
    try {
      this.check('open');
      return fs.openSync(path, flags, mode);
    } catch (e) {
      throw ioError('open', path, e);
    }
  }

  close(fd: number): void {
    try {
      fs.closeSync(fd);
    } catch {
      // Closing is best effort: the descriptor is gone either way.
    }
  }

  async pwrite(fd: number, buf: Uint8Array, off: number, len: number, pos: number, path: string): Promise<void> {
    try {
      this.check('pwrite');
      await writeAll(fd, buf, off, len, pos);
    } catch (e) {
      throw ioError('pwrite', path, e);
    }
  }

  pwriteSync(fd: number, buf: Uint8Array, off: number, len: number, pos: number, path: string): void {
    try {
      this.check('pwrite');
      while (len > 0) {
        const n = fs.writeSync(fd, buf, off, len, pos);
        off += n;
        len -= n;
        pos += n;
      }
    } catch (e) {
      throw ioError('pwrite', path, e);
    }
  }

  /** Reads up to len bytes at pos; fewer only at end of file. */
  preadSync(fd: number, buf: Uint8Array, off: number, len: number, pos: number, path: string): number {
    try {
      let got = 0;
      while (got < len) {
        const n = fs.readSync(fd, buf, off + got, len - got, pos + got);
        if (n === 0) break;
        got += n;
      }
      return got;
    } catch (e) {
      throw ioError('read', path, e);
    }
  }

  /** Reads up to len bytes at pos on the libuv pool; fewer only at end of file. */
  async pread(fd: number, buf: Uint8Array, off: number, len: number, pos: number, path: string): Promise<number> {
    try {
      let got = 0;
      while (got < len) {
        const n = await new Promise<number>((resolve, reject) => {
          fs.read(fd, buf, off + got, len - got, pos + got, (err, bytes) => (err ? reject(err) : resolve(bytes)));
        });
        if (n === 0) break;
        got += n;
      }
      return got;
    } catch (e) {
      throw ioError('read', path, e);
    }
  }

  /**
   * Reads part of a segment for recovery (the step the native engine maps): preadSync, and
   * the fault op 'read' (or native's 'mmap') can fail it.
   */
  readSegmentSync(fd: number, buf: Uint8Array, off: number, len: number, pos: number, path: string): number {
    try {
      this.check('read');
      this.check('mmap');
    } catch (e) {
      throw ioError('read', path, e);
    }
    return this.preadSync(fd, buf, off, len, pos, path);
  }

  /**
   * Makes [off, off+len) exist as written zero blocks, so a later fdatasync of data there
   * need not commit allocation metadata. ENOSPC surfaces here, before any record is written.
   */
  async allocate(fd: number, off: number, len: number, path: string): Promise<void> {
    try {
      this.check('allocate');
      while (len > 0) {
        const n = Math.min(len, ZEROS.length);
        await writeAll(fd, ZEROS, 0, n, off);
        off += n;
        len -= n;
      }
    } catch (e) {
      throw ioError('pwrite', path, e);
    }
  }

  async fdatasync(fd: number, path: string): Promise<void> {
    try {
      this.check('fdatasync');
      await new Promise<void>((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())));
    } catch (e) {
      throw ioError('fdatasync', path, e);
    }
  }

  fdatasyncSync(fd: number, path: string): void {
    try {
      this.check('fdatasync');
      fs.fdatasyncSync(fd);
    } catch (e) {
      throw ioError('fdatasync', path, e);
    }
  }

  /** Makes a directory's entries (a created or removed file) durable. */
  syncDirSync(dir: string): void {
    try {
      this.check('syncdir');
      const fd = fs.openSync(dir, 'r');
      try {
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    } catch (e) {
      throw ioError('fsync', dir, e);
    }
  }

  async syncDir(dir: string): Promise<void> {
    try {
      this.check('syncdir');
      const fh = await fs.promises.open(dir, 'r');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    } catch (e) {
      throw ioError('fsync', dir, e);
    }
  }

  async rename(from: string, to: string): Promise<void> {
    try {
      this.check('rename');
      await fs.promises.rename(from, to);
    } catch (e) {
      throw ioError('rename', from, e);
    }
  }

  ftruncateSync(fd: number, size: number, path: string): void {
    try {
      this.check('ftruncate');
      fs.ftruncateSync(fd, size);
    } catch (e) {
      throw ioError('ftruncate', path, e);
    }
  }

  fileSizeSync(fd: number, path: string): number {
    try {
      return fs.fstatSync(fd).size;
    } catch (e) {
      throw ioError('fstat', path, e);
    }
  }

  unlinkSync(path: string): void {
    try {
      this.check('unlink');
      fs.unlinkSync(path);
    } catch (e) {
      throw ioError('unlink', path, e);
    }
  }

  async unlink(path: string): Promise<void> {
    try {
      this.check('unlink');
      await fs.promises.unlink(path);
    } catch (e) {
      throw ioError('unlink', path, e);
    }
  }

  readdirSync(dir: string): string[] {
    try {
      return fs.readdirSync(dir);
    } catch (e) {
      throw ioError('opendir', dir, e);
    }
  }

  mkdirSync(dir: string): void {
    try {
      fs.mkdirSync(dir, 0o755);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError('mkdir', dir, e);
    }
  }
}
