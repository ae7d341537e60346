#!/usr/bin/env node
/**
 * The command line (SPEC "Command line"): flags → CliInput → `check` or run. No routing logic lives here.
 *
 *   sni-router [options]           run the router until SIGINT/SIGTERM; SIGHUP reloads from the same inputs
 *   sni-router check -c FILE       print the resolved routing table and exit 0, or every problem and exit 1
 *
 * Exit codes: 0 clean shutdown (or a valid `check`), 1 bad config or arguments (commander uses 1 for its own
 * argument errors too), 2 a listener could not be opened. A second SIGINT/SIGTERM during shutdown exits at once
 * with 128 + the signal's number, as a shell reports a process killed by it.
 */
import { constants } from 'node:os';
import { Command } from 'commander';
import pino from 'pino';
import { describeConfig } from './config/describe.js';
import { type CliInput, type ConfigProblem, formatProblem, loadConfig } from './config/load.js';
import { ListenError, SniRouterError } from './errors.js';
import { createLogger, type Logger } from './log.js';
import { type RunningRouter, startRouter } from './router.js';

const EXIT_OK = 0;
const EXIT_BAD_CONFIG = 1;
const EXIT_LISTEN_FAILED = 2;
/** If the log cannot be flushed (stdout gone), exit anyway after this long. */
const FLUSH_TIMEOUT_MS = 2_000;
/**
 * The logger buffers up to 4 KiB before writing (src/log.ts), so on a quiet router an access line could wait
 * indefinitely for others to push it out. Flushing this often bounds that wait and costs nothing when busy.
 */
const LOG_FLUSH_INTERVAL_MS = 1_000;

/** What commander hands us; the repeatable flags default to []. */
interface CliOptions {
  config?: string;
  listen: string[];
  route: string[];
  default?: string;
  proxyProtocol?: string;
  terminate: string[];
  cert?: string;
  key?: string;
  logLevel?: string;
  admin?: string;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

function addRouterOptions(command: Command): Command {
  return command
    .option('-c, --config <file>', "YAML config; flags given beside it override/add to it")
    .option('-l, --listen <addr>', 'repeatable; 127.0.0.1:8443, :8443 (all IPv4+IPv6), [::1]:8443', collect, [])
    .option(
      '-r, --route <name=backends>',
      "repeatable; 'app.example.com=10.0.0.5:8443,10.0.0.6:8443'; name: exact, '*.example.com' or '~regex'",
      collect,
      [],
    )
    .option('-d, --default <backends>', 'pool for unmatched or missing SNI; absent: such connections are closed')
    .option('-p, --proxy-protocol <v2|v1|none>', 'PROXY header sent to every backend given by flags (default: none)')
    .option('--terminate <name>', "repeatable; TLS for this route's name ends here (needs --cert and --key)", collect, [])
    .option('--cert <file>', 'certificate for terminated names (PEM)')
    .option('--key <file>', 'private key for terminated names (PEM)')
    .option('--log-level <level>', 'pino level: fatal, error, warn, info, debug, trace, silent (default: info)')
    .option('--admin <addr>', 'admin HTTP listener (metrics, health); default off, loopback only advised');
}

function toCliInput(options: CliOptions): CliInput {
  return {
    configFile: options.config,
    listen: options.listen.length > 0 ? options.listen : undefined,
    routes: options.route.length > 0 ? options.route : undefined,
    defaultBackends: options.default,
    proxyProtocol: options.proxyProtocol,
    terminate: options.terminate.length > 0 ? options.terminate : undefined,
    cert: options.cert,
    key: options.key,
    logLevel: options.logLevel,
    admin: options.admin,
  };
}

/** `sni-router -c a.yaml check -l :8443`: options before `check` belong to the program; merge them in. */
function mergeOptions(outer: CliOptions, inner: CliOptions): CliOptions {
  return {
    config: inner.config ?? outer.config,
    listen: [...outer.listen, ...inner.listen],
    route: [...outer.route, ...inner.route],
    default: inner.default ?? outer.default,
    proxyProtocol: inner.proxyProtocol ?? outer.proxyProtocol,
    terminate: [...outer.terminate, ...inner.terminate],
    cert: inner.cert ?? outer.cert,
    key: inner.key ?? outer.key,
    logLevel: inner.logLevel ?? outer.logLevel,
    admin: inner.admin ?? outer.admin,
  };
}

function printProblems(problems: readonly ConfigProblem[]): void {
  process.stderr.write(problems.map((problem) => `${formatProblem(problem)}\n`).join(''));
}

function check(input: CliInput): number {
  const result = loadConfig(input);
  if (!result.ok) {
    printProblems(result.problems);
    return EXIT_BAD_CONFIG;
  }
  const what = result.config.sourceFile ?? 'the command line';
  process.stdout.write(`sni-router: ${what} is valid\n\n${describeConfig(result.config)}\n`);
  return EXIT_OK;
}

/** Starts the router and supervises it; resolves once it runs (the process then lives on its listeners). */
async function run(input: CliInput): Promise<void> {
  const loaded = loadConfig(input);
  if (!loaded.ok) {
    printProblems(loaded.problems);
    process.exitCode = EXIT_BAD_CONFIG;
    return;
  }
  const logger = createLogger({ level: loaded.config.logLevel });
  let router: RunningRouter;
  try {
    router = await startRouter(loaded.config, { logger });
  } catch (error) {
    // ListenError: 'cannot listen on 127.0.0.1:8443: listen EADDRINUSE: …'. Others (a certificate that does not
    // load) are configuration problems too; anything else is a bug, so show its stack.
    const detail =
      error instanceof SniRouterError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`sni-router: ${detail}\n`);
    exitAfterFlush(logger, error instanceof ListenError ? EXIT_LISTEN_FAILED : EXIT_BAD_CONFIG);
    return;
  }
  // Signal handlers first: whoever reads the lines below may signal us at once.
  supervise(router, logger, input);
  setInterval(() => logger.flush(), LOG_FLUSH_INTERVAL_MS).unref();
  logListening(router, logger, new Set());
  logger.info({ config: loaded.config.sourceFile, routes: loaded.config.routes.length }, 'sni-router started');
  logger.flush(); // lifecycle lines go out at once, not with the next periodic flush
}

/** One 'listening' line per listener not in `known`, with the port it got (the one to use when :0 was asked for). */
function logListening(router: RunningRouter, logger: Logger, known: ReadonlySet<string>): void {
  for (const listener of router.listeners) {
    if (known.has(listener.label)) continue;
    logger.info({ listener: listener.label, address: listener.address, port: listener.port }, 'listening');
  }
}

/**
 * SIGINT/SIGTERM: close the router (no new connections; open ones end with reason shutdown), flush the log, exit
 * 0; a second one exits at once. SIGHUP: reload from the same inputs (the file is re-read; the flags stay); on
 * problems log them and keep the running config. Reloads never overlap: a SIGHUP during one queues one more.
 */
function supervise(router: RunningRouter, logger: Logger, input: CliInput): void {
  let isStopping = false;
  let isReloading = false;
  let isReloadQueued = false;

  const stop = (signal: NodeJS.Signals): void => {
    if (isStopping) {
      logger.warn({ signal }, 'second signal; exiting at once');
      flushSync(logger);
      process.exit(128 + (constants.signals[signal] ?? 0));
    }
    isStopping = true;
    logger.info({ signal }, 'shutting down');
    logger.flush();
    router.close().then(
      () => exitAfterFlush(logger, EXIT_OK),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        exitAfterFlush(logger, EXIT_BAD_CONFIG);
      },
    );
  };

  const reloadOnce = async (): Promise<void> => {
    const result = loadConfig(input);
    if (!result.ok) {
      logger.error({ problems: result.problems.map(formatProblem) }, 'reload rejected; keeping the running config');
      logger.flush();
      return;
    }
    try {
      const before = new Set(router.listeners.map((listener) => listener.label));
      await router.reload(result.config);
      logListening(router, logger, before);
      logger.level = result.config.logLevel;
      logger.info({ config: result.config.sourceFile }, 'config reloaded');
    } catch (error) {
      logger.error({ err: error }, 'reload failed; keeping the running config');
    }
    logger.flush();
  };

  const reload = (): void => {
    if (isStopping) return;
    if (isReloading) {
      isReloadQueued = true;
      return;
    }
    isReloading = true;
    void reloadOnce().finally(() => {
      isReloading = false;
      if (isReloadQueued) {
        isReloadQueued = false;
        reload();
      }
    });
  };

  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.on('SIGHUP', reload);
}

/** The logger writes asynchronously; let it drain before the process ends. */
function exitAfterFlush(logger: Logger, code: number): void {
  const timer = setTimeout(() => process.exit(code), FLUSH_TIMEOUT_MS);
  logger.flush(() => {
    clearTimeout(timer);
    process.exit(code);
  });
}

function flushSync(logger: Logger): void {
  const stream = (logger as unknown as Record<symbol, { flushSync?: () => void } | undefined>)[pino.symbols.streamSym];
  try {
    stream?.flushSync?.();
  } catch {
    // Exiting at once anyway; a log line lost here is the price of the second signal.
  }
}

function buildProgram(): Command {
  const program = new Command('sni-router')
    .description('Layer-4 SNI router: picks a backend by the TLS server name, without decrypting')
    .enablePositionalOptions()
    .showHelpAfterError('(run sni-router --help for usage)');
  addRouterOptions(program).action(async (options: CliOptions) => {
    await run(toCliInput(options));
  });
  addRouterOptions(
    program
      .command('check')
      .description('validate the config, print the resolved routing table and exit 0; else list every problem and exit 1'),
  ).action((options: CliOptions) => {
    process.exitCode = check(toCliInput(mergeOptions(program.opts<CliOptions>(), options)));
  });
  return program;
}

await buildProgram().parseAsync(process.argv);
