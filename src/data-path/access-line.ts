/**
 * The access line: one pino line per connection, `"msg":"connection closed"`, the vocabulary of SPEC's access log.
 * A connection fills a ConnectionRecord as it goes (each stage adds what it learnt) and writes it once, at close.
 *
 * Byte counts, one definition in every mode: `bytes_in` is the client's stream as the router forwards it towards
 * the backend, `bytes_out` the backend's stream towards the client. In passthrough that is every byte of the
 * client's TCP stream after an inbound PROXY header (the hello included); in terminate it is the plaintext on
 * either side of the router's TLS session, and `wire_bytes_in`/`wire_bytes_out` add what crossed the client's TCP
 * connection (TLS records, handshake included).
 */
import type net from 'node:net';
import type { Logger } from 'pino';
import type { ConnectionMetrics } from '../ops/connection-metrics.js';
import type { CloseReason } from '../ops/close-reason.js';
import { type RouteMatch, routeNameOf } from '../routing/route-table.js';
import { displayAddress, formatEndpoint } from '../wire/address.js';
import type { InboundProxyHeader } from '../wire/proxy-reader.js';
import type { NegotiatedTls } from './terminate.js';

export type ConnectionMode = 'passthrough' | 'terminate' | 'http';

/** What the first bytes were: a ClientHello with a server name, one without, or not TLS at all. */
export type HelloKind = 'sni' | 'no_sni' | 'not_tls';

export interface AccessLine {
  readonly id: string;
  /** `203.0.113.9:51234`, `[2001:db8::1]:51234`; null when the client was gone before accept completed. */
  readonly client: string | null;
  readonly listener: string;
  readonly sni: string | null;
  /** The protocols the client offered, comma-separated, or null. */
  readonly alpn: string | null;
  /** Null when the sniffer reached no verdict (closed early, malformed, too large, timed out). */
  readonly hello: HelloKind | null;
  /** The route's name as written, `default`, or null when none was chosen. */
  readonly route: string | null;
  /** The backend that accepted the connection, or null. */
  readonly backend: string | null;
  /** Every backend dialed, in order (the last one is `backend` when one accepted). */
  readonly backends_tried: readonly string[];
  /** From the first dial to a backend accepting (or the last refusing), retries included; null when none was dialed. */
  readonly connect_ms: number | null;
  readonly mode: ConnectionMode;
  readonly bytes_in: number;
  readonly bytes_out: number;
  readonly duration_ms: number;
  readonly reason: CloseReason;
  readonly tls_version?: string;
  readonly cipher?: string;
  readonly alpn_negotiated?: string | null;
  readonly wire_bytes_in?: number;
  readonly wire_bytes_out?: number;
  readonly detail?: string;
  /** Which of the route's pools served it, when not its main one: `alpn acme-tls/1`, or `fallback`. */
  readonly pool?: string;
}

/** Longest name written to the log or listed; a hello may carry a 64 KiB "name" and the log should not. */
const MAX_LOGGED_CHARS = 255;

/** `text` cut to MAX_LOGGED_CHARS, marked with `…` where it was cut. */
export function clipLogged(text: string | null): string | null {
  return text !== null && text.length > MAX_LOGGED_CHARS ? `${text.slice(0, MAX_LOGGED_CHARS)}…` : text;
}


const roundMs = (ms: number): number => Math.round(ms * 1000) / 1000;

/** What a connection learns on its way, for its access line and its close metrics. */
export class ConnectionRecord {
  readonly startedAt = performance.now();
  /** Date.now() at accept, for people and for ordering across processes (the admin API's connection list). */
  readonly openedAt = Date.now();
  /** As received from the peer (or an inbound PROXY header): `::ffff:` forms kept, for the header we send on. */
  clientAddress: string;
  clientPort: number;
  localAddress: string;
  localPort: number;
  sni: string | null = null;
  alpn: readonly string[] = [];
  hello: HelloKind | null = null;
  match: RouteMatch | null = null;
  mode: ConnectionMode = 'passthrough';
  tls: NegotiatedTls | null = null;
  /** Terminate mode: the client's TCP socket, whose counters are the wire bytes. */
  wire: net.Socket | null = null;
  backend: string | null = null;
  readonly backendsTried: string[] = [];
  dialStartedAt = 0;
  connectMs: number | null = null;
  isOnFallback = false;
  bytesIn = 0;
  bytesOut = 0;
  detail: string | null = null;
  /** Bytes of the client's TCP stream read before this socket object existed (the native plane's peek). */
  wireBytesInBefore = 0;

  /** A socket, or what the native plane reports of one (its addresses as accepted). */
  constructor(socket: Pick<net.Socket, 'remoteAddress' | 'remotePort' | 'localAddress' | 'localPort'>) {
    // Captured at accept: node reports undefined for these once a socket has closed.
    this.clientAddress = socket.remoteAddress ?? '';
    this.clientPort = socket.remotePort ?? 0;
    this.localAddress = socket.localAddress ?? '';
    this.localPort = socket.localPort ?? 0;
  }

  /** A trusted peer's PROXY header: its client stands for the connection's (LOCAL or UNKNOWN: the peer's own). */
  adoptProxyHeader(header: InboundProxyHeader): void {
    const { source, destination } = header;
    if (source === null || destination === null) return;
    this.clientAddress = source.address;
    this.clientPort = source.port;
    this.localAddress = destination.address;
    this.localPort = destination.port;
  }

  /** Terminate mode from here: `wire` is the client's TCP socket, and bytes_in counts plaintext from now on. */
  terminating(wire: net.Socket): void {
    this.mode = 'terminate';
    this.wire = wire;
    this.bytesIn = 0;
  }

  get routeName(): string | null {
    return routeNameOf(this.match);
  }

  /** The address for people: IPv4 clients of dual-stack listeners as plain IPv4. */
  get client(): string | null {
    return this.clientAddress === '' ? null : formatEndpoint(displayAddress(this.clientAddress), this.clientPort);
  }

  dialing(label: string): void {
    if (this.backendsTried.length === 0) this.dialStartedAt = performance.now();
    this.backendsTried.push(label);
  }

  /** The dialing ended: with the backend that accepted, or null when none did. */
  dialed(label: string | null): void {
    this.backend = label;
    this.connectMs = roundMs(performance.now() - this.dialStartedAt);
  }

  durationMs(): number {
    return roundMs(performance.now() - this.startedAt);
  }

  /** Writes the access line and counts the close: once, when the connection closes. */
  write(logger: Logger, metrics: ConnectionMetrics, id: string, listener: string, reason: CloseReason): void {
    const durationMs = this.durationMs();
    logger.info(this.line(id, listener, reason, durationMs), 'connection closed');
    const { bytesIn, bytesOut } = this;
    metrics.closed({ listener, route: this.routeName, reason, bytesIn, bytesOut, durationMs });
  }

  line(id: string, listener: string, reason: CloseReason, durationMs: number): AccessLine {
    const sni = clipLogged(this.sni);
    const { tls, wire, match } = this;
    const pool = this.isOnFallback ? 'fallback' : match?.alpn ? `alpn ${match.alpn}` : undefined;
    return {
      id,
      client: this.client,
      listener,
      sni,
      alpn: this.alpn.length > 0 ? this.alpn.join(',') : null,
      hello: this.hello,
      route: this.routeName,
      backend: this.backend,
      backends_tried: this.backendsTried,
      connect_ms: this.connectMs,
      mode: this.mode,
      bytes_in: this.bytesIn,
      bytes_out: this.bytesOut,
      duration_ms: durationMs,
      reason,
      ...(tls !== null ? { tls_version: tls.version, cipher: tls.cipher, alpn_negotiated: tls.alpn } : {}),
      ...(wire !== null ? { wire_bytes_in: wire.bytesRead + this.wireBytesInBefore, wire_bytes_out: wire.bytesWritten } : {}),
      ...(this.detail !== null ? { detail: this.detail } : {}),
      ...(pool !== undefined ? { pool } : {}),
    };
  }
}
