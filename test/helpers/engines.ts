// The engines every engine-level test runs against (docs/DESIGN.md, "The js engine").
import type { EngineChoice, OpenOptions, Store } from '../../lib/index';

export type EngineName = 'native' | 'js';
export const ENGINES: readonly EngineName[] = ['native', 'js'];

type OpenFn = (location: string, options?: OpenOptions) => Promise<Store>;

/**
 * open() bound to one engine. Options that are not a plain object are passed through
 * unchanged, so argument-validation tests still see exactly what they wrote.
 */
export function withEngine(open: OpenFn, engine: EngineChoice): OpenFn {
  return (location, options) => {
    if (options === undefined) return open(location, { engine });
    if (options === null || typeof options !== 'object' || Array.isArray(options)) return open(location, options);
    return open(location, { ...options, engine });
  };
}
