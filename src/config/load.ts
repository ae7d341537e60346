/**
 * CliInput (the flags, maybe naming a YAML file) → a frozen Config, or every problem found.
 *
 *   read the file → parse YAML with positions (yaml-source.ts) → validate it (validate.ts) → apply the flags
 *   (flags.ts) → last checks (something to listen on, something to route) → deep-freeze
 *
 * The only I/O is reading the config file and checking that certificate and key files can be read, so the same
 * call serves start-up, `sni-router check` and SIGHUP reloads.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { type Draft, emptyDraft, FILE_DEFAULT_PROXY_PROTOCOL, FLAG_DEFAULT_PROXY_PROTOCOL, isProxyProtocolMode } from './draft.js';
import { describeFileError } from './files.js';
import { applyFlags } from './flags.js';
import { deepFreeze } from './freeze.js';
import { COMMAND_LINE, type ConfigProblem, sortProblems } from './problem.js';
import { findRegexBudgetProblem } from './route-names.js';
import type { Config } from './types.js';
import { validateDocument } from './validate.js';
import { parseYamlSource } from './yaml-source.js';

export { COMMAND_LINE, formatProblem } from './problem.js';
export type { ConfigProblem } from './problem.js';

/** What the command line contributes; every field optional. Flags override/add to the file. */
export interface CliInput {
  readonly configFile?: string;
  readonly listen?: readonly string[];
  readonly routes?: readonly string[]; // 'name=host:port,host:port'
  readonly defaultBackends?: string; // 'host:port,host:port'
  readonly proxyProtocol?: string; // v2|v1|none for flag-given pools (default: the file's, or none without one)
  readonly terminate?: readonly string[];
  /** `--terminate-http NAME`: as --terminate, and the router is that route's HTTP reverse proxy (terminate.http). */
  readonly terminateHttp?: readonly string[];
  readonly alpn?: string; // 'h2,http/1.1': what the --terminate routes offer
  readonly cert?: string;
  readonly key?: string;
  readonly logLevel?: string;
  readonly admin?: string;
  /** `--quic`: the --listen addresses take UDP (QUIC) too. */
  readonly quic?: boolean;
  /** `--http-redirect ADDR` / `--http-route ADDR` (repeatable): plain-HTTP listen entries added to the list. */
  readonly httpRedirect?: readonly string[];
  readonly httpRoute?: readonly string[];
  /** `--https-port N`: where the --http-redirect listeners send clients (default 443). */
  readonly httpsPort?: string;
}

export type ConfigResult =
  | { readonly ok: true; readonly config: Config }
  | { readonly ok: false; readonly problems: readonly ConfigProblem[] };

export interface LoadOptions {
  /** Against which relative --config, --cert and --key paths resolve; default process.cwd(). */
  readonly cwd?: string;
}

export function loadConfig(input: CliInput, options: LoadOptions = {}): ConfigResult {
  const cwd = options.cwd ?? process.cwd();
  const problems: ConfigProblem[] = [];
  let draft: Draft;
  /** False when the file could not be read or parsed: then it may well have had listen and routes. */
  let isFileUnderstood = true;

  if (input.configFile !== undefined) {
    const path = resolve(cwd, input.configFile);
    draft = emptyDraft(FILE_DEFAULT_PROXY_PROTOCOL, path);
    const text = readText(path);
    if (typeof text !== 'string') {
      problems.push({ file: input.configFile, line: 0, col: 0, message: `cannot read the config file: ${text.reason}` });
      isFileUnderstood = false;
    } else {
      const source = parseYamlSource(text, input.configFile);
      if (source.syntaxProblems.length > 0) {
        for (const problem of source.syntaxProblems) problems.push(problem);
        isFileUnderstood = false;
      } else {
        const validated = validateDocument(source, path, dirname(path));
        draft = validated.draft;
        for (const problem of validated.problems) problems.push(problem); // no spread: a million problems overflow the stack
      }
    }
  } else {
    const mode = isProxyProtocolMode(input.proxyProtocol) ? input.proxyProtocol : FLAG_DEFAULT_PROXY_PROTOCOL;
    draft = emptyDraft(mode, null);
  }

  for (const problem of applyFlags(draft, input, cwd)) problems.push(problem);

  const regexBudget = findRegexBudgetProblem(draft.routes);
  if (regexBudget !== null) {
    const { source } = regexBudget;
    problems.push({ file: source?.file ?? COMMAND_LINE, line: source?.line ?? 0, col: source?.col ?? 0, message: regexBudget.message });
  }

  if (isFileUnderstood && !draft.isTopLevelUnclear) {
    const where = input.configFile ?? COMMAND_LINE;
    const isQuickMode = input.configFile === undefined;
    if (draft.listen.length === 0 && !draft.isListenGiven) {
      const hint = isQuickMode ? 'give --listen ADDR, or a config file with -c' : "add 'listen' to the file or give --listen";
      problems.push({ file: where, line: 0, col: 0, message: `nothing to listen on: ${hint}` });
    }
    // `routes: {}` with no default counts too, unless a broken route or default explains the emptiness.
    if (draft.routes.length === 0 && draft.defaultPool === null && (!draft.isRoutingGiven || problems.length === 0)) {
      const hint = isQuickMode
        ? 'give --route NAME=BACKENDS or --default BACKENDS'
        : "add 'routes' or 'default' to the file, or give --route or --default";
      problems.push({ file: where, line: 0, col: 0, message: `nothing to route, so every connection would be closed: ${hint}` });
    }
  }

  if (problems.length > 0) return { ok: false, problems: sortProblems(problems) };
  return { ok: true, config: deepFreeze(toConfig(draft)) };
}

function readText(path: string): string | { reason: string } {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    return { reason: describeFileError(error) };
  }
}

function toConfig(draft: Draft): Config {
  return {
    listen: draft.listen,
    proxyProtocol: draft.proxyProtocol,
    timeouts: draft.timeouts,
    maxHelloBytes: draft.maxHelloBytes,
    routes: draft.routes,
    defaultPool: draft.defaultPool,
    logLevel: draft.logLevel,
    admin: draft.admin,
    sourceFile: draft.sourceFile,
    ...(draft.shutdownGraceMs !== undefined ? { shutdownGraceMs: draft.shutdownGraceMs } : {}),
    ...(draft.workers !== undefined ? { workers: draft.workers } : {}),
    ...(draft.dataPlane !== undefined ? { dataPlane: draft.dataPlane } : {}),
    ...(draft.limits ? { limits: draft.limits } : {}),
    ...(draft.quic ? { quic: draft.quic } : {}),
  };
}
