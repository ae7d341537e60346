/**
 * The run loop both run modes share: one process (src/control/supervisor.ts) and the cluster primary
 * (src/control/workers.ts) differ only in where the router runs; what surrounds it is this:
 *
 *   SIGHUP, the config file changing (src/ops/file-watch.ts), POST /reload   → one Reloader (src/control/reload.ts)
 *   SIGTERM / SIGINT   stop accepting; open connections get `shutdown_grace` to finish, the rest are closed
 *                      (reason shutdown); exit 0. A second one exits at once with 128 + the signal's number.
 *   the admin listener, the lifecycle lines ('listening', 'sni-router started', 'shutting down', 'shutdown
 *   complete'), the log written out before every exit (src/control/exit.ts).
 *
 * A mode hands the loop what it serves as a `Served`: how to drain it, and what to say about it.
 */
import { type AdminHandlers, type AdminServer, startAdmin } from './admin.js';
import { ConfigLoaderThread } from './config-loader-thread.js';
import { EXIT_BAD_CONFIG, EXIT_OK, exitAfterFlush, exitAtOnce } from './exit.js';
import { Reloader } from './reload.js';
import { loadWithFlags, type LoadSpec } from '../config/load-with-flags.js';
import type { Config } from '../config/types.js';
import type { BoundListener } from '../serve/router.js';
import { ListenError } from '../ops/errors.js';
import { type ConfigFileWatch, watchConfigFile } from '../ops/file-watch.js';
import type { Logger } from '../ops/log.js';
import { loopWatchdog } from '../ops/loop-watchdog.js';
import type { ControlMetrics } from '../ops/metrics.js';

export interface RunOptions {
  /** Watch the config file and reload when it changes (default on when there is a file; --no-watch). */
  readonly watch: boolean;
}

/** What a run mode serves, as the loop needs it. */
export interface Served {
  /** Stop accepting and let open connections finish within `graceMs`; resolves when nothing is left. */
  drain(graceMs: number): Promise<void>;
  /** Fields of the 'shutting down' line (connections open, workers), read before draining starts. */
  shutdownFields(): Record<string, number>;
  /** A second signal: end everything now (kill the workers) before the process exits. */
  abort?(): void;
}

export interface RunLoopOptions {
  readonly spec: LoadSpec;
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: ControlMetrics;
  readonly run: RunOptions;
  /** Puts a validated config into service (the router's reload, or every worker's); rejects to keep the old. */
  readonly apply: (next: Config) => Promise<void>;
}

export function shutdownGraceMs(config: Config): number {
  return config.shutdownGraceMs;
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
  if (before.workers !== after.workers) changed.push('workers');
  if (before.dataPlane !== after.dataPlane) changed.push('data_plane');
  if (changed.length > 0) logger.warn({ settings: changed }, 'these settings take effect on restart, not on reload');
}

export class RunLoop {
  readonly reloader: Reloader;
  readonly #options: RunLoopOptions;
  readonly #logger: Logger;
  #watcher: ConfigFileWatch | null = null;
  #admin: AdminServer | null = null;
  #isStopping = false;

  constructor(options: RunLoopOptions) {
    this.#options = options;
    this.#logger = options.logger;
    const loaderThread = new ConfigLoaderThread(options.spec);
    this.reloader = new Reloader({
      load: () => loadWithFlags(options.spec),
      prepare: (baseHash) => loaderThread.prepare(baseHash),
      config: options.config,
      logger: options.logger,
      metrics: options.metrics,
      onFileRead: (digest) => this.#watcher?.remember(digest),
      apply: options.apply,
    });
  }

  /** A signal asked the process to stop: the mode stops forking, reloading, answering ready. */
  get isStopping(): boolean {
    return this.#isStopping;
  }

  /** SIGINT/SIGTERM drain `served` and exit (a second one exits at once); SIGHUP reloads. */
  handleSignals(served: Served): void {
    const stop = (signal: NodeJS.Signals): void => {
      if (this.#isStopping) {
        served.abort?.();
        exitAtOnce(this.#logger, signal);
      }
      this.#isStopping = true;
      this.#watcher?.close();
      const graceMs = shutdownGraceMs(this.reloader.config);
      const fields = served.shutdownFields();
      const startedAt = performance.now();
      // Draining stops the listeners before it returns, so whoever reads the line below finds them closed.
      const drained = served.drain(graceMs);
      this.#logger.info({ signal, grace_ms: graceMs, ...fields }, 'shutting down');
      this.#logger.flush();
      drained.then(
        async () => {
          this.#logger.info({ duration_ms: Math.round(performance.now() - startedAt) }, 'shutdown complete');
          await this.#admin?.close();
          exitAfterFlush(this.#logger, EXIT_OK);
        },
        (error: unknown) => {
          this.#logger.error({ err: error }, 'shutdown failed');
          exitAfterFlush(this.#logger, EXIT_BAD_CONFIG);
        },
      );
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    process.on('SIGHUP', () => {
      if (!this.#isStopping) void this.reloader.reload('signal');
    });
  }

  /** Opens the admin listener when the config has one; throws ListenError naming it when it cannot. */
  async startAdmin(handlers: Omit<AdminHandlers, 'config' | 'reload' | 'reloads'>): Promise<void> {
    const config = this.#options.config;
    if (config.admin === null) return;
    try {
      this.#admin = await startAdmin(config.admin.host, config.admin.port, {
        ...handlers,
        config: () => ({ config: this.reloader.config, hash: this.reloader.hash }),
        reload: () => this.reloader.reload('admin'),
        reloads: () => this.reloader.history.entries(),
      });
    } catch (error) {
      throw new ListenError(`admin ${config.admin.label}`, error instanceof Error ? error : new Error(String(error)));
    }
    this.#logger.info({ listener: config.admin.label, address: this.#admin.address, port: this.#admin.port }, 'admin listening');
  }

  /** Everything serves: watch the config file, count loop lag from now on, and say so. */
  started(listeners: readonly BoundListener[], fields: Record<string, number | string | null> = {}): void {
    const { config, run } = this.#options;
    if (run.watch && config.sourceFile !== null) {
      this.#watcher = watchConfigFile(config.sourceFile, () => {
        if (!this.#isStopping) void this.reloader.reload('file');
      });
    }
    loopWatchdog(); // from now on: start-up's own compile is not lag
    logListening(listeners, this.#logger, new Set());
    this.#logger.info({ config: config.sourceFile, routes: config.routes.length, hash: this.reloader.hash, ...fields }, 'sni-router started');
    this.#logger.flush(); // lifecycle lines go out at once
  }
}
