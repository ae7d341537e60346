/**
 * The native data plane behind the DataPlane seam. The C side (data-path/native/) owns the listening sockets,
 * accept, the hello bytes, connect with retry, the PROXY header and splice(2); this adapter judges the limits at
 * accept, decides each connection on the snapshot it was accepted with (route table → pool order with health →
 * PROXY header bytes), and writes the same access line and metrics as the node plane when the C side reports the
 * close. Terminate routes, inbound PROXY and backends known only by name are handed over: the socket's descriptor
 * and the bytes already read go to the node Connection, which carries them as if it had accepted them.
 */
import net from 'node:net';
import type { Config, ListenAddress, PoolConfig } from '../config/types.js';
import { Connection } from '../data-path/connection.js';
import type { ConnectionHost } from '../data-path/connection-host.js';
import { clipLogged, ConnectionRecord } from '../data-path/access-line.js';
import type { ConnectionInfo } from '../data-path/connection-info.js';
import { TLS_SNIFFER } from '../wire/sniffer.js';
import type { ClosedEvent, NativeAddon, NativeBackend } from '../data-path/native/addon.js';
import { type Decision, type HandedOffSocket, type HelloVerdict, NativeDataPlane, type UndecidedConnection } from '../data-path/native/native-plane.js';
import type { CloseReason } from '../ops/close-reason.js';
import { nextConnectionId } from '../ops/conn-id.js';
import { type ConnectionMetrics, NO_METRICS } from '../ops/connection-metrics.js';
import { isOutOfDescriptors } from '../ops/descriptors.js';
import { ListenError } from '../ops/errors.js';
import type { Pool } from '../pools/pool.js';
import { type RouteMatch, routeNameOf } from '../routing/route-table.js';
import { displayAddress } from '../wire/address.js';
import { isAddressInAny } from '../wire/cidr.js';
import { normalizeServerName } from '../wire/host-name.js';
import type { BoundListener, DataPlane, PlaneOwner } from './data-plane.js';
import { EVICTION_DETAIL } from './listener.js';
import { type EvictingLimit, type HelloSlot, type LimitName, ListenerCounts, RefusalLog } from './limits.js';
import { ProxyHeaderTemplates } from './proxy-header-templates.js';
import type { Snapshot } from './snapshot.js';

/** The C side tries at most this many backends per connection. */
const MAX_NATIVE_BACKENDS = 16;

interface NativeListener {
  readonly address: ListenAddress;
  readonly listenerId: number;
  readonly port: number;
  readonly counts: ListenerCounts;
  readonly refusals: RefusalLog;
}

/** A backend a connection may be carried by: which pool, which of its backends, whether it is the fallback. */
interface Candidate {
  readonly pool: Pool;
  readonly index: number;
  readonly isFallback: boolean;
}

/** What the adapter keeps per connection, from accept to close (or hand-over). */
interface NativeConnectionState {
  readonly id: string;
  readonly connId: number;
  readonly snapshot: Snapshot;
  readonly listener: NativeListener;
  /** Display form of the client's address (the limits' key and the access line's). */
  readonly peer: string;
  readonly clientPort: number;
  readonly isCountedPerClient: boolean;
  readonly inboundProxy: 'trusted' | 'untrusted' | null;
  /** The access line's fields, filled as the connection goes (the node plane's record, the same line). */
  readonly record: ConnectionRecord;
  slot: HelloSlot | null;
  held: number;
  /** What the reader found: a ClientHello, not TLS at all, or nothing yet (or a bad hello). */
  verdictKind: 'hello' | 'not_tls' | null;
  /** From the route's choice to a backend accepting, ms; null until one does. */
  connectMs: number | null;
  sni: string | null;
  alpn: readonly string[];
  match: RouteMatch | null;
  candidates: readonly Candidate[];
  /** Index into candidates of the backend that connected, or -1. */
  connected: number;
  routedAt: number;
  /** A decision was taken (route or close): a client leaving is no longer "before its ClientHello". */
  isDecided: boolean;
  detail: string | null;
}

const NO_CANDIDATES: readonly Candidate[] = [];

export class NativeServingPlane implements DataPlane {
  readonly name = 'native';
  readonly #owner: PlaneOwner;
  readonly #metrics: ConnectionMetrics;
  readonly #plane: NativeDataPlane;
  readonly #byId = new Map<number, NativeListener>();
  readonly #byLabel = new Map<string, NativeListener>();
  readonly #connections = new Map<number, NativeConnectionState>();
  /** Handed over to the node Connection (terminate, inbound PROXY). */
  readonly #handedOver = new Set<Connection>();
  readonly #headers = new ProxyHeaderTemplates();
  readonly #reusePort: boolean;
  #maxHelloBytes: number;

  constructor(owner: PlaneOwner, addon: NativeAddon, config: Config) {
    this.#owner = owner;
    this.#metrics = owner.metrics ?? NO_METRICS;
    // With workers, each process opens its own SO_REUSEPORT listener and the kernel spreads the connections.
    this.#reusePort = config.workers > 1;
    this.#maxHelloBytes = config.maxHelloBytes;
    this.#plane = new NativeDataPlane<never>(addon, {
      maxHelloBytes: config.maxHelloBytes,
      helloTimeoutMs: config.timeouts.clientHelloMs,
      admit: (connId, connection) => this.#admit(connId, connection),
      onHelloBytes: (connId, held) => this.#onHelloBytes(connId, held),
      decide: (verdict) => this.#decide(verdict),
      onHandoff: (verdict, socket) => this.#onHandoff(verdict, socket),
      onConnected: (event) => this.#onConnected(event.connId, event.backendIndex),
      onClosed: (event) => this.#onClosed(event),
      onEmfile: (listenerId) => this.#onEmfile(listenerId),
      onError: (error) => owner.logger.error({ err: error instanceof Error ? error.message : String(error) }, 'native data plane handler failed'),
    });
  }

  get openConnections(): number {
    return this.#connections.size + this.#handedOver.size;
  }

  /**
   * Every open connection, oldest first: the C side's list (state, bytes, age, read in one call) joined with
   * what this side decided for each (name, route, backend); then the connections handed over to the node
   * Connection (terminate, inbound PROXY), which describe themselves.
   */
  connectionInfos(): ConnectionInfo[] {
    const infos: ConnectionInfo[] = [];
    const now = performance.now();
    for (const native of this.#plane.connections()) {
      const state = this.#connections.get(native.connId);
      if (state === undefined) continue; // refused at accept, or handed over: listed below
      const candidate = state.connected >= 0 ? state.candidates[state.connected] : undefined;
      infos.push({
        id: state.id,
        client: state.record.client,
        listener: state.listener.address.label,
        sni: clipLogged(state.sni),
        route: routeNameOf(state.match),
        backend: candidate ? candidate.pool.backendAt(candidate.index).label : null,
        mode: 'passthrough',
        state: native.state,
        opened_at: new Date(state.record.openedAt).toISOString(),
        age_s: native.ageMs / 1000,
        bytes_in: native.bytesIn,
        bytes_out: native.bytesOut,
      });
    }
    for (const connection of this.#handedOver) infos.push(connection.info(now));
    return infos;
  }

  get listeners(): BoundListener[] {
    return [...this.#byLabel.values()].map((listener) => ({ label: listener.address.label, address: listener.address.host, port: listener.port }));
  }

  async openListeners(config: Config): Promise<void> {
    const opened: NativeListener[] = [];
    for (const address of config.listen) {
      if (this.#byLabel.has(address.label)) continue;
      try {
        const { listenerId, port } = this.#plane.listen({ host: address.host, port: address.port, backlog: 4096, reusePort: this.#reusePort, ipv6Only: address.ipv6Only });
        const listener: NativeListener = { address, listenerId, port, counts: new ListenerCounts(), refusals: new RefusalLog(this.#owner.logger, address.label) };
        opened.push(listener);
        this.#byId.set(listenerId, listener);
        this.#byLabel.set(address.label, listener);
      } catch (error) {
        for (const listener of opened) this.#closeListener(listener);
        throw new ListenError(address.label, listenErrorLikeNode(error, address));
      }
    }
  }

  keepListeners(labels: ReadonlySet<string>): void {
    for (const [label, listener] of this.#byLabel) if (!labels.has(label)) this.#closeListener(listener);
  }

  configChanged(config: Config): void {
    this.#plane.setHelloTimeout(config.timeouts.clientHelloMs);
    this.#headers.clear();
    if (config.maxHelloBytes !== this.#maxHelloBytes) {
      this.#maxHelloBytes = config.maxHelloBytes;
      this.#owner.logger.warn({ settings: ['max_hello_bytes'] }, 'the native data plane sizes its hello buffers at start: this setting takes effect on restart');
    }
  }

  stopAccepting(): void {
    for (const listener of [...this.#byLabel.values()]) this.#closeListener(listener);
  }

  closeConnections(): void {
    this.#plane.destroy(); // every native connection closes (shutdown) and is reported before it returns
    for (const connection of [...this.#handedOver]) connection.close('shutdown');
  }

  #closeListener(listener: NativeListener): void {
    this.#byLabel.delete(listener.address.label);
    this.#byId.delete(listener.listenerId);
    listener.refusals.flush();
    this.#plane.closeListener(listener.listenerId);
  }

  // ---- accept: the limits, as the node listener judges them -------------------------------------------------

  #admit(connId: number, connection: UndecidedConnection): boolean {
    const listener = this.#byId.get(connection.listenerId);
    if (listener === undefined) return false;
    const snapshot = this.#owner.currentSnapshot();
    const settings = snapshot.config.listen.find((entry) => entry.label === listener.address.label) ?? listener.address;
    const peer = displayAddress(connection.client.address);
    const inboundProxy = settings.acceptProxy ? (isAddressInAny(peer, settings.acceptProxy.trusted) ? 'trusted' : 'untrusted') : null;
    const isProxySender = inboundProxy === 'trusted';
    const { shared } = snapshot;
    const maxRate = shared.helloGate.limits.maxConnectionRatePerClient;
    if (maxRate !== null && !isProxySender && !shared.connectionRate.admit(peer, maxRate)) return this.#refuse(listener, 'max_connection_rate_per_client', peer);
    const maxPerClient = settings.maxConnectionsPerClient ?? null;
    const refusedBy = listener.counts.admit(peer, settings.maxConnections ?? null, maxPerClient);
    if (refusedBy !== null) return this.#refuse(listener, refusedBy, peer);
    const evict = (limit: EvictingLimit): void => {
      this.#metrics.limited(limit);
      state.detail = EVICTION_DETAIL[limit];
      this.#plane.close(connId, 'limit');
    };
    const slot = shared.helloGate.enter(isProxySender ? null : peer, evict);
    if (slot === null) {
      listener.counts.release(peer, maxPerClient !== null);
      return this.#refuse(listener, 'max_hello_connections_per_client', peer);
    }
    const state: NativeConnectionState = {
      id: nextConnectionId(),
      connId,
      snapshot,
      listener,
      peer,
      clientPort: connection.client.port,
      isCountedPerClient: maxPerClient !== null,
      inboundProxy,
      record: new ConnectionRecord({ remoteAddress: connection.client.address, remotePort: connection.client.port, localAddress: connection.local.address, localPort: connection.local.port }),
      slot,
      held: 0,
      verdictKind: null,
      connectMs: null,
      sni: null,
      alpn: [],
      match: null,
      candidates: NO_CANDIDATES,
      connected: -1,
      routedAt: 0,
      isDecided: false,
      detail: null,
    };
    this.#connections.set(connId, state);
    this.#metrics.accepted(listener.address.label);
    return true;
  }

  #refuse(listener: NativeListener, limit: LimitName, peer: string): false {
    this.#metrics.limited(limit);
    listener.refusals.refused(limit, peer);
    return false;
  }

  #onHelloBytes(connId: number, held: number): void {
    const state = this.#connections.get(connId);
    if (state === undefined) return;
    state.held = held;
    state.slot?.hold(held);
  }

  // ---- the decision -------------------------------------------------------------------------------------

  #decide(verdict: HelloVerdict): Decision<never> {
    const state = this.#connections.get(verdict.connId);
    if (state === undefined) return { kind: 'close', reason: 'no_route' };
    // Inbound PROXY: the node Connection reads the header (and refuses untrusted peers) as on the node plane.
    if (state.inboundProxy !== null) return { kind: 'handoff' };
    const { result } = verdict;
    const config = state.snapshot.config;
    switch (result.kind) {
      case 'hello':
        state.verdictKind = 'hello';
        state.sni = result.hello.sni;
        state.alpn = result.hello.alpn;
        return this.#route(state, verdict, state.sni, result.hello.sni === null ? 'no_sni' : 'sni_found', result.hello.byteLength);
      case 'not_tls':
        state.verdictKind = 'not_tls';
        // Not a TLS handshake at all: SPEC sends it to the default pool when one is set.
        if (config.defaultPool) return this.#route(state, verdict, null, 'not_tls', 0);
        this.#metrics.hello('not_tls', 0);
        return this.#close(state, 'not_tls', null);
      case 'too_large':
        this.#metrics.hello('too_large', state.held);
        return this.#close(state, 'hello_too_large', `hello larger than ${config.maxHelloBytes} bytes`);
      case 'malformed':
        // The node Connection re-reads the bytes and answers with the TLS alert (decode_error) before its FIN.
        return { kind: 'handoff' };
    }
  }

  #close(state: NativeConnectionState, reason: CloseReason, detail: string | null): Decision<never> {
    state.detail = detail;
    state.isDecided = true;
    state.slot?.leave();
    return { kind: 'close', reason };
  }

  #route(state: NativeConnectionState, verdict: HelloVerdict, serverName: string | null, outcome: 'sni_found' | 'no_sni' | 'not_tls', helloBytes: number): Decision<never> {
    const { snapshot } = state;
    let match: RouteMatch | null;
    try {
      match = snapshot.table.lookup(serverName, state.alpn);
    } catch (error) {
      this.#metrics.hello(outcome, helloBytes);
      return this.#close(state, 'no_route', `route lookup failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    // Terminated routes run in the node Connection, which reads (and counts) the hello again from the bytes.
    // No route: the node Connection sends the unrecognized_name alert before closing, as on the node plane.
    if (match?.route?.terminate || !match) return { kind: 'handoff' };
    const candidates = match ? this.#candidates(snapshot, match, state.peer) : [];
    const backends: NativeBackend[] = [];
    for (const candidate of candidates) {
      const backend = candidate.pool.backendAt(candidate.index);
      const host = snapshot.addressFor(backend);
      // A name not resolved to an address: the node Connection dials by name (and counts the hello).
      if (net.isIP(host) === 0) return { kind: 'handoff' };
      backends.push({ host, port: backend.port });
    }
    this.#metrics.hello(outcome, helloBytes);
    if (!match) return this.#close(state, 'no_route', null);
    state.match = match;
    state.candidates = candidates;
    state.routedAt = performance.now();
    state.isDecided = true;
    state.slot?.leave();
    state.slot = null;
    const pool = candidates[0]?.pool.config ?? match.pool;
    const header = this.#header(pool, state, verdict, serverName);
    const { connectMs, idleMs } = snapshot.config.timeouts;
    return { kind: 'route', backends, header, connectTimeoutMs: connectMs, idleTimeoutMs: idleMs };
  }

  /**
   * The backends in the order the node Connection would dial them: the pool's available ones in balancer
   * order, then (when every one of them fails) the route's fallback pool; a pool with every backend down goes to
   * the fallback at once, or tries them all anyway (one may be back). A fallback that sends a different PROXY
   * header cannot share the one write, so it is left out.
   */
  #candidates(snapshot: Snapshot, match: RouteMatch, client: string): Candidate[] {
    const pool = snapshot.pool(match.pool);
    const fallback = match.fallback ? snapshot.pool(match.fallback) : null;
    let order = pool.dialOrder(client);
    const candidates: Candidate[] = [];
    const addPool = (from: Pool, indexes: readonly number[], isFallback: boolean): void => {
      for (const index of indexes) if (candidates.length < MAX_NATIVE_BACKENDS) candidates.push({ pool: from, index, isFallback });
    };
    if (order.length === 0 && fallback !== null) {
      const fallbackOrder = fallback.dialOrder(client);
      addPool(fallback, fallbackOrder.length > 0 ? fallbackOrder : fallback.lastResortOrder(), true);
      return candidates;
    }
    if (order.length === 0) order = pool.lastResortOrder();
    addPool(pool, order, false);
    if (fallback !== null && fallback.config.proxyProtocol === pool.config.proxyProtocol) {
      const fallbackOrder = fallback.dialOrder(client);
      addPool(fallback, fallbackOrder.length > 0 ? fallbackOrder : fallback.lastResortOrder(), true);
    }
    return candidates;
  }

  #header(pool: PoolConfig, state: NativeConnectionState, verdict: HelloVerdict, serverName: string | null): Uint8Array | null {
    if (pool.proxyProtocol === 'none') return null;
    return this.#headers.encode(pool.proxyProtocol, {
      source: verdict.client,
      destination: verdict.local,
      authority: serverName === null ? null : normalizeServerName(serverName),
      uniqueId: state.id,
      alpn: null,
      ssl: null,
    });
  }

  // ---- hand-over to the node Connection -------------------------------------------------------------------

  #onHandoff(verdict: HelloVerdict, handed: HandedOffSocket): void {
    const state = this.#connections.get(verdict.connId);
    this.#connections.delete(verdict.connId);
    if (state === undefined) {
      new net.Socket({ fd: handed.fd }).destroy(); // never leak the descriptor
      return;
    }
    const socket = new net.Socket({ fd: handed.fd, readable: true, writable: true, allowHalfOpen: true });
    socket.setNoDelay(true);
    const slot = state.slot;
    const { listener, peer } = state;
    let connection: Connection | null = null;
    const host: ConnectionHost<Connection> = {
      snapshot: state.snapshot,
      sniffer: TLS_SNIFFER,
      listenerLabel: listener.address.label,
      logger: this.#owner.logger,
      metrics: this.#metrics,
      inboundProxy: state.inboundProxy,
      handedOver: { id: state.id, peeked: handed.peeked },
      connectionClosed: (closed) => {
        slot?.leave();
        listener.counts.release(peer, state.isCountedPerClient);
        if (this.#handedOver.delete(closed)) this.#owner.connectionEnded();
      },
      helloFinished: () => slot?.leave(),
      helloHolds: (bytes) => slot?.hold(bytes),
      outOfDescriptors: () => this.#metrics.outOfDescriptors('dial'),
    };
    connection = new Connection(socket, host);
    if (!connection.isClosed) this.#handedOver.add(connection);
    else this.#owner.connectionEnded();
  }

  // ---- what the C side reports --------------------------------------------------------------------------

  #onConnected(connId: number, backendIndex: number): void {
    const state = this.#connections.get(connId);
    const candidate = state?.candidates[backendIndex];
    if (state === undefined || candidate === undefined) return;
    for (const failed of state.candidates.slice(0, backendIndex)) this.#attemptFailed(state, failed, 'connect failed');
    if (candidate.isFallback) this.#owner.logger.debug({ id: state.id, route: state.match?.route?.name ?? null }, 'using the fallback pool');
    const backend = candidate.pool.backendAt(candidate.index);
    candidate.pool.health.reportDialSuccess(backend.label);
    candidate.pool.acquire(candidate.index);
    state.connected = backendIndex;
    state.connectMs = Math.round((performance.now() - state.routedAt) * 1000) / 1000;
    this.#metrics.backendConnected(state.match?.route?.name ?? 'default', state.connectMs);
  }

  #onClosed(event: ClosedEvent): void {
    const { connId, bytesIn, bytesOut, tries } = event;
const { reason } = event;
    const state = this.#connections.get(connId);
    if (state === undefined) return;
    this.#connections.delete(connId);
    state.slot?.leave();
    state.listener.counts.release(state.peer, state.isCountedPerClient);
    const config = state.snapshot.config;
    const candidate = state.connected >= 0 ? state.candidates[state.connected] : undefined;
    if (reason === 'hello_timeout') {
      this.#metrics.hello('timeout', state.held);
      state.detail = `no complete ClientHello within ${config.timeouts.clientHelloMs} ms`;
    } else if (reason === 'client_reset' && !state.isDecided) {
      state.detail = 'client closed before its ClientHello was complete';
    } else if (reason === 'backend_unavailable' && isOutOfDescriptors(event.connectError ?? undefined)) {
      // Our shortage, not the backend's: it stays up.
      this.#metrics.outOfDescriptors('dial');
      const next = state.candidates[tries];
      state.detail = `out of file descriptors (${event.connectError}) dialing ${next ? next.pool.backendAt(next.index).label : 'a backend'}`;
    } else if (reason === 'backend_unavailable') {
      const tried = state.candidates.slice(0, tries);
      for (const failed of tried) this.#attemptFailed(state, failed, event.connectError ?? 'connect failed');
      const last = tried[tried.length - 1];
      state.detail = `${event.connectError ?? 'connect failed'} connecting to ${last ? last.pool.backendAt(last.index).label : 'no backend'} (${tries} tried)`;
    } else if (reason === 'backend_reset' && candidate !== undefined && bytesOut === 0) {
      candidate.pool.health.reportDialFailure(candidate.pool.backendAt(candidate.index).label, 'reset before its first byte');
    }
    if (candidate !== undefined) candidate.pool.release(candidate.index);
    const { record } = state;
    record.sni = state.sni;
    record.alpn = state.alpn;
    record.match = state.match;
    record.hello = state.verdictKind === 'not_tls' ? 'not_tls' : state.verdictKind === 'hello' ? (state.sni === null ? 'no_sni' : 'sni') : null;
    for (const tried of state.candidates.slice(0, Math.max(tries, state.connected + 1))) record.dialing(tried.pool.backendAt(tried.index).label);
    if (record.backendsTried.length > 0) {
      record.dialStartedAt = state.routedAt;
      record.dialed(candidate === undefined ? null : candidate.pool.backendAt(candidate.index).label);
      if (state.connectMs !== null) record.connectMs = state.connectMs;
    }
    record.isOnFallback = candidate?.isFallback ?? false;
    record.bytesIn = bytesIn;
    record.bytesOut = bytesOut;
    record.detail = state.detail;
    record.write(this.#owner.logger, this.#metrics, state.id, state.listener.address.label, reason);
    this.#owner.connectionEnded();
  }

  /** Passive health, and the debug line the node plane writes per failed attempt. */
  #attemptFailed(state: NativeConnectionState, failed: Candidate, message: string): void {
    const label = failed.pool.backendAt(failed.index).label;
    this.#owner.logger.debug({ id: state.id, backend: label, err: message }, 'backend attempt failed');
    failed.pool.health.reportDialFailure(label, message);
  }

  #onEmfile(listenerId: number): void {
    const listener = this.#byId.get(listenerId);
    this.#metrics.outOfDescriptors('accept');
    this.#owner.logger.error(
      { listener: listener?.address.label ?? null, err: 'EMFILE', where: 'accept', seen_since_last_line: 1 },
      'out of file descriptors; refusing new connections',
    );
  }
}

/** node's wording ("listen EADDRINUSE: address already in use 127.0.0.1:8443"), with the code kept for the hints. */
function listenErrorLikeNode(error: unknown, address: ListenAddress): unknown {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  if (!(error instanceof Error) || code === undefined) return error;
  const text = error.message.replace(/^listen: /, '').toLowerCase();
  return Object.assign(new Error(`listen ${code}: ${text} ${address.label}`), { code });
}
