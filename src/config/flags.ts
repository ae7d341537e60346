/**
 * Flags over the file (SPEC "Command line": flags given beside a config override/add to it):
 *
 *   --listen        replaces the file's listen list (repeatable; all of them together form the new list)
 *   --route N=B,B   adds a route; one with the same name in the file is replaced in place (regex order kept)
 *   --default B,B   replaces the default pool
 *   --proxy-protocol  the PROXY mode of the pools given by flags (default none); file pools keep theirs
 *   --terminate N   with --cert/--key: TLS for route N (from the file or a flag) ends here
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
import type { CliInput } from './load.js';
import { COMMAND_LINE, type ConfigProblem } from './problem.js';
import { classifyRouteName, routeIdentity } from './route-names.js';
import { closestWord, oneOf } from './suggest.js';
import type { BackendAddress, PoolConfig, ProxyProtocolMode, RouteConfig, SourcePosition } from './types.js';

const FLAG_SOURCE: SourcePosition = { file: COMMAND_LINE, line: 0, col: 0 };

export function applyFlags(draft: Draft, input: CliInput, cwd: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const report = (message: string): void => {
    problems.push({ file: COMMAND_LINE, line: 0, col: 0, message });
  };

  const proxyProtocol = readProxyProtocol(input.proxyProtocol, report);

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
        draft.listen.push(result.value);
      }
    }
  }

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
    if (backends !== null) draft.defaultPool = { backends, proxyProtocol, balance: DEFAULT_BALANCE };
  }

  applyTerminate(draft, input, cwd, report);

  if (input.logLevel !== undefined) {
    if (LOG_LEVELS.includes(input.logLevel)) draft.logLevel = input.logLevel;
    else report(`--log-level must be ${oneOf(LOG_LEVELS)}, not '${input.logLevel}'${didYouMean(input.logLevel, LOG_LEVELS)}`);
  }

  if (input.admin !== undefined) {
    const result = parseAdminAddress(input.admin);
    if (result.ok) draft.admin = result.value;
    else report(`--admin '${input.admin}' ${result.reason}`);
  }
  return problems;
}

function readProxyProtocol(value: string | undefined, report: (message: string) => void): ProxyProtocolMode {
  if (value === undefined) return FLAG_DEFAULT_PROXY_PROTOCOL;
  if (isProxyProtocolMode(value)) return value;
  report(`--proxy-protocol must be ${oneOf(PROXY_PROTOCOL_MODES)}, not '${value}'${didYouMean(value, PROXY_PROTOCOL_MODES)}`);
  return FLAG_DEFAULT_PROXY_PROTOCOL;
}

/** 'name=b1,b2'. Split at the last '=': backends never hold one, a regex name might (`(?=…)`). */
function readRouteFlag(text: string, proxyProtocol: ProxyProtocolMode, report: (message: string) => void): RouteConfig | null {
  const equals = text.lastIndexOf('=');
  if (equals <= 0) {
    report(`--route '${text}' must be NAME=BACKENDS, as in 'app.example.com=10.0.0.5:8443,10.0.0.6:8443'`);
    return null;
  }
  const name = text.slice(0, equals);
  const classified = classifyRouteName(name);
  const backends = readBackendList(text.slice(equals + 1), `--route '${name}'`, report);
  if (!classified.ok) {
    report(`--route '${name}' ${classified.reason}`);
    return null;
  }
  if (backends === null) return null;
  const pool: PoolConfig = { backends, proxyProtocol, balance: DEFAULT_BALANCE };
  return { name, kind: classified.kind, pattern: classified.pattern, pool, terminate: null, source: FLAG_SOURCE };
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
      backends.push(result.value);
    }
  }
  return isBroken ? null : backends;
}

function applyTerminate(draft: Draft, input: CliInput, cwd: string, report: (message: string) => void): void {
  const names = input.terminate ?? [];
  if (names.length === 0) {
    if (input.cert !== undefined || input.key !== undefined) report('--cert and --key are only used with --terminate NAME');
    return;
  }
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
    if (certFile !== null && keyFile !== null) draft.routes[index] = { ...route, terminate: { certFile, keyFile } };
  }
}

function didYouMean(word: string, known: readonly string[]): string {
  const closest = closestWord(word, known);
  return closest !== null ? `; did you mean '${closest}'?` : '';
}
