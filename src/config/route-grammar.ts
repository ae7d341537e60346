/**
 * The route grammar (SPEC "Routing rules"): what a route's key means, and which route wins when several match.
 * The route table (src/routing) compiles exactly this; explain and `check` read it from here.
 *
 * A route's key → its kind and the pattern the route table compiles:
 *
 *   app.example.com     exact      pattern 'app.example.com' (lower case, one trailing dot removed)
 *   *.example.org       wildcard   pattern '.example.org'    (one or more labels in front; not example.org itself)
 *   ~^api-[0-9]+\.net$  regex      pattern '^api-[0-9]+\.net$', compiled as the route table will compile it
 *                                  (V8's linear-time engine; see route-regex.ts for what it refuses)
 *
 * Precedence: an exact name, then the most specific (longest) wildcard, then regexes in file order, then the
 * default pool. Names compare case-insensitively: patterns are canonical and so is the name they are tested on.
 */
import { describeHostNameProblem, normalizeServerName } from '../wire/host-name.js';
import {
  compileRouteRegex,
  foldCase,
  MAX_REGEX_ROUTES,
  MAX_REGEX_ROUTES_TOTAL_LENGTH,
  MAX_UNANCHORED_REGEX_TOTAL_LENGTH,
  prefixKeys,
} from './route-regex.js';
import type { RouteConfig, RouteKind, SourcePosition } from './types.js';

/** `reason` finishes a sentence that starts with "route '<name>' ". */
export type RouteNameResult =
  | { readonly ok: true; readonly kind: RouteKind; readonly pattern: string }
  | { readonly ok: false; readonly reason: string };

const REGEX_PREFIX = '~';
const WILDCARD_PREFIX = '*.';

export function classifyRouteName(name: string): RouteNameResult {
  if (name.startsWith(REGEX_PREFIX)) {
    const source = name.slice(REGEX_PREFIX.length);
    if (source.length === 0) return { ok: false, reason: "has an empty regex after '~'" };
    const compiled = compileRouteRegex(source);
    if (!compiled.ok) return { ok: false, reason: compiled.reason };
    return { ok: true, kind: 'regex', pattern: source };
  }

  if (name.includes('*')) {
    const rest = name.startsWith(WILDCARD_PREFIX) ? name.slice(WILDCARD_PREFIX.length) : null;
    if (rest === null || rest.includes('*')) {
      return { ok: false, reason: "may only use '*' as its whole first label, as in '*.example.com'" };
    }
    const suffix = normalizeServerName(rest);
    if (suffix === null) {
      const problem = describeHostNameProblem(rest) ?? 'it is malformed';
      return { ok: false, reason: `is not a valid wildcard: the part after '*.' is not a host name: ${problem}` };
    }
    return { ok: true, kind: 'wildcard', pattern: `.${suffix}` };
  }

  const exact = normalizeServerName(name);
  if (exact === null) {
    return { ok: false, reason: `is not a host name: ${describeHostNameProblem(name) ?? 'it is malformed'}` };
  }
  return { ok: true, kind: 'exact', pattern: exact };
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

/**
 * Whether `route` matches `name`, a canonical server name (normalizeServerName's answer). A wildcard needs at
 * least one label in front of its suffix; a regex is tested as the route table tests it (same compile, same
 * case folding). One by one and compiled each time: for explain and tests, not for a connection's path.
 */
export function routeMatchesName(route: RouteConfig, name: string): boolean {
  switch (route.kind) {
    case 'exact':
      return route.pattern === name;
    case 'wildcard':
      return name.length > route.pattern.length && name.endsWith(route.pattern);
    case 'regex': {
      const compiled = compileRouteRegex(route.pattern);
      return compiled.ok && compiled.regex.test(name);
    }
  }
}

/** Two routes with the same identity are the same route (names compare case-insensitively). */
export function routeIdentity(kind: RouteKind, pattern: string): string {
  return `${kind} ${pattern}`;
}

/**
 * The first regex route past the limits on regex routes together, as a problem at that route; null when within
 * them: MAX_REGEX_ROUTES of them, MAX_REGEX_ROUTES_TOTAL_LENGTH pattern characters in all, and of those without
 * an anchored literal prefix (tried on every connection nothing else picks) MAX_UNANCHORED_REGEX_TOTAL_LENGTH.
 * Together these bound what one connection's lookup can cost, whatever name it sends.
 */
export function findRegexBudgetProblem(routes: readonly RouteConfig[]): { source: SourcePosition | null; message: string } | null {
  const regexes = routes.filter((route) => route.kind === 'regex');
  const keys = prefixKeys(regexes.slice(0, MAX_REGEX_ROUTES + 1).map((route) => foldCase(route.pattern)));
  let totalLength = 0;
  let unanchoredLength = 0;
  for (const [index, route] of regexes.entries()) {
    const named = `route '${route.name.slice(0, 64)}'`;
    if (index >= MAX_REGEX_ROUTES) {
      return { source: route.source, message: `${named} is regex route number ${index + 1}, over the limit of ${MAX_REGEX_ROUTES} regex routes; use exact names or wildcards for the rest` };
    }
    totalLength += route.pattern.length;
    if (totalLength > MAX_REGEX_ROUTES_TOTAL_LENGTH) {
      return { source: route.source, message: `${named} brings the regex routes to ${totalLength} pattern characters in all, over the limit of ${MAX_REGEX_ROUTES_TOTAL_LENGTH}; use exact names or wildcards for some` };
    }
    if (keys[index] === '') unanchoredLength += route.pattern.length;
    if (unanchoredLength > MAX_UNANCHORED_REGEX_TOTAL_LENGTH) {
      return {
        source: route.source,
        message: `${named} brings the regex routes that do not start with ^ and a literal (as in ^api-) to ${unanchoredLength} pattern characters, over the limit of ${MAX_UNANCHORED_REGEX_TOTAL_LENGTH}: every connection that no other route picks is tried against all of them; anchor it (^…) or use exact names or wildcards`,
      };
    }
  }
  return null;
}
