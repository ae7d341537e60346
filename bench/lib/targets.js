/**
 * The four targets: "direct" (the load generator talks to the echo backend: the ceiling loopback allows),
 * sni-router, HAProxy and nginx. Each proxy routes the hello's SNI to the echo backend with a PROXY header,
 * runs on the same CPUs (`proxyCpus`), and is started fresh for every measurement.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, closeSync, constants as fsConstants, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startChild, waitUntilListening } from './children.js';
import { BUILD_DIR, CLI_JS, REPO_DIR } from './paths.js';
import { freePort } from './ports.js';

/**
 * sni-router runs the CLI twice: `sni-router` on the native (C) plane, `sni-router-node` with --data-plane node.
 * `sni-router-native` is the bare plane with a fixed route (bench/native-server.js), no access log: not a default.
 * `haproxy-splice` is HAProxy with `option splice-auto`.
 */
export const TARGET_NAMES = /** @type {const} */ (['direct', 'sni-router', 'sni-router-node', 'sni-router-native', 'haproxy', 'haproxy-splice', 'nginx']);
export const DEFAULT_TARGETS = /** @type {const} */ (['direct', 'sni-router', 'sni-router-node', 'haproxy', 'haproxy-splice', 'nginx']);
/** @typedef {(typeof TARGET_NAMES)[number]} TargetName */

/** Where the Debian/Ubuntu packages put them; SNI_BENCH_HAPROXY / SNI_BENCH_NGINX point elsewhere. */
const HAPROXY_BIN = process.env.SNI_BENCH_HAPROXY || '/usr/sbin/haproxy';
const NGINX_BIN = process.env.SNI_BENCH_NGINX || '/usr/sbin/nginx';
const NGINX_STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';
const START_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 5_000;
/** Writing a .cpuprofile of a busy run takes a while. */
const STOP_GRACE_PROFILED_MS = 30_000;
/** File-descriptor headroom for the idle scenario: 9,000 connections need ~18,000 sockets in a proxy. */
const PEER_MAX_CONNECTIONS = 9_800;
const NGINX_WORKER_CONNECTIONS = 19_600;
const NGINX_RLIMIT_NOFILE = 19_900;
const PEERS_DIR = path.join(BUILD_DIR, 'peers');
const NATIVE_SERVER_JS = path.join(REPO_DIR, 'bench', 'native-server.js');
const NATIVE_ADDON = path.join(REPO_DIR, 'build', 'Release', 'sni_router_native.node');
const NATIVE_WRAPPER_JS = path.join(REPO_DIR, 'dist', 'data-path', 'native', 'native-plane.js');
const LOGS_DIR = path.join(BUILD_DIR, 'logs');

/**
 * @typedef {object} StartOptions
 * @property {number} backendPort
 * @property {string} sni              the server name of the hello; routed to the backend
 * @property {string | null} cpus      taskset CPU list for the proxy, or null (no pinning)
 * @property {string} logLevel         sni-router's --log-level
 * @property {readonly string[]} [nodeArgs]  sni-router only: extra node flags
 * @property {string | null} [profileDir]  sni-router only: run with --cpu-prof into this folder
 * @property {number | null} [workers]     sni-router only: --workers N
 *
 * @typedef {object} RunningTarget
 * @property {number} port
 * @property {number | null} pid       the process whose tree is measured (null for direct)
 * @property {() => Promise<Record<string, unknown>>} stop   returns notes (e.g. access-log reasons)
 *
 * @typedef {object} Availability
 * @property {boolean} isAvailable
 * @property {string | null} reason    why not, in a sentence
 * @property {string | null} version
 */

function isExecutable(file) {
  try {
    accessSync(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function findBinary(preferred) {
  if (isExecutable(preferred)) return preferred;
  if (preferred === process.env.SNI_BENCH_HAPROXY || preferred === process.env.SNI_BENCH_NGINX) return null; // as told
  const name = path.basename(preferred);
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir !== '' && isExecutable(path.join(dir, name))) return path.join(dir, name);
  }
  return null;
}

function commandOutput(command, args) {
  try {
    // nginx -v/-V print to stderr; capture both.
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) || '';
  } catch (error) {
    const failed = /** @type {{ stdout?: string, stderr?: string }} */ (error);
    return `${failed.stdout ?? ''}${failed.stderr ?? ''}`;
  }
}

function commandOutputBoth(command, args) {
  try {
    return execFileSync('sh', ['-c', `"$0" "$@" 2>&1`, command, ...args], { encoding: 'utf8' });
  } catch (error) {
    return String(/** @type {{ stdout?: string }} */ (error).stdout ?? '');
  }
}

/** @returns {Record<TargetName, Availability>} */
export function checkTargets() {
  const haproxy = findBinary(HAPROXY_BIN);
  const nginx = findBinary(NGINX_BIN);
  const nginxBuild = nginx === null ? '' : commandOutputBoth(nginx, ['-V']);
  const hasStaticStream = /--with-stream(?!\S)/.test(nginxBuild) && !/--with-stream=dynamic/.test(nginxBuild);
  const hasStream = hasStaticStream || existsSync(NGINX_STREAM_MODULE);
  const hasPreread = /--with-stream_ssl_preread_module/.test(nginxBuild);
  const cliBuilt = existsSync(CLI_JS);
  return {
    direct: { isAvailable: true, reason: null, version: null },
    'sni-router': {
      isAvailable: cliBuilt && existsSync(NATIVE_ADDON),
      reason: !cliBuilt
        ? `${path.relative(REPO_DIR, CLI_JS)} is missing: run npm run build`
        : existsSync(NATIVE_ADDON) ? null : `the native plane is not built (${path.relative(REPO_DIR, NATIVE_ADDON)}): npm install or npm run build:native`,
      version: cliBuilt ? readPackageVersion() : null,
    },
    'sni-router-node': {
      isAvailable: cliBuilt,
      reason: cliBuilt ? null : `${path.relative(REPO_DIR, CLI_JS)} is missing: run npm run build`,
      version: cliBuilt ? readPackageVersion() : null,
    },
    'sni-router-native': {
      isAvailable: existsSync(NATIVE_ADDON) && existsSync(NATIVE_WRAPPER_JS),
      reason: !existsSync(NATIVE_ADDON)
        ? `the native plane is not built (${path.relative(REPO_DIR, NATIVE_ADDON)}): npm install or npm run build:native`
        : !existsSync(NATIVE_WRAPPER_JS)
          ? `${path.relative(REPO_DIR, NATIVE_WRAPPER_JS)} is missing: run npm run build`
          : null,
      version: existsSync(NATIVE_ADDON) ? readPackageVersion() : null,
    },
    haproxy: {
      isAvailable: haproxy !== null,
      reason: haproxy === null ? `HAProxy is not installed (${HAPROXY_BIN}); make bench-deps installs it` : null,
      version: haproxy === null ? null : (commandOutput(haproxy, ['-v']).match(/version (\S+)/)?.[1] ?? 'unknown'),
    },
    'haproxy-splice': {
      isAvailable: haproxy !== null,
      reason: haproxy === null ? `HAProxy is not installed (${HAPROXY_BIN}); make bench-deps installs it` : null,
      version: haproxy === null ? null : (commandOutput(haproxy, ['-v']).match(/version (\S+)/)?.[1] ?? 'unknown'),
    },
    nginx: {
      isAvailable: nginx !== null && hasStream && hasPreread,
      reason:
        nginx === null
          ? `nginx is not installed (${NGINX_BIN}); make bench-deps installs it`
          : !hasStream
            ? `nginx has no stream module (${NGINX_STREAM_MODULE}); make bench-deps installs libnginx-mod-stream`
            : !hasPreread
              ? 'this nginx was built without ngx_stream_ssl_preread_module'
              : null,
      version: nginx === null ? null : (nginxBuild.match(/nginx\/(\S+)/)?.[1] ?? 'unknown'),
    },
  };
}

function readPackageVersion() {
  try {
    return JSON.parse(readFileSync(path.join(REPO_DIR, 'package.json'), 'utf8')).version ?? null;
  } catch {
    return null;
  }
}

/** Removes what a killed earlier run may have left in bench/.build (router logs, peer folders). */
export function clearLeftovers() {
  rmSync(LOGS_DIR, { recursive: true, force: true });
  rmSync(PEERS_DIR, { recursive: true, force: true });
}

/** Whether this build of the CLI has `--workers` (issue 5's multi-core mode). */
export function routerHasWorkers() {
  if (!existsSync(CLI_JS)) return false;
  return /--workers\b/.test(commandOutput(process.execPath, [CLI_JS, '--help']));
}

// ---- the targets ----------------------------------------------------------------------------------------------

/**
 * @param {TargetName} name
 * @param {StartOptions} options
 * @returns {Promise<RunningTarget>}
 */
export function startTarget(name, options) {
  switch (name) {
    case 'direct':
      return Promise.resolve({ port: options.backendPort, pid: null, stop: async () => ({}) });
    case 'sni-router':
      return startRouter(options, 'native');
    case 'sni-router-node':
      return startRouter(options, 'node');
    case 'sni-router-native':
      return startNativeServer(options);
    case 'haproxy':
      return startHaproxy(options, false);
    case 'haproxy-splice':
      return startHaproxy(options, true);
    case 'nginx':
      return startNginx(options);
  }
}


/**
 * Starts `node ARGS` from the repository with its stdout in bench/.build/logs/NAME-PORT.log, and waits until it
 * listens on `port` (on failure the error carries the log's tail).
 * @param {string} name
 * @param {string[]} args
 * @param {number} port
 * @param {string | null} cpus
 */
async function startLoggedNode(name, args, port, cpus) {
  mkdirSync(LOGS_DIR, { recursive: true });
  const logFile = path.join(LOGS_DIR, `${name}-${port}.log`);
  const logFd = openSync(logFile, 'w');
  const child = startChild(name, process.execPath, args, { cpus, stdout: logFd, cwd: REPO_DIR });
  closeSync(logFd);
  await waitUntilListening(child, port, START_TIMEOUT_MS, () => tail(logFile));
  return { child, logFile };
}

/** @param {StartOptions} options @param {'native' | 'node'} plane */
async function startRouter(options, plane) {
  const port = await freePort();
  const nodeArgs = [...(options.nodeArgs ?? []), ...(options.profileDir ? ['--cpu-prof', '--cpu-prof-dir', options.profileDir] : [])];
  const args = [
    ...nodeArgs,
    CLI_JS,
    '-l', `127.0.0.1:${port}`,
    '-r', `${options.sni}=127.0.0.1:${options.backendPort}`,
    '-p', 'v2',
    '--log-level', options.logLevel,
    '--data-plane', plane,
    ...(options.workers ? ['--workers', String(options.workers)] : []),
  ];
  const { child, logFile } = await startLoggedNode(plane === 'native' ? 'sni-router' : 'sni-router-node', args, port, options.cpus);
  return {
    port,
    pid: child.pid,
    async stop() {
      const status = await child.stop(options.profileDir ? STOP_GRACE_PROFILED_MS : STOP_GRACE_MS);
      const notes = { exit: status.signal ?? status.code, access_log: summarizeAccessLog(logFile) };
      rmSync(logFile, { force: true });
      return notes;
    },
  };
}

/**
 * The native data plane with a fixed SNI route (bench/native-server.js): the plane and the hello path, no access
 * log yet. Its stdout is the log file; the close reasons it prints at exit are the notes.
 * @param {StartOptions} options
 */
async function startNativeServer(options) {
  const port = await freePort();
  const args = [...(options.nodeArgs ?? []), NATIVE_SERVER_JS, '--listen', `127.0.0.1:${port}`, '--route', `${options.sni}=127.0.0.1:${options.backendPort}`];
  const { child, logFile } = await startLoggedNode('sni-router-native', args, port, options.cpus);
  return {
    port,
    pid: child.pid,
    async stop() {
      const status = await child.stop(STOP_GRACE_MS);
      const reasons = readFileSync(logFile, 'utf8').match(/\{"closed_by_reason":(\{[^}]*\})\}/)?.[1];
      rmSync(logFile, { force: true });
      return { exit: status.signal ?? status.code, close_reasons: reasons ? JSON.parse(reasons) : null };
    },
  };
}

function tail(file) {
  try {
    return `\n${readFileSync(file, 'utf8').slice(-4_000)}`;
  } catch {
    return '';
  }
}

/** Access lines by close reason: proves the connections were routed (`done`), not refused. */
function summarizeAccessLog(file) {
  /** @type {Record<string, number>} */
  const reasons = {};
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return reasons;
  }
  for (const match of text.matchAll(/"reason":"([a-z_]+)"/g)) {
    const reason = /** @type {string} */ (match[1]);
    reasons[reason] = (reasons[reason] ?? 0) + 1;
  }
  return reasons;
}

/**
 * A running peer (HAProxy, nginx): stopping it stops its process and removes its folder.
 * @param {import('./children.js').Child} child
 * @param {number} port
 * @param {string} dir
 * @returns {RunningTarget}
 */
function peerTarget(child, port, dir) {
  return {
    port,
    pid: child.pid,
    async stop() {
      const status = await child.stop(STOP_GRACE_MS);
      rmSync(dir, { recursive: true, force: true });
      return { exit: status.signal ?? status.code };
    },
  };
}

/** @param {string} name */
function peerDir(name) {
  mkdirSync(PEERS_DIR, { recursive: true });
  return mkdtempSync(path.join(PEERS_DIR, `${name}-`));
}

/** @param {StartOptions} options */
async function startHaproxy(options, isSplice) {
  const binary = /** @type {string} */ (findBinary(HAPROXY_BIN));
  const port = await freePort();
  const dir = peerDir('haproxy');
  const config = [
    '# written by bench/lib/targets.js',
    'global',
    '  nbthread 1',
    `  maxconn ${PEER_MAX_CONNECTIONS}`,
    // splice-auto holds pipes (2 descriptors each; default maxconn / 4 of them). HAProxy wants 2 × maxconn +
    // 2 × maxpipes + its own within the 20,000-descriptor limit (1,024 pipes asked for 21,662 and it would not
    // start); the scenarios keep at most 64 connections busy at once, so 128 pipes are plenty.
    ...(isSplice ? ['  maxpipes 128'] : []),
    'defaults',
    '  mode tcp',
    '  timeout connect 5s',
    '  timeout client 10m',
    '  timeout server 10m',
    ...(isSplice ? ['  option splice-auto'] : []),
    'frontend sni_in',
    `  bind 127.0.0.1:${port}`,
    '  tcp-request inspect-delay 5s',
    '  tcp-request content accept if { req_ssl_hello_type 1 }',
    `  use_backend bench_pool if { req.ssl_sni -i ${options.sni} }`,
    'backend bench_pool',
    `  server echo 127.0.0.1:${options.backendPort} send-proxy-v2`,
    '',
  ].join('\n');
  const configFile = path.join(dir, 'haproxy.cfg');
  writeFileSync(configFile, config);
  const child = startChild('haproxy', binary, ['-db', '-f', configFile], { cpus: options.cpus, cwd: dir });
  await waitUntilListening(child, port, START_TIMEOUT_MS);
  return peerTarget(child, port, dir);
}

/** @param {StartOptions} options */
async function startNginx(options) {
  const binary = /** @type {string} */ (findBinary(NGINX_BIN));
  const port = await freePort();
  const dir = peerDir('nginx');
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const config = [
    '# written by bench/lib/targets.js',
    existsSync(NGINX_STREAM_MODULE) ? `load_module ${NGINX_STREAM_MODULE};` : '',
    // As root, workers would otherwise switch to `nobody`, who cannot write into our folder.
    isRoot ? 'user root;' : '',
    'worker_processes 1;',
    `worker_rlimit_nofile ${NGINX_RLIMIT_NOFILE};`,
    `pid ${path.join(dir, 'nginx.pid')};`,
    `error_log ${path.join(dir, 'error.log')} warn;`,
    `events { worker_connections ${NGINX_WORKER_CONNECTIONS}; }`,
    'stream {',
    '  access_log off;',
    '  map $ssl_preread_server_name $sni_pool {',
    `    ${options.sni} bench_pool;`,
    '    default no_route;',
    '  }',
    `  upstream bench_pool { server 127.0.0.1:${options.backendPort}; }`,
    '  upstream no_route { server 127.0.0.1:1; }',
    '  server {',
    `    listen 127.0.0.1:${port};`,
    '    ssl_preread on;',
    '    proxy_pass $sni_pool;',
    '    proxy_protocol on;',
    '  }',
    '}',
    '',
  ].join('\n');
  const configFile = path.join(dir, 'nginx.conf');
  writeFileSync(configFile, config);
  const child = startChild('nginx', binary, ['-p', `${dir}/`, '-c', configFile, '-g', 'daemon off;'], {
    cpus: options.cpus,
    cwd: dir,
  });
  await waitUntilListening(child, port, START_TIMEOUT_MS, () => tail(path.join(dir, 'error.log')));
  return peerTarget(child, port, dir);
}
