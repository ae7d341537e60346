/**
 * The compiled SNI map: built once per config, then only looked up (once per connection).
 *
 * Precedence is the route grammar's (src/config/route-grammar.ts: exact name → the longest matching wildcard →
 * regexes in file order → default); this file is its fast form, and tests hold the two to the same answers.
 *
 * - Exact names sit in a Map keyed by the canonical name (lower case, no trailing dot).
 * - Wildcards sit in a Map keyed by their suffix with its leading dot (`*.example.com` → `.example.com`). A lookup
 *   walks the name's suffixes from the longest, so `*.a.example.com` beats `*.example.com` for `x.a.example.com`;
 *   and since the walk starts after the first label, `*.example.com` never matches `example.com` itself but does
 *   match any number of labels in front of it.
 * - Regexes run only when both Maps missed, against the canonical name, first match in file order wins. They run
 *   on V8's linear-time engine (route-regex.ts), so a test costs at most about name length × pattern size however
 *   hostile the name, and they are compiled here, when the table is built, never on a connection. That engine has
 *   none of the backtracking engine's quick rejections (~200 ns a test even when it fails at once).
 * - Regexes that start with a literal after `^` (`^api-7-…`, the usual per-customer pattern) sit in a Map keyed by
 *   that prefix: a lookup probes it with the name's first bytes, once per distinct prefix length, and tests only
 *   the regexes whose prefix the name starts with (a miss tests none), sticky so that the engine tries position 0
 *   only. The rest ("scanned", at most MAX_UNANCHORED_REGEX_TOTAL_LENGTH characters in all) are tested one by one
 *   on every miss; the lowest file position among both answers wins.
 * - The scanned ones are not joined into one alternation, as they were for the backtracking engine: the linear
 *   engine runs an alternation of n regexes far slower than the n regexes one by one on long names (80 of them
 *   against a 253-byte name: 140 ms joined, 3 ms one by one), and a hostile client picks the name.
 *
 * Every possible answer is built at compile time, so a lookup allocates nothing except the suffix strings it
 * probes the wildcard Map with.
 */
import type { PoolConfig, RouteConfig } from '../config/types.js';
import { MAX_HOST_NAME_BYTES, normalizeServerName } from '../wire/host-name.js';
import { compileFoldedRegex, compileRouteRegex, prefixKeys } from '../config/route-regex.js';

export type MatchKind = 'exact' | 'wildcard' | 'regex' | 'default';

export interface RouteMatch {
  /** The matched route, or null when the default pool was chosen. */
  readonly route: RouteConfig | null;
  readonly pool: PoolConfig;
  readonly how: MatchKind;
  /** The offered ALPN protocol that picked an `alpn` pool of the route, or null for the route's own pool. */
  readonly alpn: string | null;
  /** The route's `fallback` pool: used when every backend of `pool` is down or fails. */
  readonly fallback: PoolConfig | null;
  /** @internal The route's ALPN alternatives, in file order; empty for most routes. */
  readonly byAlpn: readonly RouteMatch[];
}

/** The name the access log and the admin API give a match: the route's, `default`, or null before any match. */
export function routeNameOf(match: RouteMatch | null): string | null {
  return match ? (match.route ? match.route.name : 'default') : null;
}

/**
 * A route's match and one more per `alpn` pool, built at compile time so that a lookup allocates nothing. The
 * first ALPN pool (in file order) whose protocol the client offers wins; otherwise the route's own pool.
 */
function compileMatch(route: RouteConfig, how: MatchKind): RouteMatch {
  const { fallback } = route;
  const byAlpn = route.alpn.map((entry): RouteMatch =>
    Object.freeze({ route, pool: entry.pool, how, alpn: entry.protocol, fallback, byAlpn: [] }),
  );
  return Object.freeze({ route, pool: route.pool, how, alpn: null, fallback, byAlpn: Object.freeze(byAlpn) });
}

/** The match for the client's offered protocols: an ALPN alternative when one applies, else `match` itself. */
function pickByAlpn(match: RouteMatch | null, offered: readonly string[]): RouteMatch | null {
  if (match === null || match.byAlpn.length === 0 || offered.length === 0) return match;
  for (const alternative of match.byAlpn) {
    if (alternative.alpn !== null && offered.includes(alternative.alpn)) return alternative;
  }
  return match;
}

interface RegexEntry {
  /** The route's pattern as the linear-time engine runs it (case folded, see route-regex.ts). */
  readonly source: string;
  /** Position among the regex routes (file order): the lowest that matches wins. */
  readonly index: number;
  readonly regex: RegExp;
  readonly match: RouteMatch;
}

/** Regexes by anchored literal prefix (see the file comment). */
interface PrefixIndex {
  /** Prefix → its regexes in file order, each compiled sticky (tried at position 0 only). */
  readonly byPrefix: ReadonlyMap<string, readonly { readonly sticky: RegExp; readonly entry: RegexEntry }[]>;
  /** The distinct prefix lengths, ascending, so a lookup slices the name once per length. */
  readonly lengths: readonly number[];
}

/** Splits the regexes into those looked up by prefix and those tried on every miss (`scanned`). */
function splitByPrefix(entries: readonly RegexEntry[]): { index: PrefixIndex | null; scanned: RegexEntry[] } {
  const keys = prefixKeys(entries.map((entry) => entry.source));
  const byPrefix = new Map<string, { sticky: RegExp; entry: RegexEntry }[]>();
  const scanned: RegexEntry[] = [];
  entries.forEach((entry, i) => {
    const prefix = keys[i] ?? '';
    if (prefix === '') {
      scanned.push(entry);
      return;
    }
    const list = byPrefix.get(prefix) ?? [];
    list.push({ sticky: compileFoldedRegex(entry.source, true), entry });
    byPrefix.set(prefix, list);
  });
  if (byPrefix.size === 0) return { index: null, scanned };
  const lengths = [...new Set([...byPrefix.keys()].map((prefix) => prefix.length))].sort((a, b) => a - b);
  return { index: { byPrefix, lengths }, scanned };
}

export class RouteTable {
  readonly #exact: ReadonlyMap<string, RouteMatch>;
  readonly #wildcards: ReadonlyMap<string, RouteMatch>;
  /** hasWildcardOfLength[n] is 1 when some wildcard suffix is n bytes long: skips probes that cannot hit. */
  readonly #hasWildcardOfLength: Uint8Array;
  /** Regexes with an anchored literal prefix, by prefix (see the file comment); null when none has one. */
  readonly #prefixIndex: PrefixIndex | null;
  /** The other regexes ("scanned" on every miss), in file order. */
  readonly #scanned: readonly RegexEntry[];
  readonly #default: RouteMatch | null;

  private constructor(
    exact: ReadonlyMap<string, RouteMatch>,
    wildcards: ReadonlyMap<string, RouteMatch>,
    regexes: readonly RegexEntry[],
    defaultMatch: RouteMatch | null,
  ) {
    this.#exact = exact;
    this.#wildcards = wildcards;
    this.#hasWildcardOfLength = new Uint8Array(MAX_HOST_NAME_BYTES + 1);
    for (const suffix of wildcards.keys()) {
      if (suffix.length <= MAX_HOST_NAME_BYTES) this.#hasWildcardOfLength[suffix.length] = 1;
    }
    const { index, scanned } = splitByPrefix(regexes);
    this.#prefixIndex = index;
    this.#scanned = scanned;
    this.#default = defaultMatch;
  }

  /**
   * Expects routes from a validated Config (patterns canonical, regexes accepted by compileRouteRegex, within
   * MAX_REGEX_ROUTES); throws otherwise. Should two routes share a name, the first one wins, as in the file.
   */
  static compile(routes: readonly RouteConfig[], defaultPool: PoolConfig | null): RouteTable {
    const exact = new Map<string, RouteMatch>();
    const wildcards = new Map<string, RouteMatch>();
    const regexes: RegexEntry[] = [];
    for (const route of routes) {
      const match = compileMatch(route, route.kind);
      switch (route.kind) {
        case 'exact':
          if (!exact.has(route.pattern)) exact.set(route.pattern, match);
          break;
        case 'wildcard':
          if (!wildcards.has(route.pattern)) wildcards.set(route.pattern, match);
          break;
        case 'regex': {
          const compiled = compileRouteRegex(route.pattern);
          if (!compiled.ok) throw new Error(`route '${route.name}' ${compiled.reason} (the config was not validated)`);
          regexes.push({ source: compiled.folded, index: regexes.length, regex: compiled.regex, match });
          break;
        }
      }
    }
    const defaultMatch: RouteMatch | null =
      defaultPool === null ? null : Object.freeze({ route: null, pool: defaultPool, how: 'default', alpn: null, fallback: null, byAlpn: [] });
    return new RouteTable(exact, wildcards, regexes, defaultMatch);
  }

  /**
   * `serverName` is the raw SNI from the hello (or null). It is normalized (case, one trailing dot) and checked
   * to be a host name; an invalid one is never matched against routes and goes to the default pool.
   * Returns null when nothing matched and there is no default pool. `alpn` is the list the client offered: a
   * route with `alpn` pools sends a client offering one of those protocols to that pool.
   */
  lookup(serverName: string | null, alpn: readonly string[] = []): RouteMatch | null {
    return pickByAlpn(this.#lookupName(serverName), alpn);
  }

  #lookupName(serverName: string | null): RouteMatch | null {
    if (serverName === null) return this.#default;
    const name = normalizeServerName(serverName);
    if (name === null) return this.#default;

    const exact = this.#exact.get(name);
    if (exact !== undefined) return exact;

    if (this.#wildcards.size > 0) {
      // From the first dot: '.b.example.com', then '.example.com', then '.com' — longest (most specific) first.
      for (let dot = name.indexOf('.'); dot !== -1; dot = name.indexOf('.', dot + 1)) {
        if (this.#hasWildcardOfLength[name.length - dot] !== 1) continue;
        const wildcard = this.#wildcards.get(name.slice(dot));
        if (wildcard !== undefined) return wildcard;
      }
    }

    const byPrefix = this.#prefixIndex === null ? null : firstByPrefix(this.#prefixIndex, name);
    const firstScanned = this.#scanned[0];
    if (firstScanned === undefined || (byPrefix !== null && byPrefix.index < firstScanned.index)) {
      return byPrefix?.match ?? this.#default;
    }
    const scanned = this.#firstScannedMatch(name);
    const winner = scanned !== null && (byPrefix === null || scanned.index < byPrefix.index) ? scanned : byPrefix;
    return winner?.match ?? this.#default;
  }

  /** The first scanned regex in file order that matches `name`, or null. */
  #firstScannedMatch(name: string): RegexEntry | null {
    for (const entry of this.#scanned) {
      if (entry.regex.test(name)) return entry;
    }
    return null;
  }
}

/** The first regex in file order among those whose literal prefix `name` starts with. */
function firstByPrefix(index: PrefixIndex, name: string): RegexEntry | null {
  let best: RegexEntry | null = null;
  for (const length of index.lengths) {
    if (length > name.length) break;
    const candidates = index.byPrefix.get(name.slice(0, length));
    if (candidates === undefined) continue;
    for (const { sticky, entry } of candidates) {
      if (best !== null && entry.index > best.index) break;
      sticky.lastIndex = 0;
      if (sticky.test(name)) {
        best = entry;
        break;
      }
    }
  }
  return best;
}
