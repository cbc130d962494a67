// vitest configuration for npm run soak (scripts/soak.mjs): only the long-running loops.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: new URL('..', import.meta.url).pathname,
    include: ['test/reliability/*.soak.ts'],
    pool: 'forks',
    maxWorkers: 1,
  },
});
