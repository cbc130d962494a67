// Scratch directories for the C++ reliability programs: on tmpfs when there is one (they
// rebuild and reopen thousands of store directories; fsync on tmpfs is free), removed after
// each test file.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';

const made: string[] = [];

export function scratchDir(prefix: string): string {
  const base = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
  const dir = fs.mkdtempSync(path.join(base, prefix));
  made.push(dir);
  return dir;
}

afterAll(() => {
  for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
