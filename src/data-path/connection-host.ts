/**
 * The data path's seam: everything a connection needs from the rest of the house, as two small interfaces.
 * serve/ implements them (the snapshot is a RoutingState, the listener builds a ConnectionHost per accept); the
 * data path imports nothing from serve/, so a second data plane can be driven by the same contract.
 */
import type { Logger } from 'pino';
import type { BackendAddress, PoolConfig, RouteConfig, Timeouts } from '../config/types.js';
import type { ConnectionMetrics } from '../ops/connection-metrics.js';
import type { Pool } from '../pools/pool.js';
import type { RouteMatch } from '../routing/route-table.js';
import type { Sniffer } from '../wire/sniffer.js';
import type { TerminateProfile } from './terminate.js';

/**
 * The routes, pools and settings a connection uses, fixed for its life: the snapshot current at accept, so that a
 * reload never changes a connection midway.
 */
export interface RoutingState {
  /** The route for a server name (null: none given) and the offered ALPN; null when nothing matches. */
  lookup(serverName: string | null, alpn: readonly string[]): RouteMatch | null;
  /** The live pool (balancer, health, connection counts) of a pool of the config. */
  pool(config: PoolConfig): Pool;
  /** The TLS set-up of a terminated route; null for passthrough routes. */
  terminateProfile(route: RouteConfig): TerminateProfile | null;
  /** The address to dial for a backend (host names are resolved at start-up and reload). */
  addressFor(backend: BackendAddress): string;
  /** Whether connections without a usable name (or not TLS) have somewhere to go. */
  readonly hasDefaultPool: boolean;
  readonly timeouts: Timeouts;
  /** The sniffer's byte cap (max_hello_bytes). */
  readonly maxHelloBytes: number;
}

/** What a connection needs from the listener that accepted it; `Self` is the connection's own type. */
export interface ConnectionHost<Self> {
  readonly snapshot: RoutingState;
  /** Reads the first bytes: the listener's protocol (a ClientHello on TLS listeners). */
  readonly sniffer: Sniffer;
  readonly listenerLabel: string;
  readonly logger: Logger;
  /** Where accept, hello, connect and close are counted; absent = NO_METRICS (metrics off). */
  readonly metrics?: ConnectionMetrics;
  /** Called once, after the access line is written. */
  connectionClosed(connection: Self): void;
  /**
   * The listener reads a PROXY header first (`accept_proxy_protocol`): whether this peer is in its trusted
   * networks, judged once at accept by the listener. Absent = the listener takes no PROXY header.
   */
  readonly inboundProxy?: 'trusted' | 'untrusted' | null;
  /**
   * Called when the connection leaves its hello phase (routed, handshake done, or closed; more than once is fine):
   * frees its hello-limit slot. For terminate routes the TLS handshake is part of the hello phase.
   */
  readonly helloFinished?: () => void;
  /** The bytes the pending hello now holds, charged to limits.max_hello_bytes_total (may evict this connection). */
  readonly helloHolds?: (bytes: number) => void;
  /** A backend dial failed for want of a file descriptor: our shortage, not the backend's fault. */
  readonly outOfDescriptors?: (code: string) => void;
}
