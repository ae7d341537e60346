/**
 * What `check` warns about (it still passes) in terminate certificates as operators hold them: a certificate whose
 * names do not cover its route, and one that expires soon. Both are the usual way a renewal goes wrong (a new
 * name added to the route but not to the certificate; certbot's timer silently failing), and both are fine to
 * serve today, which is why they are warnings and not problems.
 *
 * Coverage follows RFC 6125 §6.4.3 as browsers apply it: `*.example.com` covers `a.example.com`, not
 * `a.b.example.com` and not `example.com`; only subjectAltName DNS names count (browsers ignore the CN).
 */
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { certificatePairsOf, type Config, type RouteConfig } from './types.js';
import type { ConfigProblem } from './problem.js';

/** Warn when a certificate has fewer days than this left: certbot renews at 30, so 21 means a renewal failed. */
export const CERTIFICATE_EXPIRY_WARNING_DAYS = 21;
const DAY_MS = 24 * 60 * 60 * 1000;

/** DNS names of a certificate's subjectAltName, as written (lower-cased). */
export function dnsNamesOf(leaf: X509Certificate): string[] {
  return (leaf.subjectAltName ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice('DNS:'.length).toLowerCase());
}

/** Whether a certificate name (`a.example.com` or `*.example.com`) covers the host name `name`. */
export function certificateNameCovers(certificateName: string, name: string): boolean {
  if (!certificateName.startsWith('*.')) return certificateName === name;
  const suffix = certificateName.slice(1); // '.example.com'
  if (!name.endsWith(suffix)) return false;
  const label = name.slice(0, name.length - suffix.length);
  return label.length > 0 && !label.includes('.');
}

/**
 * Why the names do not cover the route, or null when they do. An exact route needs a name that covers it; a
 * wildcard route `*.example.com` needs the wildcard `*.example.com` itself. Regex routes cannot be judged: null.
 */
export function describeUncoveredRoute(route: Pick<RouteConfig, 'name' | 'kind' | 'pattern'>, dnsNames: readonly string[]): string | null {
  if (route.kind === 'regex') return null;
  const shown = dnsNames.length > 0 ? dnsNames.join(', ') : 'no DNS names (browsers ignore the CN)';
  if (route.kind === 'exact') {
    if (dnsNames.some((certificateName) => certificateNameCovers(certificateName, route.pattern))) return null;
    return `does not cover '${route.pattern}': it names ${shown}`;
  }
  const wildcard = `*${route.pattern}`;
  if (dnsNames.includes(wildcard)) return null;
  return `does not cover every name of '${route.name}' (it needs ${wildcard}): it names ${shown}`;
}

/** Every warning for the config's terminate certificates, at the route's position. Unreadable files are skipped. */
export function certificateWarnings(config: Config, now = new Date()): ConfigProblem[] {
  const warnings: ConfigProblem[] = [];
  for (const route of config.routes) {
    if (route.terminate === null) continue;
    const at = { file: route.source?.file ?? config.sourceFile ?? '<command line>', line: route.source?.line ?? 0, col: route.source?.col ?? 0 };
    for (const pair of certificatePairsOf(route.terminate)) {
      let leaf: X509Certificate;
      try {
        leaf = new X509Certificate(readFileSync(pair.certFile));
      } catch {
        continue; // validation already reported it
      }
      const uncovered = describeUncoveredRoute(route, dnsNamesOf(leaf));
      if (uncovered !== null) warnings.push({ ...at, message: `the certificate '${pair.certFile}' of route '${route.name}' ${uncovered}` });
      const notAfter = new Date(leaf.validTo);
      const daysLeft = (notAfter.getTime() - now.getTime()) / DAY_MS;
      if (daysLeft < CERTIFICATE_EXPIRY_WARNING_DAYS) {
        warnings.push({ ...at, message: `the certificate '${pair.certFile}' of route '${route.name}' expires on ${notAfter.toISOString()}, in ${Math.max(0, Math.floor(daysLeft))} days (under ${CERTIFICATE_EXPIRY_WARNING_DAYS}); renew it` });
      }
    }
  }
  return warnings;
}
