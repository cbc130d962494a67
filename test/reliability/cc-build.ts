// Builds the standalone C++ reliability programs (native/cc/*.cc) with g++: the engine's
// sources are compiled once into an archive cached by the hash of native/ (so that test
// files built in parallel forks share it), then each program links against it.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

// The engine without N-API, plus the test-only recording file system.
export const ENGINE_SOURCES = [
  'status.cc',
  'crc32c.cc',
  'hash.cc',
  'file_posix.cc',
  'file_faults.cc',
  'log_format.cc',
  'segment.cc',
  'hash_index.cc',
  'log_writer.cc',
  'recovery.cc',
  'checkpoint.cc',
  'lock_file.cc',
  'compaction.cc',
  'store_compaction.cc',
  'store.cc',
  'store_shared.cc',
  'epoch.cc',
  'testing/recording_file_system.cc',
].map((f) => path.join('native', f));

const FLAGS = ['-std=c++17', '-O2', '-g', '-Wall', '-Wextra', '-Werror', '-pthread'];

function sourceHash(): string {
  const h = createHash('sha256');
  h.update(FLAGS.join(' '));
  h.update(ENGINE_SOURCES.join(' ')); // a new engine file changes the archive too
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        // The archive holds the engine and native/testing; the programs in native/cc are
        // compiled per build, and native/binding is the addon's.
        if (e.name !== 'binding' && e.name !== 'cc') walk(p);
      } else if (/\.(cc|h)$/.test(e.name)) {
        h.update(p);
        h.update(fs.readFileSync(p));
      }
    }
  };
  walk(path.join(ROOT, 'native'));
  return h.digest('hex').slice(0, 16);
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function engineArchive(): string {
  const dir = path.join(os.tmpdir(), `hashlog-cc-${sourceHash()}`);
  const lib = path.join(dir, 'libengine.a');
  if (fs.existsSync(lib)) return lib;
  fs.mkdirSync(dir, { recursive: true });
  // One builder at a time (test files run in parallel forks on a small machine): the others
  // wait for its archive. A builder that died leaves a stale lock; after 5 minutes build anyway.
  const lock = path.join(dir, 'lock');
  let locked = false;
  for (let waited = 0; !locked && waited < 300_000; waited += 200) {
    try {
      fs.mkdirSync(lock);
      locked = true;
    } catch {
      if (fs.existsSync(lib)) return lib;
      sleepMs(200);
    }
  }
  try {
    if (fs.existsSync(lib)) return lib;
    buildArchive(dir, lib);
  } finally {
    if (locked) fs.rmSync(lock, { recursive: true, force: true });
  }
  return lib;
}

function buildArchive(dir: string, lib: string): void {
  const work = fs.mkdtempSync(path.join(dir, 'build-'));
  const objects = ENGINE_SOURCES.map((src, i) => {
    const obj = path.join(work, `${i}-${path.basename(src, '.cc')}.o`);
    execFileSync('g++', [...FLAGS, '-c', '-o', obj, src], { cwd: ROOT, stdio: 'pipe' });
    return obj;
  });
  const tmp = path.join(work, 'libengine.a');
  execFileSync('ar', ['rcs', tmp, ...objects], { stdio: 'pipe' });
  fs.renameSync(tmp, lib); // atomic: a reader never sees half an archive
  fs.rmSync(work, { recursive: true, force: true });
}

/**
 * Compiles native/cc/<name>.cc (plus native/cc/<extra>.cc for each of `extra`) against the
 * engine and returns the binary's path.
 */
export function buildProgram(name: string, extra: string[] = []): string {
  const lib = engineArchive();
  const out = path.join(path.dirname(lib), name);
  const srcs = [name, ...extra].map((n) => path.join('native', 'cc', `${n}.cc`));
  const tmp = `${out}.${process.pid}`;
  execFileSync('g++', [...FLAGS, '-o', tmp, ...srcs, lib], { cwd: ROOT, stdio: 'pipe' });
  fs.renameSync(tmp, out);
  return out;
}

/** Runs a built program; returns its stdout (a failing program's stderr is in the error). */
export function runProgram(bin: string, args: string[]): string {
  return execFileSync(bin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}
