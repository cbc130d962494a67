// LockFile: one process at a time owns a store directory (native/lock_file.h).
//
// The contract both engines honour is the LOCK file: created with O_EXCL, holding
// "<pid> <process start time>\n" (field 22 of /proc/<pid>/stat, so a reused pid is not
// mistaken for the owner); a LOCK whose process is gone is taken over. Node has no flock,
// so unlike the native engine this one cannot see a native read-only opener (which holds
// only a shared flock on the directory) and cannot settle two takers of the same stale LOCK
// racing each other. Within this process a registry stands in for flock: readers share a
// directory, a writer excludes everyone.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HashlogError } from '../errors';
import { ioError, type FileSystem } from './file';

// Directories open in this process (by real path): -1 = a writer, n > 0 = n readers.
const openHere = new Map<string, number>();

/** Start time of a process in clock ticks since boot, or '' if it does not exist. */
export function processStartTime(pid: number): string {
  let line: string;
  try {
    line = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return '';
  }
  // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
  const close = line.lastIndexOf(')');
  if (close < 0) return '';
  return line.slice(close + 2).split(' ')[19] ?? '';
}

function locked(message: string): HashlogError {
  return new HashlogError(message, 'HASHLOG_LOCKED');
}

export class LockFile {
  private lockPath = '';
  private fd = -1;
  private registered = '';

  constructor(private readonly fs: FileSystem) {}

  /** Fails with HASHLOG_LOCKED when a live process (this one included) holds the directory. */
  acquire(dir: string): void {
    this.register(dir, false);
    try {
      this.lockPath = path.join(dir, 'LOCK');
      for (let attempt = 0; attempt < 8; attempt++) {
        try {
          this.fd = this.fs.openSync(this.lockPath, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL);
        } catch (e) {
          if ((e as HashlogError).errno !== os.constants.errno.EEXIST) throw e;
          const owner = this.liveOwner(this.lockPath);
          if (owner === -1) continue; // the owner just removed it
          if (owner !== 0) throw locked(`${this.lockPath} is held by process ${owner}`);
          // The owner is gone: take the LOCK over (remove it, then create it afresh).
          try {
            this.fs.unlinkSync(this.lockPath);
          } catch (u) {
            if ((u as HashlogError).errno !== os.constants.errno.ENOENT) throw u;
          }
          continue;
        }
        this.writeOwner();
        return;
      }
      throw locked(`could not take over ${this.lockPath}: it keeps changing`);
    } catch (e) {
      this.release();
      throw e;
    }
  }

  /** For a read-only open: HASHLOG_LOCKED when a writer holds the directory; changes no file. */
  acquireShared(dir: string): void {
    try {
      if (!fs.statSync(dir).isDirectory()) throw Object.assign(new Error('ENOTDIR: not a directory'), { code: 'ENOTDIR', errno: -20 });
    } catch (e) {
      throw ioError('open', dir, e);
    }
    this.register(dir, true);
    const lockPath = path.join(dir, 'LOCK');
    const owner = this.liveOwner(lockPath);
    if (owner > 0) {
      this.release();
      throw locked(`${lockPath} is held by process ${owner}`);
    }
  }

  /** Removes the LOCK file (if this store wrote it). Idempotent. */
  release(): void {
    if (this.fd >= 0) {
      try {
        this.fs.unlinkSync(this.lockPath);
      } catch {
        // Already gone: nothing to release.
      }
      this.fs.close(this.fd);
      this.fd = -1;
    }
    if (this.registered !== '') {
      const n = openHere.get(this.registered) ?? 0;
      if (n > 1) openHere.set(this.registered, n - 1);
      else openHere.delete(this.registered);
      this.registered = '';
    }
  }

  private register(dir: string, shared: boolean): void {
    let real: string;
    try {
      real = fs.realpathSync(dir);
    } catch (e) {
      throw ioError('open', dir, e);
    }
    const n = openHere.get(real) ?? 0;
    if (n === -1 || (!shared && n > 0)) {
      throw locked(`${dir}${shared ? ' is open for writing' : ' is open (for reading or writing)'} by another store, in this or another process`);
    }
    openHere.set(real, shared ? n + 1 : -1);
    this.registered = real;
  }

  // The pid of a live owner named in the LOCK at p, 0 if none is alive, -1 if there is no file.
  private liveOwner(p: string): number {
    let text: string;
    try {
      text = fs.readFileSync(p, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return -1;
      throw ioError('read', p, e);
    }
    const m = /^(\d+) (\S+)/.exec(text);
    if (!m) return 0;
    const pid = Number(m[1]);
    if (!(pid > 0)) return 0;
    const live = processStartTime(pid);
    return live !== '' && live === m[2] ? pid : 0;
  }

  private writeOwner(): void {
    const content = Buffer.from(`${process.pid} ${processStartTime(process.pid)}\n`);
    this.fs.pwriteSync(this.fd, content, 0, content.length, 0, this.lockPath);
  }
}
