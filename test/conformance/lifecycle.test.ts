import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { open as openStore } from '../../lib/index';
import { tmpdir } from '../helpers/tmpdir';
import { ENGINES, withEngine } from '../helpers/engines';

describe.each(ENGINES)('%s engine', (engine) => {
  const open = withEngine(openStore, engine);

  describe('Store#close()', () => {
    it('waits for pending writes, is idempotent, and releases the directory', async () => {
      const dir = tmpdir();
      const db = await open(dir);
      const writes = Array.from({ length: 100 }, (_, i) => db.put(`k${i}`, `v${i}`));
      const c1 = db.close();
      const c2 = db.close();
      expect(db.status).toBe('closing');
      await Promise.all([c1, c2, ...writes]);
      expect(db.status).toBe('closed');
      expect(fs.existsSync(path.join(dir, 'LOCK'))).toBe(false);
      const again = await open(dir);
      expect(again.get('k99')?.toString()).toBe('v99');
      await again.close();
    });

    it('makes every method fail with HASHLOG_CLOSED afterwards', async () => {
      const db = await open(tmpdir());
      await db.close();
      expect(() => db.get('k')).toThrow(expect.objectContaining({ name: 'HashlogError', code: 'HASHLOG_CLOSED' }));
      expect(() => db.has('k')).toThrow(expect.objectContaining({ code: 'HASHLOG_CLOSED' }));
      expect(() => db.size).toThrow(expect.objectContaining({ code: 'HASHLOG_CLOSED' }));
      expect(() => db.stats()).toThrow(expect.objectContaining({ code: 'HASHLOG_CLOSED' }));
      await expect(db.put('k', 'v')).rejects.toMatchObject({ code: 'HASHLOG_CLOSED' });
      await expect(db.del('k')).rejects.toMatchObject({ code: 'HASHLOG_CLOSED' });
      await expect(db.flush()).rejects.toMatchObject({ code: 'HASHLOG_CLOSED' });
    });

    it('rejects writes issued after close() was called', async () => {
      const db = await open(tmpdir());
      const closing = db.close();
      await expect(db.put('k', 'v')).rejects.toMatchObject({ code: 'HASHLOG_CLOSED' });
      await closing;
    });
  });

  describe('Store#flush()', () => {
    it('resolves after an fdatasync in either durability mode', async () => {
      for (const durability of ['sync', 'none'] as const) {
        const db = await open(tmpdir(), { durability, flushIntervalMs: 60_000 });
        await db.put('k', 'v');
        const before = db.stats().fsyncs;
        await db.put('k2', 'v2');
        await db.flush();
        if (durability === 'none') expect(db.stats().fsyncs).toBeGreaterThan(before);
        await db.flush(); // nothing new: resolves at once
        await db.close();
      }
    });
  });

  describe('durability "none"', () => {
    it('resolves writes before their fdatasync and syncs within flushIntervalMs', async () => {
      const db = await open(tmpdir(), { durability: 'none', flushIntervalMs: 20 });
      const start = db.stats().fsyncs;
      await db.put('k', 'v');
      await new Promise((r) => setTimeout(r, 200));
      expect(db.stats().fsyncs).toBeGreaterThan(start);
      await db.close();
    });
  });

  describe('directory lock', () => {
    it('fails a second open in the same process with HASHLOG_LOCKED', async () => {
      const dir = tmpdir();
      const db = await open(dir);
      await expect(open(dir)).rejects.toMatchObject({ name: 'HashlogError', code: 'HASHLOG_LOCKED' });
      await db.close();
      const again = await open(dir);
      await again.close();
    });

    it('fails an open from another process with HASHLOG_LOCKED', async () => {
      const dir = tmpdir();
      const db = await open(dir);
      const script = `require(${JSON.stringify(path.resolve('dist/index.js'))}).open(${JSON.stringify(dir)}, { engine: ${JSON.stringify(engine)} })
        .then(() => { console.log('opened'); process.exit(0) }, (e) => { console.log(e.code); process.exit(0) })`;
      const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
      expect(r.stdout.trim()).toBe('HASHLOG_LOCKED');
      await db.close();
    });

    it('takes over a LOCK left by a process that is gone', async () => {
      const dir = tmpdir();
      const db = await open(dir);
      await db.put('k', 'v');
      await db.close();
      // A pid that cannot be alive: the kernel's pid_max is below 2^22.
      fs.writeFileSync(path.join(dir, 'LOCK'), '4194304 12345\n');
      const again = await open(dir);
      expect(again.get('k')?.toString()).toBe('v');
      const owner = fs.readFileSync(path.join(dir, 'LOCK'), 'utf8');
      expect(owner.startsWith(`${process.pid} `)).toBe(true);
      await again.close();
    });

    it('takes over a LOCK whose pid was reused by another process', async () => {
      const dir = tmpdir();
      await (await open(dir)).close();
      // Our own pid with a wrong start time: a reused pid, not the owner.
      fs.writeFileSync(path.join(dir, 'LOCK'), `${process.pid} 1\n`);
      const db = await open(dir);
      await db.close();
    });

    it('honours a LOCK held by a live process without flock (the pure-TypeScript engine)', async () => {
      const dir = tmpdir();
      const stat = fs.readFileSync(`/proc/${process.pid}/stat`, 'utf8');
      const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
      fs.writeFileSync(path.join(dir, 'LOCK'), `${process.pid} ${start}\n`);
      await expect(open(dir)).rejects.toMatchObject({ code: 'HASHLOG_LOCKED' });
      fs.unlinkSync(path.join(dir, 'LOCK'));
    });
  });
});
