/**
 * Flags over the file (SPEC "Command line": flags given beside a config override/add to it):
 *
 *   --listen        replaces the file's listen list (repeatable; all of them together form the new list)
 *   --route N=B,B   adds a route; one with the same name in the file is replaced in place (regex order kept).
 *                   Options may follow the backends: 'N=B,B;proxy=v2' gives that route its own PROXY mode
 *   --default B,B   replaces the default pool
 *   --proxy-protocol  the PROXY mode of the pools given by flags; without it they take the file's
 *                   `proxy_protocol` (so a flag route beside a v2 file speaks v2), and none in quick mode
 *   --terminate N   with --cert/--key: TLS for route N (from the file or a flag) ends here
 *   --terminate-http N  the same, and the router is route N's HTTP reverse proxy (terminate.http: true)
 *   --alpn P,P      the ALPN protocols those --terminate routes offer (default as in the file's terminate:
 *                   http/1.1, or h2,http/1.1 for --terminate-http)
 *   --log-level, --admin  replace the file's
 *
 * Relative --cert/--key paths resolve against the working directory. Problems are reported at '<command line>'
 * and name the flag.
 */
import { resolve } from 'node:path';
import { parseAdminAddress, parseBackendAddress, parseListenAddress } from './addresses.js';
import {
  DEFAULT_BALANCE,
  type Draft,
  FLAG_DEFAULT_PROXY_PROTOCOL,
  isProxyProtocolMode,
  LOG_LEVELS,
  PROXY_PROTOCOL_MODES,
} from './draft.js';
import { describeUnreadableFile } from './files.js';
import type { CliInput } from './cli-input.js';
import { isAlpnProtocolName } from './alpn-name.js';
import { COMMAND_LINE, type ConfigProblem } from './problem.js';
import { classifyRouteName, routeIdentity } from './route-grammar.js';
import { closestWord, oneOf } from './suggest.js';
import {
  type BackendAddress,
  DEFAULT_BACKEND_PROTOCOL,
  DEFAULT_HTTP_TERMINATE,
  DEFAULT_LISTEN_SETTINGS,
  DEFAULT_TERMINATE,
  defaultTerminateAlpn,
  DEFAULT_WEIGHT,
  type PlainHttpMode,
  type PoolConfig,
  type ProxyProtocolMode,
  type RouteConfig,
  type SourcePosition,
} from './types.js';

const FLAG_SOURCE: SourcePosition = { file: COMMAND_LINE, line: 0, col: 0 };

export function applyFlags(draft: Draft, input: CliInput, cwd: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const report = (message: string): void => {
    problems.push({ file: COMMAND_LINE, line: 0, col: 0, message });
  };

  // Beside a file, the file's mode (its `proxy_protocol`, or v2 when it has none); in quick mode the draft
  // already holds --proxy-protocol or none.
  const proxyProtocol = readProxyProtocol(input.proxyProtocol, draft.proxyProtocol, report);

  if (input.listen !== undefined && input.listen.length > 0) {
    draft.isListenGiven = true;
    draft.listen = [];
    const seen = new Set<string>();
    for (const text of input.listen) {
      const result = parseListenAddress(text);
      if (!result.ok) report(`--listen '${text}' ${result.reason}`);
      else if (seen.has(result.value.label)) report(`--listen '${result.value.label}' is given twice`);
      else {
        seen.add(result.value.label);
        draft.listen.push({ ...result.value, ...DEFAULT_LISTEN_SETTINGS, quic: input.quic === true });
      }
    }
  } else if (input.quic === true) {
    report("--quic binds UDP beside the --listen addresses; give --listen, or set quic: true on a listen entry in the file");
  }

  applyPlainHttpListeners(draft, input, report);

  const flagRoutes = new Set<string>();
  for (const text of input.routes ?? []) {
    draft.isRoutingGiven = true;
    const route = readRouteFlag(text, proxyProtocol, report);
    if (route === null) continue;
    const identity = routeIdentity(route.kind, route.pattern);
    if (flagRoutes.has(identity)) {
      report(`--route '${route.name}' is given twice`);
      continue;
    }
    flagRoutes.add(identity);
    const index = draft.routes.findIndex((r) => routeIdentity(r.kind, r.pattern) === identity);
    if (index === -1) draft.routes.push(route);
    else draft.routes[index] = route; // the flag wins, in the file route's place
  }

  if (input.defaultBackends !== undefined) {
    draft.isRoutingGiven = true;
    const backends = readBackendList(input.defaultBackends, '--default', report);
    if (backends !== null) draft.defaultPool = { backends, proxyProtocol, balance: DEFAULT_BALANCE, health: null, protocol: DEFAULT_BACKEND_PROTOCOL };
  }

  applyTerminate(draft, input, cwd, report);

  if (input.logLevel !== undefined) {
    if (LOG_LEVELS.includes(input.logLevel)) draft.logLevel = input.logLevel;
    else report(`--log-level must be ${oneOf(LOG_LEVELS)}, not '${input.logLevel}'${didYouMean(input.logLevel, LOG_LEVELS)}`);
  }

  if (input.admin !== undefined) {
    const result = parseAdminAddress(input.admin);
    if (result.ok) draft.admin = { ...result.value, allowNonLoopback: false };
    else report(`--admin '${input.admin}' ${result.reason}`);
  }
  return problems;
}

/** --http-redirect / --http-route: plain-HTTP listen entries, added after --listen's (or the file's) list. */
function applyPlainHttpListeners(draft: Draft, input: CliInput, report: (message: string) => void): void {
  let httpsPort: number | null = null;
  if (input.httpsPort !== undefined) {
    const port = /^[0-9]{1,5}$/.test(input.httpsPort) ? Number(input.httpsPort) : NaN;
    if (port >= 1 && port <= 65_535) httpsPort = port;
    else report(`--https-port must be a port number (1–65535), not '${input.httpsPort}'`);
    if ((input.httpRedirect ?? []).length === 0) report('--https-port only applies to --http-redirect listeners; give --http-redirect ADDR');
  }
  const entries: [string, readonly string[], PlainHttpMode][] = [
    ['--http-redirect', input.httpRedirect ?? [], 'redirect'],
    ['--http-route', input.httpRoute ?? [], 'route'],
  ];
  for (const [flag, texts, http] of entries) {
    for (const text of texts) {
      const result = parseListenAddress(text);
      if (!result.ok) report(`${flag} '${text}' ${result.reason}`);
      else if (draft.listen.some((entry) => entry.label === result.value.label)) report(`${flag} '${result.value.label}' is already a listen address`);
      else draft.listen.push({ ...result.value, ...DEFAULT_LISTEN_SETTINGS, http, httpsPort: http === 'redirect' ? httpsPort : null });
    }
  }
}

function readProxyProtocol(value: string | undefined, fallback: ProxyProtocolMode, report: (message: string) => void): ProxyProtocolMode {
  if (value === undefined) return fallback;
  if (isProxyProtocolMode(value)) return value;
  report(`--proxy-protocol must be ${oneOf(PROXY_PROTOCOL_MODES)}, not '${value}'${didYouMean(value, PROXY_PROTOCOL_MODES)}`);
  return FLAG_DEFAULT_PROXY_PROTOCOL;
}

/** The options a --route may carry after its backends, as `;key=value`. */
const ROUTE_FLAG_OPTIONS: readonly string[] = ['proxy'];
/** One trailing `;key=value`: backends hold neither ';' nor '=', so options are peeled off the end. */
const TRAILING_OPTION = /;([^;=]*)=([^;=]*)$/;

/**
 * 'name=b1,b2' or 'name=b1,b2;proxy=v2'. Options come off the end first; then split at the last '=':
 * backends never hold one, a regex name might (`(?=…)`).
 */
function readRouteFlag(text: string, proxyProtocol: ProxyProtocolMode, report: (message: string) => void): RouteConfig | null {
  let rest = text;
  const options = new Map<string, string>();
  for (let match = TRAILING_OPTION.exec(rest); match !== null; match = TRAILING_OPTION.exec(rest)) {
    const key = match[1]!.trim();
    if (!options.has(key)) options.set(key, match[2]!.trim());
    else report(`--route '${text}' gives ';${key}=' twice`);
    rest = rest.slice(0, match.index);
  }
  const equals = rest.lastIndexOf('=');
  if (equals <= 0) {
    report(`--route '${text}' must be NAME=BACKENDS, as in 'app.example.com=10.0.0.5:8443,10.0.0.6:8443'`);
    return null;
  }
  const name = rest.slice(0, equals);
  const classified = classifyRouteName(name);
  const backends = readBackendList(rest.slice(equals + 1), `--route '${name}'`, report);
  let mode = proxyProtocol;
  let isBroken = false;
  for (const [key, value] of options) {
    if (key === 'proxy' && isProxyProtocolMode(value)) mode = value;
    else if (key === 'proxy') {
      report(`--route '${name}': proxy must be ${oneOf(PROXY_PROTOCOL_MODES)}, not '${value}'${didYouMean(value, PROXY_PROTOCOL_MODES)}`);
      isBroken = true;
    } else {
      report(`--route '${name}': unknown option '${key}' (known: ${ROUTE_FLAG_OPTIONS.join(', ')})${didYouMean(key, ROUTE_FLAG_OPTIONS)}`);
      isBroken = true;
    }
  }
  if (!classified.ok) {
    report(`--route '${name}' ${classified.reason}`);
    return null;
  }
  if (backends === null || isBroken) return null;
  const pool: PoolConfig = { backends, proxyProtocol: mode, balance: DEFAULT_BALANCE, health: null, protocol: DEFAULT_BACKEND_PROTOCOL };
  return { name, kind: classified.kind, pattern: classified.pattern, pool, terminate: null, source: FLAG_SOURCE, alpn: [], fallback: null, quicBackends: null };
}

/** 'b1,b2' → backends; `what` names the flag in messages. */
function readBackendList(text: string, what: string, report: (message: string) => void): BackendAddress[] | null {
  const pieces = text.split(',').map((piece) => piece.trim());
  if (pieces.every((piece) => piece.length === 0)) {
    report(`${what} has no backends`);
    return null;
  }
  const backends: BackendAddress[] = [];
  let isBroken = false;
  for (const piece of pieces) {
    const result = parseBackendAddress(piece);
    if (!result.ok) {
      report(`${what}: backend '${piece}' ${result.reason}`);
      isBroken = true;
    } else if (backends.some((b) => b.label === result.value.label)) {
      report(`${what} lists backend '${result.value.label}' twice`);
      isBroken = true;
    } else {
      backends.push({ ...result.value, weight: DEFAULT_WEIGHT });
    }
  }
  return isBroken ? null : backends;
}

function applyTerminate(draft: Draft, input: CliInput, cwd: string, report: (message: string) => void): void {
  const httpNames = input.terminateHttp ?? [];
  const names = [...(input.terminate ?? []), ...httpNames];
  if (names.length === 0) {
    if (input.cert !== undefined || input.key !== undefined) report('--cert and --key are only used with --terminate NAME');
    if (input.alpn !== undefined) report('--alpn is only used with --terminate NAME (it is the ALPN those routes offer)');
    return;
  }
  const alpn = input.alpn === undefined ? undefined : readAlpnList(input.alpn, report);
  const file = (flag: '--cert' | '--key', value: string | undefined): string | null => {
    if (value === undefined) {
      report(`--terminate needs ${flag} as well`);
      return null;
    }
    const path = resolve(cwd, value);
    const problem = describeUnreadableFile(path);
    if (problem === null) return path;
    report(`${flag} '${value}' cannot be read: ${problem}`);
    return null;
  };
  const certFile = file('--cert', input.cert);
  const keyFile = file('--key', input.key);
  for (const name of names) {
    const classified = classifyRouteName(name);
    const identity = classified.ok ? routeIdentity(classified.kind, classified.pattern) : null;
    const index = draft.routes.findIndex((r) => routeIdentity(r.kind, r.pattern) === identity);
    const route = draft.routes[index];
    if (route === undefined) {
      const closest = closestWord(name, draft.routes.map((r) => r.name));
      report(`--terminate '${name}' names no route${closest !== null ? `; did you mean '${closest}'?` : ''}`);
      continue;
    }
    if (certFile !== null && keyFile !== null && alpn !== null) {
      const http = httpNames.includes(name) ? DEFAULT_HTTP_TERMINATE : null;
      draft.routes[index] = { ...route, terminate: { ...DEFAULT_TERMINATE, certFile, keyFile, alpn: alpn ?? defaultTerminateAlpn(http), http } };
    }
  }
}

/** '--alpn h2,http/1.1': the protocols offered, in order of preference (as `terminate.alpn` in the file). */
function readAlpnList(text: string, report: (message: string) => void): string[] | null {
  const protocols = text.split(',').map((piece) => piece.trim());
  const bad = protocols.filter((protocol) => !isAlpnProtocolName(protocol));
  if (bad.length > 0) {
    report(`--alpn '${text}': each protocol must be 1–255 printable ASCII bytes, as in 'h2,http/1.1'`);
    return null;
  }
  const twice = protocols.find((protocol, index) => protocols.indexOf(protocol) !== index);
  if (twice !== undefined) {
    report(`--alpn '${text}' lists '${twice}' twice`);
    return null;
  }
  return protocols;
}

function didYouMean(word: string, known: readonly string[]): string {
  const closest = closestWord(word, known);
  return closest !== null ? `; did you mean '${closest}'?` : '';
}
