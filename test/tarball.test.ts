// The package a user gets: `npm pack`, installed into a fresh project, used from CommonJS and
// ESM, its types checked with tsc, its prebuilt addon loaded without a compiler.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tmpdir } from './helpers/tmpdir';

const ROOT = path.join(__dirname, '..');
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
let project: string;
let installLog: string;

function node(args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: project, encoding: 'utf8' }).trim();
}

// Packs a staging copy, so the running test suite's dist/ and build/ are never touched; builds
// the prebuild there first if this checkout has none (CI builds it before the tests).
function pack(work: string): string {
  const stage = path.join(work, 'stage');
  fs.mkdirSync(stage);
  for (const f of ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'binding.gyp', 'dist', 'esm', 'native', 'docs', 'prebuilds']) {
    if (fs.existsSync(path.join(ROOT, f))) fs.cpSync(path.join(ROOT, f), path.join(stage, f), { recursive: true });
  }
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(stage, 'node_modules'));
  const prebuilds = path.join(stage, 'prebuilds', `${process.platform}-${process.arch}`);
  if (!fs.existsSync(prebuilds) || !fs.readdirSync(prebuilds).some((f) => f.endsWith('.node'))) {
    execFileSync('npm', ['run', 'prebuildify'], { cwd: stage, stdio: 'ignore' });
  }
  const out = execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', work], { cwd: stage, encoding: 'utf8' });
  return path.join(work, out.trim().split('\n').pop() as string);
}

beforeAll(() => {
  const work = tmpdir('hashlog-pack-');
  const tgz = pack(work);
  project = path.join(work, 'app');
  fs.mkdirSync(project);
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
  installLog = execFileSync('npm', ['install', '--no-audit', '--no-fund', '--foreground-scripts', tgz],
    { cwd: project, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}, 300_000);

describe('the packed tarball', () => {
  it('holds what a user needs and nothing else', () => {
    const pkg = path.join(project, 'node_modules', 'hashlog');
    for (const f of ['dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'esm/index.mjs', 'esm/index.d.mts',
      'native/store.cc', 'binding.gyp', 'README.md', 'LICENSE', 'CHANGELOG.md', 'docs/api.md']) {
      expect(fs.existsSync(path.join(pkg, f)), f).toBe(true);
    }
    for (const f of ['test', 'bench', 'lib', 'native/cc', 'native/testing', '.ci', 'scripts']) expect(fs.existsSync(path.join(pkg, f)), f).toBe(false);
    const prebuilds = path.join(pkg, 'prebuilds', `${process.platform}-${process.arch}`);
    expect(fs.readdirSync(prebuilds).some((f) => f.endsWith('.node'))).toBe(true);
  });

  it('installs without compiling: the prebuild is what loads', () => {
    expect(installLog).not.toMatch(/gyp info spawn make|CXX\(target\)/);
    expect(fs.existsSync(path.join(project, 'node_modules', 'hashlog', 'build'))).toBe(false);
    const file = node(['-e', "console.log(require('node-gyp-build').resolve(require('path').dirname(require.resolve('hashlog/package.json'))))"]);
    expect(file).toContain(path.join('prebuilds', `${process.platform}-${process.arch}`));
  });

  it('works through require() and import, and its bin runs', () => {
    const dir = tmpdir();
    expect(node(['-e', `const { open } = require('hashlog');
      open(${JSON.stringify(dir)}).then(async (db) => { await db.put('k', 'cjs'); console.log(db.get('k').toString());
      console.log(await db.del('k')); await db.close(); });`])).toBe('cjs\ntrue');
    expect(node(['--input-type=module', '-e', `import { open, createServer } from 'hashlog';
      const db = await open(${JSON.stringify(dir)}); await db.put('k', 'esm'); console.log(db.get('k').toString(), typeof createServer);
      await db.close();`])).toBe('esm function');
    expect(node([path.join(project, 'node_modules', '.bin', 'hashlog'), '--version'])).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('type-checks in a TypeScript project, as CommonJS and as ESM', () => {
    fs.writeFileSync(path.join(project, 'use.cts'), `import { open, HashlogError, type Store, type OpenOptions } from 'hashlog';
const options: OpenOptions = { durability: 'sync' };
export async function f(): Promise<Buffer | undefined> {
  const db: Store = await open('x', options);
  try { return db.get('k'); } catch (e) { if (e instanceof HashlogError) console.log(e.code); throw e; }
}
`);
    fs.writeFileSync(path.join(project, 'use.mts'), `import { open, createServer, type ServerOptions } from 'hashlog';
const o: ServerOptions = { port: 0 };
const db = await open('x');
createServer(db, o);
`);
    execFileSync(process.execPath, [TSC, '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext',
      '--target', 'es2022', '--types', 'node', '--typeRoots', path.join(ROOT, 'node_modules', '@types'),
      'use.cts', 'use.mts'], { cwd: project, encoding: 'utf8' });
  });
});
