/**
 * The config's QUIC keys (docs/quic.md) and their defaults; sections/quic.ts reads the `quic:`
 * section by these tables, sections/listen.ts the `quic: true` of a listen entry, sections/pools.ts a route's
 * `quic_backends`:
 *
 *   listen: [":443", { address: ":443", quic: true }]     UDP beside TCP on the same address and port
 *   routes:
 *     app.example.com:
 *       backends: [10.0.0.5:443]
 *       quic_backends: [10.0.0.5:8443]                    default: the route's backends, same host:port, over UDP
 *   quic: { idle_timeout: 30s, hello_timeout: 5s, backend_answer_timeout: 3s, max_flows: 16384,
 *           max_pending_flows: 1024, max_pending_flows_per_client: 32, max_pending_bytes_per_flow: 16384 }
 *
 * A `quic:` section of its own rather than more keys under `limits`: its timeouts are not the TCP ones (a QUIC
 * flow has no close to wait for, only silence), and `limits` stays about TCP's hello phase.
 */

/** The QUIC flow engine's bounds as the config gives them; absent keys take QUIC_DEFAULTS. */
export interface QuicSettings {
  /** A flow with no datagram either way for this long ends (idle_timeout) and frees its backend socket. */
  readonly idleTimeoutMs: number;
  /** The Initials must complete a ClientHello within this. */
  readonly helloTimeoutMs: number;
  /** A backend silent this long after the hello went to it counts as down: the next backend gets the flow. */
  readonly backendAnswerTimeoutMs: number;
  readonly maxFlows: number;
  /** Flows still waiting for their hello, in all and per client address. */
  readonly maxPendingFlows: number;
  readonly maxPendingFlowsPerClient: number;
  /** Datagram bytes one pending flow may buffer (a 3-Initial hello is ~3.6 KB). */
  readonly maxPendingBytesPerFlow: number;
}

export const QUIC_DEFAULTS: QuicSettings = Object.freeze({
  idleTimeoutMs: 30_000,
  helloTimeoutMs: 5_000,
  backendAnswerTimeoutMs: 3_000,
  maxFlows: 16 * 1024,
  maxPendingFlows: 1024,
  maxPendingFlowsPerClient: 32,
  maxPendingBytesPerFlow: 16 * 1024,
});

export const QUIC_DURATION_KEYS = {
  idle_timeout: 'idleTimeoutMs',
  hello_timeout: 'helloTimeoutMs',
  backend_answer_timeout: 'backendAnswerTimeoutMs',
} as const satisfies Record<string, keyof QuicSettings>;

/** Counts and their least values: a pending flow must hold at least one full-size Initial (1200 bytes, RFC 9000 §14.1). */
export const QUIC_COUNT_KEYS = {
  max_flows: { field: 'maxFlows', min: 1 },
  max_pending_flows: { field: 'maxPendingFlows', min: 1 },
  max_pending_flows_per_client: { field: 'maxPendingFlowsPerClient', min: 1 },
  max_pending_bytes_per_flow: { field: 'maxPendingBytesPerFlow', min: 1200 },
} as const satisfies Record<string, { field: keyof QuicSettings; min: number }>;

export const QUIC_KEYS: readonly string[] = [...Object.keys(QUIC_DURATION_KEYS), ...Object.keys(QUIC_COUNT_KEYS)];
