/**
 * Loopback socket helpers for tests and the benchmark: a free port, waiting until a port accepts, and one
 * raw request/response exchange. Every wait has a deadline; nothing here sleeps for a fixed time.
 */
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';

export const LOOPBACK_IPV4 = '127.0.0.1';
export const LOOPBACK_IPV6 = '::1';

/** Ports freePort handed out in this process: the kernel may give a just-closed port 0 bind the same one again. */
const handedOut = new Set<number>();

/**
 * A port that was free a moment ago on `host` (listen on 0, read it, close), and not one this process was given
 * before: a test asking for three ports in a row gets three different ones. Another process may still take it.
 */
export async function freePort(host: string = LOOPBACK_IPV4): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = await ephemeralPort(host);
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no fresh port from ${host} in 100 tries`);
}

function ephemeralPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ host, port: 0 }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error(`no port from ${host}`))));
    });
  });
}

/** Whether this machine can listen on `host` (e.g. '::1' is missing where IPv6 is disabled). */
export function canListen(host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port: 0 }, () => server.close(() => resolve(true)));
  });
}

/** One connect attempt: true when the port accepted, false on refusal or after `timeoutMs`. */
export function tryConnect(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const finish = (accepted: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(accepted);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

export interface WaitForPortOptions {
  readonly host?: string;
  /** Give up after this long (default 10 s). */
  readonly timeoutMs?: number;
  /** Checked between attempts; when it returns a string, waiting stops with that as the error. */
  readonly abortReason?: () => string | null;
}

const RETRY_INTERVAL_MS = 20;
const ATTEMPT_TIMEOUT_MS = 500;
const DEFAULT_WAIT_MS = 10_000;

/** Resolves once `port` accepts a connection; rejects at the deadline or when `abortReason` says so. */
export async function waitForPort(port: number, options: WaitForPortOptions = {}): Promise<void> {
  const host = options.host ?? LOOPBACK_IPV4;
  const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_WAIT_MS);
  for (;;) {
    const aborted = options.abortReason?.() ?? null;
    if (aborted !== null) throw new Error(aborted);
    if (await tryConnect(host, port, ATTEMPT_TIMEOUT_MS)) return;
    if (Date.now() >= deadline) throw new Error(`${host}:${port} did not accept connections in time`);
    await delay(RETRY_INTERVAL_MS);
  }
}

export interface Exchange {
  /** Everything the peer sent before it closed (or before the deadline). */
  readonly data: Buffer;
  /** How the exchange ended: peer FIN, an error such as ECONNRESET, or our deadline. */
  readonly end: 'end' | 'error' | 'timeout';
  readonly error?: string;
}

/**
 * Connects, writes `payload` in one write (so a PROXY header and what follows leave in one segment),
 * half-closes nothing, and collects the reply until the peer closes or `timeoutMs` passes.
 */
export function exchange(host: string, port: number, payload: Uint8Array, timeoutMs = 5_000): Promise<Exchange> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = net.connect({ host, port });
    let settled = false;
    const finish = (end: Exchange['end'], error?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(error === undefined ? { data: Buffer.concat(chunks), end } : { data: Buffer.concat(chunks), end, error });
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('end', () => finish('end'));
    socket.once('close', () => finish('end'));
    socket.once('error', (err: NodeJS.ErrnoException) => finish('error', err.code ?? err.message));
    socket.once('connect', () => socket.write(payload));
  });
}
