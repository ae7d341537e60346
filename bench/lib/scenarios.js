/**
 * One measurement of one target in one scenario. Each starts a fresh echo backend and a fresh target, runs the
 * load generator, samples the target's /proc figures at the edges of the measured window, and stops both.
 *
 *   rate        connect → hello + 100 B → echo of both → close, `conc` loops; conn/s, p50/p99, CPU per conn
 *   throughput  8 streams of 64 KiB writes, echoed; MB/s and the proxy's CPU use
 *   idle        N connections held open past the hello; the proxy's RSS growth per connection
 */
import { startEchoBackend } from './echo-backend.js';
import { runIdle, runLoad } from './loadgen.js';
import { cpuBusySeconds, treeCpuSeconds, treeCpuSplit, treeRssKiB } from './proc.js';
import { attachStrace } from './syscalls.js';
import { startTarget } from './targets.js';

/**
 * @typedef {object} Context
 * @property {{ loadgen: string, echoBackend: string }} tools
 * @property {string} helloFile
 * @property {string} sni
 * @property {string | null} clientCpus   load generator + echo backend
 * @property {string | null} proxyCpus
 * @property {string} routerLogLevel
 * @property {readonly string[]} routerNodeArgs
 * @property {{ warmupMs: number, durationMs: number, conc: number, streams: number, chunk: number,
 *              idleConns: number, idleSettleMs: number }} load
 *
 * @typedef {{ profileDir?: string | null, workers?: number | null, proxyCpus?: string | null }} TargetExtras
 */

const IDLE_OPEN_TIMEOUT_MS = 60_000;
/** A short connection-rate run before the idle baseline, so that code and pools are warm in every target. */
const IDLE_WARMUP_MS = 500;
/** Measured cycles that may fail before a figure is reported as an error rather than a number. */
const MAX_ERROR_SHARE = 0.01;

/** Which PROXY header each target is expected to send (nginx 1.22 can only send v1). */
export const EXPECTED_HEADER = { direct: 'no_header', 'sni-router': 'proxy_v2', 'sni-router-node': 'proxy_v2', 'sni-router-native': 'proxy_v2', haproxy: 'proxy_v2', 'haproxy-splice': 'proxy_v2', nginx: 'proxy_v1' };

/**
 * @param {Context} ctx
 * @param {import('./targets.js').TargetName} name
 * @param {TargetExtras} extras
 * @param {(target: import('./targets.js').RunningTarget, backend: import('./echo-backend.js').EchoBackend) => Promise<Record<string, any>>} body
 * @returns {Promise<Record<string, any>>}
 */
async function withTarget(ctx, name, extras, body) {
  const backend = await startEchoBackend(ctx.tools.echoBackend, ctx.clientCpus);
  /** @type {import('./targets.js').RunningTarget | null} */
  let target = null;
  try {
    target = await startTarget(name, {
      backendPort: backend.port,
      sni: ctx.sni,
      cpus: extras.proxyCpus === undefined ? ctx.proxyCpus : extras.proxyCpus,
      logLevel: ctx.routerLogLevel,
      nodeArgs: ctx.routerNodeArgs,
      profileDir: extras.profileDir ?? null,
      workers: extras.workers ?? null,
    });
    const figures = await body(target, backend);
    const notes = await target.stop();
    target = null;
    const headers = await backend.stop();
    const expected = /** @type {keyof NonNullable<typeof headers>} */ (EXPECTED_HEADER[name]);
    if (headers !== null && headers[expected] === 0) {
      figures.warning = `the echo backend saw no ${expected} connections (${JSON.stringify(headers)})`;
    }
    return { ...figures, backend_headers: headers, target_notes: notes };
  } finally {
    await target?.stop();
    await backend.stop();
  }
}

function cpuSample(pid) {
  return pid === null ? null : treeCpuSeconds(pid);
}

/**
 * /proc figures at one edge of the measured window.
 * @typedef {{ busy: number, steal: number } | null} CoreTimes
 * @typedef {{ user: number, sys: number } | null} CpuSplit  user and system seconds of the target's tree, apart
 * @typedef {{ at: number, target: number | null, targetSplit: CpuSplit, backend: number | null, core: CoreTimes,
 *             clientCore: CoreTimes }} Mark
 * @returns {Mark}
 */
function mark(target, backend, proxyCpus, clientCpus) {
  return {
    at: performance.now(),
    target: cpuSample(target.pid),
    targetSplit: target.pid === null ? null : treeCpuSplit(target.pid),
    backend: cpuSample(backend.pid),
    core: proxyCpus === null ? null : cpuBusySeconds(proxyCpus),
    clientCore: clientCpus === null ? null : cpuBusySeconds(clientCpus),
  };
}

/**
 * CPU figures over the window between two marks: the proxy's use, the client side's, and how much of the
 * proxy's CPU went to anything else (other processes, ksoftirqd, the hypervisor's steal): the noise indicator.
 * @param {Mark | undefined} from
 * @param {Mark | undefined} to
 * @param {number} fallbackSeconds
 * @param {number} loadgenCpuSeconds
 */
function windowCpu(from, to, fallbackSeconds, loadgenCpuSeconds) {
  const wall = from && to ? (to.at - from.at) / 1000 : fallbackSeconds;
  const targetCpu = from?.target != null && to?.target != null ? to.target - from.target : null;
  const backendCpu = from?.backend != null && to?.backend != null ? to.backend - from.backend : null;
  const coreBusy = from?.core && to?.core ? to.core.busy - from.core.busy : null;
  const coreSteal = from?.core && to?.core ? to.core.steal - from.core.steal : null;
  const clientBusy = from?.clientCore && to?.clientCore ? to.clientCore.busy - from.clientCore.busy : null;
  const pct = (/** @type {number | null} */ seconds) => (seconds === null || wall <= 0 ? null : (seconds / wall) * 100);
  const clientCpu = backendCpu === null ? null : loadgenCpuSeconds + backendCpu;
  const targetUser = from?.targetSplit && to?.targetSplit ? to.targetSplit.user - from.targetSplit.user : null;
  const targetSys = from?.targetSplit && to?.targetSplit ? to.targetSplit.sys - from.targetSplit.sys : null;
  return {
    targetCpu,
    targetUser,
    targetSys,
    proxy_cpu_pct: pct(targetCpu),
    client_cpu_pct: pct(clientCpu),
    // Only meaningful with a proxy on that core (direct leaves it to whoever else runs there).
    proxy_core_other_pct: coreBusy === null || targetCpu === null ? null : Math.max(0, /** @type {number} */ (pct(coreBusy - targetCpu))),
    proxy_core_steal_pct: pct(coreSteal),
    // With no proxy (direct), the proxy's core is idle; the client side's own kernel work may land there too.
    client_core_other_pct: clientBusy === null || clientCpu === null ? null : Math.max(0, /** @type {number} */ (pct(clientBusy - clientCpu))),
  };
}

/**
 * One load-generator run over the warm-up and the measured window, with /proc marked at the window's edges: its
 * result and the CPU figures over the window.
 * @param {Context} ctx
 * @param {TargetExtras} extras
 * @param {import('./targets.js').RunningTarget} target
 * @param {import('./echo-backend.js').EchoBackend} backend
 * @param {'rate' | 'stream'} mode
 * @param {string[]} extraArgs
 */
async function runMeasuredLoad(ctx, extras, target, backend, mode, extraArgs) {
  const proxyCpus = extras.proxyCpus === undefined ? ctx.proxyCpus : extras.proxyCpus;
  /** @type {Record<string, Mark>} */
  const marks = {};
  const result = await runLoad(ctx.tools.loadgen, mode, {
    port: target.port,
    helloFile: ctx.helloFile,
    cpus: ctx.clientCpus,
    warmupMs: ctx.load.warmupMs,
    durationMs: ctx.load.durationMs,
    extraArgs,
    onMarker: (marker) => {
      marks[marker] = mark(target, backend, proxyCpus, ctx.clientCpus);
    },
  });
  return { result, window: windowCpu(marks.WARMED, marks.MEASURED, result.seconds, result.loadgen_cpu_s) };
}

function errorOf(result, count) {
  const errors = result.errors_measured ?? 0;
  if (count === 0) return `no cycle completed (${result.first_error || 'no error reported'})`;
  if (errors > MAX_ERROR_SHARE * (count + errors)) return `${errors} of ${count + errors} cycles failed (${result.first_error})`;
  return null;
}

/**
 * @param {Context} ctx
 * @param {import('./targets.js').TargetName} name
 * @param {TargetExtras} [extras]
 */
export function measureRate(ctx, name, extras = {}) {
  return withTarget(ctx, name, extras, async (target, backend) => {
    const extraArgs = ['--conc', String(ctx.load.conc), '--payload', '100'];
    const { result, window } = await runMeasuredLoad(ctx, extras, target, backend, 'rate', extraArgs);
    const conns = result.conns ?? 0;
    const { targetCpu, targetUser, targetSys, ...cpu } = window;
    return {
      error: errorOf(result, conns),
      conn_per_s: result.conn_per_s,
      p50_ms: result.p50_us / 1000,
      p99_ms: result.p99_us / 1000,
      cpu_us_per_conn: targetCpu !== null && conns > 0 ? (targetCpu / conns) * 1e6 : null,
      cpu_user_us_per_conn: targetUser !== null && conns > 0 ? (targetUser / conns) * 1e6 : null,
      cpu_sys_us_per_conn: targetSys !== null && conns > 0 ? (targetSys / conns) * 1e6 : null,
      ...cpu,
      loadgen: result,
    };
  });
}

/**
 * @param {Context} ctx
 * @param {import('./targets.js').TargetName} name
 * @param {TargetExtras} [extras]
 */
export function measureThroughput(ctx, name, extras = {}) {
  return withTarget(ctx, name, extras, async (target, backend) => {
    const extraArgs = ['--streams', String(ctx.load.streams), '--chunk', String(ctx.load.chunk)];
    const { result, window } = await runMeasuredLoad(ctx, extras, target, backend, 'stream', extraArgs);
    const { targetCpu, targetUser: _user, targetSys: _sys, ...cpu } = window;
    const isComplete = result.streams_alive === ctx.load.streams && result.bytes > 0;
    return {
      error: isComplete ? null : `${result.streams_alive} of ${ctx.load.streams} streams alive (${result.first_error})`,
      mb_per_s: result.mb_per_s,
      cpu_s_per_gb: targetCpu !== null && result.bytes > 0 ? targetCpu / (result.bytes / 1e9) : null,
      ...cpu,
      loadgen: result,
    };
  });
}

/**
 * @param {Context} ctx
 * @param {import('./targets.js').TargetName} name
 */
export function measureIdle(ctx, name) {
  return withTarget(ctx, name, {}, async (target) => {
    if (target.pid === null) return { error: null, kib_per_conn: null, note: 'no proxy: nothing to measure' };
    // Warm every target the same way, then let it settle, then take the baseline.
    await runLoad(ctx.tools.loadgen, 'rate', {
      port: target.port,
      helloFile: ctx.helloFile,
      cpus: ctx.clientCpus,
      warmupMs: 0,
      durationMs: IDLE_WARMUP_MS,
      extraArgs: ['--conc', '8'],
    });
    await sleep(ctx.load.idleSettleMs);
    const pid = target.pid;
    const before = treeRssKiB(pid);
    let after = /** @type {number | null} */ (null);
    let open = 0;
    const result = await runIdle(ctx.tools.loadgen, {
      port: target.port,
      helloFile: ctx.helloFile,
      cpus: ctx.clientCpus,
      conns: ctx.load.idleConns,
      openTimeoutMs: IDLE_OPEN_TIMEOUT_MS,
      whileHeld: async (count) => {
        open = count;
        await sleep(ctx.load.idleSettleMs);
        after = treeRssKiB(pid);
      },
    });
    const isComplete = open === ctx.load.idleConns && result.dropped === 0;
    return {
      error: isComplete ? null : `${open} of ${ctx.load.idleConns} connections open, ${result.dropped} dropped (${result.first_error})`,
      kib_per_conn: before !== null && after !== null && open > 0 ? (after - before) / open : null,
      rss_before_kib: before,
      rss_after_kib: after,
      open,
      open_ms: result.open_ms,
      loadgen: result,
    };
  });
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The syscall pass: a short rate load (8 loops) with strace attached to the target; calls per connection the
 * echo backend served. Not a speed: strace slows the target.
 * @param {Context} ctx
 * @param {import('./targets.js').TargetName} name
 */
export async function measureSyscalls(ctx, name) {
  let counts = /** @type {import('./syscalls.js').StraceCounts | null} */ (null);
  const figures = await withTarget(ctx, name, {}, async (target) => {
    if (target.pid === null) return { error: 'no proxy process' };
    const strace = await attachStrace(target.pid);
    let result;
    try {
      result = await runLoad(ctx.tools.loadgen, 'rate', {
        port: target.port,
        helloFile: ctx.helloFile,
        cpus: ctx.clientCpus,
        warmupMs: 200,
        durationMs: 1500,
        extraArgs: ['--conc', '8', '--payload', '100'],
        onMarker: () => {},
      });
    } finally {
      counts = await strace.stop();
    }
    return { error: (result.conns ?? 0) === 0 ? 'no cycle completed under strace' : null, loadgen: result };
  });
  const served = figures.backend_headers?.accepted ?? 0;
  const top = counts ? Object.entries(counts.by_syscall).sort((a, b) => b[1] - a[1]).slice(0, 6) : [];
  return {
    ...figures,
    connections: served,
    syscalls_per_conn: counts && served > 0 ? counts.total / served : null,
    top_per_conn: served > 0 ? Object.fromEntries(top.map(([call, n]) => [call, Math.round((n / served) * 10) / 10])) : {},
  };
}
