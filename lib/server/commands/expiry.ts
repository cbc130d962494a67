// Expiry arguments (EX/PX/EXAT/PXAT, EXPIRE's seconds) turned into an absolute time in ms,
// validated as Redis does ("invalid expire time") and bounded by what the store can hold.
import { expireError } from '../errors';
import { toInt64 } from '../int';

const MAX_EXPIRES_AT = 2 ** 52; // lib/options.ts: the store's largest expiry

export type ExpiryUnit = 'EX' | 'PX' | 'EXAT' | 'PXAT';

/** The absolute expiry (ms since the epoch) that `unit value` asks for. */
export function expiryFrom(unit: ExpiryUnit, value: Buffer, command: string, allowNonPositive = false): number {
  const n = toInt64(value);
  if (n === undefined) throw expireError(command);
  if (n <= 0n && !allowNonPositive) throw expireError(command);
  const ms = unit === 'EX' || unit === 'EXAT' ? n * 1000n : n;
  const at = unit === 'EX' || unit === 'PX' ? BigInt(Date.now()) + ms : ms;
  if (at > BigInt(MAX_EXPIRES_AT)) throw expireError(command);
  return Number(at);
}

/** TTL/PTTL's answer: -2 no key, -1 no expiry, else the time left in the unit. */
export function timeLeft(expiresAt: number | null | undefined, unitMs: number): number {
  if (expiresAt === undefined) return -2;
  if (expiresAt === null) return -1;
  const left = Math.max(0, expiresAt - Date.now());
  return unitMs === 1 ? left : Math.floor((left + 500) / 1000);
}
