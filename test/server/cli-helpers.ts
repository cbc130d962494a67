// Running the built CLI (dist/cli/main.js) as a child process, as a user would.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export const CLI = path.join(__dirname, '..', '..', 'dist', 'cli', 'main.js');

export function hashlog(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', input });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export interface ServeProcess {
  child: ChildProcess;
  port: number;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Starts `hashlog serve --port 0 ...` and resolves once it logs its address. */
export function serve(args: string[]): Promise<ServeProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c: string) => {
      err += c;
      const m = /listening on [^\s]+:(\d+)/.exec(err);
      if (m !== null) resolve({ child, port: Number(m[1]), stderr: () => err, exited });
    });
    child.on('exit', (code) => reject(new Error(`hashlog serve exited (${code}):\n${err}`)));
  });
}
