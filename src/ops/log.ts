import pino, { type Logger } from 'pino';

export type { Logger };

export interface LoggerOptions {
  readonly level: string;
  /** File descriptor to write to (default 1, stdout). */
  readonly fd?: number;
  /**
   * Asynchronous writes (sonic-boom with a buffer) so that logging never caps the connection rate.
   * Tests and short-lived commands use sync so that nothing is lost on exit.
   */
  readonly sync?: boolean;
}

/** `minLength` of the asynchronous destination: below sonic-boom's 16 KiB `maxWrite`, so one write(2) carries
 * ~40 access lines; the supervisor's periodic flush bounds how long a line waits at low rates. */
const ASYNC_MIN_WRITE_BYTES = 12 * 1024;

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

/** One JSON line per event; `msg` says what happened, fields use the access-log vocabulary. */
export function createLogger(options: LoggerOptions): Logger {
  const destination = pino.destination({ dest: options.fd ?? 1, sync: options.sync ?? false, minLength: options.sync ? 0 : ASYNC_MIN_WRITE_BYTES });
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
