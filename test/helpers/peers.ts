/**
 * Real HAProxy and nginx as test peers (and benchmark references): each runs in the foreground from a config
 * written into a fresh temp dir, is ready once its ports accept connections, and is stopped by its PID.
 *
 *   const haproxy = await startHaproxy(cfgText, { readyPorts: [port] });
 *   try { ... } finally { await haproxy.stop(); }
 *
 * Peers still running when the test process exits are killed by PID from an 'exit' hook, and a small watchdog
 * process does the same if the test process is killed outright (vitest may SIGKILL a worker), so nothing is
 * left behind. Nothing here sleeps for a fixed time; every wait has a deadline.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { LOOPBACK_IPV4, waitForPort } from './ports.js';

// --- Where the peers live (Debian/Ubuntu packages: haproxy, nginx, libnginx-mod-stream) ------------------------

export const HAPROXY_BIN = '/usr/sbin/haproxy';
export const NGINX_BIN = '/usr/sbin/nginx';
export const NGINX_STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';

function isExecutable(file: string): boolean {
  try {
    accessSync(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function isReadable(file: string): boolean {
  try {
    accessSync(file, fsConstants.R_OK);
    return true;
  } catch {
    return false;
  }
}

/** The packaged path first, then $PATH (e.g. a Homebrew install); null when absent. */
function findBinary(preferred: string): string | null {
  if (isExecutable(preferred)) return preferred;
  const name = path.basename(preferred);
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir !== '' && isExecutable(path.join(dir, name))) return path.join(dir, name);
  }
  return null;
}

let haproxyBin: string | null | undefined;
let nginxBin: string | null | undefined;

function haproxyBinary(): string | null {
  if (haproxyBin === undefined) haproxyBin = findBinary(HAPROXY_BIN);
  return haproxyBin;
}

function nginxBinary(): string | null {
  if (nginxBin === undefined) nginxBin = findBinary(NGINX_BIN);
  return nginxBin;
}

export function hasHaproxy(): boolean {
  return haproxyBinary() !== null;
}

export function hasNginx(): boolean {
  return nginxBinary() !== null;
}

/** nginx's stream module (package libnginx-mod-stream), needed for `stream { }` configs. */
export function hasNginxStream(): boolean {
  return hasNginx() && isReadable(NGINX_STREAM_MODULE);
}

/** A sentence for `it.skipIf(...)` output and logs. */
export const PEER_MISSING_REASON = {
  haproxy: `HAProxy not installed (${HAPROXY_BIN}); apt-get install haproxy`,
  nginx: `nginx not installed (${NGINX_BIN}); apt-get install nginx`,
  nginxStream: `nginx stream module missing (${NGINX_STREAM_MODULE}); apt-get install libnginx-mod-stream`,
} as const;

// --- A running peer ---------------------------------------------------------------------------------------------

export interface PeerProcess {
  readonly name: 'haproxy' | 'nginx';
  readonly pid: number;
  /** The temp dir holding the config and log files; removed by stop(). */
  readonly dir: string;
  /** stdout, stderr and the log files written so far (a snapshot, kept after stop()). */
  logs(): string;
  /** Resolves when logs() matches; rejects with the logs after `timeoutMs` (default 5 s). */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGTERM, then SIGKILL (children first) if it has not exited within 5 s. Safe to call twice. */
  stop(): Promise<void>;
}

export interface ReadyAddress {
  readonly host: string;
  readonly port: number;
}

export interface StartPeerOptions {
  /** Ports (127.0.0.1 unless a host is given) that must accept connections before the peer counts as up. */
  readonly readyPorts: ReadonlyArray<number | ReadyAddress>;
  /** Deadline for start-up (default 10 s). */
  readonly readyTimeoutMs?: number;
}

const MAX_CAPTURED_CHARS = 1 << 20;
const STOP_GRACE_MS = 5_000;
const DEFAULT_READY_MS = 10_000;
const DEFAULT_LOG_WAIT_MS = 5_000;
const LOG_POLL_MS = 20;

const running = new Map<number, () => void>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const killNow of running.values()) killNow();
  });
}

/** PIDs whose parent is `pid` (nginx workers of a master), read from /proc; empty where there is no /proc. */
function childPids(pid: number): number[] {
  try {
    const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    if (text !== '') return text.split(' ').map(Number);
  } catch {
    // Fall through to the slower scan.
  }
  const found: number[] = [];
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return found;
  }
  for (const entry of entries) {
    const candidate = Number(entry);
    if (!Number.isInteger(candidate)) continue;
    try {
      const stat = readFileSync(`/proc/${candidate}/stat`, 'utf8');
      // Field 4 is the parent PID; field 2 (comm) is in parentheses and may contain spaces.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid) found.push(candidate);
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

/**
 * A watchdog for when the test process dies without running its 'exit' hook (vitest may kill a worker): a tiny
 * node process holding a pipe from us. If the pipe closes without the word 'disarm' first, our process is gone,
 * so it kills the peer (see killTree) by PID, removes its temp dir, and exits. The peer exiting disarms it.
 */
const WATCHDOG_SCRIPT = `
const fs = require('fs');
const pid = Number(process.argv[1]);
const dir = process.argv[2];
let disarmed = false;
const kill = (target, signal) => { try { process.kill(target, signal); } catch {} };
process.stdin.on('data', (chunk) => { if (String(chunk).includes('disarm')) disarmed = true; });
process.stdin.on('end', () => {
  if (!disarmed) {
    kill(pid, 'SIGSTOP');
    let children = [];
    try { children = fs.readFileSync('/proc/' + pid + '/task/' + pid + '/children', 'utf8').trim().split(' ').filter(Boolean).map(Number); } catch {}
    for (const child of children) kill(child, 'SIGKILL');
    kill(pid, 'SIGKILL');
    try { fs.rmSync(dir, { recursive: true, force: true }); } catch {}
  }
  process.exit(0);
});
process.stdin.resume();
`;

interface Watchdog {
  disarm(): void;
}

function startWatchdog(pid: number, dir: string): Watchdog {
  const watchdog = spawn(process.execPath, ['-e', WATCHDOG_SCRIPT, String(pid), dir], { stdio: ['pipe', 'ignore', 'ignore'] });
  watchdog.on('error', () => {
    // Best effort: the 'exit' hook still covers orderly exits.
  });
  watchdog.stdin?.on('error', () => {});
  watchdog.unref();
  (watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  let disarmed = false;
  return {
    disarm(): void {
      if (disarmed) return;
      disarmed = true;
      watchdog.stdin?.end('disarm\n');
    },
  };
}

/**
 * SIGKILL a peer and its children (nginx workers). The parent is stopped first so that an nginx master cannot
 * respawn a worker between the two kills; its children are read while they are still its children.
 */
function killTree(pid: number): void {
  killQuietly(pid, 'SIGSTOP');
  for (const child of childPids(pid)) killQuietly(child, 'SIGKILL');
  killQuietly(pid, 'SIGKILL');
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

interface LaunchSpec {
  readonly name: PeerProcess['name'];
  readonly binary: string;
  readonly args: readonly string[];
  readonly dir: string;
  /** Log files inside `dir` to include in logs(). */
  readonly logFiles: readonly string[];
}

async function launch(spec: LaunchSpec, options: StartPeerOptions): Promise<PeerProcess> {
  let captured = '';
  const capture = (chunk: Buffer): void => {
    captured += chunk.toString('utf8');
    if (captured.length > MAX_CAPTURED_CHARS) captured = captured.slice(-MAX_CAPTURED_CHARS);
  };
  let finalLogs: string | null = null;
  const readLogs = (): string => {
    if (finalLogs !== null) return finalLogs;
    let text = captured;
    for (const file of spec.logFiles) {
      try {
        text += `\n--- ${file} ---\n${readFileSync(path.join(spec.dir, file), 'utf8')}`;
      } catch {
        // Not written yet.
      }
    }
    return text;
  };

  const child: ChildProcess = spawn(spec.binary, spec.args, { cwd: spec.dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let exitStatus: string | null = null;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitStatus = signal !== null ? `signal ${signal}` : `code ${String(code)}`;
      // Once it has exited its PID may be reused: never signal it again.
      if (child.pid !== undefined) running.delete(child.pid);
      resolve();
    });
    child.once('error', (err) => {
      exitStatus = `spawn error: ${err.message}`;
      resolve();
    });
  });
  child.stdout?.on('data', capture);
  child.stderr?.on('data', capture);

  const pid = child.pid;
  if (pid === undefined) {
    await exited;
    rmSync(spec.dir, { recursive: true, force: true });
    throw new Error(`${spec.name} did not start (${exitStatus ?? 'no pid'})`);
  }

  const killNow = (): void => killTree(pid);
  installExitHook();
  if (exitStatus === null) running.set(pid, killNow);
  const watchdog = startWatchdog(pid, spec.dir);
  void exited.then(() => watchdog.disarm());

  /** True once the peer has exited, false after `timeoutMs`; the timer never outlives the wait. */
  const waitExit = (timeoutMs: number): Promise<boolean> => {
    if (exitStatus !== null) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      void exited.then(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  };

  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (exitStatus === null) {
        // nginx's master stops its workers on SIGTERM and exits after them; HAProxy is one process.
        killQuietly(pid, 'SIGTERM');
        if (!(await waitExit(STOP_GRACE_MS))) {
          killNow(); // still our children: the master is alive to own them
          await waitExit(STOP_GRACE_MS);
        }
      }
      running.delete(pid);
      finalLogs = readLogs();
      rmSync(spec.dir, { recursive: true, force: true });
    })();
    return stopping;
  };

  const waitForLog = async (pattern: RegExp, timeoutMs = DEFAULT_LOG_WAIT_MS): Promise<string> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = readLogs();
      if (pattern.test(text)) return text;
      if (Date.now() >= deadline) throw new Error(`${spec.name} logs never matched ${String(pattern)}:\n${text}`);
      await delay(LOG_POLL_MS);
    }
  };

  const peer: PeerProcess = { name: spec.name, pid, dir: spec.dir, logs: readLogs, waitForLog, stop };
  try {
    const deadline = Date.now() + (options.readyTimeoutMs ?? DEFAULT_READY_MS);
    for (const ready of options.readyPorts) {
      const { host, port } = typeof ready === 'number' ? { host: LOOPBACK_IPV4, port: ready } : ready;
      await waitForPort(port, {
        host,
        timeoutMs: Math.max(0, deadline - Date.now()),
        abortReason: () => (exitStatus === null ? null : `${spec.name} exited (${exitStatus}) before listening`),
      });
    }
  } catch (err) {
    const logs = readLogs();
    await stop();
    throw new Error(`${(err as Error).message}\n${logs}`, { cause: err });
  }
  return peer;
}

function tempDir(name: string): string {
  return mkdtempSync(path.join(tmpdir(), `sni-router-${name}-`));
}

// --- HAProxy -------------------------------------------------------------------------------------------------

/**
 * `global` and `defaults` for an HTTP-mode HAProxy peer: its own log lines on stderr (so in logs()), short
 * timeouts. Follow it with the proxies (`frontend …`).
 */
export const HAPROXY_HTTP_PREAMBLE = `global
  log stderr format raw local0 info
defaults
  mode http
  log global
  timeout connect 2s
  timeout client 5s
  timeout server 5s`;

/**
 * Runs `haproxy -db -f <dir>/haproxy.cfg` with `configText` as the whole file. Leave out `daemon`; to see
 * HAProxy's own logs in logs(), add `log stderr format raw local0 info` to `global` and `log global` to the
 * proxies.
 */
export async function startHaproxy(configText: string, options: StartPeerOptions): Promise<PeerProcess> {
  const binary = haproxyBinary();
  if (binary === null) throw new Error(PEER_MISSING_REASON.haproxy);
  const dir = tempDir('haproxy');
  const configFile = path.join(dir, 'haproxy.cfg');
  writeFileSync(configFile, configText);
  return launch({ name: 'haproxy', binary, args: ['-db', '-f', configFile], dir, logFiles: [] }, options);
}

// --- nginx -----------------------------------------------------------------------------------------------------

export interface NginxConfig {
  /** Directives inside `http { }` (servers, maps); the helper adds logs and temp paths in the temp dir. */
  readonly http?: string;
  /** Directives inside `stream { }`; the helper loads the stream module when this is given. */
  readonly stream?: string;
  /** Extra main-context directives (e.g. `worker_rlimit_nofile 65536;`). */
  readonly main?: string;
  /**
   * Omitted: one process (`master_process off`), so `pid` is the only process to stop.
   * A number: a master with that many workers (e.g. for the benchmark); stop() also reaps the workers.
   */
  readonly workerProcesses?: number;
  /** events { worker_connections } (default 4096). */
  readonly workerConnections?: number;
}

const NGINX_ERROR_LOG = 'error.log';
const NGINX_ACCESS_LOG = 'access.log';
const NGINX_STREAM_LOG = 'stream-access.log';

/** The whole nginx.conf for `config`, with every path the process writes inside `dir`. */
export function nginxConfigText(config: NginxConfig, dir: string): string {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const lines: string[] = ['# written by test/helpers/peers.ts'];
  if (config.stream !== undefined) lines.push(`load_module ${NGINX_STREAM_MODULE};`);
  // As root, workers would otherwise switch to `nobody`, who cannot write into our temp dir.
  if (isRoot) lines.push('user root;');
  lines.push(
    config.workerProcesses === undefined ? 'master_process off;' : `worker_processes ${config.workerProcesses};`,
    `pid ${path.join(dir, 'nginx.pid')};`,
    `error_log ${path.join(dir, NGINX_ERROR_LOG)} info;`,
    `events { worker_connections ${config.workerConnections ?? 4096}; }`,
  );
  if (config.main !== undefined) lines.push(config.main);
  if (config.http !== undefined) {
    lines.push(
      'http {',
      `  access_log ${path.join(dir, NGINX_ACCESS_LOG)};`,
      `  client_body_temp_path ${path.join(dir, 'client_body')};`,
      `  proxy_temp_path ${path.join(dir, 'proxy')};`,
      `  fastcgi_temp_path ${path.join(dir, 'fastcgi')};`,
      `  uwsgi_temp_path ${path.join(dir, 'uwsgi')};`,
      `  scgi_temp_path ${path.join(dir, 'scgi')};`,
      config.http,
      '}',
    );
  }
  if (config.stream !== undefined) {
    lines.push(
      'stream {',
      `  log_format sni_router_basic '$remote_addr [$time_local] $protocol $status $bytes_sent $bytes_received $session_time';`,
      `  access_log ${path.join(dir, NGINX_STREAM_LOG)} sni_router_basic;`,
      config.stream,
      '}',
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Runs `nginx -p <dir>/ -c <dir>/nginx.conf -g 'daemon off;'` in the foreground. */
export async function startNginx(config: NginxConfig, options: StartPeerOptions): Promise<PeerProcess> {
  const binary = nginxBinary();
  if (binary === null) throw new Error(PEER_MISSING_REASON.nginx);
  if (config.stream !== undefined && !hasNginxStream()) throw new Error(PEER_MISSING_REASON.nginxStream);
  const dir = tempDir('nginx');
  const configFile = path.join(dir, 'nginx.conf');
  writeFileSync(configFile, nginxConfigText(config, dir));
  return launch(
    {
      name: 'nginx',
      binary,
      args: ['-p', `${dir}/`, '-c', configFile, '-g', 'daemon off;'],
      dir,
      logFiles: [NGINX_ERROR_LOG, NGINX_ACCESS_LOG, NGINX_STREAM_LOG],
    },
    options,
  );
}
