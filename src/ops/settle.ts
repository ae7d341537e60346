/**
 * "Settle once, with a deadline": an attempt (a dial, a handshake, a health check) ends exactly once, either by
 * whatever finishes it first or by its deadline, and whatever comes after that is ignored. The timer is cleared
 * when the attempt settles, so nothing is left behind on the loop.
 *
 *   const attempt = settleWithDeadline(timeoutMs, () => new ConnectTimeoutError(…), (error) => …);
 *   socket.once('connect', () => attempt.settle(null));
 *   socket.on('error', (error) => attempt.settle(toTyped(error)));
 */
export interface Settlement<T> {
  /** Ends the attempt with `outcome`, once: true when this call settled it, false when it was already settled. */
  settle(outcome: T): boolean;
  readonly isSettled: boolean;
}

export interface SettleOptions {
  /** Let the process exit while the deadline is pending (background work such as health checks). */
  readonly unref?: boolean;
}

export function settleWithDeadline<T>(timeoutMs: number, onDeadline: () => T, onSettled: (outcome: T) => void, options: SettleOptions = {}): Settlement<T> {
  let isSettled = false;
  const settle = (outcome: T): boolean => {
    if (isSettled) return false;
    isSettled = true;
    clearTimeout(timer);
    onSettled(outcome);
    return true;
  };
  const timer = setTimeout(() => settle(onDeadline()), timeoutMs);
  if (options.unref) timer.unref();
  return {
    settle,
    get isSettled() {
      return isSettled;
    },
  };
}
