// Turns the trials' JSON into the summary: medians and spreads, the Markdown tables, the targets,
// the SVG chart of ratios against the baseline engine and the SVG chart of the O(1) curve.

/** The rows of the main results table, in order. `fallback`: the metric used when an engine lacks this one. */
export const ROWS = [
  { key: 'load_sorted', label: 'load all keys, sorted order', unit: 'rate', better: 'higher', chart: true },
  { key: 'load_random', label: 'load all keys, random order', unit: 'rate', better: 'higher', chart: true },
  { key: 'get_hit', label: 'read 1 value by key (sync get, random present key)', unit: 'rate', better: 'higher', chart: true },
  {
    key: 'get_fast', label: 'read 1 value by key, lmdb `getBinaryFast` (others: their sync get)', unit: 'rate',
    better: 'higher', fallback: 'get_hit', chart: true,
  },
  { key: 'get_miss', label: 'read a missing key (sync get)', unit: 'rate', better: 'higher', chart: true },
  { key: 'get_async_hit', label: 'read 1 value by key, async get, 256 in flight', unit: 'rate', better: 'higher', chart: true },
  { key: 'get_async_miss', label: 'read a missing key, async get, 256 in flight', unit: 'rate', better: 'higher', chart: true },
  { key: 'getmany_16', label: 'read 16 keys in one call (`getMany`), keys/s', unit: 'rate', better: 'higher', chart: true },
  { key: 'getmany_256', label: 'read 256 keys in one call (`getMany`), keys/s', unit: 'rate', better: 'higher', chart: true },
  { key: 'mixed_90_10', label: 'mixed: 90% sync get, 10% durable put, 64 clients', unit: 'rate', better: 'higher', chart: true },
  { key: 'put_durable_1', label: 'durable put, 1 in flight (one awaited put at a time)', unit: 'rate', better: 'higher', chart: true },
  { key: 'put_single_p50', label: 'one awaited durable put, latency p50', unit: 'us', better: 'lower', chart: true },
  { key: 'put_single_p99', label: 'one awaited durable put, latency p99', unit: 'us', better: 'lower', chart: true },
  { key: 'put_single_p999', label: 'one awaited durable put, latency p99.9', unit: 'us', better: 'lower' },
  { key: 'put_single_max', label: 'one awaited durable put, latency max', unit: 'us', better: 'lower' },
  { key: 'put_durable_16', label: 'durable put, 16 in flight', unit: 'rate', better: 'higher', chart: true },
  { key: 'put_durable_256', label: 'durable put, 256 in flight', unit: 'rate', better: 'higher', chart: true },
  { key: 'del_durable_256', label: 'durable delete, 256 in flight', unit: 'rate', better: 'higher', chart: true },
  { key: 'put_nd_256', label: 'non-durable put, 256 in flight', unit: 'rate', better: 'higher', chart: true },
  { key: 'del_nd_256', label: 'non-durable delete, 256 in flight', unit: 'rate', better: 'higher', chart: true },
  { key: 'index_bytes_per_key', label: 'index RAM per key (`stats().indexBytes / keys`)', unit: 'bytes', better: 'lower' },
  { key: 'rss_anon_per_key', label: 'anonymous RSS growth per key, after the load', unit: 'bytes', better: 'lower' },
  { key: 'rss_open_per_key', label: 'anonymous RSS per key to open the loaded store (fresh process)', unit: 'bytes', better: 'lower' },
  { key: 'disk_bytes_per_key', label: 'bytes on disk per key (file sizes, after the load)', unit: 'bytes', better: 'lower', chart: true },
  { key: 'reopen_ms', label: 'open an existing store: `open()` + first get', unit: 'ms', better: 'lower', chart: true },
];

/** Fixed colours per engine, the same in both charts. */
export const COLORS = { hashlog: '#2b6cb0', lmdb: '#dd6b20', level: '#38a169', sqlite: '#805ad5', rocksdb: '#c53030' };
const colorOf = (name, i) => COLORS[name] ?? ['#718096', '#d69e2e', '#319795'][i % 3];

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** { median, min, max, n } of the finite values, or undefined. */
export function summarize(xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x));
  if (v.length === 0) return undefined;
  return { median: median(v), min: Math.min(...v), max: Math.max(...v), n: v.length };
}

function sig(x) {
  if (x === 0) return '0';
  const a = Math.abs(x);
  return a >= 100 ? x.toFixed(0) : a >= 10 ? x.toFixed(1) : x.toFixed(2);
}

export function formatValue(unit, x) {
  if (x === undefined) return 'n/a';
  switch (unit) {
    case 'rate':
      return x >= 1e6 ? `${sig(x / 1e6)}M/s` : x >= 1e3 ? `${sig(x / 1e3)}K/s` : `${sig(x)}/s`;
    case 'us':
      return x >= 1e4 ? `${sig(x / 1e3)} ms` : `${sig(x)} µs`;
    case 'ms':
      return x >= 1e3 ? `${sig(x / 1e3)} s` : `${sig(x)} ms`;
    case 'ns':
      return x >= 1e4 ? `${sig(x / 1e3)} µs` : `${sig(x)} ns`;
    case 'bytes':
      return `${sig(x)} B`;
    default:
      return sig(x);
  }
}

export function formatRange(unit, s) {
  if (s === undefined) return 'n/a';
  if (s.n === 1) return formatValue(unit, s.median);
  return `${formatValue(unit, s.median)} (${formatValue(unit, s.min)}–${formatValue(unit, s.max)})`;
}

export function formatRatio(r) {
  if (r === undefined || !Number.isFinite(r)) return 'n/a';
  return `${r >= 10 ? r.toFixed(1) : r.toFixed(2)}x`;
}

export const formatCount = (n) => (n >= 1e6 && n % 1e6 === 0 ? `${n / 1e6}M` : n >= 1e3 && n % 1e3 === 0 ? `${n / 1e3}K` : n.toLocaleString('en-US'));
export const formatBytes = (n) => (n >= 1024 && n % 1024 === 0 ? `${n / 1024} KiB` : `${n} B`);

/**
 * engines: [{ name, status: 'ok'|'skipped', reason, runs: [metrics per repeat] }].
 * Returns table[rowKey][engineName] = { median, min, max, n } over the repeats.
 */
export function tabulate(engines) {
  const table = {};
  for (const row of ROWS) {
    table[row.key] = {};
    for (const e of engines) {
      if (e.status !== 'ok') continue;
      table[row.key][e.name] = summarize(e.runs.map((m) => m[row.key] ?? (row.fallback ? m[row.fallback] : undefined)));
    }
  }
  return table;
}

/** grid[engine][`${keys}x${valueSize}`] = { keys, valueSize, get, put, load } summaries of rates; plus indexBytes. */
export function tabulateGrid(engines) {
  const grid = {};
  for (const e of engines) {
    if (e.status !== 'ok') continue;
    const cells = {};
    for (const g of e.grid) {
      const id = `${g.keys}x${g.valueSize}`;
      cells[id] ??= { keys: g.keys, valueSize: g.valueSize, gets: [], puts: [], loads: [], index: [], disk: [] };
      cells[id].gets.push(g.get);
      cells[id].puts.push(g.put);
      cells[id].loads.push(g.load);
      if (g.indexBytes !== undefined) cells[id].index.push(g.indexBytes);
      if (g.diskBytes !== undefined) cells[id].disk.push(g.diskBytes);
    }
    grid[e.name] = {};
    for (const [id, c] of Object.entries(cells)) {
      grid[e.name][id] = {
        keys: c.keys, valueSize: c.valueSize,
        get: summarize(c.gets), put: summarize(c.puts), load: summarize(c.loads),
        // ns per operation: the median of the per-repeat ns/op, with their range.
        getNs: summarize(c.gets.map((r) => 1e9 / r)), putNs: summarize(c.puts.map((r) => 1e9 / r)),
        indexBytes: summarize(c.index), diskBytes: summarize(c.disk),
      };
    }
  }
  return grid;
}

export function ratioOf(table, key, a, b) {
  const x = table[key]?.[a]?.median;
  const y = table[key]?.[b]?.median;
  if (x === undefined || y === undefined || y === 0) return undefined;
  return x / y;
}

/** The curve of one engine for one op ('getNs' | 'putNs'): [{ keys, s }] in key order. */
export function curveOf(grid, engine, op, valueSize, sizes) {
  return sizes.map((keys) => ({ keys, s: grid[engine]?.[`${keys}x${valueSize}`]?.[op] })).filter((p) => p.s !== undefined);
}

/** The issue's targets, evaluated: [{ target, achieved, met }]. */
export function evaluateTargets(table, grid, fsync, subject, baseline, curve) {
  const r = (k) => ratioOf(table, k, subject, baseline);
  const out = [];
  const ratioTarget = (target, key, goal, extra = '') => {
    const x = r(key);
    out.push({ target, achieved: x === undefined ? 'n/a' : `${formatRatio(x)}${extra}`, met: x === undefined ? undefined : x >= goal });
  };
  ratioTarget(`synchronous GET ≥ 2x ${baseline} \`get\``, 'get_hit', 2,
    r('get_fast') !== undefined ? ` (vs \`getBinaryFast\`: ${formatRatio(r('get_fast'))})` : '');
  ratioTarget('missing-key GET ≥ 3x', 'get_miss', 3);
  ratioTarget('durable PUT, 256 in flight ≥ 10x', 'put_durable_256', 10);
  {
    const p50 = table.put_single_p50?.[subject]?.median;
    const ref = fsync.overwrite?.median;
    const app = fsync.append?.median;
    const x = p50 !== undefined && ref ? p50 / ref : undefined;
    out.push({
      target: 'one awaited durable PUT, p50 within 1.2x of a raw write(128 B)+fdatasync p50',
      achieved: x === undefined ? 'n/a'
        : `${formatValue('us', p50)} = ${formatRatio(x)} of ${formatValue('us', ref)} (pre-written blocks)` +
          (app ? `; ${formatRatio(p50 / app)} of ${formatValue('us', app)} (appending)` : ''),
      met: x === undefined ? undefined : x <= 1.2,
    });
  }
  ratioTarget('DEL like PUT: durable DEL, 256 in flight ≥ 10x', 'del_durable_256', 10);
  {
    const a = r('load_sorted');
    const b = r('load_random');
    const ok = a !== undefined && b !== undefined;
    out.push({
      target: 'load ≥ 2x (both orders)',
      achieved: ok ? `sorted ${formatRatio(a)}, random ${formatRatio(b)}` : 'n/a',
      met: ok ? a >= 2 && b >= 2 : undefined,
    });
  }
  {
    const ib = table.index_bytes_per_key?.[subject]?.median;
    // The index grows by doubling, so bytes per key depend on where the count falls between two
    // sizes: show the curve's store sizes too.
    const others = curve
      ? curve.sizes.map((k) => ({ k, b: grid[subject]?.[`${k}x${curve.valueSize}`]?.indexBytes?.median })).filter((x) => x.b !== undefined)
        .map((x) => `${formatCount(x.k)}: ${formatValue('bytes', x.b / x.k)}`)
      : [];
    out.push({
      target: 'index RAM ≤ 20 B/key (12 the goal)',
      achieved: ib === undefined ? 'n/a' : `${formatValue('bytes', ib)}${ib <= 12 ? ' (goal met too)' : ' (goal of 12 not met)'}` +
        (others.length ? `; at the curve's sizes ${others.join(', ')}` : ''),
      met: ib === undefined ? undefined : ib <= 20,
    });
  }
  if (curve) {
    const sizes = curve.sizes.filter((k) => k <= 1e6);
    for (const [op, name] of [['getNs', 'GET'], ['putNs', 'PUT (non-durable)']]) {
      const pts = curveOf(grid, subject, op, curve.valueSize, sizes);
      const base = pts.find((p) => p.keys === sizes[0]);
      if (!base || pts.length < 2) {
        out.push({ target: `O(1) curve: ${name} cost within ±25% from ${formatCount(sizes[0] ?? 1e4)} to ${formatCount(sizes.at(-1) ?? 1e6)} keys`, achieved: 'n/a', met: undefined });
        continue;
      }
      const devs = pts.map((p) => p.s.median / base.s.median - 1);
      const worst = devs.reduce((a, b) => (Math.abs(b) > Math.abs(a) ? b : a), 0);
      const pct = (x) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(0)}%`;
      // Past the first point the index and records have left the L2 cache: say how flat the rest is.
      const rest = pts.length > 2 ? `; ${formatCount(pts[1].keys)} → ${formatCount(pts.at(-1).keys)}: ${pct(pts.at(-1).s.median / pts[1].s.median - 1)}` : '';
      out.push({
        target: `O(1) curve: ${name} ns/op within ±25% from ${formatCount(sizes[0])} to ${formatCount(sizes.at(-1))} keys`,
        achieved: pts.map((p) => `${formatCount(p.keys)}: ${formatValue('ns', p.s.median)}`).join(', ') +
          ` (worst ${pct(worst)}${rest})`,
        met: Math.abs(worst) <= 0.25,
      });
    }
  }
  return out;
}

const cell = (s) => (s === '' ? '' : s);

/** The main Markdown results table: every engine, then the ratio of subject ÷ baseline. */
export function markdownTable(table, engines, subject, baseline) {
  const ok = engines.filter((e) => e.status === 'ok').map((e) => e.name);
  const withRatio = ok.includes(subject) && ok.includes(baseline);
  const head = ['operation', ...ok, ...(withRatio ? [`${subject} ÷ ${baseline}`] : []), 'better'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
  for (const row of ROWS) {
    if (!ok.some((n) => table[row.key][n] !== undefined)) continue;
    const cells = [row.label];
    for (const n of ok) cells.push(formatRange(row.unit, table[row.key][n]));
    if (withRatio) cells.push(ratioCell(table, row, subject, baseline));
    cells.push(row.better);
    lines.push(`| ${cells.map(cell).join(' | ')} |`);
  }
  return lines.join('\n');
}

function ratioCell(table, row, subject, peer) {
  // Per-key memory near zero (an engine that keeps nothing in anonymous memory) or below it
  // (RSS can shrink across a load) is noise: no ratio.
  if (row.unit === 'bytes') {
    const a = table[row.key][subject]?.median, b = table[row.key][peer]?.median;
    if (b !== undefined && b < 1) return `n/a (${peer} ≈ 0)`;
    if (a !== undefined && a < 1) return `n/a (${subject} ≈ 0)`;
  }
  const x = ratioOf(table, row.key, subject, peer);
  return x === undefined ? 'n/a' : `**${formatRatio(x)}**`;
}

/** subject ÷ every peer, one column per peer (ratios only). */
export function ratioTable(table, engines, subject) {
  const ok = engines.filter((e) => e.status === 'ok').map((e) => e.name);
  const peers = ok.filter((n) => n !== subject);
  if (!ok.includes(subject) || peers.length === 0) return '';
  const head = ['operation', ...peers.map((p) => `${subject} ÷ ${p}`), 'better'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
  for (const row of ROWS) {
    if (table[row.key][subject] === undefined) continue;
    lines.push(`| ${[row.label, ...peers.map((p) => ratioCell(table, row, subject, p).replace(/\*/g, '')), row.better].join(' | ')} |`);
  }
  return lines.join('\n');
}

/** The curve table: rows engine × op, one column per store size, cells ns/op; last column the change. */
export function curveTable(grid, engines, curve) {
  const ok = engines.filter((e) => e.status === 'ok' && grid[e.name]).map((e) => e.name);
  const head = ['engine', 'operation', ...curve.sizes.map((k) => `${formatCount(k)} keys`), `${formatCount(curve.sizes.at(-1))} ÷ ${formatCount(curve.sizes[0])}`];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i < 2 ? '---' : '---:')).join('|')}|`];
  for (const n of ok) {
    for (const [op, label] of [['getNs', 'sync get'], ['putNs', 'non-durable put']]) {
      const pts = curve.sizes.map((k) => grid[n][`${k}x${curve.valueSize}`]?.[op]);
      const first = pts[0]?.median, last = pts.at(-1)?.median;
      const change = first && last ? formatRatio(last / first) : 'n/a';
      lines.push(`| ${n} | ${label} | ${pts.map((s) => formatRange('ns', s)).join(' | ')} | ${change} |`);
    }
  }
  return lines.join('\n');
}

/** The value-size table for one op ('get' | 'put'): rows value sizes, columns engines, then subject ÷ baseline. */
export function valueTable(grid, engines, values, op, subject, baseline) {
  const ok = engines.filter((e) => e.status === 'ok' && grid[e.name]).map((e) => e.name);
  const withRatio = ok.includes(subject) && ok.includes(baseline);
  const head = ['value size (keys)', ...ok, ...(withRatio ? [`${subject} ÷ ${baseline}`] : [])];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
  for (const { valueSize, keys } of values) {
    const id = `${keys}x${valueSize}`;
    const cells = [`${formatBytes(valueSize)} (${formatCount(keys)})`];
    for (const n of ok) cells.push(formatRange('rate', grid[n][id]?.[op]));
    if (withRatio) {
      const a = grid[subject][id]?.[op]?.median, b = grid[baseline][id]?.[op]?.median;
      cells.push(a !== undefined && b ? `**${formatRatio(a / b)}**` : 'n/a');
    }
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

/** An axis label for a time in ns: 500 ns, 2 µs, 10 µs, 1 ms. */
const tickNs = (v) => (v >= 1e6 ? `${+(v / 1e6).toPrecision(3)} ms` : v >= 1e3 ? `${+(v / 1e3).toPrecision(3)} µs` : `${+v.toPrecision(3)} ns`);

const escapeXml = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * A horizontal grouped bar chart: per operation, one bar per non-baseline engine showing how many
 * times better it is than the baseline (rates: a/b; latencies and sizes: b/a), on a log scale with
 * a line at 1.0.
 */
export function svgChart(table, engines, baseline, title) {
  const names = engines.filter((e) => e.status === 'ok' && e.name !== baseline).map((e) => e.name);
  const rows = [];
  for (const row of ROWS.filter((r) => r.chart)) {
    const bars = names.map((n) => {
      const x = ratioOf(table, row.key, n, baseline);
      // A ratio of a value near zero (or below it: RSS can shrink) has no meaning on a log scale.
      const ok = x !== undefined && Number.isFinite(x) && x > 0;
      return { engine: n, adv: !ok ? undefined : row.better === 'higher' ? x : 1 / x };
    });
    if (bars.some((b) => b.adv !== undefined)) rows.push({ label: row.label.replace(/`/g, ''), bars });
  }
  const advs = rows.flatMap((r) => r.bars.map((b) => b.adv)).filter((x) => x !== undefined);
  let lo = Math.min(0.5, ...advs.map((x) => x / 2));
  let hi = Math.max(2, ...advs.map((x) => x * 1.3));
  lo = 2 ** Math.floor(Math.log2(lo));
  hi = 2 ** Math.ceil(Math.log2(hi));
  const labelW = 400, plotW = 460, barH = 13, gap = 9, top = 58;
  const groupH = names.length * barH + gap;
  const legendH = 26;
  const width = labelW + plotW + 70;
  const height = top + rows.length * groupH + 40 + legendH;
  const xOf = (v) => labelW + ((Math.log(v) - Math.log(lo)) / (Math.log(hi) - Math.log(lo))) * plotW;
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${width / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(title)}</text>`);
  out.push(`<text x="${width / 2}" y="38" text-anchor="middle" fill="#555">times better than ${escapeXml(baseline)} (log scale; right of 1 = better: faster, or less memory/disk/latency)</text>`);
  // Powers of 2 (every other one, or sparser, when the range is wide), always including 1.
  const step = 2 ** Math.max(1, Math.ceil(Math.log2(hi / lo) / 10));
  const ticks = [1];
  for (let t = step; t <= hi * 1.0001; t *= step) ticks.push(t);
  for (let t = 1 / step; t >= lo * 0.9999; t /= step) ticks.push(t);
  const plotBottom = top + rows.length * groupH;
  for (const t of ticks) {
    const x = xOf(t).toFixed(1);
    const one = Math.abs(t - 1) < 1e-9;
    out.push(`<line x1="${x}" y1="${top - 6}" x2="${x}" y2="${plotBottom}" stroke="${one ? '#000' : '#e2e2e2'}" stroke-width="${one ? 1.5 : 1}"/>`);
    const label = t >= 1 ? `${t}` : `1/${1 / t}`;
    out.push(`<text x="${x}" y="${plotBottom + 16}" text-anchor="middle" fill="#444">${label}x</text>`);
  }
  rows.forEach((r, i) => {
    const y0 = top + i * groupH;
    out.push(`<text x="${labelW - 8}" y="${y0 + (names.length * barH) / 2 + 4}" text-anchor="end">${escapeXml(r.label)}</text>`);
    r.bars.forEach((b, j) => {
      const y = y0 + j * barH + 1;
      if (b.adv === undefined) {
        out.push(`<text x="${xOf(1) + 4}" y="${y + barH - 3}" fill="#888" font-size="10">n/a</text>`);
        return;
      }
      const x1 = xOf(1), x2 = xOf(b.adv);
      const x = Math.min(x1, x2);
      out.push(`<rect x="${x.toFixed(1)}" y="${y}" width="${Math.max(1, Math.abs(x2 - x1)).toFixed(1)}" height="${barH - 2}" fill="${colorOf(b.engine, j)}"${b.adv < 1 ? ' fill-opacity="0.55"' : ''}/>`);
      const text = b.adv >= 0.1 ? formatRatio(b.adv) : `1/${(1 / b.adv).toFixed(0)}x`;
      const ty = y + barH - 3;
      if (b.adv >= 1) {
        out.push(`<text x="${(x2 + 4).toFixed(1)}" y="${ty}" font-size="10">${text}</text>`);
      } else if (x1 - x2 > 70) {
        // A long bar to the left: the label goes inside it, clear of the operation names.
        out.push(`<text x="${(x2 + 4).toFixed(1)}" y="${ty}" font-size="10">${text}</text>`);
      } else {
        out.push(`<text x="${(x2 - 4).toFixed(1)}" y="${ty}" text-anchor="end" font-size="10">${text}</text>`);
      }
    });
  });
  const ly = plotBottom + 36;
  names.forEach((n, j) => {
    const lx = labelW + j * 110;
    out.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${colorOf(n, j)}"/>`);
    out.push(`<text x="${lx + 18}" y="${ly}">${escapeXml(n)}</text>`);
  });
  out.push(`<text x="${labelW - 8}" y="${ly}" text-anchor="end" fill="#555">${escapeXml(baseline)} = 1x</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/**
 * The O(1) curve: two panels (sync GET, non-durable PUT), ns/op against store size, both axes
 * log scale; one line per engine through the medians, a bar for the min–max of the repeats.
 */
export function svgCurve(grid, engines, curve, title) {
  const names = engines.filter((e) => e.status === 'ok' && grid[e.name]).map((e) => e.name);
  const panels = [['getNs', 'sync GET of a random present key'], ['putNs', 'non-durable PUT (overwrite), 256 in flight']];
  const all = [];
  for (const n of names) {
    for (const [op] of panels) {
      for (const p of curveOf(grid, n, op, curve.valueSize, curve.sizes)) all.push(p.s.min, p.s.max);
    }
  }
  const pos = all.filter((x) => x > 0);
  // Decade bounds, trimmed to the 1-2-5 step that still holds every point.
  let lo = 10 ** Math.floor(Math.log10(Math.min(...pos, 1e9)));
  let hi = 10 ** Math.ceil(Math.log10(Math.max(...pos, 1)));
  for (const m of [5, 2]) if (lo * m <= Math.min(...pos) / 1.1) { lo *= m; break; }
  for (const m of [5, 2]) if (hi / m >= Math.max(...pos) * 1.1) { hi /= m; break; }
  if (!(lo > 0)) lo = 10;
  if (!(hi > lo)) hi = lo * 1000;
  const xs = curve.sizes;
  const xlo = xs[0] / 1.5, xhi = xs.at(-1) * 1.5;
  const panelW = 400, panelH = 300, left = 70, gapX = 70, top = 72;
  const width = left + 2 * panelW + gapX + 30;
  const height = top + panelH + 80;
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${width / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(title)}</text>`);
  out.push(`<text x="${width / 2}" y="38" text-anchor="middle" fill="#555">time per operation (ns, log scale) as the store grows (keys, log scale); lower and flatter is better</text>`);
  panels.forEach(([op, label], pi) => {
    const x0 = left + pi * (panelW + gapX);
    const xOf = (k) => x0 + ((Math.log(k) - Math.log(xlo)) / (Math.log(xhi) - Math.log(xlo))) * panelW;
    const yOf = (v) => top + panelH - ((Math.log(v) - Math.log(lo)) / (Math.log(hi) - Math.log(lo))) * panelH;
    out.push(`<text x="${x0 + panelW / 2}" y="${top - 8}" text-anchor="middle" font-weight="bold">${escapeXml(label)}</text>`);
    out.push(`<rect x="${x0}" y="${top}" width="${panelW}" height="${panelH}" fill="none" stroke="#999"/>`);
    for (let d = 10 ** Math.floor(Math.log10(lo)); d <= hi * 1.0001; d *= 10) {
      for (const m of [1, 2, 5]) {
        const v = d * m;
        if (v > hi * 1.0001 || v < lo * 0.9999) continue;
        const y = yOf(v).toFixed(1);
        out.push(`<line x1="${x0}" y1="${y}" x2="${x0 + panelW}" y2="${y}" stroke="${m === 1 ? '#d0d0d0' : '#eeeeee'}"/>`);
        if (m === 1 || hi / lo <= 1000) out.push(`<text x="${x0 - 6}" y="${(Number(y) + 4).toFixed(1)}" text-anchor="end" fill="#444" font-size="11">${tickNs(v)}</text>`);
      }
    }
    for (const k of xs) {
      const x = xOf(k).toFixed(1);
      out.push(`<line x1="${x}" y1="${top}" x2="${x}" y2="${top + panelH}" stroke="#eeeeee"/>`);
      out.push(`<text x="${x}" y="${top + panelH + 16}" text-anchor="middle" fill="#444">${formatCount(k)}</text>`);
    }
    out.push(`<text x="${x0 + panelW / 2}" y="${top + panelH + 34}" text-anchor="middle" fill="#444">keys in the store</text>`);
    names.forEach((n, j) => {
      const pts = curveOf(grid, n, op, curve.valueSize, xs);
      if (pts.length === 0) return;
      const c = colorOf(n, j);
      const w = n === 'hashlog' ? 3 : 1.8;
      out.push(`<polyline fill="none" stroke="${c}" stroke-width="${w}" points="${pts.map((p) => `${xOf(p.keys).toFixed(1)},${yOf(p.s.median).toFixed(1)}`).join(' ')}"/>`);
      for (const p of pts) {
        const x = xOf(p.keys).toFixed(1);
        if (p.s.max > p.s.min) out.push(`<line x1="${x}" y1="${yOf(p.s.min).toFixed(1)}" x2="${x}" y2="${yOf(p.s.max).toFixed(1)}" stroke="${c}" stroke-width="1"/>`);
        out.push(`<circle cx="${x}" cy="${yOf(p.s.median).toFixed(1)}" r="3.5" fill="${c}"/>`);
      }
    });
  });
  const ly = top + panelH + 62;
  names.forEach((n, j) => {
    const lx = left + j * 130;
    out.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${colorOf(n, j)}"/>`);
    out.push(`<text x="${lx + 18}" y="${ly}">${escapeXml(n)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
