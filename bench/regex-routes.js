/**
 * Regex routes under hostile names, and what big regex configs cost to build and to miss
 * (`node bench/regex-routes.js [--quick]`; needs `npm run build`):
 *
 *   - hostile name: ms for one lookup of `a…ab` against `~^(a+)+$` beside an exact route, with V8's backtracking
 *     engine (how routes ran before, flag `i`) and with the route table as built now (linear-time engine);
 *   - build: ms for RouteTable.compile of N regex routes, anchored (`^api-N-…`: the prefix Map) and unanchored
 *     (`api-N-…`: the alternation tree), compiled in full (V8 compiles regexes on first use; the table forces it);
 *   - miss: ms for one lookup of a 253-byte name that matches none of N regexes, anchored and unanchored
 *     (unanchored ones past 1,000 pattern characters are refused by check; measured anyway to show why), and at
 *     that limit with nested quantifiers against 253 a's (the worst case check accepts).
 *
 * Prints min/median/max of 5 runs (3 with --quick) for each. Not a test: nothing here is asserted.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DIST_DIR } from './lib/paths.js';

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
const RUNS = values.quick ? 3 : 5;

const { RouteTable } = await import(path.join(DIST_DIR, 'routing', 'route-table.js'));
const { classifyRouteName } = await import(path.join(DIST_DIR, 'config', 'route-grammar.js'));

const POOL = { backends: [{ host: '127.0.0.1', port: 1, label: '127.0.0.1:1', weight: 1 }], proxyProtocol: 'none', balance: 'round-robin', health: null };
function route(name) {
  const classified = classifyRouteName(name);
  if (!classified.ok) throw new Error(`${name} ${classified.reason}`);
  return { name, kind: classified.kind, pattern: classified.pattern, pool: POOL, terminate: null, source: null, alpn: [], fallback: null };
}

function stats(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const f = (x) => Number(x.toFixed(x < 1 ? 4 : 1));
  return { min: f(sorted[0]), median: f(sorted[Math.floor(sorted.length / 2)]), max: f(sorted[sorted.length - 1]) };
}
function time(fn) {
  const samples = [];
  for (let run = 0; run < RUNS; run++) {
    const start = performance.now();
    fn();
    samples.push(performance.now() - start);
  }
  return stats(samples);
}

const results = { runs: RUNS, hostile_name_ms: {}, build_ms: {}, miss_ms: {} };

const backtracking = new RegExp('^(a+)+$', 'i');
const table = RouteTable.compile([route('exact.test'), route('~^(a+)+$')], null);
for (const count of values.quick ? [20, 22] : [20, 22, 24]) {
  const name = `${'a'.repeat(count)}b`;
  results.hostile_name_ms[`before (backtracking), ${count} a's`] = time(() => backtracking.test(name));
}
// A label holds at most 63 bytes (longer names never reach a regex), so 62 a's and a b is the longest such label.
for (const count of [24, 26, 30, 62]) {
  const name = `${'a'.repeat(count)}b`;
  results.hostile_name_ms[`now (linear), ${count} a's`] = time(() => table.lookup(name));
}

const worstName = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`;
for (const count of values.quick ? [1_000, 10_000] : [1_000, 10_000, 60_000]) {
  const anchored = Array.from({ length: count }, (_, i) => route(`~^api-${i}-[0-9]+\\.example\\.net$`));
  const unanchored = Array.from({ length: count }, (_, i) => route(`~api-${i}-[0-9]+\\.example\\.net$`));
  results.build_ms[`${count} anchored`] = time(() => RouteTable.compile(anchored, null));
  let built;
  results.build_ms[`${count} unanchored`] = time(() => (built = RouteTable.compile(unanchored, null)));
  results.miss_ms[`${count} unanchored, 253-byte name`] = time(() => built.lookup(worstName));
  const anchoredTable = RouteTable.compile(anchored, null);
  results.miss_ms[`${count} anchored, 253-byte name`] = time(() => anchoredTable.lookup(worstName));
}

// At the limit check enforces on unanchored regexes (1,000 characters), with nested quantifiers and all-a names.
const { MAX_UNANCHORED_REGEX_TOTAL_LENGTH } = await import(path.join(DIST_DIR, 'config', 'route-regex.js'));
const nested = (i) => `(a+)+b${String(i).padStart(4, '0')}x+y`;
const atLimit = Array.from({ length: Math.floor(MAX_UNANCHORED_REGEX_TOTAL_LENGTH / nested(0).length) }, (_, i) => route(`~${nested(i)}`));
const limitTable = RouteTable.compile(atLimit, null);
const allA = `${'a'.repeat(63)}.${'a'.repeat(63)}.${'a'.repeat(63)}.${'a'.repeat(61)}`;
results.miss_ms[`${atLimit.length} unanchored (a+)+b… (${MAX_UNANCHORED_REGEX_TOTAL_LENGTH} chars, the limit), 253 a's`] = time(() => limitTable.lookup(allA));

console.log(JSON.stringify(results, null, 2));
