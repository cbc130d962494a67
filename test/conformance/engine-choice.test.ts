// open(dir, { engine }): which engine runs a store, the fallback, and its validation.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { _setBindingLoaderForTesting } from '../../lib/binding';
import { open } from '../../lib/index';
import { tmpdir } from '../helpers/tmpdir';

afterEach(() => {
  _setBindingLoaderForTesting(undefined);
  vi.restoreAllMocks();
});

const missingAddon = (): never => {
  throw new Error('No native build was found for this platform');
};

describe('open(dir, { engine })', () => {
  it("runs the native engine by default where the addon is built (CI must not hide a broken build behind the fallback)", async () => {
    const db = await open(tmpdir());
    expect(db.engine).toBe('native');
    await db.close();
  });

  it("runs the engine it names: 'native' or 'js'", async () => {
    for (const engine of ['native', 'js'] as const) {
      const db = await open(tmpdir(), { engine });
      expect(db.engine).toBe(engine);
      expect(db.options.engine).toBe(engine);
      await db.close();
    }
  });

  it("falls back to the js engine under 'auto' when the addon cannot load, warning once per process", async () => {
    _setBindingLoaderForTesting(missingAddon);
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const a = await open(tmpdir());
    const b = await open(tmpdir(), { engine: 'auto' });
    expect(a.engine).toBe('js');
    expect(b.engine).toBe('js');
    await a.put('k', 'v');
    expect(a.get('k')?.toString()).toBe('v');
    await a.close();
    await b.close();
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toContain('pure-TypeScript engine');
  });

  it("fails an explicit 'native' with HASHLOG_NOT_SUPPORTED carrying the loader's error as cause", async () => {
    _setBindingLoaderForTesting(missingAddon);
    const err = await open(tmpdir(), { engine: 'native' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'HashlogError', code: 'HASHLOG_NOT_SUPPORTED' });
    expect((err as Error).cause).toMatchObject({ message: 'No native build was found for this platform' });
  });

  it('rejects an unknown engine with HASHLOG_INVALID_ARGUMENT', async () => {
    for (const engine of ['wasm', '', 1, null]) {
      // @ts-expect-error: invalid on purpose
      await expect(open(tmpdir(), { engine })).rejects.toMatchObject({ name: 'TypeError', code: 'HASHLOG_INVALID_ARGUMENT' });
    }
  });
});
