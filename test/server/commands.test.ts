// Every command through a real client library (ioredis, which speaks RESP3 by default):
// replies, reply types and Redis's error texts.
import type Redis from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { open } from '../../lib/store';
import { tmpdir } from '../helpers/tmpdir';
import { startServer, type TestServer } from './helpers';

let t: TestServer;
let r: Redis;

beforeAll(async () => {
  t = await startServer();
  r = t.client();
});
afterAll(async () => {
  await t.stop();
});
beforeEach(async () => {
  await r.flushdb();
});

describe('strings', () => {
  it('GET, SET, and the reply of a missing key', async () => {
    expect(await r.get('k')).toBeNull();
    expect(await r.set('k', 'v')).toBe('OK');
    expect(await r.get('k')).toBe('v');
    const big = Buffer.alloc(100_000, 7);
    await r.set('big', big);
    expect((await r.getBuffer('big'))?.equals(big)).toBe(true);
  });

  it('SET NX, XX, GET, KEEPTTL and the expiry options', async () => {
    expect(await r.set('k', '1', 'NX')).toBe('OK');
    expect(await r.set('k', '2', 'NX')).toBeNull();
    expect(await r.set('missing', '2', 'XX')).toBeNull();
    expect(await r.set('k', '3', 'XX', 'GET')).toBe('1');
    expect(await r.get('k')).toBe('3');
    await r.set('k', '4', 'EX', 100);
    expect(await r.ttl('k')).toBe(100);
    await r.set('k', '5', 'KEEPTTL');
    expect(await r.ttl('k')).toBe(100);
    await r.set('k', '6');
    expect(await r.ttl('k')).toBe(-1);
    await r.set('k', '7', 'PX', 50_000);
    expect(await r.pttl('k')).toBeGreaterThan(49_000);
    await r.set('k', '8', 'EXAT', Math.floor(Date.now() / 1000) + 200);
    expect(await r.ttl('k')).toBeGreaterThan(198);
    await r.set('k', '9', 'PXAT', Date.now() + 300_000);
    expect(await r.ttl('k')).toBeGreaterThan(298);
    await expect(r.set('k', 'x', 'EX', 0)).rejects.toThrow("ERR invalid expire time in 'set' command");
    await expect(r.set('k', 'x', 'EX', 'ten')).rejects.toThrow("ERR invalid expire time in 'set' command");
    await expect(r.call('SET', 'k', 'x', 'NX', 'XX')).rejects.toThrow('ERR syntax error');
    await expect(r.call('SET', 'k', 'x', 'EX', '10', 'KEEPTTL')).rejects.toThrow('ERR syntax error');
  });

  it('a key set with PX expires', async () => {
    await r.set('short', 'v', 'PX', 30);
    await new Promise((res) => setTimeout(res, 80));
    expect(await r.get('short')).toBeNull();
    expect(await r.exists('short')).toBe(0);
  });

  it('SETNX, SETEX, PSETEX, GETDEL, GETEX', async () => {
    expect(await r.setnx('k', 'a')).toBe(1);
    expect(await r.setnx('k', 'b')).toBe(0);
    expect(await r.setex('e', 100, 'v')).toBe('OK');
    expect(await r.ttl('e')).toBe(100);
    expect(await r.psetex('p', 100_000, 'v')).toBe('OK');
    expect(await r.ttl('p')).toBe(100);
    await expect(r.setex('e', -1, 'v')).rejects.toThrow("ERR invalid expire time in 'setex' command");
    expect(await r.getdel('k')).toBe('a');
    expect(await r.getdel('k')).toBeNull();
    expect(await r.getex('e', 'PERSIST')).toBe('v');
    expect(await r.ttl('e')).toBe(-1);
    expect(await r.getex('e', 'EX', 50)).toBe('v');
    expect(await r.ttl('e')).toBe(50);
    expect(await r.getex('nope')).toBeNull();
  });

  it('MGET, MSET, MSETNX', async () => {
    expect(await r.mset('a', '1', 'b', '2')).toBe('OK');
    expect(await r.mget('a', 'b', 'c')).toEqual(['1', '2', null]);
    expect(await r.msetnx('c', '3', 'a', 'x')).toBe(0);
    expect(await r.get('c')).toBeNull();
    expect(await r.msetnx('c', '3', 'd', '4')).toBe(1);
    expect(await r.mget('c', 'd')).toEqual(['3', '4']);
    await expect(r.call('MSET', 'a', '1', 'b')).rejects.toThrow("ERR wrong number of arguments for 'mset' command");
    expect(await r.mset('dup', '1', 'dup', '2')).toBe('OK');
    expect(await r.get('dup')).toBe('2');
  });

  it('INCR, DECR, INCRBY, DECRBY: exact 64-bit arithmetic, errors as Redis words them', async () => {
    expect(await r.incr('n')).toBe(1);
    expect(await r.incrby('n', 41)).toBe(42);
    expect(await r.decr('n')).toBe(41);
    expect(await r.decrby('n', 50)).toBe(-9);
    await r.set('n', '9223372036854775806');
    await r.incr('n');
    expect(await r.get('n')).toBe('9223372036854775807');
    await expect(r.incr('n')).rejects.toThrow('ERR increment or decrement would overflow');
    await r.set('s', 'abc');
    await expect(r.incr('s')).rejects.toThrow('ERR value is not an integer or out of range');
    await r.set('s', ' 1');
    await expect(r.incr('s')).rejects.toThrow('ERR value is not an integer or out of range');
    await expect(r.incrby('n2', 'x' as unknown as number)).rejects.toThrow('ERR value is not an integer or out of range');
    await r.set('t', '5', 'EX', 100);
    await r.incr('t');
    expect(await r.ttl('t')).toBe(100); // INCR keeps the expiry
  });

  it('APPEND and STRLEN', async () => {
    expect(await r.append('a', 'hello')).toBe(5);
    expect(await r.append('a', ' world')).toBe(11);
    expect(await r.get('a')).toBe('hello world');
    expect(await r.strlen('a')).toBe(11);
    expect(await r.strlen('none')).toBe(0);
  });
});

describe('keys', () => {
  it('DEL, UNLINK, EXISTS count keys (duplicates once for DEL, each time for EXISTS)', async () => {
    await r.mset('a', '1', 'b', '2', 'c', '3');
    expect(await r.exists('a', 'a', 'b', 'zz')).toBe(3);
    expect(await r.del('a', 'a', 'zz')).toBe(1);
    expect(await r.unlink('b', 'c')).toBe(2);
    expect(await r.dbsize()).toBe(0);
  });

  it('EXPIRE family with NX/XX/GT/LT, TTL, PTTL, PERSIST', async () => {
    expect(await r.expire('none', 10)).toBe(0);
    expect(await r.ttl('none')).toBe(-2);
    await r.set('k', 'v');
    expect(await r.ttl('k')).toBe(-1);
    expect(await r.call('EXPIRE', 'k', '100', 'XX')).toBe(0);
    expect(await r.call('EXPIRE', 'k', '100', 'NX')).toBe(1);
    expect(await r.call('EXPIRE', 'k', '50', 'GT')).toBe(0);
    expect(await r.call('EXPIRE', 'k', '50', 'LT')).toBe(1);
    expect(await r.ttl('k')).toBe(50);
    expect(await r.pexpire('k', 200_000)).toBe(1);
    expect(await r.ttl('k')).toBe(200);
    expect(await r.expireat('k', Math.floor(Date.now() / 1000) + 300)).toBe(1);
    expect(await r.ttl('k')).toBeGreaterThan(298);
    expect(await r.pexpireat('k', Date.now() + 400_000)).toBe(1);
    expect(await r.ttl('k')).toBeGreaterThan(398);
    expect(await r.persist('k')).toBe(1);
    expect(await r.persist('k')).toBe(0);
    expect(await r.get('k')).toBe('v');
    await expect(r.call('EXPIRE', 'k', '10', 'NX', 'XX')).rejects.toThrow('ERR NX and XX, GT or LT options at the same time are not compatible');
    expect(await r.expire('k', -1)).toBe(1); // a time in the past deletes
    expect(await r.exists('k')).toBe(0);
  });

  it('TYPE', async () => {
    await r.set('k', 'v');
    expect(await r.type('k')).toBe('string');
    expect(await r.type('none')).toBe('none');
  });

  it('SCAN visits every key once with no writes, and honours MATCH and COUNT', async () => {
    const keys = Array.from({ length: 1000 }, (_, i) => `user:${i}`);
    await r.mset(...keys.flatMap((k) => [k, 'v']));
    await r.mset('other:1', 'v', 'other:2', 'v');
    const seen: string[] = [];
    let cursor = '0';
    do {
      const [next, page] = await r.scan(cursor, 'MATCH', 'user:*', 'COUNT', 100);
      seen.push(...page);
      cursor = next;
    } while (cursor !== '0');
    expect(seen.sort()).toEqual([...keys].sort());
    await expect(r.scan('abc')).rejects.toThrow('ERR invalid cursor');
    await expect(r.call('SCAN', '0', 'COUNT', '0')).rejects.toThrow('ERR syntax error');
    const [, hashes] = await r.call('SCAN', '0', 'TYPE', 'hash', 'COUNT', '10000') as [string, string[]];
    expect(hashes).toEqual([]);
  });

  it('SCAN returns every key present for a whole iteration while others are written and deleted', async () => {
    const stable = Array.from({ length: 2000 }, (_, i) => `stable:${i}`);
    await r.mset(...stable.flatMap((k) => [k, 'v']));
    const seen = new Set<string>();
    let cursor = '0';
    let n = 0;
    do {
      const [next, page] = await r.scan(cursor, 'COUNT', 50);
      for (const k of page) seen.add(k);
      cursor = next;
      // Churn: new keys (which grow the index) and deletes of keys written meanwhile.
      await r.mset(...Array.from({ length: 100 }, (_, i) => [`churn:${n}:${i}`, 'x']).flat());
      if (n > 0) await r.del(...Array.from({ length: 100 }, (_, i) => `churn:${n - 1}:${i}`));
      n++;
    } while (cursor !== '0');
    for (const k of stable) expect(seen.has(k)).toBe(true);
  });

  it('KEYS with a glob, RANDOMKEY, DBSIZE', async () => {
    expect(await r.randomkey()).toBeNull();
    await r.mset('hello', '1', 'hallo', '2', 'hxllo', '3', 'world', '4');
    expect((await r.keys('h[ae]llo')).sort()).toEqual(['hallo', 'hello']);
    expect((await r.keys('h?llo')).sort()).toEqual(['hallo', 'hello', 'hxllo']);
    expect(await r.keys('world')).toEqual(['world']);
    expect((await r.keys('*')).length).toBe(4);
    expect(['hello', 'hallo', 'hxllo', 'world']).toContain(await r.randomkey());
    expect(await r.dbsize()).toBe(4);
  });

  it('FLUSHDB and FLUSHALL remove every key, and a read right after sees none', async () => {
    await r.mset('a', '1', 'b', '2');
    const p = r.pipeline().flushall().get('a').dbsize();
    const res = await p.exec();
    expect(res?.map(([, v]) => v)).toEqual(['OK', null, 0]);
    await r.set('c', '3');
    expect(await r.call('FLUSHDB', 'ASYNC')).toBe('OK');
    expect(await r.dbsize()).toBe(0);
    await expect(r.call('FLUSHDB', 'LATER')).rejects.toThrow('ERR syntax error');
  });
});

describe('transactions', () => {
  it('MULTI/EXEC applies the queued commands as one batch, later ones seeing earlier ones', async () => {
    const res = await r.multi().set('a', '1').incr('a').get('a').del('a').exists('a').exec();
    expect(res?.map(([e, v]) => e ?? v)).toEqual(['OK', 2, '2', 1, 0]);
  });

  it('a runtime error inside EXEC fails that command only; a queueing error aborts all', async () => {
    await r.set('s', 'text');
    const res = await r.multi().incr('s').set('x', '1').exec();
    expect((res?.[0][0] as Error).message).toContain('ERR value is not an integer');
    expect(res?.[1][1]).toBe('OK');
    await r.call('MULTI');
    await expect(r.call('NOSUCHCMD')).rejects.toThrow("ERR unknown command 'NOSUCHCMD'");
    await expect(r.call('EXEC')).rejects.toThrow('EXECABORT Transaction discarded because of previous errors.');
  });

  it('DISCARD, and the nesting and stray EXEC/DISCARD errors', async () => {
    expect(await r.call('MULTI')).toBe('OK');
    await expect(r.call('MULTI')).rejects.toThrow('ERR MULTI calls can not be nested');
    expect(await r.call('SET', 'gone', '1')).toBe('QUEUED');
    expect(await r.call('DISCARD')).toBe('OK');
    expect(await r.get('gone')).toBeNull();
    await expect(r.call('EXEC')).rejects.toThrow('ERR EXEC without MULTI');
    await expect(r.call('DISCARD')).rejects.toThrow('ERR DISCARD without MULTI');
  });

  it('FLUSHDB inside MULTI is part of the batch', async () => {
    await r.mset('a', '1', 'b', '2');
    const res = await r.multi().flushdb().set('c', '3').dbsize().exec();
    expect(res?.map(([, v]) => v)).toEqual(['OK', 'OK', 1]);
    expect(await r.keys('*')).toEqual(['c']);
    const res2 = await r.multi().set('d', '4').del('c').keys('*').exec();
    expect(res2?.map(([, v]) => v)).toEqual(['OK', 1, ['d']]);
  });
});

describe('connection and server commands', () => {
  it('PING, ECHO, SELECT', async () => {
    expect(await r.ping()).toBe('PONG');
    expect(await r.ping('hi')).toBe('hi');
    expect(await r.echo('x')).toBe('x');
    expect(await r.select(0)).toBe('OK');
    await expect(r.select(1)).rejects.toThrow('ERR DB index is out of range');
  });

  it('unknown commands and wrong arity get Redis\'s texts', async () => {
    await expect(r.call('FOO', 'a', 'b')).rejects.toThrow("ERR unknown command 'FOO', with args beginning with: 'a' 'b'");
    await expect(r.call('GET')).rejects.toThrow("ERR wrong number of arguments for 'get' command");
    await expect(r.call('GET', 'a', 'b')).rejects.toThrow("ERR wrong number of arguments for 'get' command");
  });

  it('HELLO switches protocols; CLIENT SETNAME/GETNAME/ID/SETINFO/LIST', async () => {
    const c = t.client({ protocol: 2 });
    expect(await c.call('HELLO', '2')).toContain('proto');
    await expect(c.call('HELLO', '4')).rejects.toThrow('NOPROTO unsupported protocol version');
    expect(await c.client('SETNAME', 'worker-1')).toBe('OK');
    expect(await c.client('GETNAME')).toBe('worker-1');
    await expect(c.client('SETNAME', 'has space')).rejects.toThrow('ERR Client names cannot contain spaces');
    const id = await c.client('ID');
    expect(typeof id).toBe('number');
    expect(await c.call('CLIENT', 'SETINFO', 'LIB-NAME', 'mylib')).toBe('OK');
    const list = String(await c.client('LIST'));
    expect(list).toContain(`id=${id} `);
    expect(list).toContain('name=worker-1');
    expect(list).toContain('lib-name=mylib');
  });

  it('INFO has the Redis sections with the engine\'s figures', async () => {
    await r.set('k', 'v');
    const info = await r.info();
    for (const s of ['# Server', '# Clients', '# Memory', '# Persistence', '# Stats', '# Keyspace']) expect(info).toContain(s);
    expect(info).toContain('redis_version:');
    expect(info).toContain('hashlog_durability:sync');
    expect(info).toContain('hashlog_failed:0');
    expect(info).toMatch(/db0:keys=1/);
    expect(await r.info('keyspace')).not.toContain('# Server');
  });

  it('CONFIG GET answers redis-benchmark\'s questions; COMMAND describes the commands', async () => {
    expect(await r.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
    expect(await r.config('GET', 'appendfsync')).toEqual(['appendfsync', 'always']);
    expect(await r.config('GET', 'save')).toEqual(['save', '']);
    expect((await r.config('GET', 'max*')).length).toBeGreaterThan(0);
    const count = Number(await r.command('COUNT'));
    expect(count).toBeGreaterThan(40);
    const [get] = await r.command('INFO', 'get') as unknown[][];
    expect(get.slice(0, 2)).toEqual(['get', 2]);
    expect(await r.command('INFO', 'nosuch')).toEqual([null]);
  });

  it('SAVE, BGSAVE, LASTSAVE', async () => {
    expect(await r.save()).toBe('OK');
    expect(await r.bgsave()).toBe('Background saving started');
    expect(Math.abs(Number(await r.lastsave()) - Date.now() / 1000)).toBeLessThan(60);
  });

  it('SAVE writes a checkpoint before it replies, and INFO persistence reports it', async () => {
    await r.set('saved', 'yes');
    expect(t.db.stats().bytesSinceCheckpoint).toBeGreaterThan(0);
    expect(await r.save()).toBe('OK');
    expect(fs.existsSync(path.join(t.dir, 'CHECKPOINT'))).toBe(true);
    expect(t.db.stats().bytesSinceCheckpoint).toBe(0);
    const info = await r.info('persistence');
    expect(info).toMatch(/hashlog_bytes_since_checkpoint:0\r\n/);
    expect(info).toMatch(/rdb_last_bgsave_status:ok\r\n/);
    expect(info).toMatch(/hashlog_recovery_checkpoint:none\r\n/);
  });

  it('HASHLOG.BACKUP copies the store into a new directory, and refuses a non-empty one', async () => {
    await r.mset('a', '1', 'b', '2');
    const target = path.join(tmpdir(), 'backup');
    expect(await r.call('HASHLOG.BACKUP', target)).toBe('OK');
    const copy = await open(target);
    expect(copy.get('b')?.toString()).toBe('2');
    await copy.close();
    await expect(r.call('HASHLOG.BACKUP', target)).rejects.toThrow(/not empty.*HASHLOG_INVALID_ARGUMENT/);
  });

  it('HASHLOG.COMPACT replies with what the compaction did; BGREWRITEAOF starts one; INFO shows them', async () => {
    const reply = await r.call('HASHLOG.COMPACT') as Record<string, number> | (string | number)[];
    const fields = Array.isArray(reply) ? Object.fromEntries(Array.from({ length: reply.length / 2 },
      (_, i) => [reply[2 * i], reply[2 * i + 1]])) : reply;
    expect(Object.keys(fields)).toEqual(['compacted', 'segmentsRemoved', 'segmentsWritten', 'bytesRead', 'bytesWritten', 'millis']);
    expect(fields.compacted).toBe(0); // one segment, the active one: nothing in reach
    expect(await r.call('BGREWRITEAOF')).toMatch(/^Background append only file rewriting (started|already in progress)$/);
    const info = await r.info('persistence');
    expect(info).toMatch(/hashlog_compactions:\d+/);
    expect(info).toMatch(/hashlog_garbage_ratio:[\d.]+/);
    expect(info).toMatch(/aof_rewrite_in_progress:[01]/);
  });

  it('keys the store rejects get an error reply and the connection goes on', async () => {
    await expect(r.set(Buffer.alloc(70_000, 1), 'v')).rejects.toThrow('HASHLOG_KEY_TOO_LARGE');
    await expect(r.get('')).rejects.toThrow('HASHLOG_INVALID_ARGUMENT');
    expect(await r.ping()).toBe('PONG');
  });
});
