/**
 * The parsed YAML document → a Draft plus every problem found, each at the node it is about.
 *
 * Validation never stops at the first problem (HAProxy's habit): a bad value is reported and skipped, and the
 * walk carries on, so one run of `sni-router check` lists everything to fix. Keys are read in a fixed order
 * (proxy_protocol before routes, since pools inherit it), whatever order the file has them in.
 */
import { resolve } from 'node:path';
import { isAlias, isMap, isPair, isScalar, isSeq, type Document, type Node, type Pair, type YAMLMap } from 'yaml';
import { parseAdminAddress, parseBackendAddress, parseListenAddress } from './addresses.js';
import { parseCidr } from '../wire/cidr.js';
import {
  BACKEND_KEYS,
  HEALTH_KEYS,
  LIMITS_KEYS,
  LISTEN_KEYS,
  MAX_WEIGHT,
  isAlpnProtocolName,
} from './pool-keys.js';
import {
  BALANCE_ALGORITHMS,
  DEFAULT_BALANCE,
  type Draft,
  emptyDraft,
  FILE_DEFAULT_PROXY_PROTOCOL,
  LOG_LEVELS,
  MIN_MAX_HELLO_BYTES,
  PROXY_PROTOCOL_MODES,
} from './draft.js';
import { parseDuration } from './durations.js';
import { readHttpTerminate } from './terminate-http.js';
import { describeUnreadableFile } from './files.js';
import { checkCertMaterial, type CertFileRole } from '../data-path/cert-store.js';
import { BACKEND_PROTOCOLS, TLS_MIN_VERSIONS, type BackendProtocol, type BackendTlsSettings, type TlsMinVersion } from './types.js';
import { PLAIN_HTTP_MODES, type CertificatePair, type PlainHttpMode } from './types.js';
import { ADMIN_KEYS, DATA_PLANE_CHOICES, describeAdminBindProblem, parseWorkers } from './operations.js';

/** A listen entry's plain-HTTP settings, as read (absent keys left out). */
type PlainHttpListenSettings = { http?: PlainHttpMode | null; httpsPort?: number | null };
import { describeHostNameProblem } from '../wire/host-name.js';
import { type ConfigProblem, quoteValue } from './problem.js';
import { classifyRouteName, routeIdentity } from './route-names.js';
import { closestWord, oneOf, suggestionSuffix } from './suggest.js';
import {
  type BackendAddress,
  type AlpnPool,
  type BalanceAlgorithm,
  type Cidr,
  DEFAULT_HEALTH,
  DEFAULT_LIMITS,
  DEFAULT_TIMEOUTS,
  type HealthSettings,
  type Limits,
  type ListenAddress,
  MAX_MAX_HELLO_BYTES,
  type PoolConfig,
  type ProxyProtocolMode,
  type RouteConfig,
  type SourcePosition,
  type TerminateSettings,
  type Timeouts,
} from './types.js';
import type { YamlSource } from './yaml-source.js';
import { QUIC_COUNT_KEYS, QUIC_DEFAULTS, QUIC_DURATION_KEYS, QUIC_KEYS, type QuicSettings } from './quic-keys.js';

const TOP_LEVEL_KEYS = ['listen', 'proxy_protocol', 'timeouts', 'max_hello_bytes', 'routes', 'default', 'log_level', 'admin', 'limits', 'shutdown_grace', 'workers', 'data_plane', 'quic'];
const TIMEOUT_KEYS: readonly (keyof typeof TIMEOUT_FIELDS)[] = ['client_hello', 'connect', 'idle'];
const TIMEOUT_FIELDS = { client_hello: 'clientHelloMs', connect: 'connectMs', idle: 'idleMs' } as const satisfies Record<
  string,
  keyof Timeouts
>;
const ROUTE_KEYS = ['backends', 'proxy_protocol', 'balance', 'terminate', 'health', 'fallback', 'alpn', 'quic_backends', 'protocol'];
const DEFAULT_POOL_KEYS = ['backends', 'proxy_protocol', 'balance', 'health'];
/** Pools that hang off a route (`fallback`, each `alpn` entry): no terminate, no nesting. */
const SUB_POOL_KEYS = DEFAULT_POOL_KEYS;
const TERMINATE_KEYS = ['cert', 'key', 'min_version', 'alpn', 'client_ca', 'backend_tls', 'http', 'certs', 'ocsp'];
const CERTIFICATE_PAIR_KEYS = ['cert', 'key', 'ocsp'];
const BACKEND_TLS_KEYS = ['ca', 'servername', 'verify'];
/** RFC 7301 §3.1: a protocol name is 1–255 bytes. */
const MAX_ALPN_PROTOCOL_BYTES = 255;

/** Reads one YAML document; `baseDir` is the config file's folder, against which cert/key paths resolve. */
export function validateDocument(
  source: YamlSource,
  sourceFile: string,
  baseDir: string,
): { draft: Draft; problems: ConfigProblem[] } {
  const walker = new Walker(source, baseDir);
  const draft = emptyDraft(FILE_DEFAULT_PROXY_PROTOCOL, sourceFile);
  walker.readTopLevel(draft);
  return { draft, problems: walker.problems };
}

/** A mapping's pairs by key, after duplicate and unknown keys were reported. */
interface Fields {
  readonly pairs: Map<string, Pair<unknown, unknown>>;
  /** Unknown keys were found (and reported). */
  hasUnknownKeys: boolean;
  /** Known keys that an unknown one was probably meant to be: no "needs 'backends'" after "did you mean 'backends'?". */
  readonly misspelled: Set<string>;
}

class Walker {
  readonly problems: ConfigProblem[] = [];
  readonly #source: YamlSource;
  readonly #document: Document.Parsed;
  readonly #baseDir: string;

  constructor(source: YamlSource, baseDir: string) {
    this.#source = source;
    this.#document = source.document;
    this.#baseDir = baseDir;
  }

  readTopLevel(draft: Draft): void {
    const root = this.#deref(this.#document.contents);
    if (root === null || (isScalar(root) && root.value === null)) return; // an empty file: defaults only
    if (!isMap(root)) {
      draft.isTopLevelUnclear = true;
      this.#report(root, "the config must be a mapping of settings (listen, routes, default, …), not a single value or a list");
      return;
    }
    const fields = this.#readFields(root, TOP_LEVEL_KEYS, (key) =>
      /[.*~]/.test(key)
        ? `unknown top-level key ${quoteValue(key)}; routes go under 'routes:'`
        : `unknown top-level key ${quoteValue(key)}${suggestionSuffix(key, TOP_LEVEL_KEYS)}`,
    );
    const value = (key: string): Node | null => this.#valueOf(fields.pairs.get(key));
    draft.isTopLevelUnclear = fields.hasUnknownKeys;

    if (fields.pairs.has('proxy_protocol')) {
      draft.proxyProtocol = this.#readEnum(value('proxy_protocol'), 'proxy_protocol', PROXY_PROTOCOL_MODES) ?? draft.proxyProtocol;
    }
    if (fields.pairs.has('listen')) {
      draft.isListenGiven = true;
      draft.listen = this.#readListen(value('listen'));
    }
    if (fields.pairs.has('timeouts')) draft.timeouts = this.#readTimeouts(value('timeouts'));
    if (fields.pairs.has('max_hello_bytes')) {
      draft.maxHelloBytes = this.#readMaxHelloBytes(value('max_hello_bytes')) ?? draft.maxHelloBytes;
    }
    if (fields.pairs.has('log_level')) {
      draft.logLevel = this.#readEnum(value('log_level'), 'log_level', LOG_LEVELS) ?? draft.logLevel;
    }
    if (fields.pairs.has('admin')) draft.admin = this.#readAdmin(value('admin'));
    if (fields.pairs.has('shutdown_grace')) draft.shutdownGraceMs = this.#readShutdownGrace(value('shutdown_grace'));
    if (fields.pairs.has('workers')) draft.workers = this.#readWorkers(value('workers'));
    if (fields.pairs.has('data_plane')) draft.dataPlane = this.#readEnum(value('data_plane'), 'data_plane', DATA_PLANE_CHOICES) ?? undefined;
    if (fields.pairs.has('limits')) draft.limits = { ...this.#readLimits(value('limits')), isGiven: true };
    if (fields.pairs.has('quic')) draft.quic = this.#readQuic(value('quic'));
    if (fields.pairs.has('routes')) {
      draft.isRoutingGiven = true;
      draft.routes = this.#readRoutes(value('routes'), draft.proxyProtocol);
    }
    if (fields.pairs.has('default')) {
      const node = value('default');
      draft.isRoutingGiven = true;
      const read = isNull(node) ? null : this.#readPool(node, 'default', DEFAULT_POOL_KEYS, draft.proxyProtocol);
      draft.defaultPool = read?.pool ?? null;
    }
  }

  // ── settings ────────────────────────────────────────────────────────────────────────────────────────────────

  #readListen(node: Node | null): ListenAddress[] {
    const listen: ListenAddress[] = [];
    const items = this.#listOf(node, 'listen', 'a list of addresses, as in ["127.0.0.1:8443", "[::1]:8443"]');
    const firstLine = new Map<string, number>();
    for (const item of items) {
      const isLong = isLongForm(item, LISTEN_KEYS);
      const long = isLong ? this.#readListenLongForm(item) : null;
      if (isLong && long === null) continue;
      const text = long !== null ? long.address : this.#addressText(item, 'listen address');
      if (text === null) continue;
      const parsed = parseListenAddress(text);
      if (!parsed.ok) {
        this.#report(long?.addressNode ?? item, `listen address ${quoteValue(text)} ${parsed.reason}`);
        continue;
      }
      const result = long === null ? parsed : { ok: true as const, value: { ...parsed.value, ...long.settings } };
      const seenAt = firstLine.get(result.value.label);
      if (seenAt !== undefined) {
        this.#report(item, `listen address '${result.value.label}' is listed twice (first at line ${seenAt})`);
        continue;
      }
      firstLine.set(result.value.label, this.#position(item).line);
      listen.push(result.value);
    }
    if (node !== null && isSeq(node) && node.items.length === 0) {
      this.#report(node, 'listen is empty; give at least one address, as in ["127.0.0.1:8443"]');
    }
    return listen;
  }

  #readTimeouts(node: Node | null): Timeouts {
    const timeouts: { -readonly [K in keyof Timeouts]: Timeouts[K] } = { ...DEFAULT_TIMEOUTS };
    if (node === null || !isMap(node)) {
      this.#report(node, 'timeouts must be a mapping, as in { client_hello: 5s, connect: 3s, idle: 10m }');
      return timeouts;
    }
    const fields = this.#readFields(
      node,
      TIMEOUT_KEYS,
      (key) => `unknown key ${quoteValue(key)} in timeouts${suggestionSuffix(key, TIMEOUT_KEYS)}`,
    );
    for (const key of TIMEOUT_KEYS) {
      const pair = fields.pairs.get(key);
      if (pair === undefined) continue;
      const valueNode = this.#valueOf(pair);
      const result = parseDuration(isScalar(valueNode) ? valueNode.value : undefined);
      if (result.ok) timeouts[TIMEOUT_FIELDS[key]] = result.ms;
      else this.#report(valueNode ?? pair, `timeouts.${key} ${result.reason}`);
    }
    return timeouts;
  }

  #readMaxHelloBytes(node: Node | null): number | null {
    const value = isScalar(node) ? node.value : undefined;
    if (typeof value === 'number' && Number.isInteger(value) && value >= MIN_MAX_HELLO_BYTES && value <= MAX_MAX_HELLO_BYTES) {
      return value;
    }
    const shown = isScalar(node) ? quoteValue(String(node.source ?? node.value)) : isSeq(node) ? 'a list' : 'a mapping';
    if (typeof value === 'number' && Number.isInteger(value) && value > MAX_MAX_HELLO_BYTES) {
      const limit = `${MAX_MAX_HELLO_BYTES} (1 MiB)`;
      this.#report(node, `max_hello_bytes ${value} is over the limit of ${limit}; a real ClientHello is a few KiB`);
    } else {
      const range = `${MIN_MAX_HELLO_BYTES} to ${MAX_MAX_HELLO_BYTES}`;
      this.#report(node, `max_hello_bytes must be a whole number of bytes from ${range}, not ${shown}`);
    }
    return null;
  }

  /** Short form `127.0.0.1:9901` (loopback only), long form `{ listen, allow_non_loopback }` (src/config/operations.ts). */
  #readAdmin(node: Node | null): Draft['admin'] {
    if (node === null || isNull(node)) return null;
    let addressNode: Node = node;
    let allowNonLoopback = false;
    if (isMap(node)) {
      const fields = this.#readFields(node, ADMIN_KEYS, (key) => `unknown key ${quoteValue(key)} in admin${suggestionSuffix(key, ADMIN_KEYS)}`);
      const listenPair = fields.pairs.get('listen');
      if (listenPair === undefined) {
        if (!fields.misspelled.has('listen')) this.#report(node, "admin in long form needs 'listen', as in { listen: \"127.0.0.1:9901\" }");
        return null;
      }
      addressNode = this.#valueOf(listenPair) ?? (listenPair.key as Node);
      const allowPair = fields.pairs.get('allow_non_loopback');
      const allowNode = this.#valueOf(allowPair);
      if (allowPair !== undefined && !(isScalar(allowNode) && typeof allowNode.value === 'boolean')) {
        this.#report(allowNode ?? allowPair, 'admin.allow_non_loopback must be true or false');
        return null;
      }
      allowNonLoopback = isScalar(allowNode) && allowNode.value === true;
    }
    const text = this.#addressText(addressNode, 'admin');
    if (text === null) return null;
    const result = parseAdminAddress(text);
    if (!result.ok) {
      this.#report(addressNode, `admin address ${quoteValue(text)} ${result.reason}`);
      return null;
    }
    const problem = describeAdminBindProblem(result.value.label, result.value.host, allowNonLoopback);
    if (problem !== null) {
      this.#report(addressNode, problem);
      return null;
    }
    return allowNonLoopback ? { ...result.value, allowNonLoopback } : result.value;
  }

  #readShutdownGrace(node: Node | null): number | undefined {
    const result = parseDuration(isScalar(node) ? node.value : undefined);
    if (result.ok) return result.ms;
    this.#report(node, `shutdown_grace ${result.reason}`);
    return undefined;
  }

  #readWorkers(node: Node | null): number | undefined {
    const result = parseWorkers(isScalar(node) ? node.value : undefined);
    if (result.ok) return result.workers;
    this.#report(node, `workers ${result.reason}`);
    return undefined;
  }

  // ── routes and pools ────────────────────────────────────────────────────────────────────────────────────────

  #readRoutes(node: Node | null, proxyProtocol: ProxyProtocolMode): RouteConfig[] {
    const routes: RouteConfig[] = [];
    if (isNull(node)) return routes;
    if (!isMap(node)) {
      this.#report(node, "routes must be a mapping of server name to backends, as in { app.example.com: [10.0.0.5:8443] }");
      return routes;
    }
    const firstByIdentity = new Map<string, { name: string; line: number }>();
    const fields = this.#readFields(node, null, () => '');
    for (const [name, pair] of fields.pairs) {
      const keyNode = pair.key as Node;
      const classified = classifyRouteName(name);
      if (!classified.ok) {
        this.#report(keyNode, `route ${quoteValue(name)} ${classified.reason}`);
        continue;
      }
      const source = this.#position(keyNode);
      const identity = routeIdentity(classified.kind, classified.pattern);
      const first = firstByIdentity.get(identity);
      if (first !== undefined) {
        const where = `'${first.name}' at line ${first.line}`;
        this.#report(keyNode, `route '${name}' is the same name as ${where}; names compare case-insensitively`);
        continue;
      }
      firstByIdentity.set(identity, { name, line: source.line });
      const exactName = classified.kind === 'exact' ? classified.pattern : null;
      const read = this.#readPool(this.#valueOf(pair) ?? keyNode, `route '${name}'`, ROUTE_KEYS, proxyProtocol, exactName);
      if (read === null) continue;
      const route: RouteConfig = { name, kind: classified.kind, pattern: classified.pattern, pool: read.pool, terminate: read.terminate, source };
      const quicBackends = this.#readQuicBackends(this.#valueOf(pair), `route '${name}'`);
      if (quicBackends === null) continue;
      routes.push({ ...route, ...(read.alpn.length > 0 ? { alpn: read.alpn } : {}), ...(read.fallback ? { fallback: read.fallback } : {}), ...quicBackends });
    }
    return routes;
  }

  /**
   * A pool in short form (a list of backends, or one backend) or long form ({ backends, proxy_protocol, balance,
   * terminate }). `what` names it in messages: "route 'app.example.com'" or "default".
   */
  #readPool(
    node: Node | null,
    what: string,
    knownKeys: readonly string[],
    proxyProtocol: ProxyProtocolMode,
    exactName: string | null = null,
  ): { pool: PoolConfig; terminate: TerminateSettings | null; alpn: AlpnPool[]; fallback: PoolConfig | null } | null {
    if (node === null || isNull(node)) {
      this.#report(node, `${what} has no backends`);
      return null;
    }
    if (isSeq(node) || isScalar(node)) {
      const backends = this.#readBackends(node, what);
      return backends === null
        ? null
        : { pool: { backends, proxyProtocol, balance: DEFAULT_BALANCE }, terminate: null, alpn: [], fallback: null };
    }
    if (!isMap(node)) {
      this.#report(node, `${what} must be a list of backends or a mapping with 'backends'`);
      return null;
    }
    const fields = this.#readFields(node, knownKeys, (key) =>
      key === 'terminate'
        ? `${what} cannot terminate TLS; only a named route can (its name picks the certificate)`
        : `unknown key ${quoteValue(key)} in ${what}${suggestionSuffix(key, knownKeys)}`,
    );
    const backendsPair = fields.pairs.get('backends');
    let backends: BackendAddress[] | null = null;
    if (backendsPair === undefined && !fields.misspelled.has('backends')) this.#report(node, `${what} needs 'backends'`);
    else if (backendsPair !== undefined) {
      backends = this.#readBackends(this.#valueOf(backendsPair) ?? (backendsPair.key as Node), what);
    }

    let mode = proxyProtocol;
    if (fields.pairs.has('proxy_protocol')) {
      const node = this.#valueOf(fields.pairs.get('proxy_protocol'));
      mode = this.#readEnum(node, `proxy_protocol of ${what}`, PROXY_PROTOCOL_MODES) ?? mode;
    }
    let balance: BalanceAlgorithm = DEFAULT_BALANCE;
    if (fields.pairs.has('balance')) {
      balance = this.#readEnum(this.#valueOf(fields.pairs.get('balance')), `balance of ${what}`, BALANCE_ALGORITHMS) ?? balance;
    }
    let terminate: TerminateSettings | null = null;
    let isTerminateBroken = false;
    const terminatePair = fields.pairs.get('terminate');
    if (terminatePair !== undefined) {
      terminate = this.#readTerminate(this.#valueOf(terminatePair) ?? (terminatePair.key as Node), what);
      isTerminateBroken = terminate === null;
    }
    let health: HealthSettings | null = null;
    let isExtraBroken = false;
    const healthPair = fields.pairs.get('health');
    if (healthPair !== undefined) {
      health = this.#readHealth(this.#valueOf(healthPair), what, exactName);
      isExtraBroken = health === null;
    }
    let fallback: PoolConfig | null = null;
    const fallbackPair = fields.pairs.get('fallback');
    if (fallbackPair !== undefined) {
      const node = this.#valueOf(fallbackPair) ?? (fallbackPair.key as Node);
      fallback = this.#readPool(node, `fallback of ${what}`, SUB_POOL_KEYS, proxyProtocol, exactName)?.pool ?? null;
      isExtraBroken ||= fallback === null;
    }
    const alpn: AlpnPool[] = [];
    const alpnPair = fields.pairs.get('alpn');
    if (alpnPair !== undefined) {
      const read = this.#readAlpnPools(this.#valueOf(alpnPair), what, proxyProtocol, exactName);
      if (read === null) isExtraBroken = true;
      else for (const entry of read) alpn.push(entry);
    }
    // `protocol: h2c`: what the backends speak to an HTTP-mode route (terminate.http); nothing else reads it.
    let protocol: BackendProtocol | null = null;
    if (fields.pairs.has('protocol')) {
      protocol = this.#readEnum(this.#valueOf(fields.pairs.get('protocol')), `protocol of ${what}`, BACKEND_PROTOCOLS);
      if (protocol === null) isExtraBroken = true;
      else if (!terminate?.http) {
        this.#report(this.#valueOf(fields.pairs.get('protocol')), `protocol of ${what} is only used with terminate: { …, http: true }`);
        isExtraBroken = true;
      }
    }
    if (backends === null || isTerminateBroken || isExtraBroken) return null;
    const pool: PoolConfig = {
      backends,
      proxyProtocol: mode,
      balance,
      ...(health === null ? {} : { health }),
      ...(protocol === null ? {} : { protocol }),
    };
    return { pool, terminate, alpn, fallback };
  }

  // ── issue 6: listen long form, backend weights, health, ALPN pools, limits ─────────────────────────────────

  /** `{ address, accept_proxy_protocol: { trusted: [CIDRs] }, max_connections, max_connections_per_client }`. */
  #readListenLongForm(node: YAMLMap): {
    address: string;
    addressNode: Node;
    settings: { acceptProxy: { trusted: Cidr[] } | null; maxConnections: number | null; maxConnectionsPerClient: number | null; quic?: true } & PlainHttpListenSettings;
  } | null {
    const fields = this.#readFields(node, LISTEN_KEYS, (key) => `unknown key ${quoteValue(key)} in a listen entry${suggestionSuffix(key, LISTEN_KEYS)}`);
    const addressPair = fields.pairs.get('address');
    if (addressPair === undefined) {
      if (!fields.misspelled.has('address')) this.#report(node, "a listen entry in long form needs 'address', as in { address: \"127.0.0.1:443\" }");
      return null;
    }
    const addressNode = this.#valueOf(addressPair) ?? (addressPair.key as Node);
    const address = this.#addressText(addressNode, 'listen address');
    let isBroken = address === null;
    let acceptProxy: { trusted: Cidr[] } | null = null;
    const proxyPair = fields.pairs.get('accept_proxy_protocol');
    if (proxyPair !== undefined) {
      acceptProxy = this.#readAcceptProxy(this.#valueOf(proxyPair) ?? (proxyPair.key as Node));
      isBroken ||= acceptProxy === null;
    }
    const count = (key: string): number | null => {
      const pair = fields.pairs.get(key);
      if (pair === undefined) return null;
      const value = this.#readCount(this.#valueOf(pair) ?? (pair.key as Node), key, 1);
      if (value === null) isBroken = true;
      return value;
    };
    const maxConnections = count('max_connections');
    const maxConnectionsPerClient = count('max_connections_per_client');
    const quicPair = fields.pairs.get('quic');
    const quic = quicPair === undefined ? false : this.#readBoolean(this.#valueOf(quicPair) ?? (quicPair.key as Node), 'quic of a listen entry');
    const plainHttp = this.#readPlainHttpListen(node, fields.pairs);
    if (isBroken || address === null || quic === null || plainHttp === null) return null;
    if (quic && plainHttp.http) {
      this.#report(this.#valueOf(quicPair!) ?? node, `quic does not apply to a plain-HTTP listen entry (http: ${plainHttp.http}): QUIC is TLS`);
      return null;
    }
    return { address, addressNode, settings: { acceptProxy, maxConnections, maxConnectionsPerClient, ...(quic ? { quic } : {}), ...plainHttp } };
  }

  /** `http: redirect | route` and `https_port` of a listen entry; {} when neither is given, null after reporting. */
  #readPlainHttpListen(node: YAMLMap, pairs: ReadonlyMap<string, Pair<unknown, unknown>>): PlainHttpListenSettings | null {
    const httpPair = pairs.get('http');
    const portPair = pairs.get('https_port');
    if (httpPair === undefined && portPair === undefined) return {};
    const http = httpPair === undefined ? null : this.#readEnum(this.#valueOf(httpPair), 'http of a listen entry', PLAIN_HTTP_MODES);
    if (httpPair !== undefined && http === null) return null;
    let httpsPort: number | null = null;
    if (portPair !== undefined) {
      const portNode = this.#valueOf(portPair) ?? (portPair.key as Node);
      if (http !== 'redirect') {
        this.#report(portNode, "https_port only applies to a listen entry with 'http: redirect'");
        return null;
      }
      httpsPort = this.#readCount(portNode, 'https_port', 1);
      if (httpsPort === null) return null;
      if (httpsPort > 65_535) {
        this.#report(portNode, `https_port ${httpsPort} is outside 1–65535`);
        return null;
      }
    }
    if (pairs.has('accept_proxy_protocol')) {
      this.#report(node, 'accept_proxy_protocol is not supported on a plain-HTTP listen entry (http: ' + String(http) + ')');
      return null;
    }
    return { http, httpsPort };
  }

  #readAcceptProxy(node: Node): { trusted: Cidr[] } | null {
    const example = 'accept_proxy_protocol must be a mapping, as in { trusted: ["10.0.0.0/8", "::1/128"] }';
    if (!isMap(node)) {
      this.#report(node, example);
      return null;
    }
    const fields = this.#readFields(node, ['trusted'], (key) => `unknown key ${quoteValue(key)} in accept_proxy_protocol${suggestionSuffix(key, ['trusted'])}`);
    const trustedPair = fields.pairs.get('trusted');
    if (trustedPair === undefined) {
      if (!fields.misspelled.has('trusted')) this.#report(node, "accept_proxy_protocol needs 'trusted', the peers allowed to send a header");
      return null;
    }
    const items = this.#listOf(this.#valueOf(trustedPair), 'trusted', 'a list of networks, as in ["10.0.0.0/8"]');
    const trusted: Cidr[] = [];
    let isBroken = items.length === 0;
    for (const item of items) {
      const text = isScalar(item) ? String(item.value) : null;
      const result = text === null ? null : parseCidr(text);
      if (result === null || !result.ok) {
        this.#report(item, `trusted network ${quoteValue(text ?? '')} ${result === null ? 'must be a string' : result.reason}`);
        isBroken = true;
        continue;
      }
      trusted.push(result.value);
    }
    return isBroken ? null : { trusted };
  }

  /** `{ interval, timeout, rise, fall, tls }`; tls is true, false, or the server name to send. */
  #readHealth(node: Node | null, what: string, exactName: string | null): HealthSettings | null {
    if (node === null || !isMap(node)) {
      this.#report(node, `health of ${what} must be a mapping, as in { interval: 5s, timeout: 2s, rise: 2, fall: 3 }`);
      return null;
    }
    const fields = this.#readFields(node, HEALTH_KEYS, (key) => `unknown key ${quoteValue(key)} in health of ${what}${suggestionSuffix(key, HEALTH_KEYS)}`);
    let isBroken = fields.hasUnknownKeys;
    const duration = (key: 'interval' | 'timeout', fallback: number): number => {
      const pair = fields.pairs.get(key);
      if (pair === undefined) return fallback;
      const valueNode = this.#valueOf(pair);
      const result = parseDuration(isScalar(valueNode) ? valueNode.value : undefined);
      if (result.ok && result.ms > 0) return result.ms;
      this.#report(valueNode ?? pair, `health.${key} of ${what} ${result.ok ? 'must be more than 0' : result.reason}`);
      isBroken = true;
      return fallback;
    };
    const count = (key: 'rise' | 'fall', fallback: number): number => {
      const pair = fields.pairs.get(key);
      if (pair === undefined) return fallback;
      const value = this.#readCount(this.#valueOf(pair) ?? (pair.key as Node), `health.${key} of ${what}`, 1);
      if (value === null) isBroken = true;
      return value ?? fallback;
    };
    const intervalMs = duration('interval', DEFAULT_HEALTH.intervalMs);
    const timeoutMs = duration('timeout', Math.min(DEFAULT_HEALTH.timeoutMs, intervalMs));
    const rise = count('rise', DEFAULT_HEALTH.rise);
    const fall = count('fall', DEFAULT_HEALTH.fall);
    let tls = false;
    let tlsServerName: string | null = null;
    const tlsPair = fields.pairs.get('tls');
    if (tlsPair !== undefined) {
      const valueNode = this.#valueOf(tlsPair);
      const value = isScalar(valueNode) ? valueNode.value : undefined;
      if (typeof value === 'boolean') {
        tls = value;
        tlsServerName = value ? exactName : null;
      } else if (typeof value === 'string' && describeHostNameProblem(value) === null) {
        tls = true;
        tlsServerName = value.toLowerCase();
      } else {
        this.#report(valueNode ?? tlsPair, `health.tls of ${what} must be true, false or the server name to send, as in app.example.com`);
        isBroken = true;
      }
    }
    return isBroken ? null : { intervalMs, timeoutMs, rise, fall, tls, tlsServerName };
  }

  /** `alpn: { "acme-tls/1": <pool>, h2: <pool> }`, in file order. */
  #readAlpnPools(node: Node | null, what: string, proxyProtocol: ProxyProtocolMode, exactName: string | null): AlpnPool[] | null {
    if (node === null || !isMap(node)) {
      this.#report(node, `alpn of ${what} must be a mapping of protocol to backends, as in { "acme-tls/1": [127.0.0.1:9443] }`);
      return null;
    }
    const fields = this.#readFields(node, null, () => '');
    const pools: AlpnPool[] = [];
    let isBroken = false;
    for (const [protocol, pair] of fields.pairs) {
      if (!isAlpnProtocolName(protocol)) {
        this.#report(pair.key as Node, `alpn protocol '${protocol}' of ${what} must be 1–255 printable ASCII bytes, as in acme-tls/1 or h2`);
        isBroken = true;
        continue;
      }
      const read = this.#readPool(this.#valueOf(pair) ?? (pair.key as Node), `alpn '${protocol}' of ${what}`, SUB_POOL_KEYS, proxyProtocol, exactName);
      if (read === null) isBroken = true;
      else pools.push({ protocol, pool: read.pool });
    }
    if (fields.pairs.size === 0) {
      this.#report(node, `alpn of ${what} is empty`);
      isBroken = true;
    }
    return isBroken ? null : pools;
  }

  /** `limits: { max_hello_connections, max_hello_connections_per_client }`, defaults for what is left out. */
  #readLimits(node: Node | null): Limits {
    const limits: { -readonly [K in keyof Limits]: Limits[K] } = { ...DEFAULT_LIMITS };
    if (node === null || !isMap(node)) {
      this.#report(node, 'limits must be a mapping, as in { max_hello_connections: 10000, max_hello_connections_per_client: 256 }');
      return limits;
    }
    const fields = this.#readFields(node, LIMITS_KEYS, (key) => `unknown key ${quoteValue(key)} in limits${suggestionSuffix(key, LIMITS_KEYS)}`);
    const total = fields.pairs.get('max_hello_connections');
    if (total !== undefined) limits.maxHelloConnections = this.#readCount(this.#valueOf(total) ?? (total.key as Node), 'limits.max_hello_connections', 1) ?? limits.maxHelloConnections;
    const perClient = fields.pairs.get('max_hello_connections_per_client');
    if (perClient !== undefined) {
      const node = this.#valueOf(perClient) ?? (perClient.key as Node);
      limits.maxHelloConnectionsPerClient = this.#readCount(node, 'limits.max_hello_connections_per_client', 1) ?? limits.maxHelloConnectionsPerClient;
    }
    const bytesTotal = fields.pairs.get('max_hello_bytes_total');
    if (bytesTotal !== undefined) {
      // Bytes, like max_hello_bytes; at least 1 MiB, so that one hello of the largest size allowed always fits.
      const node = this.#valueOf(bytesTotal) ?? (bytesTotal.key as Node);
      limits.maxHelloBytesTotal = this.#readCount(node, 'limits.max_hello_bytes_total', MAX_MAX_HELLO_BYTES) ?? limits.maxHelloBytesTotal;
    }
    const rate = fields.pairs.get('max_connection_rate_per_client');
    if (rate !== undefined) {
      const node = this.#valueOf(rate) ?? (rate.key as Node);
      limits.maxConnectionRatePerClient = this.#readCount(node, 'limits.max_connection_rate_per_client', 1) ?? limits.maxConnectionRatePerClient;
    }
    return limits;
  }

  // ── QUIC: `quic: true` on a listen entry, `quic_backends` on a route, the `quic:` section (quic-keys.ts) ──────

  #readBoolean(node: Node, setting: string): boolean | null {
    if (isScalar(node) && typeof node.value === 'boolean') return node.value;
    this.#report(node, `${setting} must be true or false, not ${isScalar(node) ? quoteValue(String(node.source ?? node.value)) : 'a list or mapping'}`);
    return null;
  }

  /** `{}` when the route has no `quic_backends`, null when they are broken (reported). */
  #readQuicBackends(node: Node | null, what: string): { quicBackends?: BackendAddress[] } | null {
    if (node === null || !isMap(node)) return {};
    const pair = node.items.find((item) => isScalar(item.key) && item.key.value === 'quic_backends');
    if (pair === undefined) return {};
    const backends = this.#readBackends(this.#valueOf(pair) ?? (pair.key as Node), `quic_backends of ${what}`);
    return backends === null ? null : { quicBackends: backends };
  }

  #readQuic(node: Node | null): QuicSettings {
    const settings: { -readonly [K in keyof QuicSettings]: QuicSettings[K] } = { ...QUIC_DEFAULTS };
    if (node === null || !isMap(node)) {
      this.#report(node, 'quic must be a mapping, as in { idle_timeout: 30s, max_flows: 16384 }');
      return settings;
    }
    const fields = this.#readFields(node, QUIC_KEYS, (key) => `unknown key ${quoteValue(key)} in quic${suggestionSuffix(key, QUIC_KEYS)}`);
    for (const [key, field] of Object.entries(QUIC_DURATION_KEYS)) {
      const pair = fields.pairs.get(key);
      if (pair === undefined) continue;
      const valueNode = this.#valueOf(pair);
      const result = parseDuration(isScalar(valueNode) ? valueNode.value : undefined);
      if (result.ok && result.ms > 0) settings[field] = result.ms;
      else this.#report(valueNode ?? pair, `quic.${key} ${result.ok ? 'must be longer than 0' : result.reason}`);
    }
    for (const [key, { field, min }] of Object.entries(QUIC_COUNT_KEYS)) {
      const pair = fields.pairs.get(key);
      if (pair !== undefined) settings[field] = this.#readCount(this.#valueOf(pair) ?? (pair.key as Node), `quic.${key}`, min) ?? settings[field];
    }
    return settings;
  }

  /** A whole number ≥ `min`, or null after reporting it. */
  #readCount(node: Node, setting: string, min: number): number | null {
    const value = isScalar(node) ? node.value : undefined;
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= min) return value;
    const shown = isScalar(node) ? quoteValue(String(node.source ?? node.value)) : isSeq(node) ? 'a list' : 'a mapping';
    this.#report(node, `${setting} must be a whole number of at least ${min}, not ${shown}`);
    return null;
  }

  #readBackends(node: Node, what: string): BackendAddress[] | null {
    const items = isSeq(node) ? this.#listOf(node, `backends of ${what}`, '') : [node];
    if (items.length === 0) {
      this.#report(node, `${what} has no backends`);
      return null;
    }
    const backends: BackendAddress[] = [];
    const seen = new Set<string>();
    let isBroken = false;
    for (const item of items) {
      const isLong = isLongForm(item, BACKEND_KEYS);
      const long = isLong ? this.#readBackendLongForm(item, what) : null;
      if (isLong && long === null) {
        isBroken = true;
        continue;
      }
      const text = long !== null ? long.address : this.#addressText(item, 'backend', ` of ${what}`);
      const parsed = text === null ? null : parseBackendAddress(text);
      const result = parsed !== null && parsed.ok && long !== null && long.weight !== null ? { ok: true as const, value: { ...parsed.value, weight: long.weight } } : parsed;
      if (result === null || !result.ok) {
        if (result !== null) this.#report(long?.addressNode ?? item, `backend ${quoteValue(text ?? '')} of ${what} ${result.reason}`);
        isBroken = true;
        continue;
      }
      if (seen.has(result.value.label)) {
        this.#report(item, `${what} lists backend '${result.value.label}' twice`);
        isBroken = true;
        continue;
      }
      seen.add(result.value.label);
      backends.push(result.value);
    }
    return isBroken ? null : backends;
  }

  /** `{ address: "10.0.0.5:8443", weight: 3 }`. */
  #readBackendLongForm(node: YAMLMap, what: string): { address: string; addressNode: Node; weight: number | null } | null {
    const fields = this.#readFields(node, BACKEND_KEYS, (key) => `unknown key ${quoteValue(key)} in a backend of ${what}${suggestionSuffix(key, BACKEND_KEYS)}`);
    const addressPair = fields.pairs.get('address');
    if (addressPair === undefined) {
      if (!fields.misspelled.has('address')) this.#report(node, `a backend of ${what} in long form needs 'address', as in { address: 10.0.0.5:8443, weight: 2 }`);
      return null;
    }
    const addressNode = this.#valueOf(addressPair) ?? (addressPair.key as Node);
    const address = this.#addressText(addressNode, 'backend', ` of ${what}`);
    let weight: number | null = null;
    const weightPair = fields.pairs.get('weight');
    if (weightPair !== undefined) {
      const weightNode = this.#valueOf(weightPair) ?? (weightPair.key as Node);
      weight = this.#readCount(weightNode, `weight of backend '${address ?? ''}' of ${what}`, 1);
      if (weight !== null && weight > MAX_WEIGHT) {
        this.#report(weightNode, `weight of backend '${address ?? ''}' of ${what} must be at most ${MAX_WEIGHT}`);
        weight = null;
      }
      if (weight === null) return null;
    }
    if (address === null || fields.hasUnknownKeys) return null;
    return { address, addressNode, weight };
  }

  #readTerminate(node: Node, what: string): TerminateSettings | null {
    if (!isMap(node)) {
      this.#report(node, `terminate of ${what} must be a mapping, as in { cert: certs/site.pem, key: certs/site.key }`);
      return null;
    }
    const fields = this.#readFields(
      node,
      TERMINATE_KEYS,
      (key) => `unknown key ${quoteValue(key)} in terminate of ${what}${suggestionSuffix(key, TERMINATE_KEYS)}`,
    );
    const certsPair = fields.pairs.get('certs');
    const pairs = certsPair !== undefined ? this.#readCertificatePairs(this.#valueOf(certsPair) ?? (certsPair.key as Node), node, fields.pairs, what) : null;
    const certFile = certsPair !== undefined ? (pairs?.[0]?.certFile ?? null) : this.#readFilePath(fields.pairs.get('cert'), node, 'cert', 'certificate', what, !fields.misspelled.has('cert'));
    const keyFile = certsPair !== undefined ? (pairs?.[0]?.keyFile ?? null) : this.#readFilePath(fields.pairs.get('key'), node, 'key', 'private key', what, !fields.misspelled.has('key'));
    let isBroken = certFile === null || keyFile === null;
    const settings: { -readonly [K in keyof TerminateSettings]: TerminateSettings[K] } = { certFile: certFile ?? '', keyFile: keyFile ?? '' };
    if (pairs !== null && pairs.length > 0) settings.certs = pairs;
    const ocspPair = certsPair === undefined ? fields.pairs.get('ocsp') : undefined;
    if (ocspPair !== undefined) {
      const ocspFile = this.#readFilePath(ocspPair, node, 'ocsp', 'OCSP response', what, true);
      if (ocspFile === null) isBroken = true;
      else settings.ocspFile = ocspFile;
    }

    if (fields.pairs.has('min_version')) {
      const version = this.#readEnum(this.#valueOf(fields.pairs.get('min_version')), `min_version of ${what}`, TLS_MIN_VERSIONS);
      if (version === null) isBroken = true;
      else settings.minVersion = version satisfies TlsMinVersion;
    }
    if (fields.pairs.has('alpn')) {
      const alpn = this.#readAlpnList(this.#valueOf(fields.pairs.get('alpn')), what);
      if (alpn === null) isBroken = true;
      else settings.alpn = alpn;
    }
    const clientCaPair = fields.pairs.get('client_ca');
    if (clientCaPair !== undefined) {
      const clientCaFile = this.#readFilePath(clientCaPair, node, 'client_ca', 'client CA', what, true);
      if (clientCaFile === null) isBroken = true;
      else settings.clientCaFile = clientCaFile;
    }
    const httpPair = fields.pairs.get('http');
    if (httpPair !== undefined) {
      const http = readHttpTerminate(this.#valueOf(httpPair), what, (at, message) => this.#report(at ?? node, message));
      if (http === null) isBroken = true;
      else settings.http = http;
    }
    const backendTlsPair = fields.pairs.get('backend_tls');
    if (backendTlsPair !== undefined) {
      const backendTls = this.#readBackendTls(this.#valueOf(backendTlsPair) ?? (backendTlsPair.key as Node), what);
      if (backendTls === null) isBroken = true;
      else settings.backendTls = backendTls;
    }
    if (isBroken) return null;

    // The files are readable: now whether they make a usable certificate (key matches, not expired, parses).
    const nodeOf = (role: CertFileRole): Node | null => {
      const key = role === 'cert' ? 'cert' : role === 'key' ? 'key' : role === 'client_ca' ? 'client_ca' : role === 'ocsp' ? 'ocsp' : 'backend_tls';
      if (settings.certs && role !== 'client_ca' && role !== 'backend_ca') return this.#valueOf(fields.pairs.get('certs')) ?? node;
      const pair = fields.pairs.get(key);
      if (role !== 'backend_ca') return this.#valueOf(pair) ?? node;
      const backendNode = this.#valueOf(pair);
      const caPair = isMap(backendNode) ? backendNode.items.find((item) => isScalar(item.key) && item.key.value === 'ca') : undefined;
      return this.#valueOf(caPair as Pair<unknown, unknown> | undefined) ?? backendNode ?? node;
    };
    const problems = checkCertMaterial(settings);
    for (const problem of problems) this.#report(nodeOf(problem.role), `${problem.message} (terminate of ${what})`);
    return problems.length > 0 ? null : settings;
  }

  /** `certs: [{ cert, key, ocsp }, …]` under terminate (instead of cert/key): several certificates, e.g. ECDSA + RSA. */
  #readCertificatePairs(node: Node, terminateNode: Node, terminatePairs: ReadonlyMap<string, Pair<unknown, unknown>>, what: string): CertificatePair[] | null {
    for (const key of ['cert', 'key', 'ocsp']) {
      if (terminatePairs.has(key)) {
        this.#report(terminateNode, `terminate of ${what} gives both 'certs' and '${key}'; put every certificate in 'certs', as in certs: [{ cert: ecdsa.pem, key: ecdsa.key }, { cert: rsa.pem, key: rsa.key }]`);
        return null;
      }
    }
    const items = this.#listOf(node, `certs of terminate of ${what}`, 'a list of { cert, key } pairs');
    if (items.length === 0) {
      if (isSeq(node)) this.#report(node, `certs of terminate of ${what} needs at least one { cert, key } pair`);
      return null;
    }
    const pairs: CertificatePair[] = [];
    let isBroken = false;
    for (const item of items) {
      if (!isMap(item)) {
        this.#report(item, `each entry of certs of terminate of ${what} must be a mapping, as in { cert: site.pem, key: site.key }`);
        isBroken = true;
        continue;
      }
      const fields = this.#readFields(item, CERTIFICATE_PAIR_KEYS, (key) => `unknown key ${quoteValue(key)} in certs of terminate of ${what}${suggestionSuffix(key, CERTIFICATE_PAIR_KEYS)}`);
      const certFile = this.#readFilePath(fields.pairs.get('cert'), item, 'cert', 'certificate', what, !fields.misspelled.has('cert'));
      const keyFile = this.#readFilePath(fields.pairs.get('key'), item, 'key', 'private key', what, !fields.misspelled.has('key'));
      const ocspPair = fields.pairs.get('ocsp');
      const ocspFile = ocspPair === undefined ? null : this.#readFilePath(ocspPair, item, 'ocsp', 'OCSP response', what, true);
      if (certFile === null || keyFile === null || (ocspPair !== undefined && ocspFile === null) || fields.hasUnknownKeys) {
        isBroken = true;
        continue;
      }
      pairs.push({ certFile, keyFile, ocspFile });
    }
    return isBroken ? null : pairs;
  }

  /**
   * A file path setting (`cert`, `key`, `client_ca`, `ca`), resolved against the config folder and checked to be a
   * readable file; null after reporting. `mapNode` is where a missing required key is reported.
   */
  #readFilePath(
    pair: Pair<unknown, unknown> | undefined,
    mapNode: Node,
    key: string,
    noun: string,
    what: string,
    isMissingReported: boolean,
  ): string | null {
    if (pair === undefined) {
      if (isMissingReported) this.#report(mapNode, `terminate of ${what} needs '${key}', the ${noun} file (PEM)`);
      return null;
    }
    const valueNode = this.#valueOf(pair);
    const value = isScalar(valueNode) ? valueNode.value : undefined;
    if (typeof value !== 'string' || value.length === 0) {
      this.#report(valueNode ?? (pair.key as Node), `${key} of ${what} must be a file path`);
      return null;
    }
    const path = resolve(this.#baseDir, value);
    const problem = describeUnreadableFile(path);
    if (problem !== null) {
      this.#report(valueNode, `cannot read the ${noun} file '${path}' of ${what}: ${problem}`);
      return null;
    }
    return path;
  }

  /** `alpn: [h2, http/1.1]` under terminate: protocol names offered to clients, most preferred first; [] = none. */
  #readAlpnList(node: Node | null, what: string): string[] | null {
    if (!isSeq(node)) {
      this.#report(node, `alpn of terminate of ${what} must be a list of protocol names, as in [h2, http/1.1]`);
      return null;
    }
    const protocols: string[] = [];
    let isBroken = false;
    for (const item of node.items as Node[]) {
      const value = isScalar(item) ? item.value : undefined;
      if (typeof value !== 'string' || value.length === 0 || Buffer.byteLength(value) > MAX_ALPN_PROTOCOL_BYTES) {
        this.#report(item, `alpn of terminate of ${what}: each protocol must be a name of 1 to ${MAX_ALPN_PROTOCOL_BYTES} bytes, as in h2`);
        isBroken = true;
      } else if (protocols.includes(value)) {
        this.#report(item, `alpn of terminate of ${what} lists '${value}' twice`);
        isBroken = true;
      } else protocols.push(value);
    }
    return isBroken ? null : protocols;
  }

  /** `backend_tls: { ca, servername, verify }` (every key optional; `{}` re-encrypts with the public roots). */
  #readBackendTls(node: Node, what: string): BackendTlsSettings | null {
    if (!isMap(node)) {
      this.#report(node, `backend_tls of ${what} must be a mapping, as in { ca: certs/backend-ca.pem, servername: app.internal }`);
      return null;
    }
    const fields = this.#readFields(
      node,
      BACKEND_TLS_KEYS,
      (key) => `unknown key ${quoteValue(key)} in backend_tls of ${what}${suggestionSuffix(key, BACKEND_TLS_KEYS)}`,
    );
    let isBroken = fields.hasUnknownKeys;
    let caFile: string | null = null;
    const caPair = fields.pairs.get('ca');
    if (caPair !== undefined) {
      caFile = this.#readFilePath(caPair, node, 'ca', 'backend CA', what, true);
      if (caFile === null) isBroken = true;
    }
    let servername: string | null = null;
    const servernamePair = fields.pairs.get('servername');
    if (servernamePair !== undefined) {
      const valueNode = this.#valueOf(servernamePair);
      const value = isScalar(valueNode) ? valueNode.value : undefined;
      const problem = typeof value === 'string' ? describeHostNameProblem(value) : 'it is not a host name';
      if (typeof value !== 'string' || problem !== null) {
        this.#report(valueNode ?? (servernamePair.key as Node), `servername of backend_tls of ${what} must be a host name: ${problem ?? ''}`);
        isBroken = true;
      } else servername = value;
    }
    let verify = true;
    const verifyPair = fields.pairs.get('verify');
    if (verifyPair !== undefined) {
      const valueNode = this.#valueOf(verifyPair);
      const value = isScalar(valueNode) ? valueNode.value : undefined;
      if (typeof value !== 'boolean') {
        this.#report(valueNode ?? (verifyPair.key as Node), `verify of backend_tls of ${what} must be true or false`);
        isBroken = true;
      } else verify = value;
    }
    return isBroken ? null : { caFile, servername, verify };
  }

  // ── helpers ─────────────────────────────────────────────────────────────────────────────────────────────────

  /**
   * The pairs of a mapping by key. Reports keys that are not plain words, duplicates (at the second one, naming
   * the line of the first), and — when `known` is given — unknown keys with `unknownMessage(key)`.
   */
  #readFields(map: YAMLMap, known: readonly string[] | null, unknownMessage: (key: string) => string): Fields {
    const fields: Fields = { pairs: new Map(), hasUnknownKeys: false, misspelled: new Set() };
    for (const pair of map.items) {
      const keyNode = this.#deref(pair.key as Node | null);
      if (!isScalar(keyNode) || keyNode.value === null || typeof keyNode.value === 'object') {
        this.#report(keyNode ?? map, 'a key must be a plain word or name, not a list or mapping');
        continue;
      }
      const key = String(keyNode.value);
      const first = fields.pairs.get(key);
      if (first !== undefined) {
        this.#report(keyNode, `duplicate key '${key}' (first given at line ${this.#position(first.key as Node).line})`);
        continue;
      }
      if (known !== null && !known.includes(key)) {
        this.#report(keyNode, unknownMessage(key));
        fields.hasUnknownKeys = true;
        const closest = closestWord(key, known);
        if (closest !== null) fields.misspelled.add(closest);
        continue;
      }
      fields.pairs.set(key, pair);
    }
    return fields;
  }

  /** One of `allowed`, written exactly (case too), or null after reporting it with a "did you mean". */
  #readEnum<T extends string>(node: Node | null, setting: string, allowed: readonly T[]): T | null {
    const value = isScalar(node) ? node.value : undefined;
    const match = allowed.find((word) => word === value);
    if (match !== undefined) return match;
    if (!isScalar(node)) {
      this.#report(node, `${setting} must be ${oneOf(allowed)}, not ${isSeq(node) ? 'a list' : 'a mapping'}`);
      return null;
    }
    const shown = String(node.source ?? node.value);
    const closest = closestWord(shown, allowed);
    const hint = closest !== null ? `; did you mean '${closest}'?` : '';
    this.#report(node, `${setting} must be ${oneOf(allowed)}, not ${quoteValue(shown)}${hint}`);
    return null;
  }

  /** The items of a list (a lone value counts as a list of one). `expected` describes the list for messages. */
  #listOf(node: Node | null, setting: string, expected: string): Node[] {
    if (node === null || isNull(node)) {
      this.#report(node, `${setting} is empty${expected.length > 0 ? `; give ${expected}` : ''}`);
      return [];
    }
    if (isSeq(node)) return node.items.map((item) => this.#deref(item as Node) ?? node);
    if (isScalar(node)) return [node];
    this.#report(node, `${setting} must be ${expected.length > 0 ? expected : 'a list'}`);
    return [];
  }

  /**
   * An address must be a string; an unquoted `[::1]:8443` reaches us as a list or mapping. `what` and `owner`
   * make "backend '8443' of route 'x'".
   */
  #addressText(node: Node, what: string, owner = ''): string | null {
    if (isScalar(node) && typeof node.value === 'string') return node.value;
    if (isScalar(node)) {
      this.#report(node, `${what} ${quoteValue(String(node.source ?? node.value))}${owner} must be host:port, as in '10.0.0.5:8443'`);
    } else {
      this.#report(node, `${what}${owner} must be a string such as '10.0.0.5:8443'; quote IPv6 addresses, as in "[::1]:8443"`);
    }
    return null;
  }

  #valueOf(pair: Pair<unknown, unknown> | undefined): Node | null {
    return pair === undefined ? null : this.#deref(pair.value as Node | null);
  }

  #deref(node: Node | null | undefined): Node | null {
    if (node === null || node === undefined) return null;
    if (isAlias(node)) return (node.resolve(this.#document) as Node | undefined) ?? null;
    return node;
  }

  #position(node: Node | Pair<unknown, unknown> | null): SourcePosition {
    const offset = node === null ? undefined : isPair(node) ? (node.key as Node | null)?.range?.[0] : node.range?.[0];
    if (offset === undefined) return { file: this.#source.file, line: 0, col: 0 };
    const { line, col } = this.#source.positionOf(offset);
    return { file: this.#source.file, line, col };
  }

  #report(node: Node | Pair<unknown, unknown> | null, message: string): void {
    this.problems.push({ ...this.#position(node), message });
  }
}

/**
 * A mapping in a list of addresses is a long form when it uses one of its keys; any other mapping is most likely
 * an unquoted IPv6 address (`[::1]:8443` reads as one) and keeps the "quote it" message.
 */
function isLongForm(node: Node, keys: readonly string[]): node is YAMLMap {
  return (
    isMap(node) &&
    node.items.some((pair) => isScalar(pair.key) && (keys.includes(String(pair.key.value)) || closestWord(String(pair.key.value), keys) !== null))
  );
}

function isNull(node: Node | null): boolean {
  return node === null || (isScalar(node) && node.value === null);
}
