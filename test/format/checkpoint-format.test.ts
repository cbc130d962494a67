// docs/FORMAT.md, "Checkpoint", is normative: this parser follows the document alone and
// checks the files both engines write against it.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { open } from '../../lib/index';
import { ENGINES } from '../helpers/engines';
import { crc32c, maskCrc, readRecords, segmentFiles, TYPE_PUT } from '../helpers/format';
import { tmpdir } from '../helpers/tmpdir';

const u64 = (b: Buffer, at: number): number => b.readUInt32LE(at) + b.readUInt32LE(at + 4) * 2 ** 32;

describe.each(ENGINES)('the CHECKPOINT the %s engine writes', (engine) => {
  it('has the layout docs/FORMAT.md gives, and its entries point at the live records', async () => {
    const dir = tmpdir('hashlog-ckfmt-');
    const db = await open(dir, { engine, segmentSize: 8192 });
    const expiring = new Map<string, boolean>();
    for (let i = 0; i < 300; i++) {
      await db.put(`key${i % 200}`, `value-${i}`, i % 7 === 0 ? { expiresAt: 4_000_000_000_000 + i * 1000 } : undefined);
      expiring.set(`key${i % 200}`, i % 7 === 0);
    }
    await db.del('key3');
    expiring.delete('key3');
    const seq = db.stats().seq;
    await db.close();
    const b = fs.readFileSync(path.join(dir, 'CHECKPOINT'));

    expect([...b.subarray(0, 8)]).toEqual([0x48, 0x4c, 0x43, 0x4b, 0x50, 0x54, 0x0a, 0x00]);
    expect(b.readUInt16LE(8)).toBe(1);
    expect(b.readUInt16LE(10)).toBe(0);
    expect(b.readUInt32LE(12)).toBe(engine === 'native' ? 1 : 2);
    if (engine === 'js') expect(b.subarray(24, 32).equals(Buffer.alloc(8))).toBe(true);
    expect(u64(b, 32)).toBe(seq);
    const nseg = b.readUInt32LE(40);
    const nexp = b.readUInt32LE(44);
    const buckets = u64(b, 48);
    const entries = u64(b, 56);
    expect(buckets & (buckets - 1)).toBe(0);
    expect(entries).toBe(199);
    expect(entries).toBeLessThanOrEqual(buckets * 5 * 7 / 8);
    expect(b.length).toBe(64 + 32 * nseg + 16 * nexp + 12 * entries + 4);
    expect(b.readUInt32LE(b.length - 4)).toBe(maskCrc(crc32c(b.subarray(0, b.length - 4))));

    const files = segmentFiles(dir);
    expect(nseg).toBe(files.length);
    const liveOffsets: Set<number>[] = [];
    let p = 64;
    for (let i = 0; i < nseg; i++, p += 32) {
      const file = fs.readFileSync(files[i]);
      expect(u64(b, p)).toBe(Number(path.basename(files[i], '.hlog')));
      expect(b.readUInt32LE(p + 8)).toBe(file.readUInt32LE(12));
      const covered = u64(b, p + 16);
      const records = readRecords(files[i]);
      const last = records[records.length - 1];
      expect(covered).toBe(last.offset + last.size);
      const from = Math.max(32, covered - 65536);
      expect(b.readUInt32LE(p + 12)).toBe(maskCrc(crc32c(file.subarray(from, covered))));
      liveOffsets.push(new Set(records.filter((r) => r.type === TYPE_PUT).map((r) => r.offset)));
    }
    let counted = 0;
    for (let i = 0; i < nexp; i++, p += 16) {
      expect(u64(b, p)).toBeGreaterThanOrEqual(4_000_000_000); // seconds, not ms
      counted += u64(b, p + 8);
    }
    expect(counted).toBe([...expiring.values()].filter(Boolean).length);
    const seen = new Set<string>();
    for (let e = 0; e < entries; e++, p += 12) {
      const tag = b.readUInt32LE(p);
      const offset = b.readUInt32LE(p + 4);
      const ordinal = b.readUInt32LE(p + 8) & 0xffff;
      expect(tag).not.toBe(0);
      expect(liveOffsets[ordinal].has(offset), `entry ${e}`).toBe(true);
      seen.add(`${ordinal}@${offset}`);
    }
    expect(seen.size).toBe(entries);
  });
});
