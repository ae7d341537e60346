/**
 * How late this process's event loop runs: everything (accepts, hellos, handshakes, the admin API) shares one
 * thread, so a handler that runs long stalls all of it, and from outside that looks like a hung router.
 *
 *   perf_hooks.monitorEventLoopDelay   samples the loop's delay; read and reset once per window (1 s)
 *   a 100 ms tick                      that fires late by as much as the loop was blocked
 *
 * `lagSeconds` is the worst of the last full window (or the window running now, when that is already worse), so
 * one stall shows on /healthz, /readyz and `sni_router_event_loop_lag_seconds` for a window after it ends. Past
 * `unhealthyLagMs` the process reports itself unhealthy. With --workers, a stuck worker cannot answer at all: the
 * primary notices the missing heartbeat (src/workers.ts) and replaces it.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/** Lag above this makes /healthz and /readyz answer 503. */
export const DEFAULT_UNHEALTHY_LAG_MS = 1_000;
const WINDOW_MS = 1_000;
/** The tick timer: fires late by as much as the loop was blocked. */
const TICK_MS = 100;

export class LoopWatchdog {
  readonly unhealthyLagMs: number;
  readonly #histogram: IntervalHistogram;
  readonly #timer: NodeJS.Timeout;
  #windowStartedAt = performance.now();
  #lastTickAt = performance.now();
  #windowLagMs = 0;
  #lastWindowLagMs = 0;

  constructor(options: { unhealthyLagMs?: number } = {}) {
    this.unhealthyLagMs = options.unhealthyLagMs ?? DEFAULT_UNHEALTHY_LAG_MS;
    this.#histogram = monitorEventLoopDelay({ resolution: 20 });
    this.#histogram.enable();
    this.#timer = setInterval(() => this.#tick(), TICK_MS);
    this.#timer.unref();
  }

  /** The worst event-loop delay of the last window (or of this one, if worse), in seconds. */
  get lagSeconds(): number {
    return Math.max(this.#lastWindowLagMs, this.#currentLagMs()) / 1000;
  }

  get isHealthy(): boolean {
    return this.lagSeconds * 1000 < this.unhealthyLagMs;
  }

  close(): void {
    clearInterval(this.#timer);
    this.#histogram.disable();
  }

  #currentLagMs(): number {
    const sampled = this.#histogram.count > 0 ? this.#histogram.max / 1e6 : 0;
    // Read from a handler that runs just after a stall, the tick is overdue by the stall's length.
    const overdue = Math.max(0, performance.now() - this.#lastTickAt - TICK_MS);
    return Math.max(sampled, this.#windowLagMs, overdue);
  }

  #tick(): void {
    const now = performance.now();
    this.#windowLagMs = Math.max(this.#windowLagMs, now - this.#lastTickAt - TICK_MS);
    this.#lastTickAt = now;
    if (now - this.#windowStartedAt < WINDOW_MS) return;
    this.#lastWindowLagMs = this.#currentLagMs();
    this.#windowLagMs = 0;
    this.#histogram.reset();
    this.#windowStartedAt = now;
  }
}

let processWatchdog: LoopWatchdog | null = null;

/** The one watchdog of this process, started on first use. */
export function loopWatchdog(): LoopWatchdog {
  processWatchdog ??= new LoopWatchdog();
  return processWatchdog;
}
