// The crash loop: a child (crash-child.mjs) writes puts, deletes and batches and reports every
// attempt and acknowledgement; it is SIGKILLed at a random moment, the store is reopened and
// checked against what the child reported. Iterations share a directory in chains, so later
// ones recover stores that were torn, recovered and appended to before. Used by
// crash-loop.test.ts (a few iterations) and by npm run soak (scripts/soak.mjs, for minutes).
import fs from 'node:fs';
import path from 'node:path';
import { open, type EngineChoice, type OpenOptions, type Store } from '../../lib/index';
import { prng } from '../helpers/format';
import { runUntilKilled } from '../helpers/child';

const CHILD = path.join(__dirname, 'crash-child.mjs');
const KEYS = 48;
const CHAIN = 5;

type OpSpec = ['p', string, number] | ['d', string];

interface Attempt {
  i: number;
  b: number;
  ops: OpSpec[];
}

type State = Map<string, string>;

export interface CrashLoopReport {
  iterations: number;
  attempts: number;
  ackedChecked: number;
  writesLost: number;
  problems: string[];
}

const valueOf = (run: number, i: number, j: number, pad: number): string => `r${run}#${i}.${j}${'.'.repeat(pad)}`;

function readState(db: Store): State {
  const s: State = new Map();
  for (let k = 0; k < KEYS; k++) {
    const v = db.get(`k${k}`);
    if (v !== undefined) s.set(`k${k}`, v.toString());
  }
  return s;
}

const show = (v: string | undefined): string => (v === undefined ? '<absent>' : v.length > 30 ? `${v.slice(0, 30)}…` : v);

/**
 * Per key: the recovered value is the one after the key's last acknowledged write, or after a
 * later attempted one (never older, never deleted-and-back, never made up). A batch visible on
 * one of its keys is visible (or overwritten later) on all of them. Returns the violations.
 */
export function checkRecovered(run: number, before: State, attempts: Attempt[], acked: Set<number>, after: State): string[] {
  const problems: string[] = [];
  // Per key, the operations on it in issue order: [attempt index, op index].
  const byKey = new Map<string, Array<[number, number]>>();
  attempts.forEach((a, ai) =>
    a.ops.forEach((op, j) => {
      if (!byKey.has(op[1])) byKey.set(op[1], []);
      byKey.get(op[1])!.push([ai, j]);
    }),
  );
  const matches = new Map<string, number[]>(); // attempt indexes consistent with the value read (-1: before)
  for (let n = 0; n < KEYS; n++) {
    const k = `k${n}`;
    const ops = byKey.get(k) ?? [];
    const got = after.get(k);
    let floor = -1;
    for (const [ai] of ops) if (acked.has(attempts[ai].i)) floor = ai;
    const m: number[] = [];
    if (floor < 0 && got === before.get(k)) m.push(-1);
    for (const [ai, j] of ops) {
      if (ai < floor) continue;
      const op = attempts[ai].ops[j];
      const v = op[0] === 'p' ? valueOf(run, attempts[ai].i, j, op[2]) : undefined;
      if (v === got) m.push(ai);
    }
    matches.set(k, m);
    if (m.length === 0) {
      problems.push(`${k}: recovered ${show(got)}, but its last acknowledged write was attempt ` +
        `${floor < 0 ? 'none' : attempts[floor].i} and no later attempt wrote that`);
    }
  }
  for (const [k, m] of matches) {
    for (const ai of m) {
      if (ai < 0 || !attempts[ai].b || after.get(k) === undefined) continue;
      for (const op of attempts[ai].ops) {
        if (!(matches.get(op[1]) ?? []).some((x) => x >= ai))
          problems.push(`batch attempt ${attempts[ai].i} is visible on ${k} but not on ${op[1]}`);
      }
    }
  }
  return problems;
}

async function runChild(dir: string, options: OpenOptions, seed: number, inflight: number, run: number, killAfterMs: number) {
  const args = [dir, JSON.stringify(options), String(seed), String(inflight), String(KEYS), String(run)];
  const attempts: Attempt[] = [];
  const acked = new Set<number>();
  const errors: string[] = [];
  for (const line of await runUntilKilled(CHILD, args, killAfterMs)) {
    const ev = JSON.parse(line) as { e: string; i: number; b: number; ops: OpSpec[] };
    if (ev.e === 'a') attempts.push({ i: ev.i, b: ev.b, ops: ev.ops });
    else if (ev.e === 'k') acked.add(ev.i);
    else if (ev.e === 'error') errors.push(line);
  }
  return { attempts, acked, errors };
}

/**
 * Runs iterations until `iterations` are done or `deadline` (ms since the epoch) passes, in
 * directories under `root`. `engine` is the child's, and the one that checks what it left.
 */
export async function crashLoop(root: string, seed: number, iterations: number, deadline = Infinity,
  compact = false, engine?: EngineChoice): Promise<CrashLoopReport> {
  const rand = prng(seed);
  const report: CrashLoopReport = { iterations: 0, attempts: 0, ackedChecked: 0, writesLost: 0, problems: [] };
  let dir = '';
  let before: State = new Map();
  for (let it = 0; it < iterations && Date.now() < deadline && report.problems.length === 0; it++) {
    if (it % CHAIN === 0) {
      dir = fs.mkdtempSync(path.join(root, 'chain-'));
      before = new Map();
    }
    const options: OpenOptions = {
      durability: rand() < 0.7 ? 'sync' : 'none',
      segmentSize: rand() < 0.5 || compact ? 16 * 1024 : 256 * 1024,
      // Compacting: a job starts whenever there is any garbage in reach, so kills land in every phase.
      compaction: compact ? { garbageRatio: 0.01, minReclaimBytes: 0, checkIntervalMs: 10, maxBytesPerSecond: 0 } : false,
      ...(engine !== undefined ? { engine } : {}),
    };
    const inflight = [1, 4, 16, 64][Math.floor(rand() * 4)];
    const killAfterMs = Math.floor(rand() * 250);
    const child = await runChild(dir, options, Math.floor(rand() * 2 ** 31), inflight, it, killAfterMs);
    if (child.errors.length > 0) {
      report.problems.push(`iteration ${it}: the child reported ${child.errors[0]}`);
      break;
    }
    const db = await open(dir, { segmentSize: options.segmentSize, compaction: false, engine });
    const after = readState(db);
    const problems = checkRecovered(it, before, child.attempts, child.acked, after);
    if (db.size !== after.size) problems.push(`size ${db.size} but ${after.size} keys read`);
    await db.close();
    report.iterations++;
    report.attempts += child.attempts.length;
    report.ackedChecked += child.acked.size;
    report.writesLost += problems.filter((p) => p.includes('last acknowledged')).length;
    for (const p of problems) report.problems.push(`iteration ${it} (${dir}, ${JSON.stringify(options)}): ${p}`);
    before = after;
    if ((it + 1) % CHAIN === 0) fs.rmSync(dir, { recursive: true, force: true });
  }
  return report;
}
