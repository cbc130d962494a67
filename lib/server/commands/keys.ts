// Keyspace commands: DEL, EXISTS, expiry (EXPIRE family, TTL, PERSIST), TYPE, SCAN, KEYS,
// RANDOMKEY, DBSIZE, FLUSHDB.
import { ReplyError, SYNTAX } from '../errors';
import { globMatch, isLiteral } from '../glob';
import { intArg, toInt64 } from '../int';
import { command, type CommandSpec, type Context } from '../context';
import { expiryFrom, timeLeft, type ExpiryUnit } from './expiry';

const TAG_SPACE = 2 ** 32; // lib/store.ts: scan cursors run over the 32-bit tag space

function del(ctx: Context, args: Buffer[]): void {
  let n = 0;
  for (let i = 1; i < args.length; i++) {
    if (ctx.ks.has(args[i])) {
      ctx.ks.del(args[i]);
      n++;
    }
  }
  ctx.w.integer(n);
}

function exists(ctx: Context, args: Buffer[]): void {
  let n = 0;
  for (let i = 1; i < args.length; i++) if (ctx.ks.has(args[i])) n++;
  ctx.w.integer(n);
}

// EXPIRE key time [NX | XX | GT | LT], and its PEXPIRE/EXPIREAT/PEXPIREAT siblings.
function expire(unit: ExpiryUnit, name: string) {
  return (ctx: Context, args: Buffer[]): void => {
    const key = args[1];
    const at = expiryFrom(unit, args[2], name, true);
    let flag: string | undefined;
    for (let i = 3; i < args.length; i++) {
      const f = args[i].toString('latin1').toUpperCase();
      if (!['NX', 'XX', 'GT', 'LT'].includes(f)) throw new ReplyError(`ERR Unsupported option ${args[i].toString()}`);
      if (flag !== undefined && flag !== f) {
        throw new ReplyError(flag === 'NX' || f === 'NX'
          ? 'ERR NX and XX, GT or LT options at the same time are not compatible'
          : 'ERR GT and LT options at the same time are not compatible');
      }
      flag = f;
    }
    const value = ctx.ks.get(key);
    if (value === undefined) {
      ctx.w.integer(0);
      return;
    }
    const current = ctx.ks.expiresAt(key) ?? null;
    const allowed = flag === undefined
      || (flag === 'NX' && current === null)
      || (flag === 'XX' && current !== null)
      || (flag === 'GT' && current !== null && at > current)
      || (flag === 'LT' && (current === null || at < current));
    if (!allowed) {
      ctx.w.integer(0);
      return;
    }
    // A time already past deletes the key, as in Redis.
    if (at <= Date.now()) ctx.ks.del(key);
    else ctx.ks.put(key, value, at);
    ctx.w.integer(1);
  };
}

function persist(ctx: Context, args: Buffer[]): void {
  const value = ctx.ks.get(args[1]);
  const had = value !== undefined && ctx.ks.expiresAt(args[1]) !== null;
  if (had) ctx.ks.put(args[1], value, null);
  ctx.w.integer(had ? 1 : 0);
}

function type(ctx: Context, args: Buffer[]): void {
  ctx.w.simple(ctx.ks.has(args[1]) ? 'string' : 'none');
}

interface ScanArgs {
  match: Buffer | undefined;
  count: number;
  typeOk: boolean;
}

function parseScanArgs(args: Buffer[], from: number): ScanArgs {
  const o: ScanArgs = { match: undefined, count: 10, typeOk: true };
  for (let i = from; i < args.length; i++) {
    const opt = args[i].toString('latin1').toUpperCase();
    if (i + 1 >= args.length) throw new ReplyError(SYNTAX);
    if (opt === 'MATCH') o.match = args[++i];
    else if (opt === 'COUNT') {
      o.count = intArg(args[++i]);
      if (o.count < 1) throw new ReplyError(SYNTAX);
    } else if (opt === 'TYPE') o.typeOk = args[++i].toString('latin1').toLowerCase() === 'string';
    else throw new ReplyError(SYNTAX);
  }
  return o;
}

// SCAN cursor: the store's cursor guarantees every key present for the whole iteration is
// returned (docs/api.md, scan()).
function scan(ctx: Context, args: Buffer[]): void {
  const cursorArg = toInt64(args[1]);
  if (cursorArg === undefined || cursorArg < 0n) throw new ReplyError('ERR invalid cursor');
  const o = parseScanArgs(args, 2);
  let cursor = 0;
  let keys: Buffer[] = [];
  if (cursorArg < BigInt(TAG_SPACE)) {
    const page = ctx.ks.store.scan(Number(cursorArg), o.count);
    cursor = page.cursor;
    keys = page.keys;
  }
  const shown = keys.filter((k) => o.typeOk && (o.match === undefined || globMatch(o.match, k)));
  ctx.w.array(2);
  ctx.w.bulk(String(cursor));
  ctx.w.array(shown.length);
  for (const k of shown) ctx.w.bulk(k);
}

function keys(ctx: Context, args: Buffer[]): void {
  const pattern = args[1];
  if (isLiteral(pattern)) {
    const found = ctx.ks.has(pattern);
    ctx.w.array(found ? 1 : 0);
    if (found) ctx.w.bulk(pattern);
    return;
  }
  const out: Buffer[] = [];
  const seen = new Set<string>();
  let cursor = 0;
  do {
    const page = ctx.ks.store.scan(cursor, 1024);
    for (const k of page.keys) {
      // Inside MULTI the transaction's own writes count: check each key through the keyspace.
      if (globMatch(pattern, k) && (!ctx.ks.dirty || ctx.ks.has(k))) out.push(k);
      if (ctx.ks.dirty) seen.add(k.toString('latin1'));
    }
    cursor = page.cursor;
  } while (cursor !== 0);
  for (const k of ctx.ks.pendingKeys()) {
    if (!seen.has(k.toString('latin1')) && ctx.ks.has(k) && globMatch(pattern, k)) out.push(k);
  }
  ctx.w.array(out.length);
  for (const k of out) ctx.w.bulk(k);
}

function randomkey(ctx: Context): void {
  const store = ctx.ks.store;
  if (store.size > 0) {
    // From a random point of the cursor space to its end, then from the start.
    for (const start of [Math.floor(Math.random() * TAG_SPACE), 0]) {
      let cursor = start;
      do {
        const page = store.scan(cursor, 16);
        if (page.keys.length > 0) {
          ctx.w.bulk(page.keys[Math.floor(Math.random() * page.keys.length)]);
          return;
        }
        cursor = page.cursor;
      } while (cursor !== 0);
    }
  }
  ctx.w.nil();
}

function flush(ctx: Context, args: Buffer[]): Promise<unknown> | void {
  if (args.length > 2 || (args.length === 2 && !['ASYNC', 'SYNC'].includes(args[1].toString('latin1').toUpperCase()))) {
    throw new ReplyError(SYNTAX);
  }
  if (ctx.session.inMulti) {
    // Inside a transaction the clear must be part of its one batch: delete every key, the
    // transaction's own writes included.
    for (const k of ctx.ks.pendingKeys()) if (ctx.ks.has(k)) ctx.ks.del(k);
    let cursor = 0;
    do {
      const page = ctx.ks.store.scan(cursor, 1024);
      for (const k of page.keys) ctx.ks.del(k);
      cursor = page.cursor;
    } while (cursor !== 0);
    ctx.w.simple('OK');
    return;
  }
  ctx.w.simple('OK');
  return ctx.server.barrier(ctx.ks.store.clear());
}

const W = ['write'];
const R = ['readonly', 'fast'];
const K1: [number, number, number] = [1, 1, 1];
const KALL: [number, number, number] = [1, -1, 1];

export const keyCommands: CommandSpec[] = [
  command('del', -2, W, del, KALL),
  command('unlink', -2, W, del, KALL),
  command('exists', -2, R, exists, KALL),
  command('expire', -3, W, expire('EX', 'expire'), K1),
  command('pexpire', -3, W, expire('PX', 'pexpire'), K1),
  command('expireat', -3, W, expire('EXAT', 'expireat'), K1),
  command('pexpireat', -3, W, expire('PXAT', 'pexpireat'), K1),
  command('ttl', 2, R, (ctx, a) => ctx.w.integer(timeLeft(ctx.ks.expiresAt(a[1]), 1000)), K1),
  command('pttl', 2, R, (ctx, a) => ctx.w.integer(timeLeft(ctx.ks.expiresAt(a[1]), 1)), K1),
  command('persist', 2, W, persist, K1),
  command('type', 2, R, type, K1),
  command('scan', -2, ['readonly'], scan),
  command('keys', 2, ['readonly'], keys),
  command('randomkey', 1, ['readonly'], randomkey),
  command('dbsize', 1, R, (ctx) => ctx.w.integer(ctx.ks.size)),
  command('flushdb', -1, W, flush),
  command('flushall', -1, W, flush),
];
