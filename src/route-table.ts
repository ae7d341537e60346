/**
 * The compiled SNI map: built once per config, then only looked up (once per connection).
 *
 * Precedence (SPEC "Routing rules"): exact name → the longest matching wildcard → regexes in file order → default.
 *
 * - Exact names sit in a Map keyed by the canonical name (lower case, no trailing dot).
 * - Wildcards sit in a Map keyed by their suffix with its leading dot (`*.example.com` → `.example.com`). A lookup
 *   walks the name's suffixes from the longest, so `*.a.example.com` beats `*.example.com` for `x.a.example.com`;
 *   and since the walk starts after the first label, `*.example.com` never matches `example.com` itself but does
 *   match any number of labels in front of it.
 * - Regexes run only when both Maps missed, against the canonical name, first match in file order wins. Calling
 *   `test()` costs ~40 ns even when the regex fails at once, so 50 regexes one by one cost ~2 µs on every miss.
 *   Instead the regexes are joined into a binary tree of alternations, `(?:r1)|(?:r2)|…`: the root answers "does
 *   any regex match?" in one call (a miss costs one test), and a hit descends left when the left half matches,
 *   else right, so it finds the first matching regex in ~log2(n) more tests. Joining is only sound when no
 *   source uses a backreference (`\1` would point at another regex's group once they are joined); a list with
 *   one falls back to testing each regex in turn.
 *
 * Every possible answer is built at compile time, so a lookup allocates nothing except the suffix strings it
 * probes the wildcard Map with.
 */
import type { PoolConfig, RouteConfig } from './config/types.js';
import { MAX_HOST_NAME_BYTES, normalizeServerName } from './host-name.js';

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

/**
 * A route's match and one more per `alpn` pool, built at compile time so that a lookup allocates nothing. The
 * first ALPN pool (in file order) whose protocol the client offers wins; otherwise the route's own pool.
 */
function compileMatch(route: RouteConfig, how: MatchKind): RouteMatch {
  const fallback = route.fallback ?? null;
  const byAlpn = (route.alpn ?? []).map((entry): RouteMatch =>
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

/**
 * Regex routes match case-insensitively (SPEC: names compare case-insensitively), so `~^API-` works as written.
 * No `g`/`y`: `test()` must not carry `lastIndex` state from one connection to the next. Not anchored for the
 * operator: write `^…$` to match whole names, as in nginx and HAProxy.
 */
export const ROUTE_REGEX_FLAGS = 'i';

/** Compiles a regex route's source (the name without its `~`); throws SyntaxError when it is not a valid regex. */
export function compileRouteRegex(source: string): RegExp {
  return new RegExp(source, ROUTE_REGEX_FLAGS);
}

/** Routes in the order a lookup tries them: exact, wildcards most specific first, regexes in file order. */
export function orderByPrecedence(routes: readonly RouteConfig[]): RouteConfig[] {
  const exact = routes.filter((r) => r.kind === 'exact');
  const wildcards = routes
    .filter((r) => r.kind === 'wildcard')
    .map((route, index) => ({ route, index, labels: route.pattern.split('.').length }))
    .sort((a, b) => b.labels - a.labels || a.index - b.index)
    .map((entry) => entry.route);
  const regexes = routes.filter((r) => r.kind === 'regex');
  return [...exact, ...wildcards, ...regexes];
}

interface RegexEntry {
  readonly source: string;
  readonly regex: RegExp;
  readonly match: RouteMatch;
}

/** A node of the regex tree: a leaf is one route's regex; a branch's regex is the alternation of all below it. */
type RegexNode =
  | { readonly kind: 'leaf'; readonly regex: RegExp; readonly match: RouteMatch }
  | { readonly kind: 'branch'; readonly regex: RegExp; readonly left: RegexNode; readonly right: RegexNode };

/**
 * An unescaped `\1`…`\9` or `\k`: a backreference, whose meaning changes once regexes are joined (`\2` would
 * name another regex's group; `\k<x>` is a literal in a regex without named groups but a reference in one with
 * them). Also catches the rarer legacy octal escapes; those only lose the speed-up.
 */
const BACKREFERENCE = /(?:^|[^\\])(?:\\\\)*\\[1-9k]/;

/** The tree over entries[from, to), or null when the sources cannot be joined safely. */
function buildRegexTree(entries: readonly RegexEntry[], from: number, to: number): RegexNode | null {
  if (to - from === 1) {
    const entry = entries[from];
    return entry === undefined ? null : { kind: 'leaf', regex: entry.regex, match: entry.match };
  }
  const middle = (from + to) >>> 1;
  const left = buildRegexTree(entries, from, middle);
  const right = buildRegexTree(entries, middle, to);
  if (left === null || right === null) return null;
  const alternation = entries
    .slice(from, to)
    .map((entry) => `(?:${entry.source})`)
    .join('|');
  try {
    return { kind: 'branch', regex: compileRouteRegex(alternation), left, right };
  } catch {
    return null; // e.g. two regexes declare the same named group
  }
}

function canJoinRegexes(entries: readonly RegexEntry[]): boolean {
  return entries.length > 1 && entries.every((entry) => !BACKREFERENCE.test(entry.source));
}

export class RouteTable {
  readonly #exact: ReadonlyMap<string, RouteMatch>;
  readonly #wildcards: ReadonlyMap<string, RouteMatch>;
  /** hasWildcardOfLength[n] is 1 when some wildcard suffix is n bytes long: skips probes that cannot hit. */
  readonly #hasWildcardOfLength: Uint8Array;
  /** Set when the regexes could be joined (see the file comment); otherwise #regexes are tested in turn. */
  readonly #regexTree: RegexNode | null;
  readonly #regexes: readonly RegexEntry[];
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
    this.#regexTree = canJoinRegexes(regexes) ? buildRegexTree(regexes, 0, regexes.length) : null;
    this.#regexes = this.#regexTree === null ? regexes : [];
    this.#default = defaultMatch;
  }

  /**
   * Expects routes from a validated Config (patterns canonical, regexes valid). Should two routes share a name,
   * the first one wins, as it would in the file.
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
        case 'regex':
          regexes.push({ source: route.pattern, regex: compileRouteRegex(route.pattern), match });
          break;
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

    let node = this.#regexTree;
    if (node !== null) {
      if (!node.regex.test(name)) return this.#default;
      // Some regex matches; the first in file order is in the left half if that half matches, else the right.
      while (node.kind === 'branch') node = node.left.regex.test(name) ? node.left : node.right;
      return node.match;
    }
    for (const entry of this.#regexes) {
      if (entry.regex.test(name)) return entry.match;
    }
    return this.#default;
  }
}
