// The crash loop for as long as npm run soak asks (scripts/soak.mjs sets the environment).
import { expect, it } from 'vitest';
import { crashLoop } from './crash-loop';
import { tmpdir } from '../helpers/tmpdir';

const seconds = Number(process.env.HASHLOG_SOAK_SECONDS ?? '60');
const seed = Number(process.env.HASHLOG_SOAK_SEED ?? String(Date.now() % 1_000_000));

it(`survives SIGKILL at random moments for ${seconds} s (seed ${seed})`, { timeout: seconds * 1000 + 120_000 }, async () => {
  const started = Date.now();
  const report = await crashLoop(tmpdir('hashlog-soak-'), seed, Number.MAX_SAFE_INTEGER, started + seconds * 1000);
  const line =
    `soak: seed=${seed} seconds=${Math.round((Date.now() - started) / 1000)} iterations=${report.iterations} ` +
    `attempts=${report.attempts} acked_checked=${report.ackedChecked} writes_lost=${report.writesLost}`;
  process.stdout.write(`\n${line}\n`);
  for (const p of report.problems.slice(0, 20)) process.stdout.write(`  ${p}\n`);
  expect(report.problems).toEqual([]);
});
