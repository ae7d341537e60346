// CONTRACT STUB — replaced by the route table implementation. Keep the exported shapes.
import type { PoolConfig, RouteConfig } from './config/types.js';

export type MatchKind = 'exact' | 'wildcard' | 'regex' | 'default';

export interface RouteMatch {
  /** The matched route, or null when the default pool was chosen. */
  readonly route: RouteConfig | null;
  readonly pool: PoolConfig;
  readonly how: MatchKind;
}

export class RouteTable {
  static compile(_routes: readonly RouteConfig[], _defaultPool: PoolConfig | null): RouteTable {
    throw new Error('not implemented');
  }
  /**
   * `serverName` is the raw SNI from the hello (or null). It is normalized (case, one trailing dot) and checked
   * to be a host name; an invalid one is never matched against routes and goes to the default pool.
   * Returns null when nothing matched and there is no default pool.
   */
  lookup(_serverName: string | null): RouteMatch | null {
    throw new Error('not implemented');
  }
}
