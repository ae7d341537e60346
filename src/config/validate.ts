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
import { describeUnreadableFile } from './files.js';
import type { ConfigProblem } from './problem.js';
import { classifyRouteName, routeIdentity } from './route-names.js';
import { closestWord, oneOf, suggestionSuffix } from './suggest.js';
import {
  type BackendAddress,
  type BalanceAlgorithm,
  DEFAULT_TIMEOUTS,
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

const TOP_LEVEL_KEYS = ['listen', 'proxy_protocol', 'timeouts', 'max_hello_bytes', 'routes', 'default', 'log_level', 'admin'];
const TIMEOUT_KEYS: readonly (keyof typeof TIMEOUT_FIELDS)[] = ['client_hello', 'connect', 'idle'];
const TIMEOUT_FIELDS = { client_hello: 'clientHelloMs', connect: 'connectMs', idle: 'idleMs' } as const satisfies Record<
  string,
  keyof Timeouts
>;
const ROUTE_KEYS = ['backends', 'proxy_protocol', 'balance', 'terminate'];
const DEFAULT_POOL_KEYS = ['backends', 'proxy_protocol', 'balance'];
const TERMINATE_KEYS = ['cert', 'key'];

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
        ? `unknown top-level key '${key}'; routes go under 'routes:'`
        : `unknown top-level key '${key}'${suggestionSuffix(key, TOP_LEVEL_KEYS)}`,
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
      const text = this.#addressText(item, 'listen address');
      if (text === null) continue;
      const result = parseListenAddress(text);
      if (!result.ok) {
        this.#report(item, `listen address '${text}' ${result.reason}`);
        continue;
      }
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
      (key) => `unknown key '${key}' in timeouts${suggestionSuffix(key, TIMEOUT_KEYS)}`,
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
    const shown = isScalar(node) ? `'${String(node.source ?? node.value)}'` : isSeq(node) ? 'a list' : 'a mapping';
    if (typeof value === 'number' && Number.isInteger(value) && value > MAX_MAX_HELLO_BYTES) {
      const limit = `${MAX_MAX_HELLO_BYTES} (1 MiB)`;
      this.#report(node, `max_hello_bytes ${value} is over the limit of ${limit}; a real ClientHello is a few KiB`);
    } else {
      const range = `${MIN_MAX_HELLO_BYTES} to ${MAX_MAX_HELLO_BYTES}`;
      this.#report(node, `max_hello_bytes must be a whole number of bytes from ${range}, not ${shown}`);
    }
    return null;
  }

  #readAdmin(node: Node | null): Draft['admin'] {
    if (node === null || isNull(node)) return null;
    const text = this.#addressText(node, 'admin');
    if (text === null) return null;
    const result = parseAdminAddress(text);
    if (result.ok) return result.value;
    this.#report(node, `admin address '${text}' ${result.reason}`);
    return null;
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
        this.#report(keyNode, `route '${name}' ${classified.reason}`);
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
      const read = this.#readPool(this.#valueOf(pair) ?? keyNode, `route '${name}'`, ROUTE_KEYS, proxyProtocol);
      if (read === null) continue;
      routes.push({ name, kind: classified.kind, pattern: classified.pattern, pool: read.pool, terminate: read.terminate, source });
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
  ): { pool: PoolConfig; terminate: TerminateSettings | null } | null {
    if (node === null || isNull(node)) {
      this.#report(node, `${what} has no backends`);
      return null;
    }
    if (isSeq(node) || isScalar(node)) {
      const backends = this.#readBackends(node, what);
      return backends === null ? null : { pool: { backends, proxyProtocol, balance: DEFAULT_BALANCE }, terminate: null };
    }
    if (!isMap(node)) {
      this.#report(node, `${what} must be a list of backends or a mapping with 'backends'`);
      return null;
    }
    const fields = this.#readFields(node, knownKeys, (key) =>
      key === 'terminate'
        ? `${what} cannot terminate TLS; only a named route can (its name picks the certificate)`
        : `unknown key '${key}' in ${what}${suggestionSuffix(key, knownKeys)}`,
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
    if (backends === null || isTerminateBroken) return null;
    return { pool: { backends, proxyProtocol: mode, balance }, terminate };
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
      const text = this.#addressText(item, 'backend', ` of ${what}`);
      const result = text === null ? null : parseBackendAddress(text);
      if (result === null || !result.ok) {
        if (result !== null) this.#report(item, `backend '${text ?? ''}' of ${what} ${result.reason}`);
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

  #readTerminate(node: Node, what: string): TerminateSettings | null {
    if (!isMap(node)) {
      this.#report(node, `terminate of ${what} must be a mapping, as in { cert: certs/site.pem, key: certs/site.key }`);
      return null;
    }
    const fields = this.#readFields(
      node,
      TERMINATE_KEYS,
      (key) => `unknown key '${key}' in terminate of ${what}${suggestionSuffix(key, TERMINATE_KEYS)}`,
    );
    const file = (key: 'cert' | 'key', noun: string): string | null => {
      const pair = fields.pairs.get(key);
      if (pair === undefined) {
        if (!fields.misspelled.has(key)) this.#report(node, `terminate of ${what} needs '${key}', the ${noun} file (PEM)`);
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
    };
    const certFile = file('cert', 'certificate');
    const keyFile = file('key', 'private key');
    return certFile === null || keyFile === null ? null : { certFile, keyFile };
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
    this.#report(node, `${setting} must be ${oneOf(allowed)}, not '${shown}'${hint}`);
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
      this.#report(node, `${what} '${String(node.source ?? node.value)}'${owner} must be host:port, as in '10.0.0.5:8443'`);
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

function isNull(node: Node | null): boolean {
  return node === null || (isScalar(node) && node.value === null);
}
