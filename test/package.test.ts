import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { tmpdir } from './helpers/tmpdir';

// The package as a user imports it (its own name resolves to this checkout through "exports").
function run(args: string[], code: string): string {
  const r = spawnSync(process.execPath, [...args, code], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout.trim();
}

describe('the hashlog package', () => {
  it('works through require()', () => {
    const dir = tmpdir();
    const out = run(['-e'], `const { open, HashlogError } = require('hashlog');
      open(${JSON.stringify(dir)}).then(async (db) => {
        await db.put('k', 'cjs'); console.log(db.get('k').toString(), typeof HashlogError); await db.close();
      });`);
    expect(out).toBe('cjs function');
  });

  it('works through import', () => {
    const dir = tmpdir();
    const out = run(['--input-type=module', '-e'], `import { open, HashlogError } from 'hashlog';
      const db = await open(${JSON.stringify(dir)});
      await db.put('k', 'esm'); console.log(db.get('k').toString(), HashlogError.name); await db.close();`);
    expect(out).toBe('esm HashlogError');
  });

  it('exports the server through both entry points', () => {
    const cjs = run(['-e'], `const h = require('hashlog'); console.log(typeof h.createServer, typeof h.Server);`);
    expect(cjs).toBe('function function');
    const esm = run(['--input-type=module', '-e'], `import { createServer } from 'hashlog'; console.log(typeof createServer);`);
    expect(esm).toBe('function');
  });

  it('exports the worker-thread API (openShared, SharedStore) through both entry points', () => {
    const cjs = run(['-e'], `const h = require('hashlog'); console.log(typeof h.openShared, typeof h.SharedStore);`);
    expect(cjs).toBe('function function');
    const esm = run(['--input-type=module', '-e'],
      `import { openShared, SharedStore } from 'hashlog'; console.log(typeof openShared, typeof SharedStore);`);
    expect(esm).toBe('function function');
  });
});
