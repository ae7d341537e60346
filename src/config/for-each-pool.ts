/**
 * Every pool of a Config, for the modules that keep state per backend (health checks, name resolution, the admin
 * view of backends). Order: each route's own pool, its ALPN pools in file order, its fallback; then the default
 * pool. Health checks depend on it: the first pool of a backend that sets `health` decides its checks.
 */
import type { Config, PoolConfig } from './types.js';

export function forEachPool(config: Config, visit: (pool: PoolConfig) => void): void {
  for (const route of config.routes) {
    visit(route.pool);
    for (const entry of route.alpn) visit(entry.pool);
    if (route.fallback !== null) visit(route.fallback);
  }
  if (config.defaultPool !== null) visit(config.defaultPool);
}
