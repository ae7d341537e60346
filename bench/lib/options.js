/** Command-line options of bench/run.js. */
import { parseArgs } from 'node:util';
import { DEFAULT_TARGETS, TARGET_NAMES } from './targets.js';

export const SCENARIO_NAMES = /** @type {const} */ (['rate', 'throughput', 'idle', 'syscalls', 'micro', 'multicore']);

export const USAGE = `usage: npm run bench -- [options]      (or: node bench/run.js [options] after npm run build)

  --quick               short runs (smoke test: ~1 minute)
  --runs N              repeat every macro measurement N times; report min/median/max (default 1)
  --only LIST           scenarios, comma-separated: ${SCENARIO_NAMES.join(',')} (default: all)
  --targets LIST        targets, comma-separated: ${TARGET_NAMES.join(',')} (default: all but
                        sni-router-native)
  --profile             also run sni-router under the rate and throughput loads with node --cpu-prof
                        (into bench/.build/profiles) and print the top self-time frames
  --hello FILE|pq       ClientHello bytes to send (default fixtures/hellos/curl.bin; pq = a built 1.8 KB
                        post-quantum hello)
  --conc N              concurrent connect/close loops in the rate scenario (default 64)
  --warmup-ms N         warm-up before each measured window (default 3000; quick 500): sni-router's
                        CPU per connection keeps falling for ~3 s after start (JIT), the peers' does not
  --duration-ms N       measured window of rate and throughput (default 5000; quick 1000)
  --idle-conns N        connections held in the idle scenario (default 9000; quick 2000)
  --router-log-level L  sni-router --log-level (default info: one access line per connection, to a file)
  --router-node-args=S  extra node flags for sni-router, space-separated; note the '=' when S starts with
                        '--' (e.g. --router-node-args="--max-semi-space-size=64")
  --out FILE            where to write the JSON (default bench/results/<timestamp>.json)
  --max-minutes N       hard cap on the whole run; past it everything is stopped (default 20)
  -h, --help

environment: SNI_BENCH_HAPROXY, SNI_BENCH_NGINX  paths of the peers (default /usr/sbin/haproxy, /usr/sbin/nginx)
`;

/**
 * @typedef {object} BenchOptions
 * @property {boolean} help
 * @property {boolean} quick
 * @property {number} runs
 * @property {ReadonlyArray<(typeof SCENARIO_NAMES)[number]>} scenarios
 * @property {ReadonlyArray<import('./targets.js').TargetName>} targets
 * @property {boolean} profile
 * @property {string | null} hello
 * @property {number} conc
 * @property {number} warmupMs
 * @property {number} durationMs
 * @property {number} idleConns
 * @property {number} idleSettleMs
 * @property {string} routerLogLevel
 * @property {string[]} routerNodeArgs
 * @property {string | null} out
 * @property {number} maxMinutes
 */

function positiveInteger(name, text, fallback) {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`--${name} must be a positive integer, got '${text}'`);
  return value;
}

/**
 * @template {string} T
 * @param {string} name
 * @param {string | undefined} text
 * @param {readonly T[]} allowed
 * @returns {T[]}
 */
function list(name, text, allowed) {
  if (text === undefined) return [...allowed];
  const items = text.split(',').map((item) => item.trim()).filter((item) => item !== '');
  for (const item of items) {
    if (!allowed.includes(/** @type {T} */ (item))) throw new Error(`--${name}: unknown '${item}' (choose from ${allowed.join(', ')})`);
  }
  // Keep the canonical order whatever order they were given in.
  return allowed.filter((item) => items.includes(item));
}

/** @returns {BenchOptions} */
export function parseOptions(argv = process.argv.slice(2)) {
  const { values } = parseArgs({
    args: argv,
    options: {
      help: { type: 'boolean', short: 'h', default: false },
      quick: { type: 'boolean', default: false },
      runs: { type: 'string' },
      only: { type: 'string' },
      targets: { type: 'string' },
      profile: { type: 'boolean', default: false },
      hello: { type: 'string' },
      conc: { type: 'string' },
      'warmup-ms': { type: 'string' },
      'duration-ms': { type: 'string' },
      'idle-conns': { type: 'string' },
      'router-log-level': { type: 'string' },
      'router-node-args': { type: 'string' },
      out: { type: 'string' },
      'max-minutes': { type: 'string' },
    },
  });
  const quick = values.quick ?? false;
  const idleConns = positiveInteger('idle-conns', values['idle-conns'], quick ? 2_000 : 9_000);
  if (idleConns > 9_500) throw new Error('--idle-conns above 9500 would not fit the 20,000 open-file limit (two sockets each)');
  return {
    help: values.help ?? false,
    quick,
    runs: positiveInteger('runs', values.runs, 1),
    scenarios: list('only', values.only, SCENARIO_NAMES),
    targets: values.targets === undefined ? [...DEFAULT_TARGETS] : list('targets', values.targets, TARGET_NAMES),
    profile: values.profile ?? false,
    hello: values.hello ?? null,
    conc: positiveInteger('conc', values.conc, 64),
    warmupMs: positiveInteger('warmup-ms', values['warmup-ms'], quick ? 500 : 3_000),
    durationMs: positiveInteger('duration-ms', values['duration-ms'], quick ? 1_000 : 5_000),
    idleConns,
    idleSettleMs: quick ? 300 : 1_000,
    routerLogLevel: values['router-log-level'] ?? 'info',
    routerNodeArgs: (values['router-node-args'] ?? '').split(' ').filter((arg) => arg !== ''),
    out: values.out ?? null,
    maxMinutes: positiveInteger('max-minutes', values['max-minutes'], 20),
  };
}
