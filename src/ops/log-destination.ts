/**
 * Where log lines go: a batching destination. Lines are collected and written together, so that a busy router
 * makes one write(2) per turn of the event loop (or per 16 KiB) instead of one per line, while a quiet one still
 * shows each line at once (`tail -f` stays live):
 *
 *   - the first line of a loop turn schedules a flush for the end of that turn (setImmediate);
 *   - 16 KiB collected are written at once (the cap of one write);
 *   - a flush that finds a write still in flight is done again when that write completes ('drain'), and a
 *     100 ms timer backs that up, so no line waits longer than that;
 *   - `flushSync()` writes everything before the process exits (src/ops/log.ts calls it on every exit path).
 *
 * The writing is pino's own destination's (sonic-boom: partial writes, EAGAIN on a full pipe). With `shared`
 * (several processes on one stdout, --workers) a write is at most PIPE_BUF bytes of whole lines, which the kernel
 * never interleaves with another process's.
 *
 * Lines are collected here, in an array, and handed to sonic-boom a batch at a time: sonic-boom measures the byte
 * length of its whole pending buffer on every write it is given (to keep each under maxWrite), so handing it line
 * by line costs a pass over up to 16 KiB per line — 8 µs an access line, a quarter of the router's user time per
 * connection on the native plane.
 */
import pino from 'pino';

/** One write carries at most this much; more collected in one turn is written in several. */
export const BATCH_MAX_BYTES = 16 * 1024;
/** PIPE_BUF on Linux: a pipe write of at most this many bytes is never interleaved with another process's. */
export const ATOMIC_WRITE_BYTES = 4096;
/** The longest a line waits when a flush found a write in flight. */
export const FLUSH_INTERVAL_MS = 100;

export interface BatchingDestinationOptions {
  readonly fd: number;
  /** Write each line at once, synchronously (short commands and tests: nothing is lost on exit). */
  readonly sync?: boolean;
  /** Several processes write to this fd: cap writes at PIPE_BUF so lines stay whole. */
  readonly shared?: boolean;
  /** Turns a JSON line into what is written (the pretty format); identity when absent. */
  readonly format?: (line: string) => string;
}

export class BatchingDestination {
  readonly #boom: ReturnType<typeof pino.destination>;
  readonly #format: ((line: string) => string) | null;
  readonly #timer: NodeJS.Timeout | null;
  #isFlushScheduled = false;
  /** Lines were written since the timer last looked. */
  #isDirty = false;
  /** A flush found a write in flight: flush again when it completes. */
  #isHeldBack = false;
  readonly #maxWrite: number;
  /** Lines not yet handed to sonic-boom, and their bytes: always less than one write's worth. */
  #batch: string[] = [];
  #batchBytes = 0;

  constructor(options: BatchingDestinationOptions) {
    const maxWrite = options.shared ? ATOMIC_WRITE_BYTES : BATCH_MAX_BYTES;
    const sync = options.sync ?? false;
    this.#maxWrite = maxWrite;
    // minLength just under maxWrite: sonic-boom writes by itself once a write's worth is collected.
    this.#boom = pino.destination({ dest: options.fd, sync, minLength: sync ? 0 : maxWrite - 1, maxWrite });
    this.#format = options.format ?? null;
    // stdout gone (EPIPE: the reader of a pipe exited) must not take the router down with it: the lines are lost,
    // the connections are not.
    this.#boom.on('error', () => {});
    if (sync) {
      this.#timer = null;
    } else {
      this.#timer = setInterval(() => {
        if (!this.#isDirty) return;
        this.#isDirty = false;
        this.#handOver();
        this.#flushQuietly();
      }, FLUSH_INTERVAL_MS);
      this.#timer.unref();
      this.#boom.on('drain', () => {
        if (!this.#isHeldBack) return;
        this.#isHeldBack = false;
        this.#flushQuietly();
      });
    }
  }

  /** pino's stream contract: one whole line per call. */
  write(line: string): boolean {
    const text = this.#format === null ? line : this.#format(line);
    if (this.#timer === null) return this.#boom.write(text); // sync: each line at once
    // A batch is whole lines of at most maxWrite bytes (PIPE_BUF when shared), as sonic-boom's own writes were.
    // (Counting flattens the line, which the join below then copies the faster: measured no dearer than length.)
    const bytes = Buffer.byteLength(text);
    if (this.#batchBytes + bytes > this.#maxWrite) this.#handOver();
    this.#batch.push(text);
    this.#batchBytes += bytes;
    if (this.#batchBytes >= this.#maxWrite - 1) this.#handOver(); // a write's worth: sonic-boom writes it now
    this.#isDirty = true;
    if (!this.#isFlushScheduled) {
      this.#isFlushScheduled = true;
      setImmediate(this.#endOfTurn);
    }
    return true;
  }

  /** The collected lines to sonic-boom, as one string. */
  #handOver(): void {
    if (this.#batch.length === 0) return;
    const text = this.#batch.length === 1 ? this.#batch[0]! : this.#batch.join('');
    this.#batch = [];
    this.#batchBytes = 0;
    try {
      this.#boom.write(text);
    } catch {
      // Destroyed (stdout closed): the lines are lost, the router carries on.
    }
  }

  readonly #endOfTurn = (): void => {
    this.#isFlushScheduled = false;
    this.#handOver();
    // sonic-boom's flush() returns without writing while a write is in flight, and then leaves what is collected
    // (under minLength) until the next flush; its `_writing` flag is the only way to know. If that flag ever goes,
    // the 100 ms timer still writes the line.
    if ((this.#boom as unknown as { _writing?: boolean })._writing === true) this.#isHeldBack = true;
    this.#flushQuietly();
  };

  #flushQuietly(): void {
    try {
      this.#boom.flush();
    } catch {
      // The fd is gone (stdout closed): nothing to write to; the router carries on.
    }
  }

  /** Writes what is collected; `callback` once it has reached the fd (pino's logger.flush(cb)). */
  flush(callback?: (error?: Error) => void): void {
    this.#handOver();
    if (callback === undefined) return this.#flushQuietly();
    try {
      this.#boom.flush((error) => callback(error ?? undefined));
    } catch (error) {
      callback(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** Writes everything now, synchronously: for the exit paths, where no later turn comes. */
  flushSync(): void {
    this.#handOver();
    try {
      this.#boom.flushSync();
    } catch {
      // Exiting anyway (stdout gone, or not yet open); the exit code still says what happened.
    }
  }
}
