// Opening a store directory from the CLI: the messages a person needs when it fails.
import { HashlogError } from '../errors';
import { recoveryBar } from './progress';
import { open, type Store } from '../store';
import type { OpenOptions } from '../options';

/** A CLI failure: the message to print and the exit code. */
export class CliError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode = 1, options?: { cause?: unknown }) {
    super(message, options);
    this.exitCode = exitCode;
  }
}

/**
 * Opens `dir` with a progress bar for a long recovery, turning HASHLOG_LOCKED into the advice
 * to use the running server.
 */
export async function openDir(dir: string, options: OpenOptions = {}): Promise<Store> {
  const bar = recoveryBar(`reading ${dir}`);
  try {
    return await open(dir, { ...options, onProgress: bar.onProgress });
  } catch (e) {
    if (e instanceof HashlogError && e.code === 'HASHLOG_LOCKED') {
      throw new CliError(`${dir} is in use by another process (HASHLOG_LOCKED): if a hashlog server owns it, `
        + 'talk to the server instead (for example: redis-cli -p 6380 GET key)', 3, { cause: e });
    }
    throw e;
  } finally {
    bar.stop();
  }
}
