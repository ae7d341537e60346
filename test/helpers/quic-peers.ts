/**
 * Real QUIC peers for tests: Debian's ngtcp2 examples (`gtlsserver` serving one file, `gtlsclient` downloading
 * it) and headless Chromium forced onto QUIC. Every process is started here, waited on with a deadline and
 * stopped by its PID; nothing sleeps for a fixed time.
 *
 * Name resolution stays on the machine: gtlsclient sends the name it is given as SNI and resolves it through
 * /etc/hosts, so it runs in a private mount namespace (`unshare -m`) with a hosts file bind-mounted over
 * /etc/hosts; Chromium gets `--host-resolver-rules` instead.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import dgram from 'node:dgram';
import { afterAll, beforeAll } from 'vitest';
import { CHROMIUM_BIN, CHROMIUM_HEADLESS_FLAGS } from './chromium.js';

export const GTLS_SERVER_BIN = '/usr/sbin/gtlsserver';
export const GTLS_CLIENT_BIN = '/usr/bin/gtlsclient';
export const CERTS_DIR = new URL('../../fixtures/certs/', import.meta.url).pathname;

const POLL_MS = 20;

export function hasGtls(): boolean {
  return existsSync(GTLS_SERVER_BIN) && existsSync(GTLS_CLIENT_BIN);
}

/** Whether this process may make a private mount namespace and bind-mount a hosts file (root, or CAP_SYS_ADMIN). */
export function canUsePrivateHosts(): boolean {
  const probe = spawnSync('unshare', ['-m', 'sh', '-c', 'mount --bind /etc/hosts /etc/hosts'], { stdio: 'ignore', timeout: 5_000 });
  return probe.status === 0;
}

/** A UDP port that was free a moment ago on 127.0.0.1. */
export function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}

/** Inodes of bound UDP sockets on `port` (any local address), from /proc/net/udp and udp6. */
function udpInodes(filter: (localPort: number) => boolean): Set<string> {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/udp', '/proc/net/udp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10) continue;
      const localPort = Number.parseInt(fields[1]!.split(':')[1]!, 16);
      if (filter(localPort)) inodes.add(fields[9]!);
    }
  }
  return inodes;
}

/** Resolves once something has bound UDP `port`; rejects after `timeoutMs`. */
export async function waitForUdpPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (udpInodes((localPort) => localPort === port).size === 0) {
    if (Date.now() > deadline) throw new Error(`nothing bound UDP port ${port} within ${timeoutMs} ms`);
    await delay(POLL_MS);
  }
}

/** UDP sockets this process holds: its socket descriptors whose inode is in the kernel's UDP tables. */
export function udpSocketsOfThisProcess(): number {
  const udp = udpInodes(() => true);
  let count = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (match !== null && udp.has(match[1]!)) count += 1;
    } catch {
      // closed while we looked
    }
  }
  return count;
}

interface Running {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  output(): string;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) if (child.pid !== undefined) killQuietly(child.pid);
});

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function run(binary: string, args: readonly string[], cwd?: string): Running {
  const child = spawn(binary, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-200_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => {
    child.once('error', () => resolve());
    child.once('exit', () => {
      running.delete(child);
      resolve();
    });
  });
  return { child, exited, output: () => output };
}

/** Ends a process we started, by PID, and waits for it; SIGKILL after 3 s. */
async function stopProcess(process_: Running): Promise<void> {
  const pid = process_.child.pid;
  if (pid === undefined || process_.child.exitCode !== null || process_.child.signalCode !== null) return;
  process_.child.kill('SIGTERM');
  const timer = setTimeout(() => killQuietly(pid), 3_000);
  await process_.exited;
  clearTimeout(timer);
}

export interface GtlsServer {
  readonly name: string;
  readonly port: number;
  readonly body: string;
  stop(): Promise<void>;
}

/** A gtlsserver on 127.0.0.1 serving `body` as /index.html with the fixture certificate of `name`. */
export async function startGtlsServer(name: string, body: string): Promise<GtlsServer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sni-router-gtls-'));
  mkdirSync(path.join(dir, 'htdocs'));
  writeFileSync(path.join(dir, 'htdocs', 'index.html'), body);
  const port = await freeUdpPort();
  const server = run(GTLS_SERVER_BIN, ['-q', '-d', 'htdocs', '127.0.0.1', String(port), path.join(CERTS_DIR, `${name}.key`), path.join(CERTS_DIR, `${name}.pem`)], dir);
  try {
    await Promise.race([waitForUdpPort(port), server.exited.then(() => Promise.reject(new Error(`gtlsserver exited: ${server.output()}`)))]);
  } catch (error) {
    await stopProcess(server);
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    name,
    port,
    body,
    async stop() {
      await stopProcess(server);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A hosts file mapping `names` to 127.0.0.1, in a new temp dir; remove the dir when done. */
export function writeHostsFile(names: readonly string[]): { file: string; dir: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'sni-router-hosts-'));
  const file = path.join(dir, 'hosts');
  writeFileSync(file, `127.0.0.1 localhost ${names.join(' ')}\n`);
  return { file, dir };
}

export const ALPHA_BODY = '<p>alpha backend</p>\n';
export const BETA_BODY = '<p>beta backend</p>\n';

export interface AlphaAndBetaServers {
  /** gtlsserver for alpha.test, serving ALPHA_BODY. */
  readonly alpha: GtlsServer;
  /** gtlsserver for beta.test, serving BETA_BODY. */
  readonly beta: GtlsServer;
  /** Maps alpha.test, beta.test and gamma.test (which neither serves) to 127.0.0.1, for fetchWithGtlsClient. */
  readonly hostsFile: string;
}

/**
 * Registers beforeAll/afterAll in the calling describe: two gtlsservers, each with its own certificate and body,
 * so that what a client downloads says which backend its flow reached, and a hosts file for their names. Read
 * the fields inside tests; they exist from beforeAll on.
 */
export function useAlphaAndBetaServers(): AlphaAndBetaServers {
  let alpha: GtlsServer | undefined;
  let beta: GtlsServer | undefined;
  let hosts: { file: string; dir: string } | undefined;
  beforeAll(async () => {
    [alpha, beta] = await Promise.all([startGtlsServer('alpha.test', ALPHA_BODY), startGtlsServer('beta.test', BETA_BODY)]);
    hosts = writeHostsFile(['alpha.test', 'beta.test', 'gamma.test']);
  });
  afterAll(async () => {
    await Promise.all([alpha?.stop(), beta?.stop()]);
    if (hosts !== undefined) rmSync(hosts.dir, { recursive: true, force: true });
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the alpha and beta gtlsservers are not started yet (use them inside tests)');
    return value;
  };
  return {
    get alpha() {
      return started(alpha);
    },
    get beta() {
      return started(beta);
    },
    get hostsFile() {
      return started(hosts).file;
    },
  };
}

export interface FetchResult {
  /** The downloaded /index.html, or null when nothing came (gtlsclient exits 0 either way). */
  readonly body: string | null;
  readonly output: string;
}

/**
 * gtlsclient fetching https://NAME:PORT/index.html, with NAME resolved through `hostsFile`; bounded by
 * `timeoutMs` (the client's handshake timeout is shorter, so an unrouted name ends on its own).
 */
export async function fetchWithGtlsClient(name: string, port: number, hostsFile: string, timeoutMs = 15_000): Promise<FetchResult> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sni-router-dl-'));
  const url = `https://${name}:${port}/index.html`;
  const script = 'mount --bind "$1" /etc/hosts && exec "$2" -q --exit-on-all-streams-close --handshake-timeout=3s --timeout=5s --download="$3" "$4" "$5" "$6"';
  const client = run('unshare', ['-m', 'sh', '-c', script, 'sh', hostsFile, GTLS_CLIENT_BIN, dir, name, String(port), url]);
  const timer = setTimeout(() => void stopProcess(client), timeoutMs);
  await client.exited;
  clearTimeout(timer);
  const file = path.join(dir, 'index.html');
  const body = existsSync(file) ? readFileSync(file, 'utf8') : null;
  rmSync(dir, { recursive: true, force: true });
  return { body, output: client.output() };
}

/** base64(SHA-256(SubjectPublicKeyInfo)) of a PEM certificate: what --ignore-certificate-errors-spki-list takes. */
export function spkiHash(certFile: string): string {
  const spki = new X509Certificate(readFileSync(certFile)).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

/**
 * Headless Chromium loading https://NAME:PORT/ over QUIC only (forced on; no TCP listens on that port, so a
 * page can only come over QUIC), trusting the backend's key by SPKI pin. Returns the page's DOM or null.
 */
export async function fetchWithChromium(name: string, port: number, spki: string, timeoutMs = 20_000): Promise<FetchResult> {
  const profile = mkdtempSync(path.join(tmpdir(), 'sni-router-chromium-'));
  const browser = run(CHROMIUM_BIN, [
    ...CHROMIUM_HEADLESS_FLAGS,
    `--user-data-dir=${profile}`,
    '--enable-quic',
    `--origin-to-force-quic-on=${name}:${port}`,
    `--host-resolver-rules=MAP ${name} 127.0.0.1, MAP * ~NOTFOUND`,
    `--ignore-certificate-errors-spki-list=${spki}`,
    '--dump-dom',
    `https://${name}:${port}/`,
  ]);
  let dom = '';
  browser.child.stdout?.on('data', (chunk: Buffer) => {
    dom += chunk.toString('utf8');
  });
  const timer = setTimeout(() => void stopProcess(browser), timeoutMs);
  await browser.exited;
  clearTimeout(timer);
  rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }); // its helpers may still be writing
  return { body: dom.includes('<body>') ? dom : null, output: browser.output().slice(-4_000) };
}
