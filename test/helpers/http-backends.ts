/**
 * HTTP backends for HTTP-mode tests: a node `http` server that reports what it received (headers, body size,
 * which of its connections carried the request) and echoes WebSocket frames, and a python `http.server`.
 */
import http from 'node:http';
import net from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { freePort } from './ports.js';

export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly bodyBytes: number;
  readonly connection: number;
}

export interface NodeHttpBackend {
  readonly label: string;
  readonly port: number;
  readonly seen: SeenRequest[];
  /** Connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

/** The page it serves: HTML (for browsers) whose <pre> holds the request as JSON. */
export function requestOfPage(page: string): SeenRequest {
  const match = /<pre>([\s\S]*)<\/pre>/.exec(page);
  if (!match) throw new Error(`not the backend's page: ${page.slice(0, 200)}`);
  return JSON.parse(match[1]!.replace(/&quot;/g, '"').replace(/&amp;/g, '&')) as SeenRequest;
}

export async function startNodeHttpBackend(): Promise<NodeHttpBackend> {
  const seen: SeenRequest[] = [];
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = http.createServer((request, response) => {
    let bodyBytes = 0;
    request.on('data', (chunk: Buffer) => (bodyBytes += chunk.length));
    request.on('end', () => {
      const connection = (request.socket as net.Socket & { testId?: number }).testId ?? -1;
      const record: SeenRequest = { method: request.method ?? '', url: request.url ?? '', headers: request.headers, bodyBytes, connection };
      seen.push(record);
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      response.end(`<html><body><pre>${JSON.stringify(record)}</pre></body></html>\n`);
    });
  });
  server.keepAliveTimeout = 30_000;
  server.on('connection', (socket: net.Socket & { testId?: number }) => {
    socket.testId = accepted++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('upgrade', (request: http.IncomingMessage, socket: net.Socket) => {
    const key = String(request.headers['sec-websocket-key'] ?? '');
    const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    socket.on('data', (frame: Buffer) => {
      const payload = unmask(frame);
      if (payload !== null) socket.write(Buffer.concat([Buffer.from([0x81, payload.length]), payload]));
    });
    socket.on('error', () => undefined);
    socket.on('end', () => socket.end());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  return {
    label: `127.0.0.1:${port}`,
    port,
    seen,
    connections: () => accepted,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A client's masked text frame of under 126 bytes → its payload (null for anything else). */
export function unmask(frame: Buffer): Buffer | null {
  if (frame.length < 6 || (frame[1]! & 0x80) === 0) return null;
  const length = frame[1]! & 0x7f;
  if (length >= 126 || frame.length < 6 + length) return null;
  const mask = frame.subarray(2, 6);
  const payload = Buffer.alloc(length);
  for (let i = 0; i < length; i++) payload[i] = frame[6 + i]! ^ mask[i % 4]!;
  return payload;
}

/** A masked client text frame. */
export function maskedFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const mask = Buffer.from([1, 2, 3, 4]);
  const masked = Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]!));
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]);
}

export interface PythonHttpBackend {
  readonly label: string;
  readonly page: string;
  close(): Promise<void>;
}

/** `python3 -m http.server` over a folder with one index.html; resolves once it accepts connections. */
export async function startPythonHttpBackend(): Promise<PythonHttpBackend> {
  const dir = mkdtempSync(path.join(tmpdir(), 'py-http-'));
  const page = '<html><body><p>hello from python http.server</p></body></html>\n';
  writeFileSync(path.join(dir, 'index.html'), page);
  const port = await freePort();
  const child: ChildProcess = spawn('python3', ['-m', 'http.server', String(port), '--bind', '127.0.0.1', '--directory', dir], { stdio: 'ignore' });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const isUp = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (isUp) break;
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('python3 -m http.server did not start');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    label: `127.0.0.1:${port}`,
    page,
    close: async () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
