/**
 * `decide` for the QUIC flow engine from the TCP route table: the same names, precedence, normalisation, ALPN
 * pools and `default` as TCP (SPEC "Routing rules"), looked up once per flow when its hello is complete. Taking
 * the table through a getter lets the owner swap it on reload: flows routed before keep their backend.
 */
import type { RouteTable } from '../../routing/route-table.js';
import type { QuicBackend, QuicDecide, QuicDecision } from './flow-types.js';

export const DEFAULT_ROUTE_LABEL = 'default';

export function decideByRouteTable(currentTable: () => RouteTable): QuicDecide {
  // One decision per pool, built on first use and kept while the pool object lives (pools are frozen per config).
  const decisions = new WeakMap<object, QuicDecision>();
  return ({ hello }) => {
    const match = currentTable().lookup(hello.sni, hello.alpn);
    if (match === null) return null;
    let decision = decisions.get(match);
    if (decision === undefined) {
      const backends: QuicBackend[] = match.pool.backends.map((backend) => ({ host: backend.host, port: backend.port }));
      decision = Object.freeze({ backends: Object.freeze(backends), route: match.route?.name ?? DEFAULT_ROUTE_LABEL });
      decisions.set(match, decision);
    }
    return decision;
  };
}
