/**
 * A connection on a plain-HTTP listener (`listen: [{ address: ":80", http: redirect | route }]`): the request head
 * is read with the HTTP sniffer under timeouts.client_hello, then either answered by the router itself (a 308 to
 * https://, or a short 4xx/5xx) or routed by Host through the same route table as TLS names and forwarded to the
 * route's pool byte-for-byte — the head already read, then the rest — after a PROXY header where the pool says.
 *
 *   READING    reading the request head; its bytes are kept to forward later
 *   CONNECTING route chosen from Host, client paused, dialing the pool's backends in turn under timeouts.connect
 *   SPLICING   header and head sent; the Splice (splice.ts) copies both ways, as for TLS routes, and says how it ended
 *   ANSWERED   the router wrote its own response and its FIN; what the client still sends is read and dropped
 *              (closing with unread bytes would make the kernel send a RST that can destroy the response in flight)
 *   CLOSED     close(reason) ran: sockets destroyed, timers cleared, access line written
 *
 * One connection, one route: the first request's Host picks the backend, and later requests on a kept-alive
 * connection go the same way, as in sniproxy's HTTP mode (browsers keep one connection per host anyway).
 */
import type net from 'node:net';
import type { CloseReason } from '../ops/close-reason.js';
import { nextConnectionId } from '../ops/conn-id.js';
import { dial } from '../pools/dial.js';
import { encodeProxyHeader } from '../wire/proxy-header.js';
import { Splice, type ByteCounts, type SpliceEnd, type SpliceOwner } from './splice.js';
import { normalizeServerName } from '../wire/host-name.js';
import type { Pool } from '../pools/pool.js';
import { type RouteMatch, routeNameOf } from '../routing/route-table.js';
import { displayAddress, formatEndpoint } from '../wire/address.js';
import { isOutOfDescriptors } from '../ops/descriptors.js';
import { type HttpHostReader, type HttpRequestHead, splitHostAndPort } from '../wire/http-host-reader.js';
import { newHeadReader, plainHttpResponse } from '../wire/http-sniffer.js';
import { type ConnectionMetrics, NO_METRICS } from '../ops/connection-metrics.js';
import { DEFAULT_HTTPS_PORT, type PlainHttpMode } from '../config/types.js';
import type { ConnectionHost } from './connection-host.js';
import { ageSeconds, type ConnectionInfo, type ConnectionState, type ListedMode } from './connection-info.js';
import { clipLogged } from './access-line.js';

/** The listener's side of a plain-HTTP connection: as for TLS connections, with this class in the callbacks. */
export type PlainHttpHost = Omit<ConnectionHost<PlainHttpConnection>, 'inboundProxy'>;

export interface PlainHttpSettings {
  readonly mode: PlainHttpMode;
  /** Where redirects point; 443 is left out of the Location. */
  readonly httpsPort: number;
}

/** RFC 8555 §8.3: the HTTP-01 challenge path, which a redirect listener routes instead of redirecting. */
export const ACME_CHALLENGE_PREFIX = '/.well-known/acme-challenge/';
/** After the router's own answer, how long the client may take to close before we do (lingering close). */
const MAX_LINGER_MS = 2_000;

const READING = 0;
const CONNECTING = 1;
const SPLICING = 2;
const ANSWERED = 3;
const CLOSED = 4;
type State = typeof READING | typeof CONNECTING | typeof SPLICING | typeof ANSWERED | typeof CLOSED;
/** The states by name, for the admin API's connection list. */
const STATE_NAMES: Readonly<Record<State, ConnectionState>> = { [READING]: 'reading', [CONNECTING]: 'connecting', [SPLICING]: 'splicing', [ANSWERED]: 'answered', [CLOSED]: 'closing' };

const kConnection = Symbol('sni-router.plain-http-connection');
type TaggedSocket = net.Socket & { [kConnection]: PlainHttpConnection };

export class PlainHttpConnection implements SpliceOwner {
  readonly id = nextConnectionId();
  private state: State = READING;
  private readonly client: TaggedSocket;
  private backend: net.Socket | null = null;
  private dialing: net.Socket | null = null;
  private readonly host: PlainHttpHost;
  private readonly settings: PlainHttpSettings;
  private readonly metrics: ConnectionMetrics;
  private readonly startedAt = performance.now();
  private readonly openedAt = Date.now();
  private routedAt = 0;
  private readonly rawClientAddress: string;
  private readonly clientAddress: string;
  private readonly clientPort: number;
  private readonly localAddress: string;
  private readonly localPort: number;
  private reader: HttpHostReader | null;
  /** The head's bytes as received (and any that follow before the backend is up), forwarded as they are. */
  private peeked: Buffer[] = [];
  private peekedBytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private request: HttpRequestHead | null = null;
  /** The Host's name, canonical (lower case, no trailing dot), when it is a host name. */
  private serverName: string | null = null;
  private status: number | null = null;
  private match: RouteMatch | null = null;
  private pool: Pool | null = null;
  private dialOrder: readonly number[] = [];
  private isOnFallback = false;
  private backendIndex = -1;
  private backendLabel: string | null = null;
  /** Shared with the splice, which adds what it copies. */
  private readonly counts: ByteCounts = { bytesIn: 0, bytesOut: 0 };
  private clientEnded = false;
  private detail: string | null = null;

  constructor(client: net.Socket, host: PlainHttpHost, settings: PlainHttpSettings) {
    this.client = client as TaggedSocket;
    this.client[kConnection] = this;
    this.host = host;
    this.settings = settings;
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
    // The head reader itself, not the sniffer's verdict: a redirect needs the method and target as well as Host.
    this.reader = newHeadReader({ maxBytes: host.snapshot.maxHelloBytes });
    if (this.rawClientAddress === '') {
      this.close('client_reset', 'closed before accept completed');
      return;
    }
    this.timer = setTimeout(headTimedOut, host.snapshot.timeouts.clientHelloMs, this);
  }

  get isClosed(): boolean {
    return this.state === CLOSED;
  }

  /** What the admin API lists about this connection now (connection-info.ts); `sni` is the Host's name. */
  info(now = performance.now()): ConnectionInfo {
    return {
      id: this.id,
      client: this.clientAddress === '' ? null : formatEndpoint(this.clientAddress, this.clientPort),
      listener: this.host.listenerLabel,
      sni: this.serverName,
      route: routeNameOf(this.match),
      backend: this.backend ? this.backendLabel : null,
      mode: this.mode,
      state: STATE_NAMES[this.state],
      opened_at: new Date(this.openedAt).toISOString(),
      age_s: ageSeconds(this.startedAt, now),
      bytes_in: this.counts.bytesIn,
      bytes_out: this.counts.bytesOut,
    };
  }

  /** `mode` on its access line and in the admin API's list. */
  private get mode(): ListedMode {
    return this.settings.mode === 'redirect' ? 'http_redirect' : 'http';
  }

  /** Ends the connection. Safe to call any number of times: only the first call acts and logs. */
  close(reason: CloseReason, detail?: string): void {
    if (this.state === CLOSED) return;
    this.state = CLOSED;
    this.host.helloFinished?.();
    if (detail !== undefined) this.detail = detail;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.reader = null;
    this.peeked = [];
    this.client.destroy();
    this.backend?.destroy();
    this.dialing?.destroy();
    if (this.pool && this.backendIndex >= 0 && this.backend) this.pool.release(this.backendIndex);
    this.writeAccessLine(reason);
    this.host.connectionClosed(this);
  }

  // ---- READING ---------------------------------------------------------------------------------------------

  /** @internal */
  onClientData(chunk: Buffer): void {
    if (this.state === ANSWERED) return; // the rest of a request we already answered: dropped
    this.counts.bytesIn += chunk.length;
    this.peeked.push(chunk);
    this.peekedBytes += chunk.length;
    if (this.state !== READING || !this.reader) return;
    this.host.helloHolds?.(this.peekedBytes);
    if (this.state !== READING) return;
    const result = this.reader.push(chunk);
    switch (result.kind) {
      case 'need_more':
        return;
      case 'request':
        this.reader = null;
        this.onRequest(result.request);
        return;
      case 'not_http':
        this.answer(400, 'Bad Request', 'this port speaks plain HTTP/1.x\n', 'http_bad_request', 'not an HTTP/1.x request');
        return;
      case 'too_large':
        this.answer(431, 'Request Header Fields Too Large', 'request head too large\n', 'hello_too_large', `request head larger than ${this.host.snapshot.maxHelloBytes} bytes`);
        return;
      case 'malformed':
        this.answer(400, 'Bad Request', 'bad request\n', 'http_bad_request', result.reason);
        return;
    }
  }

  /** @internal */
  onTimeout(): void {
    this.timer = null;
    if (this.state === READING) this.close('hello_timeout', `no complete request head within ${this.host.snapshot.timeouts.clientHelloMs} ms`);
    else if (this.state === ANSWERED) this.close(this.answeredReason, this.detail ?? undefined);
  }

  private onRequest(request: HttpRequestHead): void {
    this.request = request;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.client.pause();
    this.host.helloHolds?.(0);
    if (request.host === null) {
      this.answer(400, 'Bad Request', 'a Host header is required\n', 'http_bad_request', 'missing_host');
      return;
    }
    const hostAndPort = splitHostAndPort(request.host);
    if (hostAndPort === null) {
      this.answer(400, 'Bad Request', 'the Host header is not a host name\n', 'http_bad_request', 'bad_host');
      return;
    }
    this.serverName = hostAndPort.isIpv6 ? null : normalizeServerName(hostAndPort.name);
    const path = pathOf(request.target);
    if (this.settings.mode === 'redirect' && !path.startsWith(ACME_CHALLENGE_PREFIX)) {
      const name = hostAndPort.isIpv6 ? `[${hostAndPort.name}]` : hostAndPort.name.toLowerCase();
      const port = this.settings.httpsPort === DEFAULT_HTTPS_PORT ? '' : `:${this.settings.httpsPort}`;
      const location = `https://${name}${port}${path}`;
      this.answer(308, 'Permanent Redirect', `${location}\n`, 'redirected', null, `Location: ${location}\r\n`);
      return;
    }
    this.route();
  }

  private answeredReason: CloseReason = 'done';

  /**
   * The router's own response; then FIN, and the client's remaining bytes are read and dropped until it closes
   * (or MAX_LINGER_MS), so the response is not lost to a RST.
   */
  private answer(status: number, reason: string, body: string, closeReason: CloseReason, detail: string | null, headers = ''): void {
    this.reader = null;
    if (this.timer) clearTimeout(this.timer);
    this.host.helloFinished?.();
    this.host.helloHolds?.(0);
    this.status = status;
    this.answeredReason = closeReason;
    if (detail !== null) this.detail = detail;
    this.peeked = [];
    this.state = ANSWERED;
    const response = plainHttpResponse(status, reason, body, headers);
    this.counts.bytesOut += response.length;
    this.client.end(response);
    this.client.resume();
    this.timer = setTimeout(headTimedOut, Math.min(MAX_LINGER_MS, this.host.snapshot.timeouts.clientHelloMs), this);
  }

  // ---- CONNECTING ------------------------------------------------------------------------------------------

  private route(): void {
    let match: RouteMatch | null;
    try {
      match = this.host.snapshot.lookup(this.serverName, []);
    } catch (error) {
      match = null;
      this.detail = `route lookup failed: ${error instanceof Error ? error.message : String(error)}`;
    }
    if (!match) {
      this.answer(404, 'Not Found', 'no route for this host\n', 'no_route', this.detail);
      return;
    }
    this.host.helloFinished?.();
    this.match = match;
    this.state = CONNECTING;
    this.routedAt = performance.now();
    this.pool = this.host.snapshot.pool(match.pool);
    this.startDialing();
  }

  private startDialing(): void {
    const pool = this.pool!;
    let order = pool.dialOrder(this.clientAddress);
    if (order.length === 0) {
      if (this.switchToFallback()) return;
      order = pool.lastResortOrder();
    }
    this.dialOrder = order;
    this.tryBackend(order[0] ?? 0, 0);
  }

  private switchToFallback(): boolean {
    const fallback = this.match?.fallback;
    if (!fallback || this.isOnFallback) return false;
    this.isOnFallback = true;
    this.pool = this.host.snapshot.pool(fallback);
    this.startDialing();
    return true;
  }

  private tryBackend(index: number, attempt: number): void {
    const pool = this.pool!;
    const backend = pool.backendAt(index);
    this.backendLabel = backend.label;
    this.dialing = dial(backend, this.host.snapshot.timeouts.connectMs, (error, socket) => {
      this.dialing = null;
      if (this.state === CLOSED) {
        socket?.destroy();
        return;
      }
      if (error || !socket) {
        const code = error?.cause instanceof Error ? (error.cause as NodeJS.ErrnoException).code : undefined;
        if (isOutOfDescriptors(code)) {
          this.host.outOfDescriptors?.(code!);
          this.answer(502, 'Bad Gateway', 'no backend available\n', 'backend_unavailable', `out of file descriptors (${code}) dialing ${backend.label}`);
          return;
        }
        const message = error?.message ?? 'no backend';
        pool.health.reportDialFailure(backend.label, message);
        const next = this.dialOrder[attempt + 1];
        if (next !== undefined) this.tryBackend(next, attempt + 1);
        else if (!this.switchToFallback()) this.answer(502, 'Bad Gateway', 'no backend available\n', 'backend_unavailable', message);
        return;
      }
      pool.health.reportDialSuccess(backend.label);
      this.backendIndex = index % pool.size;
      pool.acquire(this.backendIndex);
      this.metrics.backendConnected(this.match!.route?.name ?? 'default', performance.now() - this.routedAt);
      this.startSplice(socket);
    }, this.host.snapshot.addressFor(backend));
  }

  // ---- SPLICING --------------------------------------------------------------------------------------------

  private startSplice(socket: net.Socket): void {
    this.backend = socket;
    // The splice owns both sockets from here: this connection's client handlers go, bar the head reader's state.
    const client = this.client;
    client.removeListener('error', clientOnError);
    client.removeListener('data', clientOnData);
    client.removeListener('end', clientOnEnd);
    client.removeListener('close', clientOnClose);
    this.state = SPLICING;
    const peeked = this.peeked;
    this.peeked = [];
    new Splice(client, socket, this, this.counts).start({ header: this.proxyHeader(), peeked, isClientEnded: this.clientEnded }, this.host.snapshot.timeouts.idleMs);
  }

  /** @internal The splice is over (both ends closed, one failed, or idle): so is the connection. */
  spliceEnded(reason: SpliceEnd, detail?: string): void {
    this.close(reason, detail);
  }

  /** @internal A reset before the backend's first byte: passive health counts it as a refused connection. */
  backendRefused(code: string): void {
    if (this.pool && this.backendLabel !== null) this.pool.health.reportDialFailure(this.backendLabel, `reset before its first byte (${code})`);
  }

  /** As for TLS routes, with the Host's name as AUTHORITY; no TLS TLVs (there was no TLS). */
  private proxyHeader(): Buffer | null {
    const mode = this.pool!.config.proxyProtocol;
    if (mode === 'none') return null;
    return encodeProxyHeader(mode, {
      source: { address: this.rawClientAddress, port: this.clientPort },
      destination: { address: this.localAddress, port: this.localPort },
      authority: this.serverName,
      uniqueId: this.id,
      alpn: null,
      ssl: null,
    });
  }

  /** @internal */
  onClientEnd(): void {
    if (this.state === CONNECTING) this.clientEnded = true;
    else if (this.state === ANSWERED) {
      // A client that sent its request and FIN at once: our answer may still be on its way out; let it leave.
      if (this.client.writableFinished) this.close(this.answeredReason, this.detail ?? undefined);
      else this.client.once('finish', () => this.close(this.answeredReason, this.detail ?? undefined));
    } else this.close('client_reset', 'client closed before its request head was complete');
  }

  /** @internal */
  onSocketClose(): void {
    if (this.state === ANSWERED) this.close(this.answeredReason, this.detail ?? undefined);
  }

  /** @internal */
  onClientError(error: NodeJS.ErrnoException): void {
    // After our own answer, a reset from a client that read it and left is the normal end.
    if (this.state === ANSWERED) this.close(this.answeredReason, this.detail ?? undefined);
    else this.close('client_reset', error.code ?? error.message);
  }

  // ---- CLOSED ----------------------------------------------------------------------------------------------

  private writeAccessLine(reason: CloseReason): void {
    const listener = this.host.listenerLabel;
    const route = routeNameOf(this.match);
    const durationMs = Math.round((performance.now() - this.startedAt) * 1000) / 1000;
    const request = this.request;
    const line: Record<string, unknown> = {
      id: this.id,
      client: this.clientAddress === '' ? null : formatEndpoint(this.clientAddress, this.clientPort),
      listener,
      sni: null,
      alpn: null,
      route,
      backend: this.backend ? this.backendLabel : null,
      mode: this.mode,
      bytes_in: this.counts.bytesIn,
      bytes_out: this.counts.bytesOut,
      duration_ms: durationMs,
      reason,
    };
    if (request !== null) {
      line.method = request.method;
      line.host = clipLogged(request.host);
      line.path = clipLogged(request.target);
    }
    if (this.status !== null) line.status = this.status;
    if (this.detail !== null) line.detail = this.detail;
    if (this.isOnFallback) line.pool = 'fallback';
    this.host.logger.info(line, 'connection closed');
    this.metrics.closed({ listener, route, reason, bytesIn: this.counts.bytesIn, bytesOut: this.counts.bytesOut, durationMs });
  }
}

/** The path and query a redirect keeps: origin-form as is, absolute-form's part after the authority, `*` → `/`. */
function pathOf(target: string): string {
  if (target.startsWith('/')) return target;
  const afterScheme = target.indexOf('//');
  if (afterScheme < 0) return '/';
  const slash = target.indexOf('/', afterScheme + 2);
  const query = target.indexOf('?', afterScheme + 2);
  if (slash >= 0 && (query < 0 || slash < query)) return target.slice(slash);
  return query >= 0 ? `/${target.slice(query)}` : '/';
}


function clientOnData(this: TaggedSocket, chunk: Buffer): void {
  this[kConnection].onClientData(chunk);
}
function clientOnEnd(this: TaggedSocket): void {
  this[kConnection].onClientEnd();
}
function clientOnClose(this: TaggedSocket): void {
  this[kConnection].onSocketClose();
}
function clientOnError(this: TaggedSocket, error: NodeJS.ErrnoException): void {
  this[kConnection].onClientError(error);
}
function headTimedOut(connection: PlainHttpConnection): void {
  connection.onTimeout();
}
