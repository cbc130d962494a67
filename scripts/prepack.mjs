// `npm pack` / `npm publish` step: compile the TypeScript, and build this platform's prebuilt
// addon unless prebuilds/ already has one (CI builds it first; see .ci/run).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });

// A fresh dist/, so no file of a module since removed ships.
fs.rmSync(path.join(root, 'dist'), { recursive: true, force: true });
run(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json']);
const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
const have = fs.existsSync(dir) && fs.readdirSync(dir).some((f) => f.endsWith('.node'));
if (have) {
  console.log(`prepack: using the prebuild in ${path.relative(root, dir)}`);
} else {
  console.log(`prepack: no prebuild for ${process.platform}-${process.arch}; building it`);
  run('npm', ['run', 'prebuildify']);
}
