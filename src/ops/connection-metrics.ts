/**
 * What a connection reports to the metrics, and a sink that does nothing.
 *
 * The connection calls these at a handful of points in its life (accept, hello outcome, backend connected,
 * close), never per chunk. With metrics off the router hands out NO_METRICS, so each call is one empty method
 * call. src/metrics.ts implements the sink with prom-client. Nothing here imports prom-client, so the data path
 * does not load it unless metrics are on.
 */
import type { CloseReason } from './close-reason.js';
import type { LimitName } from './limit-names.js';

/** Where the router found itself out of file descriptors: a listener's probe, or a backend dial. */
export type DescriptorShortage = 'accept' | 'dial';

/** The ClientHello's fate, the vocabulary of `sni_router_client_hello_total{outcome}` (Envoy's tls_inspector stats). */
export type HelloOutcome = 'sni_found' | 'no_sni' | 'not_tls' | 'malformed' | 'too_large' | 'timeout';

/** The `protocol` label of the hello outcomes: a TCP connection's ClientHello, or one a QUIC flow's Initials carried. */
export type HelloProtocol = 'tcp' | 'quic';

export interface ClosedConnection {
  readonly listener: string;
  /** The route name as written, `default`, or null when none was chosen (closed before or without a route). */
  readonly route: string | null;
  readonly reason: CloseReason;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly durationMs: number;
}

export interface ConnectionMetrics {
  accepted(listener: string): void;
  /** `helloBytes` is the size of the TLS records that carried the hello (0 when there was none); protocol default tcp. */
  hello(outcome: HelloOutcome, helloBytes: number, protocol?: HelloProtocol): void;
  /** A backend accepted the connection `connectMs` after the first dial (retries included; not the client's TLS handshake). */
  backendConnected(route: string, connectMs: number): void;
  closed(connection: ClosedConnection): void;
  /** A connection refused at accept or evicted from the hello phase by `limit`. */
  limited(limit: LimitName): void;
  /** The router was out of file descriptors (EMFILE/ENFILE) at `where`. */
  outOfDescriptors(where: DescriptorShortage): void;
}

export const NO_METRICS: ConnectionMetrics = Object.freeze({
  accepted(): void {},
  hello(): void {},
  backendConnected(): void {},
  closed(): void {},
  limited(): void {},
  outOfDescriptors(): void {},
});
