// The js engine's LOCK protocol (lib/js/lock-file.ts): without flock, exclusive creation by
// link() and a checked takeover must still let exactly one process in.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { open } from '../../lib/index';
import { tmpdir } from '../helpers/tmpdir';

// Starts `n` processes that open dir with the js engine at once; each prints "opened" or the
// error code and stays alive (holding what it got) until every one has answered.
async function race(dir: string, n: number): Promise<string[]> {
  const script = `require(${JSON.stringify(path.resolve('dist/index.js'))}).open(${JSON.stringify(dir)}, { engine: 'js' })
    .then(() => console.log('opened'), (e) => console.log(e.code));
    process.stdin.resume(); process.stdin.on('end', () => process.exit(0));`;
  const children = Array.from({ length: n }, () => spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] }));
  const answers = await Promise.all(children.map((c) => new Promise<string>((resolve) => {
    let out = '';
    c.stdout.setEncoding('utf8');
    c.stdout.on('data', (d: string) => {
      out += d;
      if (out.includes('\n')) resolve(out.trim());
    });
  })));
  await Promise.all(children.map((c) => new Promise((resolve) => {
    c.on('close', resolve);
    c.stdin.end();
  })));
  return answers.sort();
}

describe('the LOCK file (js engine)', () => {
  it('lets exactly one of several processes in, on a fresh directory', async () => {
    const dir = tmpdir();
    expect(await race(dir, 4)).toEqual(['HASHLOG_LOCKED', 'HASHLOG_LOCKED', 'HASHLOG_LOCKED', 'opened']);
  });

  it('lets exactly one of several processes take over a stale LOCK', async () => {
    const dir = tmpdir();
    fs.writeFileSync(path.join(dir, 'LOCK'), '4194304 12345\n');
    expect(await race(dir, 4)).toEqual(['HASHLOG_LOCKED', 'HASHLOG_LOCKED', 'HASHLOG_LOCKED', 'opened']);
  });

  it('takes over an empty LOCK (a creator that died before writing its pid)', async () => {
    const dir = tmpdir();
    fs.writeFileSync(path.join(dir, 'LOCK'), '');
    const db = await open(dir, { engine: 'js' });
    expect(fs.readFileSync(path.join(dir, 'LOCK'), 'utf8').startsWith(`${process.pid} `)).toBe(true);
    await db.close();
    expect(fs.existsSync(path.join(dir, 'LOCK'))).toBe(false);
  });
});
