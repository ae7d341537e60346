/**
 * The QUIC flow engine's contract with its owner: what it asks (`decide`), what it reports (one record per flow,
 * drop counts), and its bounds. Types and defaults only, so the route table, the access log and metrics can be
 * wired to the engine without reading it.
 */
import type { ClientHello } from '../../wire/client-hello.js';
import type { CloseReason } from '../../ops/close-reason.js';
import type { NotQuicReason, QuicInitialInfo } from '../../wire/quic-hello-reader.js';

export interface QuicBackend {
  readonly host: string;
  readonly port: number;
}

/** The peer a flow belongs to: a UDP source address and port. */
export interface QuicPeer {
  readonly address: string;
  readonly port: number;
}

/** What `decide` sees: the hello, the Initial that carried it, and who sent it. */
export interface QuicHelloContext {
  readonly hello: ClientHello;
  readonly initial: QuicInitialInfo;
  readonly client: QuicPeer;
}

/** Where a routed flow goes: backends in the order to try them (the next one when one refuses), and the route. */
export interface QuicDecision {
  readonly backends: readonly QuicBackend[];
  /** The route's name as written in the config, `default`, or null: only carried into the flow record. */
  readonly route: string | null;
}

/** Picks the backends for a hello; null = no route (the flow is dropped, never answered). Must not throw. */
export type QuicDecide = (context: QuicHelloContext) => QuicDecision | null;

/** How a flow ended: a subset of the access log's close reasons (src/close-reason.ts). */
export type QuicCloseReason = Extract<
  CloseReason,
  | 'idle_timeout' // no datagram either way for idleTimeoutMs (the normal end of a QUIC flow seen from outside)
  | 'hello_timeout' // the Initials did not complete a ClientHello within helloTimeoutMs
  | 'hello_too_large' // the hello's CRYPTO data passed maxHelloBytes
  | 'hello_malformed' // an authenticated Initial broke QUIC or ClientHello rules
  | 'no_route' // decide() returned null
  | 'backend_unavailable' // every backend refused (ICMP port unreachable) or stayed silent for backendAnswerTimeoutMs
  | 'backend_reset' // the backend socket failed after the backend had answered
  | 'shutdown' // the engine was closed
>;

/** One per flow that got past its first datagram: the access-log line's fields (mode quic). */
export interface QuicFlowRecord {
  readonly id: string;
  readonly mode: 'quic';
  /** `address:port` of the client (IPv6 in brackets). */
  readonly client: string;
  readonly listener: string;
  readonly sni: string | null;
  /** ALPN protocols the client offered (QUIC has no ALPN-less handshake: usually `h3`). */
  readonly alpn: readonly string[];
  readonly route: string | null;
  /** `host:port` of the backend the flow was forwarded to, or null. */
  readonly backend: string | null;
  /** The client's first Destination Connection ID, hex (what the backend's own logs and qlog files name), or null. */
  readonly dcid: string | null;
  /** The QUIC version of the client's Initial (1, 0x6b3343cf), or null when no hello was read. */
  readonly quicVersion: number | null;
  /** Datagrams from the client up to the one that completed the hello (Chromium's hello takes 2). 0 if never. */
  readonly helloDatagrams: number;
  /** Client → backend: datagrams and UDP payload bytes received from the client (dropped ones included). */
  readonly datagramsIn: number;
  readonly bytesIn: number;
  /** Backend → client. */
  readonly datagramsOut: number;
  readonly bytesOut: number;
  readonly durationMs: number;
  readonly reason: QuicCloseReason;
}

/** Why a datagram was dropped without a flow to account it to (counted, never answered). */
export type QuicDropReason =
  | NotQuicReason // the first datagram from an unknown address:port is not a client Initial
  | 'hello_malformed' // the first datagram looked like an Initial but did not open or broke the rules
  | 'hello_too_large' // the first datagram alone passes maxHelloBytes
  | 'pending_limit' // pending flows in all, or from this client address, at their cap
  | 'flow_limit' // maxFlows reached
  | 'pending_bytes' // a pending flow's buffered datagrams at maxPendingBytesPerFlow
  | 'draining'; // the router is shutting down: flows open keep forwarding, new ones are not taken

export const QUIC_DROP_REASONS: readonly QuicDropReason[] = Object.freeze([
  'short_header',
  'version_negotiation',
  'unsupported_version',
  'fixed_bit_clear',
  'not_initial',
  'initial_too_small',
  'hello_malformed',
  'hello_too_large',
  'pending_limit',
  'flow_limit',
  'pending_bytes',
  'draining',
]);

export interface QuicFlowLimits {
  /** CRYPTO bytes of one hello (the reader's cap). */
  readonly maxHelloBytes: number;
  /** Datagram bytes a pending flow may buffer before its hello is complete (a 3-Initial hello is ~3.6 KB). */
  readonly maxPendingBytesPerFlow: number;
  /** Flows waiting for their hello, in all and per client address. */
  readonly maxPendingFlows: number;
  readonly maxPendingFlowsPerAddress: number;
  /** Flows of every state. */
  readonly maxFlows: number;
  readonly helloTimeoutMs: number;
  /**
   * A backend that has not sent a datagram this long after the hello went to it counts as down: the flow moves to
   * the next backend (replaying what was sent), or ends as backend_unavailable after the last. The kernel's ICMP
   * port unreachable says so sooner, but it is rate-limited (1/s per destination on Linux) and often filtered.
   */
  readonly backendAnswerTimeoutMs: number;
  /** A flow with no datagram either way for this long is closed and its backend socket freed. */
  readonly idleTimeoutMs: number;
}

export const DEFAULT_QUIC_FLOW_LIMITS: QuicFlowLimits = Object.freeze({
  maxHelloBytes: 64 * 1024,
  maxPendingBytesPerFlow: 16 * 1024,
  maxPendingFlows: 1024,
  maxPendingFlowsPerAddress: 32,
  maxFlows: 16 * 1024,
  helloTimeoutMs: 5_000,
  backendAnswerTimeoutMs: 3_000,
  idleTimeoutMs: 30_000,
});
