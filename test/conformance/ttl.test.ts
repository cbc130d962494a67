import { describe, expect, it } from 'vitest';
import { open as openStore } from '../../lib/index';
import { tmpdir } from '../helpers/tmpdir';
import { ENGINES, withEngine } from '../helpers/engines';

describe.each(ENGINES)('%s engine', (engine) => {
  const open = withEngine(openStore, engine);

  describe('Store#put() with an expiry', () => {
    it('hides a key once its ttlMs has passed, to the millisecond', async () => {
      const db = await open(tmpdir());
      await db.put('k', 'v', { ttlMs: 10_000 });
      const at = db.expiresAt('k')!;
      expect(at).toBeGreaterThan(Date.now() + 9_000);
      // Shortly before (a margin: real time keeps moving while the test runs).
      db._setClockOffset(at - Date.now() - 3000);
      expect(db.get('k')?.toString()).toBe('v');
      expect(db.has('k')).toBe(true);
      db._setClockOffset(at - Date.now()); // at expiresAt (or later): gone
      expect(db.get('k')).toBeUndefined();
      expect(db.has('k')).toBe(false);
      expect(db.expiresAt('k')).toBeUndefined();
      expect(db.getMany(['k'])).toEqual([undefined]);
      expect(await db.getAsync('k')).toBeUndefined();
      await db.close();
    });

    it('accepts an absolute expiresAt, and one in the past hides the key at once', async () => {
      const db = await open(tmpdir());
      const at = Date.now() + 60_000;
      await db.put('future', 'v', { expiresAt: at });
      expect(db.expiresAt('future')).toBe(at);
      await db.put('past', 'v', { expiresAt: Date.now() - 1 });
      expect(db.get('past')).toBeUndefined();
      await db.put('long-past', 'v', { expiresAt: Date.now() - 2000 });
      expect(db.get('long-past')).toBeUndefined();
      // size counts expiries per second: 'past' may still count until its second ends.
      expect([1, 2]).toContain(db.size);
      db._setClockOffset(1000);
      expect(db.size).toBe(1);
      await db.close();
    });

    it('keeps expiries across reopen and expires keys while closed', async () => {
      const dir = tmpdir();
      let db = await open(dir);
      await db.put('short', 's', { ttlMs: 50 });
      await db.put('long', 'l', { ttlMs: 3_600_000 });
      await db.put('none', 'n');
      const longAt = db.expiresAt('long');
      await db.close();
      await new Promise((r) => setTimeout(r, 1100));
      db = await open(dir);
      expect(db.get('short')).toBeUndefined();
      expect(db.expiresAt('long')).toBe(longAt);
      expect(db.expiresAt('none')).toBeNull();
      expect(db.size).toBe(2);
      await db.close();
    });

    it('counts expired keys out of size once their second has passed', async () => {
      const db = await open(tmpdir());
      for (let i = 0; i < 10; i++) await db.put(`t${i}`, 'v', { ttlMs: 5_000 });
      await db.put('keep', 'v');
      expect(db.size).toBe(11);
      db._setClockOffset(7_000);
      expect(db.size).toBe(1);
      // Overwriting or deleting an expired key keeps the count right.
      await db.put('t0', 'again');
      await db.del('t1');
      expect(db.size).toBe(2);
      await db.close();
    });

    it('drops an expiry when the key is overwritten without one', async () => {
      const db = await open(tmpdir());
      await db.put('k', 'v1', { ttlMs: 1000 });
      await db.put('k', 'v2');
      expect(db.expiresAt('k')).toBeNull();
      db._setClockOffset(5000);
      expect(db.get('k')?.toString()).toBe('v2');
      await db.close();
    });

    it('rejects bad expiry options with HASHLOG_INVALID_ARGUMENT', async () => {
      const db = await open(tmpdir());
      await expect(db.put('k', 'v', { ttlMs: 0 })).rejects.toMatchObject({ name: 'RangeError', code: 'HASHLOG_INVALID_ARGUMENT' });
      await expect(db.put('k', 'v', { ttlMs: -5 })).rejects.toMatchObject({ code: 'HASHLOG_INVALID_ARGUMENT' });
      await expect(db.put('k', 'v', { ttlMs: 1.5 })).rejects.toMatchObject({ name: 'TypeError' });
      await expect(db.put('k', 'v', { ttlMs: 10, expiresAt: Date.now() })).rejects.toMatchObject({ code: 'HASHLOG_INVALID_ARGUMENT' });
      // @ts-expect-error deliberate misuse
      await expect(db.put('k', 'v', 'soon')).rejects.toMatchObject({ code: 'HASHLOG_INVALID_ARGUMENT' });
      expect(db.has('k')).toBe(false);
      await db.close();
    });
  });

  describe('Store#persist()', () => {
    it('removes an expiry durably and reports whether there was one', async () => {
      const dir = tmpdir();
      let db = await open(dir);
      await db.put('k', 'value', { ttlMs: 2000 });
      await db.put('plain', 'p');
      expect(await db.persist('k')).toBe(true);
      expect(await db.persist('k')).toBe(false); // no expiry any more
      expect(await db.persist('plain')).toBe(false);
      expect(await db.persist('missing')).toBe(false);
      await db.close();
      db = await open(dir);
      db._setClockOffset(10_000);
      expect(db.get('k')?.toString()).toBe('value');
      expect(db.expiresAt('k')).toBeNull();
      await db.close();
    });

    it('cannot bring back an expired key', async () => {
      const db = await open(tmpdir());
      await db.put('k', 'v', { ttlMs: 1000 });
      db._setClockOffset(2000);
      expect(await db.persist('k')).toBe(false);
      expect(db.get('k')).toBeUndefined();
      await db.close();
    });
  });

  describe('Store#expire()', () => {
    it('sets, moves and shortens an expiry, keeping the value', async () => {
      const dir = tmpdir();
      let db = await open(dir);
      await db.put('k', Buffer.from([0, 1, 2, 3]));
      expect(await db.expire('k', { ttlMs: 60_000 })).toBe(true);
      const at = db.expiresAt('k')!;
      expect(at).toBeGreaterThan(Date.now());
      expect(await db.expire('k', { expiresAt: at + 5 })).toBe(true);
      expect(db.expiresAt('k')).toBe(at + 5);
      expect(await db.expire('missing', { ttlMs: 10 })).toBe(false);
      await db.close();
      db = await open(dir);
      expect(db.get('k')).toEqual(Buffer.from([0, 1, 2, 3]));
      expect(db.expiresAt('k')).toBe(at + 5);
      db._setClockOffset(at + 5 - Date.now());
      expect(db.get('k')).toBeUndefined();
      await db.close();
    });

    it('requires ttlMs or expiresAt', async () => {
      const db = await open(tmpdir());
      await db.put('k', 'v');
      // @ts-expect-error deliberate misuse
      await expect(db.expire('k')).rejects.toMatchObject({ code: 'HASHLOG_INVALID_ARGUMENT' });
      await expect(db.expire('k', {})).rejects.toMatchObject({ code: 'HASHLOG_INVALID_ARGUMENT' });
      expect(db.expiresAt('k')).toBeNull();
      await db.close();
    });
  });
});
