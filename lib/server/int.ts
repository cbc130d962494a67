// Integers as Redis reads them (string2ll): optional '-', no '+', no leading zeros, no spaces,
// within a signed 64-bit range. Arithmetic on stored values uses bigint, so INCR is exact.
import { NOT_INTEGER, ReplyError } from './errors';

const INT64 = /^-?(0|[1-9][0-9]{0,18})$/;
export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;

/** The bytes as a signed 64-bit integer, or undefined if they are not one. */
export function toInt64(b: Buffer): bigint | undefined {
  if (b.length === 0 || b.length > 20) return undefined;
  const s = b.toString('latin1');
  if (!INT64.test(s)) return undefined;
  const n = BigInt(s);
  return n < INT64_MIN || n > INT64_MAX ? undefined : n;
}

/** An integer argument, as a number (safe range), or ERR value is not an integer. */
export function intArg(b: Buffer): number {
  const n = toInt64(b);
  if (n === undefined || n > BigInt(Number.MAX_SAFE_INTEGER) || n < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new ReplyError(NOT_INTEGER);
  }
  return Number(n);
}
