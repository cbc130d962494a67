// Error replies: Redis's texts for protocol-level mistakes, and our engine's errors mapped to
// the Redis error word a client expects (MISCONF when writes are refused, OOM when full).

/** An error reply; the message starts with its code word, as Redis sends it. */
export class ReplyError extends Error {}
ReplyError.prototype.name = 'ReplyError';

export const SYNTAX = 'ERR syntax error';
export const NOT_INTEGER = 'ERR value is not an integer or out of range';

export function arityError(name: string): ReplyError {
  return new ReplyError(`ERR wrong number of arguments for '${name}' command`);
}

export function expireError(name: string): ReplyError {
  return new ReplyError(`ERR invalid expire time in '${name}' command`);
}

/** Redis's text for a command it does not know: the name and the start of the arguments. */
export function unknownCommand(args: Buffer[]): ReplyError {
  let text = `ERR unknown command '${clip(args[0])}', with args beginning with: `;
  for (let i = 1; i < args.length && text.length < 256; i++) text += `'${clip(args[i])}' `;
  return new ReplyError(text);
}

function clip(b: Buffer): string {
  return b.subarray(0, 128).toString('utf8');
}

/** The reply text for anything a command threw or a write rejected with. */
export function replyText(e: unknown): string {
  if (e instanceof ReplyError) return e.message;
  const message = e instanceof Error ? e.message : String(e);
  const code = typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : '';
  switch (code) {
    case 'HASHLOG_FAILED': return `MISCONF the store stopped accepting writes: ${message} (${code})`;
    case 'HASHLOG_FULL': return `OOM ${message} (${code})`;
    case 'HASHLOG_READONLY': return `READONLY ${message} (${code})`;
    case 'HASHLOG_CLOSED': return `ERR the server is shutting down (${code})`;
    case '': return `ERR ${message}`;
    default: return `ERR ${message} (${code})`;
  }
}
