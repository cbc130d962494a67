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

// Copies the first `bytes` of src to dst and makes them durable.
async function copyPrefix(src: string, dst: string, bytes: number): Promise<void> {
  await fs.promises.copyFile(src, dst, fs.constants.COPYFILE_EXCL);
  const f = await fs.promises.open(dst, 'r+');
  try {
    // The source may be longer: records written after the snapshot, or zero-filled space.
    await f.truncate(bytes);
    await f.datasync();
  } finally {
    await f.close();
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
    if (e instanceof HashlogError) throw e;
    throw ioError(`backup of ${source} to ${target} failed`, e);
  }
  return { target, segments: segments.length, bytes, millis: performance.now() - start };
}
