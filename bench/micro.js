/**
 * Micro benchmarks of the pure parts, run by bench/run.js in a child process pinned to the proxy's core (or on
 * its own: `node bench/micro.js [--quick]`; needs `npm run build`):
 *
 *   - ClientHello reading: ns per hello for every fixture in fixtures/hellos/ and for a ~1.8 KB post-quantum
 *     hello, fed whole and in 1-byte pieces (a fresh ClientHelloReader per hello, as the router does).
 *   - Route lookup: ns per lookup in a table of 10,000 exact names, 1,000 wildcards and 50 regexes, built through
 *     loadConfig from a generated YAML file exactly as the router builds it, for an exact hit, a wildcard hit,
 *     a regex hit (the last regex) and a miss (falls through everything to the default pool).
 *
 * Prints one JSON object on stdout. Each figure is the median of several timed samples after a warm-up.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildPostQuantumHello } from './lib/pq-hello.js';
import { BUILD_DIR, DIST_DIR, HELLOS_DIR } from './lib/paths.js';

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
const SAMPLES = values.quick ? 3 : 7;
const SAMPLE_MS = values.quick ? 20 : 60;
const WARMUP_MS = values.quick ? 30 : 150;
const MAX_HELLO_BYTES = 64 * 1024;
const EXACT_ROUTES = 10_000;
const WILDCARD_ROUTES = 1_000;
const REGEX_ROUTES = 50;
const PROBE_NAMES = 1_024;

const { ClientHelloReader } = await import(path.join(DIST_DIR, 'wire', 'client-hello.js'));
const { RouteTable } = await import(path.join(DIST_DIR, 'routing', 'route-table.js'));
const { loadConfig } = await import(path.join(DIST_DIR, 'config', 'load.js'));

/** Keeps results observable so the optimizer cannot drop the work. */
let sink = 0;

/**
 * Times `op` (which does `opsPerCall` operations per call): warm-up, calibrate a batch to ~SAMPLE_MS, then
 * SAMPLES batches. Returns ns per operation: median and min.
 * @param {() => void} op
 */
function timeOp(op, opsPerCall = 1) {
  const warmUntil = performance.now() + WARMUP_MS;
  let calls = 0;
  while (performance.now() < warmUntil) {
    op();
    calls += 1;
  }
  const perCallMs = WARMUP_MS / Math.max(1, calls);
  const batch = Math.max(1, Math.round(SAMPLE_MS / perCallMs));
  /** @type {number[]} */
  const samples = [];
  for (let s = 0; s < SAMPLES; s += 1) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < batch; i += 1) op();
    samples.push(Number(process.hrtime.bigint() - start) / (batch * opsPerCall));
  }
  samples.sort((a, b) => a - b);
  return { ns: round(samples[samples.length >> 1] ?? 0), min_ns: round(samples[0] ?? 0) };
}

function round(value) {
  return Math.round(value * 10) / 10;
}

// ---- ClientHello reading -------------------------------------------------------------------------------------

/** @returns {{ name: string, bytes: Buffer, sni: string | null }[]} */
function loadHellos() {
  const index = JSON.parse(readFileSync(path.join(HELLOS_DIR, 'index.json'), 'utf8'));
  const hellos = index.map((entry) => ({
    name: entry.name,
    bytes: readFileSync(path.join(HELLOS_DIR, entry.file)),
    sni: entry.sni,
  }));
  hellos.push({ name: 'pq-chrome (built)', bytes: buildPostQuantumHello('capture.example.com'), sni: 'capture.example.com' });
  return hellos;
}

/** Runs every case for a while before any is timed, so the first one is not timed on colder code. */
function warmAll(ops) {
  const until = performance.now() + WARMUP_MS * 2;
  while (performance.now() < until) for (const op of ops) op();
}

function helloBench() {
  const options = { maxHelloBytes: MAX_HELLO_BYTES };
  const hellos = loadHellos();
  warmAll(
    hellos.flatMap(({ bytes }) => {
      const pieces = Array.from(bytes, (_, i) => bytes.subarray(i, i + 1));
      return [
        () => (sink += new ClientHelloReader(options).push(bytes).kind.length),
        () => {
          const reader = new ClientHelloReader(options);
          for (const piece of pieces) if (reader.push(piece).kind !== 'need_more') break;
        },
      ];
    }),
  );
  return hellos.map(({ name, bytes, sni }) => {
    // Check the answer first: a benchmark of the error path would be meaningless.
    const check = new ClientHelloReader(options).push(bytes);
    if (check.kind !== 'hello' || check.hello.sni !== sni) {
      throw new Error(`${name}: expected a hello with sni ${sni}, got ${JSON.stringify(check)}`);
    }
    const pieces = Array.from(bytes, (_, i) => bytes.subarray(i, i + 1));
    const whole = timeOp(() => {
      const result = new ClientHelloReader(options).push(bytes);
      sink += result.kind.length;
    });
    const byteByByte = timeOp(() => {
      const reader = new ClientHelloReader(options);
      let result = null;
      for (let i = 0; i < pieces.length; i += 1) {
        result = reader.push(/** @type {Buffer} */ (pieces[i]));
        if (result.kind !== 'need_more') break;
      }
      sink += result === null ? 0 : result.kind.length;
    });
    return { name, bytes: bytes.length, whole_ns: whole.ns, whole_min_ns: whole.min_ns, bytewise_ns: byteByByte.ns, bytewise_min_ns: byteByByte.min_ns };
  });
}

// ---- route lookup -----------------------------------------------------------------------------------------------

const exactName = (i) => `host-${String(i).padStart(5, '0')}.bench.example.com`;
const wildcardSuffix = (i) => `w${String(i).padStart(4, '0')}.bench.example.org`;
// Each regex starts with its own literal (^r42-api-), as per-customer patterns do, so the table looks it up by that
// prefix instead of testing all 50 (check limits regexes without one: see docs/configuration.md, "Regex routes").
const regexSource = (i) => `^r${String(i).padStart(2, '0')}-api-[0-9]+\\.bench\\.example\\.net$`;

function writeRoutesYaml() {
  const lines = ['listen: ["127.0.0.1:9"]', 'proxy_protocol: none', 'routes:'];
  for (let i = 0; i < EXACT_ROUTES; i += 1) lines.push(`  ${exactName(i)}: [127.0.0.1:9]`);
  for (let i = 0; i < WILDCARD_ROUTES; i += 1) lines.push(`  "*.${wildcardSuffix(i)}": [127.0.0.1:9]`);
  // In a YAML double-quoted string a backslash is written twice.
  for (let i = 0; i < REGEX_ROUTES; i += 1) lines.push(`  "~${regexSource(i).replaceAll('\\', '\\\\')}": [127.0.0.1:9]`);
  lines.push('default: [127.0.0.1:9]', '');
  const dir = path.join(BUILD_DIR, 'micro');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'routes.yaml');
  writeFileSync(file, lines.join('\n'));
  return file;
}

function routeBench() {
  const file = writeRoutesYaml();
  const loadStart = performance.now();
  const loaded = loadConfig({ configFile: file });
  const loadMs = performance.now() - loadStart;
  if (!loaded.ok) throw new Error(`generated routes do not load: ${JSON.stringify(loaded.problems.slice(0, 3))}`);
  const { config } = loaded;
  const compileStart = performance.now();
  const table = RouteTable.compile(config.routes, config.defaultPool);
  const compileMs = performance.now() - compileStart;

  const pick = (count, make) => Array.from({ length: PROBE_NAMES }, (_, i) => make((i * 7919) % count, i));
  const cases = [
    { case: 'exact hit', names: pick(EXACT_ROUTES, (r) => exactName(r)), how: 'exact' },
    { case: 'wildcard hit', names: pick(WILDCARD_ROUTES, (r, i) => `x${i}.${wildcardSuffix(r)}`), how: 'wildcard' },
    { case: 'regex hit (last of 50)', names: pick(1, (_r, i) => `r${String(REGEX_ROUTES - 1).padStart(2, "0")}-api-${i}.bench.example.net`), how: 'regex' },
    { case: 'miss → default', names: pick(1, (_r, i) => `nothing-${i}.elsewhere.example`), how: 'default' },
    { case: 'exact hit, upper case + dot', names: pick(EXACT_ROUTES, (r) => `${exactName(r).toUpperCase()}.`), how: 'exact' },
  ];
  warmAll(cases.map(({ names }) => () => names.forEach((name) => (sink += table.lookup(name) === null ? 0 : 1))));
  const results = cases.map(({ case: name, names, how }) => {
    for (const probe of names) {
      const match = table.lookup(probe);
      if (match?.how !== how) throw new Error(`route lookup ${probe}: expected ${how}, got ${match?.how ?? 'null'}`);
    }
    const timed = timeOp(() => {
      for (let i = 0; i < names.length; i += 1) sink += table.lookup(names[i]) === null ? 0 : 1;
    }, names.length);
    return { case: name, ns: timed.ns, min_ns: timed.min_ns };
  });
  return {
    routes: { exact: EXACT_ROUTES, wildcard: WILDCARD_ROUTES, regex: REGEX_ROUTES },
    load_config_ms: round(loadMs),
    compile_ms: round(compileMs),
    lookups: results,
  };
}

const output = { hello: helloBench(), route: routeBench(), sink };
process.stdout.write(`${JSON.stringify(output)}\n`);
