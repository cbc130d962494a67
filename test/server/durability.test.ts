// A reply means durable: write replies wait for their commit; a failed fdatasync turns them
// into errors and stops writes (MISCONF) while reads go on; a full disk fails only its writes.
import { afterEach, describe, expect, it } from 'vitest';
import { RawClient, resp, startServer, type TestServer } from './helpers';

let t: TestServer | undefined;

afterEach(async () => {
  await t?.stop();
  t = undefined;
});

describe('durability of replies', () => {
  it('a failed fdatasync turns the waiting write replies into MISCONF errors; reads keep working', async () => {
    t = await startServer();
    const r = t.client();
    await r.set('before', 'safe');
    t.db._injectFault('fdatasync', 0, 5, true);
    await expect(r.set('after', 'lost?')).rejects.toThrow(/^MISCONF .*HASHLOG_FAILED/);
    await expect(r.incr('counter')).rejects.toThrow(/^MISCONF/);
    expect(await r.get('before')).toBe('safe');
    const info = await r.info('persistence');
    expect(info).toContain('hashlog_failed:1');
    expect(info).toMatch(/hashlog_failure:.+/);
    expect(t.logs.filter((l) => l.includes('stopped accepting writes')).length).toBe(1); // logged once
    t.db._injectFault();
  });

  it('a full disk fails the writes it hits with HASHLOG_NO_SPACE, and later writes succeed', async () => {
    t = await startServer();
    const r = t.client();
    t.db._injectFault('allocate', 0, 28, true); // the segment cannot grow: ENOSPC
    await expect(r.set('k', 'v')).rejects.toThrow(/HASHLOG_NO_SPACE/);
    expect(await r.get('k')).toBeNull(); // rolled back
    t.db._injectFault(); // space is back
    expect(await r.set('k', 'v2')).toBe('OK');
    expect(await r.get('k')).toBe('v2');
  });

  it('a pipeline of writes and reads is answered in request order, one commit for many writes', async () => {
    t = await startServer();
    const fsyncs = t.db.stats().fsyncs;
    const c = await RawClient.connect(t.port);
    const cmds: Buffer[] = [];
    for (let i = 0; i < 500; i++) cmds.push(resp('SET', `k${i}`, `${i}`), resp('GET', `k${i}`), resp('INCR', 'n'));
    c.send(Buffer.concat(cmds));
    const out = await c.replies(1500);
    for (let i = 0; i < 500; i++) expect(out.slice(3 * i, 3 * i + 3)).toEqual(['+OK', `${i}`, `:${i + 1}`]);
    expect(t.db.stats().fsyncs - fsyncs).toBeLessThan(100);
    c.close();
  });

  it('a read that saw another client\'s write is answered only after that write is durable', async () => {
    t = await startServer();
    const writer = await RawClient.connect(t.port);
    const reader = await RawClient.connect(t.port);
    t.db._injectFault('fdatasync', 0, 5, true); // the write can never become durable
    writer.send(resp('SET', 'x', 'uncommitted'));
    await writer.until((s) => s.includes('MISCONF'));
    // After fail-stop no new write is accepted, so a read now sees only what was there.
    reader.send(resp('GET', 'x'));
    const [reply] = await reader.replies(1);
    expect(['uncommitted', '(nil)']).toContain(reply);
    t.db._injectFault();
    writer.close();
    reader.close();
  });

  it('FLUSHDB under a concurrent writer: every reply is consistent with one order', async () => {
    t = await startServer();
    const r = t.client();
    const w = t.client();
    const writes = Array.from({ length: 200 }, (_, i) => w.set(`w${i}`, 'v'));
    const flushed = r.flushdb();
    await Promise.all([...writes, flushed]);
    const left = await r.dbsize();
    expect(left).toBeGreaterThanOrEqual(0);
    expect(left).toBeLessThanOrEqual(200);
    expect((await r.keys('*')).length).toBe(left);
  });
});
