// Progress for long work: a bar on a terminal (cli-progress), silence when stderr is piped.
import { SingleBar, Presets } from 'cli-progress';

export interface Progress {
  update(done: number): void;
  stop(): void;
}

const SILENT: Progress = { update: () => undefined, stop: () => undefined };

/** A progress bar for `total` units of `label`, or a silent one when not on a terminal. */
export function progress(label: string, total: number, unit = ''): Progress {
  if (!process.stderr.isTTY || total <= 0) return SILENT;
  const bar = new SingleBar({
    format: `${label} [{bar}] {percentage}% | {value}/{total}${unit} | {duration_formatted}`,
    stream: process.stderr,
    hideCursor: true,
    clearOnComplete: true,
  }, Presets.shades_classic);
  bar.start(total, 0);
  return {
    update: (done) => bar.update(Math.min(done, total)),
    stop: () => bar.stop(),
  };
}
