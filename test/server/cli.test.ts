// The hashlog command: serve (graceful shutdown, kill -9 recovery), and the directory tools.
import fs from 'node:fs';
import path from 'node:path';
import Redis from 'ioredis';
import { describe, expect, it } from 'vitest';
import { open as openStore } from '../../lib/store';
import { tmpdir } from '../helpers/tmpdir';
import { hashlog, serve } from './cli-helpers';

function client(port: number): Redis {
  const c = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0, retryStrategy: () => null });
  c.on('error', () => undefined);
  return c;
}

describe('hashlog serve', () => {
  it('serves, and on SIGTERM finishes in-flight writes, closes the store and exits 0', async () => {
    const dir = tmpdir();
    const s = await serve(['--dir', dir]);
    const c = client(s.port);
    await c.set('k', 'v');
    const inflight = Array.from({ length: 100 }, (_, i) => c.set(`f${i}`, 'x').catch(() => 'failed'));
    await new Promise((r) => setTimeout(r, 5));
    s.child.kill('SIGTERM');
    const results = await Promise.all(inflight);
    expect(await s.exited).toBe(0);
    c.disconnect();
    expect(s.stderr()).toContain('store closed');
    // Every write that was answered OK is in the store.
    const db = await openStore(dir);
    for (let i = 0; i < 100; i++) if (results[i] === 'OK') expect(db.get(`f${i}`)?.toString()).toBe('x');
    expect(db.get('k')?.toString()).toBe('v');
    await db.close();
  });

  it('SHUTDOWN stops the server cleanly; --engine js serves the same files', async () => {
    const dir = tmpdir();
    const s = await serve(['--dir', dir, '--engine', 'js']);
    const c = client(s.port);
    await c.set('k', 'v');
    expect(await c.info('server')).toContain('hashlog_engine:js');
    await c.call('SHUTDOWN').catch(() => undefined);
    expect(await s.exited).toBe(0);
    c.disconnect();
    expect(hashlog(['get', dir, 'k']).stdout).toBe('v'); // the native engine reads it
  });

  it('after kill -9 with clients writing, a restarted server has every acknowledged write', async () => {
    const dir = tmpdir();
    const s = await serve(['--dir', dir]);
    const clients = Array.from({ length: 8 }, () => client(s.port));
    const acked: string[] = [];
    let incrs = 0;
    let stop = false;
    const loops = clients.map(async (c, ci) => {
      for (let i = 0; !stop; i++) {
        try {
          await c.set(`c${ci}:${i}`, `value-${ci}-${i}`);
          acked.push(`c${ci}:${i}`);
          await c.incr('counter');
          incrs++;
        } catch {
          return;
        }
      }
    });
    await new Promise((r) => setTimeout(r, 400));
    s.child.kill('SIGKILL');
    await s.exited;
    stop = true;
    await Promise.all(loops);
    for (const c of clients) c.disconnect();
    expect(acked.length).toBeGreaterThan(50);
    const again = await serve(['--dir', dir]);
    const c = client(again.port);
    const values = await c.mget(...acked);
    for (let i = 0; i < acked.length; i++) {
      const [ci, n] = acked[i].slice(1).split(':');
      expect(values[i]).toBe(`value-${ci}-${n}`);
    }
    expect(Number(await c.get('counter'))).toBeGreaterThanOrEqual(incrs);
    await c.call('SHUTDOWN').catch(() => undefined);
    await again.exited;
    c.disconnect();
  });

  it('refuses a non-loopback host without a password, and a directory another server holds', async () => {
    const dir = tmpdir();
    const open = hashlog(['serve', '--dir', dir, '--host', '0.0.0.0', '--port', '0']);
    expect(open.status).not.toBe(0);
    expect(open.stderr).toContain('without a password');
    const s = await serve(['--dir', dir]);
    const second = hashlog(['serve', '--dir', dir, '--port', '0']);
    expect(second.status).toBe(3);
    expect(second.stderr).toContain('HASHLOG_LOCKED');
    const get = hashlog(['get', dir, 'k']);
    expect(get.status).toBe(3);
    expect(get.stderr).toContain('talk to the server instead');
    const backup = hashlog(['backup', dir, path.join(tmpdir(), 'b')]);
    expect(backup.status).toBe(3);
    expect(backup.stderr).toContain('HASHLOG.BACKUP');
    s.child.kill('SIGTERM');
    await s.exited;
  });
});

describe('hashlog directory commands', () => {
  it('put, get, del, stats', () => {
    const dir = path.join(tmpdir(), 'store');
    expect(hashlog(['put', dir, 'greeting', 'hello']).status).toBe(0);
    const got = hashlog(['get', dir, 'greeting']);
    expect(got).toMatchObject({ status: 0, stdout: 'hello' });
    const stats = JSON.parse(hashlog(['stats', dir]).stdout) as { keys: number; engine: string };
    expect(stats).toMatchObject({ keys: 1, engine: 'native' });
    // The put's close wrote a checkpoint: stats (a read-only open) loaded it and replayed nothing.
    expect(stats).toMatchObject({ recovery: { checkpoint: 'used', replayedBytes: 0 } });
    expect(typeof (stats as unknown as { recovery: { millis: number } }).recovery.millis).toBe('number');
    expect(hashlog(['del', dir, 'greeting']).status).toBe(0);
    expect(hashlog(['del', dir, 'greeting']).status).toBe(1);
    const missing = hashlog(['get', dir, 'greeting']);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('(nil)');
    expect(hashlog(['put', dir, 'k', 'v', '--ttl', 'soon']).status).toBe(2);
  });

  it('backup copies a directory no server holds, and the copy passes check', () => {
    const dir = tmpdir();
    for (let i = 0; i < 5; i++) expect(hashlog(['put', dir, `k${i}`, `v${i}`]).status).toBe(0);
    const target = path.join(tmpdir(), 'copy');
    const b = hashlog(['backup', dir, target]);
    expect(b.status).toBe(0);
    expect(b.stdout).toContain('backed up 5 keys');
    expect(hashlog(['check', target]).status).toBe(0);
    expect(hashlog(['get', target, 'k4']).stdout).toBe('v4');
  });

  it('check passes a sound store and fails a damaged one, naming the damage', () => {
    const dir = tmpdir();
    for (let i = 0; i < 20; i++) expect(hashlog(['put', dir, `k${i}`, 'v'.repeat(200)]).status).toBe(0);
    const ok = hashlog(['check', dir]);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/^ok: 1 segment\(s\), 20 record\(s\)/);
    const seg = path.join(dir, fs.readdirSync(dir).find((f) => f.endsWith('.hlog')) as string);
    const bytes = fs.readFileSync(seg);
    bytes[32 + 32 + 5] ^= 0xff; // inside the first record's key: mid-log damage
    fs.writeFileSync(seg, bytes);
    const bad = hashlog(['check', dir]);
    expect(bad.status).toBe(1);
    expect(bad.stdout).toContain('damaged');
    expect(bad.stdout).toContain('dropped');
    expect(fs.readFileSync(seg).equals(bytes)).toBe(true); // check changed nothing
  });

  it('compact rewrites a directory without its garbage; a server\'s directory is refused', async () => {
    const dir = tmpdir();
    const db = await openStore(dir, { segmentSize: 8192, compaction: false });
    for (let i = 0; i < 2000; i++) await db.put(`k${i % 50}`, `v${i}`.padEnd(100, '.'));
    const garbage = db.stats().garbageBytes;
    await db.close();
    const c = hashlog(['compact', dir, '--rate', '100']);
    expect(c.stderr).toBe('');
    expect(c.status).toBe(0);
    expect(c.stdout).toMatch(/^compacted 50 keys: \d+ segment\(s\) removed/);
    const after = await openStore(dir, { compaction: false });
    expect(after.stats().garbageBytes).toBeLessThan(garbage / 4);
    expect(after.get('k7')?.toString()).toBe('v1957'.padEnd(100, '.'));
    await after.close();
    expect(hashlog(['compact', dir]).stdout).toContain('nothing to compact');
    expect(hashlog(['compact', dir, '--rate', 'fast']).status).toBe(2);
    const s = await serve(['--dir', dir]);
    const held = hashlog(['compact', dir]);
    expect(held.status).toBe(3);
    expect(held.stderr).toContain('HASHLOG.COMPACT');
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
  });

  it('--help and --version work', () => {
    expect(hashlog(['--version']).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    expect(hashlog(['serve', '--help']).stdout).toContain('--durability');
    expect(hashlog(['nosuch']).status).not.toBe(0);
  });

  it('bench runs both engines and prints a table with their ratio', () => {
    const b = hashlog(['bench', '--keys', '2000']);
    expect(b.status).toBe(0);
    expect(b.stdout).toContain('| operation | native ops/s | js ops/s | native ÷ js |');
    expect(b.stdout).toMatch(/\| get \(hit\) \| [\d,]+ \| [\d,]+ \| [\d.]+x \|/);
    expect(hashlog(['bench', '--engines', 'rust']).status).toBe(2);
  });
});
