// Mid-log damage: a bad record or segment header anywhere but the torn tail of the newest segment
// fails open() with HASHLOG_CORRUPTION naming the file and offset, unless `repair: true`
// salvages every intact record. Segment files are damaged, and records crafted, byte by byte
// through test/helpers/format.ts.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HashlogError, open as openStore, type OpenOptions } from '../../lib/index';
import {
  encodeRecord,
  encodeSegmentHeader,
  flipByte,
  patchFile,
  readAt,
  readRecords,
  resealSegmentHeader,
  segmentFiles,
  segmentName,
  TYPE_DELETE,
  type RecordInfo,
} from '../helpers/format';
import { tmpdir } from '../helpers/tmpdir';
import { ENGINES, withEngine } from '../helpers/engines';

describe.each(ENGINES)('%s engine', (engine) => {
  const open = withEngine(openStore, engine);

  interface Built {
    dir: string;
    /** Every key written, with its value. Keys are unique: each is written once. */
    values: Map<string, string>;
    files: string[];
    /** The records of each segment file, in file order. */
    records: RecordInfo[][];
  }

  // Writes `count` unique keys with values of `valueSize` bytes, then closes the store.
  async function build(count: number, valueSize: number, options: OpenOptions = {}): Promise<Built> {
    const dir = tmpdir('hashlog-crc-');
    const db = await open(dir, { durability: 'none', ...options });
    const values = new Map<string, string>();
    const writes: Array<Promise<void>> = [];
    for (let i = 0; i < count; i++) {
      const k = `key-${String(i).padStart(4, '0')}`;
      const v = `${k}:`.padEnd(valueSize, String.fromCharCode(97 + (i % 26)));
      values.set(k, v);
      writes.push(db.put(k, v));
    }
    await Promise.all(writes);
    await db.close();
    const files = segmentFiles(dir);
    const records = files.map((f) => readRecords(f));
    expect(records.flat().map((r) => r.key.toString())).toEqual([...values.keys()]);
    return { dir, values, files, records };
  }

  async function openError(dir: string, options: OpenOptions = {}): Promise<HashlogError> {
    const err = await open(dir, options).then(
      async (db) => {
        await db.close();
        return undefined;
      },
      (e: unknown) => e,
    );
    if (err === undefined) throw new Error(`open(${dir}) succeeded; it should have failed`);
    expect(err).toBeInstanceOf(HashlogError);
    return err as HashlogError;
  }

  function expectNamesPlace(err: HashlogError, file: string, offset: number): void {
    expect(err.message).toContain(path.basename(file));
    expect(err.message).toMatch(new RegExp(`\\b${offset}\\b`));
  }

  // Opens with repair and checks that exactly the keys in `lost` are gone.
  async function expectRepairKeepsAllBut(b: Built, lost: Set<string>): Promise<string[]> {
    const db = await open(b.dir, { repair: true });
    try {
      for (const [k, v] of b.values) {
        if (lost.has(k)) expect(db.has(k), k).toBe(false);
        else expect(db.get(k)?.toString(), k).toBe(v);
      }
      expect(db.size).toBe(b.values.size - lost.size);
      // The salvaged store takes writes.
      await db.put('after-repair', 'yes');
      expect(db.get('after-repair')?.toString()).toBe('yes');
      return db.recovery.dropped;
    } finally {
      await db.close();
    }
  }

  const keyOf = (r: RecordInfo): string => r.key.toString();

  describe('open() with a damaged record in the newest segment', () => {
    it('fails with HASHLOG_CORRUPTION naming the file and offset when intact records follow', async () => {
      const b = await build(10, 40);
      expect(b.files).toHaveLength(1);
      const victim = b.records[0][2];
      flipByte(b.files[0], victim.offset + Math.floor(victim.size / 2));
      const err = await openError(b.dir);
      expect(err.code).toBe('HASHLOG_CORRUPTION');
      expectNamesPlace(err, b.files[0], victim.offset);
    });

    it('releases the directory lock after failing, so that a repairing open succeeds', async () => {
      const b = await build(10, 40);
      const victim = b.records[0][4];
      flipByte(b.files[0], victim.offset + victim.size - 1);
      // A second attempt sees the same damage, not HASHLOG_LOCKED.
      expect((await openError(b.dir)).code).toBe('HASHLOG_CORRUPTION');
      expect((await openError(b.dir)).code).toBe('HASHLOG_CORRUPTION');
      const dropped = await expectRepairKeepsAllBut(b, new Set([keyOf(victim)]));
      expect(dropped).toHaveLength(1);
    });

    it('with repair: true keeps every other record and lists the dropped range', async () => {
      const b = await build(10, 40);
      const victim = b.records[0][2];
      flipByte(b.files[0], victim.offset + Math.floor(victim.size / 2));
      const dropped = await expectRepairKeepsAllBut(b, new Set([keyOf(victim)]));
      expect(dropped.length).toBeGreaterThan(0);
      expect(dropped.join(' ')).toContain(segmentName(1));
    });

    it('fails with HASHLOG_CORRUPTION when a damaged header field (not the CRC) is followed by intact records', async () => {
      const b = await build(10, 40);
      const victim = b.records[0][5];
      // Reserved u16 at offset 6 must be zero.
      patchFile(b.files[0], victim.offset + 6, Buffer.from([0x01, 0x00]));
      const err = await openError(b.dir);
      expect(err.code).toBe('HASHLOG_CORRUPTION');
      expectNamesPlace(err, b.files[0], victim.offset);
    });

    it('fails with HASHLOG_CORRUPTION when a zeroed page is followed by intact records', async () => {
      const b = await build(200, 100);
      expect(b.files).toHaveLength(1);
      const file = b.files[0];
      patchFile(file, 8192, Buffer.alloc(4096));
      const hit = b.records[0].filter((r) => r.offset < 8192 + 4096 && r.offset + r.size > 8192);
      const err = await openError(b.dir);
      expect(err.code).toBe('HASHLOG_CORRUPTION');
      expectNamesPlace(err, file, hit[0].offset);
      await expectRepairKeepsAllBut(b, new Set(hit.map(keyOf)));
    });

    it('fails with HASHLOG_CORRUPTION when its segment header is damaged and records follow', async () => {
      const b = await build(10, 40);
      flipByte(b.files[0], 0);
      const err = await openError(b.dir);
      expect(err.code).toBe('HASHLOG_CORRUPTION');
      expect(err.message).toContain(segmentName(1));
    });
  });

  describe('open() with a hand-crafted record', () => {
    it('reads a record appended by hand after the last one (the test encoder agrees with the engine)', async () => {
      const b = await build(5, 20);
      const last = b.records[0][b.records[0].length - 1];
      const crafted = encodeRecord({ key: 'crafted', value: 'by hand', seq: last.seq + 1n });
      const tomb = encodeRecord({ type: TYPE_DELETE, key: 'key-0001', seq: last.seq + 2n });
      patchFile(b.files[0], last.offset + last.size, Buffer.concat([crafted, tomb]));
      const db = await open(b.dir);
      try {
        expect(db.recovery.discardedBytes).toBe(0);
        expect(db.get('crafted')?.toString()).toBe('by hand');
        expect(db.has('key-0001')).toBe(false);
        expect(db.size).toBe(5);
      } finally {
        await db.close();
      }
    });

    it('fails with HASHLOG_CORRUPTION when an intact record follows a damaged last record', async () => {
      const b = await build(5, 20);
      const last = b.records[0][b.records[0].length - 1];
      flipByte(b.files[0], last.offset + last.size - 3);
      patchFile(b.files[0], last.offset + last.size, encodeRecord({ key: 'crafted', value: 'v', seq: last.seq + 1n }));
      const err = await openError(b.dir);
      expect(err.code).toBe('HASHLOG_CORRUPTION');
      expectNamesPlace(err, b.files[0], last.offset);
    });

    it('fails with HASHLOG_CORRUPTION when an intact record sits far past a torn tail in zero-filled space', async () => {
      // Durability 'sync' zero-fills the newest segment ahead of the writer ('none' appends).
      const b = await build(5, 20, { durability: 'sync' });
      const last = b.records[0][b.records[0].length - 1];
      const size = fs.statSync(b.files[0]).size;
      const far = Math.min(last.offset + 64 * 1024, size - 100);
      expect(far).toBeGreaterThan(last.offset + last.size);
      // Torn: the last record's value is half zeros.
      patchFile(b.files[0], last.offset + last.size - 8, Buffer.alloc(8));
      patchFile(b.files[0], far, encodeRecord({ key: 'far', value: 'away', seq: last.seq + 1n }));
      const err = await openError(b.dir);
      expect(err.code).toBe('HASHLOG_CORRUPTION');
      expectNamesPlace(err, b.files[0], last.offset);
    });

    it('with repair: true keeps the intact record after the damaged one and drops only the damaged one', async () => {
      const b = await build(5, 20);
      const last = b.records[0][b.records[0].length - 1];
      flipByte(b.files[0], last.offset + 10);
      patchFile(b.files[0], last.offset + last.size, encodeRecord({ key: 'crafted', value: 'v', seq: last.seq + 1n }));
      const db = await open(b.dir, { repair: true });
      try {
        expect(db.get('crafted')?.toString()).toBe('v');
        expect(db.has(keyOf(last))).toBe(false);
        for (const r of b.records[0].slice(0, -1)) expect(db.get(keyOf(r))?.toString()).toBe(b.values.get(keyOf(r)));
        expect(db.recovery.dropped).toHaveLength(1);
        expect(db.recovery.dropped[0]).toContain(segmentName(1));
        // The next write's sequence number is above the crafted record's.
        await db.put('crafted', 'newer');
        expect(db.stats().seq).toBeGreaterThan(Number(last.seq + 1n));
      } finally {
        await db.close();
      }
      const again = await open(b.dir, { repair: true });
      try {
        expect(again.get('crafted')?.toString()).toBe('newer');
      } finally {
        await again.close();
      }
    });
  });

  describe('open() with a damaged older (sealed) segment', () => {
    // 4 KiB segments of ~200-byte records: about 20 records a segment.
    const SMALL: OpenOptions = { segmentSize: 4096 };

    it('fails with HASHLOG_CORRUPTION naming the file and offset for one flipped byte', async () => {
      const b = await build(80, 160, SMALL);
      expect(b.files.length).toBeGreaterThanOrEqual(3);
      const victim = b.records[0][7];
      flipByte(b.files[0], victim.offset + 20);
      const err = await openError(b.dir, SMALL);
      expect(err.code).toBe('HASHLOG_CORRUPTION');
      expectNamesPlace(err, b.files[0], victim.offset);
    });

    it('fails with HASHLOG_CORRUPTION when the damaged record is the last of an older segment', async () => {
      const b = await build(80, 160, SMALL);
      const recs = b.records[1];
      const victim = recs[recs.length - 1];
      flipByte(b.files[1], victim.offset + victim.size - 1);
      const err = await openError(b.dir, SMALL);
      expect(err.code).toBe('HASHLOG_CORRUPTION');
      expectNamesPlace(err, b.files[1], victim.offset);
    });

    it('fails with HASHLOG_CORRUPTION when an older segment ends in a partial record', async () => {
      const b = await build(80, 160, SMALL);
      const recs = b.records[0];
      const victim = recs[recs.length - 1];
      fs.truncateSync(b.files[0], victim.offset + victim.size - 5);
      const err = await openError(b.dir, SMALL);
      expect(err.code).toBe('HASHLOG_CORRUPTION');
      expectNamesPlace(err, b.files[0], victim.offset);
    });

    it('with repair: true keeps every other record, drops the damaged one and lists it', async () => {
      const b = await build(80, 160, SMALL);
      const victim = b.records[0][7];
      flipByte(b.files[0], victim.offset + 20);
      const dropped = await expectRepairKeepsAllBut(b, new Set([keyOf(victim)]));
      expect(dropped.length).toBeGreaterThan(0);
      expect(dropped.join(' ')).toContain(segmentName(1));
    });

    it('fails with HASHLOG_CORRUPTION for a zeroed page in the middle of a sealed segment', async () => {
      const b = await build(600, 300, { segmentSize: 64 * 1024 });
      expect(b.files.length).toBeGreaterThanOrEqual(2);
      const file = b.files[0];
      expect(fs.statSync(file).size).toBeGreaterThan(3 * 4096);
      patchFile(file, 8192, Buffer.alloc(4096));
      const hit = b.records[0].filter((r) => r.offset < 8192 + 4096 && r.offset + r.size > 8192);
      expect(hit.length).toBeGreaterThan(1);
      const err = await openError(b.dir, { segmentSize: 64 * 1024 });
      expect(err.code).toBe('HASHLOG_CORRUPTION');
      expectNamesPlace(err, file, hit[0].offset);
      const dropped = await expectRepairKeepsAllBut(b, new Set(hit.map(keyOf)));
      expect(dropped.length).toBeGreaterThan(0);
    });

    it('fails with HASHLOG_CORRUPTION naming the file when its magic bytes are damaged', async () => {
      const b = await build(80, 160, SMALL);
      patchFile(b.files[1], 0, Buffer.from('XASHLOG\n', 'latin1'));
      const err = await openError(b.dir, SMALL);
      expect(err.code).toBe('HASHLOG_CORRUPTION');
      expect(err.message).toContain(segmentName(2));
      // Every record of that segment is intact: repair keeps them all.
      const dropped = await expectRepairKeepsAllBut(b, new Set());
      expect(Array.isArray(dropped)).toBe(true);
    });

    it('fails with HASHLOG_CORRUPTION when its header CRC does not match', async () => {
      const b = await build(80, 160, SMALL);
      flipByte(b.files[0], 29);
      const err = await openError(b.dir, SMALL);
      expect(err.code).toBe('HASHLOG_CORRUPTION');
      expect(err.message).toContain(segmentName(1));
    });

    it('fails with HASHLOG_CORRUPTION when its header names another file number', async () => {
      const b = await build(80, 160, SMALL);
      patchFile(b.files[0], 0, encodeSegmentHeader({ fileNumber: 7 }));
      const err = await openError(b.dir, SMALL);
      expect(err.code).toBe('HASHLOG_CORRUPTION');
      expect(err.message).toContain(segmentName(1));
    });
  });

  describe('open() with a segment of another format version', () => {
    function setVersion(file: string, major: number, minor: number): void {
      const h = readAt(file, 0, 32);
      h.writeUInt16LE(major, 8);
      h.writeUInt16LE(minor, 10);
      resealSegmentHeader(h);
      patchFile(file, 0, h);
    }

    it('fails with HASHLOG_NOT_SUPPORTED when the newest segment declares a newer major version', async () => {
      const b = await build(10, 40);
      setVersion(b.files[0], 3, 0); // 2 is a compacted segment (docs/FORMAT.md)
      const err = await openError(b.dir);
      expect(err.code).toBe('HASHLOG_NOT_SUPPORTED');
      expect(err.message).toContain(segmentName(1));
    });

    it('fails with HASHLOG_NOT_SUPPORTED when an older segment declares a newer major version, even with repair: true', async () => {
      const b = await build(80, 160, { segmentSize: 4096 });
      setVersion(b.files[0], 3, 0);
      expect((await openError(b.dir, { segmentSize: 4096 })).code).toBe('HASHLOG_NOT_SUPPORTED');
      // Repair salvages damage; it must not reinterpret a format it does not know.
      expect((await openError(b.dir, { segmentSize: 4096, repair: true })).code).toBe('HASHLOG_NOT_SUPPORTED');
    });

    it('opens a segment that declares a newer minor version of the same major', async () => {
      const b = await build(10, 40);
      setVersion(b.files[0], 1, 3);
      const db = await open(b.dir);
      try {
        for (const [k, v] of b.values) expect(db.get(k)?.toString()).toBe(v);
      } finally {
        await db.close();
      }
    });
  });
});
