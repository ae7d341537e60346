/**
 * How the process ends, the same in every run mode: the exit codes (SPEC "Command line"), and the paths that end
 * it, each of which writes out the log lines still collected (src/ops/log.ts) before the process goes.
 */
import { writeSync } from 'node:fs';
import { constants } from 'node:os';
import { ListenError, SniRouterError } from '../ops/errors.js';
import { flushLogsSync, type Logger } from '../ops/log.js';

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

export interface StartFailure {
  readonly message: string;
  readonly exitCode: number;
}

/** The sentence for a failed start: ListenError names the address; anything unexpected shows its stack. */
export function describeStartError(error: unknown): StartFailure {
  const message =
    error instanceof SniRouterError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
  return { message, exitCode: error instanceof ListenError ? EXIT_LISTEN_FAILED : EXIT_BAD_CONFIG };
}

/** The logger writes asynchronously; let it drain before the process ends. */
export function exitAfterFlush(logger: Logger, code: number): void {
  const timer = setTimeout(() => process.exit(code), FLUSH_TIMEOUT_MS);
  logger.flush(() => {
    clearTimeout(timer);
    process.exit(code);
  });
}

/** Start-up failed: one line on stderr saying why, then exit with its code once the log is out. */
export function exitOnStartFailure(logger: Logger, failure: StartFailure): void {
  process.stderr.write(`sni-router: ${failure.message}\n`);
  exitAfterFlush(logger, failure.exitCode);
}

/** A second SIGINT/SIGTERM during shutdown: exit now with 128 + the signal's number, as a shell reports it. */
export function exitAtOnce(logger: Logger, signal: NodeJS.Signals): never {
  logger.warn({ signal }, 'second signal; exiting at once');
  flushLogsSync();
  process.exit(128 + (constants.signals[signal] ?? 0));
}

/**
 * An uncaught exception or unhandled rejection leaves the process in an unknown state: write the log lines
 * collected so far, then one line saying so (to stderr, synchronously), and exit EXIT_INTERNAL_ERROR.
 */
export function exitOnUncaughtErrors(): void {
  const crash = (kind: string, error: unknown): void => {
    flushLogsSync();
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
