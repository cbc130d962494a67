// Debian's redis-cli against the server, unchanged: commands, RESP3, mass insertion with
// --pipe, --scan. (.ci/run installs redis-tools; elsewhere the test says why it is skipped.)
import { spawn, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from './helpers';

const hasRedisCli = spawnSync('redis-cli', ['--version']).status === 0;
if (!hasRedisCli) console.warn('redis-cli is not installed (apt-get install redis-tools): skipping the redis-cli tests');

let t: TestServer;

// Asynchronous: the server runs in this process, so a synchronous spawn would deadlock.
function cli(args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('redis-cli', ['-p', String(t.port), ...args]);
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (c: string) => {
      out += c;
    });
    child.on('error', reject);
    child.on('close', () => resolve(out));
    child.stdin.end(input ?? '');
  });
}

describe.skipIf(!hasRedisCli)('redis-cli', () => {
  beforeAll(async () => {
    t = await startServer();
  });
  afterAll(async () => {
    await t.stop();
  });

  it('runs commands and prints replies as it does against Redis', async () => {
    expect((await cli(['SET', 'greeting', 'hello world'])).trim()).toBe('OK');
    expect((await cli(['GET', 'greeting'])).trim()).toBe('hello world');
    expect((await cli(['INCRBY', 'n', '5'])).trim()).toBe('5');
    expect((await cli(['GET', 'nothing'])).trim()).toBe('');
    expect(await cli(['NOSUCH', 'x'])).toContain("ERR unknown command 'NOSUCH'");
    expect(await cli(['-3', 'HELLO', '3'])).toContain('proto');
    expect(await cli(['INFO', 'server'])).toContain('redis_version:');
    expect((await cli(['PING'])).trim()).toBe('PONG');
  });

  it('mass-inserts with --pipe and iterates with --scan', async () => {
    const lines = Array.from({ length: 5000 }, (_, i) => `SET bulk:${i} v${i}`).join('\r\n') + '\r\n';
    const out = await cli(['--pipe'], lines);
    expect(out).toMatch(/errors: 0, replies: 5000/);
    expect(Number((await cli(['DBSIZE'])).trim())).toBeGreaterThanOrEqual(5000);
    const keys = (await cli(['--scan', '--pattern', 'bulk:*'])).trim().split('\n');
    expect(new Set(keys).size).toBe(5000);
    expect((await cli(['GET', 'bulk:4999'])).trim()).toBe('v4999');
  });
});
