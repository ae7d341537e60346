/**
 * `terminate:` on a named route: TLS ends here, with the certificate the route's name picks.
 *
 *   terminate: { cert: certs/site.pem, key: certs/site.key, min_version: TLSv1.2, alpn: [h2, http/1.1],
 *                client_ca: certs/clients.pem, backend_tls: { ca: certs/backend-ca.pem, servername: app.internal,
 *                verify: true }, http: true }
 *   terminate: { certs: [{ cert: ecdsa.pem, key: ecdsa.key }, { cert: rsa.pem, key: rsa.key }] }   several
 *   terminate: { cert: site.pem, key: site.key, ocsp: site.ocsp.der }                              stapling
 *
 * File paths resolve against the config file's folder and must be readable; then the material itself is checked
 * (config/cert-check.ts), so `check` reports a bad certificate at its key's line.
 */
import { resolve } from 'node:path';
import { isMap, isScalar, isSeq, type Node, type Pair } from 'yaml';
import { describeHostNameProblem } from '../../wire/host-name.js';
import { type CertFileRole, checkCertMaterial } from '../cert-check.js';
import { describeUnreadableFile } from '../files.js';
import { quoteValue } from '../problem.js';
import { suggestionSuffix } from '../suggest.js';
import { readHttpTerminate } from '../terminate-http.js';
import { type BackendTlsSettings, type CertificatePair, DEFAULT_TERMINATE, defaultTerminateAlpn, TLS_MIN_VERSIONS, type TerminateSettings } from '../types.js';
import { type Fields, type KeyRule, keyRule, readKeys, type YamlReader } from './yaml-reader.js';

/** RFC 7301 §3.1: a protocol name is 1–255 bytes. */
const MAX_ALPN_PROTOCOL_BYTES = 255;

interface TerminateContext {
  readonly reader: YamlReader;
  /** Names the route in messages: "route 'app.example.com'". */
  readonly what: string;
  /** The `terminate:` mapping: where a missing required key is reported. */
  readonly map: Node;
}

/** The optional keys; `cert` and `key` are required and read first. */
const TERMINATE_RULES: Readonly<Record<string, KeyRule<TerminateSettings, TerminateContext>>> = {
  min_version: keyRule('minVersion', ({ reader, what }: TerminateContext, _value: Node, pair) =>
    reader.enumOf(reader.valueOf(pair), `min_version of ${what}`, TLS_MIN_VERSIONS),
  ),
  alpn: keyRule('alpn', ({ reader, what }: TerminateContext, _value: Node, pair) => readAlpnList(reader, reader.valueOf(pair), what)),
  client_ca: keyRule('clientCaFile', ({ reader, what, map }: TerminateContext, _value: Node, pair) =>
    readFilePath(reader, pair, map, 'client_ca', 'client CA', what, true),
  ),
  backend_tls: keyRule('backendTls', ({ reader, what }: TerminateContext, value: Node) => readBackendTls(reader, value, what)),
  // `http: true | { … }`: the router is the route's HTTP reverse proxy (config/terminate-http.ts).
  http: keyRule('http', ({ reader, what, map }: TerminateContext, _value: Node, pair) =>
    readHttpTerminate(reader.valueOf(pair), what, (at, message) => reader.report(at ?? map, message)),
  ),
  ocsp: keyRule('ocspFile', ({ reader, what, map }: TerminateContext, _value: Node, pair) => readFilePath(reader, pair, map, 'ocsp', 'OCSP response', what, true)),
};
export const TERMINATE_KEYS = ['cert', 'key', 'certs', ...Object.keys(TERMINATE_RULES)];
export const CERTIFICATE_PAIR_KEYS = ['cert', 'key', 'ocsp'];

export function readTerminate(reader: YamlReader, node: Node, what: string): TerminateSettings | null {
  if (!isMap(node)) {
    reader.report(node, `terminate of ${what} must be a mapping, as in { cert: certs/site.pem, key: certs/site.key }`);
    return null;
  }
  const fields = reader.fields(
    node,
    TERMINATE_KEYS,
    (key) => `unknown key ${quoteValue(key)} in terminate of ${what}${suggestionSuffix(key, TERMINATE_KEYS)}`,
  );
  const certsPair = fields.pairs.get('certs');
  const pairs = certsPair !== undefined ? readCertificatePairs(reader, reader.valueOrKey(certsPair), node, fields, what) : null;
  const certFile = certsPair !== undefined ? (pairs?.[0]?.certFile ?? null) : readFilePath(reader, fields.pairs.get('cert'), node, 'cert', 'certificate', what, !fields.misspelled.has('cert'));
  const keyFile = certsPair !== undefined ? (pairs?.[0]?.keyFile ?? null) : readFilePath(reader, fields.pairs.get('key'), node, 'key', 'private key', what, !fields.misspelled.has('key'));
  const optional = readKeys(reader, fields, TERMINATE_RULES, { reader, what, map: node });
  if (certFile === null || keyFile === null || optional.isBroken) return null;
  // An unset alpn offers what the mode can serve: http/1.1 for a byte stream, h2 too in HTTP mode.
  const http = optional.values.http ?? null;
  const settings: TerminateSettings = { certFile, keyFile, ...DEFAULT_TERMINATE, alpn: defaultTerminateAlpn(http), ...optional.values, ...(pairs !== null ? { certs: pairs } : {}) };

  // The files are readable: now whether they make a usable certificate (key matches, not expired, parses).
  const problems = checkCertMaterial(settings);
  for (const problem of problems) reader.report(nodeOfRole(reader, fields, node, problem.role), `${problem.message} (terminate of ${what})`);
  return problems.length > 0 ? null : settings;
}

/** Where a certificate problem is reported: the value of the key that names the file. */
function nodeOfRole(reader: YamlReader, fields: Fields, node: Node, role: CertFileRole): Node | null {
  const key = role === 'cert' ? 'cert' : role === 'key' ? 'key' : role === 'client_ca' ? 'client_ca' : role === 'ocsp' ? 'ocsp' : 'backend_tls';
  if (fields.pairs.has('certs') && role !== 'client_ca' && role !== 'backend_ca') return reader.valueOf(fields.pairs.get('certs')) ?? node;
  const pair = fields.pairs.get(key);
  if (role !== 'backend_ca') return reader.valueOf(pair) ?? node;
  const backendNode = reader.valueOf(pair);
  const caPair = isMap(backendNode) ? backendNode.items.find((item) => isScalar(item.key) && item.key.value === 'ca') : undefined;
  return reader.valueOf(caPair as Pair<unknown, unknown> | undefined) ?? backendNode ?? node;
}

/**
 * A file path setting (`cert`, `key`, `client_ca`, `ca`), resolved against the config folder and checked to be a
 * readable file; null after reporting. `mapNode` is where a missing required key is reported.
 */
function readFilePath(
  reader: YamlReader,
  pair: Pair<unknown, unknown> | undefined,
  mapNode: Node,
  key: string,
  noun: string,
  what: string,
  isMissingReported: boolean,
): string | null {
  if (pair === undefined) {
    if (isMissingReported) reader.report(mapNode, `terminate of ${what} needs '${key}', the ${noun} file (PEM)`);
    return null;
  }
  const valueNode = reader.valueOf(pair);
  const value = isScalar(valueNode) ? valueNode.value : undefined;
  if (typeof value !== 'string' || value.length === 0) {
    reader.report(valueNode ?? (pair.key as Node), `${key} of ${what} must be a file path`);
    return null;
  }
  const path = resolve(reader.baseDir, value);
  const problem = describeUnreadableFile(path);
  if (problem !== null) {
    reader.report(valueNode, `cannot read the ${noun} file '${path}' of ${what}: ${problem}`);
    return null;
  }
  return path;
}

/** `alpn: [h2, http/1.1]` under terminate: protocol names offered to clients, most preferred first; [] = none. */
function readAlpnList(reader: YamlReader, node: Node | null, what: string): string[] | null {
  if (!isSeq(node)) {
    reader.report(node, `alpn of terminate of ${what} must be a list of protocol names, as in [h2, http/1.1]`);
    return null;
  }
  const protocols: string[] = [];
  let isBroken = false;
  for (const item of node.items as Node[]) {
    const value = isScalar(item) ? item.value : undefined;
    if (typeof value !== 'string' || value.length === 0 || Buffer.byteLength(value) > MAX_ALPN_PROTOCOL_BYTES) {
      reader.report(item, `alpn of terminate of ${what}: each protocol must be a name of 1 to ${MAX_ALPN_PROTOCOL_BYTES} bytes, as in h2`);
      isBroken = true;
    } else if (protocols.includes(value)) {
      reader.report(item, `alpn of terminate of ${what} lists '${value}' twice`);
      isBroken = true;
    } else protocols.push(value);
  }
  return isBroken ? null : protocols;
}

const BACKEND_TLS_RULES: Readonly<Record<string, KeyRule<BackendTlsSettings, TerminateContext>>> = {
  ca: keyRule('caFile', ({ reader, what, map }: TerminateContext, _value: Node, pair) => readFilePath(reader, pair, map, 'ca', 'backend CA', what, true)),
  servername: keyRule('servername', ({ reader, what }: TerminateContext, _value: Node, pair) => {
    const valueNode = reader.valueOf(pair);
    const value = isScalar(valueNode) ? valueNode.value : undefined;
    const problem = typeof value === 'string' ? describeHostNameProblem(value) : 'it is not a host name';
    if (typeof value === 'string' && problem === null) return value;
    reader.report(valueNode ?? (pair.key as Node), `servername of backend_tls of ${what} must be a host name: ${problem ?? ''}`);
    return null;
  }),
  verify: keyRule('verify', ({ reader, what }: TerminateContext, _value: Node, pair) => {
    const valueNode = reader.valueOf(pair);
    const value = isScalar(valueNode) ? valueNode.value : undefined;
    if (typeof value === 'boolean') return value;
    reader.report(valueNode ?? (pair.key as Node), `verify of backend_tls of ${what} must be true or false`);
    return null;
  }),
};
export const BACKEND_TLS_KEYS = Object.keys(BACKEND_TLS_RULES);
const BACKEND_TLS_DEFAULTS: BackendTlsSettings = { caFile: null, servername: null, verify: true };

/** `backend_tls: { ca, servername, verify }` (every key optional; `{}` re-encrypts with the public roots). */
function readBackendTls(reader: YamlReader, node: Node, what: string): BackendTlsSettings | null {
  if (!isMap(node)) {
    reader.report(node, `backend_tls of ${what} must be a mapping, as in { ca: certs/backend-ca.pem, servername: app.internal }`);
    return null;
  }
  const fields = reader.fields(
    node,
    BACKEND_TLS_KEYS,
    (key) => `unknown key ${quoteValue(key)} in backend_tls of ${what}${suggestionSuffix(key, BACKEND_TLS_KEYS)}`,
  );
  const { values, isBroken } = readKeys(reader, fields, BACKEND_TLS_RULES, { reader, what, map: node });
  return isBroken || fields.hasUnknownKeys ? null : { ...BACKEND_TLS_DEFAULTS, ...values };
}

/** `certs: [{ cert, key, ocsp }, …]` under terminate (instead of cert/key): several certificates, e.g. ECDSA + RSA. */
function readCertificatePairs(reader: YamlReader, node: Node, terminateNode: Node, terminateFields: Fields, what: string): CertificatePair[] | null {
  for (const key of ['cert', 'key', 'ocsp']) {
    if (terminateFields.pairs.has(key)) {
      reader.report(terminateNode, `terminate of ${what} gives both 'certs' and '${key}'; put every certificate in 'certs', as in certs: [{ cert: ecdsa.pem, key: ecdsa.key }, { cert: rsa.pem, key: rsa.key }]`);
      return null;
    }
  }
  const items = reader.listOf(node, `certs of terminate of ${what}`, 'a list of { cert, key } pairs');
  if (items.length === 0) {
    if (isSeq(node)) reader.report(node, `certs of terminate of ${what} needs at least one { cert, key } pair`);
    return null;
  }
  const pairs: CertificatePair[] = [];
  let isBroken = false;
  for (const item of items) {
    if (!isMap(item)) {
      reader.report(item, `each entry of certs of terminate of ${what} must be a mapping, as in { cert: site.pem, key: site.key }`);
      isBroken = true;
      continue;
    }
    const fields = reader.fields(item, CERTIFICATE_PAIR_KEYS, (key) => `unknown key ${quoteValue(key)} in certs of terminate of ${what}${suggestionSuffix(key, CERTIFICATE_PAIR_KEYS)}`);
    const certFile = readFilePath(reader, fields.pairs.get('cert'), item, 'cert', 'certificate', what, !fields.misspelled.has('cert'));
    const keyFile = readFilePath(reader, fields.pairs.get('key'), item, 'key', 'private key', what, !fields.misspelled.has('key'));
    const ocspPair = fields.pairs.get('ocsp');
    const ocspFile = ocspPair === undefined ? null : readFilePath(reader, ocspPair, item, 'ocsp', 'OCSP response', what, true);
    if (certFile === null || keyFile === null || (ocspPair !== undefined && ocspFile === null) || fields.hasUnknownKeys) {
      isBroken = true;
      continue;
    }
    pairs.push({ certFile, keyFile, ocspFile });
  }
  return isBroken ? null : pairs;
}
