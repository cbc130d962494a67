// Running a command, or a transaction's queued commands, against a context: shared by the
// connection that read them and by the owner thread running what a worker thread forwarded
// (lib/server/threads.ts).
import type { ReplyWriter } from '../resp/reply';
import type { CommandResult, CommandSpec, Context } from './context';
import { replyText } from './errors';

/** What a command left: a reply to come later, or the work its written reply waits for. */
export type Ran = { late: Promise<(w: ReplyWriter) => void> } | { work: Promise<unknown> | undefined; failed: boolean };

/** Runs one command: its reply (or error) is in ctx.w, its writes committed. */
export function runCommand(ctx: Context, spec: CommandSpec, args: Buffer[]): Ran {
  let result: CommandResult;
  try {
    result = spec.run(ctx, args);
  } catch (e) {
    ctx.ks.discard();
    ctx.server.stats.errorReplies++;
    ctx.w.error(replyText(e));
    return { work: undefined, failed: true };
  }
  if (result !== undefined && 'late' in result) return { late: result.late };
  const wrote = ctx.ks.commit();
  const work = wrote !== undefined && result !== undefined ? Promise.all([wrote, result]) : wrote ?? result ?? undefined;
  return { work, failed: false };
}

/**
 * Runs a transaction's queued commands against one keyspace view and commits their writes
 * as one batch; the array reply is in ctx.w. REQUIRES: no queued command replies late.
 */
export function runTransaction(ctx: Context, specs: CommandSpec[], queued: Buffer[][]): Promise<unknown> | undefined {
  const extras: Promise<unknown>[] = [];
  ctx.w.array(queued.length);
  queued.forEach((args, i) => {
    const mark = ctx.ks.mark;
    try {
      const extra = specs[i].run(ctx, args);
      if (extra !== undefined && !('late' in extra)) extras.push(extra);
    } catch (e) {
      ctx.ks.rollback(mark); // a command that fails writes nothing, as in Redis
      ctx.server.stats.errorReplies++;
      ctx.w.error(replyText(e));
    }
  });
  const wrote = ctx.ks.commit();
  if (wrote !== undefined) extras.push(wrote);
  return extras.length === 0 ? undefined : extras.length === 1 ? extras[0] : Promise.all(extras);
}
