import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import { forEachPool } from '../config/for-each-pool.js';
import { servedCertificatesOf } from '../data-path/cert-store.js';
import { SniRouterError } from '../ops/errors.js';
import type { ConnectionInfo } from '../data-path/connection-info.js';
import type { BackendStatus } from '../pools/health.js';
import type { ConnectionMetrics } from '../ops/connection-metrics.js';
import { type BoundListener, chooseDataPlane, nativeUnsuitability, type DataPlane, type DataPlaneName, type PlaneOwner } from './data-plane.js';
import { NativeServingPlane } from './native-serving-plane.js';
import { NodeServingPlane } from './node-serving-plane.js';
import { Snapshot } from './snapshot.js';
import { QuicListeners } from './quic-listeners.js';
import type { QuicFlowMetricsSink } from '../ops/quic-metrics-sink.js';

export type { BoundListener, DataPlaneName } from './data-plane.js';

export interface RunningRouter {
  /** Which data plane carries the connections. */
  readonly dataPlane: DataPlaneName;
  readonly listeners: readonly BoundListener[];
  /** Number of connections open right now (any state). */
  readonly activeConnections: number;
  /** QUIC flows held right now, on every QUIC listener (src/serve/quic-listeners.ts). */
  readonly activeFlows: number;
  /** The config new connections start on. */
  readonly config: Config;
  /** Health of every backend of the current config (for sni_router_backend_up). */
  backendStates(): Array<{ backend: string; isUp: boolean }>;
  /** Every backend of the current config with its health, since when, why, and the connections it carries. */
  backendStatuses(): BackendStatus[];
  /** Every open TCP connection, as the admin API lists it (src/data-path/connection-info.ts). */
  connectionInfos(): ConnectionInfo[];
  /** The earliest expiry of each terminate route's certificates, as served now (for the expiry metric). */
  certificateExpiries(): Array<{ route: string; notAfterSeconds: number }>;
  /** close() was called: no longer accepting, draining. */
  readonly isClosing: boolean;
  /** Swap in a new validated config: new connections use it; open ones finish on theirs. */
  reload(next: Config): Promise<void>;
  /** Stop accepting; wait up to graceMs for open connections, then close the rest (reason shutdown). */
  close(graceMs?: number): Promise<void>;
}

export interface RouterOptions {
  readonly logger: Logger;
  /** Counts accepts, hellos, connects and closes (src/metrics.ts); absent = metrics off. */
  readonly metrics?: ConnectionMetrics;
  /** The QUIC flows' counters and gauges; absent = off. */
  readonly quicMetrics?: QuicFlowMetricsSink;
}

/**
 * The composition root: owns the live snapshot and the data plane (data-plane.ts) that carries the connections.
 * Only this module knows about reload and shutdown; connections only see the snapshot they were accepted with.
 */
class Router implements PlaneOwner, RunningRouter {
  readonly logger: Logger;
  readonly metrics: ConnectionMetrics | undefined;
  isClosing = false;
  private snapshot: Snapshot;
  private readonly plane: DataPlane;
  private drainWaiters: Array<() => void> = [];
  readonly quic: QuicListeners;

  constructor(config: Config, logger: Logger, metrics?: ConnectionMetrics, quicMetrics?: QuicFlowMetricsSink) {
    this.metrics = metrics;
    this.snapshot = new Snapshot(config, logger);
    this.logger = logger;
    const choice = chooseDataPlane(config);
    if (choice.name === 'native') this.plane = new NativeServingPlane(this, choice.addon, config);
    else {
      if (choice.fallbackReason !== null) logger.warn({ data_plane: 'node', why: choice.fallbackReason }, 'native data plane not used; running the node plane');
      this.plane = new NodeServingPlane(this);
    }
    this.quic = new QuicListeners(this, { ...(metrics ? { metrics } : {}), ...(quicMetrics ? { flowMetrics: quicMetrics } : {}) });
  }

  get activeFlows(): number {
    return this.quic.flows;
  }

  get dataPlane(): DataPlaneName {
    return this.plane.name;
  }

  get config(): Config {
    return this.snapshot.config;
  }

  certificateExpiries(): Array<{ route: string; notAfterSeconds: number }> {
    const expiries: Array<{ route: string; notAfterSeconds: number }> = [];
    for (const route of this.snapshot.config.routes) {
      if (route.terminate === null) continue;
      const served = servedCertificatesOf(route.terminate);
      if (served.length === 0) continue;
      const notAfterMs = Math.min(...served.map((certificate) => certificate.notAfter.getTime()));
      expiries.push({ route: route.name, notAfterSeconds: Math.floor(notAfterMs / 1000) });
    }
    return expiries;
  }

  /** Every backend label of the current config, once each, whichever pools share it. */
  #backendLabels(): string[] {
    const labels = new Set<string>();
    forEachPool(this.snapshot.config, (pool) => {
      for (const backend of pool.backends) labels.add(backend.label);
    });
    return [...labels];
  }

  backendStates(): Array<{ backend: string; isUp: boolean }> {
    const { health } = this.snapshot.shared;
    return this.#backendLabels().map((backend) => ({ backend, isUp: health.isUp(backend) }));
  }

  backendStatuses(): BackendStatus[] {
    const active = new Map<string, number>();
    for (const connection of this.plane.connectionInfos()) {
      if (connection.backend !== null) active.set(connection.backend, (active.get(connection.backend) ?? 0) + 1);
    }
    const { health } = this.snapshot.shared;
    const now = Date.now();
    return this.#backendLabels().map((label) => ({ ...health.describe(label, now), active: active.get(label) ?? 0 }));
  }

  connectionInfos(): ConnectionInfo[] {
    return this.plane.connectionInfos();
  }

  currentSnapshot(): Snapshot {
    return this.snapshot;
  }

  connectionEnded(): void {
    if (this.plane.openConnections === 0 && this.drainWaiters.length > 0) {
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  get activeConnections(): number {
    return this.plane.openConnections;
  }

  get listeners(): readonly BoundListener[] {
    return this.plane.listeners;
  }

  async openListeners(config: Config): Promise<void> {
    await this.plane.openListeners(config);
    // UDP beside TCP, on the port the TCP listener got (so that :0 gives both the same one).
    await this.quic.open(config, (label) => this.plane.listeners.find((bound) => bound.label === label)?.port);
  }

  async reload(next: Config): Promise<void> {
    // Build first (a slice per turn of the event loop; bad certificate material rejects here), then open the new
    // listeners: if either fails, the running config stays whole.
    if (this.plane.name === 'native') {
      // The plane is chosen at start: a reload cannot bring in what only the node plane carries (plain-HTTP listeners).
      const unsuitable = nativeUnsuitability(next);
      if (unsuitable !== null) throw new SniRouterError('SNIR_ERR_CONFIG', `reload refused: the native data plane is running and ${unsuitable}; restart to run the node plane`);
    }
    const built = await Snapshot.build(next, this.logger, this.snapshot);
    try {
      await this.plane.openListeners(next);
    } catch (error) {
      built.retire();
      throw error;
    }
    this.plane.keepListeners(new Set(next.listen.map((address) => address.label)));
    const previous = this.snapshot;
    built.takeOver();
    this.snapshot = built;
    this.plane.configChanged(next);
    this.quic.retain(next);
    previous.retire();
  }

  async close(graceMs = 0): Promise<void> {
    this.isClosing = true;
    const quicClosed = this.quic.close(graceMs); // drains beside the TCP connections, within the same grace
    this.plane.stopAccepting();
    this.snapshot.dispose();
    if (this.plane.openConnections > 0 && graceMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        this.drainWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    this.plane.closeConnections();
    await quicClosed;
  }
}

/** Opens every listener; rejects with ListenError (naming the address) when one cannot be opened. */
export async function startRouter(config: Config, options: RouterOptions): Promise<RunningRouter> {
  const router = new Router(config, options.logger, options.metrics, options.quicMetrics);
  await router.openListeners(config);
  return router;
}
