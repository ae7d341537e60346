/**
 * The access line: one per connection, the same fields whichever data plane carried it (the node plane's
 * Connection and the native plane's adapter both write it here), and the close counted in the metrics with it.
 */
import type { Logger } from 'pino';
import type { CloseReason } from '../ops/close-reason.js';
import type { ConnectionMetrics } from '../ops/connection-metrics.js';
import type { RouteMatch } from '../routing/route-table.js';
import type { NegotiatedTls } from './terminate.js';

/** How the connection was carried: bytes passed through untouched, or TLS ended here. */
export type ConnectionMode = 'passthrough' | 'terminate';

/** Longest SNI written to the log; a hello may carry a 64 KiB "name" and the log should not. */
const MAX_LOGGED_SNI_CHARS = 255;

export interface AccessRecord {
  readonly id: string;
  /** Display form ('' when the client was gone before we saw it). */
  readonly clientAddress: string;
  readonly clientPort: number;
  readonly listener: string;
  readonly sni: string | null;
  readonly alpn: readonly string[];
  readonly match: RouteMatch | null;
  /** The backend that carried the connection, or null. */
  readonly backend: string | null;
  readonly mode: ConnectionMode;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly durationMs: number;
  readonly reason: CloseReason;
  readonly tls: NegotiatedTls | null;
  readonly detail: string | null;
  readonly isOnFallback: boolean;
}

export function writeAccessLine(logger: Logger, metrics: ConnectionMetrics, record: AccessRecord): void {
  const { sni, match, listener, reason, bytesIn, bytesOut } = record;
  const route = match ? (match.route ? match.route.name : 'default') : null;
  const durationMs = Math.round(record.durationMs * 1000) / 1000;
  const line: Record<string, unknown> = {
    id: record.id,
    // A client gone before accept completed has no address left to show: null, not ":0".
    client: record.clientAddress === '' ? null : `${record.clientAddress}:${record.clientPort}`,
    listener,
    sni: sni !== null && sni.length > MAX_LOGGED_SNI_CHARS ? `${sni.slice(0, MAX_LOGGED_SNI_CHARS)}…` : sni,
    alpn: record.alpn.length > 0 ? record.alpn.join(',') : null,
    route,
    backend: record.backend,
    mode: record.mode,
    bytes_in: bytesIn,
    bytes_out: bytesOut,
    duration_ms: durationMs,
    reason,
  };
  if (record.tls !== null) {
    line.tls_version = record.tls.version;
    line.cipher = record.tls.cipher;
    line.alpn_negotiated = record.tls.alpn;
  }
  if (record.detail !== null) line.detail = record.detail;
  // Which of the route's pools served it, when not its main one: `alpn acme-tls/1`, or `fallback`.
  if (record.isOnFallback) line.pool = 'fallback';
  else if (match?.alpn) line.pool = `alpn ${match.alpn}`;
  logger.info(line, 'connection closed');
  metrics.closed({ listener, route, reason, bytesIn, bytesOut, durationMs });
}
