// What replication keeps on disk beside the store's segments: the primary's replication id
// (REPLID: a new one whenever a log starts a new history, i.e. on promotion) and, on a
// replica, which primary history it follows and how far it has applied (REPLICA). Both are
// replaced atomically (write, fdatasync, rename, fsync the directory).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface ReplicaState {
  replid: string;
  position: number;
}

function writeAtomic(dir: string, name: string, text: string): void {
  const tmp = path.join(dir, `${name}.tmp`);
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, text);
    fs.fdatasyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, path.join(dir, name));
  const d = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(d);
  } finally {
    fs.closeSync(d);
  }
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

export function newReplid(): string {
  return crypto.randomBytes(20).toString('hex');
}

/** This store's replication id, made (and kept) on first use. */
export function loadReplid(dir: string): string {
  const v = readJson(path.join(dir, 'REPLID')) as { replid?: unknown } | undefined;
  if (typeof v?.replid === 'string' && /^[0-9a-f]{40}$/.test(v.replid)) return v.replid;
  return saveReplid(dir, newReplid());
}

export function saveReplid(dir: string, replid: string): string {
  writeAtomic(dir, 'REPLID', JSON.stringify({ replid }));
  return replid;
}

export function loadReplicaState(dir: string): ReplicaState | undefined {
  const v = readJson(path.join(dir, 'REPLICA')) as Partial<ReplicaState> | undefined;
  if (typeof v?.replid !== 'string' || typeof v.position !== 'number' || !Number.isSafeInteger(v.position)) return undefined;
  return { replid: v.replid, position: v.position };
}

export function saveReplicaState(dir: string, state: ReplicaState | undefined): void {
  if (state === undefined) fs.rmSync(path.join(dir, 'REPLICA'), { force: true });
  else writeAtomic(dir, 'REPLICA', JSON.stringify(state));
}
