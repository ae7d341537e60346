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
 * - Regexes run only when both Maps missed, against the canonical name, first match in file order wins. They run
 *   on V8's linear-time engine (route-regex.ts), so a lookup costs at most about name length × total pattern size
 *   however hostile the name, and they are compiled here, when the table is built, never on a connection. Calling
 *   That engine has none of the backtracking engine's quick rejections: `test()` costs ~200 ns even when the
 *   regex fails at once, plus ~40 ns per alternative, so 50 regexes one by one cost ~11 µs on every miss.
 * - When every regex starts with a literal after `^` (`^api-7-…`, the usual per-customer pattern), they sit in a
 *   Map keyed by that prefix: a lookup probes it with the name's first bytes, once per distinct prefix length,
 *   and tests only the regexes whose prefix the name starts with (a miss tests none), lowest file position first.
 * - Otherwise the regexes are joined into a binary tree of alternations, `(?:r1)|(?:r2)|…`: the root answers "does
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
import { anchoredLiteralPrefix, compileFoldedRegex, compileRouteRegex } from './route-regex.js';

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
  /** The route's pattern as the linear-time engine runs it (case folded, see route-regex.ts). */
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
    return { kind: 'branch', regex: compileFoldedRegex(alternation), left, right };
  } catch {
    return null; // e.g. two regexes declare the same named group, or a legacy octal `\1` became a backreference
  }
}

/** More regexes than this behind one prefix and the prefix Map saves little: the tree serves instead. */
const MAX_REGEXES_PER_PREFIX = 16;

/** Regexes by anchored literal prefix, or null when some regex has none (or one prefix has too many). */
interface PrefixIndex {
  /** Prefix → indexes into the regex list, ascending (file order). */
  readonly byPrefix: ReadonlyMap<string, readonly number[]>;
  /** The distinct prefix lengths, so a lookup slices the name once per length. */
  readonly lengths: readonly number[];
}

function buildPrefixIndex(entries: readonly RegexEntry[]): PrefixIndex | null {
  if (entries.length === 0) return null;
  const byPrefix = new Map<string, number[]>();
  for (const [index, entry] of entries.entries()) {
    const prefix = anchoredLiteralPrefix(entry.source);
    if (prefix === '') return null;
    const indexes = byPrefix.get(prefix) ?? [];
    if (indexes.length === MAX_REGEXES_PER_PREFIX) return null;
    indexes.push(index);
    byPrefix.set(prefix, indexes);
  }
  const lengths = [...new Set([...byPrefix.keys()].map((prefix) => prefix.length))].sort((a, b) => a - b);
  return { byPrefix, lengths };
}

function canJoinRegexes(entries: readonly RegexEntry[]): boolean {
  return entries.length > 1 && entries.every((entry) => !BACKREFERENCE.test(entry.source));
}

export class RouteTable {
  readonly #exact: ReadonlyMap<string, RouteMatch>;
  readonly #wildcards: ReadonlyMap<string, RouteMatch>;
  /** hasWildcardOfLength[n] is 1 when some wildcard suffix is n bytes long: skips probes that cannot hit. */
  readonly #hasWildcardOfLength: Uint8Array;
  /** Set when every regex has an anchored literal prefix (see the file comment); then no tree is built. */
  readonly #prefixIndex: PrefixIndex | null;
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
    this.#prefixIndex = buildPrefixIndex(regexes);
    this.#regexTree = this.#prefixIndex === null && canJoinRegexes(regexes) ? buildRegexTree(regexes, 0, regexes.length) : null;
    this.#regexes = this.#regexTree === null ? regexes : [];
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
          regexes.push({ source: compiled.folded, regex: compiled.regex, match });
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

    if (this.#prefixIndex !== null) return this.#lookupByPrefix(this.#prefixIndex, name);
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

  /** The first regex in file order among those whose literal prefix `name` starts with. */
  #lookupByPrefix(index: PrefixIndex, name: string): RouteMatch | null {
    let best = -1;
    for (const length of index.lengths) {
      if (length > name.length) break;
      const candidates = index.byPrefix.get(name.slice(0, length));
      if (candidates === undefined) continue;
      for (const candidate of candidates) {
        if (best !== -1 && candidate > best) break;
        if (this.#regexes[candidate]?.regex.test(name) === true) {
          best = candidate;
          break;
        }
      }
    }
    return best === -1 ? this.#default : (this.#regexes[best]?.match ?? this.#default);
  }
}
