// Turns the trials' JSON into the summary: medians and spreads, the Markdown report and the SVG
// chart of ratios against the baseline engine.

/** The rows of the results table, in order. `fallback`: the metric used when an engine lacks this one. */
export const ROWS = [
  { key: 'load_sorted', label: 'load all keys, sorted order', unit: 'rate', better: 'higher', chart: true },
  { key: 'load_random', label: 'load all keys, random order', unit: 'rate', better: 'higher', chart: true },
  { key: 'get_hit', label: 'read 1 value by key (sync get, random present key)', unit: 'rate', better: 'higher', chart: true },
  {
    key: 'get_fast', label: 'read 1 value by key, lmdb `getBinaryFast` (hashlog: its `get`)', unit: 'rate',
    better: 'higher', fallback: 'get_hit', chart: true,
  },
  { key: 'get_miss', label: 'read a missing key (sync get)', unit: 'rate', better: 'higher', chart: true },
  { key: 'put_durable_256', label: 'durable put, 256 in flight (overwrite)', unit: 'rate', better: 'higher', chart: true },
  { key: 'put_single_p50', label: 'one awaited durable put, p50', unit: 'us', better: 'lower', chart: true },
  { key: 'put_single_p99', label: 'one awaited durable put, p99', unit: 'us', better: 'lower', chart: true },
  { key: 'put_single_p999', label: 'one awaited durable put, p99.9', unit: 'us', better: 'lower' },
  { key: 'put_single_max', label: 'one awaited durable put, max', unit: 'us', better: 'lower' },
  { key: 'del_durable_256', label: 'durable delete, 256 in flight', unit: 'rate', better: 'higher', chart: true },
  { key: 'index_bytes_per_key', label: 'index RAM per key (`stats().indexBytes / keys`)', unit: 'bytes', better: 'lower' },
  { key: 'rss_anon_per_key', label: 'anonymous RSS growth per key, after the load', unit: 'bytes', better: 'lower' },
  { key: 'rss_open_per_key', label: 'anonymous RSS per key to open the loaded store (fresh process)', unit: 'bytes', better: 'lower' },
  { key: 'disk_bytes_per_key', label: 'bytes on disk per key (file sizes, after the load)', unit: 'bytes', better: 'lower', chart: true },
  { key: 'reopen_ms', label: 'reopen: close, then `open()` + first get', unit: 'ms', better: 'lower', chart: true },
];

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** { median, min, max, n } of the defined values, or undefined. */
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
    case 'bytes':
      return `${sig(x)} B`;
    default:
      return sig(x);
  }
}

function formatRange(unit, s) {
  if (s === undefined) return 'n/a';
  if (s.n === 1) return formatValue(unit, s.median);
  return `${formatValue(unit, s.median)} (${formatValue(unit, s.min)}–${formatValue(unit, s.max)})`;
}

export function formatRatio(r) {
  if (r === undefined || !Number.isFinite(r)) return 'n/a';
  return `${r >= 10 ? r.toFixed(1) : r.toFixed(2)}x`;
}

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

export function ratioOf(table, key, a, b) {
  const x = table[key]?.[a]?.median;
  const y = table[key]?.[b]?.median;
  if (x === undefined || y === undefined || y === 0) return undefined;
  return x / y;
}

/** The targets, evaluated: [{ target, achieved, met }]. */
export function evaluateTargets(table, fsync, subject, baseline) {
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
      target: 'single durable PUT p50 within 1.2x of raw write(128 B)+fdatasync p50',
      achieved: x === undefined ? 'n/a'
        : `${formatValue('us', p50)} = ${formatRatio(x)} of ${formatValue('us', ref)} (pre-written blocks)` +
          (app ? `; ${formatRatio(p50 / app)} of ${formatValue('us', app)} (appending)` : ''),
      met: x === undefined ? undefined : x <= 1.2,
    });
  }
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
    out.push({ target: 'index RAM ≤ 20 B/key', achieved: ib === undefined ? 'n/a' : formatValue('bytes', ib), met: ib === undefined ? undefined : ib <= 20 });
  }
  return out;
}

/** The Markdown results table (without heading). */
export function markdownTable(table, engines, subject) {
  const ok = engines.filter((e) => e.status === 'ok').map((e) => e.name);
  const peers = ok.filter((n) => n !== subject);
  const head = ['operation', ...ok, ...peers.map((p) => `${subject}/${p}`), 'better'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
  for (const row of ROWS) {
    const cells = [row.label];
    for (const n of ok) cells.push(formatRange(row.unit, table[row.key][n]));
    for (const p of peers) {
      // Per-key memory of an engine that keeps nothing in anonymous memory is noise around 0.
      const nearZero = row.unit === 'bytes' && Math.abs(table[row.key][p]?.median ?? 1) < 1;
      cells.push(nearZero ? `n/a (${p} ≈ 0)` : formatRatio(ratioOf(table, row.key, subject, p)));
    }
    cells.push(`${row.better} is better`);
    lines.push(`| ${cells.join(' | ')} |`);
  }
  const skipped = engines.filter((e) => e.status !== 'ok');
  for (const e of skipped) lines.push('', `${e.name}: skipped (${e.reason})`);
  return lines.join('\n');
}

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
  const colors = ['#2b6cb0', '#dd6b20', '#38a169', '#805ad5', '#c53030'];
  const advs = rows.flatMap((r) => r.bars.map((b) => b.adv)).filter((x) => x !== undefined);
  let lo = Math.min(0.5, ...advs.map((x) => x / 2));
  let hi = Math.max(2, ...advs.map((x) => x * 1.3));
  lo = 2 ** Math.floor(Math.log2(lo));
  hi = 2 ** Math.ceil(Math.log2(hi));
  const labelW = 430, plotW = 420, barH = 16, gap = 10, top = 58;
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
        out.push(`<text x="${xOf(1) + 4}" y="${y + barH - 4}" fill="#888">n/a</text>`);
        return;
      }
      const x1 = xOf(1), x2 = xOf(b.adv);
      const x = Math.min(x1, x2);
      out.push(`<rect x="${x.toFixed(1)}" y="${y}" width="${Math.max(1, Math.abs(x2 - x1)).toFixed(1)}" height="${barH - 2}" fill="${colors[j % colors.length]}"${b.adv < 1 ? ' fill-opacity="0.55"' : ''}/>`);
      const text = b.adv >= 0.1 ? formatRatio(b.adv) : `1/${(1 / b.adv).toFixed(0)}x`;
      if (b.adv >= 1) {
        out.push(`<text x="${(x2 + 4).toFixed(1)}" y="${y + barH - 4}">${text}</text>`);
      } else if (x1 - x2 > 70) {
        // A long bar to the left: the label goes inside it, clear of the operation names.
        out.push(`<text x="${(x2 + 4).toFixed(1)}" y="${y + barH - 4}">${text}</text>`);
      } else {
        out.push(`<text x="${(x2 - 4).toFixed(1)}" y="${y + barH - 4}" text-anchor="end">${text}</text>`);
      }
    });
  });
  const ly = plotBottom + 36;
  names.forEach((n, j) => {
    const lx = labelW + j * 140;
    out.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${colors[j % colors.length]}"/>`);
    out.push(`<text x="${lx + 18}" y="${ly}">${escapeXml(n)}</text>`);
  });
  out.push(`<text x="${labelW - 8}" y="${ly}" text-anchor="end" fill="#555">${escapeXml(baseline)} = 1x</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
