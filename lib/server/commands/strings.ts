// String commands: GET, SET and its variants, counters, APPEND, STRLEN, MGET, MSET.
import { arityError, NOT_INTEGER, ReplyError, SYNTAX } from '../errors';
import { INT64_MAX, INT64_MIN, toInt64 } from '../int';
import { command, type CommandSpec, type Context } from '../context';
import { expiryFrom, type ExpiryUnit } from './expiry';

function upper(b: Buffer): string {
  return b.toString('latin1').toUpperCase();
}

function replyValue(ctx: Context, v: Buffer | undefined): void {
  if (v === undefined) {
    ctx.server.stats.keyspaceMisses++;
    ctx.w.nil();
  } else {
    ctx.server.stats.keyspaceHits++;
    ctx.w.bulk(v);
  }
}

function get(ctx: Context, args: Buffer[]): void {
  replyValue(ctx, ctx.ks.get(args[1]));
}

interface SetOptions {
  condition: 'NX' | 'XX' | undefined;
  expiry: { unit: ExpiryUnit; value: Buffer } | undefined;
  keepTtl: boolean;
  get: boolean;
}

function parseSetOptions(args: Buffer[]): SetOptions {
  const o: SetOptions = { condition: undefined, expiry: undefined, keepTtl: false, get: false };
  for (let i = 3; i < args.length; i++) {
    const opt = upper(args[i]);
    if ((opt === 'NX' || opt === 'XX') && o.condition === undefined) {
      o.condition = opt;
    } else if (opt === 'GET' && !o.get) {
      o.get = true;
    } else if (opt === 'KEEPTTL' && o.expiry === undefined && !o.keepTtl) {
      o.keepTtl = true;
    } else if ((opt === 'EX' || opt === 'PX' || opt === 'EXAT' || opt === 'PXAT')
      && o.expiry === undefined && !o.keepTtl && i + 1 < args.length) {
      o.expiry = { unit: opt, value: args[++i] };
    } else {
      throw new ReplyError(SYNTAX);
    }
  }
  return o;
}

function set(ctx: Context, args: Buffer[]): void {
  const [, key, value] = args;
  const o = parseSetOptions(args);
  const expiresAt = o.expiry === undefined ? null : expiryFrom(o.expiry.unit, o.expiry.value, 'set');
  const old = o.get || o.condition !== undefined || o.keepTtl ? ctx.ks.get(key) : undefined;
  const ok = o.condition === undefined || (o.condition === 'NX') === (old === undefined);
  if (ok) ctx.ks.put(key, value, o.keepTtl && old !== undefined ? ctx.ks.expiresAt(key) ?? null : expiresAt);
  if (o.get) replyValue(ctx, old);
  else if (ok) ctx.w.simple('OK');
  else ctx.w.nil();
}

function setnx(ctx: Context, args: Buffer[]): void {
  const absent = !ctx.ks.has(args[1]);
  if (absent) ctx.ks.put(args[1], args[2], null);
  ctx.w.integer(absent ? 1 : 0);
}

function setWithExpiry(unit: ExpiryUnit, name: string) {
  return (ctx: Context, args: Buffer[]): void => {
    ctx.ks.put(args[1], args[3], expiryFrom(unit, args[2], name));
    ctx.w.simple('OK');
  };
}

function getdel(ctx: Context, args: Buffer[]): void {
  const v = ctx.ks.get(args[1]);
  if (v !== undefined) ctx.ks.del(args[1]);
  replyValue(ctx, v);
}

function getex(ctx: Context, args: Buffer[]): void {
  const key = args[1];
  let expiresAt: number | null | undefined; // undefined: leave as is
  for (let i = 2; i < args.length; i++) {
    const opt = upper(args[i]);
    if (expiresAt !== undefined) throw new ReplyError(SYNTAX);
    if (opt === 'PERSIST') expiresAt = null;
    else if ((opt === 'EX' || opt === 'PX' || opt === 'EXAT' || opt === 'PXAT') && i + 1 < args.length) {
      expiresAt = expiryFrom(opt, args[++i], 'getex');
    } else throw new ReplyError(SYNTAX);
  }
  const v = ctx.ks.get(key);
  if (v !== undefined && expiresAt !== undefined && ctx.ks.expiresAt(key) !== expiresAt) {
    ctx.ks.put(key, v, expiresAt);
  }
  replyValue(ctx, v);
}

function mget(ctx: Context, args: Buffer[]): void {
  const keys = args.slice(1);
  const values = ctx.ks.dirty ? keys.map((k) => ctx.ks.get(k)) : ctx.ks.store.getMany(keys);
  ctx.w.array(values.length);
  for (const v of values) replyValue(ctx, v);
}

function checkPairs(args: Buffer[], name: string): void {
  if (args.length % 2 === 0) throw arityError(name);
}

function mset(ctx: Context, args: Buffer[]): void {
  checkPairs(args, 'mset');
  for (let i = 1; i < args.length; i += 2) ctx.ks.put(args[i], args[i + 1], null);
  ctx.w.simple('OK');
}

function msetnx(ctx: Context, args: Buffer[]): void {
  checkPairs(args, 'msetnx');
  for (let i = 1; i < args.length; i += 2) {
    if (ctx.ks.has(args[i])) {
      ctx.w.integer(0);
      return;
    }
  }
  for (let i = 1; i < args.length; i += 2) ctx.ks.put(args[i], args[i + 1], null);
  ctx.w.integer(1);
}

// INCR and friends keep the key's expiry, as Redis does.
function incrementBy(ctx: Context, key: Buffer, by: bigint): void {
  const v = ctx.ks.get(key);
  const current = v === undefined ? 0n : toInt64(v);
  if (current === undefined) throw new ReplyError(NOT_INTEGER);
  const next = current + by;
  if (next > INT64_MAX || next < INT64_MIN) throw new ReplyError('ERR increment or decrement would overflow');
  ctx.ks.put(key, Buffer.from(next.toString(), 'latin1'), v === undefined ? null : ctx.ks.expiresAt(key) ?? null);
  ctx.w.integer(next);
}

function incrArg(b: Buffer): bigint {
  const n = toInt64(b);
  if (n === undefined) throw new ReplyError(NOT_INTEGER);
  return n;
}

function append(ctx: Context, args: Buffer[]): void {
  const v = ctx.ks.get(args[1]);
  const next = v === undefined ? args[2] : Buffer.concat([v, args[2]]);
  ctx.ks.put(args[1], next, v === undefined ? null : ctx.ks.expiresAt(args[1]) ?? null);
  ctx.w.integer(next.length);
}

function strlen(ctx: Context, args: Buffer[]): void {
  ctx.w.integer(ctx.ks.get(args[1])?.length ?? 0);
}

const W = ['write'];
const R = ['readonly', 'fast'];
const K1: [number, number, number] = [1, 1, 1];

export const stringCommands: CommandSpec[] = [
  command('get', 2, R, get, K1),
  command('set', -3, W, set, K1),
  command('setnx', 3, W, setnx, K1),
  command('setex', 4, W, setWithExpiry('EX', 'setex'), K1),
  command('psetex', 4, W, setWithExpiry('PX', 'psetex'), K1),
  command('getdel', 2, W, getdel, K1),
  command('getex', -2, W, getex, K1),
  command('mget', -2, R, mget, [1, -1, 1]),
  command('mset', -3, W, mset, [1, -1, 2]),
  command('msetnx', -3, W, msetnx, [1, -1, 2]),
  command('incr', 2, W, (ctx, a) => incrementBy(ctx, a[1], 1n), K1),
  command('decr', 2, W, (ctx, a) => incrementBy(ctx, a[1], -1n), K1),
  command('incrby', 3, W, (ctx, a) => incrementBy(ctx, a[1], incrArg(a[2])), K1),
  command('decrby', 3, W, (ctx, a) => incrementBy(ctx, a[1], -incrArg(a[2])), K1),
  command('append', 3, W, append, K1),
  command('strlen', 2, R, strlen, K1),
];
