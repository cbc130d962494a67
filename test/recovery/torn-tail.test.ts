// Torn tails: an append cut short in the newest segment is dropped at open, at every byte offset
// of the last record, whether the file ends there or the rest of the record is zeros or garbage.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { open as openStore, type Store } from '../../lib/index';
import { patchFile, prng, readRecords, segmentFiles } from '../helpers/format';
import { tmpdir } from '../helpers/tmpdir';
import { ENGINES, withEngine } from '../helpers/engines';

describe.each(ENGINES)('%s engine', (engine) => {
  const open = withEngine(openStore, engine);

  // Ten keys with values of varied length, none ending in a zero byte (so that zeroing the tail
  // of a record always changes it).
  const BASE: Array<[string, string]> = Array.from({ length: 10 }, (_, i) => [`k${i}`, `value-${i}-${'v'.repeat(i * 3)}`]);

  interface LastOp {
    name: string;
    /** What the last record does. */
    apply: (db: Store) => Promise<unknown>;
    /** The key the last record touches. */
    key: string;
    /** Its value once the last record is dropped. */
    before: string | undefined;
  }

  const LAST_OPS: LastOp[] = [
    { name: 'a put of a new key', apply: (db) => db.put('last', 'the-final-value!'), key: 'last', before: undefined },
    { name: 'an overwrite', apply: (db) => db.put('k3', 'k3-overwritten'), key: 'k3', before: BASE[3][1] },
    { name: 'a delete', apply: (db) => db.del('k5'), key: 'k5', before: BASE[5][1] },
  ];

  type Damage = 'truncate' | 'zeros' | 'garbage';
  const DAMAGES: Damage[] = ['truncate', 'zeros', 'garbage'];

  interface Prepared {
    dir: string;
    file: string;
    /** Offset of the last record. */
    start: number;
    /** One past its last byte. */
    end: number;
  }

  async function prepare(op: LastOp): Promise<Prepared> {
    const dir = tmpdir('hashlog-torn-');
    const db = await open(dir, { durability: 'sync' });
    for (const [k, v] of BASE) await db.put(k, v);
    await op.apply(db);
    await db.close();
    const files = segmentFiles(dir);
    expect(files).toHaveLength(1);
    const records = readRecords(files[0]);
    expect(records).toHaveLength(BASE.length + 1);
    const last = records[records.length - 1];
    expect(last.key.toString()).toBe(op.key);
    return { dir, file: files[0], start: last.offset, end: last.offset + last.size };
  }

  // Applies `damage` from offset `at` (start <= at < end) to the last record of the copy `file`.
  function damageTail(file: string, p: Prepared, damage: Damage, at: number, rand: () => number): void {
    if (damage === 'truncate') {
      fs.truncateSync(file, at);
    } else if (damage === 'zeros') {
      patchFile(file, at, Buffer.alloc(p.end - at));
    } else {
      // Non-zero garbage, so that every byte of it counts as data.
      patchFile(file, at, Buffer.from(Array.from({ length: p.end - at }, () => 1 + Math.floor(rand() * 255))));
    }
  }

  // The bytes open() must report discarded: from the start of the torn record through the last
  // non-zero byte of the file. Zero bytes past that are the zero-filled space ahead of the writer
  // (or the zeros a torn write left), not data; the record's own interior zeros (reserved
  // header fields, high bytes of lengths) before a non-zero byte are part of what was cut.
  function expectedDiscarded(file: string, start: number): number {
    const b = fs.readFileSync(file);
    let last = b.length;
    while (last > start && b[last - 1] === 0) last--;
    return last - start;
  }

  function expectContents(db: Store, op: LastOp): void {
    for (const [k, v] of BASE) {
      if (k === op.key) continue;
      expect(db.get(k)?.toString(), k).toBe(v);
    }
    if (op.before === undefined) {
      expect(db.has(op.key)).toBe(false);
      expect(db.get(op.key)).toBeUndefined();
    } else {
      expect(db.get(op.key)?.toString()).toBe(op.before);
    }
    expect(db.size).toBe(BASE.length);
  }

  describe('open() after a torn write', () => {
    describe.each(LAST_OPS)('when the last record is $name', (op) => {
      it.each(DAMAGES)('drops the last record at every offset it is cut at (%s) and keeps every earlier one', async (damage) => {
        const p = await prepare(op);
        const work = tmpdir('hashlog-torn-work-');
        const rand = prng(0x7041 + p.start);
        for (let at = p.start; at < p.end; at++) {
          const dir = path.join(work, `${damage}-${at}`);
          fs.cpSync(p.dir, dir, { recursive: true });
          const file = path.join(dir, path.basename(p.file));
          damageTail(file, p, damage, at, rand);
          const discarded = expectedDiscarded(file, p.start);
          const db = await open(dir, { durability: 'sync' });
          try {
            expectContents(db, op);
            expect(db.recovery.discardedBytes, `cut at ${at}`).toBe(discarded);
            expect(db.recovery.dropped).toEqual([]);
            expect(db.recovery.segments).toBe(1);
          } finally {
            await db.close();
          }
          fs.rmSync(dir, { recursive: true, force: true });
        }
      });
    });

    it('reports no discarded bytes for a store closed cleanly', async () => {
      const p = await prepare(LAST_OPS[0]);
      const db = await open(p.dir);
      expect(db.recovery.discardedBytes).toBe(0);
      expect(db.recovery.dropped).toEqual([]);
      expect(db.get('last')?.toString()).toBe('the-final-value!');
      await db.close();
    });

    it.each(DAMAGES)('accepts new writes after dropping a torn tail (%s) and keeps them across another reopen', async (damage) => {
      const op = LAST_OPS[0];
      const p = await prepare(op);
      // Cut in the middle of the value: the header survives, the record does not.
      const at = p.start + 32 + 6;
      damageTail(p.file, p, damage, at, prng(99));
      let db = await open(p.dir, { durability: 'sync' });
      expect(db.recovery.discardedBytes).toBeGreaterThan(0);
      expectContents(db, op);
      // Shorter records than the torn one first, so that any garbage left in place would follow them.
      await db.put('n1', 'x');
      await db.put('last', 'rewritten');
      await db.del('k0');
      await Promise.all(Array.from({ length: 20 }, (_, i) => db.put(`m${i}`, `m-value-${i}`)));
      await db.close();

      db = await open(p.dir, { durability: 'sync' });
      try {
        expect(db.recovery.discardedBytes).toBe(0);
        expect(db.recovery.dropped).toEqual([]);
        expect(db.get('n1')?.toString()).toBe('x');
        expect(db.get('last')?.toString()).toBe('rewritten');
        expect(db.has('k0')).toBe(false);
        for (const [k, v] of BASE.slice(1)) expect(db.get(k)?.toString(), k).toBe(v);
        for (let i = 0; i < 20; i++) expect(db.get(`m${i}`)?.toString()).toBe(`m-value-${i}`);
        expect(db.size).toBe(BASE.length - 1 + 2 + 20);
      } finally {
        await db.close();
      }
    });

    it('discards a newest segment whose header never reached the disk', async () => {
      const dir = tmpdir('hashlog-torn-');
      let db = await open(dir, { segmentSize: 4096 });
      for (let i = 0; i < 40; i++) await db.put(`key-${i}`, 'v'.repeat(200));
      await db.close();
      const files = segmentFiles(dir);
      expect(files.length).toBeGreaterThan(2);
      const newest = files[files.length - 1];
      const live = new Map<string, string>();
      for (const f of files.slice(0, -1)) for (const r of readRecords(f)) live.set(r.key.toString(), r.value.toString());
      // A crash after the file was created but before anything was written: all zeros.
      fs.writeFileSync(newest, Buffer.alloc(4096));
      db = await open(dir, { segmentSize: 4096 });
      try {
        expect(db.size).toBe(live.size);
        for (const [k, v] of live) expect(db.get(k)?.toString()).toBe(v);
        await db.put('after', 'ok');
        expect(db.get('after')?.toString()).toBe('ok');
      } finally {
        await db.close();
      }
    });
  });
});
