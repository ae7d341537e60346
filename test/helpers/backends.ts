/**
 * Real backends for integration tests: TLS servers that say who they are, raw TCP servers that record, and
 * listenOnLoopback for a test's own server.
 */
import { readFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

export const CERT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/certs');
export const CA_FILE = path.join(CERT_DIR, 'ca.pem');

export function certFor(name: string): { cert: Buffer; key: Buffer } {
  return { cert: readFileSync(path.join(CERT_DIR, `${name}.pem`)), key: readFileSync(path.join(CERT_DIR, `${name}.key`)) };
}

export interface LoopbackServer {
  readonly port: number;
  /** `127.0.0.1:PORT`, or `[::1]:PORT`: the form a route's backend list takes. */
  readonly label: string;
  /** Destroys the connections still open, then closes the server (server.close alone would wait for them). */
  close(): Promise<void>;
}

/** Listens on port 0 of `host` and keeps track of every connection, so that close() can end them. */
export async function listenOnLoopback(server: net.Server, host = '127.0.0.1'): Promise<LoopbackServer> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, host);
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    label: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface TlsBackend {
  readonly name: string;
  readonly port: number;
  readonly label: string;
  connections: number;
  close(): Promise<void>;
}

/**
 * An HTTPS server with the certificate of `certName` that answers every request with `backend=<name>`, so both
 * the certificate (openssl s_client) and the body (curl) prove which backend answered.
 */
export async function startTlsBackend(name: string, certName = name, host = '127.0.0.1'): Promise<TlsBackend> {
  const server = https.createServer({ ...certFor(certName), ALPNProtocols: ['http/1.1'] }, (request, response) => {
    response.writeHead(200, { 'content-type': 'text/plain', connection: 'close' });
    response.end(`backend=${name}\n`);
  });
  const sockets = new Set<net.Socket>();
  const backend = {
    name,
    port: 0,
    label: '',
    connections: 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  server.on('connection', (socket: net.Socket) => {
    backend.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('tlsClientError', () => {});
  server.listen(0, host);
  await once(server, 'listening');
  backend.port = (server.address() as net.AddressInfo).port;
  backend.label = host.includes(':') ? `[${host}]:${backend.port}` : `${host}:${backend.port}`;
  return backend;
}

export interface RecordedConnection {
  readonly socket: net.Socket;
  /** Every byte received, in order. */
  received(): Buffer;
  readonly ended: Promise<void>;
}

export interface CaptureBackend {
  readonly port: number;
  readonly label: string;
  readonly connections: RecordedConnection[];
  /** Resolves with the n-th (0-based) connection once it has been accepted. */
  connection(index: number, timeoutMs?: number): Promise<RecordedConnection>;
  /** Resolves once the n-th connection has received at least `bytes` bytes. */
  receivedAtLeast(index: number, bytes: number, timeoutMs?: number): Promise<Buffer>;
  close(): Promise<void>;
}

/** A TCP server that records what each connection sends; `onConnection` may answer. allowHalfOpen is on. */
export async function startCaptureBackend(
  onConnection?: (socket: net.Socket) => void,
  host = '127.0.0.1',
): Promise<CaptureBackend> {
  const connections: RecordedConnection[] = [];
  const sockets = new Set<net.Socket>();
  let wake: Array<() => void> = [];
  const notify = (): void => {
    const current = wake;
    wake = [];
    for (const fn of current) fn();
  };
  const waitFor = async <T>(probe: () => T | undefined, timeoutMs: number, what: string): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = probe();
      if (value !== undefined) return value;
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`capture backend: timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        wake.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  };
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    const chunks: Buffer[] = [];
    let ended!: () => void;
    const endedPromise = new Promise<void>((resolve) => (ended = resolve));
    socket.on('error', () => {});
    socket.on('close', () => {
      sockets.delete(socket);
      ended();
    });
    if (!onConnection) {
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        notify();
      });
      // Like most servers: when the peer has finished, finish too.
      socket.on('end', () => socket.end());
    } else {
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        notify();
      });
    }
    connections.push({ socket, received: () => Buffer.concat(chunks), ended: endedPromise });
    notify();
    onConnection?.(socket);
  });
  server.listen(0, host);
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    label: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`,
    connections,
    connection: (index, timeoutMs = 10_000) => waitFor(() => connections[index], timeoutMs, `connection ${index}`),
    receivedAtLeast: (index, bytes, timeoutMs = 10_000) =>
      waitFor(
        () => {
          const data = connections[index]?.received();
          return data && data.length >= bytes ? data : undefined;
        },
        timeoutMs,
        `${bytes} bytes on connection ${index}`,
      ),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A port on which nothing listens (bound then released), for dead-backend tests. */
export async function deadPort(host = '127.0.0.1'): Promise<number> {
  const server = net.createServer();
  server.listen(0, host);
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
