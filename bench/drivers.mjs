// One driver per engine, all with the same interface, so a trial runs the same code on each.
//
// A driver is { load() } where load() imports the engine (and throws with the reason when it
// cannot: the orchestrator then reports the engine as "skipped (reason)") and resolves to:
//   version     the engine package's version
//   durability  one sentence: what a durable write waits for, in this engine's terms
//   bulkLoad    one sentence: how the load phase writes (the engine's idiomatic bulk load)
//   loadWindow  how many puts a bulk load issues before awaiting them (its idiomatic bulk load)
//   open(dir, { durable }) -> Promise<Handle>
// A Handle:
//   get(key)       synchronous; a Buffer the caller may keep, or undefined
//   getFast?(key)  optional second read path (lmdb: getBinaryFast, a reused buffer)
//   put(key, v)    Promise; settles once durable when opened with durable: true, else once the
//                  write is handed to the OS / committed (the "put without sync" of the results)
//   del(key)       Promise<boolean existed>, same durability as put
//   flush()        Promise; everything written so far is fdatasynced
//   close()        Promise
//   info()         engine-specific counters (may be {})
//   indexBytes()   RAM of the in-memory index, or undefined when the engine has none
// Keys and values are Buffers for every engine. To add a peer (classic-level, better-sqlite3@12,
// a RocksDB binding), add an entry here and its package to bench/package.json.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);

/** The installed version of a bench dependency (its exports may hide package.json). */
export function packageVersion(name) {
  try {
    const file = new URL(`./node_modules/${name}/package.json`, import.meta.url);
    return JSON.parse(fs.readFileSync(file, 'utf8')).version;
  } catch {
    return 'not installed';
  }
}

export const DRIVERS = {
  hashlog: {
    async load() {
      // The repo root package: dist/index.js plus the addon in build/ or prebuilds/.
      const hashlog = require('..');
      return {
        version: require('../package.json').version,
        loadWindow: 1000,
        durability:
          "opened with durability 'sync': put/del resolve after the fdatasync that covers them " +
          '(concurrent writes share one group commit)',
        bulkLoad:
          "a store opened with durability 'none' (a put resolves once written to the OS); puts in " +
          'windows of 1,000 (issue 1,000, await them), then `flush()`',
        async open(dir, { durable }) {
          const db = await hashlog.open(dir, { durability: durable ? 'sync' : 'none' });
          return {
            get: (k) => db.get(k),
            put: (k, v) => db.put(k, v),
            del: (k) => db.del(k),
            flush: () => db.flush(),
            close: () => db.close(),
            info: () => ({ stats: db.stats(), recovery: db.recovery }),
            indexBytes: () => db.stats().indexBytes,
          };
        },
      };
    },
  },

  lmdb: {
    async load() {
      const lmdb = await import('lmdb');
      return {
        version: packageVersion('lmdb'),
        // lmdb-js batches every queued put into one transaction: issuing them all, then
        // awaiting db.flushed, is its bulk load (windows of 1,000 cut random-order loads ~5x).
        loadWindow: Infinity,
        durability:
          'default options (overlappingSync on, which commits and then flushes): a durable put/del ' +
          'is `await db.put()` then `await db.flushed` (the commit is fdatasynced)',
        bulkLoad:
          'every put issued at once without awaiting (lmdb-js batches queued puts into few ' +
          'transactions), then `await db.flushed`; the queue is why its RSS after the load is high',
        async open(dir, { durable }) {
          const db = lmdb.open({ path: path.join(dir, 'data.mdb'), encoding: 'binary', keyEncoding: 'binary' });
          const flushed = () => db.flushed;
          return {
            get: (k) => db.get(k),
            getFast: (k) => db.getBinaryFast(k),
            put: durable ? (k, v) => db.put(k, v).then(flushed) : (k, v) => db.put(k, v),
            del: durable ? (k) => db.remove(k).then((r) => flushed().then(() => r)) : (k) => db.remove(k),
            flush: () => flushed(),
            close: () => db.close(),
            info: () => {
              const s = db.getStats();
              return { stats: { entryCount: s.entryCount, pageSize: s.pageSize, treeDepth: s.treeDepth, mapSize: s.mapSize } };
            },
            indexBytes: () => undefined,
          };
        },
      };
    },
  },
};

export const ENGINE_NAMES = Object.keys(DRIVERS);
