// Online backup: a consistent copy of a store's segments, taken while it keeps serving.
// Segment files only grow at their end and a segment's written bytes are whole commit groups,
// so copying each segment up to its written end gives a log that opens as a normal store with
// everything acknowledged before the backup began (and possibly some later writes), never
// part of a batch.
import fs from 'node:fs';
import path from 'node:path';
import { HashlogError, typeError } from './errors';

/** What backup() copied. */
export interface BackupReport {
  /** The backup's directory. */
  target: string;
  /** Segment files copied. */
  segments: number;
  /** Bytes of log copied. */
  bytes: number;
  millis: number;
}

async function prepareTarget(target: string): Promise<void> {
  if (typeof target !== 'string' || target.length === 0) throw typeError('target must be a non-empty string (a directory path)');
  try {
    await fs.promises.mkdir(target);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError(`cannot create ${target}`, e);
    if ((await fs.promises.readdir(target)).length > 0) {
      throw new HashlogError(`backup target ${target} is not empty`, 'HASHLOG_INVALID_ARGUMENT');
    }
  }
}

function ioError(message: string, cause: unknown): HashlogError {
  const err = new HashlogError(`${message}: ${(cause as Error).message}`, 'HASHLOG_IO', { cause });
  err.errno = (cause as NodeJS.ErrnoException).errno;
  err.syscall = (cause as NodeJS.ErrnoException).syscall;
  return err;
}

const CHUNK = 1024 * 1024;

// Copies the first `bytes` of src to dst and makes them durable. Only those bytes: the source
// may be longer (records written after the snapshot, zero-filled space ahead of the writer).
async function copyPrefix(src: string, dst: string, bytes: number): Promise<void> {
  const from = await fs.promises.open(src, 'r');
  try {
    const to = await fs.promises.open(dst, 'wx');
    try {
      const buf = Buffer.allocUnsafe(Math.min(CHUNK, bytes));
      for (let at = 0; at < bytes;) {
        const { bytesRead } = await from.read(buf, 0, Math.min(buf.length, bytes - at), at);
        if (bytesRead === 0) throw new Error(`${src} ends at ${at}, before ${bytes}`);
        await to.write(buf, 0, bytesRead, at);
        at += bytesRead;
      }
      await to.datasync();
    } finally {
      await to.close();
    }
  } finally {
    await from.close();
  }
}

async function syncDir(dir: string): Promise<void> {
  const d = await fs.promises.open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

/** Copies `segments` ([file name, written bytes, ...]) from `source` into the new directory `target`. */
export async function copySegments(source: string, target: string,
  segments: readonly (readonly [string, number, ...number[]])[]): Promise<BackupReport> {
  const start = performance.now();
  await prepareTarget(target);
  let bytes = 0;
  try {
    for (const [name, end] of segments) {
      await copyPrefix(path.join(source, name), path.join(target, name), end);
      bytes += end;
    }
    await syncDir(target);
  } catch (e) {
    // Leave no half copy behind: the target was empty (or new) before.
    for (const [name] of segments) await fs.promises.rm(path.join(target, name), { force: true }).catch(() => undefined);
    if (e instanceof HashlogError) throw e;
    throw ioError(`backup of ${source} to ${target} failed`, e);
  }
  return { target, segments: segments.length, bytes, millis: performance.now() - start };
}
