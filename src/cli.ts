#!/usr/bin/env node
/**
 * The command line (SPEC "Command line"): flags → CliInput → run, `check` or `explain`. No routing logic here.
 *
 *   sni-router [options]                 run the router until SIGINT/SIGTERM (src/supervisor.ts, or with
 *                                        --workers N the cluster in src/workers.ts); SIGHUP, a change of the
 *                                        config file and POST /reload on the admin listener reload it
 *   sni-router [options] --print-config  print the YAML file equivalent to the flags, and exit
 *   sni-router check -c FILE             print the resolved routing table and exit 0, or every problem and exit 1
 *   sni-router explain -c FILE NAME      which route NAME takes, and why (src/explain.ts); --no-sni for a hello
 *                                        without a server name
 *   sni-router --version                 the package version
 *
 * Exit codes: 0 clean shutdown (or a valid `check`), 1 bad config or arguments (commander uses 1 for its own
 * argument errors too), 2 a listener could not be opened, 70 an internal error (an uncaught exception: a bug,
 * logged as one line; the systemd unit restarts on it). A second SIGINT/SIGTERM during shutdown exits at once
 * with 128 + the signal's number, as a shell reports a process killed by it.
 */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { describeConfig } from './config/describe.js';
import { type CliInput, type ConfigProblem, formatProblem } from './config/load.js';
import { loadWithFlags, type LoadSpec } from './config/load-with-flags.js';
import { configToYaml } from './config/to-yaml.js';
import { explainRoute, formatExplanation } from './routing/explain.js';
import { createLogger, defaultLogFormat, LOG_FORMATS, type LogFormat } from './ops/log.js';
import { EXIT_BAD_CONFIG, EXIT_OK, exitOnUncaughtErrors } from './control/exit.js';
import { runSingle } from './control/supervisor.js';
import { isWorkerProcess, runPrimary, runWorker } from './control/workers.js';
import { certificateWarnings } from './config/certificate-warnings.js';

/** What commander hands us; the repeatable flags default to []. */
interface CliOptions {
  config?: string;
  listen: string[];
  route: string[];
  default?: string;
  proxyProtocol?: string;
  terminate: string[];
  terminateHttp: string[];
  /** `--alpn LIST`: what the --terminate routes offer (explain's own --alpn is the client's list). */
  alpn?: string;
  cert?: string;
  key?: string;
  logLevel?: string;
  /** `--log-format`: commander checks it is one of LOG_FORMATS. */
  logFormat?: LogFormat;
  admin?: string;
  workers?: string;
  dataPlane?: string;
  /** commander's `--no-watch`: false when given. */
  watch?: boolean;
  printConfig?: boolean;
  /** `--quic`: UDP beside every --listen address. */
  quic?: boolean;
  httpRedirect: string[];
  httpRoute: string[];
  httpsPort?: string;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** explain's options: its --alpn is the list a client offers, not what terminated routes offer. */
type ExplainOptions = Omit<CliOptions, 'alpn'> & { alpn: string[]; sni: boolean };

/** `withTerminateAlpn` false for explain, whose --alpn means the client's offer. */
function addRouterOptions(command: Command, withTerminateAlpn = true): Command {
  command
    .option('-c, --config <file>', "YAML config; flags given beside it override/add to it")
    .option('-l, --listen <addr>', 'repeatable; 127.0.0.1:8443, :8443 (all IPv4+IPv6), [::1]:8443', collect, [])
    .option('--quic', 'also bind UDP on every --listen address and route QUIC (HTTP/3) by SNI')
    .option(
      '-r, --route <name=backends>',
      "repeatable; 'app.example.com=10.0.0.5:8443,10.0.0.6:8443'; name: exact, '*.example.com' or '~regex'",
      collect,
      [],
    )
    .option('-d, --default <backends>', 'pool for unmatched or missing SNI; absent: such connections are closed')
    .option('-p, --proxy-protocol <v2|v1|none>', 'PROXY header sent to every backend given by flags (default: none)')
    .option('--terminate <name>', "repeatable; TLS for this route's name ends here (needs --cert and --key)", collect, [])
    .option('--terminate-http <name>', 'repeatable; as --terminate, and the router is the HTTP reverse proxy of that route', collect, []);
  if (withTerminateAlpn) {
    command.option('--alpn <list>', "ALPN protocols the --terminate routes offer, in order: 'http/1.1' (the default), 'h2' for an h2c backend");
  }
  return command
    .option('--http-redirect <addr>', 'repeatable; a plain-HTTP listener answering 308 to https:// (ACME HTTP-01 paths routed by Host)', collect, [])
    .option('--http-route <addr>', 'repeatable; a plain-HTTP listener routing requests by Host with the routes', collect, [])
    .option('--https-port <port>', 'the port --http-redirect sends clients to (default 443)')
    .option('--cert <file>', 'certificate for terminated names (PEM)')
    .option('--key <file>', 'private key for terminated names (PEM)')
    .option('--log-level <level>', 'pino level: fatal, error, warn, info, debug, trace, silent (default: info)')
    .option('--admin <addr>', 'admin HTTP listener (metrics, health, reload); default off; loopback only')
    .option('--workers <n>', "processes sharing the listeners: a number, or 'auto' for one per core (default 1)")
    .option('--data-plane <plane>', "auto (the native C plane where it loaded, else node), native or node (default: auto)")
    .option('--no-watch', 'do not reload when the config file changes on disk (SIGHUP and POST /reload still do)')
    .option('--print-config', 'print the YAML config equivalent to the other flags, and exit');
}

function toCliInput(options: CliOptions): CliInput {
  return {
    configFile: options.config,
    listen: options.listen.length > 0 ? options.listen : undefined,
    routes: options.route.length > 0 ? options.route : undefined,
    defaultBackends: options.default,
    proxyProtocol: options.proxyProtocol,
    terminate: options.terminate.length > 0 ? options.terminate : undefined,
    terminateHttp: options.terminateHttp.length > 0 ? options.terminateHttp : undefined,
    alpn: options.alpn,
    cert: options.cert,
    key: options.key,
    logLevel: options.logLevel,
    admin: options.admin,
    ...(options.quic === true ? { quic: true } : {}),
    httpRedirect: options.httpRedirect.length > 0 ? options.httpRedirect : undefined,
    httpRoute: options.httpRoute.length > 0 ? options.httpRoute : undefined,
    httpsPort: options.httpsPort,
  };
}

/** `sni-router -c a.yaml check -l :8443`: options before `check` belong to the program; merge them in. */
function mergeOptions(outer: CliOptions, inner: Omit<CliOptions, 'alpn'> & { alpn?: unknown }): CliOptions {
  return {
    alpn: typeof inner.alpn === 'string' ? inner.alpn : outer.alpn,
    config: inner.config ?? outer.config,
    listen: [...outer.listen, ...inner.listen],
    httpRedirect: [...outer.httpRedirect, ...inner.httpRedirect],
    httpRoute: [...outer.httpRoute, ...inner.httpRoute],
    httpsPort: inner.httpsPort ?? outer.httpsPort,
    route: [...outer.route, ...inner.route],
    default: inner.default ?? outer.default,
    proxyProtocol: inner.proxyProtocol ?? outer.proxyProtocol,
    terminate: [...outer.terminate, ...inner.terminate],
    terminateHttp: [...outer.terminateHttp, ...inner.terminateHttp],
    cert: inner.cert ?? outer.cert,
    key: inner.key ?? outer.key,
    logLevel: inner.logLevel ?? outer.logLevel,
    admin: inner.admin ?? outer.admin,
    workers: inner.workers ?? outer.workers,
    dataPlane: inner.dataPlane ?? outer.dataPlane,
    quic: (inner.quic ?? false) || (outer.quic ?? false),
  };
}

function printProblems(problems: readonly ConfigProblem[]): void {
  process.stderr.write(problems.map((problem) => `${formatProblem(problem)}\n`).join(''));
}

function check(input: CliInput, options: CliOptions): number {
  const result = loadWithFlags({ input, workers: options.workers, dataPlane: options.dataPlane });
  if (!result.ok) {
    printProblems(result.problems);
    return EXIT_BAD_CONFIG;
  }
  const what = result.config.sourceFile ?? 'the command line';
  process.stdout.write(`sni-router: ${what} is valid\n\n${describeConfig(result.config)}\n`);
  // Warnings do not fail check: the certificate serves today, but an operator should act.
  const warnings = certificateWarnings(result.config);
  process.stderr.write(warnings.map((warning) => `${formatProblem({ ...warning, message: `warning: ${warning.message}` })}\n`).join(''));
  return EXIT_OK;
}

function explain(input: CliInput, options: CliOptions, offered: { alpn: string[]; sni: boolean }, name: string | undefined): number {
  if (offered.sni && name === undefined) {
    process.stderr.write("sni-router explain: give the server name to explain, or --no-sni for a hello without one\n");
    return EXIT_BAD_CONFIG;
  }
  const result = loadWithFlags({ input, workers: options.workers, dataPlane: options.dataPlane });
  if (!result.ok) {
    printProblems(result.problems);
    return EXIT_BAD_CONFIG;
  }
  const explanation = explainRoute(result.config, offered.sni ? (name ?? null) : null, offered.alpn);
  process.stdout.write(`${formatExplanation(explanation)}\n`);
  return EXIT_OK;
}

/** Starts the router (one process, or a cluster primary); resolves once it runs. */
async function run(input: CliInput, options: CliOptions): Promise<void> {
  const spec: LoadSpec = { input, workers: options.workers, dataPlane: options.dataPlane };
  const loaded = loadWithFlags(spec); // start-up stays synchronous; reloads run in the loader thread
  if (!loaded.ok) {
    printProblems(loaded.problems);
    process.exitCode = EXIT_BAD_CONFIG;
    return;
  }
  const config = loaded.config;
  if (options.printConfig) {
    process.stdout.write(configToYaml(config));
    return;
  }
  const logFormat = options.logFormat ?? defaultLogFormat();
  const runOptions = { watch: options.watch ?? true, logFormat };
  const { workers } = config;
  const logger = createLogger({ level: config.logLevel, format: logFormat, shared: workers > 1 });
  if (workers > 1) {
    await runPrimary(spec, config, workers, logger, runOptions);
    return;
  }
  await runSingle(spec, config, logger, runOptions);
}

/** package.json sits one folder above dist/ (and src/), in a clone and in an installed package alike. */
function packageVersion(): string {
  const text = readFileSync(new URL('../package.json', import.meta.url), 'utf8');
  return (JSON.parse(text) as { version: string }).version;
}

function buildProgram(): Command {
  const program = new Command('sni-router')
    .description('Layer-4 SNI router: picks a backend by the TLS server name, without decrypting')
    .version(packageVersion(), '-V, --version', 'print the version and exit')
    .enablePositionalOptions()
    .showHelpAfterError('(run sni-router --help for usage)');
  addRouterOptions(program)
    .addOption(
      new Option('--log-format <format>', 'json: one JSON object per line; pretty: for people (default: pretty on a terminal, else json)').choices(LOG_FORMATS),
    )
    .action(async (options: CliOptions) => {
      await run(toCliInput(options), options);
    });
  addRouterOptions(
    program
      .command('check')
      .description('validate the config, print the resolved routing table and exit 0; else list every problem and exit 1'),
  ).action((options: CliOptions) => {
    const merged = mergeOptions(program.opts<CliOptions>(), options);
    process.exitCode = check(toCliInput(merged), merged);
  });
  addRouterOptions(
    program
      .command('explain')
      .description('print which route a server name takes and why (exact, which wildcard, which regex, default, closed)')
      .argument('[name]', 'the server name (SNI) a client would send; leave it out with --no-sni')
      .option('--alpn <protocol>', 'repeatable; an ALPN protocol the client offers', collect, [])
      .option('--no-sni', 'explain a ClientHello without a server name'),
    false,
  ).action((name: string | undefined, options: ExplainOptions) => {
    const merged = mergeOptions(program.opts<CliOptions>(), { ...options, alpn: undefined });
    process.exitCode = explain(toCliInput(merged), merged, { alpn: options.alpn, sni: options.sni }, name);
  });
  return program;
}

exitOnUncaughtErrors();
if (isWorkerProcess()) runWorker();
else await buildProgram().parseAsync(process.argv);
