/**
 * `sni-router explain -c FILE NAME [--alpn P]`: which route a server name takes, and why.
 *
 * Walks the route grammar's precedence (config/route-grammar.ts: exact → longest wildcard → regexes in file order
 * → default) over the Config, and says what else matched and lost, so an operator can see why `*.a.example.com`
 * beat `*.example.com`.
 * The chosen route is checked against RouteTable.lookup itself, so explain cannot drift from real routing.
 * Pure: no I/O.
 */
import type { Config, PoolConfig, RouteConfig } from '../config/types.js';
import { describeHostNameProblem, normalizeServerName } from '../wire/host-name.js';
import { orderByPrecedence, routeMatchesName } from '../config/route-grammar.js';
import { RouteTable } from './route-table.js';

export type ExplainKind = 'exact' | 'wildcard' | 'regex' | 'default' | 'closed';

export interface Explanation {
  /** The name as given, and as compared (lower case, no trailing dot); null when it is not a host name. */
  readonly serverName: string | null;
  readonly normalized: string | null;
  readonly kind: ExplainKind;
  /** The route taken; null for default and closed. */
  readonly route: RouteConfig | null;
  /** The pool the connection would use (an ALPN pool when one matched); null when closed. */
  readonly pool: PoolConfig | null;
  /** The ALPN protocol whose pool was chosen, if any. */
  readonly alpnProtocol: string | null;
  /** Plain sentences: why this and not the others. */
  readonly reasons: readonly string[];
}

/** `serverName` null means "no SNI". `alpn` is the list the client would offer. */
export function explainRoute(config: Config, serverName: string | null, alpn: readonly string[] = []): Explanation {
  const reasons: string[] = [];
  const fallBack = (why: string): Explanation => {
    reasons.push(why);
    if (config.defaultPool !== null) {
      reasons.push('so the default pool takes it');
      return { serverName, normalized: null, kind: 'default', route: null, pool: config.defaultPool, alpnProtocol: null, reasons };
    }
    reasons.push('and there is no default pool, so the connection is closed (reason no_route)');
    return { serverName, normalized: null, kind: 'closed', route: null, pool: null, alpnProtocol: null, reasons };
  };

  if (serverName === null) return fallBack('the ClientHello has no server name');
  const normalized = normalizeServerName(serverName);
  if (normalized === null) {
    const problem = describeHostNameProblem(serverName.replace(/\.$/, '')) ?? 'it is not a host name';
    return fallBack(`'${shownName(serverName)}' is never matched against routes: ${problem}`);
  }
  if (normalized !== serverName) reasons.push(`'${shownName(serverName)}' is compared as '${normalized}'`);

  // Every route that matches, in the grammar's precedence: the first one wins, the rest lost to it.
  const matching = orderByPrecedence(config.routes).filter((route) => routeMatchesName(route, normalized));
  const chosen: RouteConfig | undefined = matching[0];
  if (chosen?.kind === 'exact') {
    reasons.push(`exact name ${where(chosen)}`);
  } else if (chosen?.kind === 'wildcard') {
    reasons.push(`wildcard '${chosen.name}' ${where(chosen)} is the longest wildcard that matches`);
  } else if (chosen?.kind === 'regex') {
    const index = config.routes.filter((route) => route.kind === 'regex').indexOf(chosen) + 1;
    reasons.push(`regex '${chosen.name}' ${where(chosen)} is the first regex in file order that matches (regex #${index}); no exact name or wildcard matched`);
  }
  const losers = matching.slice(1);
  for (const loser of losers) reasons.push(`'${loser.name}' ${where(loser)} matches too, but ${whyLost(loser, chosen)}`);
  if (!chosen) return { ...fallBack('no exact name, wildcard or regex matches'), normalized };

  checkAgainstTable(config, serverName, chosen);
  let pool = chosen.pool;
  let alpnProtocol: string | null = null;
  const alpnPool = chosen.alpn.find((entry) => alpn.includes(entry.protocol));
  if (alpnPool) {
    pool = alpnPool.pool;
    alpnProtocol = alpnPool.protocol;
    reasons.push(`the client offers ALPN '${alpnPool.protocol}', which has its own pool on this route`);
  } else if (chosen.alpn.length > 0) {
    reasons.push(`ALPN pools (${chosen.alpn.map((entry) => entry.protocol).join(', ')}) not offered, so the route's own backends`);
  }
  if (chosen.terminate !== null) reasons.push('TLS is terminated here with the route\'s certificate; the backend gets plaintext');
  return { serverName, normalized, kind: chosen.kind, route: chosen, pool, alpnProtocol, reasons };
}

/** Names that are not host names can be 64 KiB of anything: quote the start and say how long they are. */
const MAX_SHOWN_NAME_CHARS = 255;
function shownName(name: string): string {
  return name.length <= MAX_SHOWN_NAME_CHARS ? name : `${name.slice(0, MAX_SHOWN_NAME_CHARS)}… (${name.length} characters)`;
}

function where(route: RouteConfig): string {
  if (route.source === null) return '';
  return route.source.line > 0 ? `(line ${route.source.line})` : '(from a flag)';
}

function whyLost(loser: RouteConfig, winner: RouteConfig | undefined): string {
  if (winner?.kind === 'exact') return 'exact names win over wildcards and regexes';
  if (winner?.kind === 'wildcard' && loser.kind === 'wildcard') return `'${winner.name}' is longer (more specific)`;
  if (winner?.kind === 'wildcard') return 'wildcards win over regexes';
  return `'${winner?.name ?? ''}' comes first in the file`;
}

/** A guard, not a feature: should the walk above ever disagree with the real table, fail loudly. */
function checkAgainstTable(config: Config, serverName: string, chosen: RouteConfig): void {
  const match = RouteTable.compile(config.routes, config.defaultPool).lookup(serverName);
  if (match?.route?.name !== chosen.name) {
    throw new Error(`explain chose '${chosen.name}' but the route table chose '${match?.route?.name ?? 'default'}'`);
  }
}

/** The text `sni-router explain` prints. */
export function formatExplanation(explanation: Explanation): string {
  const { kind, route, pool } = explanation;
  const taken = route !== null ? `${route.name}  (${kind})` : kind === 'default' ? 'default pool' : 'none: the connection is closed (no_route)';
  const rows: Array<[string, string]> = [
    ['name', explanation.serverName === null ? '(no SNI)' : shownName(explanation.serverName)],
    ['route', taken],
  ];
  if (pool !== null) {
    rows.push(['backends', pool.backends.map((backend) => backend.label).join(', ')]);
    rows.push(['proxy', pool.proxyProtocol], ['balance', pool.balance]);
    rows.push(['mode', route?.terminate ? 'terminate' : 'passthrough']);
  }
  explanation.reasons.forEach((reason, index) => rows.push([index === 0 ? 'why' : '', reason]));
  return rows.map(([key, value]) => `${key.padEnd(8)}  ${value}`.trimEnd()).join('\n');
}
