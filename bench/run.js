/**
 * The benchmark (issue 5): sni-router side by side with HAProxy and nginx, and "direct" (no proxy) as the
 * ceiling, on this machine, in one run. `npm run bench` builds first; `node bench/run.js --help` for options.
 *
 *   1. compile the C load generator and echo backend into bench/.build (gcc)
 *   2. per scenario, per run, per target: fresh echo backend + fresh target, pinned (proxy on CPU 1, the client
 *      side on the rest), load, /proc samples at the edges of the measured window, stop both
 *   3. micro benchmarks (bench/micro.js) in a child pinned to the proxy's CPU; multi-core when --workers exists
 *   4. one table (figures, ratio to the best peer, issue 5's goals), checks, JSON into bench/results/
 *   5. --profile: sni-router again under the rate and throughput loads with --cpu-prof; top self-time frames
 *
 * Every phase has a deadline; every child is stopped by PID on exit, error or Ctrl-C.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { killAllNow, startChild } from './lib/children.js';
import { formatProfileSummary, summarizeProfileFile } from './lib/cpu-profile.js';
import { CPU_COUNT, describeMachine, pinSelf, planCpus } from './lib/machine.js';
import { buildNativeTools } from './lib/native.js';
import { parseOptions, USAGE } from './lib/options.js';
import { CLI_JS, DEFAULT_HELLO, DIST_DIR, PROFILES_DIR, REPO_DIR, RESULTS_DIR, BENCH_DIR, BUILD_DIR } from './lib/paths.js';
import { writePostQuantumHello } from './lib/pq-hello.js';
import { MACRO_METRICS, buildTable, formatRoundRatios, formatTable, loadGeneratorChecks, roundRatios, stat } from './lib/report.js';
import { EXPECTED_HEADER, measureIdle, measureRate, measureSyscalls, measureThroughput } from './lib/scenarios.js';
import { hasStrace } from './lib/syscalls.js';
import { checkTargets, clearLeftovers, routerHasWorkers } from './lib/targets.js';

const MICRO_TIMEOUT_MS = 240_000;
/** Share of the measured window the proxy's CPU spent on work other than the proxy, above which a run is flagged. */
const NOISE_PCT = 10;

/** @typedef {import('./lib/targets.js').TargetName} TargetName */

function log(message) {
  process.stderr.write(`${message}\n`);
}

function rel(file) {
  return path.relative(process.cwd(), file) || file;
}

async function main() {
  let options;
  try {
    options = parseOptions();
  } catch (error) {
    process.stderr.write(`bench: ${/** @type {Error} */ (error).message}\n\n${USAGE}`);
    return 1;
  }
  if (options.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const startedAt = new Date();
  const deadline = setTimeout(() => {
    log(`bench: the whole run passed --max-minutes ${options.maxMinutes}; stopping everything`);
    killAllNow();
    process.exit(1);
  }, options.maxMinutes * 60_000);
  deadline.unref();

  if (!existsSync(CLI_JS)) {
    log(`bench: ${rel(CLI_JS)} is missing: run npm run build (npm run bench does it for you)`);
    return 1;
  }
  const cpus = planCpus();
  pinSelf(cpus.clientCpus);
  const tools = buildNativeTools();
  clearLeftovers();
  const availability = checkTargets();
  const machine = describeMachine(availability);
  const hello = await resolveHello(options.hello);

  /** @type {TargetName[]} */
  const targets = options.targets.filter((name) => availability[name].isAvailable);
  /** @type {Record<string, string>} */
  const skipped = {};
  for (const name of options.targets) {
    const reason = availability[name].reason;
    if (!availability[name].isAvailable && reason !== null) skipped[name] = reason;
  }

  log(`sni-router benchmark — ${startedAt.toISOString()}`);
  log(`machine: ${machine.cpu_model}, ${machine.nproc} CPUs, ${machine.os}, load ${machine.loadavg_at_start.join(' ')}`);
  log(`versions: node ${machine.node}, sni-router ${machine.sni_router ?? '-'}, haproxy ${machine.haproxy ?? '-'}, nginx ${machine.nginx ?? '-'}`);
  log(`pinning: ${cpus.note}`);
  log(`hello: ${rel(hello.file)} (${hello.bytes} B, sni ${hello.sni}); targets: ${targets.join(', ')}`);
  for (const [name, reason] of Object.entries(skipped)) log(`skipping ${name}: ${reason}`);

  /** @type {import('./lib/scenarios.js').Context} */
  const ctx = {
    tools,
    helloFile: hello.file,
    sni: hello.sni,
    clientCpus: cpus.clientCpus,
    proxyCpus: cpus.proxyCpus,
    routerLogLevel: options.routerLogLevel,
    routerNodeArgs: options.routerNodeArgs,
    load: {
      warmupMs: options.warmupMs,
      durationMs: options.durationMs,
      conc: options.conc,
      streams: 8,
      chunk: 64 * 1024,
      idleConns: options.idleConns,
      idleSettleMs: options.idleSettleMs,
    },
  };

  /** @type {Record<string, Record<string, Record<string, any>[]>>} scenario → target → measurements */
  const measurements = {};
  /** @type {Record<string, string>} */
  const scenarioSkips = {};
  const macro = /** @type {const} */ ([
    ['rate', measureRate],
    ['throughput', measureThroughput],
    ['idle', measureIdle],
  ]);
  for (const [scenario, measure] of macro) {
    if (!options.scenarios.includes(scenario)) continue;
    const scenarioTargets = targets.filter((name) => scenario !== 'idle' || name !== 'direct');
    measurements[scenario] = {};
    for (let run = 1; run <= options.runs; run += 1) {
      for (const name of scenarioTargets) {
        const label = `${scenario}${options.runs > 1 ? ` run ${run}/${options.runs}` : ''} ${name}`;
        let figures;
        try {
          figures = await measure(ctx, name);
        } catch (error) {
          figures = { error: /** @type {Error} */ (error).message };
        }
        (measurements[scenario][name] ??= []).push(figures);
        log(`  ${label.padEnd(28)} ${describeFigures(scenario, figures)}`);
      }
    }
  }

  // The syscall pass: once per target, after the timed rounds (strace slows what it watches).
  /** @type {Record<string, Record<string, any>>} */
  const syscalls = {};
  if (options.scenarios.includes('syscalls')) {
    if (!hasStrace()) scenarioSkips.syscalls = 'strace is not installed (/usr/bin/strace)';
    else {
      for (const name of targets.filter((t) => t !== 'direct')) {
        try {
          syscalls[name] = await measureSyscalls(ctx, name);
        } catch (error) {
          syscalls[name] = { error: /** @type {Error} */ (error).message };
        }
        const s = syscalls[name];
        log(`  syscalls ${name.padEnd(19)} ${s.syscalls_per_conn == null ? `ERROR: ${s.error}` : `${s.syscalls_per_conn.toFixed(1)} per conn over ${s.connections} conns; ${JSON.stringify(s.top_per_conn)}`}`);
      }
    }
  }

  /** @type {Record<string, any> | null} */
  let micro = null;
  if (options.scenarios.includes('micro')) {
    if (!targets.includes('sni-router')) {
      scenarioSkips.micro = 'sni-router is not among the targets';
    } else {
      log('  micro: hello parsing and route lookup ...');
      try {
        micro = await runMicro(options.quick, cpus.proxyCpus);
      } catch (error) {
        scenarioSkips.micro = `failed: ${/** @type {Error} */ (error).message}`;
      }
    }
  }

  /** @type {Record<string, any> | null} */
  let multicore = null;
  if (options.scenarios.includes('multicore')) {
    if (!targets.includes('sni-router')) {
      scenarioSkips.multicore = 'sni-router is not among the targets';
    } else if (!routerHasWorkers()) {
      scenarioSkips.multicore = '`node dist/cli.js --help` does not list --workers yet (issue 5 adds it); runs as soon as it does';
    } else {
      multicore = await runMulticore(ctx, options.runs);
    }
  }
  for (const [scenario, reason] of Object.entries(scenarioSkips)) log(`  ${scenario}: skipped: ${reason}`);

  /** @type {Record<string, any>[]} */
  const profiles = [];
  if (options.profile) {
    if (!targets.includes('sni-router')) {
      log('  profile: skipped: sni-router is not among the targets');
    } else {
      profiles.push(...(await runProfiles(ctx, options, startedAt)));
    }
  }

  // ---- report ----------------------------------------------------------------------------------------------
  const summaries = summarize(measurements);
  const columns = targets.filter((name) => Object.values(summaries).some((byTarget) => byTarget[name] !== undefined));
  const table = buildTable(summaries, columns.length > 0 ? columns : targets, micro, multicore);
  const checks = [...loadGeneratorChecks(summaries), ...sanityChecks(measurements)];
  const ratios = roundRatios(measurements);
  for (const [name, reason] of Object.entries(skipped)) checks.push(`${name} skipped: ${reason}`);
  for (const [scenario, reason] of Object.entries(scenarioSkips)) checks.push(`${scenario} skipped: ${reason}`);

  const out = options.out ?? path.join(RESULTS_DIR, `${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  const finishedAt = new Date();
  const json = {
    version: 1,
    started_at: startedAt.toISOString(),
    finished_at: finishedAt.toISOString(),
    duration_s: Math.round((finishedAt.getTime() - startedAt.getTime()) / 100) / 10,
    argv: process.argv.slice(2),
    options,
    machine,
    pinning: cpus,
    hello: { file: path.relative(REPO_DIR, hello.file), bytes: hello.bytes, sni: hello.sni },
    targets: availability,
    summaries,
    measurements,
    micro,
    multicore,
    profiles,
    checks,
    table,
    round_ratios: ratios,
    syscalls,
  };
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(json, null, 2)}\n`);

  const print = (text = '') => process.stdout.write(`${text}\n`);
  print();
  print(`sni-router benchmark, ${startedAt.toISOString()} (${json.duration_s} s${options.quick ? ', --quick' : ''}${options.runs > 1 ? `, ${options.runs} runs: median [min–max]` : ''})`);
  print(`${machine.cpu_model}, ${machine.nproc} CPUs, ${machine.os}; node ${machine.node}, haproxy ${machine.haproxy ?? '-'}, nginx ${machine.nginx ?? '-'}`);
  print(`${cpus.note}; hello ${path.basename(hello.file)} (${hello.bytes} B); rate: ${options.conc} loops; ` +
    `windows ${options.warmupMs} ms warm-up + ${options.durationMs} ms; idle: ${options.idleConns} conns`);
  print('(ratio) = figure ÷ the best of HAProxy and nginx in this run; ↑ higher is better, ↓ lower is better. ' +
    `sni-router runs with --log-level ${options.routerLogLevel}${options.routerLogLevel === 'info' ? ' (one access line per connection, to a file)' : ''}` +
    `${options.routerNodeArgs.length > 0 ? ` and runs with node ${options.routerNodeArgs.join(' ')}` : ''}; the peers log nothing.`);
  print();
  print(formatTable(table));
  print();
  if (Object.values(measurements).some((byTarget) => byTarget.haproxy)) {
    print(formatRoundRatios(ratios));
    print();
  }
  if (Object.keys(syscalls).length > 0) {
    print('syscalls per connection (strace -c -f, separate short pass; the top calls per connection):');
    for (const [name, s] of Object.entries(syscalls)) {
      print(`  ${name.padEnd(16)} ${s.syscalls_per_conn == null ? `error: ${s.error}` : `${s.syscalls_per_conn.toFixed(1)}  ${Object.entries(s.top_per_conn).map(([call, n]) => `${call} ${n}`).join(', ')}`}`);
    }
    print();
  }
  for (const line of checks) print(`- ${line}`);
  for (const profile of profiles) {
    print();
    print(profile.error ? `profile (${profile.load}): ${profile.error}` : formatProfileSummary(profile.summary, `profile of sni-router under the ${profile.load} load (${rel(profile.file)})`));
  }
  print();
  print(`JSON: ${rel(out)}`);
  return 0;
}

/** @param {string | null} choice */
async function resolveHello(choice) {
  const { readClientHello } = await import(path.join(DIST_DIR, 'wire', 'client-hello.js'));
  const { readFileSync } = await import('node:fs');
  const file = choice === 'pq'
    ? writePostQuantumHello(path.join(BUILD_DIR, 'hellos'), 'capture.example.com')
    : path.resolve(choice ?? DEFAULT_HELLO);
  const bytes = readFileSync(file);
  const result = readClientHello(bytes, { maxHelloBytes: 64 * 1024 });
  if (result.kind !== 'hello' || !result.hello.sni) {
    throw new Error(`${file} is not a ClientHello with a server name (${result.kind}); the benchmark routes on it`);
  }
  if (result.hello.byteLength !== bytes.length) {
    throw new Error(`${file} holds ${bytes.length - result.hello.byteLength} bytes after the hello; give the hello alone`);
  }
  return { file, bytes: bytes.length, sni: /** @type {string} */ (result.hello.sni) };
}

/** One progress line. */
function describeFigures(scenario, figures) {
  if (figures.error && !(figures.conn_per_s || figures.mb_per_s || figures.kib_per_conn)) return `ERROR: ${figures.error}`;
  const n = (v, d = 0) => (typeof v === 'number' ? v.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : '-');
  const warn = figures.error ? `  (ERROR: ${figures.error})` : figures.warning ? `  (warning: ${figures.warning})` : '';
  switch (scenario) {
    case 'rate':
      return `${n(figures.conn_per_s)} conn/s, p50 ${n(figures.p50_ms, 2)} ms, p99 ${n(figures.p99_ms, 2)} ms, ${n(figures.cpu_us_per_conn, 1)} µs CPU/conn, proxy ${n(figures.proxy_cpu_pct)}% / client ${n(figures.client_cpu_pct)}% busy, noise ${n(figures.proxy_core_other_pct)}% / ${n(figures.client_core_other_pct)}%${warn}`;
    case 'throughput':
      return `${n(figures.mb_per_s)} MB/s, proxy ${n(figures.proxy_cpu_pct)}% / client ${n(figures.client_cpu_pct)}% busy, noise ${n(figures.proxy_core_other_pct)}% / ${n(figures.client_core_other_pct)}%${warn}`;
    case 'idle':
      return figures.kib_per_conn === null ? figures.note ?? '-' : `${n(figures.kib_per_conn, 1)} KiB/conn (RSS ${n(figures.rss_before_kib)} → ${n(figures.rss_after_kib)} KiB, ${figures.open} conns)${warn}`;
    default:
      return '';
  }
}

/**
 * scenario → target → metric → {min, median, max}; measurements with an error are left out (and listed in the
 * checks), so a failed run never passes for a slow one.
 * @param {Record<string, Record<string, Record<string, any>[]>>} measurements
 */
function summarize(measurements) {
  /** @type {Record<string, Record<string, Record<string, any>>>} */
  const summaries = {};
  for (const [scenario, byTarget] of Object.entries(measurements)) {
    summaries[scenario] = {};
    for (const [target, list] of Object.entries(byTarget)) {
      const good = list.filter((m) => !m.error);
      /** @type {Record<string, any>} */
      const summary = {};
      for (const spec of MACRO_METRICS.filter((m) => m.scenario === scenario)) {
        summary[spec.key] = stat(good.map((m) => m[spec.key]));
      }
      if (good.length === 0) summary.__error = list[0]?.error ?? 'no measurement';
      summaries[scenario][target] = summary;
    }
  }
  return summaries;
}

/**
 * Errors; connections the echo backend saw without the expected PROXY header; failed or mismatched echoes; and
 * sni-router access lines with a close reason other than the expected ones.
 */
function sanityChecks(measurements) {
  const lines = [];
  let connections = 0;
  let wrongHeaders = 0;
  let failedCycles = 0;
  /** @type {string[]} */
  const noisy = [];
  for (const [scenario, byTarget] of Object.entries(measurements)) {
    for (const [target, list] of Object.entries(byTarget)) {
      list.forEach((m, i) => {
        const which = list.length > 1 ? ` (run ${i + 1})` : '';
        if (m.error) lines.push(`ERROR ${scenario} ${target}${which}: ${m.error} — left out of the table`);
        if (m.warning) lines.push(`warning ${scenario} ${target}${which}: ${m.warning}`);
        const headers = m.backend_headers;
        if (headers) {
          connections += headers.accepted;
          wrongHeaders += headers.accepted - (headers[EXPECTED_HEADER[target]] ?? 0);
        }
        failedCycles += m.loadgen?.errors_measured ?? 0;
        // With no proxy, the proxy's core is not ours to judge (the client side's kernel work may run there).
        const proxyNoise = target === 'direct' ? 0 : (m.proxy_core_other_pct ?? 0);
        const clientNoise = m.client_core_other_pct ?? 0;
        if (proxyNoise > NOISE_PCT || clientNoise > NOISE_PCT) {
          noisy.push(`${scenario} ${target}${which} (proxy core ${Math.round(proxyNoise)}%, client core ${Math.round(clientNoise)}%)`);
        }
        const reasons = m.target_notes?.access_log ?? {};
        // done; client_reset when the generator closes mid-stream or its readiness probe; shutdown when stopped.
        const odd = Object.entries(reasons).filter(([reason]) => !['done', 'client_reset', 'shutdown'].includes(reason));
        if (odd.length > 0) lines.push(`warning ${scenario} ${target}${which}: access-log reasons ${JSON.stringify(Object.fromEntries(odd))}`);
      });
    }
  }
  if (connections > 0) {
    lines.push(
      wrongHeaders === 0
        ? `PROXY headers: all ${connections.toLocaleString('en-US')} connections the echo backend served carried the expected header (v2 from sni-router and HAProxy, v1 from nginx 1.22, none for direct).`
        : `WARNING: ${wrongHeaders} of ${connections} backend connections lacked the expected PROXY header.`,
    );
  }
  if (noisy.length > 0) {
    lines.push(
      `noise: a core did work for others (other processes, ksoftirqd, hypervisor steal) above ${NOISE_PCT}% of ` +
        `the window in: ${noisy.join(', ')}. Those figures are pessimistic; --runs N and the median help.`,
    );
  }
  lines.push(
    failedCycles === 0
      ? 'echoes: every measured connect/hello/echo cycle got back exactly the bytes it sent.'
      : `WARNING: ${failedCycles} measured cycles failed or got different bytes back (see the JSON).`,
  );
  return lines;
}

/** Runs bench/micro.js in a child on the proxy's CPU (the quiet one). */
async function runMicro(quick, cpus) {
  const child = startChild('micro', process.execPath, [path.join(BENCH_DIR, 'micro.js'), ...(quick ? ['--quick'] : [])], { cpus, cwd: REPO_DIR });
  try {
    const match = await child.waitForLine(/^\{.*\}$/, MICRO_TIMEOUT_MS);
    const status = await child.exited;
    if (status.code !== 0) throw new Error(`micro.js exited with ${status.code}: ${child.stderrText()}`);
    return JSON.parse(match[0]);
  } finally {
    await child.stop(1_000, 'SIGKILL');
  }
}

/**
 * The connection-rate run with `--workers N` for N = 1..cores. Workers get CPUs 1..N (CPU 0 too once N reaches
 * the core count, where they share it with the client side).
 * @param {import('./lib/scenarios.js').Context} ctx
 */
async function runMulticore(ctx, runs) {
  const cores = CPU_COUNT;
  const results = [];
  for (let workers = 1; workers <= cores; workers += 1) {
    const cpuList = ctx.proxyCpus === null ? null : workers >= cores ? `0-${cores - 1}` : workers === 1 ? '1' : `1-${workers}`;
    const list = [];
    for (let run = 1; run <= runs; run += 1) {
      let figures;
      try {
        figures = await measureRate(ctx, 'sni-router', { workers, proxyCpus: cpuList });
      } catch (error) {
        figures = { error: /** @type {Error} */ (error).message };
      }
      list.push(figures);
      log(`  multicore --workers ${workers} ${describeFigures('rate', figures)}`);
    }
    const good = list.filter((m) => !m.error);
    results.push({
      workers,
      cpus: cpuList ?? 'unpinned',
      measurements: list,
      summary: { conn_per_s: stat(good.map((m) => m.conn_per_s)), cpu_us_per_conn: stat(good.map((m) => m.cpu_us_per_conn)) },
    });
  }
  return { results };
}

/**
 * sni-router under the rate and throughput loads with `node --cpu-prof`; one .cpuprofile per load, summarized.
 * @param {import('./lib/scenarios.js').Context} ctx
 * @param {import('./lib/options.js').BenchOptions} options
 * @param {Date} startedAt
 */
async function runProfiles(ctx, options, startedAt) {
  const loads = options.scenarios.filter((s) => s === 'rate' || s === 'throughput');
  const chosen = loads.length > 0 ? loads : ['rate', 'throughput'];
  const results = [];
  for (const load of chosen) {
    const dir = path.join(PROFILES_DIR, `${startedAt.toISOString().replace(/[:.]/g, '-')}-${load}`);
    mkdirSync(dir, { recursive: true });
    log(`  profile: sni-router under the ${load} load (--cpu-prof) ...`);
    try {
      const measure = load === 'rate' ? measureRate : measureThroughput;
      const figures = await measure(ctx, 'sni-router', { profileDir: dir });
      log(`  profile ${load.padEnd(20)} ${describeFigures(load, figures)} (profiled: slower than unprofiled)`);
      const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(dir, f));
      if (files.length === 0) throw new Error(`no .cpuprofile written into ${rel(dir)} (did the router exit cleanly on SIGTERM?)`);
      for (const file of files) {
        results.push({ load, file: path.relative(REPO_DIR, file), figures, summary: summarizeProfileFile(file, { top: 15, root: REPO_DIR }) });
      }
    } catch (error) {
      results.push({ load, error: /** @type {Error} */ (error).message });
    }
  }
  return results;
}

main().then(
  (code) => {
    killAllNow();
    process.exit(code);
  },
  (error) => {
    log(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    killAllNow();
    process.exit(1);
  },
);
