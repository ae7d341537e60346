import type { Config, PoolConfig } from './config/types.js';
import { RouteTable } from './route-table.js';
import { Pool } from './pool.js';

/**
 * One config compiled for serving: the route table and the pools' live state. A connection takes the snapshot
 * that is current when it is accepted and keeps it to the end, so a reload never changes a connection midway.
 */
export class Snapshot {
  readonly config: Config;
  readonly table: RouteTable;
  private readonly pools = new Map<PoolConfig, Pool>();

  constructor(config: Config) {
    this.config = config;
    this.table = RouteTable.compile(config.routes, config.defaultPool);
    for (const route of config.routes) this.pools.set(route.pool, new Pool(route.pool));
    if (config.defaultPool) this.pools.set(config.defaultPool, new Pool(config.defaultPool));
  }

  pool(config: PoolConfig): Pool {
    let pool = this.pools.get(config);
    if (!pool) {
      pool = new Pool(config);
      this.pools.set(config, pool);
    }
    return pool;
  }
}
