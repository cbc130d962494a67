import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { open as openStore } from '../../lib/index';
import { tmpdir } from '../helpers/tmpdir';
import { ENGINES, withEngine } from '../helpers/engines';

describe.each(ENGINES)('%s engine', (engine) => {
  const open = withEngine(openStore, engine);

  // Every file's name, size and content hash: what "changes no file" is checked against.
  function snapshot(dir: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const f of fs.readdirSync(dir).sort()) {
      const data = fs.readFileSync(path.join(dir, f));
      out[f] = `${data.length}:${crypto.createHash('sha256').update(data).digest('hex')}`;
    }
    return out;
  }

  async function written(): Promise<string> {
    const dir = tmpdir();
    const db = await open(dir, { segmentSize: 4096 });
    for (let i = 0; i < 100; i++) await db.put(`k${i}`, `v${i}`);
    await db.del('k0');
    await db.close();
    return dir;
  }

  describe('open(dir, { readOnly: true })', () => {
    it('reads everything and rejects every write with HASHLOG_READONLY, changing no file', async () => {
      const dir = await written();
      const before = snapshot(dir);
      const db = await open(dir, { readOnly: true });
      expect(db.size).toBe(99);
      expect(db.get('k5')?.toString()).toBe('v5');
      expect(db.has('k0')).toBe(false);
      expect(db.getMany(['k1', 'k0']).map((v) => v?.toString())).toEqual(['v1', undefined]);
      expect((await db.getAsync('k7'))?.toString()).toBe('v7');
      expect([...db.entries()].length).toBe(99);
      for (const write of [
        () => db.put('k1', 'x'),
        () => db.del('k1'),
        () => db.batch([{ type: 'del', key: 'k1' }]),
        () => db.expire('k1', { ttlMs: 10 }),
        () => db.clear(),
      ]) {
        await expect(write()).rejects.toMatchObject({ name: 'HashlogError', code: 'HASHLOG_READONLY' });
      }
      await db.flush();
      await db.close();
      expect(snapshot(dir)).toEqual(before);
    });

    it('reports a damaged tail without cutting it', async () => {
      const dir = await written();
      const files = fs.readdirSync(dir).filter((f) => f.endsWith('.hlog')).sort();
      const last = path.join(dir, files[files.length - 1]);
      fs.appendFileSync(last, Buffer.from('torn record bytes'));
      const before = snapshot(dir);
      const ro = await open(dir, { readOnly: true });
      // From the end of the data (the zero-filled space counts once garbage follows it).
      const discarded = ro.recovery.discardedBytes;
      expect(discarded).toBeGreaterThanOrEqual(17);
      expect(ro.size).toBe(99);
      await ro.close();
      expect(snapshot(dir)).toEqual(before);
      const rw = await open(dir);
      expect(rw.recovery.discardedBytes).toBe(discarded); // the writer cuts it
      await rw.close();
      const again = await open(dir, { readOnly: true });
      expect(again.recovery.discardedBytes).toBe(0);
      await again.close();
    });

    it('fails with HASHLOG_LOCKED while a writer holds the directory, and keeps writers out', async () => {
      const dir = await written();
      const writer = await open(dir);
      await expect(open(dir, { readOnly: true })).rejects.toMatchObject({ code: 'HASHLOG_LOCKED' });
      await writer.close();
      const r1 = await open(dir, { readOnly: true });
      const r2 = await open(dir, { readOnly: true }); // readers share
      await expect(open(dir)).rejects.toMatchObject({ code: 'HASHLOG_LOCKED' });
      await r1.close();
      await r2.close();
      const w = await open(dir);
      await w.close();
    });

    it('fails with HASHLOG_IO on a missing directory and creates nothing', async () => {
      const dir = path.join(tmpdir(), 'missing');
      await expect(open(dir, { readOnly: true })).rejects.toMatchObject({ code: 'HASHLOG_IO', errno: 2 });
      expect(fs.existsSync(dir)).toBe(false);
    });

    it('opens an empty directory as an empty store', async () => {
      const dir = tmpdir();
      const db = await open(dir, { readOnly: true });
      expect(db.size).toBe(0);
      expect(db.get('x')).toBeUndefined();
      await db.close();
      expect(fs.readdirSync(dir)).toEqual([]);
    });
  });
});
