/**
 * Echo backends that say who they are, and clients that keep a stream going through the router, for the
 * operations tests (reload, shutdown, workers, metrics). Every wait is event-driven with a deadline.
 *
 *   backend: on connect writes `<name>\n`, then echoes every byte; finishes when the client finishes
 *   client:  connects, sends a ClientHello for `sni`, reads the backend's name, then send() / finish()
 */
import { once } from 'node:events';
import net from 'node:net';
import { buildClientHello, toRecords } from './hello-builder.js';

export interface EchoBackend {
  readonly name: string;
  readonly port: number;
  readonly label: string;
  connections: number;
  close(): Promise<void>;
}

export async function startEchoBackend(name: string): Promise<EchoBackend> {
  const sockets = new Set<net.Socket>();
  const backend = { name, port: 0, label: '', connections: 0, close: async () => {} };
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    backend.connections++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    socket.write(`${name}\n`);
    socket.on('data', (chunk: Buffer) => socket.write(chunk));
    socket.on('end', () => socket.end());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  backend.port = (server.address() as net.AddressInfo).port;
  backend.label = `127.0.0.1:${backend.port}`;
  backend.close = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
  return backend;
}

export function helloFor(sni: string | null): Buffer {
  return toRecords(buildClientHello({ sni }));
}

export interface Stream {
  /** The name the backend introduced itself with. */
  readonly backend: string;
  /** Sends `bytes` bytes and resolves once they have come back. */
  send(bytes: number): Promise<void>;
  /** Half-closes, waits for the backend to finish and the socket to close; checks every byte came back in order. */
  finish(): Promise<void>;
  readonly socket: net.Socket;
}

const DEFAULT_WAIT_MS = 10_000;

/** Opens a stream through the router for `sni`; rejects if the router closes it before a backend answers. */
export async function openStream(port: number, sni: string | null, timeoutMs = DEFAULT_WAIT_MS): Promise<Stream> {
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  socket.setNoDelay(true);
  const chunks: Buffer[] = [];
  let received = 0;
  let isClosed = false;
  let error: Error | null = null;
  let wake: Array<() => void> = [];
  const notify = (): void => {
    const current = wake;
    wake = [];
    for (const fn of current) fn();
  };
  socket.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    received += chunk.length;
    notify();
  });
  socket.on('error', (err) => {
    error = err;
    notify();
  });
  socket.on('end', () => socket.end());
  socket.on('close', () => {
    isClosed = true;
    notify();
  });
  const waitFor = async (probe: () => boolean, what: string): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (probe()) return;
      if (error) throw new Error(`${what}: ${error.message}`);
      if (isClosed) throw new Error(`${what}: closed by the peer after ${received} bytes`);
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`${what}: timed out after ${received} bytes`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        wake.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  };
  const all = (): Buffer => Buffer.concat(chunks);

  const hello = helloFor(sni);
  const sent: Buffer[] = [hello];
  let sentBytes = hello.length;
  socket.write(hello);
  await waitFor(() => all().includes(0x0a), `stream for ${sni ?? '(no SNI)'}`);
  const firstLine = all().subarray(0, all().indexOf(0x0a)).toString();
  const prefix = firstLine.length + 1;
  let counter = 0;

  return {
    backend: firstLine,
    socket,
    async send(bytes) {
      const payload = Buffer.alloc(bytes, 97 + (counter++ % 26));
      sent.push(payload);
      sentBytes += bytes;
      socket.write(payload);
      await waitFor(() => received >= prefix + sentBytes, `echo of ${bytes} bytes`);
    },
    async finish() {
      socket.end();
      const deadline = Date.now() + timeoutMs;
      while (!isClosed && Date.now() < deadline) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, deadline - Date.now());
          wake.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      if (error) throw error;
      if (!isClosed) throw new Error('stream did not close in time');
      const echoed = all().subarray(prefix);
      if (!echoed.equals(Buffer.concat(sent))) throw new Error(`echo mismatch: sent ${sentBytes}, got back ${echoed.length}`);
    },
  };
}

/** One short connection: hello, 100 bytes echoed, close. Resolves with the backend's name. */
export async function oneShot(port: number, sni: string | null): Promise<string> {
  const stream = await openStream(port, sni);
  await stream.send(100);
  await stream.finish();
  return stream.backend;
}

/** Resolves true when the router closes the connection without any backend answering (e.g. no_route). */
export async function isClosedWithoutBackend(port: number, sni: string | null): Promise<boolean> {
  try {
    const stream = await openStream(port, sni, 5_000);
    stream.socket.destroy();
    return false;
  } catch {
    return true;
  }
}

export async function httpRequest(port: number, path: string, method = 'GET'): Promise<{ status: number; body: string; contentType: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { method });
  return { status: response.status, body: await response.text(), contentType: response.headers.get('content-type') ?? '' };
}
