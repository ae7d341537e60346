import type net from 'node:net';
import type { Logger } from 'pino';
import { ClientHelloReader } from '../wire/client-hello.js';
import { HelloBytes } from '../wire/hello-buffer.js';
import type { CloseReason } from '../ops/close-reason.js';
import { nextConnectionId } from '../ops/conn-id.js';
import { dial } from '../pools/dial.js';
import { encodeProxyHeader } from '../wire/proxy-header.js';
import { normalizeServerName } from '../wire/host-name.js';
import type { Pool } from '../pools/pool.js';
import type { Snapshot } from '../serve/snapshot.js';
import type { RouteMatch } from '../routing/route-table.js';
import { displayAddress } from '../wire/address.js';
import { isOutOfDescriptors } from '../ops/descriptors.js';
import { ProxyHeaderReader } from '../wire/proxy-reader.js';
import type tls from 'node:tls';
import {
  acceptTls,
  type BackendTlsProfile,
  connectBackendTls,
  type NegotiatedTls,
  negotiatedOf,
  refusalOf,
  type TerminateProfile,
} from './terminate.js';
import { type ConnectionMetrics, NO_METRICS } from '../ops/connection-metrics.js';
import { isAddressInAny } from '../wire/cidr.js';
import type { HttpProfile } from './http/http-proxy.js';
import type { HttpConnectionContext } from './http/context.js';

/** What a connection needs from the listener that accepted it. */
export interface ConnectionHost {
  readonly snapshot: Snapshot;
  readonly listenerLabel: string;
  readonly logger: Logger;
  /** Where accept, hello, connect and close are counted; absent = NO_METRICS (metrics off). */
  readonly metrics?: ConnectionMetrics;
  connectionClosed(connection: Connection): void;
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

export type ConnectionMode = 'passthrough' | 'terminate' | 'http';

/**
 * The per-connection state machine. States move forward only:
 *
 *   READING_PROXY  listeners with accept_proxy_protocol only: reading the PROXY header of a trusted peer (under
 *               timeouts.client_hello too); its client address replaces the peer's for logs, balancing and the
 *               header we send on; the bytes after it go to PEEKING
 *   PEEKING     reading the ClientHello under timeouts.client_hello; bytes are kept to forward later
 *   HANDSHAKING terminate routes only: the peeked bytes handed to a server-side TLS session on the client socket;
 *               waiting for the handshake to finish, under a fresh timeouts.client_hello (src/terminate.ts)
 *   CONNECTING  route chosen, client paused, dialing the pool's backends in turn under timeouts.connect
 *   SPLICING    header and peeked bytes sent; both directions copied with backpressure until both ends close
 *   SERVING_HTTP  terminate.http routes, after HANDSHAKING: the TLS socket belongs to the route's HTTP proxy
 *               (src/data-path/http/), which answers requests until the client leaves or a timeout cuts it
 *   CLOSED      close(reason) ran: both sockets destroyed, timers cleared, access line written
 */
const PEEKING = 0;
const CONNECTING = 1;
const SPLICING = 2;
const CLOSED = 3;
const HANDSHAKING = 4;
const READING_PROXY = 5;
const SERVING_HTTP = 6;
type State = typeof READING_PROXY | typeof PEEKING | typeof HANDSHAKING | typeof CONNECTING | typeof SPLICING | typeof SERVING_HTTP | typeof CLOSED;

// Socket handlers are module-level functions that find their connection through a symbol, so that accepting a
// connection allocates no closures (the ws library's habit).
const kConnection = Symbol('sni-router.connection');
type TaggedSocket = net.Socket & { [kConnection]: Connection };

/** Longest SNI written to the log; a hello may carry a 64 KiB "name" and the log should not. */
const MAX_LOGGED_SNI_CHARS = 255;

export class Connection {
  readonly id = nextConnectionId();
  private state: State = PEEKING;
  /** The client's stream: the accepted socket, or in terminate mode (from HANDSHAKING on) the TLSSocket over it. */
  private client: TaggedSocket;
  /** Terminate mode: the accepted socket under `client`; the TLS layer alone reads it. */
  private rawClient: net.Socket | null = null;
  private terminate: TerminateProfile | null = null;
  private tlsInfo: NegotiatedTls | null = null;
  /** Re-encryption writes the PROXY header before the backend's TLS handshake, so startSplice must not again. */
  private isHeaderSent = false;
  private backend: TaggedSocket | null = null;
  private readonly host: ConnectionHost;
  private readonly startedAt = performance.now();
  /** Captured at accept (node reports undefined for these once a socket has closed); a PROXY header replaces them. */
  private clientAddress: string;
  private clientPort: number;
  private rawClientAddress: string;
  private localAddress: string;
  private localPort: number;
  private proxyReader: ProxyHeaderReader | null = null;
  /** The order backends of `pool` are dialed in (src/pool.ts dialOrder); `attempt` indexes it. */
  private dialOrder: readonly number[] = [];
  private isOnFallback = false;

  private reader: ClientHelloReader | null;
  /** The hello's bytes as received, kept once (the reader holds views into them) until the route is chosen. */
  private helloBytes = new HelloBytes();
  /** Bytes to send the backend once it is up: the hello (from helloBytes), and client bytes that came after it. */
  private peeked: Buffer[] = [];
  private helloTimer: NodeJS.Timeout | null = null;

  private sni: string | null = null;
  private alpn: readonly string[] = [];
  private match: RouteMatch | null = null;
  private pool: Pool | null = null;
  private backendIndex = -1;
  private backendLabel: string | null = null;
  private dialing: net.Socket | null = null;
  private mode: ConnectionMode = 'passthrough';
  /** Client → backend bytes (including the peeked hello), and backend → client bytes. */
  private bytesIn = 0;
  private bytesOut = 0;
  private closedSockets = 0;
  private clientEnded = false;
  private detail: string | null = null;
  private readonly metrics: ConnectionMetrics;
  /** When the route was chosen: the start of the backend connect time. */
  private routedAt = 0;

  constructor(client: net.Socket, host: ConnectionHost) {
    this.client = client as TaggedSocket;
    this.client[kConnection] = this;
    this.host = host;
    this.metrics = host.metrics ?? NO_METRICS;
    this.metrics.accepted(host.listenerLabel);
    this.rawClientAddress = client.remoteAddress ?? '';
    this.clientAddress = displayAddress(this.rawClientAddress);
    this.clientPort = client.remotePort ?? 0;
    this.localAddress = client.localAddress ?? '';
    this.localPort = client.localPort ?? 0;
    client.on('error', clientOnError);
    client.on('data', clientOnData);
    client.on('end', clientOnEnd);
    client.on('close', clientOnClose);
    client.on('drain', clientOnDrain);
    client.on('timeout', clientOnTimeout);
    const config = host.snapshot.config;
    this.reader = new ClientHelloReader({ maxHelloBytes: config.maxHelloBytes });
    if (this.rawClientAddress === '') {
      // The client was gone before we saw it (reset right after accept): nothing to route, nothing to report to.
      this.close('client_reset', 'closed before accept completed');
      return;
    }
    this.helloTimer = setTimeout(helloTimedOut, config.timeouts.clientHelloMs, this);
    if (host.inboundProxy) {
      // Never trust a header from a peer outside the trusted networks: close before reading a byte.
      if (host.inboundProxy === 'untrusted') {
        this.close('proxy_rejected', `peer ${this.clientAddress} is not in accept_proxy_protocol.trusted`);
        return;
      }
      this.state = READING_PROXY;
      this.proxyReader = new ProxyHeaderReader();
    }
  }

  /** Ends the connection. Safe to call any number of times: only the first call acts and logs. */
  close(reason: CloseReason, detail?: string): void {
    if (this.state === CLOSED) return;
    this.state = CLOSED;
    this.host.helloFinished?.();
    this.proxyReader = null;
    if (detail !== undefined) this.detail = detail;
    if (this.helloTimer) clearTimeout(this.helloTimer);
    this.helloTimer = null;
    this.reader = null;
    this.peeked = [];
    this.helloBytes.clear();
    this.client.destroy();
    this.rawClient?.destroy();
    this.backend?.destroy();
    this.dialing?.destroy();
    if (this.pool && this.backendIndex >= 0 && this.backend) this.pool.release(this.backendIndex);
    this.writeAccessLine(reason);
    this.host.connectionClosed(this);
  }

  get isClosed(): boolean {
    return this.state === CLOSED;
  }

  // ---- PEEKING ---------------------------------------------------------------------------------------------

  /** @internal */
  onClientData(chunk: Buffer): void {
    if (this.state === READING_PROXY) {
      this.onProxyData(chunk);
      return;
    }
    this.bytesIn += chunk.length;
    if (this.state === SPLICING) {
      // Backpressure: stop reading the client until the backend's buffer drains.
      if (!this.backend!.write(chunk)) this.client.pause();
      return;
    }
    if (this.mode === 'terminate') {
      // Plaintext before SPLICING (a request right behind the client's Finished): kept, and sent with the header.
      if (this.state !== CLOSED) this.peeked.push(chunk);
      return;
    }
    if (this.state !== PEEKING || !this.reader) return;
    const stored = this.helloBytes.append(chunk);
    // Charged before it is read: over limits.max_hello_bytes_total the oldest pending hellos close, maybe this one.
    this.host.helloHolds?.(this.helloBytes.heldBytes);
    if (this.state !== PEEKING) return;
    const result = this.reader.push(stored);
    if (result.kind !== 'need_more') this.peeked = this.helloBytes.take();
    switch (result.kind) {
      case 'need_more':
        return;
      case 'hello':
        this.sni = result.hello.sni;
        this.alpn = result.hello.alpn;
        this.metrics.hello(this.sni === null ? 'no_sni' : 'sni_found', result.hello.byteLength);
        this.route(this.sni);
        return;
      case 'not_tls':
        // Not a TLS handshake at all: SPEC sends it to the default pool when one is set.
        this.metrics.hello('not_tls', 0);
        if (this.host.snapshot.config.defaultPool) this.route(null);
        else this.close('not_tls');
        return;
      case 'too_large':
        this.metrics.hello('too_large', this.bytesIn);
        this.close('hello_too_large', `hello larger than ${this.host.snapshot.config.maxHelloBytes} bytes`);
        return;
      case 'malformed':
        this.metrics.hello('malformed', this.bytesIn);
        // At debug, the bytes as hex, ready to paste into fixtures/ so a bad hello seen in the field becomes a test.
        if (this.host.logger.isLevelEnabled('debug')) {
          this.host.logger.debug({ id: this.id, reason: result.reason, hex: Buffer.concat(this.peeked).toString('hex') }, 'malformed hello bytes');
        }
        this.close('hello_malformed', result.reason);
        return;
    }
  }

  /** @internal */
  onHelloTimeout(): void {
    this.helloTimer = null;
    if (this.state === PEEKING) {
      this.metrics.hello('timeout', this.bytesIn);
      this.close('hello_timeout', `no complete ClientHello within ${this.host.snapshot.config.timeouts.clientHelloMs} ms`);
    } else if (this.state === HANDSHAKING) this.close('hello_timeout', `TLS handshake not done within ${this.host.snapshot.config.timeouts.clientHelloMs} ms`);
    else if (this.state === READING_PROXY) this.close('hello_timeout', `no complete PROXY header within ${this.host.snapshot.config.timeouts.clientHelloMs} ms`);
  }

  // ---- READING_PROXY ---------------------------------------------------------------------------------------

  /** Bytes of a trusted peer before its PROXY header is complete; what follows the header goes to PEEKING. */
  private onProxyData(chunk: Buffer): void {
    const result = this.proxyReader!.push(chunk);
    if (result.kind === 'need_more') return;
    this.proxyReader = null;
    if (result.kind === 'malformed') {
      const what = result.reason === 'not_proxy' ? 'no PROXY header from a trusted peer' : 'malformed PROXY header';
      this.close('proxy_rejected', `${what}: ${result.reason}`);
      return;
    }
    const { source, destination } = result.header;
    // LOCAL (or v1 UNKNOWN): the peer speaks for itself, so the connection's own addresses stand.
    if (source !== null && destination !== null) {
      this.rawClientAddress = source.address;
      this.clientAddress = displayAddress(source.address);
      this.clientPort = source.port;
      this.localAddress = destination.address;
      this.localPort = destination.port;
    }
    this.state = PEEKING;
    if (result.rest.length > 0) this.onClientData(result.rest);
  }

  // ---- CONNECTING ------------------------------------------------------------------------------------------

  private route(serverName: string | null): void {
    if (this.helloTimer) clearTimeout(this.helloTimer);
    this.helloTimer = null;
    this.reader = null;
    this.client.pause();
    this.host.helloHolds?.(0); // the hello's bytes now wait for a backend (or the TLS layer), not for more bytes
    let match: RouteMatch | null;
    try {
      match = this.host.snapshot.table.lookup(serverName, this.alpn);
    } catch (error) {
      // A table built from a validated config should never throw; if one ever does, it costs this connection only.
      this.close('no_route', `route lookup failed: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    if (!match) {
      this.close('no_route');
      return;
    }
    this.match = match;
    this.state = CONNECTING;
    this.routedAt = performance.now();
    this.pool = this.host.snapshot.pool(match.pool);
    const profile = match.route?.terminate ? this.host.snapshot.terminateProfile(match.route) : null;
    if (profile) {
      // The handshake stays in the hello phase: a stalled handshake holds a slot just as a stalled hello does.
      this.startHandshake(profile);
      return;
    }
    this.host.helloFinished?.();
    this.startDialing();
  }

  // ---- HANDSHAKING (terminate routes) ---------------------------------------------------------------------

  private startHandshake(profile: TerminateProfile): void {
    this.state = HANDSHAKING;
    this.mode = 'terminate';
    this.terminate = profile;
    const raw = this.client;
    // From here the TLS layer reads the raw socket; a 'data' handler or a resume() there would steal its bytes.
    raw.removeListener('data', clientOnData);
    raw.removeListener('end', clientOnEnd);
    raw.removeListener('close', clientOnClose);
    raw.removeListener('drain', clientOnDrain);
    raw.removeListener('timeout', clientOnTimeout);
    this.rawClient = raw;
    profile.context.useLogger(this.host.logger); // certificate reloads log through the router's logger
    const secure = acceptTls(raw, this.peeked, profile) as tls.TLSSocket & TaggedSocket;
    this.peeked = [];
    this.bytesIn = 0; // in terminate mode the counters count plaintext
    secure[kConnection] = this;
    this.client = secure;
    secure.on('error', clientOnTlsError);
    secure.on('close', clientOnClose);
    secure.once('secure', clientOnSecure);
    // Flowing while the handshake runs, so that a client leaving mid-handshake is seen ('end' needs a reader);
    // there is no plaintext before 'secure', and onClientData keeps any that comes before SPLICING.
    secure.on('data', clientOnData);
    secure.on('end', clientOnEnd);
    this.helloTimer = setTimeout(helloTimedOut, this.host.snapshot.config.timeouts.clientHelloMs, this);
  }

  /** @internal The client's handshake is done: check its certificate (mTLS), then dial as passthrough does. */
  onSecure(): void {
    if (this.state !== HANDSHAKING) return;
    const secure = this.client as tls.TLSSocket & TaggedSocket;
    const profile = this.terminate!;
    this.tlsInfo = negotiatedOf(secure, profile);
    const refusal = refusalOf(secure, profile, this.tlsInfo);
    if (refusal !== null) {
      this.close('client_reset', refusal);
      return;
    }
    if (this.helloTimer) clearTimeout(this.helloTimer);
    this.helloTimer = null;
    this.host.helloFinished?.();
    if (profile.http) {
      this.serveHttp(secure, profile.http);
      return;
    }
    // Plaintext waits in the TLS socket until the backend is up.
    secure.pause();
    secure.on('drain', clientOnDrain);
    secure.on('timeout', clientOnTimeout);
    this.state = CONNECTING;
    this.startDialing();
  }

  // ---- SERVING_HTTP (terminate.http routes) ---------------------------------------------------------------

  /** Why an HTTP-mode connection ended, when not `done` (a request/header timeout, an oversized head). */
  private httpCloseReason: CloseReason | null = null;

  /**
   * Hands the TLS socket to the route's HTTP proxy, which owns it from here (its own data/end/error handling);
   * this connection keeps only 'close', for its access line. Synchronous within 'secure', so no plaintext has
   * been read meanwhile; any that was (kept in `peeked`) goes with it.
   */
  private serveHttp(secure: tls.TLSSocket & TaggedSocket, http: HttpProfile): void {
    this.state = SERVING_HTTP;
    this.mode = 'http';
    secure.removeListener('data', clientOnData);
    secure.removeListener('end', clientOnEnd);
    const leftover = this.peeked.length > 0 ? Buffer.concat(this.peeked) : null;
    this.peeked = [];
    const peer = (this.rawClient ?? secure).remoteAddress ?? '';
    const isPeerTrusted = this.host.inboundProxy === 'trusted' || isAddressInAny(peer, http.settings.trustedForwarders);
    const context: HttpConnectionContext = {
      connectionId: this.id,
      clientAddress: this.clientAddress,
      clientPort: this.clientPort,
      isPeerTrusted,
      localPort: this.localPort,
      route: this.match?.route?.name ?? 'default',
      pool: this.pool!,
      logger: this.host.logger,
      addressFor: (backend) => this.host.snapshot.addressFor(backend),
      countBytes: (bytesIn, bytesOut) => {
        this.bytesIn += bytesIn;
        this.bytesOut += bytesOut;
      },
      usedBackend: (label) => {
        this.backendLabel = label;
      },
      setCloseReason: (reason, detail) => {
        if (reason !== null) this.httpCloseReason = reason;
        this.detail = detail;
      },
    };
    http.serve(secure, context, leftover);
  }

  /** @internal */
  onTlsError(error: NodeJS.ErrnoException): void {
    // HTTP mode: the proxy's server handles the socket's errors; the close that follows ends this connection.
    if (this.state === SERVING_HTTP) return;
    if (this.isLeavingAfterExchange(error)) return;
    const what = this.state === HANDSHAKING ? 'TLS handshake failed' : 'TLS error';
    this.close('client_reset', `${what}: ${error.code ?? error.message}`);
  }

  /**
   * @internal A terminated client that got its answer and left without close_notify (wget, python's ssl, many
   * HTTP/1.1 clients): it closes with our TLS session ticket or the backend's last bytes unread, so the kernel
   * resets instead of a FIN. After a request and a response went through, with nothing left to send it, that is
   * the end of the exchange, not a failure: closed as `done` (true when it did so).
   */
  isLeavingAfterExchange(error: NodeJS.ErrnoException): boolean {
    // HTTP mode: each request's line says how it ended; the socket's 'close' follows and ends the connection.
    if (this.state === SERVING_HTTP) {
      this.detail = error.code ?? error.message;
      return true;
    }
    if (this.mode !== 'terminate' || this.state !== SPLICING) return false;
    if (error.code !== 'ECONNRESET' && error.code !== 'EPIPE') return false;
    if (this.bytesIn === 0 || this.bytesOut === 0 || this.client.writableLength > 0) return false;
    this.close('done', 'client left without close_notify');
    return true;
  }

  // ---- CONNECTING ------------------------------------------------------------------------------------------

  /**
   * Dials the pool's available backends in balancer order. A pool with every backend down goes to the route's
   * fallback pool when it has one; otherwise its down backends are tried anyway (one may be back).
   */
  private startDialing(): void {
    const pool = this.pool!;
    let order = pool.dialOrder(this.clientAddress);
    if (order.length === 0) {
      if (this.switchToFallback('every backend of the pool is down')) return;
      order = pool.lastResortOrder();
    }
    this.dialOrder = order;
    this.tryBackend(order[0] ?? 0, 0);
  }

  /** Moves to the route's fallback pool (once); false when there is none or it is already in use. */
  private switchToFallback(why: string): boolean {
    const fallback = this.match?.fallback;
    if (!fallback || this.isOnFallback) return false;
    this.isOnFallback = true;
    this.host.logger.debug({ id: this.id, route: this.match?.route?.name ?? null, why }, 'using the fallback pool');
    this.pool = this.host.snapshot.pool(fallback);
    this.startDialing();
    return true;
  }

  /** A dial attempt failed: mark the backend down (passive health), then the next backend, the fallback, or close. */
  private onBackendFailed(index: number, attempt: number, message: string): void {
    const label = this.pool!.backendAt(index).label;
    this.host.logger.debug({ id: this.id, backend: label, err: message }, 'backend attempt failed');
    this.pool!.health.reportDialFailure(label, message);
    const next = this.dialOrder[attempt + 1];
    if (next !== undefined) this.tryBackend(next, attempt + 1);
    else if (!this.switchToFallback(`every backend failed; last: ${message}`)) this.close('backend_unavailable', message);
  }

  private tryBackend(index: number, attempt: number): void {
    const pool = this.pool!;
    const backend = pool.backendAt(index);
    this.backendLabel = backend.label;
    this.dialing = dial(backend, this.host.snapshot.config.timeouts.connectMs, (error, socket) => {
      this.dialing = null;
      if (this.state === CLOSED) {
        socket?.destroy();
        return;
      }
      if (error || !socket) {
        const code = errorCodeOf(error?.cause);
        if (isOutOfDescriptors(code)) {
          // Our shortage, not the backend's: it stays up, and the other backends would fail the same way.
          this.host.outOfDescriptors?.(code!);
          this.close('backend_unavailable', `out of file descriptors (${code}) dialing ${backend.label}`);
          return;
        }
        this.onBackendFailed(index, attempt, error?.message ?? 'no backend');
        return;
      }
      pool.health.reportDialSuccess(backend.label);
      const backendTls = this.terminate?.backendTls;
      if (backendTls) this.secureBackend(socket, backendTls, index, attempt);
      else this.onBackendReady(socket, index);
    }, this.host.snapshot.addressFor(backend));
  }

  /** The backend at `index` is connected (and, with backend_tls, its TLS is up): count it and start splicing. */
  private onBackendReady(socket: net.Socket, index: number): void {
    const pool = this.pool!;
    this.backendIndex = index % pool.size;
    pool.acquire(this.backendIndex);
    this.metrics.backendConnected(this.match!.route?.name ?? 'default', performance.now() - this.routedAt);
    this.startSplice(socket);
  }

  /**
   * Re-encryption (terminate.backend_tls): the PROXY header goes in clear on the TCP connection, then TLS runs over
   * it; a failed or unverified backend handshake counts as a failed attempt, so the next backend is tried.
   */
  private secureBackend(socket: net.Socket, profile: BackendTlsProfile, index: number, attempt: number): void {
    const header = this.proxyHeader();
    if (header) socket.write(header);
    this.isHeaderSent = true;
    this.dialing = socket;
    const servername = this.sni === null ? null : normalizeServerName(this.sni);
    const connectMs = this.host.snapshot.config.timeouts.connectMs;
    connectBackendTls(socket, profile, servername, this.tlsInfo?.alpn ?? null, connectMs, (error, secured) => {
      this.dialing = null;
      if (this.state === CLOSED) {
        secured?.destroy();
        return;
      }
      if (error || !secured) {
        this.onBackendFailed(index, attempt, error?.message ?? 'no backend');
        return;
      }
      this.onBackendReady(secured, index);
    });
  }

  // ---- SPLICING --------------------------------------------------------------------------------------------

  private startSplice(socket: net.Socket): void {
    const backend = socket as TaggedSocket;
    backend[kConnection] = this;
    this.backend = backend;
    backend.on('error', backendOnError);
    backend.on('data', backendOnData);
    backend.on('end', backendOnEnd);
    backend.on('close', backendOnClose);
    backend.on('drain', backendOnDrain);

    // Header and hello leave in one segment where the kernel allows: cork, write all, uncork.
    backend.cork();
    const header = this.isHeaderSent ? null : this.proxyHeader();
    if (header) backend.write(header);
    let writable = true;
    for (const chunk of this.peeked) writable = backend.write(chunk);
    if (this.clientEnded) backend.end();
    backend.uncork();
    this.peeked = [];
    this.state = SPLICING;
    const idleMs = this.host.snapshot.config.timeouts.idleMs;
    // The client socket sees every byte either way, so its inactivity timer is the connection's idle timer.
    if (idleMs > 0) this.client.setTimeout(idleMs);
    if (writable) this.client.resume();
  }

  /** The PROXY header for the chosen pool, or null; in terminate mode with the negotiated ALPN and TLS version. */
  private proxyHeader(): Buffer | null {
    const pool = this.pool!;
    if (pool.config.proxyProtocol === 'none') return null;
    const tlsInfo = this.tlsInfo;
    return encodeProxyHeader(pool.config.proxyProtocol, {
      source: { address: this.rawClientAddress, port: this.clientPort },
      destination: { address: this.localAddress, port: this.localPort },
      authority: this.sni === null ? null : normalizeServerName(this.sni),
      uniqueId: this.id,
      alpn: tlsInfo?.alpn ?? null,
      ssl: tlsInfo
        ? { version: tlsInfo.version, hasClientCert: tlsInfo.hasClientCert, clientCertVerified: tlsInfo.clientCertVerified }
        : null,
    });
  }

  /**
   * @internal The backend's socket failed. A reset before it sent a single byte, after it accepted, is the backend
   * refusing the connection (a crashed worker behind a live accept queue, an overloaded server): passive health
   * counts it like a refused connect, so the balancer stops sending it every other client.
   */
  onBackendError(error: NodeJS.ErrnoException): void {
    const code = error.code ?? error.message;
    if (this.state === SPLICING && this.bytesOut === 0 && (code === 'ECONNRESET' || code === 'EPIPE') && this.backendLabel !== null) {
      this.pool?.health.reportDialFailure(this.backendLabel, `reset before its first byte (${code})`);
    }
    this.close('backend_reset', code);
  }

  /** @internal */
  onBackendData(chunk: Buffer): void {
    this.bytesOut += chunk.length;
    if (!this.client.write(chunk)) this.backend!.pause();
  }

  /** @internal */
  onClientDrain(): void {
    this.backend?.resume();
  }

  /** @internal */
  onBackendDrain(): void {
    if (this.state === SPLICING) this.client.resume();
  }

  /** @internal Half-close: a FIN from the client is passed on, the other direction stays open. */
  onClientEnd(): void {
    if (this.state === SPLICING) this.backend!.end();
    // A client may send its hello, its request and its FIN in one go: remember the FIN for when the backend is up.
    else if (this.state === CONNECTING) this.clientEnded = true;
    else if (this.state === HANDSHAKING) this.close('client_reset', 'client left during the TLS handshake');
    else this.close('client_reset', 'client closed before its ClientHello was complete');
  }

  /** @internal */
  onBackendEnd(): void {
    this.client.end();
  }

  /** @internal A socket is fully closed; once both are, without error, the connection is done. */
  onSocketClose(): void {
    if (this.state === HANDSHAKING) this.close('client_reset', 'client left during the TLS handshake');
    if (this.state === SERVING_HTTP) this.close(this.httpCloseReason ?? 'done');
    if (this.state !== SPLICING) return;
    this.closedSockets++;
    if (this.closedSockets === 2) this.close('done');
  }

  // ---- CLOSED ----------------------------------------------------------------------------------------------

  private writeAccessLine(reason: CloseReason): void {
    const sni = this.sni !== null && this.sni.length > MAX_LOGGED_SNI_CHARS ? `${this.sni.slice(0, MAX_LOGGED_SNI_CHARS)}…` : this.sni;
    const match = this.match;
    const listener = this.host.listenerLabel;
    const route = match ? (match.route ? match.route.name : 'default') : null;
    const durationMs = Math.round((performance.now() - this.startedAt) * 1000) / 1000;
    const line: Record<string, unknown> = {
      id: this.id,
      // A client gone before accept completed has no address left to show: null, not ":0".
      client: this.clientAddress === '' ? null : `${this.clientAddress}:${this.clientPort}`,
      listener,
      sni,
      alpn: this.alpn.length > 0 ? this.alpn.join(',') : null,
      route,
      backend: this.backend || this.mode === 'http' ? this.backendLabel : null,
      mode: this.mode,
      bytes_in: this.bytesIn,
      bytes_out: this.bytesOut,
      duration_ms: durationMs,
      reason,
    };
    if (this.tlsInfo !== null) {
      line.tls_version = this.tlsInfo.version;
      line.cipher = this.tlsInfo.cipher;
      line.alpn_negotiated = this.tlsInfo.alpn;
    }
    if (this.detail !== null) line.detail = this.detail;
    // Which of the route's pools served it, when not its main one: `alpn acme-tls/1`, or `fallback`.
    if (this.isOnFallback) line.pool = 'fallback';
    else if (match?.alpn) line.pool = `alpn ${match.alpn}`;
    this.host.logger.info(line, 'connection closed');
    this.metrics.closed({ listener, route, reason, bytesIn: this.bytesIn, bytesOut: this.bytesOut, durationMs });
  }
}

function clientOnData(this: TaggedSocket, chunk: Buffer): void {
  this[kConnection].onClientData(chunk);
}
function clientOnEnd(this: TaggedSocket): void {
  this[kConnection].onClientEnd();
}
function clientOnDrain(this: TaggedSocket): void {
  this[kConnection].onClientDrain();
}
function clientOnClose(this: TaggedSocket): void {
  this[kConnection].onSocketClose();
}
function clientOnError(this: TaggedSocket, error: NodeJS.ErrnoException): void {
  if (this[kConnection].isLeavingAfterExchange(error)) return;
  this[kConnection].close('client_reset', error.code ?? error.message);
}
function clientOnSecure(this: TaggedSocket): void {
  this[kConnection].onSecure();
}
function clientOnTlsError(this: TaggedSocket, error: NodeJS.ErrnoException): void {
  this[kConnection].onTlsError(error);
}
function clientOnTimeout(this: TaggedSocket): void {
  this[kConnection].close('idle_timeout');
}
function backendOnData(this: TaggedSocket, chunk: Buffer): void {
  this[kConnection].onBackendData(chunk);
}
function backendOnEnd(this: TaggedSocket): void {
  this[kConnection].onBackendEnd();
}
function backendOnDrain(this: TaggedSocket): void {
  this[kConnection].onBackendDrain();
}
function backendOnClose(this: TaggedSocket): void {
  this[kConnection].onSocketClose();
}
function backendOnError(this: TaggedSocket, error: NodeJS.ErrnoException): void {
  this[kConnection].onBackendError(error);
}
function errorCodeOf(cause: unknown): string | undefined {
  return cause instanceof Error ? (cause as NodeJS.ErrnoException).code : undefined;
}
function helloTimedOut(connection: Connection): void {
  connection.onHelloTimeout();
}
