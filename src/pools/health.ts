/**
 * Backend health, shared by every pool and every snapshot of one router: keyed by backend label, so a reload
 * keeps what it knew about the backends that stay, and forgets the ones that leave.
 *
 * Passive (always on): a connect that is refused or times out marks the backend down for a back-off (1 s,
 * doubling per failure in a row, at most 30 s). Without active checks, the first connection after the back-off
 * is a trial: success brings the backend up, failure doubles the back-off.
 *
 * Active (a pool's `health:`): every `interval` a TCP connect within `timeout` (then a TLS handshake when
 * `tls` is set, sending the route's name as SNI); where the pool sends PROXY headers the check opens with a v2
 * LOCAL header (v1 pools: `PROXY UNKNOWN`), so backends that require a header accept it quietly. `fall` failures
 * in a row bring a backend down, `rise` successes bring it up; a passive failure brings it down at once, and then
 * only the checks bring it back.
 *
 * Each change is logged once, at the change: `backend down` (warn) and `backend up` (info).
 */
import tls from 'node:tls';
import type net from 'node:net';
import type { Logger } from 'pino';
import type { BackendAddress, Config, HealthSettings, ProxyProtocolMode } from '../config/types.js';
import { forEachPool } from '../config/for-each-pool.js';
import { dial } from './dial.js';
import { settleWithDeadline } from '../ops/settle.js';
import { encodeProxyV2Local } from '../wire/proxy-header.js';

export const PASSIVE_BACKOFF_MIN_MS = 1_000;
export const PASSIVE_BACKOFF_MAX_MS = 30_000;
/** proxy-protocol.txt §2.1: the v1 form of "not proxied" (the receiver uses the real connection's addresses). */
const PP1_UNKNOWN = Buffer.from('PROXY UNKNOWN\r\n', 'latin1');

export type HealthCause = 'passive' | 'check';

/** One backend's health as the admin API shows it (snake_case: the access-log vocabulary). */
export interface BackendHealth {
  readonly backend: string;
  readonly state: 'up' | 'down';
  /** ISO time of the last change, or of when the router first knew the backend when it never changed. */
  readonly since: string;
  /** Why it went down (the failed connect or check), while it is down; else null. */
  readonly last_error: string | null;
  /** What brought it to this state: a real connection (passive), an active check, or nothing yet (null). */
  readonly cause: HealthCause | null;
}

/** A backend's health and the connections it carries now (the router counts those: they live in the planes). */
export interface BackendStatus extends BackendHealth {
  readonly active: number;
}

/** Where a check connects: the backend, and (for host-name backends) the address it resolved to. */
export type AddressFor = (backend: BackendAddress) => string;

class BackendState {
  isUp = true;
  /** Passive back-off: not tried before this time (performance.now() ms) unless every backend is down. */
  retryAt = 0;
  backoffMs = 0;
  successes = 0;
  failures = 0;
  checker: Checker | null = null;
  /** Date.now() of the last change (or of the state's creation): wall-clock time, for people. */
  changedAt = Date.now();
  lastError: string | null = null;
  cause: HealthCause | null = null;
  constructor(readonly label: string) {}
}

interface CheckTarget {
  readonly backend: BackendAddress;
  readonly settings: HealthSettings;
  readonly proxyProtocol: ProxyProtocolMode;
}

export class HealthRegistry {
  readonly #states = new Map<string, BackendState>();
  #logger: Logger | null;
  #addressFor: AddressFor;
  #closed = false;

  constructor(logger: Logger | null, addressFor: AddressFor = (backend) => backend.host) {
    this.#logger = logger;
    this.#addressFor = addressFor;
  }

  /** May the balancer pick this backend now? */
  isAvailable(label: string, now = performance.now()): boolean {
    const state = this.#states.get(label);
    if (state === undefined || state.isUp) return true;
    return state.checker === null && now >= state.retryAt;
  }

  isUp(label: string): boolean {
    return this.#states.get(label)?.isUp ?? true;
  }

  /** The admin API's view of one backend; one the registry has not seen yet is up since `now`. */
  describe(label: string, now = Date.now()): BackendHealth {
    const state = this.#states.get(label);
    if (state === undefined) return { backend: label, state: 'up', since: new Date(now).toISOString(), last_error: null, cause: null };
    return {
      backend: label,
      state: state.isUp ? 'up' : 'down',
      since: new Date(state.changedAt).toISOString(),
      last_error: state.isUp ? null : state.lastError,
      cause: state.cause,
    };
  }

  /** A real connection could not reach the backend. */
  reportDialFailure(label: string, detail: string): void {
    const state = this.#state(label);
    state.backoffMs = state.backoffMs === 0 ? PASSIVE_BACKOFF_MIN_MS : Math.min(state.backoffMs * 2, PASSIVE_BACKOFF_MAX_MS);
    state.retryAt = performance.now() + state.backoffMs;
    state.successes = 0;
    if (state.isUp) this.#markDown(state, 'passive', detail);
    else state.lastError = detail;
  }

  /** A real connection reached the backend. */
  reportDialSuccess(label: string): void {
    const state = this.#states.get(label);
    if (state === undefined) return;
    state.backoffMs = 0;
    state.retryAt = 0;
    // With active checks, only the checks bring a backend back; a lucky connection is not `rise` checks.
    if (!state.isUp && state.checker === null) this.#markUp(state, 'passive');
  }

  /**
   * Makes the registry match a config: states for backends no pool lists any more are dropped, checkers start
   * for pools with `health:` and stop for backends that lost it. The first pool that checks a backend sets how.
   */
  retain(config: Config, logger: Logger | null, addressFor?: AddressFor): void {
    if (logger !== null) this.#logger = logger;
    if (addressFor !== undefined) this.#addressFor = addressFor;
    const targets = new Map<string, CheckTarget | null>();
    forEachPool(config, (pool) => {
      for (const backend of pool.backends) {
        if (targets.get(backend.label)) continue;
        targets.set(backend.label, pool.health ? { backend, settings: pool.health, proxyProtocol: pool.proxyProtocol } : null);
      }
    });

    for (const [label, state] of this.#states) {
      const target = targets.get(label);
      if (target === undefined) {
        state.checker?.stop();
        this.#states.delete(label);
      } else if (target === null || (state.checker !== null && !state.checker.isFor(target))) {
        state.checker?.stop();
        state.checker = null;
      }
    }
    for (const [label, target] of targets) {
      const state = this.#state(label); // every backend gets a state, so its `since` is when it was first known
      if (target === null) continue;
      if (state.checker === null && !this.#closed) {
        state.checker = new Checker(target, (ok, detail) => this.#onCheck(state, ok, detail), this.#addressFor);
      }
    }
  }

  /** Stops every checker (router shutdown). */
  close(): void {
    this.#closed = true;
    for (const state of this.#states.values()) {
      state.checker?.stop();
      state.checker = null;
    }
  }

  #state(label: string): BackendState {
    let state = this.#states.get(label);
    if (state === undefined) {
      state = new BackendState(label);
      this.#states.set(label, state);
    }
    return state;
  }

  #onCheck(state: BackendState, ok: boolean, detail: string): void {
    if (this.#closed || state.checker === null) return;
    const settings = state.checker.settings;
    if (ok) {
      state.failures = 0;
      state.successes++;
      if (!state.isUp && state.successes >= settings.rise) {
        state.backoffMs = 0;
        state.retryAt = 0;
        this.#markUp(state, 'check');
      }
    } else {
      state.successes = 0;
      state.failures++;
      if (state.isUp && state.failures >= settings.fall) this.#markDown(state, 'check', detail);
      else if (!state.isUp) state.lastError = detail;
    }
  }

  #markDown(state: BackendState, cause: HealthCause, detail: string): void {
    state.isUp = false;
    state.changedAt = Date.now();
    state.lastError = detail;
    state.cause = cause;
    this.#logger?.warn({ backend: state.label, cause, detail }, 'backend down');
  }

  #markUp(state: BackendState, cause: HealthCause): void {
    state.isUp = true;
    state.changedAt = Date.now();
    state.cause = cause;
    state.successes = 0;
    state.failures = 0;
    this.#logger?.info({ backend: state.label, cause }, 'backend up');
  }
}

/** One backend's active checks: one at a time, the next `interval` after the last one ended. */
class Checker {
  readonly settings: HealthSettings;
  readonly #target: CheckTarget;
  readonly #report: (ok: boolean, detail: string) => void;
  readonly #addressFor: AddressFor;
  #timer: NodeJS.Timeout | null = null;
  #socket: net.Socket | null = null;
  #stopped = false;

  constructor(target: CheckTarget, report: (ok: boolean, detail: string) => void, addressFor: AddressFor) {
    this.#target = target;
    this.settings = target.settings;
    this.#report = report;
    this.#addressFor = addressFor;
    this.#schedule(0);
  }

  isFor(target: CheckTarget): boolean {
    const a = this.#target.settings;
    const b = target.settings;
    return (
      this.#target.proxyProtocol === target.proxyProtocol &&
      a.intervalMs === b.intervalMs &&
      a.timeoutMs === b.timeoutMs &&
      a.rise === b.rise &&
      a.fall === b.fall &&
      a.tls === b.tls &&
      a.tlsServerName === b.tlsServerName
    );
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#socket?.destroy();
    this.#socket = null;
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => this.#run(), delayMs);
    this.#timer.unref();
  }

  #run(): void {
    this.#timer = null;
    const { backend, settings, proxyProtocol } = this.#target;
    const started = performance.now();
    // One deadline for the whole check (connect, header, handshake).
    const check = settleWithDeadline<{ ok: boolean; detail: string }>(
      settings.timeoutMs,
      () => ({ ok: false, detail: `check timed out after ${settings.timeoutMs} ms` }),
      ({ ok, detail }) => {
        this.#socket?.destroy();
        this.#socket = null;
        if (this.#stopped) return;
        this.#report(ok, detail);
        this.#schedule(settings.intervalMs);
      },
      { unref: true },
    );
    const finish = (ok: boolean, detail: string): void => void check.settle({ ok, detail });
    this.#socket = dial(
      backend,
      settings.timeoutMs,
      (error, socket) => {
        if (error || !socket) {
          finish(false, error?.message ?? 'connect failed');
          return;
        }
        if (check.isSettled) {
          socket.destroy();
          return;
        }
        this.#socket = socket;
        socket.on('error', (err: NodeJS.ErrnoException) => finish(false, err.code ?? err.message));
        if (proxyProtocol === 'v2') socket.write(encodeProxyV2Local());
        else if (proxyProtocol === 'v1') socket.write(PP1_UNKNOWN);
        if (!settings.tls) {
          socket.end();
          finish(true, `connected in ${Math.round(performance.now() - started)} ms`);
          return;
        }
        const secure = tls.connect({
          socket,
          rejectUnauthorized: false,
          ...(settings.tlsServerName !== null ? { servername: settings.tlsServerName } : {}),
        });
        secure.on('error', (err: NodeJS.ErrnoException) => finish(false, `TLS: ${err.code ?? err.message}`));
        secure.once('secureConnect', () => {
          secure.end();
          finish(true, 'TLS handshake done');
        });
      },
      this.#addressFor(backend),
    );
  }
}
