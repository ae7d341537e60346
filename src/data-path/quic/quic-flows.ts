/**
 * QUIC passthrough by SNI on node:dgram: one UDP socket faces clients; each client address:port is a flow with
 * its own connected UDP socket to one backend, so the backend's replies find their way back without any table.
 *
 * A flow's life (states below): its first datagram must be a client Initial the reader can open, or nothing is
 * kept (junk, Version Negotiation, short headers from unknown peers: dropped and counted, never answered, so the
 * router cannot be used to amplify). While `pending`, datagrams are buffered (bounded) and fed to the reader;
 * once the ClientHello is complete `decide` picks backends, the buffered datagrams go out first in arrival order,
 * then every datagram is forwarded both ways unmodified. A flow ends after `idleTimeoutMs` without a datagram,
 * and then writes its one record.
 *
 * Timers: none per flow and none re-armed per datagram. Each flow stores when it was last active; one sweep timer
 * (a quarter of the shortest timeout) closes what has expired. Per datagram the path is a Map lookup, a counter
 * update and one send.
 */
import dgram from 'node:dgram';
import dns from 'node:dns';
import net from 'node:net';
import { nextConnectionId } from '../../ops/conn-id.js';
import { formatEndpoint } from '../../wire/address.js';
import { QuicInitialReader, type QuicHelloResult } from '../../wire/quic-hello-reader.js';
import {
  DEFAULT_QUIC_FLOW_LIMITS,
  type QuicBackend,
  type QuicCloseReason,
  type QuicDecide,
  type QuicDropReason,
  type QuicFlowLimits,
  type QuicFlowRecord,
} from './flow-types.js';

export interface QuicFlowEngineOptions {
  readonly decide: QuicDecide;
  /** Called once per flow, when it ends (for the access log and metrics). Must not throw. */
  readonly onFlowClosed?: (record: QuicFlowRecord) => void;
  /** Socket-level failures that end no flow (a send that failed, the listening socket's errors). */
  readonly onError?: (error: Error) => void;
  readonly limits?: Partial<QuicFlowLimits>;
  /** The listener's label in records; default `host:port` as bound. */
  readonly listenerLabel?: string;
}

export interface QuicListenAddress {
  readonly host: string;
  readonly port: number;
  /** For `::`: false (default) accepts IPv4 too. */
  readonly ipv6Only?: boolean;
}

export interface QuicFlowStats {
  readonly flows: number;
  readonly pendingFlows: number;
  /** Backend sockets open (one per forwarding flow). */
  readonly backendSockets: number;
  readonly flowsOpened: number;
  readonly drops: Readonly<Record<QuicDropReason, number>>;
  /** Datagrams a pending flow's reader ignored (could not open), and datagrams sent to rejected flows. */
  readonly ignoredDatagrams: number;
}

/** A flow's states, in the order they happen. */
type FlowState =
  /** Waiting for the rest of the hello; datagrams buffered. */
  | 'pending'
  /** Routed; the backend socket is connecting. Datagrams still buffered, flushed in order once connected. */
  | 'connecting'
  /** Every datagram forwarded both ways as it comes. */
  | 'forwarding'
  /** Refused (no route, malformed, too large): its datagrams are dropped until it goes quiet, then it is logged once. */
  | 'rejected'
  | 'closed';

const SWEEP_MIN_MS = 25;
const SWEEP_MAX_MS = 1_000;

class Flow {
  readonly id = nextConnectionId();
  readonly key: string;
  readonly clientAddress: string;
  readonly clientPort: number;
  readonly startedMs: number;
  lastActiveMs: number;
  state: FlowState = 'pending';
  reader: QuicInitialReader | null;
  buffered: Buffer[] = [];
  bufferedBytes = 0;
  /** The datagrams sent before the backend first answered: replayed to the next backend if this one refuses. */
  sentBeforeAnswer: Buffer[] | null = null;
  sentBeforeAnswerBytes = 0;
  /** Counted in the pending caps: from its first datagram until it is routed or closed (rejected flows too). */
  isCountedPending = true;
  backends: readonly QuicBackend[] = [];
  backendIndex = 0;
  backend: string | null = null;
  socket: dgram.Socket | null = null;
  hasBackendAnswered = false;
  /** When the current backend was given the flow (for backendAnswerTimeoutMs). */
  backendSinceMs = 0;
  sni: string | null = null;
  alpn: readonly string[] = [];
  route: string | null = null;
  quicVersion: number | null = null;
  dcid: string | null = null;
  rejectReason: QuicCloseReason = 'no_route';
  helloDatagrams = 0;
  datagramsIn = 0;
  bytesIn = 0;
  datagramsOut = 0;
  bytesOut = 0;

  constructor(key: string, address: string, port: number, reader: QuicInitialReader, nowMs: number) {
    this.key = key;
    this.clientAddress = address;
    this.clientPort = port;
    this.reader = reader;
    this.startedMs = nowMs;
    this.lastActiveMs = nowMs;
  }
}

function emptyDrops(): Record<QuicDropReason, number> {
  return {
    short_header: 0,
    version_negotiation: 0,
    unsupported_version: 0,
    fixed_bit_clear: 0,
    not_initial: 0,
    initial_too_small: 0,
    hello_malformed: 0,
    hello_too_large: 0,
    pending_limit: 0,
    flow_limit: 0,
    pending_bytes: 0,
    draining: 0,
  };
}


function ignoreError(): void {}

/**
 * The client-facing socket only ever sends to peer addresses as the kernel reported them (IP literals), yet
 * dgram resolves the address of every send, and dns.lookup answers even a literal one tick later. Answering
 * literals at once takes that tick off every backend → client datagram.
 */
function lookupLiteral(
  hostname: string,
  options: dns.LookupOneOptions,
  callback: (error: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  const family = net.isIP(hostname);
  if (family !== 0) callback(null, hostname, family);
  else dns.lookup(hostname, options, callback);
}

export class QuicFlowEngine {
  readonly #socket: dgram.Socket;
  readonly #decide: QuicDecide;
  readonly #onFlowClosed: (record: QuicFlowRecord) => void;
  readonly #onError: (error: Error) => void;
  #limits: QuicFlowLimits;
  readonly #flows = new Map<string, Flow>();
  readonly #pendingByAddress = new Map<string, number>();
  readonly #drops = emptyDrops();
  readonly #sweepTimer: NodeJS.Timeout;
  #listenerLabel: string;
  #pendingFlows = 0;
  #backendSockets = 0;
  #flowsOpened = 0;
  #ignoredDatagrams = 0;
  #isClosing = false;
  #isDraining = false;

  private constructor(socket: dgram.Socket, options: QuicFlowEngineOptions) {
    this.#socket = socket;
    this.#decide = options.decide;
    this.#onFlowClosed = options.onFlowClosed ?? ignoreError;
    this.#onError = options.onError ?? ignoreError;
    this.#limits = { ...DEFAULT_QUIC_FLOW_LIMITS, ...options.limits };
    this.#listenerLabel = options.listenerLabel ?? '';
    socket.on('message', (datagram, peer) => this.#fromClient(datagram, peer.address, peer.port));
    socket.on('error', (error) => this.#onError(error));
    const { helloTimeoutMs, idleTimeoutMs, backendAnswerTimeoutMs } = this.#limits;
    const shortestMs = Math.min(helloTimeoutMs, idleTimeoutMs, backendAnswerTimeoutMs);
    const sweepMs = Math.min(SWEEP_MAX_MS, Math.max(SWEEP_MIN_MS, shortestMs / 4));
    this.#sweepTimer = setInterval(() => this.#sweep(), sweepMs);
    this.#sweepTimer.unref();
  }

  /** Binds a UDP socket on `address` and starts routing what arrives on it. Rejects when the bind fails. */
  static async listen(address: QuicListenAddress, options: QuicFlowEngineOptions): Promise<QuicFlowEngine> {
    const type = net.isIPv6(address.host) ? 'udp6' : 'udp4';
    const socket = dgram.createSocket({ type, ipv6Only: address.ipv6Only ?? false, lookup: lookupLiteral });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address: address.host, port: address.port, exclusive: true }, () => {
        socket.removeListener('error', reject);
        resolve();
      });
    });
    const engine = new QuicFlowEngine(socket, options);
    if (options.listenerLabel === undefined) {
      const bound = socket.address();
      engine.#listenerLabel = formatEndpoint(bound.address, bound.port);
    }
    return engine;
  }

  /** Where the client-facing socket is bound. */
  get address(): { address: string; port: number } {
    const bound = this.#socket.address();
    return { address: bound.address, port: bound.port };
  }

  stats(): QuicFlowStats {
    return {
      flows: this.#flows.size,
      pendingFlows: this.#pendingFlows,
      backendSockets: this.#backendSockets,
      flowsOpened: this.#flowsOpened,
      drops: { ...this.#drops },
      ignoredDatagrams: this.#ignoredDatagrams,
    };
  }

  /**
   * New bounds from a reload: flows open and new ones are held to them from now on. The sweep keeps the period
   * it started with (at most 1 s), so a shorter timeout may be overrun by that much.
   */
  setLimits(limits: Partial<QuicFlowLimits>): void {
    this.#limits = { ...DEFAULT_QUIC_FLOW_LIMITS, ...limits };
  }

  /** Shutting down: flows open keep forwarding both ways; a datagram from an unknown peer is dropped (draining). */
  stopAccepting(): void {
    this.#isDraining = true;
  }

  /** Ends every flow (reason shutdown, one record each) and closes all sockets. */
  async close(): Promise<void> {
    if (this.#isClosing) return;
    this.#isClosing = true;
    clearInterval(this.#sweepTimer);
    for (const flow of [...this.#flows.values()]) this.#close(flow, 'shutdown');
    await new Promise<void>((resolve) => this.#socket.close(() => resolve()));
  }

  #fromClient(datagram: Buffer, address: string, port: number): void {
    if (this.#isClosing) return;
    const key = `${address}|${port}`;
    const flow = this.#flows.get(key);
    if (flow === undefined) {
      this.#firstDatagram(key, datagram, address, port);
      return;
    }
    flow.lastActiveMs = performance.now();
    flow.datagramsIn += 1;
    flow.bytesIn += datagram.length;
    switch (flow.state) {
      case 'forwarding':
        flow.socket!.send(datagram);
        if (flow.sentBeforeAnswer !== null) this.#keepForReplay(flow, datagram);
        return;
      case 'pending':
        if (!this.#buffer(flow, datagram)) return;
        this.#readHello(flow, flow.reader!.push(datagram));
        return;
      case 'connecting':
        this.#buffer(flow, datagram);
        return;
      default:
        this.#ignoredDatagrams += 1;
    }
  }

  /** An unknown address:port: a flow only if this is a client Initial that opens, within the caps. */
  #firstDatagram(key: string, datagram: Buffer, address: string, port: number): void {
    const limits = this.#limits;
    if (this.#isDraining) {
      this.#drops.draining += 1;
      return;
    }
    if (this.#flows.size >= limits.maxFlows) {
      this.#drops.flow_limit += 1;
      return;
    }
    const pendingHere = this.#pendingByAddress.get(address) ?? 0;
    if (this.#pendingFlows >= limits.maxPendingFlows || pendingHere >= limits.maxPendingFlowsPerAddress) {
      this.#drops.pending_limit += 1;
      return;
    }
    if (datagram.length > limits.maxPendingBytesPerFlow) {
      this.#drops.pending_bytes += 1;
      return;
    }
    const reader = new QuicInitialReader({ maxHelloBytes: limits.maxHelloBytes });
    const answer = reader.push(datagram);
    if (answer.kind === 'not_quic') {
      this.#drops[answer.reason] += 1;
      return;
    }
    if (answer.kind === 'malformed') {
      this.#drops.hello_malformed += 1;
      return;
    }
    if (answer.kind === 'too_large') {
      this.#drops.hello_too_large += 1;
      return;
    }
    const flow = new Flow(key, address, port, reader, performance.now());
    this.#flows.set(key, flow);
    this.#flowsOpened += 1;
    this.#pendingFlows += 1;
    this.#pendingByAddress.set(address, pendingHere + 1);
    flow.datagramsIn = 1;
    flow.bytesIn = datagram.length;
    flow.buffered.push(datagram);
    flow.bufferedBytes = datagram.length;
    this.#readHello(flow, answer);
  }

  /** Buffers a datagram of a flow not yet forwarding; false (and dropped) past the per-flow cap. */
  #buffer(flow: Flow, datagram: Buffer): boolean {
    if (flow.bufferedBytes + datagram.length > this.#limits.maxPendingBytesPerFlow) {
      this.#drops.pending_bytes += 1;
      return false;
    }
    flow.buffered.push(datagram);
    flow.bufferedBytes += datagram.length;
    return true;
  }

  #readHello(flow: Flow, answer: QuicHelloResult): void {
    switch (answer.kind) {
      case 'need_more':
        return;
      case 'too_large':
        this.#reject(flow, 'hello_too_large');
        return;
      case 'malformed':
      case 'not_quic':
        this.#reject(flow, 'hello_malformed');
        return;
      case 'hello':
        break;
    }
    this.#ignoredDatagrams += flow.reader!.datagramsIgnored;
    flow.helloDatagrams = flow.reader!.datagrams;
    flow.reader = null;
    flow.sni = answer.hello.sni;
    flow.alpn = answer.hello.alpn;
    flow.quicVersion = answer.initial.version;
    flow.dcid = answer.initial.dcid.toString('hex');
    let decision = null;
    try {
      decision = this.#decide({ hello: answer.hello, initial: answer.initial, client: { address: flow.clientAddress, port: flow.clientPort } });
    } catch (error) {
      this.#onError(error instanceof Error ? error : new Error(String(error)));
    }
    if (decision === null || decision.backends.length === 0) {
      this.#reject(flow, 'no_route');
      return;
    }
    flow.route = decision.route;
    flow.backends = decision.backends;
    this.#leavePending(flow);
    flow.sentBeforeAnswer = [];
    flow.sentBeforeAnswerBytes = 0;
    this.#connect(flow);
  }

  /** Keeps what went to a backend that has not answered yet, within the pending cap; past it, no replay. */
  #keepForReplay(flow: Flow, datagram: Buffer): void {
    flow.sentBeforeAnswerBytes += datagram.length;
    if (flow.sentBeforeAnswerBytes > this.#limits.maxPendingBytesPerFlow) flow.sentBeforeAnswer = null;
    else flow.sentBeforeAnswer!.push(datagram);
  }

  #leavePending(flow: Flow): void {
    if (!flow.isCountedPending) return;
    flow.isCountedPending = false;
    this.#pendingFlows -= 1;
    const left = (this.#pendingByAddress.get(flow.clientAddress) ?? 1) - 1;
    if (left === 0) this.#pendingByAddress.delete(flow.clientAddress);
    else this.#pendingByAddress.set(flow.clientAddress, left);
  }

  /** Keeps a refused flow (still counted as pending) so its retransmitted Initials are dropped, not re-read. */
  #reject(flow: Flow, reason: QuicCloseReason): void {
    flow.state = 'rejected';
    flow.rejectReason = reason;
    flow.reader = null;
    flow.buffered = [];
    flow.bufferedBytes = 0;
  }

  /** Opens the socket to flow.backends[flow.backendIndex]; the buffered datagrams go out once it is connected. */
  #connect(flow: Flow): void {
    const target = flow.backends[flow.backendIndex]!;
    flow.state = 'connecting';
    flow.backendSinceMs = performance.now();
    flow.backend = formatEndpoint(target.host, target.port);
    const socket = dgram.createSocket(net.isIPv6(target.host) ? 'udp6' : 'udp4');
    flow.socket = socket;
    this.#backendSockets += 1;
    socket.on('error', (error: NodeJS.ErrnoException) => this.#onBackendError(flow, socket, error));
    socket.on('message', (datagram) => {
      if (flow.socket !== socket) return;
      flow.lastActiveMs = performance.now();
      flow.datagramsOut += 1;
      flow.bytesOut += datagram.length;
      if (!flow.hasBackendAnswered) {
        flow.hasBackendAnswered = true;
        flow.sentBeforeAnswer = null;
      }
      this.#socket.send(datagram, flow.clientPort, flow.clientAddress);
    });
    socket.connect(target.port, target.host, () => {
      if (flow.socket !== socket || flow.state !== 'connecting') return;
      flow.state = 'forwarding';
      const queued = flow.buffered;
      flow.buffered = [];
      flow.bufferedBytes = 0;
      for (const datagram of queued) {
        socket.send(datagram);
        if (flow.sentBeforeAnswer !== null) this.#keepForReplay(flow, datagram);
      }
    });
  }

  /**
   * A connected UDP socket reports the backend's ICMP port unreachable as ECONNREFUSED. Before the backend has
   * answered, that means "try the next backend" (the datagrams sent so far are replayed to it); after, the flow ends.
   * Silence counts too (see backendAnswerTimeoutMs, in the sweep): ICMP is rate-limited and often filtered.
   */
  #onBackendError(flow: Flow, socket: dgram.Socket, error: NodeJS.ErrnoException): void {
    if (flow.socket !== socket || flow.state === 'closed') return;
    if (!flow.hasBackendAnswered) {
      this.#nextBackend(flow);
      return;
    }
    this.#onError(error);
    this.#close(flow, 'backend_reset');
  }

  /** The current backend refused or stayed silent: the next one gets what was sent so far, or the flow ends. */
  #nextBackend(flow: Flow): void {
    this.#closeBackendSocket(flow);
    if (flow.backendIndex + 1 >= flow.backends.length) {
      this.#close(flow, 'backend_unavailable');
      return;
    }
    flow.backendIndex += 1;
    flow.buffered = flow.sentBeforeAnswer ?? [];
    flow.bufferedBytes = flow.buffered.reduce((sum, datagram) => sum + datagram.length, 0);
    flow.sentBeforeAnswer = [];
    flow.sentBeforeAnswerBytes = 0;
    this.#connect(flow);
  }

  #closeBackendSocket(flow: Flow): void {
    const socket = flow.socket;
    if (socket === null) return;
    flow.socket = null;
    this.#backendSockets -= 1;
    socket.removeAllListeners('message');
    socket.on('error', ignoreError);
    try {
      socket.close();
    } catch {
      // already closed
    }
  }

  /** Closes expired flows: pending past the hello timeout, rejected or idle past theirs. */
  #sweep(): void {
    const now = performance.now();
    const { helloTimeoutMs, idleTimeoutMs, backendAnswerTimeoutMs } = this.#limits;
    for (const flow of this.#flows.values()) {
      if (flow.state === 'connecting' || flow.state === 'forwarding') {
        if (!flow.hasBackendAnswered && now - flow.backendSinceMs >= backendAnswerTimeoutMs) {
          this.#nextBackend(flow);
          continue;
        }
      }
      if (flow.state === 'pending') {
        if (now - flow.startedMs >= helloTimeoutMs) this.#close(flow, 'hello_timeout');
      } else if (flow.state === 'rejected') {
        if (now - flow.lastActiveMs >= helloTimeoutMs) this.#close(flow, flow.rejectReason);
      } else if (now - flow.lastActiveMs >= idleTimeoutMs) {
        this.#close(flow, 'idle_timeout');
      }
    }
  }

  /** The one close path: frees the socket, leaves the maps, writes the record once. */
  #close(flow: Flow, reason: QuicCloseReason): void {
    if (flow.state === 'closed') return;
    this.#leavePending(flow);
    flow.state = 'closed';
    this.#closeBackendSocket(flow);
    this.#flows.delete(flow.key);
    flow.buffered = [];
    flow.sentBeforeAnswer = null;
    flow.reader = null;
    const record: QuicFlowRecord = {
      id: flow.id,
      mode: 'quic',
      client: formatEndpoint(flow.clientAddress, flow.clientPort),
      listener: this.#listenerLabel,
      sni: flow.sni,
      alpn: flow.alpn,
      route: flow.route,
      backend: flow.backend,
      dcid: flow.dcid,
      quicVersion: flow.quicVersion,
      helloDatagrams: flow.helloDatagrams,
      datagramsIn: flow.datagramsIn,
      bytesIn: flow.bytesIn,
      datagramsOut: flow.datagramsOut,
      bytesOut: flow.bytesOut,
      durationMs: Math.round(performance.now() - flow.startedMs),
      reason,
    };
    try {
      this.#onFlowClosed(record);
    } catch (error) {
      this.#onError(error instanceof Error ? error : new Error(String(error)));
    }
  }
}
