/**
 * One place where every reload goes, whatever asked for it (SIGHUP, the config file changing, POST /reload):
 *
 *   read and validate the whole config (the same loadConfig as start-up, flags re-applied) — in the loader thread
 *   when there is one (src/config-loader-thread.ts), so the event loop keeps serving meanwhile
 *     invalid → log every problem as file:line:col, count a failure, keep the running config
 *     valid   → apply it (router.reload, or every worker's) → log what changed, count a success, new hash
 *
 * Reloads never overlap; requests that arrive while one runs are folded into a single next run, which reads the
 * file as it is then.
 */
import type { Logger } from 'pino';
import { configHash, type ConfigDiff, diffConfigs, diffFields } from '../config/diff.js';
import { type ConfigResult, formatProblem } from '../config/load.js';
import type { Config } from '../config/types.js';
import type { PreparedConfig } from './config-loader-thread.js';
import { ReloadHistory, type ReloadTrigger } from './reload-history.js';
import { digestFile } from '../ops/file-watch.js';
import type { ControlMetrics } from '../ops/metrics.js';

export type ReloadSource = ReloadTrigger;

export type ReloadOutcome =
  | { readonly ok: true; readonly hash: string; readonly diff: ConfigDiff; readonly durationMs: number }
  | { readonly ok: false; readonly problems: readonly string[] };

export interface ReloaderOptions {
  /** Reads and validates the config as start-up did (the file re-read, the flags re-applied), on this thread. */
  readonly load: () => ConfigResult;
  /**
   * The same off the event loop, with the hash and the diff against the config of `baseHash` computed there too
   * (ConfigLoaderThread.prepare). When given, `load` is not used.
   */
  readonly prepare?: (baseHash: string) => Promise<PreparedConfig>;
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: ControlMetrics;
  /** Puts a validated config into service; rejects (e.g. a new listener cannot open) to keep the old one. */
  readonly apply: (next: Config) => Promise<void>;
  /** Told the digest of the file each reload read (so the file watcher does not report it again). */
  readonly onFileRead?: (digest: string | null) => void;
}

export class Reloader {
  /** The last reloads' outcomes (GET /reloads, the status page). */
  readonly history = new ReloadHistory();
  #config: Config;
  #hash: string;
  readonly #options: ReloaderOptions;
  #tail: Promise<unknown> = Promise.resolve();
  #pending: Promise<ReloadOutcome> | null = null;

  constructor(options: ReloaderOptions) {
    this.#options = options;
    this.#config = options.config;
    this.#hash = configHash(options.config);
    options.metrics.configLoaded(this.#hash);
  }

  get config(): Config {
    return this.#config;
  }

  get hash(): string {
    return this.#hash;
  }

  reload(source: ReloadSource): Promise<ReloadOutcome> {
    if (this.#pending) return this.#pending;
    const run = this.#tail.then(() => {
      this.#pending = null;
      return this.#runOnce(source);
    });
    this.#pending = run;
    this.#tail = run.catch(() => undefined);
    return run;
  }

  async #runOnce(source: ReloadSource): Promise<ReloadOutcome> {
    const { logger, metrics, load } = this.#options;
    const startedAt = performance.now();
    const file = this.#config.sourceFile;
    if (file !== null) this.#options.onFileRead?.(digestFile(file));
    const elapsedMs = (): number => Math.round((performance.now() - startedAt) * 1000) / 1000;
    const failed = (problems: string[]): ReloadOutcome => {
      this.history.failed(source, this.#hash, elapsedMs(), problems);
      return { ok: false, problems };
    };
    let result: PreparedConfig;
    try {
      result = this.#options.prepare ? await this.#options.prepare(this.#hash) : withoutHash(load());
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      metrics.reloaded('failure');
      logger.error({ source, err: message }, 'reload failed; keeping the running config');
      logger.flush();
      return failed([message]);
    }
    if (!result.ok) {
      const problems = result.problems.map(formatProblem);
      metrics.reloaded('failure');
      logger.error({ source, problems }, 'reload rejected; keeping the running config');
      logger.flush();
      return failed(problems);
    }
    const next = result.config;
    try {
      await this.#options.apply(next);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      metrics.reloaded('failure');
      logger.error({ source, err: message }, 'reload failed; keeping the running config');
      logger.flush();
      return failed([message]);
    }
    const diff = result.diff ?? diffConfigs(this.#config, next);
    const previousHash = this.#hash;
    this.#config = next;
    this.#hash = result.hash || configHash(next);
    metrics.reloaded('success');
    metrics.configLoaded(this.#hash);
    logger.level = next.logLevel;
    const durationMs = elapsedMs();
    this.history.succeeded(source, previousHash, this.#hash, durationMs, diff);
    logger.info({ source, config: next.sourceFile, hash: this.#hash, duration_ms: durationMs, ...diffFields(diff) }, 'config reloaded');
    logger.flush();
    return { ok: true, hash: this.#hash, diff, durationMs };
  }
}

/** A load done on this thread, as the loader thread would answer it (hash and diff still to compute). */
function withoutHash(result: ConfigResult): PreparedConfig {
  return result.ok ? { ok: true, config: result.config, hash: '', diff: null } : result;
}
