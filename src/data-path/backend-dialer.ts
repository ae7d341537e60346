/**
 * Dialing a route's backends for one connection: the pool's available backends in balancer order, then the
 * route's fallback pool, else the down backends anyway (one may be back). Each failure is reported to passive
 * health; with backend_tls the PROXY header goes in clear, then TLS runs over the socket, and a failed or
 * unverified backend handshake counts as a failed attempt too.
 */
import type net from 'node:net';
import type { Logger } from 'pino';
import { isOutOfDescriptors } from '../ops/descriptors.js';
import { dial } from '../pools/dial.js';
import type { Pool } from '../pools/pool.js';
import type { PoolConfig } from '../config/types.js';
import type { RoutingState } from './connection-host.js';
import { type BackendTlsProfile, connectBackendTls } from './terminate.js';

/** One dial plan, fixed when the route is chosen. */
export interface DialPlan {
  readonly pool: Pool;
  readonly fallback: PoolConfig | null;
  /** What the balancer hashes (source-hash). */
  readonly clientAddress: string;
  readonly backendTls: BackendTlsProfile | null;
  /** The name sent to a TLS backend (the client's SNI), and the protocol the client negotiated. */
  readonly servername: string | null;
  readonly alpn: string | null;
  /** The PROXY header for a pool, or null; written before the backend's TLS handshake with backend_tls. */
  proxyHeader(pool: Pool): Buffer | null;
  /** A dial failed for want of a file descriptor: our shortage, not the backend's. */
  readonly outOfDescriptors: ((code: string) => void) | null;
}

/** Where the attempts are written down (the connection's record, for the access line). */
export interface DialLog {
  dialing(label: string): void;
  isOnFallback: boolean;
}

export interface DialerOwner {
  /** A backend accepted (with backend_tls: its TLS is up); `isHeaderSent` says the PROXY header is already on it. */
  backendReady(socket: net.Socket, pool: Pool, index: number, isHeaderSent: boolean): void;
  /** Every backend failed, or the router is out of descriptors: `detail` says which. */
  dialFailed(detail: string): void;
}

export class BackendDialer {
  readonly #plan: DialPlan;
  readonly #routing: RoutingState;
  readonly #owner: DialerOwner;
  readonly #log: DialLog;
  readonly #logger: Logger;
  readonly #id: string;
  #pool: Pool;
  #order: readonly number[] = [];
  #isOnFallback = false;
  /** The attempt in flight (TCP connect or backend TLS handshake); destroyed on cancel. */
  #inFlight: net.Socket | null = null;
  #isCancelled = false;

  constructor(id: string, plan: DialPlan, routing: RoutingState, owner: DialerOwner, log: DialLog, logger: Logger) {
    this.#log = log;
    this.#id = id;
    this.#plan = plan;
    this.#routing = routing;
    this.#owner = owner;
    this.#logger = logger;
    this.#pool = plan.pool;
  }

  start(): void {
    let order = this.#pool.dialOrder(this.#plan.clientAddress);
    if (order.length === 0) {
      if (this.#switchToFallback('every backend of the pool is down')) return;
      order = this.#pool.lastResortOrder();
    }
    this.#order = order;
    this.#tryBackend(order[0] ?? 0, 0);
  }

  /** The connection closed: the attempt in flight is abandoned, and no callback follows. */
  cancel(): void {
    this.#isCancelled = true;
    this.#inFlight?.destroy();
    this.#inFlight = null;
  }

  /** Moves to the route's fallback pool (once); false when there is none or it is already in use. */
  #switchToFallback(why: string): boolean {
    const fallback = this.#plan.fallback;
    if (!fallback || this.#isOnFallback) return false;
    this.#isOnFallback = true;
    this.#logger.debug({ id: this.#id, why }, 'using the fallback pool');
    this.#log.isOnFallback = true;
    this.#pool = this.#routing.pool(fallback);
    this.start();
    return true;
  }

  /** A dial attempt failed: mark the backend down (passive health), then the next backend, the fallback, or give up. */
  #onFailed(index: number, attempt: number, message: string): void {
    const label = this.#pool.backendAt(index).label;
    this.#logger.debug({ id: this.#id, backend: label, err: message }, 'backend attempt failed');
    this.#pool.health.reportDialFailure(label, message);
    const next = this.#order[attempt + 1];
    if (next !== undefined) this.#tryBackend(next, attempt + 1);
    else if (!this.#switchToFallback(`every backend failed; last: ${message}`)) this.#owner.dialFailed(message);
  }

  #tryBackend(index: number, attempt: number): void {
    const pool = this.#pool;
    const backend = pool.backendAt(index);
    this.#log.dialing(backend.label);
    const connectMs = this.#routing.timeouts.connectMs;
    this.#inFlight = dial(backend, connectMs, (error, socket) => {
      this.#inFlight = null;
      if (this.#isCancelled) {
        socket?.destroy();
        return;
      }
      if (error || !socket) {
        const code = errorCodeOf(error?.cause);
        if (code !== undefined && isOutOfDescriptors(code)) {
          // Our shortage, not the backend's: it stays up, and the other backends would fail the same way.
          this.#plan.outOfDescriptors?.(code);
          this.#owner.dialFailed(`out of file descriptors (${code}) dialing ${backend.label}`);
          return;
        }
        this.#onFailed(index, attempt, error?.message ?? 'no backend');
        return;
      }
      pool.health.reportDialSuccess(backend.label);
      if (this.#plan.backendTls) this.#secure(socket, this.#plan.backendTls, index, attempt);
      else this.#owner.backendReady(socket, pool, index, false);
    }, this.#routing.addressFor(backend));
  }

  /** Re-encryption: the PROXY header in clear on the TCP connection, then TLS over it. */
  #secure(socket: net.Socket, profile: BackendTlsProfile, index: number, attempt: number): void {
    const pool = this.#pool;
    const header = this.#plan.proxyHeader(pool);
    if (header) socket.write(header);
    this.#inFlight = socket;
    const connectMs = this.#routing.timeouts.connectMs;
    connectBackendTls(socket, profile, this.#plan.servername, this.#plan.alpn, connectMs, (error, secured) => {
      this.#inFlight = null;
      if (this.#isCancelled) {
        secured?.destroy();
        return;
      }
      if (error || !secured) {
        this.#onFailed(index, attempt, error?.message ?? 'no backend');
        return;
      }
      this.#owner.backendReady(secured, pool, index, true);
    });
  }
}

function errorCodeOf(cause: unknown): string | undefined {
  return cause instanceof Error ? (cause as NodeJS.ErrnoException).code : undefined;
}
