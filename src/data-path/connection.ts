import type net from 'node:net';
import type { CloseReason } from '../ops/close-reason.js';
import { nextConnectionId } from '../ops/conn-id.js';
import { type ConnectionMetrics, NO_METRICS } from '../ops/connection-metrics.js';
import type { Pool } from '../pools/pool.js';
import { HelloBytes } from '../wire/hello-buffer.js';
import { normalizeServerName } from '../wire/host-name.js';
import { ProxyHeaderReader } from '../wire/proxy-reader.js';
import type { SniffReader } from '../wire/sniffer.js';
import { displayAddress } from '../wire/address.js';
import type { RouteMatch } from '../routing/route-table.js';
import { CLOSED, type Stage } from './connection-stage.js';
import { clipLogged, ConnectionRecord } from './access-line.js';
import { ageSeconds, type ConnectionInfo } from './connection-info.js';
import { BackendDialer, type DialerOwner } from './backend-dialer.js';
import { ClientHandshake, type HandshakeOwner } from './client-handshake.js';
import { outboundProxyHeader } from './outbound-header.js';
import type { ConnectionHost, RoutingState } from './connection-host.js';
import { Splice, type SpliceEnd, type SpliceOwner } from './splice.js';
import type { BackendTlsProfile, NegotiatedTls, TerminateProfile } from './terminate.js';
import type { HttpProfile } from './http/http-proxy.js';
import { handOffToHttp, type HttpHandOffOwner, startHttpServing } from './http-hand-off.js';
import { judgeHello } from './hello-verdict.js';
import { isLeavingAfterExchange, LEFT_WITHOUT_CLOSE_NOTIFY } from './left-after-exchange.js';

// A connection is in one stage at a time (connection-stage.ts: the stages in order, and what each one holds);
// every transition is a method below, and close(reason) is the only way to 'closed'.

// Socket handlers are module-level functions that find their connection through a symbol, so that accepting a
// connection allocates no closures (the ws library's habit). From splicing on, the splice's handlers take over.
const kConnection = Symbol('sni-router.connection');
type TaggedSocket = net.Socket & { [kConnection]: Connection };

export class Connection implements SpliceOwner, HandshakeOwner, DialerOwner, HttpHandOffOwner {
  readonly id: string;
  #stage: Stage = CLOSED;
  /** The accepted socket. In terminate mode the TLS layer alone reads it; the stages hold the TLSSocket. */
  readonly #client: TaggedSocket;
  readonly #host: ConnectionHost<Connection>;
  readonly #routing: RoutingState;
  readonly #metrics: ConnectionMetrics;
  readonly #record: ConnectionRecord;

  constructor(client: net.Socket, host: ConnectionHost<Connection>) {
    this.#client = client as TaggedSocket;
    this.#client[kConnection] = this;
    this.#host = host;
    this.#routing = host.snapshot;
    this.#metrics = host.metrics ?? NO_METRICS;
    this.id = host.handedOver?.id ?? nextConnectionId();
    if (host.handedOver === undefined) this.#metrics.accepted(host.listenerLabel);
    this.#record = new ConnectionRecord(client);
    this.#record.wireBytesInBefore = host.handedOver?.peeked.length ?? 0;
    client.on('error', clientOnError);
    client.on('data', clientOnData);
    client.on('end', clientOnEnd);
    const timer = setTimeout(helloTimedOut, this.#routing.timeouts.clientHelloMs, this);
    this.#stage = host.inboundProxy ? { name: 'reading_proxy', reader: new ProxyHeaderReader(), timer } : this.#peeking(timer);
    if (this.#record.clientAddress === '') {
      // The client was gone before we saw it (reset right after accept): nothing to route, nothing to report to.
      this.close('client_reset', 'closed before accept completed');
    } else if (host.inboundProxy === 'untrusted') {
      // Never trust a header from a peer outside the trusted networks: close before reading a byte.
      this.close('proxy_rejected', `peer ${displayAddress(this.#record.clientAddress)} is not in accept_proxy_protocol.trusted`);
    }
    const peeked = host.handedOver?.peeked;
    if (peeked !== undefined && peeked.length > 0 && !this.isClosed) this.onClientData(peeked);
  }

  get isClosed(): boolean {
    return this.#stage.name === 'closed';
  }

  /** What the admin API lists about this connection now (connection-info.ts). */
  info(now = performance.now()): ConnectionInfo {
    const record = this.#record;
    const stage = this.#stage.name;
    return {
      id: this.id,
      client: record.client,
      listener: this.#host.listenerLabel,
      sni: clipLogged(record.sni),
      route: record.routeName,
      backend: record.backend,
      mode: record.mode,
      state: stage === 'closed' ? 'closing' : stage === 'serving_http_done' ? 'serving_http' : stage,
      opened_at: new Date(record.openedAt).toISOString(),
      age_s: ageSeconds(record.startedAt, now),
      bytes_in: record.bytesIn,
      bytes_out: record.bytesOut,
    };
  }

  /**
   * Ends the connection: frees what its stage holds, writes the access line. Safe to call any number of times:
   * only the first call acts. `farewell`: bytes for the client before its socket closes (the sniffer's alert).
   */
  close(reason: CloseReason, detail?: string, farewell: Buffer | null = null): void {
    const stage = this.#stage;
    if (stage.name === 'closed') return;
    if (stage.name === 'serving_http' && reason === 'client_reset') {
      // HTTP mode: each request's line says how it ended; the socket's 'close' follows and ends the connection.
      if (detail !== undefined) this.#record.detail = detail;
      return;
    }
    if (reason === 'client_reset' && stage.name === 'splicing' && isLeavingAfterExchange(this.#record, this.#client, detail)) {
      reason = 'done';
      detail = LEFT_WITHOUT_CLOSE_NOTIFY;
    }
    this.#stage = CLOSED;
    this.#host.helloFinished?.();
    const record = this.#record;
    if (detail !== undefined) record.detail = detail;
    if ('timer' in stage) clearTimeout(stage.timer);
    if ('handshake' in stage) stage.handshake?.secure.destroy();
    if (stage.name === 'dialing') {
      stage.dialer.cancel();
      if (record.connectMs === null && record.backendsTried.length > 0) record.dialed(null);
    } else if (stage.name === 'splicing') {
      stage.splice.destroy();
      stage.pool.release(stage.backendIndex);
    }
    if (farewell !== null && this.#client.writable) {
      this.#client.resume(); // what the client still sends is read and dropped, so the close is a FIN, not a reset
      this.#client.end(farewell, () => this.#client.destroy());
    } else this.#client.destroy();
    record.write(this.#host.logger, this.#metrics, this.id, this.#host.listenerLabel, reason);
    this.#host.connectionClosed(this);
  }

  // ---- reading_proxy, peeking ------------------------------------------------------------------------------

  #peeking(timer: NodeJS.Timeout): Stage {
    return { name: 'peeking', reader: this.#host.sniffer.newReader({ maxBytes: this.#routing.maxHelloBytes }), bytes: new HelloBytes(), timer };
  }

  /** @internal Client bytes before splicing (the splice reads them from then on). */
  onClientData(chunk: Buffer): void {
    const stage = this.#stage;
    switch (stage.name) {
      case 'reading_proxy':
        this.#onProxyData(stage.reader, stage.timer, chunk);
        return;
      case 'peeking':
        this.#record.bytesIn += chunk.length;
        this.#onPeekedData(stage.reader, stage.bytes, chunk);
        return;
      case 'handshaking':
      case 'dialing':
        // Plaintext before splicing (a request right behind the client's Finished): kept, sent with the header.
        this.#record.bytesIn += chunk.length;
        stage.pending.push(chunk);
        return;
    }
  }

  /** A trusted peer's bytes until its PROXY header is complete; what follows the header is peeked. */
  #onProxyData(reader: ProxyHeaderReader, timer: NodeJS.Timeout, chunk: Buffer): void {
    const result = reader.push(chunk);
    if (result.kind === 'need_more') return;
    if (result.kind === 'malformed') {
      const what = result.reason === 'not_proxy' ? 'no PROXY header from a trusted peer' : 'malformed PROXY header';
      this.close('proxy_rejected', `${what}: ${result.reason}`);
      return;
    }
    this.#record.adoptProxyHeader(result.header);
    this.#stage = this.#peeking(timer);
    if (result.rest.length > 0) this.onClientData(result.rest);
  }

  #onPeekedData(reader: SniffReader, bytes: HelloBytes, chunk: Buffer): void {
    const stored = bytes.append(chunk);
    // Charged before it is read: over limits.max_hello_bytes_total the oldest pending hellos close, maybe this one.
    this.#host.helloHolds?.(bytes.heldBytes);
    if (this.#stage.name !== 'peeking') return;
    const result = reader.push(stored);
    if (result.kind === 'need_more') return;
    const peeked = bytes.take();
    const verdict = judgeHello(result, peeked, this.#record, this.#host, this.#routing, this.#metrics, this.id);
    if (verdict.kind === 'route') this.#route(peeked);
    else this.close(verdict.reason, verdict.detail, verdict.farewell);
  }

  /** @internal */
  onHelloTimeout(): void {
    const stage = this.#stage.name;
    const within = `within ${this.#routing.timeouts.clientHelloMs} ms`;
    if (stage === 'peeking') {
      this.#metrics.hello('timeout', this.#record.bytesIn);
      this.close('hello_timeout', `no complete ClientHello ${within}`);
    } else if (stage === 'handshaking') this.close('hello_timeout', `TLS handshake not done ${within}`);
    else if (stage === 'reading_proxy') this.close('hello_timeout', `no complete PROXY header ${within}`);
  }

  // ---- routing, handshaking ----------------------------------------------------------------------------------

  #route(peeked: Buffer[]): void {
    const stage = this.#stage;
    if (stage.name !== 'peeking') return;
    clearTimeout(stage.timer);
    this.#client.pause();
    this.#host.helloHolds?.(0); // the hello's bytes now wait for a backend (or the TLS layer), not for more bytes
    const record = this.#record;
    let match: RouteMatch | null;
    try {
      match = this.#routing.lookup(record.hello === 'not_tls' ? null : record.sni, record.alpn);
    } catch (error) {
      // A table built from a validated config should never throw; if one ever does, it costs this connection only.
      this.close('no_route', `route lookup failed: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    if (!match) {
      this.close('no_route', undefined, this.#host.sniffer.abortMessage(record.sni === null ? 'no_name' : 'unknown_name'));
      return;
    }
    record.match = match;
    const profile = match.route?.terminate ? this.#routing.terminateProfile(match.route) : null;
    if (profile) {
      // The handshake stays in the hello phase: a stalled handshake holds a slot just as a stalled hello does.
      this.#startHandshake(profile, peeked);
      return;
    }
    this.#host.helloFinished?.();
    this.#dial(peeked, null, null);
  }

  #startHandshake(profile: TerminateProfile, peeked: Buffer[]): void {
    const raw = this.#client;
    // From here the TLS layer reads the raw socket; a 'data' handler or a resume() there would steal its bytes.
    // Its 'error' handler stays: a reset of the raw socket is the client's.
    raw.removeListener('data', clientOnData);
    raw.removeListener('end', clientOnEnd);
    profile.context.useLogger(this.#host.logger); // certificate reloads log through the router's logger
    this.#record.terminating(raw);
    const handshake = new ClientHandshake(raw, peeked, profile, this);
    const timer = setTimeout(helloTimedOut, this.#routing.timeouts.clientHelloMs, this);
    this.#stage = { name: 'handshaking', handshake, profile, pending: [], timer };
  }

  /** The client's handshake is done and its certificate accepted: dial as passthrough does (or serve HTTP). */
  handshakeDone(negotiated: NegotiatedTls): void {
    const stage = this.#stage;
    if (stage.name !== 'handshaking') return;
    this.#record.tls = negotiated;
    clearTimeout(stage.timer);
    this.#host.helloFinished?.();
    if (stage.profile.http) this.#serveHttp(stage.handshake, stage.profile.http, stage.pending);
    else this.#dial(stage.pending, stage.handshake, stage.profile.backendTls);
  }

  // ---- serving_http (terminate.http routes) ----------------------------------------------------------------

  /** The TLS socket goes to the route's HTTP proxy (http-hand-off.ts); this connection keeps its 'close'. */
  #serveHttp(handshake: ClientHandshake, http: HttpProfile, pending: Buffer[]): void {
    const handOff = handOffToHttp(this, handshake, http, this.#record, this.#host, this.#client.remoteAddress ?? '');
    this.#stage = { name: 'serving_http', handshake };
    startHttpServing(handOff, http, pending);
  }

  /** @internal The HTTP proxy is done with the socket: the access line says why (`done` unless it said otherwise). */
  httpServingClosed(handshake: ClientHandshake, reason: CloseReason): void {
    // Closed already (shutdown, a limit's eviction): that close destroyed this socket, whose 'close' comes later.
    if (this.isClosed) return;
    this.#stage = { name: 'serving_http_done', handshake };
    this.close(reason);
  }

  handshakeFailed(detail: string, negotiated: NegotiatedTls | null): void {
    if (negotiated !== null) this.#record.tls = negotiated;
    this.close('client_reset', detail);
  }

  // ---- dialing, splicing -----------------------------------------------------------------------------------

  /** `pending`: client bytes to send first; `handshake`: in terminate mode, whose TLS socket the client speaks on. */
  #dial(pending: Buffer[], handshake: ClientHandshake | null, backendTls: BackendTlsProfile | null): void {
    const record = this.#record;
    const match = record.match;
    if (match === null) return;
    const dialer = new BackendDialer(this.id, {
      pool: this.#routing.pool(match.pool),
      fallback: match.fallback,
      clientAddress: displayAddress(record.clientAddress),
      backendTls,
      servername: record.sni === null ? null : normalizeServerName(record.sni),
      alpn: record.tls?.alpn ?? null,
      proxyHeader: (pool: Pool) => outboundProxyHeader(pool, record, this.id),
      outOfDescriptors: this.#host.outOfDescriptors ?? null,
    }, this.#routing, this, record, this.#host.logger);
    this.#stage = { name: 'dialing', handshake, dialer, pending, isClientEnded: false };
    dialer.start();
  }

  dialFailed(detail: string): void {
    this.close('backend_unavailable', detail);
  }

  backendReady(socket: net.Socket, pool: Pool, index: number, isHeaderSent: boolean): void {
    const stage = this.#stage;
    if (stage.name !== 'dialing') {
      socket.destroy();
      return;
    }
    const backendIndex = index % pool.size;
    pool.acquire(backendIndex);
    const record = this.#record;
    record.dialed(pool.backendAt(backendIndex).label);
    this.#metrics.backendConnected(record.routeName ?? 'default', record.connectMs ?? 0);
    // The splice's handlers replace the connection's ('error' handlers stay: a failure is the client's either way).
    const { handshake } = stage;
    if (handshake) handshake.release();
    else {
      this.#client.removeListener('data', clientOnData);
      this.#client.removeListener('end', clientOnEnd);
    }
    const splice = new Splice(handshake?.secure ?? this.#client, socket, this, record);
    this.#stage = { name: 'splicing', splice, pool, backendIndex };
    const header = isHeaderSent ? null : outboundProxyHeader(pool, record, this.id);
    splice.start({ header, peeked: stage.pending, isClientEnded: stage.isClientEnded }, this.#routing.timeouts.idleMs);
  }

  /** @internal */
  onClientEnd(): void {
    // A client may send its hello, its request and its FIN in one go: remember the FIN for when the backend is up.
    if (this.#stage.name === 'dialing') this.#stage.isClientEnded = true;
    else if (this.#stage.name === 'handshaking') this.close('client_reset', 'client left during the TLS handshake');
    else this.close('client_reset', 'client closed before its ClientHello was complete');
  }

  spliceEnded(reason: SpliceEnd, detail?: string): void {
    this.close(reason, detail);
  }

  /**
   * A reset before the backend sent a single byte, after it accepted, is the backend refusing the connection (a
   * crashed worker behind a live accept queue, an overloaded server): passive health counts it like a refused
   * connect, so the balancer stops sending it every other client.
   */
  backendRefused(code: string): void {
    const stage = this.#stage;
    if (stage.name === 'splicing') stage.pool.health.reportDialFailure(stage.pool.backendAt(stage.backendIndex).label, `reset before its first byte (${code})`);
  }
}

function clientOnData(this: TaggedSocket, chunk: Buffer): void {
  this[kConnection].onClientData(chunk);
}
function clientOnEnd(this: TaggedSocket): void {
  this[kConnection].onClientEnd();
}
function clientOnError(this: TaggedSocket, error: NodeJS.ErrnoException): void {
  this[kConnection].close('client_reset', error.code ?? error.message);
}
function helloTimedOut(connection: Connection): void {
  connection.onHelloTimeout();
}
