/**
 * The one bounded poll, for state that announces nothing: a health flip seen through /healthz, a descriptor
 * count in /proc, a router's open-connection count. Where an event exists, wait on it instead (the harness's
 * waitForLog, waitForAccessLine, waitForLine). Never a fixed sleep: the first check is immediate, and the
 * failure names what was awaited (the predicate's own source when no description is given).
 */
import { setTimeout as delay } from 'node:timers/promises';

export interface WaitOptions {
  /** Give up after this long (default 5 s). */
  readonly timeoutMs?: number;
  /** Between checks (default 20 ms). */
  readonly intervalMs?: number;
}

/** `what` may be a function, to describe the state at the deadline ("still served X"). */
export async function waitFor(predicate: () => boolean | Promise<boolean>, what?: string | (() => string), options: WaitOptions = {}): Promise<void> {
  const { timeoutMs = 5_000, intervalMs = 20 } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() >= deadline) {
      const description = typeof what === 'function' ? what() : (what ?? predicate.toString());
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}`);
    }
    await delay(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
}
