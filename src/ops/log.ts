/**
 * The one logger factory, for every mode (single process, cluster primary, workers, the demo): one JSON line per
 * event (`msg` says what happened, fields use the access-log vocabulary), or the same events through pino's own
 * pretty printer (pino-pretty) for a person at a terminal. Lines go through a batching destination
 * (src/ops/log-destination.ts) and are written out on every way the process ends (`flushLogsSync`).
 */
import { createRequire } from 'node:module';
import { isatty } from 'node:tty';
import pino, { type Logger } from 'pino';
import type { PrettyOptions } from 'pino-pretty';
import { BatchingDestination } from './log-destination.js';

export type { Logger };

export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface LoggerOptions {
  readonly level: string;
  /** File descriptor to write to (default 1, stdout). */
  readonly fd?: number;
  /** Default: pretty when `fd` is a terminal, json otherwise (a pipe, a file, journald). */
  readonly format?: LogFormat;
  /** Write each line at once, synchronously: short-lived commands and tests, where nothing may be lost. */
  readonly sync?: boolean;
  /** Several processes share the fd (--workers): writes stay whole lines of at most PIPE_BUF. */
  readonly shared?: boolean;
}

const MS_PER_SECOND = 1000;
/** `2026-11-25T14:44:46.` — the part of toISOString() that changes once a second. */
const ISO_SECOND_PREFIX_CHARS = 20;
let cachedSecond = -1;
let cachedPrefix = '';

/**
 * pino's `isoTime` output (`,"time":"2026-11-25T14:44:46.297Z"`) without a Date and toISOString per line: the
 * date and time up to the second are formatted once a second, the milliseconds appended.
 */
function isoTimeCached(): string {
  const now = Date.now();
  const second = Math.floor(now / MS_PER_SECOND);
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedPrefix = `,"time":"${new Date(second * MS_PER_SECOND).toISOString().slice(0, ISO_SECOND_PREFIX_CHARS)}`;
  }
  const ms = now - second * MS_PER_SECOND;
  return `${cachedPrefix}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z"`;
}

export function defaultLogFormat(fd = 1): LogFormat {
  return isatty(fd) ? 'pretty' : 'json';
}

/** pino-pretty, one line per event (an access line stays one line for grep), local time, colours only on a terminal. */
function prettyFormatter(fd: number): (line: string) => string {
  // Loaded only when asked for: a router writing JSON never pays for the pretty printer.
  const { prettyFactory } = createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty');
  const options: PrettyOptions = { colorize: isatty(fd), singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'hostname' };
  const pretty = prettyFactory(options);
  return (line) => pretty(line);
}

/** Every destination of this process, for the exit paths. */
const destinations = new Set<BatchingDestination>();

/**
 * Writes every logger's collected lines now, synchronously. The exit paths call it (a second signal, exit 70 on
 * an uncaught error) and so does the process's 'exit' event, so a line logged just before any exit is not lost.
 */
export function flushLogsSync(): void {
  for (const destination of destinations) destination.flushSync();
}
process.on('exit', flushLogsSync);

export function createLogger(options: LoggerOptions): Logger {
  const fd = options.fd ?? 1;
  const format = options.format ?? defaultLogFormat(fd);
  const destination = new BatchingDestination({
    fd,
    sync: options.sync ?? false,
    shared: options.shared ?? false,
    ...(format === 'pretty' ? { format: prettyFormatter(fd) } : {}),
  });
  destinations.add(destination);
  return pino(
    {
      level: options.level,
      base: { pid: process.pid },
      timestamp: isoTimeCached,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
