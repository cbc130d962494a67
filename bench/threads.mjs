// Reads on every core (issue 12): GET throughput of one store read from worker threads
// (db.share() / openShared()) against the owner thread alone, in one process. Writes its
// section of bench/RESULTS.md (between <!-- threads:start --> and <!-- threads:end -->) and
// bench/results-threads.svg.
//
//   npm run bench:threads [-- --keys N --seconds S --repeat R --quick] [--out bench/RESULTS.md]
//
// Trials (each `seconds` long, the median of R repeats; random existing keys, 16 B keys,
// 100 B values):
//   owner            db.get on the thread that opened the store: today's single-threaded GET
//   1 reader         SharedStore.get on one worker, the owner idle: what the shared path costs
//   2 readers        two workers, the owner idle: how reads scale with cores
//   owner + 1 reader both reading
//   2 readers + PUTs two workers reading while the owner writes durable PUTs (256 in flight)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const BENCH = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.join(BENCH, '..');
const hashlog = require(path.join(ROOT, 'dist', 'index.js'));
const START = '<!-- threads:start -->';
const END = '<!-- threads:end -->';

const key = (i) => `key:${String(i).padStart(12, '0')}`;

// xorshift: cheap enough not to be what is measured.
function rng(seed) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

// Reads random keys from `store` until `until` (ms); returns how many. Checks each value.
function readLoop(store, keys, until, seed) {
  const r = rng(seed);
  let n = 0;
  while (Date.now() < until) {
    for (let i = 0; i < 1000; i++) {
      const v = store.get(keys[Math.floor(r() * keys.length)]);
      if (v === undefined || v.length !== 100) throw new Error('wrong value');
    }
    n += 1000;
  }
  return n;
}

if (!isMainThread) {
  const { handle, keys: count, startAt, until, seed } = workerData;
  const store = hashlog.openShared(handle);
  const keys = Array.from({ length: count }, (_, i) => key(i));
  while (Date.now() < startAt) { /* start together */ }
  const began = Date.now(); // later than startAt if building the keys took longer
  const n = readLoop(store, keys, until, seed);
  const ms = Date.now() - began;
  await store.close();
  parentPort.postMessage((n / ms) * 1000); // GET/s over the time it really read
} else {
  await main();
}

async function main() {
  const args = process.argv.slice(2);
  const opt = (name, dflt) => {
    const i = args.indexOf(name);
    return i >= 0 ? Number(args[i + 1]) : dflt;
  };
  const quick = args.includes('--quick');
  const N = opt('--keys', quick ? 50_000 : 1_000_000);
  const SECONDS = opt('--seconds', quick ? 0.5 : 3);
  const REPEAT = opt('--repeat', quick ? 1 : 3);
  const outIdx = args.indexOf('--out');
  const OUT = outIdx >= 0 ? args[outIdx + 1] : path.join(BENCH, 'RESULTS.md');
  const t0 = Date.now();

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hashlog-threads-bench-'));
  const db = await hashlog.open(dir);
  const value = Buffer.alloc(100, 'v');
  const keys = Array.from({ length: N }, (_, i) => key(i));
  for (let i = 0; i < N; i += 10_000) {
    await db.batch(keys.slice(i, i + 10_000).map((k) => ({ type: 'put', key: k, value })));
  }
  await db.flush();
  readLoop(db, keys, Date.now() + 1000, 1); // warm-up: the JIT, and the load's garbage collected

  const readers = (count, ms) => {
    const startAt = Date.now() + 1500; // time for the workers to build their key lists
    const until = startAt + ms;
    const ws = Array.from({ length: count }, (_, i) => {
      const handle = db.share();
      const w = new Worker(fileURLToPath(import.meta.url), {
        workerData: { handle, keys: N, startAt, until, seed: 7 + i }, transferList: [handle.port],
      });
      return new Promise((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
      });
    });
    return { startAt, until, done: Promise.all(ws) };
  };

  const ms = SECONDS * 1000;
  const TRIALS = {
    owner: async () => {
      const until = Date.now() + ms;
      return { gets: readLoop(db, keys, until, 3) / SECONDS };
    },
    '1 reader': async () => {
      const r = readers(1, ms);
      return { gets: (await r.done).reduce((a, b) => a + b, 0) };
    },
    '2 readers': async () => {
      const r = readers(2, ms);
      return { gets: (await r.done).reduce((a, b) => a + b, 0) };
    },
    'owner + 1 reader': async () => {
      const r = readers(1, ms);
      while (Date.now() < r.startAt) { /* start together */ }
      const own = readLoop(db, keys, r.until, 5);
      return { gets: (await r.done)[0] + own / SECONDS };
    },
    '2 readers + durable PUTs': async () => {
      const r = readers(2, ms);
      await new Promise((res) => setTimeout(res, Math.max(0, r.startAt - Date.now())));
      let puts = 0;
      const rand = rng(11);
      const writer = async () => {
        while (Date.now() < r.until) {
          await db.put(keys[Math.floor(rand() * N)], value);
          puts++;
        }
      };
      await Promise.all(Array.from({ length: 256 }, writer));
      const gets = (await r.done).reduce((a, b) => a + b, 0);
      return { gets, puts: puts / SECONDS };
    },
  };

  const results = {};
  for (const [name, run] of Object.entries(TRIALS)) {
    const runs = [];
    for (let i = 0; i < REPEAT; i++) runs.push(await run());
    runs.sort((a, b) => a.gets - b.gets);
    results[name] = runs[Math.floor(runs.length / 2)];
    process.stderr.write(`${name}: ${Math.round(results[name].gets).toLocaleString('en-US')} GET/s` +
      `${results[name].puts ? `, ${Math.round(results[name].puts).toLocaleString('en-US')} PUT/s` : ''}\n`);
  }
  await db.close();
  fs.rmSync(dir, { recursive: true, force: true });

  const text = section(results, { N, SECONDS, REPEAT, quick, seconds: (Date.now() - t0) / 1000 });
  console.log(text);
  const old = fs.existsSync(OUT) ? fs.readFileSync(OUT, 'utf8') : '# hashlog benchmark results\n';
  const i = old.indexOf(START), j = old.indexOf(END);
  fs.writeFileSync(OUT, i >= 0 && j > i ? old.slice(0, i) + text + old.slice(j + END.length) : `${old.trimEnd()}\n\n${text}\n`);
  fs.writeFileSync(path.join(path.dirname(OUT), 'results-threads.svg'), chart(results));
  console.log(`wrote ${OUT} and results-threads.svg`);
}

function fmt(n) {
  return Math.round(n).toLocaleString('en-US');
}

function section(results, o) {
  const base = results.owner.gets;
  const md = [START, '', '## Reads on every core: one store read from worker threads', ''];
  md.push(`Generated by \`npm run bench:threads${o.quick ? ' -- --quick' : ''}\` on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC ` +
    `in ${Math.round(o.seconds)} s${o.quick ? ' (**--quick**: a smoke run, not for quoting)' : ''}: ${fmt(o.N)} keys (16 B keys, 100 B values), ` +
    `random existing keys, ${o.SECONDS} s per trial, the median of ${o.REPEAT}; ${os.availableParallelism()} cores ` +
    `(${os.cpus()[0]?.model ?? 'unknown'}). Readers are worker threads with \`openShared(db.share())\`; the owner is the thread that opened the store.`, '');
  md.push('| trial | GET/s | ÷ owner alone | PUT/s |', '|---|---:|---:|---:|');
  for (const [name, r] of Object.entries(results)) {
    md.push(`| ${name} | ${fmt(r.gets)} | ${(r.gets / base).toFixed(2)}x | ${r.puts ? fmt(r.puts) : ''} |`);
  }
  md.push('', `- **Cost of the shared read path on one thread** (1 reader ÷ owner alone): ${(results['1 reader'].gets / base).toFixed(2)}x ` +
    '(the owner\'s own GET path is unchanged: it takes no epoch).');
  md.push(`- **Scaling** (2 readers ÷ 1 reader): ${(results['2 readers'].gets / results['1 reader'].gets).toFixed(2)}x on 2 cores.`);
  md.push('', '![reads on every core](results-threads.svg)', '', END);
  return md.join('\n');
}

function chart(results) {
  const names = Object.keys(results);
  const max = Math.max(...names.map((n) => results[n].gets));
  const W = 720, left = 190, top = 36, rowH = 22;
  const H = top + rowH * names.length + 12;
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
    '<text x="10" y="20" font-size="14">GET/s of one store: owner thread alone vs worker-thread readers</text>'];
  names.forEach((n, i) => {
    const y = top + i * rowH;
    const w = ((W - left - 100) * results[n].gets) / max;
    parts.push(`<text x="10" y="${y + 12}">${n}</text>`,
      `<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="16" fill="#1f77b4"/>`,
      `<text x="${left + w + 4}" y="${y + 12}">${fmt(results[n].gets)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
