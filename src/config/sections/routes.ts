/**
 * `routes:` a mapping of server name (exact, `*.` wildcard, or `~` regex; config/route-grammar.ts) to a pool, and
 * `default:`, the pool for everything else. Route names compare case-insensitively, so two keys that differ only
 * in case are the same route and the second is an error.
 */
import { isMap, type Node } from 'yaml';
import { quoteValue } from '../problem.js';
import { classifyRouteName, routeIdentity } from '../route-grammar.js';
import type { PoolConfig, ProxyProtocolMode, RouteConfig } from '../types.js';
import { DEFAULT_POOL_KEYS, readPool, ROUTE_KEYS } from './pools.js';
import { isNull, type YamlReader } from './yaml-reader.js';

export function readRoutes(reader: YamlReader, node: Node | null, proxyProtocol: ProxyProtocolMode): RouteConfig[] {
  const routes: RouteConfig[] = [];
  if (isNull(node)) return routes;
  if (!isMap(node)) {
    reader.report(node, "routes must be a mapping of server name to backends, as in { app.example.com: [10.0.0.5:8443] }");
    return routes;
  }
  const firstByIdentity = new Map<string, { name: string; line: number }>();
  const fields = reader.fields(node, null, () => '');
  for (const [name, pair] of fields.pairs) {
    const keyNode = pair.key as Node;
    const classified = classifyRouteName(name);
    if (!classified.ok) {
      reader.report(keyNode, `route ${quoteValue(name)} ${classified.reason}`);
      continue;
    }
    const source = reader.position(keyNode);
    const identity = routeIdentity(classified.kind, classified.pattern);
    const first = firstByIdentity.get(identity);
    if (first !== undefined) {
      const where = `'${first.name}' at line ${first.line}`;
      reader.report(keyNode, `route '${name}' is the same name as ${where}; names compare case-insensitively`);
      continue;
    }
    firstByIdentity.set(identity, { name, line: source.line });
    const exactName = classified.kind === 'exact' ? classified.pattern : null;
    const what = `route '${name}'`;
    const read = readPool({ reader, what, proxyProtocol, exactName }, reader.valueOrKey(pair), what, ROUTE_KEYS);
    if (read === null) continue;
    const { pool, terminate, alpn, fallback, quicBackends } = read;
    routes.push({ name, kind: classified.kind, pattern: classified.pattern, pool, terminate, source, alpn, fallback, quicBackends });
  }
  return routes;
}

/** `default:` a pool, or null (`default:` with nothing, or `default: null`: unmatched names are closed). */
export function readDefault(reader: YamlReader, node: Node | null, proxyProtocol: ProxyProtocolMode): PoolConfig | null {
  if (isNull(node)) return null;
  return readPool({ reader, what: 'default', proxyProtocol, exactName: null }, node, 'default', DEFAULT_POOL_KEYS)?.pool ?? null;
}
