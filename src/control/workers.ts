/**
 * `--workers N` / `workers: N` (N > 1): N router processes sharing the listeners through node:cluster.
 *
 *   primary   validates the config, forks the workers and hands each the config to serve (a replacement gets
 *             the config running now, not whatever the file says now); owns the reloads (SIGHUP, file watch,
 *             POST /reload: validated once here, then applied in every worker), the admin listener (metrics
 *             of all workers aggregated with prom-client's AggregatorRegistry), and shutdown. A worker that
 *             dies is logged and replaced, with a growing pause when replacements keep dying young.
 *   worker    runs the ordinary router (src/router.ts) on the config it was sent; its listeners are the
 *             primary's sockets, shared by the cluster module (connections are handed out round-robin).
 *
 * The primary runs the same run loop as one process does (src/control/run-loop.ts): signals, reloader, watch,
 * admin, drain. Every process writes the same log lines to the same stdout (the one logger factory, src/ops/log.ts,
 * in its `shared` mode: writes of whole lines capped at PIPE_BUF, never interleaved), each with its own `pid`.
 */
import { certificateWarnings } from '../config/certificate-warnings.js';
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, Registry } from 'prom-client';
import type { LoopHealth } from './admin.js';
import { describeStartError, EXIT_OK, exitAfterFlush, exitAtOnce, exitOnStartFailure, type StartFailure } from './exit.js';
import { logListening, type RunOptions, RunLoop, shutdownGraceMs, warnRestartOnly } from './run-loop.js';
import type { LoadSpec } from '../config/load-with-flags.js';
import { deepFreeze } from '../config/freeze.js';
import type { Config, RouteConfig } from '../config/types.js';
import { type BoundListener, type DataPlaneName, type RunningRouter, startRouter } from '../serve/router.js';
import { createLogger, type LogFormat, type Logger } from '../ops/log.js';
import { loopWatchdog } from '../ops/loop-watchdog.js';
import { type ConnectionCounts, ControlMetrics, countsFromJson, RouterMetrics } from '../ops/metrics.js';
import type { BackendStatus } from '../pools/health.js';
import type { ConnectionInfo } from '../data-path/connection-info.js';
import { type ConnectionPage, type ListQuery, mergePages, openBytes, pageOf } from './connection-list.js';

/** A worker answers a reload or a stats request within this, or the request fails. */
const WORKER_REPLY_TIMEOUT_MS = 10_000;
/** Replacements of workers that die within this of starting wait longer each time, up to the cap. */
const YOUNG_DEATH_MS = 5_000;
const RESTART_DELAY_CAP_MS = 5_000;
/** After the grace period, workers still draining get this long before they are killed. */
const SHUTDOWN_KILL_SLACK_MS = 5_000;
/**
 * The primary pings every serving worker this often; the answer carries the worker's event-loop lag. A worker
 * whose last answer is older than HEARTBEAT_UNHEALTHY_MS makes /healthz and /readyz say so; one silent for
 * HEARTBEAT_DEADLINE_MS is stuck (a handler that never returns, a stopped process) and is killed and replaced.
 */
export const HEARTBEAT_INTERVAL_MS = 500;
export const HEARTBEAT_UNHEALTHY_MS = 2_000;
export const HEARTBEAT_DEADLINE_MS = 5_000;
/**
 * A reload's routes go to each worker in slices, each sent once the worker has taken the previous one: one
 * message with 10,000 routes is deserialized in a single turn of the worker's loop (100–300 ms of stalled
 * connections); a slice costs a few ms, and the worker serves between slices.
 */
const ROUTES_PER_MESSAGE = 250;

type PrimaryMessage =
  | { type: 'sni-router:start'; config: Config; logFormat: LogFormat }
  | { type: 'sni-router:routes'; id: number; batch: number; routes: readonly RouteConfig[] }
  | { type: 'sni-router:reload'; id: number; batch: number; routeCount: number; config: Config }
  | { type: 'sni-router:stats'; id: number }
  | { type: 'sni-router:list'; id: number; query: ListQuery }
  | { type: 'sni-router:health'; id: number }
  | { type: 'sni-router:shutdown'; graceMs: number }
  | { type: 'sni-router:ping' };

type WorkerMessage =
  | { type: 'sni-router:waiting' }
  | { type: 'sni-router:listening'; listeners: readonly BoundListener[]; dataPlane: DataPlaneName }
  | { type: 'sni-router:start-failed'; message: string; exitCode: number }
  | { type: 'sni-router:pong'; lagSeconds: number }
  | {
      type: 'sni-router:reply';
      id: number;
      ok: boolean;
      error?: string;
      counts?: ConnectionCounts;
      listeners?: readonly BoundListener[];
      page?: ConnectionPage;
      backends?: readonly BackendStatus[];
    };

function isWorkerMessage(message: unknown): message is WorkerMessage {
  return typeof message === 'object' && message !== null && String((message as { type?: unknown }).type).startsWith('sni-router:');
}

export const isWorkerProcess = (): boolean => cluster.isWorker;

// ── primary ─────────────────────────────────────────────────────────────────────────────────────────────────

interface WorkerState {
  readonly worker: Worker;
  readonly startedAt: number;
  isReady: boolean;
  /** performance.now() of the last heartbeat answer (or of becoming ready). */
  answeredAt: number;
  lagSeconds: number;
  /** Killed for missing its heartbeat; the exit handler replaces it. */
  isStuck: boolean;
}

export interface PrimaryOptions extends RunOptions {
  /** What the workers' loggers write (the primary's own logger is the caller's). */
  readonly logFormat: LogFormat;
}

export async function runPrimary(spec: LoadSpec, config: Config, workerCount: number, logger: Logger, options: PrimaryOptions): Promise<void> {
  cluster.setupPrimary({ serialization: 'advanced' });
  const controlRegistry = new Registry();
  const controlMetrics = new ControlMetrics(controlRegistry);
  controlMetrics.workers(workerCount);
  const aggregator = new AggregatorRegistry();
  const states = new Map<number, WorkerState>();
  const pending = new Map<number, (message: WorkerMessage & { type: 'sni-router:reply' }) => void>();
  let nextRequestId = 1;
  let current = config;
  /** Start-up failed: the workers are being killed and the process exits with the failure's code. */
  let isAborting = false;
  let youngDeaths = 0;
  let firstListeners: readonly BoundListener[] | null = null;
  let dataPlane: DataPlaneName | null = null;
  /** Resolves the drain once the last worker has exited. */
  let drained: (() => void) | null = null;

  let resolveStarted!: () => void;
  let rejectStarted!: (failure: StartFailure) => void;
  const started = new Promise<void>((resolve, reject) => {
    resolveStarted = resolve;
    rejectStarted = reject;
  });

  const loop = new RunLoop({
    spec,
    config,
    logger,
    metrics: controlMetrics,
    run: options,
    apply: async (next) => {
      const previous = current;
      // A worker forked from now on starts on the new config (on the ports the native workers already share).
      current = dataPlane === 'native' && firstListeners !== null ? withBoundPorts(next, firstListeners) : next;
      const batch = nextRequestId++; // slices of another (failed) reload are dropped by the worker
      const sendTo = async (worker: Worker): Promise<WorkerMessage & { type: 'sni-router:reply' }> => {
        for (let start = 0; start < next.routes.length; start += ROUTES_PER_MESSAGE) {
          await request(worker, { type: 'sni-router:routes', id: nextRequestId++, batch, routes: next.routes.slice(start, start + ROUTES_PER_MESSAGE) });
        }
        return request(worker, { type: 'sni-router:reload', id: nextRequestId++, batch, routeCount: next.routes.length, config: { ...next, routes: [] } });
      };
      const replies = await Promise.all(liveWorkers().map(sendTo));
      const failed = replies.find((reply) => !reply.ok);
      if (failed) {
        current = previous;
        throw new Error(failed.error ?? 'a worker could not apply the config');
      }
      logListening(replies[0]?.listeners ?? [], logger, new Set(previous.listen.map((listen) => listen.label)));
      warnRestartOnly(previous, next, logger);
    },
  });

  const readyCount = (): number => [...states.values()].filter((state) => state.isReady).length;
  const killAll = (): void => {
    for (const state of states.values()) state.worker.process.kill('SIGKILL');
  };

  const fork = (): void => {
    const worker = cluster.fork();
    const state: WorkerState = { worker, startedAt: Date.now(), isReady: false, answeredAt: performance.now(), lagSeconds: 0, isStuck: false };
    states.set(worker.id, state);
    worker.on('message', (message: unknown) => {
      if (!isWorkerMessage(message)) return; // prom-client's own aggregation messages
      switch (message.type) {
        case 'sni-router:waiting':
          // Its message handler is in place (messages sent before that are lost): hand it the config, or, when a
          // signal came while it was starting, the shutdown it missed.
          if (loop.isStopping) send(worker, { type: 'sni-router:shutdown', graceMs: 0 });
          else send(worker, { type: 'sni-router:start', config: current, logFormat: options.logFormat });
          return;
        case 'sni-router:pong':
          state.answeredAt = performance.now();
          state.lagSeconds = message.lagSeconds;
          return;
        case 'sni-router:listening':
          state.isReady = true;
          state.answeredAt = performance.now();
          logger.info({ worker: worker.id, worker_pid: worker.process.pid }, 'worker started');
          if (firstListeners === null) {
            firstListeners = message.listeners;
            dataPlane = message.dataPlane;
            // Native workers open their own SO_REUSEPORT listeners: a port 0 must become the first worker's port,
            // or each would listen on a port of its own. The others start once it is known.
            if (dataPlane === 'native') current = withBoundPorts(current, message.listeners);
            for (let i = 1; i < workerCount; i++) fork();
          }
          if (readyCount() === workerCount) resolveStarted();
          return;
        case 'sni-router:start-failed':
          rejectStarted({ message: message.message, exitCode: message.exitCode });
          return;
        case 'sni-router:reply':
          pending.get(message.id)?.(message);
          pending.delete(message.id);
          return;
      }
    });
  };

  const request = (worker: Worker, message: PrimaryMessage & { id: number }): Promise<WorkerMessage & { type: 'sni-router:reply' }> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(message.id);
        reject(new Error(`worker ${worker.process.pid} did not answer within ${WORKER_REPLY_TIMEOUT_MS} ms`));
      }, WORKER_REPLY_TIMEOUT_MS);
      pending.set(message.id, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      send(worker, message);
    });

  const liveWorkers = (): Worker[] => [...states.values()].filter((state) => state.worker.isConnected()).map((state) => state.worker);

  cluster.on('exit', (worker, code, signal) => {
    const state = states.get(worker.id);
    states.delete(worker.id);
    if (isAborting) return;
    if (loop.isStopping) {
      if (states.size === 0) drained?.();
      return;
    }
    if (firstListeners === null) {
      // Still starting: a worker that could not listen said why (start-failed); one that crashed did not.
      rejectStarted({ message: `a worker exited while starting (code ${String(code)}, signal ${String(signal)})`, exitCode: 1 });
      return;
    }
    // A stuck worker was killed on purpose: not a young death that should slow its replacement down.
    const isYoung = state !== undefined && !state.isStuck && Date.now() - state.startedAt < YOUNG_DEATH_MS;
    youngDeaths = isYoung ? youngDeaths + 1 : 0;
    const delayMs = youngDeaths === 0 ? 0 : Math.min(RESTART_DELAY_CAP_MS, 100 * 2 ** youngDeaths);
    logger.warn({ worker: worker.id, worker_pid: worker.process.pid, code, signal, restart_in_ms: delayMs }, 'worker died; starting a replacement');
    logger.flush();
    controlMetrics.workerRestarted();
    setTimeout(() => {
      if (!loop.isStopping) fork();
    }, delayMs);
  });

  const heartbeat = setInterval(() => {
    if (loop.isStopping || isAborting) return;
    const now = performance.now();
    for (const state of states.values()) {
      if (!state.isReady || state.isStuck) continue;
      const silentMs = now - state.answeredAt;
      if (silentMs > HEARTBEAT_DEADLINE_MS) {
        state.isStuck = true;
        logger.error({ worker: state.worker.id, worker_pid: state.worker.process.pid, silent_ms: Math.round(silentMs) }, 'worker stopped answering; killing it and starting a replacement');
        logger.flush();
        state.worker.process.kill('SIGKILL');
        continue;
      }
      send(state.worker, { type: 'sni-router:ping' });
    }
  }, HEARTBEAT_INTERVAL_MS);
  heartbeat.unref();
  const ownWatchdog = loopWatchdog();
  const loopHealth = (): LoopHealth => {
    const now = performance.now();
    let lagSeconds = ownWatchdog.lagSeconds;
    const problems: string[] = [];
    if (!ownWatchdog.isHealthy) problems.push(`primary event loop lag ${lagSeconds.toFixed(3)} s`);
    for (const state of states.values()) {
      if (!state.isReady) continue;
      const silentMs = now - state.answeredAt;
      lagSeconds = Math.max(lagSeconds, state.lagSeconds, silentMs > HEARTBEAT_UNHEALTHY_MS ? silentMs / 1000 : 0);
      if (state.isStuck || silentMs > HEARTBEAT_UNHEALTHY_MS) problems.push(`worker ${state.worker.process.pid} has not answered for ${Math.round(silentMs)} ms`);
      else if (state.lagSeconds * 1000 >= ownWatchdog.unhealthyLagMs) problems.push(`worker ${state.worker.process.pid} event loop lag ${state.lagSeconds.toFixed(3)} s`);
    }
    return problems.length === 0 ? { isHealthy: true, lagSeconds } : { isHealthy: false, lagSeconds, detail: problems.join('; ') };
  };

  // Signal handlers before the first fork: a signal during start-up drains whatever has started.
  loop.handleSignals({
    drain: (graceMs) =>
      new Promise<void>((resolve) => {
        if (states.size === 0) return resolve();
        const killTimer = setTimeout(killAll, graceMs + SHUTDOWN_KILL_SLACK_MS);
        drained = () => {
          clearTimeout(killTimer);
          resolve();
        };
        for (const state of states.values()) send(state.worker, { type: 'sni-router:shutdown', graceMs });
      }),
    shutdownFields: () => ({ workers: states.size }),
    abort: killAll,
  });

  const abortStart = (failure: StartFailure): void => {
    isAborting = true;
    killAll();
    exitOnStartFailure(logger, failure);
  };
  fork(); // the first; the others once it listens (see 'sni-router:listening')
  try {
    await started;
  } catch (failure) {
    abortStart(failure as StartFailure);
    return;
  }
  for (const warning of certificateWarnings(config)) logger.warn({ file: warning.file, line: warning.line }, warning.message);

  try {
    await loop.startAdmin({
      isReady: () => !loop.isStopping && readyCount() === workerCount,
      loopHealth,
      connections: async () => {
        const replies = await Promise.all(liveWorkers().map((worker) => request(worker, { type: 'sni-router:stats', id: nextRequestId++ })));
        const total: ConnectionCounts = { active: 0, accepted: 0, activeByListener: {}, closedByReason: {}, bytesIn: 0, bytesOut: 0 };
        for (const reply of replies) {
          const counts = reply.counts;
          if (!counts) continue;
          total.active += counts.active;
          total.accepted += counts.accepted;
          total.bytesIn = (total.bytesIn ?? 0) + (counts.bytesIn ?? 0);
          total.bytesOut = (total.bytesOut ?? 0) + (counts.bytesOut ?? 0);
          for (const [key, value] of Object.entries(counts.activeByListener)) total.activeByListener[key] = (total.activeByListener[key] ?? 0) + value;
          for (const [key, value] of Object.entries(counts.closedByReason)) total.closedByReason[key] = (total.closedByReason[key] ?? 0) + value;
        }
        return { ...total, workers: replies.length, draining: loop.isStopping };
      },
      connectionList: async (query) => {
        // Each worker gives the first offset + limit of its own matches; the page is cut from them merged.
        const asked: ListQuery = { offset: 0, limit: query.offset + query.limit, filter: query.filter };
        const workers = liveWorkers();
        const replies = await Promise.all(workers.map((worker) => request(worker, { type: 'sni-router:list', id: nextRequestId++, query: asked })));
        const pages = replies.map((reply, index): ConnectionPage<ConnectionInfo & { worker: number }> => {
          const page = reply.page ?? { total: 0, matched: 0, offset: 0, limit: 0, connections: [] };
          const pid = workers[index]?.process.pid ?? 0;
          return { ...page, connections: page.connections.map((connection) => ({ ...connection, worker: pid })) };
        });
        return mergePages(pages, query);
      },
      backendStatuses: async () => {
        const replies = await Promise.all(liveWorkers().map((worker) => request(worker, { type: 'sni-router:health', id: nextRequestId++ })));
        return mergeBackendStatuses(replies.map((reply) => reply.backends ?? []));
      },
      serving: () => ({ listeners: firstListeners ?? [], dataPlane, workers: workerCount }),
      metrics: async () => {
        const workers = (await aggregator.clusterMetrics()).trimEnd();
        const own = (await controlRegistry.metrics()).trimEnd();
        return { contentType: controlRegistry.contentType, body: `${workers}\n\n${own}\n` };
      },
    });
  } catch (error) {
    abortStart(describeStartError(error));
    return;
  }
  loop.started(firstListeners ?? [], { workers: workerCount, data_plane: dataPlane });
}

/**
 * One backend's health across workers (each has its own passive health): down when any worker has it down (as
 * sni_router_backend_up is aggregated), since the earliest of those; up since the latest change; connections summed.
 */
export function mergeBackendStatuses(perWorker: ReadonlyArray<readonly BackendStatus[]>): BackendStatus[] {
  const merged = new Map<string, BackendStatus>();
  for (const statuses of perWorker) {
    for (const status of statuses) {
      const known = merged.get(status.backend);
      if (known === undefined) {
        merged.set(status.backend, status);
        continue;
      }
      const active = known.active + status.active;
      let chosen = known;
      if (status.state === 'down' && known.state !== 'down') chosen = status;
      else if (status.state === known.state && (status.state === 'down' ? status.since < known.since : status.since > known.since)) chosen = status;
      merged.set(status.backend, { ...chosen, active });
    }
  }
  return [...merged.values()];
}

function send(worker: Worker, message: PrimaryMessage): void {
  if (worker.isConnected()) worker.send(message);
}

// ── worker ──────────────────────────────────────────────────────────────────────────────────────────────────

/** Waits for the primary's config, serves it, and follows the primary's reloads and shutdown. */
export function runWorker(): void {
  /** The routes of the reload being sent, slice by slice (sni-router:routes), until its sni-router:reload. */
  let incomingRoutes: RouteConfig[] = [];
  let incomingBatch = -1;
  let router: RunningRouter | null = null;
  let metrics: RouterMetrics | null = null;
  let logger: Logger | null = null;
  let isStopping = false;
  let graceMs = 0;

  const reply = (message: WorkerMessage): void => {
    if (process.connected) process.send?.(message);
  };

  const shutdown = (signal: NodeJS.Signals | 'primary', ms: number): void => {
    if (isStopping) {
      if (signal !== 'primary' && logger) exitAtOnce(logger, signal);
      return;
    }
    isStopping = true;
    if (!router || !logger) process.exit(EXIT_OK);
    const log = logger;
    router.close(ms).then(
      () => exitAfterFlush(log, EXIT_OK),
      () => exitAfterFlush(log, EXIT_OK),
    );
  };

  const start = async (config: Config, logFormat: LogFormat): Promise<void> => {
    logger = createLogger({ level: config.logLevel, format: logFormat, shared: true });
    graceMs = shutdownGraceMs(config);
    if (config.admin !== null) {
      const registry = new Registry();
      metrics = new RouterMetrics(registry);
      AggregatorRegistry.setRegistries([registry]);
      new AggregatorRegistry(); // installs the worker's side of prom-client's aggregation protocol
    }
    try {
      router = await startRouter(config, { logger, ...(metrics ? { metrics } : {}) });
      const running = router;
      metrics?.watchBackends(() => running.backendStates());
      metrics?.dataPlane(running.dataPlane);
      metrics?.watchCertificates(() => running.certificateExpiries());
    } catch (error) {
      reply({ type: 'sni-router:start-failed', ...describeStartError(error) });
      exitAfterFlush(logger, 1);
      return;
    }
    loopWatchdog(); // from now on: start-up's own compile is not lag
    reply({ type: 'sni-router:listening', listeners: router.listeners, dataPlane: router.dataPlane });
  };

  process.on('message', (raw: unknown) => {
    const message = raw as PrimaryMessage;
    switch (message?.type) {
      case 'sni-router:start':
        void start(deepFreeze(message.config), message.logFormat);
        return;
      case 'sni-router:routes': {
        const { id, batch, routes } = message;
        // Frozen on the next turn, so the slice that just arrived is not frozen in the same turn as it was read.
        setImmediate(() => {
          if (batch !== incomingBatch) {
            incomingBatch = batch;
            incomingRoutes = [];
          }
          for (const route of routes) incomingRoutes.push(deepFreeze(route));
          reply({ type: 'sni-router:reply', id, ok: true });
        });
        return;
      }
      case 'sni-router:reload': {
        const routes = message.batch === incomingBatch ? incomingRoutes : [];
        incomingRoutes = [];
        incomingBatch = -1;
        if (routes.length !== message.routeCount) {
          return reply({ type: 'sni-router:reply', id: message.id, ok: false, error: `the worker received ${routes.length} of the config's ${message.routeCount} routes` });
        }
        const next = deepFreeze({ ...message.config, routes: Object.freeze(routes) });
        const running = router;
        if (!running) return reply({ type: 'sni-router:reply', id: message.id, ok: false, error: 'worker not started' });
        running.reload(next).then(
          () => {
            graceMs = shutdownGraceMs(next);
            if (logger) logger.level = next.logLevel;
            reply({ type: 'sni-router:reply', id: message.id, ok: true, listeners: running.listeners });
          },
          (error: unknown) => reply({ type: 'sni-router:reply', id: message.id, ok: false, error: error instanceof Error ? error.message : String(error) }),
        );
        return;
      }
      case 'sni-router:stats': {
        const id = message.id;
        const active = router?.activeConnections ?? 0;
        const open = openBytes(router?.connectionInfos() ?? []);
        void (metrics ? metrics.connectionCounts() : Promise.resolve(countsFromJson([]))).then((counts) =>
          reply({
            type: 'sni-router:reply',
            id,
            ok: true,
            counts: { ...counts, active, bytesIn: (counts.bytesIn ?? 0) + open.bytesIn, bytesOut: (counts.bytesOut ?? 0) + open.bytesOut },
          }),
        );
        return;
      }
      case 'sni-router:list':
        reply({ type: 'sni-router:reply', id: message.id, ok: true, page: pageOf(router?.connectionInfos() ?? [], message.query) });
        return;
      case 'sni-router:health':
        reply({ type: 'sni-router:reply', id: message.id, ok: true, backends: router?.backendStatuses() ?? [] });
        return;
      case 'sni-router:shutdown':
        shutdown('primary', message.graceMs);
        return;
      case 'sni-router:ping':
        reply({ type: 'sni-router:pong', lagSeconds: loopWatchdog().lagSeconds });
        return;
    }
  });
  // The primary coordinates reloads; a hang-up sent to the whole process group must not kill a worker.
  process.on('SIGHUP', () => {});
  // SIGINT/SIGTERM reach workers too (Ctrl-C, a container runtime signalling every process): drain as told.
  process.on('SIGINT', (signal: NodeJS.Signals) => shutdown(signal, graceMs));
  process.on('SIGTERM', (signal: NodeJS.Signals) => shutdown(signal, graceMs));
  // The primary is gone (killed): finish what is open, then go too.
  process.on('disconnect', () => shutdown('primary', graceMs));
  reply({ type: 'sni-router:waiting' });
}

/** `config` with every port 0 replaced by the port the first worker got for that listener. */
function withBoundPorts(config: Config, bound: readonly BoundListener[]): Config {
  if (!config.listen.some((address) => address.port === 0)) return config;
  const listen = config.listen.map((address) => {
    const port = bound.find((listener) => listener.label === address.label)?.port;
    return address.port === 0 && port !== undefined ? { ...address, port } : address;
  });
  return deepFreeze({ ...config, listen });
}
