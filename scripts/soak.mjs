#!/usr/bin/env node
// npm run soak -- [--seconds N] [--seed S]: the SIGKILL crash loop (test/reliability/crash-loop.ts)
// for N seconds (default 600); prints iterations, acknowledged operations checked and
// writes lost (must be 0). The store is built from dist/ (npm run build:ts first).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
};
const env = { ...process.env, HASHLOG_SOAK_SECONDS: opt('seconds', '600') };
if (opt('seed') !== undefined) env.HASHLOG_SOAK_SEED = opt('seed');
const vitest = path.join(root, 'node_modules', '.bin', 'vitest');
const r = spawnSync(vitest, ['run', '--config', 'scripts/vitest.soak.config.mts'], { cwd: root, env, stdio: 'inherit' });
process.exit(r.status ?? 1);
