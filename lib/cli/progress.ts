// Progress for long work: a bar on a terminal (cli-progress), silence when stderr is piped.
import { SingleBar, Presets } from 'cli-progress';

export interface Progress {
  update(done: number): void;
  stop(): void;
}

const SILENT: Progress = { update: () => undefined, stop: () => undefined };

/**
 * An `onProgress` for open(): a bar of the MiB of log recovered, shown once there is something
 * to show (nothing for a small store; nothing when stderr is piped). Call stop() after open().
 */
export function recoveryBar(label: string): { onProgress: (done: number, total: number) => void; stop: () => void } {
  let bar: Progress | undefined;
  const MiB = 1024 * 1024;
  return {
    onProgress: (done, total) => {
      if (bar === undefined && total >= 64 * MiB && done < total) bar = progress(label, Math.ceil(total / MiB), ' MiB');
      bar?.update(Math.floor(done / MiB));
    },
    stop: () => bar?.stop(),
  };
}

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
