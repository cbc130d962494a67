// A bounded load on the server (the short form of `npm run soak:server`): 50 connections with
// mixed pipelines and slow readers, every read checked against each client's model, and every
// acknowledged write present afterwards and after a restart.
import { describe, expect, it } from 'vitest';
import { runLoad, verify } from '../../scripts/server-load.mjs';
import { startServer } from './helpers';

describe('server under load', () => {
  it('loses no acknowledged write and serves every read consistently', async () => {
    const t = await startServer();
    const { stats, models } = await runLoad({ port: t.port, seconds: 3, clients: 50 });
    expect(stats.writes).toBeGreaterThan(100);
    const live = await verify(t.port, models);
    expect(live.wrong).toEqual([]);
    const dir = t.dir;
    await t.stop();
    const again = await startServer({}, {}, dir);
    const after = await verify(again.port, models);
    expect(after.wrong).toEqual([]);
    expect(after.checked).toBe(live.checked);
    await again.stop();
  });
});
