// Runs a crash-test child process and SIGKILLs it a while after it reports ready.
import { spawn } from 'node:child_process';

/**
 * Spawns `node script ...args`, kills it `killAfterMs` after it prints `{"e":"ready"}`, and
 * resolves to the whole lines it printed (a line cut short by the kill is dropped). Rejects
 * if the child exits by itself.
 */
export function runUntilKilled(script: string, args: string[], killAfterMs: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: string[] = [];
    let head = ''; // stdout until the ready line
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out.push(chunk);
      if (timer === undefined) {
        head += chunk;
        if (head.includes('{"e":"ready"}')) timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      }
    });
    child.stderr.on('data', (chunk: string) => {
      err += chunk;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (timer !== undefined) clearTimeout(timer);
      if (signal !== 'SIGKILL') {
        reject(new Error(`${script} exited by itself (code ${code}, signal ${signal}):\n${err}`));
        return;
      }
      const lines = out.join('').split('\n');
      lines.pop();
      resolve(lines);
    });
  });
}
