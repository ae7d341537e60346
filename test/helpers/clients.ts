/** Real TLS clients for integration tests: openssl s_client, curl, node:tls, and raw sockets. */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';
import { CA_FILE } from './backends.js';

const CA = readFileSync(CA_FILE);

export interface ProcessResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function run(command: string, args: readonly string[], input = '', timeoutMs = 15_000): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

/** `openssl s_client` through the router; returns the peer certificate's subject CN (or null) and the raw result. */
export async function opensslConnect(
  port: number,
  servername: string | null,
  options: { host?: string; alpn?: string } = {},
): Promise<{ subject: string | null; result: ProcessResult }> {
  const host = options.host ?? '127.0.0.1';
  const target = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  const args = ['s_client', '-connect', target, '-CAfile', CA_FILE, '-brief'];
  if (servername === null) args.push('-noservername');
  else args.push('-servername', servername);
  if (options.alpn) args.push('-alpn', options.alpn);
  const result = await run('openssl', args, 'Q\n');
  const match = /(?:Peer certificate|subject)[^\n]*CN\s*=\s*([^\s,/]+)/i.exec(result.stdout + result.stderr);
  return { subject: match?.[1] ?? null, result };
}

/** `curl` to https://name:port/ resolved to loopback through the router, verifying against the test CA. */
export async function curlGet(
  name: string,
  port: number,
  options: { host?: string; extra?: readonly string[] } = {},
): Promise<ProcessResult> {
  const host = options.host ?? '127.0.0.1';
  const resolveTo = host.includes(':') ? `[${host}]` : host;
  return run('curl', ['-sS', '--max-time', '10', '--resolve', `${name}:${port}:${resolveTo}`, '--cacert', CA_FILE, ...(options.extra ?? []), `https://${name}:${port}/`]);
}

/** node:tls to 127.0.0.1:`port` with this SNI, trusting the test CA; resolves once the handshake is done. */
export async function tlsConnect(port: number, servername: string, options: tls.ConnectionOptions = {}): Promise<tls.TLSSocket> {
  const socket = tls.connect({ port, host: '127.0.0.1', servername, ca: CA, ...options });
  socket.on('error', () => {});
  await once(socket, 'secureConnect');
  return socket;
}

/** Opens a plain TCP connection and resolves once connected. */
export async function connectRaw(port: number, host = '127.0.0.1', localAddress?: string): Promise<net.Socket> {
  const socket = net.connect({ port, host, allowHalfOpen: true, ...(localAddress ? { localAddress } : {}) });
  socket.setNoDelay(true);
  await once(socket, 'connect');
  return socket;
}

/**
 * Opens a TCP connection to 127.0.0.1:`port` from the loopback address `localAddress` (127.0.0.2, 127.0.0.3 …), so
 * that per-client limits see one client per address; the router may refuse or reset it, so errors are ignored.
 */
export async function connectFrom(port: number, localAddress: string): Promise<net.Socket> {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress });
  socket.on('error', () => {});
  await once(socket, 'connect');
  return socket;
}

/** Resolves when the socket closes; records everything it received. */
export function collect(socket: net.Socket): Promise<{ data: Buffer; hadError: boolean }> {
  const chunks: Buffer[] = [];
  let hadError = false;
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => (hadError = true));
  // Sockets here allow half-open; once the peer has finished, finish ours too so that 'close' comes.
  socket.on('end', () => socket.end());
  return new Promise((resolve) => socket.on('close', () => resolve({ data: Buffer.concat(chunks), hadError })));
}
