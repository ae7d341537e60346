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

/** One JSON line per event; `msg` says what happened, fields use the access-log vocabulary. */
export function createLogger(options: LoggerOptions): Logger {
  const destination = pino.destination({ dest: options.fd ?? 1, sync: options.sync ?? false, minLength: options.sync ? 0 : 4096 });
  return pino(
    {
      level: options.level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
