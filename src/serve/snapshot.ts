import type { BackendAddress, Config, PoolConfig, RouteConfig, Timeouts } from '../config/types.js';
import { type RouteMatch, RouteTable } from '../routing/route-table.js';
import type { RoutingState } from '../data-path/connection-host.js';
import { Pool } from '../pools/pool.js';
import type { Logger } from 'pino';
import { compileTerminate, type TerminateProfile } from '../data-path/terminate.js';
import { releaseTlsMaterial } from '../data-path/cert-store.js';
import { DEFAULT_LIMITS } from '../config/types.js';
import { HealthRegistry } from '../pools/health.js';
import { ConnectionRate, HelloGate } from './limits.js';
import { Resolver } from '../pools/resolve.js';

/** Routes whose terminate set-up and pools a reload builds per turn of the event loop. */
const ROUTES_PER_TURN = 500;

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * What outlives one snapshot: backend health (keyed by label, so unchanged backends keep their state across a
 * reload), resolved host names, and the hello-phase gate (its counts belong to connections of every snapshot).
 */
export interface SharedState {
  readonly health: HealthRegistry;
  readonly resolver: Resolver;
  readonly helloGate: HelloGate;
  /** Per-client connection rate (limits.max_connection_rate_per_client), across listeners and reloads. */
  readonly connectionRate: ConnectionRate;
}

/**
 * One config compiled for serving: the route table and the pools' live state. A connection takes the snapshot
 * that is current when it is accepted and keeps it to the end, so a reload never changes a connection midway.
 */
export class Snapshot implements RoutingState {
  readonly config: Config;
  readonly table: RouteTable;
  private readonly pools = new Map<PoolConfig, Pool>();
  /** Terminated routes' TLS set-up; built here so that bad certificate material fails start-up (CertificateError). */
  private readonly terminateProfiles = new Map<RouteConfig, TerminateProfile>();

  readonly shared: SharedState;
  private readonly logger: Logger | null;

  /**
   * `previous`: the snapshot this one replaces on reload, whose shared state it takes over. Built whole, at once
   * (start-up, tests); a reload uses Snapshot.build, which gives the event loop turns while it builds.
   */
  constructor(config: Config, logger: Logger | null = null, previous: Snapshot | null = null, isDeferred = false) {
    this.config = config;
    this.logger = logger;
    const shared = previous?.shared ?? { health: new HealthRegistry(logger), resolver: new Resolver(), helloGate: new HelloGate(), connectionRate: new ConnectionRate() };
    this.shared = shared;
    this.table = RouteTable.compile(config.routes, config.defaultPool);
    if (isDeferred) return;
    this.takeOver();
    for (const route of config.routes) this.#compileRoute(route);
    if (config.defaultPool) this.pool(config.defaultPool);
  }

  /**
   * A reload's snapshot, built a slice of routes per turn of the event loop (terminate set-up, pools), so that a
   * config of 10,000 routes does not stall the connections being served meanwhile. The shared state (health,
   * limits) is not touched: the caller calls takeOver() when it swaps the snapshot in.
   */
  static async build(config: Config, logger: Logger | null, previous: Snapshot): Promise<Snapshot> {
    await yieldToEventLoop();
    const snapshot = new Snapshot(config, logger, previous, true);
    try {
      for (let start = 0; start < config.routes.length; start += ROUTES_PER_TURN) {
        await yieldToEventLoop();
        for (const route of config.routes.slice(start, start + ROUTES_PER_TURN)) snapshot.#compileRoute(route);
      }
      if (config.defaultPool) snapshot.pool(config.defaultPool);
    } catch (error) {
      releaseTlsMaterial(snapshot); // a half-built snapshot must not keep the watches it took
      throw error;
    }
    return snapshot;
  }

  /** Makes this snapshot's config the one the shared state (limits, health checks, names) follows: at the swap. */
  takeOver(): void {
    const { shared, config, logger } = this;
    shared.helloGate.setLimits(config.limits ?? DEFAULT_LIMITS);
    shared.health.retain(config, logger, (backend) => shared.resolver.addressFor(backend));
    void shared.resolver.refresh(config, logger);
  }

  #compileRoute(route: RouteConfig): void {
    try {
      if (route.terminate) this.terminateProfiles.set(route, compileTerminate(route.terminate, this.logger, this));
    } catch (error) {
      releaseTlsMaterial(this); // a half-built snapshot must not keep the watches it took
      throw error;
    }
    this.pool(route.pool);
  }

  lookup(serverName: string | null, alpn: readonly string[]): RouteMatch | null {
    return this.table.lookup(serverName, alpn);
  }

  get hasDefaultPool(): boolean {
    return this.config.defaultPool !== null;
  }

  get timeouts(): Timeouts {
    return this.config.timeouts;
  }

  get maxHelloBytes(): number {
    return this.config.maxHelloBytes;
  }

  /** The TLS set-up of a terminated route (null for passthrough routes). */
  terminateProfile(route: RouteConfig): TerminateProfile | null {
    return this.terminateProfiles.get(route) ?? null;
  }

  pool(config: PoolConfig): Pool {
    let pool = this.pools.get(config);
    if (!pool) {
      pool = new Pool(config, this.shared.health);
      this.pools.set(config, pool);
    }
    return pool;
  }

  /** The address to dial for a backend (host names resolved at start-up and reload). */
  addressFor(backend: BackendAddress): string {
    return this.shared.resolver.addressFor(backend);
  }

  /**
   * A newer snapshot took over: give back the certificate files only this one used (their watches stop). Open
   * connections of this snapshot keep their SecureContexts; they only stop being refreshed from disk.
   */
  retire(): void {
    releaseTlsMaterial(this);
  }

  /** Stops what runs in the background (active health checks, certificate watches): the router is shutting down. */
  dispose(): void {
    this.shared.health.close();
    releaseTlsMaterial(this);
  }
}
