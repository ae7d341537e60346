/**
 * The QUIC side of a running router: one flow engine (src/data-path/quic/quic-flows.ts) per listen address that
 * says `quic: true`, bound to the same address and port as its TCP listener, routed by the same snapshot.
 *
 * - Routing: each flow's hello is looked up in the snapshot current when the hello completes, through the same
 *   table as TCP; the route's pool gives the backend order (its balancer, and health as the TCP side sees it:
 *   a backend down over TCP is left out over UDP too). `quic_backends` replaces the route's pools for QUIC.
 * - Reload: new flows take the new snapshot; flows already routed keep their backend socket to the end. Engines
 *   for addresses no longer marked QUIC close (their flows end, reason shutdown); the `quic:` bounds apply at once.
 * - Shutdown: engines stop taking new flows, open ones keep forwarding until they go idle or the grace ends.
 * - Each flow ends in one access line (mode quic) and the flow metrics. The hello outcome goes to the same
 *   counter as TCP's with protocol quic: when the hello is read, or when the flow ends without one.
 */
import type { Logger } from 'pino';
import type { BackendAddress, Config, ListenAddress, PoolConfig, RouteConfig } from '../config/types.js';
import type { QuicSettings } from '../config/quic-keys.js';
import { QuicFlowEngine } from '../data-path/quic/quic-flows.js';
import type { QuicBackend, QuicDecision, QuicFlowLimits, QuicFlowRecord, QuicHelloContext } from '../data-path/quic/flow-types.js';
import { ListenError } from '../ops/errors.js';
import type { ConnectionMetrics, HelloOutcome } from '../ops/connection-metrics.js';
import { NO_QUIC_METRICS, type QuicFlowGauges, type QuicFlowMetricsSink } from '../ops/quic-metrics-sink.js';
import type { Snapshot } from './snapshot.js';

const DEFAULT_ROUTE_LABEL = 'default';
/** Server names longer than this are cut in the access line, as on TCP (a name is at most 253 bytes anyway). */
const MAX_LOGGED_SNI_CHARS = 256;

export interface QuicListenersOwner {
  readonly logger: Logger;
  currentSnapshot(): Snapshot;
}

export interface QuicListenersOptions {
  /** For the hello outcomes (protocol quic); absent = off. */
  readonly metrics?: ConnectionMetrics;
  readonly flowMetrics?: QuicFlowMetricsSink;
}

/** The engine's bounds from the config's `quic:` section and the hello cap all listeners share. */
export function engineLimits(config: Config): QuicFlowLimits {
  const quic: QuicSettings = config.quic;
  return {
    maxHelloBytes: config.maxHelloBytes,
    maxPendingBytesPerFlow: quic.maxPendingBytesPerFlow,
    maxPendingFlows: quic.maxPendingFlows,
    maxPendingFlowsPerAddress: quic.maxPendingFlowsPerClient,
    maxFlows: quic.maxFlows,
    helloTimeoutMs: quic.helloTimeoutMs,
    backendAnswerTimeoutMs: quic.backendAnswerTimeoutMs,
    idleTimeoutMs: quic.idleTimeoutMs,
  };
}

/** Why a flow's hello was never read, for the hello counter; null when it was (counted at routing) or not begun. */
export function failedHelloOutcome(record: QuicFlowRecord): HelloOutcome | null {
  if (record.helloDatagrams > 0) return null;
  switch (record.reason) {
    case 'hello_timeout':
      return 'timeout';
    case 'hello_too_large':
      return 'too_large';
    case 'hello_malformed':
      return 'malformed';
    default:
      return null;
  }
}

export class QuicListeners {
  readonly #owner: QuicListenersOwner;
  readonly #metrics: ConnectionMetrics | undefined;
  readonly #flowMetrics: QuicFlowMetricsSink;
  readonly #engines = new Map<string, QuicFlowEngine>();
  /** The pool standing for a route's `quic_backends`, one per route config (frozen, so identity is enough). */
  readonly #quicPools = new WeakMap<RouteConfig, PoolConfig>();
  /** Drops of engines already closed (a reload removed their address), so the counter never goes down. */
  readonly #closedDrops: Record<string, number> = {};
  #drainWaiters: Array<() => void> = [];

  constructor(owner: QuicListenersOwner, options: QuicListenersOptions = {}) {
    this.#owner = owner;
    this.#metrics = options.metrics;
    this.#flowMetrics = options.flowMetrics ?? NO_QUIC_METRICS;
    this.#flowMetrics.watchFlows(() => this.gauges());
  }

  /** Bound addresses, labelled as configured. */
  get bound(): Array<{ label: string; address: string; port: number }> {
    return [...this.#engines].map(([label, engine]) => ({ label, ...engine.address }));
  }

  get flows(): number {
    let flows = 0;
    for (const engine of this.#engines.values()) flows += engine.stats().flows;
    return flows;
  }

  gauges(): QuicFlowGauges {
    let flows = 0;
    let pendingFlows = 0;
    const drops: Record<string, number> = { ...this.#closedDrops };
    for (const engine of this.#engines.values()) {
      const stats = engine.stats();
      flows += stats.flows;
      pendingFlows += stats.pendingFlows;
      for (const [reason, count] of Object.entries(stats.drops)) drops[reason] = (drops[reason] ?? 0) + count;
    }
    return { flows, pendingFlows, drops };
  }

  /**
   * Binds UDP for every QUIC listen address not bound yet; `tcpPortOf` gives the port its TCP listener got (so
   * that port 0 means the same free port for both). All or nothing: rejects with ListenError naming the address.
   */
  async open(config: Config, tcpPortOf: (label: string) => number | undefined): Promise<void> {
    const limits = engineLimits(config);
    for (const engine of this.#engines.values()) engine.setLimits(limits);
    const opened: Array<[string, QuicFlowEngine]> = [];
    try {
      for (const address of config.listen) {
        if (address.quic !== true || this.#engines.has(address.label)) continue;
        const engine = await this.#listen(address, tcpPortOf(address.label) ?? address.port, limits);
        opened.push([address.label, engine]);
        this.#engines.set(address.label, engine);
        const { address: host, port } = engine.address;
        this.#owner.logger.info({ listener: address.label, address: host, port, protocol: 'quic' }, 'quic listening');
      }
    } catch (error) {
      for (const [label, engine] of opened) {
        this.#engines.delete(label);
        void engine.close();
      }
      throw error;
    }
  }

  /** After a reload: closes the engines of addresses the new config no longer marks QUIC. */
  retain(config: Config): void {
    const wanted = new Set(config.listen.filter((address) => address.quic).map((address) => address.label));
    for (const [label, engine] of this.#engines) {
      if (wanted.has(label)) continue;
      this.#engines.delete(label);
      for (const [reason, count] of Object.entries(engine.stats().drops)) this.#closedDrops[reason] = (this.#closedDrops[reason] ?? 0) + count;
      void engine.close();
    }
  }

  /** Stops taking new flows; waits up to graceMs for the open ones to end on their own, then ends the rest. */
  async close(graceMs: number): Promise<void> {
    for (const engine of this.#engines.values()) engine.stopAccepting();
    if (this.flows > 0 && graceMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        this.#drainWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    const engines = [...this.#engines.values()];
    this.#engines.clear();
    await Promise.all(engines.map((engine) => engine.close()));
  }

  async #listen(address: ListenAddress, port: number, limits: QuicFlowLimits): Promise<QuicFlowEngine> {
    try {
      return await QuicFlowEngine.listen(
        { host: address.host, port, ipv6Only: address.ipv6Only },
        {
          decide: (context) => this.#decide(context),
          onFlowClosed: (record) => this.#onFlowClosed(record),
          onError: (error) => this.#owner.logger.warn({ listener: address.label, protocol: 'quic', err: error.message }, 'quic socket error'),
          limits,
          listenerLabel: address.label,
        },
      );
    } catch (error) {
      throw new ListenError(`${address.label} (UDP, for QUIC)`, error);
    }
  }

  /** The route table of the snapshot current now; the backend order from the route's pool. Never throws. */
  #decide({ hello, client }: QuicHelloContext): QuicDecision | null {
    this.#metrics?.hello(hello.sni === null ? 'no_sni' : 'sni_found', 0, 'quic');
    const snapshot = this.#owner.currentSnapshot();
    const match = snapshot.table.lookup(hello.sni, hello.alpn);
    if (match === null) return null;
    const route = match.route?.name ?? DEFAULT_ROUTE_LABEL;
    const quicBackends = match.route?.quicBackends ?? null;
    let pool = snapshot.pool(match.route && quicBackends !== null ? this.#quicPool(match.route, quicBackends) : match.pool);
    let order = pool.dialOrder(client.address);
    if (order.length === 0 && match.fallback && quicBackends === null) {
      pool = snapshot.pool(match.fallback);
      order = pool.dialOrder(client.address);
    }
    if (order.length === 0) order = pool.lastResortOrder(); // every backend down: one may be back
    const backends: QuicBackend[] = order.map((index) => {
      const backend = pool.backendAt(index);
      return { host: snapshot.addressFor(backend), port: backend.port };
    });
    return { backends, route };
  }

  #quicPool(route: RouteConfig, backends: readonly BackendAddress[]): PoolConfig {
    let pool = this.#quicPools.get(route);
    if (pool === undefined) {
      pool = Object.freeze({ backends, proxyProtocol: 'none', balance: route.pool.balance, health: null, protocol: route.pool.protocol });
      this.#quicPools.set(route, pool);
    }
    return pool;
  }

  #onFlowClosed(record: QuicFlowRecord): void {
    const sni = record.sni !== null && record.sni.length > MAX_LOGGED_SNI_CHARS ? `${record.sni.slice(0, MAX_LOGGED_SNI_CHARS)}…` : record.sni;
    // The TCP access line's fields (src/data-path/connection.ts), then what only a flow has.
    this.#owner.logger.info(
      {
        id: record.id,
        client: record.client,
        listener: record.listener,
        sni,
        alpn: record.alpn.length > 0 ? record.alpn.join(',') : null,
        route: record.route,
        backend: record.backend,
        mode: 'quic',
        bytes_in: record.bytesIn,
        bytes_out: record.bytesOut,
        datagrams_in: record.datagramsIn,
        datagrams_out: record.datagramsOut,
        duration_ms: record.durationMs,
        reason: record.reason,
        dcid: record.dcid,
        quic_version: record.quicVersion,
        hello_datagrams: record.helloDatagrams,
      },
      'connection closed',
    );
    const outcome = failedHelloOutcome(record);
    if (outcome !== null) this.#metrics?.hello(outcome, 0, 'quic');
    this.#flowMetrics.flowClosed(record);
    if (this.#drainWaiters.length > 0 && this.flows === 0) {
      const waiters = this.#drainWaiters;
      this.#drainWaiters = [];
      for (const wake of waiters) wake();
    }
  }
}
