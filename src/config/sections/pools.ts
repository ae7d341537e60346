/**
 * A pool: in short form a list of backends (or one backend), in long form a mapping. Routes, the default pool,
 * a route's `fallback` and each of its `alpn` pools are all read here; which keys each may use is its key list.
 *
 *   app.example.com:
 *     backends: [10.0.0.5:8443, { address: 10.0.0.6:8443, weight: 3 }]
 *     proxy_protocol: v1
 *     balance: least-conn
 *     health: { interval: 5s, timeout: 2s, rise: 2, fall: 3, tls: true }
 *     alpn: { "acme-tls/1": [127.0.0.1:9443] }
 *     fallback: [10.0.9.9:443]
 *     terminate: { cert: certs/site.pem, key: certs/site.key }
 *     quic_backends: [10.0.0.5:8443]       where QUIC flows go; default: the backends, same host:port, over UDP
 *     protocol: h2c                        with terminate.http: the backends take HTTP/2 by prior knowledge
 */
import { isMap, isScalar, isSeq, type Node, type YAMLMap } from 'yaml';
import { parseBackendAddress } from '../addresses.js';
import { isAlpnProtocolName } from '../alpn-name.js';
import { BALANCE_ALGORITHMS, DEFAULT_BALANCE, PROXY_PROTOCOL_MODES } from '../draft.js';
import { quoteValue } from '../problem.js';
import { suggestionSuffix } from '../suggest.js';
import { type AlpnPool, BACKEND_PROTOCOLS, type BackendAddress, DEFAULT_BACKEND_PROTOCOL, DEFAULT_WEIGHT, type PoolConfig, type ProxyProtocolMode, type TerminateSettings } from '../types.js';
import { readHealth } from './health.js';
import { readTerminate } from './terminate.js';
import { isLongForm, isNull, type KeyRule, keyRule, readKeys, type YamlReader } from './yaml-reader.js';

/** Weights are small integers (HAProxy allows 0–256; 0 is "drain", which we leave out). */
export const MAX_WEIGHT = 256;
export const BACKEND_KEYS = ['address', 'weight'];

/** A pool as read, with what only a route may carry beside it. */
export interface ReadPool {
  readonly pool: PoolConfig;
  readonly terminate: TerminateSettings | null;
  readonly alpn: AlpnPool[];
  readonly fallback: PoolConfig | null;
  readonly quicBackends: readonly BackendAddress[] | null;
}

interface PoolContext {
  readonly reader: YamlReader;
  /** Names the pool in messages: "route 'app.example.com'", "default", "fallback of route 'x'". */
  readonly what: string;
  /** The PROXY mode a pool has unless it sets its own (the file's `proxy_protocol`). */
  readonly proxyProtocol: ProxyProtocolMode;
  /** The route's name when it is an exact name (the SNI of a TLS health check). */
  readonly exactName: string | null;
}

type PoolFields = PoolConfig & Omit<ReadPool, 'pool'>;

/** The long form's keys after `backends` (read first: it is required). A bad mode or balance keeps the default. */
const POOL_RULES: Readonly<Record<string, KeyRule<PoolFields, PoolContext>>> = {
  proxy_protocol: keyRule('proxyProtocol', ({ reader, what, proxyProtocol }: PoolContext, _value: Node, pair) =>
    reader.enumOf(reader.valueOf(pair), `proxy_protocol of ${what}`, PROXY_PROTOCOL_MODES) ?? proxyProtocol,
  ),
  balance: keyRule('balance', ({ reader, what }: PoolContext, _value: Node, pair) =>
    reader.enumOf(reader.valueOf(pair), `balance of ${what}`, BALANCE_ALGORITHMS) ?? DEFAULT_BALANCE,
  ),
  terminate: keyRule('terminate', ({ reader, what }: PoolContext, value: Node) => readTerminate(reader, value, what)),
  health: keyRule('health', ({ reader, what, exactName }: PoolContext, _value: Node, pair) => readHealth(reader, reader.valueOf(pair), what, exactName)),
  fallback: keyRule('fallback', (context: PoolContext, value: Node) => readPool(context, value, `fallback of ${context.what}`, SUB_POOL_KEYS)?.pool ?? null),
  alpn: keyRule('alpn', (context: PoolContext, _value: Node, pair) => readAlpnPools(context, context.reader.valueOf(pair))),
  quic_backends: keyRule('quicBackends', ({ reader, what }: PoolContext, value: Node) => readBackends(reader, value, `quic_backends of ${what}`)),
  // What the backends speak to an HTTP-mode route (terminate.http); checked against terminate below.
  protocol: keyRule('protocol', ({ reader, what }: PoolContext, _value: Node, pair) => reader.enumOf(reader.valueOf(pair), `protocol of ${what}`, BACKEND_PROTOCOLS)),
};

/** A route may use every key. */
export const ROUTE_KEYS = ['backends', ...Object.keys(POOL_RULES)];
/** The default pool: no terminate (no name picks a certificate), no fallback or ALPN pools. */
export const DEFAULT_POOL_KEYS = ['backends', 'proxy_protocol', 'balance', 'health'];
/** Pools that hang off a route (`fallback`, each `alpn` entry): no terminate, no nesting. */
export const SUB_POOL_KEYS = DEFAULT_POOL_KEYS;

/** Reads a pool at `node`; `knownKeys` are the keys this kind of pool may use. Null after reporting. */
export function readPool(context: PoolContext, node: Node | null, what: string, knownKeys: readonly string[]): ReadPool | null {
  const { reader, proxyProtocol } = context;
  const here: PoolContext = { ...context, what };
  if (node === null || isNull(node)) {
    reader.report(node, `${what} has no backends`);
    return null;
  }
  if (isSeq(node) || isScalar(node)) {
    const backends = readBackends(reader, node, what);
    return backends === null ? null : { pool: { backends, proxyProtocol, balance: DEFAULT_BALANCE, health: null, protocol: DEFAULT_BACKEND_PROTOCOL }, terminate: null, alpn: [], fallback: null, quicBackends: null };
  }
  if (!isMap(node)) {
    reader.report(node, `${what} must be a list of backends or a mapping with 'backends'`);
    return null;
  }
  const fields = reader.fields(node, knownKeys, (key) =>
    key === 'terminate'
      ? `${what} cannot terminate TLS; only a named route can (its name picks the certificate)`
      : `unknown key ${quoteValue(key)} in ${what}${suggestionSuffix(key, knownKeys)}`,
  );
  const backendsPair = fields.pairs.get('backends');
  let backends: BackendAddress[] | null = null;
  if (backendsPair === undefined && !fields.misspelled.has('backends')) reader.report(node, `${what} needs 'backends'`);
  else if (backendsPair !== undefined) backends = readBackends(reader, reader.valueOrKey(backendsPair), what);
  const { values, isBroken: isKeyBroken } = readKeys(reader, fields, POOL_RULES, here);
  let isBroken = isKeyBroken;
  // `protocol` is what the router speaks to the backends, so only an HTTP-mode route has one.
  if (values.protocol !== undefined && !values.terminate?.http) {
    reader.report(reader.valueOf(fields.pairs.get('protocol')), `protocol of ${what} is only used with terminate: { …, http: true }`);
    isBroken = true;
  }
  if (backends === null || isBroken) return null;
  const mode = values.proxyProtocol ?? proxyProtocol;
  const balance = values.balance ?? DEFAULT_BALANCE;
  const pool: PoolConfig = { backends, proxyProtocol: mode, balance, health: values.health ?? null, protocol: values.protocol ?? DEFAULT_BACKEND_PROTOCOL };
  return { pool, terminate: values.terminate ?? null, alpn: values.alpn ?? [], fallback: values.fallback ?? null, quicBackends: values.quicBackends ?? null };
}

/** `alpn: { "acme-tls/1": <pool>, h2: <pool> }`, in file order. */
function readAlpnPools(context: PoolContext, node: Node | null): AlpnPool[] | null {
  const { reader, what } = context;
  if (node === null || !isMap(node)) {
    reader.report(node, `alpn of ${what} must be a mapping of protocol to backends, as in { "acme-tls/1": [127.0.0.1:9443] }`);
    return null;
  }
  const fields = reader.fields(node, null, () => '');
  const pools: AlpnPool[] = [];
  let isBroken = false;
  for (const [protocol, pair] of fields.pairs) {
    if (!isAlpnProtocolName(protocol)) {
      reader.report(pair.key as Node, `alpn protocol '${protocol}' of ${what} must be 1–255 printable ASCII bytes, as in acme-tls/1 or h2`);
      isBroken = true;
      continue;
    }
    const read = readPool(context, reader.valueOrKey(pair), `alpn '${protocol}' of ${what}`, SUB_POOL_KEYS);
    if (read === null) isBroken = true;
    else pools.push({ protocol, pool: read.pool });
  }
  if (fields.pairs.size === 0) {
    reader.report(node, `alpn of ${what} is empty`);
    isBroken = true;
  }
  return isBroken ? null : pools;
}

function readBackends(reader: YamlReader, node: Node, what: string): BackendAddress[] | null {
  const items = isSeq(node) ? reader.listOf(node, `backends of ${what}`, '') : [node];
  if (items.length === 0) {
    reader.report(node, `${what} has no backends`);
    return null;
  }
  const backends: BackendAddress[] = [];
  const seen = new Set<string>();
  let isBroken = false;
  for (const item of items) {
    const isLong = isLongForm(item, BACKEND_KEYS);
    const long = isLong ? readBackendLongForm(reader, item, what) : null;
    if (isLong && long === null) {
      isBroken = true;
      continue;
    }
    const text = long !== null ? long.address : reader.addressText(item, 'backend', ` of ${what}`);
    const parsed = text === null ? null : parseBackendAddress(text);
    if (parsed === null || !parsed.ok) {
      if (parsed !== null) reader.report(long?.addressNode ?? item, `backend ${quoteValue(text ?? '')} of ${what} ${parsed.reason}`);
      isBroken = true;
      continue;
    }
    if (seen.has(parsed.value.label)) {
      reader.report(item, `${what} lists backend '${parsed.value.label}' twice`);
      isBroken = true;
      continue;
    }
    seen.add(parsed.value.label);
    backends.push({ ...parsed.value, weight: long?.weight ?? DEFAULT_WEIGHT });
  }
  return isBroken ? null : backends;
}

/** `{ address: "10.0.0.5:8443", weight: 3 }`. */
function readBackendLongForm(reader: YamlReader, node: YAMLMap, what: string): { address: string; addressNode: Node; weight: number | null } | null {
  const fields = reader.fields(node, BACKEND_KEYS, (key) => `unknown key ${quoteValue(key)} in a backend of ${what}${suggestionSuffix(key, BACKEND_KEYS)}`);
  const addressPair = fields.pairs.get('address');
  if (addressPair === undefined) {
    if (!fields.misspelled.has('address')) reader.report(node, `a backend of ${what} in long form needs 'address', as in { address: 10.0.0.5:8443, weight: 2 }`);
    return null;
  }
  const addressNode = reader.valueOrKey(addressPair);
  const address = reader.addressText(addressNode, 'backend', ` of ${what}`);
  let weight: number | null = null;
  const weightPair = fields.pairs.get('weight');
  if (weightPair !== undefined) {
    const weightNode = reader.valueOrKey(weightPair);
    weight = reader.count(weightNode, `weight of backend '${address ?? ''}' of ${what}`, 1);
    if (weight !== null && weight > MAX_WEIGHT) {
      reader.report(weightNode, `weight of backend '${address ?? ''}' of ${what} must be at most ${MAX_WEIGHT}`);
      weight = null;
    }
    if (weight === null) return null;
  }
  if (address === null || fields.hasUnknownKeys) return null;
  return { address, addressNode, weight };
}
