import type { BackendAddress, Config, PoolConfig, RouteConfig } from './config/types.js';
import { RouteTable } from './route-table.js';
import { Pool } from './pool.js';
import type { Logger } from 'pino';
import { compileTerminate, type TerminateProfile } from './terminate.js';
import { releaseTlsMaterial } from './cert-store.js';
import { DEFAULT_LIMITS } from './config/types.js';
import { HealthRegistry } from './health.js';
import { HelloGate } from './limits.js';
import { Resolver } from './resolve.js';

/**
 * What outlives one snapshot: backend health (keyed by label, so unchanged backends keep their state across a
 * reload), resolved host names, and the hello-phase gate (its counts belong to connections of every snapshot).
 */
export interface SharedState {
  readonly health: HealthRegistry;
  readonly resolver: Resolver;
  readonly helloGate: HelloGate;
}

/**
 * One config compiled for serving: the route table and the pools' live state. A connection takes the snapshot
 * that is current when it is accepted and keeps it to the end, so a reload never changes a connection midway.
 */
export class Snapshot {
  readonly config: Config;
  readonly table: RouteTable;
  private readonly pools = new Map<PoolConfig, Pool>();
  /** Terminated routes' TLS set-up; built here so that bad certificate material fails start-up (CertificateError). */
  private readonly terminateProfiles = new Map<RouteConfig, TerminateProfile>();

  readonly shared: SharedState;

  /** `previous`: the snapshot this one replaces on reload, whose shared state it takes over. */
  constructor(config: Config, logger: Logger | null = null, previous: Snapshot | null = null) {
    this.config = config;
    const shared = previous?.shared ?? { health: new HealthRegistry(logger), resolver: new Resolver(), helloGate: new HelloGate() };
    this.shared = shared;
    shared.helloGate.setLimits(config.limits ?? DEFAULT_LIMITS);
    shared.health.retain(config, logger, (backend) => shared.resolver.addressFor(backend));
    void shared.resolver.refresh(config, logger);
    this.table = RouteTable.compile(config.routes, config.defaultPool);
    try {
      for (const route of config.routes) {
        if (route.terminate) this.terminateProfiles.set(route, compileTerminate(route.terminate, logger, this));
      }
    } catch (error) {
      releaseTlsMaterial(this); // a half-built snapshot must not keep the watches it took
      throw error;
    }
    for (const route of config.routes) this.pool(route.pool);
    if (config.defaultPool) this.pool(config.defaultPool);
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
