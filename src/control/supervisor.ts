/**
 * Run mode in one process (no --workers): start the router, then supervise it until a signal ends it.
 *
 *   SIGHUP, the config file changing (src/config-watch.ts), POST /reload   → Reloader (src/reload.ts)
 *   SIGTERM / SIGINT   stop accepting; open connections get `shutdown_grace` to finish, the rest are closed
 *                      (reason shutdown); exit 0. A second one exits at once with 128 + the signal's number.
 *
 * The cluster primary (src/workers.ts) does the same with the router in its workers; the helpers shared by both
 * live here.
 */
import { certificateWarnings } from '../config/certificate-warnings.js';
import { writeSync } from 'node:fs';
import { constants } from 'node:os';
import pino from 'pino';
import { Registry } from 'prom-client';
import { type AdminServer, startAdmin } from './admin.js';
import { loadWithFlags, type LoadSpec } from '../config/load-with-flags.js';
import { ConfigLoaderThread } from './config-loader-thread.js';
import { type Config, DEFAULT_SHUTDOWN_GRACE_MS } from '../config/types.js';
import { type ConfigWatcher, watchConfigFile } from '../ops/config-watch.js';
import { ListenError, SniRouterError } from '../ops/errors.js';
import type { Logger } from '../ops/log.js';
import { loopWatchdog } from '../ops/loop-watchdog.js';
import { ControlMetrics, RouterMetrics } from '../ops/metrics.js';
import { Reloader } from './reload.js';
import { type BoundListener, type RunningRouter, startRouter } from '../serve/router.js';

export const EXIT_OK = 0;
export const EXIT_BAD_CONFIG = 1;
export const EXIT_LISTEN_FAILED = 2;
/**
 * A bug: an exception nothing caught. Distinct from 1 (bad config), which the shipped systemd unit does not
 * restart (RestartPreventExitStatus=1); this one it restarts. 70 is EX_SOFTWARE of sysexits.h.
 */
export const EXIT_INTERNAL_ERROR = 70;
/** If the log cannot be flushed (stdout gone), exit anyway after this long. */
const FLUSH_TIMEOUT_MS = 2_000;
/**
 * The logger buffers up to 4 KiB before writing (src/log.ts), so on a quiet router an access line could wait
 * indefinitely for others to push it out. Flushing this often bounds that wait and costs nothing when busy.
 */
export const LOG_FLUSH_INTERVAL_MS = 1_000;

export interface RunOptions {
  /** Watch the config file and reload when it changes (default on when there is a file; --no-watch). */
  readonly watch: boolean;
}

export function shutdownGraceMs(config: Config): number {
  return config.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS;
}

/** The sentence for a failed start: ListenError names the address; anything unexpected shows its stack. */
export function describeStartError(error: unknown): { message: string; exitCode: number } {
  const message =
    error instanceof SniRouterError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
  return { message, exitCode: error instanceof ListenError ? EXIT_LISTEN_FAILED : EXIT_BAD_CONFIG };
}

/** One 'listening' line per listener not in `known`, with the port it got (the one to use when :0 was asked for). */
export function logListening(listeners: readonly BoundListener[], logger: Logger, known: ReadonlySet<string>): void {
  for (const listener of listeners) {
    if (known.has(listener.label)) continue;
    logger.info({ listener: listener.label, address: listener.address, port: listener.port }, 'listening');
  }
}

/** Settings read once at start: a reload that changes them says so instead of silently ignoring them. */
export function warnRestartOnly(before: Config, after: Config, logger: Logger): void {
  const changed: string[] = [];
  if (before.admin?.label !== after.admin?.label) changed.push('admin');
  if ((before.workers ?? 1) !== (after.workers ?? 1)) changed.push('workers');
  if (changed.length > 0) logger.warn({ settings: changed }, 'these settings take effect on restart, not on reload');
}

/** The logger writes asynchronously; let it drain before the process ends. */
export function exitAfterFlush(logger: Logger, code: number): void {
  const timer = setTimeout(() => process.exit(code), FLUSH_TIMEOUT_MS);
  logger.flush(() => {
    clearTimeout(timer);
    process.exit(code);
  });
}

export function exitAtOnce(logger: Logger, signal: NodeJS.Signals): never {
  logger.warn({ signal }, 'second signal; exiting at once');
  const stream = (logger as unknown as Record<symbol, { flushSync?: () => void } | undefined>)[pino.symbols.streamSym];
  try {
    stream?.flushSync?.();
  } catch {
    // Exiting at once anyway; a log line lost here is the price of the second signal.
  }
  process.exit(128 + (constants.signals[signal] ?? 0));
}

/**
 * An uncaught exception or unhandled rejection leaves the process in an unknown state: write one line saying so
 * (to stderr, synchronously, so it is not lost in the log's buffer) and exit EXIT_INTERNAL_ERROR.
 */
export function exitOnUncaughtErrors(): void {
  const crash = (kind: string, error: unknown): void => {
    const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
    const line = JSON.stringify({ level: 'fatal', time: new Date().toISOString(), pid: process.pid, msg: `${kind}; exiting with ${EXIT_INTERNAL_ERROR}`, err: detail });
    try {
      writeSync(2, `${line}\n`);
    } catch {
      // stderr is gone: the exit code still says what happened.
    }
    process.exit(EXIT_INTERNAL_ERROR);
  };
  process.on('uncaughtException', (error) => crash('uncaught exception', error));
  process.on('unhandledRejection', (reason) => crash('unhandled rejection', reason));
}

export async function startAdminFor(config: Config, logger: Logger, handlers: Parameters<typeof startAdmin>[2]): Promise<AdminServer | null> {
  if (config.admin === null) return null;
  try {
    const admin = await startAdmin(config.admin.host, config.admin.port, handlers);
    logger.info({ listener: config.admin.label, address: admin.address, port: admin.port }, 'admin listening');
    return admin;
  } catch (error) {
    throw new ListenError(`admin ${config.admin.label}`, error instanceof Error ? error : new Error(String(error)));
  }
}

/** Starts the router in this process and supervises it; resolves once it runs (the process lives on its sockets). */
export async function runSingle(spec: LoadSpec, config: Config, logger: Logger, options: RunOptions): Promise<void> {
  const registry = new Registry();
  // Metrics are only readable through the admin listener, so without one they are not kept at all.
  const routerMetrics = config.admin === null ? undefined : new RouterMetrics(registry);
  const controlMetrics = new ControlMetrics(registry);
  let router: RunningRouter;
  let admin: AdminServer | null = null;
  let watcher: ConfigWatcher | null = null;

  const loaderThread = new ConfigLoaderThread(spec);
  const reloader = new Reloader({
    load: () => loadWithFlags(spec),
    prepare: (baseHash) => loaderThread.prepare(baseHash),
    config,
    logger,
    metrics: controlMetrics,
    onFileRead: (digest) => watcher?.remember(digest),
    apply: async (next) => {
      const before = new Set(router.listeners.map((listener) => listener.label));
      const previous = router.config;
      await router.reload(next);
      logListening(router.listeners, logger, before);
      warnRestartOnly(previous, next, logger);
    },
  });

  try {
    router = await startRouter(config, { logger, ...(routerMetrics ? { metrics: routerMetrics } : {}) });
    routerMetrics?.watchBackends(() => router.backendStates());
    routerMetrics?.watchCertificates(() => router.certificateExpiries());
    for (const warning of certificateWarnings(config)) logger.warn({ file: warning.file, line: warning.line }, warning.message);
    admin = await startAdminFor(config, logger, {
      isReady: () => !router.isClosing && router.listeners.length > 0,
      loopHealth: () => {
        const watchdog = loopWatchdog();
        return { isHealthy: watchdog.isHealthy, lagSeconds: watchdog.lagSeconds };
      },
      config: () => ({ config: reloader.config, hash: reloader.hash }),
      connections: async () => ({ ...(routerMetrics ? await routerMetrics.connectionCounts() : {}), active: router.activeConnections, draining: router.isClosing }),
      metrics: async () => ({ contentType: registry.contentType, body: await registry.metrics() }),
      reload: () => reloader.reload('admin'),
    });
  } catch (error) {
    const { message, exitCode } = describeStartError(error);
    process.stderr.write(`sni-router: ${message}\n`);
    exitAfterFlush(logger, exitCode);
    return;
  }

  // Signal handlers first: whoever reads the lines below may signal us at once.
  let isStopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (isStopping) exitAtOnce(logger, signal);
    isStopping = true;
    watcher?.close();
    const graceMs = shutdownGraceMs(reloader.config);
    const active = router.activeConnections;
    const startedAt = performance.now();
    // close() stops the listeners before it returns, so whoever reads the line below finds them closed.
    const closing = router.close(graceMs);
    logger.info({ signal, grace_ms: graceMs, active }, 'shutting down');
    logger.flush();
    closing.then(
      async () => {
        logger.info({ duration_ms: Math.round(performance.now() - startedAt) }, 'shutdown complete');
        await admin?.close();
        exitAfterFlush(logger, EXIT_OK);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        exitAfterFlush(logger, EXIT_BAD_CONFIG);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.on('SIGHUP', () => {
    if (!isStopping) void reloader.reload('signal');
  });
  if (options.watch && config.sourceFile !== null) {
    watcher = watchConfigFile(config.sourceFile, () => {
      if (!isStopping) void reloader.reload('file');
    });
  }

  setInterval(() => logger.flush(), LOG_FLUSH_INTERVAL_MS).unref();
  loopWatchdog(); // from now on: start-up's own compile is not lag
  logListening(router.listeners, logger, new Set());
  logger.info({ config: config.sourceFile, routes: config.routes.length, hash: reloader.hash }, 'sni-router started');
  logger.flush(); // lifecycle lines go out at once, not with the next periodic flush
}
