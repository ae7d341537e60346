import type { Logger } from 'pino';
import type { Config, PoolConfig } from '../config/types.js';
import type { OpenConnection } from './listener.js';
import { servedCertificatesOf } from '../data-path/cert-store.js';
import type { ConnectionMetrics } from '../ops/connection-metrics.js';
import { Listener, type ListenerOwner } from './listener.js';
import { Snapshot } from './snapshot.js';

export interface BoundListener {
  /** As configured, e.g. '127.0.0.1:8443' or ':8443'. */
  readonly label: string;
  readonly address: string;
  readonly port: number;
}

export interface RunningRouter {
  readonly listeners: readonly BoundListener[];
  /** Number of connections open right now (any state). */
  readonly activeConnections: number;
  /** The config new connections start on. */
  readonly config: Config;
  /** Health of every backend of the current config (for sni_router_backend_up). */
  backendStates(): Array<{ backend: string; isUp: boolean }>;
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
}

/**
 * The composition root: owns the live snapshot, the listeners and the set of open connections. Only this module
 * knows about reload and shutdown; connections only see the snapshot they were accepted with.
 */
class Router implements ListenerOwner, RunningRouter {
  readonly logger: Logger;
  readonly metrics: ConnectionMetrics | undefined;
  isClosing = false;
  private snapshot: Snapshot;
  private listenersByLabel = new Map<string, Listener>();
  private readonly open = new Set<OpenConnection>();
  private drainWaiters: Array<() => void> = [];

  constructor(config: Config, logger: Logger, metrics?: ConnectionMetrics) {
    this.metrics = metrics;
    this.snapshot = new Snapshot(config, logger);
    this.logger = logger;
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

  backendStates(): Array<{ backend: string; isUp: boolean }> {
    const { config, shared } = this.snapshot;
    const labels = new Set<string>();
    const add = (pool: PoolConfig | null | undefined): void => {
      for (const backend of pool?.backends ?? []) labels.add(backend.label);
    };
    for (const route of config.routes) {
      add(route.pool);
      add(route.fallback);
      for (const entry of route.alpn ?? []) add(entry.pool);
    }
    add(config.defaultPool);
    return [...labels].map((backend) => ({ backend, isUp: shared.health.isUp(backend) }));
  }

  currentSnapshot(): Snapshot {
    return this.snapshot;
  }

  connectionOpened(connection: OpenConnection): void {
    if (!connection.isClosed) this.open.add(connection);
  }

  connectionClosed(connection: OpenConnection): void {
    this.open.delete(connection);
    if (this.open.size === 0 && this.drainWaiters.length > 0) {
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  get activeConnections(): number {
    return this.open.size;
  }

  get listeners(): BoundListener[] {
    return [...this.listenersByLabel.values()].map((listener) => ({ label: listener.address.label, ...listener.bound }));
  }

  async openListeners(config: Config): Promise<void> {
    const opened: Listener[] = [];
    try {
      for (const address of config.listen) {
        if (this.listenersByLabel.has(address.label)) continue;
        const listener = await Listener.open(address, this);
        opened.push(listener);
        this.listenersByLabel.set(address.label, listener);
      }
    } catch (error) {
      for (const listener of opened) {
        this.listenersByLabel.delete(listener.address.label);
        listener.stopAccepting();
      }
      throw error;
    }
  }

  async reload(next: Config): Promise<void> {
    // Build first (a slice per turn of the event loop; bad certificate material rejects here), then open the new
    // listeners: if either fails, the running config stays whole.
    const built = await Snapshot.build(next, this.logger, this.snapshot);
    try {
      await this.openListeners(next);
    } catch (error) {
      built.retire();
      throw error;
    }
    const wanted = new Set(next.listen.map((address) => address.label));
    for (const [label, listener] of this.listenersByLabel) {
      if (wanted.has(label)) continue;
      this.listenersByLabel.delete(label);
      listener.stopAccepting();
    }
    const previous = this.snapshot;
    built.takeOver();
    this.snapshot = built;
    previous.retire();
  }

  async close(graceMs = 0): Promise<void> {
    this.isClosing = true;
    for (const listener of this.listenersByLabel.values()) listener.stopAccepting();
    this.listenersByLabel.clear();
    this.snapshot.dispose();
    if (this.open.size > 0 && graceMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        this.drainWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    for (const connection of [...this.open]) connection.close('shutdown');
  }
}

/** Opens every listener; rejects with ListenError (naming the address) when one cannot be opened. */
export async function startRouter(config: Config, options: RouterOptions): Promise<RunningRouter> {
  const router = new Router(config, options.logger, options.metrics);
  await router.openListeners(config);
  return router;
}
