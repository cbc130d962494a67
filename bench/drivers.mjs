// One driver per engine, all with the same interface, so a trial runs the same code on each.
//
// A driver is { title, packages, build?, load() }:
//   title       what the tables call it (the npm package)
//   packages    the bench/package.json entries it needs (run.mjs installs them on first use)
//   build       optional { pkg, file }: a native build the package makes at install time (run.mjs
//               runs `npm rebuild pkg` when `file` is missing, and only if this engine is asked for)
// load() imports the engine (and throws with the reason when it cannot: the orchestrator then
// reports the engine as "skipped (reason)") and resolves to:
//   version     the engine package's version (plus the library's, where it says)
//   durability  one sentence: what a durable write waits for, in this engine's terms
//   nonDurable  one sentence: what a non-durable write waits for
//   bulkLoad    one sentence: how the load phase writes (the engine's idiomatic bulk load)
//   reads       one sentence: which calls the sync, async and batched reads are
//   loadWindow  how many puts a bulk load issues before awaiting them
//   notes       optional list of facts to print under the results (known gaps)
//   open(dir, { durable }) -> Promise<Handle>
// A Handle:
//   get(key)        synchronous; a Buffer (or Uint8Array) the caller may keep, or undefined
//   getFast?(key)   optional second sync read path (lmdb: getBinaryFast, a reused buffer)
//   getAsync?(key)  optional: Promise of the value or undefined (the engine's async read)
//   asyncMiss       false when getAsync must not be called with a missing key (see notes)
//   getMany?(keys)  optional: values (or a Promise of them) for an array of keys, in one call
//   put(key, v)     Promise; settles once durable when opened with durable: true, else once the
//                   write is handed to the OS / committed (the "non-durable put" of the results)
//   del(key)        Promise (of whether the key existed, where the engine says), same durability
//   loadBatch?(keys, values)  optional: writes one batch with the open durability (bulk load)
//   flush()         Promise; everything written so far is fdatasynced
//   close()         Promise
//   info()          engine-specific counters (may be {})
//   indexBytes()    RAM of the in-memory index, or undefined when the engine has none
// Keys and values are Buffers for every engine.
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

// LevelDB and RocksDB have no "sync what is written" call: a synced delete of a key that is never
// stored syncs their write-ahead log, which covers every earlier write, and leaves no live key.
const SYNC_KEY = Buffer.from('~bench-sync-marker~');

// hashlog on one of its engines: the C++ addon ('native') or the pure-TypeScript engine
// ('js', the same files and design without mmap or a flush thread; docs/DESIGN.md).
function hashlogDriver(engine) {
  return {
    title: engine === 'native' ? 'hashlog' : 'hashlog (js engine)',
    packages: [],
    async load() {
      // The repo root package: dist/index.js plus the addon in build/ or prebuilds/.
      const hashlog = require('..');
      return {
        version: require('../package.json').version,
        loadWindow: 1000,
        durability:
          "opened with durability 'sync': put/del resolve after the fdatasync that covers them " +
          '(concurrent writes share one group commit)',
        nonDurable: "opened with durability 'none': put/del resolve once written to the OS (fdatasynced within 100 ms)",
        bulkLoad:
          "a store opened with durability 'none'; puts in windows of 1,000 (issue 1,000, await them), then `flush()`",
        reads: 'sync `get`; async `getAsync` and batched `getMany` when this build has them (feature-detected)',
        notes: engine === 'js'
          ? ["hashlog-js is hashlog's pure-TypeScript engine (`open(dir, { engine: 'js' })`): a GET is a `pread`, not a read of mapped memory; `getAsync` is one `fs.read` on the libuv pool per read."]
          : undefined,
        async open(dir, { durable }) {
          const db = await hashlog.open(dir, { durability: durable ? 'sync' : 'none', engine });
          if (db.engine !== engine) throw new Error(`asked for the ${engine} engine, got ${db.engine}`);
          return {
            get: (k) => db.get(k),
            getAsync: typeof db.getAsync === 'function' ? (k) => db.getAsync(k) : undefined,
            asyncMiss: true,
            getMany: typeof db.getMany === 'function' ? (ks) => db.getMany(ks) : undefined,
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
  };
}

export const DRIVERS = {
  hashlog: hashlogDriver('native'),
  'hashlog-js': hashlogDriver('js'),

  lmdb: {
    title: 'lmdb (lmdb-js)',
    packages: ['lmdb'],
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
        nonDurable: '`await db.put()` alone: resolves once the write transaction is committed (to the OS page cache), before the flush',
        bulkLoad:
          'every put issued at once without awaiting (lmdb-js batches queued puts into few ' +
          'transactions), then `await db.flushed`; the queue is why its RSS after the load is high',
        reads: 'sync `get` (and `getBinaryFast`); async `getAsync` (hits only, see notes); batched `getMany` (async)',
        notes: ['lmdb-js 3.5.6 `getAsync` of a missing key crashes the process (segmentation fault), so the async missing-key read is n/a for lmdb.'],
        async open(dir, { durable }) {
          const db = lmdb.open({ path: path.join(dir, 'data.mdb'), encoding: 'binary', keyEncoding: 'binary' });
          const flushed = () => db.flushed;
          return {
            get: (k) => db.get(k),
            getFast: (k) => db.getBinaryFast(k),
            getAsync: (k) => db.getAsync(k),
            asyncMiss: false,
            getMany: (ks) => db.getMany(ks),
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

  level: {
    title: 'LevelDB (classic-level)',
    packages: ['classic-level'],
    async load() {
      const { ClassicLevel } = require('classic-level');
      return {
        version: packageVersion('classic-level'),
        loadWindow: 1000,
        durability:
          '`db.put(k, v, { sync: true })` / `db.del(k, { sync: true })`: LevelDB fdatasyncs its log before the ' +
          'write returns; concurrent sync writes (on the libuv pool) share one log sync',
        nonDurable: '`db.put(k, v)` (sync: false, the default): resolves once the record is in the log file (OS page cache)',
        bulkLoad: 'chained batches of 1,000 puts (`db.batch()`, `write()`), one after another, then one synced write',
        reads: 'sync `getSync`; async `get` (libuv pool); batched `getMany` (async)',
        async open(dir, { durable }) {
          const db = new ClassicLevel(path.join(dir, 'leveldb'), { keyEncoding: 'buffer', valueEncoding: 'buffer' });
          await db.open();
          const wo = { sync: durable };
          return {
            get: (k) => db.getSync(k),
            getAsync: (k) => db.get(k),
            asyncMiss: true,
            getMany: (ks) => db.getMany(ks),
            put: (k, v) => db.put(k, v, wo),
            del: (k) => db.del(k, wo),
            loadBatch: (ks, vs) => {
              const b = db.batch();
              for (let i = 0; i < ks.length; i++) b.put(ks[i], vs[i]);
              return b.write(wo);
            },
            flush: () => db.del(SYNC_KEY, { sync: true }),
            close: () => db.close(),
            info: () => ({}),
            indexBytes: () => undefined,
          };
        },
      };
    },
  },

  sqlite: {
    title: 'SQLite (better-sqlite3)',
    packages: ['better-sqlite3'],
    build: { pkg: 'better-sqlite3', file: 'build/Release/better_sqlite3.node' },
    async load() {
      const Database = require('better-sqlite3');
      const probe = new Database(':memory:');
      const sqliteVersion = probe.prepare('SELECT sqlite_version()').pluck().get();
      probe.close();
      return {
        version: `${packageVersion('better-sqlite3')} (SQLite ${sqliteVersion})`,
        loadWindow: 1000,
        durability:
          '`journal_mode=WAL`, `synchronous=FULL`: every put/del is its own autocommit transaction, fsynced ' +
          'in the WAL before `run()` returns (better-sqlite3 is synchronous: no group commit, writes run one at a time)',
        nonDurable: '`journal_mode=WAL`, `synchronous=NORMAL`: a commit is written to the WAL (OS page cache); only checkpoints sync',
        bulkLoad: 'transactions of 1,000 `INSERT OR REPLACE`s (`db.transaction()`), then `PRAGMA wal_checkpoint(TRUNCATE)`',
        reads:
          'sync prepared `SELECT v FROM kv WHERE k = ?` (`.pluck().get()`); no async or batched read (n/a). ' +
          'Table: `kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID`, default page cache',
        async open(dir, { durable }) {
          const db = new Database(path.join(dir, 'kv.sqlite'));
          db.pragma('journal_mode = WAL');
          db.pragma(`synchronous = ${durable ? 'FULL' : 'NORMAL'}`);
          db.exec('CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID');
          const sel = db.prepare('SELECT v FROM kv WHERE k = ?').pluck();
          const ins = db.prepare('INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)');
          const rem = db.prepare('DELETE FROM kv WHERE k = ?');
          const batch = db.transaction((ks, vs) => {
            for (let i = 0; i < ks.length; i++) ins.run(ks[i], vs[i]);
          });
          const settle = (f) => {
            try {
              return Promise.resolve(f());
            } catch (e) {
              return Promise.reject(e);
            }
          };
          return {
            get: (k) => sel.get(k),
            put: (k, v) => settle(() => {
              ins.run(k, v);
            }),
            del: (k) => settle(() => rem.run(k).changes > 0),
            loadBatch: (ks, vs) => settle(() => batch(ks, vs)),
            flush: () => settle(() => {
              db.pragma('wal_checkpoint(TRUNCATE)');
            }),
            close: () => settle(() => db.close()),
            info: () => ({}),
            indexBytes: () => undefined,
          };
        },
      };
    },
  },

  rocksdb: {
    title: 'RocksDB (@nxtedition/rocksdb)',
    packages: ['@nxtedition/rocksdb'],
    async load() {
      const { RocksLevel } = require('@nxtedition/rocksdb');
      return {
        version: packageVersion('@nxtedition/rocksdb'),
        loadWindow: 1000,
        durability:
          '`db.batch([op], { sync: true })` per put/del (the binding\'s `put(k, v, { sync: true })` does not sync): ' +
          'the write and its WAL fsync run on the JavaScript thread, so writes go one at a time',
        nonDurable: '`db.put(k, v)` / `db.del(k)` (sync: false): the record is in the WAL file (OS page cache) when it returns',
        bulkLoad: 'chained batches of 1,000 puts (`db.batch()`, `write()`), then one synced write',
        reads:
          'sync `db._getManySync([k])` (the binding\'s only synchronous read; underscore-prefixed); async `get` ' +
          '(a missing key rejects with LEVEL_NOT_FOUND, mapped to undefined); batched `getMany` (async); default options',
        async open(dir, { durable }) {
          const db = new RocksLevel(path.join(dir, 'rocksdb'), { keyEncoding: 'buffer', valueEncoding: 'buffer' });
          await db.open();
          const sync = { sync: true };
          const notFound = (e) => {
            if (e?.code === 'LEVEL_NOT_FOUND') return undefined;
            throw e;
          };
          return {
            get: (k) => db._getManySync([k])[0],
            getAsync: (k) => db.get(k).catch(notFound),
            asyncMiss: true,
            getMany: (ks) => db.getMany(ks),
            put: durable ? (k, v) => db.batch([{ type: 'put', key: k, value: v }], sync) : (k, v) => db.put(k, v),
            del: durable ? (k) => db.batch([{ type: 'del', key: k }], sync) : (k) => db.del(k),
            loadBatch: (ks, vs) => {
              const b = db.batch();
              for (let i = 0; i < ks.length; i++) b.put(ks[i], vs[i]);
              return b.write(durable ? sync : undefined);
            },
            flush: () => db.batch([{ type: 'del', key: SYNC_KEY }], sync),
            close: () => db.close(),
            info: () => ({}),
            indexBytes: () => undefined,
          };
        },
      };
    },
  },
};

/** Accepted spellings of the engine names (the npm package names too). */
export const ALIASES = {
  'hashlog-native': 'hashlog',
  js: 'hashlog-js',
  'lmdb-js': 'lmdb',
  'classic-level': 'level',
  leveldb: 'level',
  'better-sqlite3': 'sqlite',
  '@nxtedition/rocksdb': 'rocksdb',
};

export const ENGINE_NAMES = Object.keys(DRIVERS);
