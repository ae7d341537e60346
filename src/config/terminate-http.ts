/**
 * `terminate.http` of a route: `true`, or a mapping of the HTTP reverse proxy's settings. Kept apart from the
 * validator so that it reads on its own: it gets the value node and a way to report, and returns the settings
 * with every default filled in, or null after reporting.
 *
 *   http: true
 *   http: { hsts: max-age=31536000, trusted_forwarders: [10.0.0.0/8], headers_timeout: 10s }
 */
import { isMap, isScalar, isSeq, type Node } from 'yaml';
import { parseCidr } from '../wire/cidr.js';
import { parseDuration } from './durations.js';
import { suggestionSuffix } from './suggest.js';
import { DEFAULT_HTTP_TERMINATE, type Cidr, type HttpTerminateSettings } from './types.js';

export const HTTP_TERMINATE_KEYS = [
  'hsts',
  'trusted_forwarders',
  'max_header_bytes',
  'max_body_bytes',
  'headers_timeout',
  'request_timeout',
  'response_timeout',
  'keep_alive',
  'max_backend_connections',
] as const;

const DURATION_FIELDS = {
  headers_timeout: 'headersTimeoutMs',
  request_timeout: 'requestTimeoutMs',
  response_timeout: 'responseTimeoutMs',
  keep_alive: 'keepAliveMs',
} as const;
const COUNT_FIELDS = { max_header_bytes: 'maxHeaderBytes', max_body_bytes: 'maxBodyBytes', max_backend_connections: 'maxBackendConnections' } as const;
/** Smallest each count may be: a header limit below 1 KiB refuses ordinary browsers; 0 bodies means "no limit". */
const COUNT_MINIMUM = { max_header_bytes: 1024, max_body_bytes: 0, max_backend_connections: 1 } as const;

/** RFC 6797 §6.1: `max-age=N` with optional `includeSubDomains` and `preload`, separated by `;`. */
const HSTS_PATTERN = /^max-age=\d{1,10}(\s*;\s*(includeSubDomains|preload))*$/i;

export type ReportProblem = (node: Node | null, message: string) => void;

export function readHttpTerminate(node: Node | null, what: string, report: ReportProblem): HttpTerminateSettings | null {
  const where = `http of terminate of ${what}`;
  if (isScalar(node) && node.value === true) return DEFAULT_HTTP_TERMINATE;
  if (!isMap(node)) {
    report(node, `${where} must be true or a mapping, as in { hsts: max-age=31536000 }`);
    return null;
  }
  const settings: { -readonly [K in keyof HttpTerminateSettings]: HttpTerminateSettings[K] } = { ...DEFAULT_HTTP_TERMINATE };
  let isBroken = false;
  const fail = (at: Node | null, message: string): void => {
    report(at, message);
    isBroken = true;
  };
  for (const pair of node.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    const value = (pair.value ?? null) as Node | null;
    const scalar = isScalar(value) ? value.value : undefined;
    if (key === 'hsts') {
      if (typeof scalar === 'string' && HSTS_PATTERN.test(scalar.trim())) settings.hsts = scalar.trim();
      else if (scalar === false || scalar === null) settings.hsts = null;
      else fail(value, `hsts of ${where} must be a Strict-Transport-Security value, as in max-age=31536000; includeSubDomains`);
    } else if (key === 'trusted_forwarders') {
      const networks = readNetworks(value, where, fail);
      if (networks !== null) settings.trustedForwarders = networks;
    } else if (key in DURATION_FIELDS) {
      const result = parseDuration(scalar);
      if (result.ok && result.ms > 0) settings[DURATION_FIELDS[key as keyof typeof DURATION_FIELDS]] = result.ms;
      else fail(value, `${key} of ${where} ${result.ok ? 'must be longer than 0' : result.reason}`);
    } else if (key in COUNT_FIELDS) {
      const name = key as keyof typeof COUNT_FIELDS;
      if (typeof scalar === 'number' && Number.isSafeInteger(scalar) && scalar >= COUNT_MINIMUM[name]) settings[COUNT_FIELDS[name]] = scalar;
      else fail(value, `${key} of ${where} must be a whole number of at least ${COUNT_MINIMUM[name]}`);
    } else {
      fail(pair.key as Node, `unknown key '${key}' in ${where}${suggestionSuffix(key, HTTP_TERMINATE_KEYS)}`);
    }
  }
  return isBroken ? null : Object.freeze(settings);
}

function readNetworks(node: Node | null, where: string, fail: ReportProblem): Cidr[] | null {
  if (!isSeq(node)) {
    fail(node, `trusted_forwarders of ${where} must be a list of networks, as in ["10.0.0.0/8"]`);
    return null;
  }
  const networks: Cidr[] = [];
  for (const item of node.items as Node[]) {
    const text = isScalar(item) ? String(item.value) : null;
    const result = text === null ? null : parseCidr(text);
    if (result === null || !result.ok) fail(item, `trusted forwarder '${text ?? ''}' ${result === null ? 'must be a string' : result.reason}`);
    else networks.push(result.value);
  }
  return networks.length === node.items.length ? networks : null;
}
