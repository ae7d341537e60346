/**
 * One open connection as the admin API lists it (`GET /connections?list`, the status page): what its access line
 * will say, read while it is still open. Both data planes give the same shape, in the access line's vocabulary
 * (snake_case, `client` as `host:port` with IPv6 in brackets). Types and a builder only: no sockets here.
 */
import type { ConnectionMode } from './access-line.js';

/**
 * Where a connection is now. The node plane's stages (connection-stage.ts), the plain-HTTP connection's states,
 * and the native plane's C states, each under its own name:
 *
 *   reading_proxy, peeking, handshaking, dialing, splicing, serving_http   node Connection
 *   reading, connecting, answered                                          plain-HTTP connection (and splicing)
 *   hello, connecting, sending, splicing                                   native plane
 */
export type ConnectionState =
  | 'reading_proxy'
  | 'peeking'
  | 'handshaking'
  | 'dialing'
  | 'splicing'
  | 'serving_http'
  | 'reading'
  | 'connecting'
  | 'answered'
  | 'hello'
  | 'sending'
  | 'closing';

/** `mode` as the access line writes it, plus the plain-HTTP listener's redirect mode. */
export type ListedMode = ConnectionMode | 'http_redirect';

export interface ConnectionInfo {
  readonly id: string;
  /** `203.0.113.9:51234`, `[::1]:51234`; null when the client was gone before accept completed. */
  readonly client: string | null;
  readonly listener: string;
  /** As the client sent it (it may be anything: render it as text), or null. */
  readonly sni: string | null;
  /** The route's name, `default`, or null while none is chosen. */
  readonly route: string | null;
  /** The backend carrying it, or null while none has accepted. */
  readonly backend: string | null;
  readonly mode: ListedMode;
  readonly state: ConnectionState;
  /** ISO time of accept (wall clock, fixed for the connection's life: the list's order). */
  readonly opened_at: string;
  /** Seconds since accept, to the millisecond. */
  readonly age_s: number;
  readonly bytes_in: number;
  readonly bytes_out: number;
}

/** Seconds, to the millisecond, from a performance.now() start to `now`. */
export function ageSeconds(startedAt: number, now = performance.now()): number {
  return Math.max(0, Math.round(now - startedAt)) / 1000;
}
