// LockFile: one process at a time owns a store directory (native/lock_file.h).
//
// The contract both engines honour is the LOCK file: created exclusively (the native engine
// with O_EXCL, this one with link(), which also fails if the file exists), holding
// "<pid> <process start time>\n" (field 22 of /proc/<pid>/stat, so a reused pid is not
// mistaken for the owner); a LOCK whose process is gone is taken over. Node has no flock,
// so unlike the native engine this one cannot see a native read-only opener (which holds
// only a shared flock on the directory), and a takeover is settled by moving the stale file
// aside and checking it (two racing takers are caught; three at the same instant are not).
// Within this process a registry stands in for flock: readers share a directory, a writer
// excludes everyone.
import fs from 'node:fs';
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

const SLEEPER = new Int32Array(new SharedArrayBuffer(4));

/** The pid of the live process a LOCK's text names; 0 if it is gone; -1 if the text is unreadable. */
export function liveOwner(text: string): number {
  const m = /^(\d+) (\S+)\n/.exec(text);
  if (!m) return -1;
  const pid = Number(m[1]);
  if (!(pid > 0)) return 0;
  const live = processStartTime(pid);
  return live !== '' && live === m[2] ? pid : 0;
}

function locked(message: string): HashlogError {
  return new HashlogError(message, 'HASHLOG_LOCKED');
}

export class LockFile {
  private lockPath = '';
  private owned = ''; // the content of the LOCK this store created
  private registered = '';

  constructor(private readonly fs: FileSystem) {}

  /** Fails with HASHLOG_LOCKED when a live process (this one included) holds the directory. */
  acquire(dir: string): void {
    this.register(dir, false);
    this.lockPath = path.join(dir, 'LOCK');
    const content = `${process.pid} ${processStartTime(process.pid)}\n`;
    // The LOCK is created whole: written under a private name, then linked into place (link
    // fails if LOCK exists, as O_EXCL does), so no reader ever sees it empty. Without flock,
    // an empty LOCK could only mean a creator that has not written its pid yet.
    const tmp = `${this.lockPath}.${process.pid}.tmp`;
    try {
      this.writeFile(tmp, content);
      let unparsed = 0;
      for (let attempt = 0; attempt < 8; attempt++) {
        try {
          fs.linkSync(tmp, this.lockPath);
          this.owned = content;
          return;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError('link', this.lockPath, e);
        }
        const text = this.readLock(this.lockPath);
        if (text === undefined) continue; // the owner just removed it
        const owner = liveOwner(text);
        if (owner > 0) throw locked(`${this.lockPath} is held by process ${owner}`);
        if (owner < 0 && unparsed++ < 10) {
          // A native engine writes its pid after creating the file (under its flock): give
          // it time before taking an unreadable LOCK for a dead one.
          Atomics.wait(SLEEPER, 0, 0, 10);
          attempt--;
          continue;
        }
        this.takeOver(text);
      }
      throw locked(`could not take over ${this.lockPath}: it keeps changing`);
    } catch (e) {
      this.release();
      throw e;
    } finally {
      try {
        fs.unlinkSync(tmp);
      } catch {
        // Already gone.
      }
    }
  }

  // Removes a LOCK whose owner is gone. It is first moved aside and checked, so that a taker
  // that lost a race to another one puts the winner's fresh LOCK back instead of deleting it.
  private takeOver(judged: string): void {
    const aside = `${this.lockPath}.stale-${process.pid}`;
    try {
      fs.renameSync(this.lockPath, aside);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw ioError('rename', this.lockPath, e);
    }
    if (this.readLock(aside) !== judged) {
      try {
        fs.linkSync(aside, this.lockPath);
      } catch {
        // Someone created a LOCK meanwhile: it stands.
      }
    }
    fs.rmSync(aside, { force: true });
  }

  private writeFile(p: string, content: string): void {
    const fd = this.fs.openSync(p, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC);
    try {
      const b = Buffer.from(content);
      this.fs.pwriteSync(fd, b, 0, b.length, 0, p);
    } finally {
      this.fs.close(fd);
    }
  }

  // The LOCK's text, or undefined if there is no such file.
  private readLock(p: string): string | undefined {
    try {
      return fs.readFileSync(p, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw ioError('read', p, e);
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
    const text = this.readLock(lockPath);
    const owner = text === undefined ? 0 : liveOwner(text);
    if (owner > 0) {
      this.release();
      throw locked(`${lockPath} is held by process ${owner}`);
    }
  }

  /** Removes the LOCK file if it is still the one this store wrote. Idempotent. */
  release(): void {
    if (this.owned !== '') {
      if (this.readLock(this.lockPath) === this.owned) {
        try {
          this.fs.unlinkSync(this.lockPath);
        } catch {
          // Already gone: nothing to release.
        }
      }
      this.owned = '';
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
}
