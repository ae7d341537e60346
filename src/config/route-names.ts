/**
 * A route's key → its kind and the pattern the route table compiles (SPEC "Routing rules"):
 *
 *   app.example.com     exact      pattern 'app.example.com' (lower case, one trailing dot removed)
 *   *.example.org       wildcard   pattern '.example.org'    (one or more labels in front; not example.org itself)
 *   ~^api-[0-9]+\.net$  regex      pattern '^api-[0-9]+\.net$', compiled as the route table will compile it
 */
import { describeHostNameProblem, normalizeServerName } from '../host-name.js';
import { compileRouteRegex } from '../route-table.js';
import type { RouteKind } from './types.js';

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
    try {
      compileRouteRegex(source);
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      return { ok: false, reason: `is not a valid regular expression: ${detail}` };
    }
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

/** Two routes with the same identity are the same route (names compare case-insensitively). */
export function routeIdentity(kind: RouteKind, pattern: string): string {
  return `${kind} ${pattern}`;
}
