import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { open } from '../../lib/index';
import { crc32c, maskCrc as mask } from '../helpers/format';
import { tmpdir } from '../helpers/tmpdir';

// docs/FORMAT.md is normative: these tests read its tables and check them against the
// constants in native/log_format.h and against bytes the engine really writes.
const DOC = fs.readFileSync(path.resolve('docs/FORMAT.md'), 'utf8');
const HEADER = fs.readFileSync(path.resolve('native/log_format.h'), 'utf8');

function docTable(heading: string): string[][] {
  const start = DOC.indexOf(heading);
  const rows = DOC.slice(start).split('\n').filter((l) => l.startsWith('|'));
  const end = rows.findIndex((r, i) => i > 1 && !r.startsWith('|'));
  return (end < 0 ? rows : rows.slice(0, end)).slice(2).map((r) => r.split('|').slice(1, -1).map((c) => c.trim()));
}

function cppConstant(name: string): number {
  const m = HEADER.match(new RegExp(`${name}\\s*=\\s*([0-9]+)`));
  if (!m) throw new Error(`${name} not in log_format.h`);
  return Number(m[1]);
}

async function oneRecordStore(): Promise<{ file: Buffer }> {
  const dir = tmpdir();
  const db = await open(dir);
  await db.put('k', 'v1', { expiresAt: 1_900_000_000_000 });
  await db.close();
  return { file: fs.readFileSync(path.join(dir, '0000000001.hlog')) };
}

describe('docs/FORMAT.md', () => {
  it('names the segment header fields at the offsets and sizes the engine writes', async () => {
    const { file } = await oneRecordStore();
    const rows = docTable('| offset | size | field | value |');
    const field = (name: string): string[] => rows.find((r) => r[2] === name)!;
    const magic = field('magic');
    const magicBytes = magic[3].match(/\b[0-9a-f]{2}\b/g)!.map((h) => parseInt(h, 16));
    expect(Buffer.from(magicBytes)).toEqual(file.subarray(Number(magic[0]), Number(magic[0]) + Number(magic[1])));
    expect(file.readUInt16LE(Number(field('major')[0]))).toBe(Number(field('major')[3]));
    expect(file.readUInt16LE(Number(field('minor')[0]))).toBe(Number(field('minor')[3]));
    expect(Number(field('major')[3])).toBe(cppConstant('kFormatMajor'));
    expect(Number(field('minor')[3])).toBe(cppConstant('kFormatMinor'));
    expect(file.readBigUInt64LE(Number(field('file_number')[0]))).toBe(1n);
    const crcAt = Number(field('crc')[0]);
    expect(file.readUInt32LE(crcAt)).toBe(mask(crc32c(file.subarray(0, crcAt))));
    expect(crcAt + 4).toBe(cppConstant('kSegmentHeaderSize'));
  });

  it('names the record fields at the offsets the engine writes', async () => {
    const { file } = await oneRecordStore();
    const rows = docTable('| offset | size | field | meaning |');
    const at = (name: string): number => 32 + Number(rows.find((r) => r[2] === name)![0]);
    const keyLen = file.readUInt32LE(at('key_len'));
    const valueLen = file.readUInt32LE(at('value_len'));
    expect(file[at('type')]).toBe(1);
    expect([keyLen, valueLen]).toEqual([1, 2]);
    expect(file.readBigUInt64LE(at('seq'))).toBe(1n);
    expect(file.readBigUInt64LE(at('expires_at'))).toBe(1_900_000_000_000n);
    const end = 32 + cppConstant('kRecordHeaderSize') + keyLen + valueLen;
    expect(file.subarray(end - 3, end).toString()).toBe('kv1');
    expect(file.readUInt32LE(at('crc'))).toBe(mask(crc32c(file.subarray(at('crc') + 4, end))));
  });

  it('lists the record types with the numbers in native/log_format.h', () => {
    const typeRow = docTable('| offset | size | field | meaning |').find((r) => r[2] === 'type')![3];
    for (const [name, cpp] of [['PUT', 'kTypePut'], ['DELETE', 'kTypeDelete'], ['BATCH', 'kTypeBatch'], ['CLEAR', 'kTypeClear']]) {
      const m = typeRow.match(new RegExp(`(\\d+) = ${name}`));
      expect(m, `${name} in the type row`).not.toBeNull();
      expect(Number(m![1])).toBe(cppConstant(cpp));
    }
  });

  it('states the masked CRC formula the engine uses', () => {
    expect(DOC).toContain('((crc >>> 15) | (crc << 17)) + 0xa282ead8');
    expect(fs.readFileSync(path.resolve('native/crc32c.h'), 'utf8')).toContain('0xa282ead8u');
  });
});
