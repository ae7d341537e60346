/**
 * Turns measurements into the one table: a row per figure, a column per target, each cell the median (with
 * [min–max] when there were several runs) and its ratio to the best peer (HAProxy or nginx) measured in the same
 * run; the last column says whether sni-router meets issue 5's goal for that figure. Also the sanity checks
 * printed under the table (is the load generator the bottleneck? did every proxy send its PROXY header?).
 */

/** @typedef {import('./targets.js').TargetName} TargetName */
/** @typedef {{ min: number, median: number, max: number, n: number }} Stat */
/**
 * @typedef {object} MetricSpec
 * @property {string} scenario
 * @property {string} key
 * @property {string} label
 * @property {'higher' | 'lower' | null} better   null: for information, no ratio
 * @property {number} digits
 * @property {{ vs: 'haproxy', atLeast?: number, atMost?: number } | { below: number } | null} [goal]
 */

export const PEERS = /** @type {const} */ (['haproxy', 'nginx']);

/** @type {MetricSpec[]} */
export const MACRO_METRICS = [
  { scenario: 'rate', key: 'conn_per_s', label: 'connection rate, conn/s ↑', better: 'higher', digits: 0, goal: { vs: 'haproxy', atLeast: 0.8 } },
  { scenario: 'rate', key: 'p50_ms', label: '  cycle p50, ms ↓', better: 'lower', digits: 2 },
  { scenario: 'rate', key: 'p99_ms', label: '  cycle p99, ms ↓', better: 'lower', digits: 2 },
  { scenario: 'rate', key: 'cpu_us_per_conn', label: '  proxy CPU per conn, µs ↓', better: 'lower', digits: 1, goal: { vs: 'haproxy', atMost: 1.5 } },
  { scenario: 'rate', key: 'cpu_user_us_per_conn', label: '    of which user, µs ↓', better: 'lower', digits: 1 },
  { scenario: 'rate', key: 'cpu_sys_us_per_conn', label: '    of which sys, µs ↓', better: 'lower', digits: 1 },
  { scenario: 'rate', key: 'proxy_cpu_pct', label: '  proxy core busy, %', better: null, digits: 0 },
  { scenario: 'rate', key: 'client_cpu_pct', label: '  client core busy, %', better: null, digits: 0 },
  { scenario: 'rate', key: 'proxy_core_other_pct', label: '  proxy core, other work (noise), %', better: null, digits: 0 },
  { scenario: 'rate', key: 'client_core_other_pct', label: '  client core, other work (noise), %', better: null, digits: 0 },
  { scenario: 'throughput', key: 'mb_per_s', label: 'throughput (8×64 KiB), MB/s ↑', better: 'higher', digits: 0, goal: { vs: 'haproxy', atLeast: 1.0 } },
  { scenario: 'throughput', key: 'cpu_s_per_gb', label: '  proxy CPU per GB, s ↓', better: 'lower', digits: 2 },
  { scenario: 'throughput', key: 'proxy_cpu_pct', label: '  proxy core busy, %', better: null, digits: 0 },
  { scenario: 'throughput', key: 'client_cpu_pct', label: '  client core busy, %', better: null, digits: 0 },
  { scenario: 'throughput', key: 'proxy_core_other_pct', label: '  proxy core, other work (noise), %', better: null, digits: 0 },
  { scenario: 'throughput', key: 'client_core_other_pct', label: '  client core, other work (noise), %', better: null, digits: 0 },
  { scenario: 'idle', key: 'kib_per_conn', label: 'idle memory, KiB/conn ↓', better: 'lower', digits: 1, goal: { below: 8 } },
];

const PQ_HELLO_GOAL_NS = 5_000;
const ROUTE_LOOKUP_GOAL_NS = 1_000;

/** @param {number[]} values @returns {Stat | null} */
export function stat(values) {
  const sorted = values.filter((v) => typeof v === 'number' && Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? /** @type {number} */ (sorted[mid]) : (/** @type {number} */ (sorted[mid - 1]) + /** @type {number} */ (sorted[mid])) / 2;
  return { min: /** @type {number} */ (sorted[0]), median, max: /** @type {number} */ (sorted[sorted.length - 1]), n: sorted.length };
}

/**
 * The p-th percentile of ascending `sorted` (the value at rank ⌊p/100 × n⌋, the last for p = 100); NaN when empty.
 * @param {readonly number[]} sorted
 * @param {number} p  0 to 100
 */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return /** @type {number} */ (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]);
}

function formatNumber(value, digits) {
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** @param {Stat} s @param {number} digits */
function formatStat(s, digits) {
  const median = formatNumber(s.median, digits);
  return s.n > 1 ? `${median} [${formatNumber(s.min, digits)}–${formatNumber(s.max, digits)}]` : median;
}

function formatRatio(ratio) {
  return `${ratio >= 10 ? ratio.toFixed(1) : ratio.toFixed(2)}×`;
}

/**
 * @param {Record<string, Partial<Record<TargetName, Record<string, Stat | null>>>>} summaries  scenario → target → key → stat
 * @param {TargetName[]} columns
 * @param {Record<string, any> | null} micro
 * @param {Record<string, any> | null} multicore
 */
export function buildTable(summaries, columns, micro, multicore) {
  /** @type {{ metric: string, cells: Record<string, string>, goal: string, values: Record<string, number | null>, ratios: Record<string, number | null> }[]} */
  const rows = [];
  for (const spec of MACRO_METRICS) {
    const byTarget = summaries[spec.scenario];
    if (!byTarget) continue;
    /** @type {Record<string, number | null>} */
    const values = {};
    /** @type {Record<string, Stat | null>} */
    const stats = {};
    for (const target of columns) {
      const s = byTarget[target]?.[spec.key] ?? null;
      stats[target] = s;
      values[target] = s?.median ?? null;
    }
    if (columns.every((target) => values[target] === null)) continue;
    const peerValues = /** @type {number[]} */ (PEERS.map((peer) => values[peer]).filter((v) => typeof v === 'number' && v > 0));
    const best = spec.better === null || peerValues.length === 0 ? null : spec.better === 'higher' ? Math.max(...peerValues) : Math.min(...peerValues);
    /** @type {Record<string, string>} */
    const cells = {};
    /** @type {Record<string, number | null>} */
    const ratios = {};
    for (const target of columns) {
      const s = stats[target];
      const error = byTarget[target]?.__error;
      if (!s) {
        cells[target] = error ? 'error' : '—';
        ratios[target] = null;
        continue;
      }
      const ratio = best !== null && best > 0 ? s.median / best : null;
      ratios[target] = ratio;
      cells[target] = `${formatStat(s, spec.digits)}${ratio !== null ? ` (${formatRatio(ratio)})` : ''}`;
    }
    rows.push({ metric: spec.label, cells, values, ratios, goal: judgeGoal(spec, values) });
  }
  if (micro?.hello) {
    for (const hello of micro.hello) {
      const isPq = String(hello.name).startsWith('pq-');
      rows.push({
        metric: `hello ${hello.name.replace(/ \(.*\)$/, '')} ${hello.bytes} B: whole | 1-byte, ns ↓`,
        cells: { 'sni-router': `${formatNumber(hello.whole_ns, 0)} | ${formatNumber(hello.bytewise_ns, 0)}` },
        values: { 'sni-router': hello.whole_ns },
        ratios: {},
        goal: isPq ? `whole < ${formatNumber(PQ_HELLO_GOAL_NS, 0)} ns: ${hello.whole_ns < PQ_HELLO_GOAL_NS ? 'met' : 'SHORT'}` : '',
      });
    }
  }
  if (micro?.route) {
    const { exact, wildcard, regex } = micro.route.routes;
    for (const lookup of micro.route.lookups) {
      rows.push({
        metric: `lookup ${exact}/${wildcard}*/${regex}~: ${lookup.case}, ns ↓`,
        cells: { 'sni-router': formatNumber(lookup.ns, 0) },
        values: { 'sni-router': lookup.ns },
        ratios: {},
        goal: `< ${formatNumber(ROUTE_LOOKUP_GOAL_NS, 0)} ns: ${lookup.ns < ROUTE_LOOKUP_GOAL_NS ? 'met' : 'SHORT'}`,
      });
    }
  }
  if (multicore?.results) {
    for (const entry of multicore.results) {
      const s = entry.summary;
      rows.push({
        metric: `--workers ${entry.workers} (CPU ${entry.cpus}): conn/s | µs CPU/conn`,
        cells: {
          'sni-router': s.conn_per_s ? `${formatStat(s.conn_per_s, 0)} | ${s.cpu_us_per_conn ? formatStat(s.cpu_us_per_conn, 1) : '—'}` : 'error',
        },
        values: { 'sni-router': s.conn_per_s?.median ?? null },
        ratios: {},
        goal: '',
      });
    }
  }
  return { columns, rows };
}

/**
 * @param {MetricSpec} spec
 * @param {Record<string, number | null>} values
 */
function judgeGoal(spec, values) {
  const goal = spec.goal;
  const mine = values['sni-router'];
  if (!goal || mine === null || mine === undefined) return '';
  if ('below' in goal) return `≤ ${goal.below} KiB: ${mine <= goal.below ? 'met' : 'SHORT'} (${mine.toFixed(2)})`;
  const theirs = values[goal.vs];
  if (theirs === null || theirs === undefined || theirs <= 0) return `vs ${goal.vs}: not measured`;
  const ratio = mine / theirs;
  if (goal.atLeast !== undefined) return `≥ ${goal.atLeast.toFixed(1)}× ${goal.vs}: ${ratio >= goal.atLeast ? 'met' : 'SHORT'} (${formatRatio(ratio)})`;
  if (goal.atMost !== undefined) return `≤ ${goal.atMost.toFixed(1)}× ${goal.vs}: ${ratio <= goal.atMost ? 'met' : 'SHORT'} (${formatRatio(ratio)})`;
  return '';
}

/** @param {ReturnType<typeof buildTable>} table */
export function formatTable(table) {
  const headers = ['figure', ...table.columns, 'goal (sni-router)'];
  const body = table.rows.map((row) => [row.metric, ...table.columns.map((target) => row.cells[target] ?? ''), row.goal]);
  const widths = headers.map((header, i) => Math.max(header.length, ...body.map((cells) => (cells[i] ?? '').length)));
  const line = (/** @type {string[]} */ cells) =>
    cells.map((cell, i) => (i === 0 || i === cells.length - 1 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ').trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(headers), rule, ...body.map(line)].join('\n');
}

/**
 * Is the load generator the bottleneck? Direct (no proxy) must beat every proxy by a wide margin, or the
 * comparison says more about the client than about the proxies.
 * @param {Record<string, Partial<Record<TargetName, Record<string, Stat | null>>>>} summaries
 */
export function loadGeneratorChecks(summaries) {
  /** @type {string[]} */
  const lines = [];
  const WIDE_MARGIN = 1.3;
  const proxies = /** @type {TargetName[]} */ (['sni-router', 'sni-router-node', 'sni-router-native', 'haproxy', 'haproxy-splice', 'nginx']);
  const check = (scenario, key, unit, digits) => {
    const byTarget = summaries[scenario];
    const direct = byTarget?.direct?.[key]?.median;
    if (!byTarget || direct === undefined) return null;
    const best = proxies
      .map((p) => ({ p, v: byTarget[p]?.[key]?.median }))
      .filter((e) => typeof e.v === 'number')
      .sort((a, b) => /** @type {number} */ (b.v) - /** @type {number} */ (a.v))[0];
    if (!best) return null;
    const ratio = direct / /** @type {number} */ (best.v);
    return { ratio, text: `direct ${formatNumber(direct, digits)} ${unit} is ${formatRatio(ratio)} the fastest proxy (${best.p}, ${formatNumber(/** @type {number} */ (best.v), digits)})`, isWide: ratio >= WIDE_MARGIN };
  };
  const throughput = check('throughput', 'mb_per_s', 'MB/s', 0);
  if (throughput) {
    lines.push(
      throughput.isWide
        ? `load generator is not the bottleneck (throughput): ${throughput.text}.`
        : `WARNING (throughput): ${throughput.text}; under ${WIDE_MARGIN}×, the load generator may be the bottleneck.`,
    );
  }
  const rate = check('rate', 'conn_per_s', 'conn/s', 0);
  if (rate) {
    const clientBusy = summaries.rate?.direct?.client_cpu_pct?.median;
    const busy = clientBusy === undefined ? '' : ` (client core ${formatNumber(clientBusy, 0)}% busy with no proxy at all)`;
    lines.push(
      rate.isWide
        ? `load generator is not the bottleneck (connection rate): ${rate.text}.`
        : `connection rate: ${rate.text}: the client side (load generator + echo backend on one core, all of the ` +
            `kernel's TCP set-up and tear-down for both ends)${busy} caps what any proxy can reach on this machine, ` +
            `so compare the proxies by CPU per connection and proxy core busy, not by conn/s alone.`,
    );
  }
  return lines;
}

/** The figures compared round by round against HAProxy (copy mode): [scenario, key, label]. */
const ROUND_RATIO_METRICS = [
  ['rate', 'conn_per_s', 'conn/s ↑'],
  ['rate', 'cpu_us_per_conn', 'CPU µs/conn ↓'],
  ['rate', 'cpu_user_us_per_conn', '  user µs/conn ↓'],
  ['rate', 'cpu_sys_us_per_conn', '  sys µs/conn ↓'],
  ['throughput', 'mb_per_s', 'MB/s (8 streams) ↑'],
  ['throughput', 'cpu_s_per_gb', 'CPU s/GB ↓'],
  ['idle', 'kib_per_conn', 'KiB per idle conn ↓'],
];

/**
 * Same-round ratios: in each round (every target measured once, interleaved), figure ÷ the base target's figure of
 * that round; reported as the median of the rounds with min–max. On a shared, noisy machine the absolute figures
 * of different rounds vary by 2× while these ratios hold (DATA-PLANE.md).
 * @param {Record<string, Record<string, Record<string, any>[]>>} measurements scenario → target → per-round figures
 * @param {string} base
 * @returns {{ targets: string[], rows: { label: string, cells: Record<string, Stat | null>, medians: Record<string, Stat | null> }[] }}
 */
export function roundRatios(measurements, base = 'haproxy') {
  const targets = [...new Set(Object.values(measurements).flatMap((byTarget) => Object.keys(byTarget)))];
  const rows = ROUND_RATIO_METRICS.filter(([scenario]) => measurements[scenario]?.[base]).map(([scenario, key, label]) => {
    const byTarget = measurements[scenario] ?? {};
    const baseRounds = byTarget[base] ?? [];
    /** @type {Record<string, Stat | null>} */
    const cells = {};
    /** @type {Record<string, Stat | null>} */
    const medians = {};
    for (const target of targets) {
      const rounds = byTarget[target] ?? [];
      const ratios = rounds.map((m, i) => {
        const b = baseRounds[i];
        if (!m || !b || m.error || b.error || typeof m[key] !== 'number' || typeof b[key] !== 'number' || b[key] === 0) return null;
        return m[key] / b[key];
      });
      cells[target] = stat(/** @type {number[]} */ (ratios.filter((r) => r !== null)));
      medians[target] = stat(rounds.filter((m) => !m.error).map((m) => m[key]));
    }
    return { label, cells, medians };
  });
  return { targets, rows };
}

/** @param {ReturnType<typeof roundRatios>} ratios @param {string} base */
export function formatRoundRatios(ratios, base = 'haproxy') {
  const header = ['figure', ...ratios.targets];
  const cell = (/** @type {Stat | null} */ s, digits) => (s === null ? '—' : formatStat(s, digits));
  const lines = [
    `same-round ratio to ${base} (median [min–max] of the rounds), with the median figure`,
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
  ];
  for (const row of ratios.rows) {
    const digits = row.label.startsWith('KiB') || row.label.startsWith('CPU s') ? 2 : row.label.includes('µs') ? 1 : 0;
    lines.push(`| ${row.label} | ${ratios.targets.map((t) => `${cell(row.cells[t], 2)}× (${cell(row.medians[t] ? { ...row.medians[t], n: 1 } : null, digits)})`).join(' | ')} |`);
  }
  return lines.join('\n');
}
