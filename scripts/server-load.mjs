// A mixed load on a hashlog server, checked against a model: many connections, pipelines of
// mixed commands (SET with and without TTL, GET, DEL, INCR, MSET, MULTI/EXEC), and slow
// readers. Every client owns its own keys, so the order of its acknowledged replies defines
// exactly what the server must hold afterwards. Used by test/server/load.test.ts (seconds) and
// scripts/soak-server.mjs (minutes).
import Redis from 'ioredis';
import { mulberry32 } from '../test/helpers/child-util.mjs';

// One client's work: pipelines until `deadline`, its model updated only from acknowledged replies.
async function clientLoop(port, id, deadline, slow, stats) {
  const r = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => undefined);
  const rand = mulberry32(id * 7919 + 1);
  const model = new Map(); // key -> value | null (deleted)
  const keys = 200;
  try {
    while (Date.now() < deadline) {
      const p = r.pipeline();
      const expect = [];
      const multis = []; // transactions run after the pipeline (a pipeline cannot hold one in ioredis)
      const n = 1 + Math.floor(rand() * 32);
      for (let i = 0; i < n; i++) {
        const key = `c${id}:${Math.floor(rand() * keys)}`;
        const x = rand();
        if (x < 0.35) {
          const v = `v${Math.floor(rand() * 1e9)}`;
          p.set(key, v);
          expect.push({ key, value: v });
        } else if (x < 0.4) {
          const v = `t${Math.floor(rand() * 1e9)}`;
          p.set(key, v, 'EX', 3600);
          expect.push({ key, value: v });
        } else if (x < 0.75) {
          p.get(key);
          expect.push({ key, read: true });
        } else if (x < 0.85) {
          p.del(key);
          expect.push({ key, value: null });
        } else if (x < 0.92) {
          const k2 = `c${id}:${Math.floor(rand() * keys)}`;
          const v = `m${Math.floor(rand() * 1e9)}`;
          p.mset(key, v, k2, v);
          expect.push({ key, value: v, also: k2 });
        } else {
          multis.push({ key, value: `x${Math.floor(rand() * 1e9)}` });
        }
      }
      const replies = await p.exec();
      let ri = 0;
      for (const e of expect) {
        const [err, res] = replies[ri++];
        if (err) throw err;
        if (e.read) {
          const want = model.has(e.key) ? model.get(e.key) : undefined;
          if (want !== undefined && res !== want) throw new Error(`client ${id} read ${res} for ${e.key}, expected ${want}`);
          stats.reads++;
        } else {
          model.set(e.key, e.value);
          if (e.also) model.set(e.also, e.value);
          stats.writes++;
        }
      }
      for (const m of multis) {
        const res = await r.multi().set(m.key, m.value).get(m.key).exec();
        if (res[1][1] !== m.value) throw new Error(`MULTI read ${res[1][1]} after writing ${m.value}`);
        model.set(m.key, m.value);
        stats.writes++;
      }
      stats.pipelines++;
      if (slow && rand() < 0.2) {
        // A slow reader: stop reading replies for a while with requests still arriving.
        r.stream.pause();
        r.pipeline(Array.from({ length: 64 }, () => ['get', `c${id}:0`])).exec().catch(() => undefined);
        await new Promise((res) => setTimeout(res, 50));
        r.stream.resume();
      }
    }
  } finally {
    r.disconnect();
  }
  return model;
}

/** Checks the server holds every acknowledged write; returns how many keys disagree. */
export async function verify(port, models) {
  const r = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => undefined);
  let checked = 0;
  let lost = 0;
  const wrong = [];
  try {
    for (const model of models) {
      const keys = [...model.keys()];
      const values = keys.length ? await r.mget(...keys) : [];
      keys.forEach((k, i) => {
        checked++;
        if (values[i] !== model.get(k)) {
          lost++;
          if (wrong.length < 5) wrong.push(`${k}: server ${values[i]}, acknowledged ${model.get(k)}`);
        }
      });
    }
  } finally {
    r.disconnect();
  }
  return { checked, lost, wrong };
}

/** Runs the load for `seconds` with `clients` connections (some of them slow readers). */
export async function runLoad({ port, seconds, clients = 50, slowReaders = 5 }) {
  const stats = { reads: 0, writes: 0, pipelines: 0 };
  const deadline = Date.now() + seconds * 1000;
  const models = await Promise.all(Array.from({ length: clients }, (_, i) => clientLoop(port, i, deadline, i < slowReaders, stats)));
  return { stats, models };
}
