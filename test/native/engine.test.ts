import path from 'node:path';
import nodeGypBuild from 'node-gyp-build';
import { describe, expect, it } from 'vitest';
import { loadBinding } from '../../lib/binding';
import { open } from '../../lib/index';
import { tmpdir } from '../helpers/tmpdir';

describe('the native engine', () => {
  it('loads the compiled addon (no silent fallback) and reports it', async () => {
    const binding = loadBinding();
    expect(typeof binding.NativeStore).toBe('function');
    const db = await open(tmpdir());
    expect(db.engine).toBe('native');
    await db.close();
  });

  it('resolves to an addon file of this checkout (a local build or a matching prebuild)', () => {
    const file = nodeGypBuild.path(path.resolve('.'));
    expect(file.startsWith(path.resolve('build')) || file.startsWith(path.resolve('prebuilds'))).toBe(true);
  });

  it('uses the CPU CRC32C instruction where the CPU has one', async () => {
    const fs = await import('node:fs');
    const hasSse42 = fs.readFileSync('/proc/cpuinfo', 'utf8').includes('sse4_2');
    if (hasSse42) expect(loadBinding().crc32cHardware).toBe(true);
  });
});
