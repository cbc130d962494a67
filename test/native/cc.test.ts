import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tmpdir } from '../helpers/tmpdir';

// C++ unit tests of engine pieces, built with the same compiler and flags as the addon.
const ROOT = path.resolve('.');

function build(source: string, extra: string[]): string {
  const out = path.join(tmpdir('hashlog-cc-'), path.basename(source, '.cc'));
  execFileSync('g++', ['-std=c++17', '-O2', '-Wall', '-Wextra', '-Werror', '-pthread', '-o', out, source, ...extra], {
    cwd: ROOT,
    stdio: 'pipe',
  });
  return out;
}

describe('HashIndex (C++)', () => {
  it('agrees with a std::unordered_map through growth, overflow runs and erases', () => {
    const bin = build('test/native/cc/hash_index_test.cc', ['native/hash_index.cc', 'native/status.cc']);
    for (const seed of ['1', '2', '3']) {
      expect(execFileSync(bin, [seed], { encoding: 'utf8' })).toMatch(/^ok /);
    }
  });

  it('agrees with a std::unordered_map through many incremental grows and shrinks, checked mid-migration', () => {
    const bin = build('test/native/cc/hash_index_resize_test.cc', ['native/hash_index.cc', 'native/status.cc']);
    for (const seed of ['1', '2', '3']) {
      expect(execFileSync(bin, [seed], { encoding: 'utf8' })).toMatch(/^ok /);
    }
  });

  it('is read by other threads without a lock while entries move: back-shifts, migrations, grows and shrinks', () => {
    const bin = build('test/native/cc/hash_index_shared_test.cc',
      ['native/hash_index.cc', 'native/epoch.cc', 'native/status.cc']);
    for (const seed of ['1', '2']) {
      const out = execFileSync(bin, [seed, '40', '2'], { encoding: 'utf8' });
      // Deterministic interleavings first (each change at a chosen point of a probe), then
      // two reader threads against the owner; both lose no key that was present throughout.
      expect(out).toMatch(/^ok interleavings=8000 probes-continued=\d+\nok finds=\d+ found=\d+ walks=\d+ capacity=\d+\.\.\d+\n$/);
    }
  });
});
