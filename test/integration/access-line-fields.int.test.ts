/**
 * The access line's fields for people reading logs, over real sockets: IPv6 clients written `[::1]:port`, what the
 * first bytes were (`hello`), every backend dialed (`backends_tried`) and how long connecting took (`connect_ms`),
 * a backend that closes before its first byte (`backend_closed_early`), and terminate mode's wire byte counts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import tls from 'node:tls';
import path from 'node:path';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { startTestRouter, type TestRouter } from '../helpers/router-harness.js';
import { CA_FILE, CERT_DIR, deadPort, startCaptureBackend } from '../helpers/backends.js';
import { collect, connectRaw } from '../helpers/clients.js';
import { buildClientHello, toRecords } from '../helpers/hello-builder.js';

const HELLO = toRecords(buildClientHello({ sni: 'app.test' }), 'one');

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function router(yaml: string): Promise<TestRouter> {
  const started = await startTestRouter(yaml);
  cleanups.push(() => started.stop());
  return started;
}

async function captureBackend(handler?: (socket: net.Socket) => void): Promise<{ label: string }> {
  const backend = await startCaptureBackend(handler);
  cleanups.push(() => backend.close());
  return backend;
}

/** Sends `bytes`, half-closes, and waits for the router to close the connection. */
async function exchange(port: number, bytes: Buffer, host = '127.0.0.1'): Promise<Buffer> {
  const client = await connectRaw(port, host);
  const result = collect(client);
  client.end(bytes);
  return (await result).data;
}

describe('access line fields', () => {
  it('an IPv6 client is written [::1]:port, so the port reads as one', async () => {
    const backend = await captureBackend((socket) => socket.end('ok'));
    const started = await router(`listen: ["[::1]:0"]\nroutes:\n  app.test: [${backend.label}]\n`);
    const client = await connectRaw(started.port(), '::1');
    const localPort = client.localPort;
    const result = collect(client);
    client.end(HELLO);
    await result;
    const line = await started.waitForAccessLine(() => true);
    expect(line.client).toBe(`[::1]:${localPort}`);
  });

  it('hello says sni, no_sni or not_tls', async () => {
    const backend = await captureBackend((socket) => socket.end('ok'));
    const started = await router(`listen: ["127.0.0.1:0"]\nroutes:\n  app.test: [${backend.label}]\ndefault: [${backend.label}]\n`);
    await exchange(started.port(), HELLO);
    await exchange(started.port(), toRecords(buildClientHello({ sni: null }), 'one'));
    await exchange(started.port(), Buffer.from('GET / HTTP/1.1\r\nHost: app.test\r\n\r\n'));
    await started.waitForAccessLine(() => started.accessLines().length === 3);
    const byHello = started.accessLines().map((line) => [line.hello, line.route, line.reason]);
    expect(byHello).toEqual([
      ['sni', 'app.test', 'done'],
      ['no_sni', 'default', 'done'],
      ['not_tls', 'default', 'done'],
    ]);
  });

  it('backends_tried lists every backend dialed in order, connect_ms how long it took', async () => {
    const dead = await deadPort();
    const backend = await captureBackend((socket) => socket.end('ok'));
    const started = await router(`listen: ["127.0.0.1:0"]\nroutes:\n  app.test: [127.0.0.1:${dead}, ${backend.label}]\n`);
    await exchange(started.port(), HELLO);
    const line = await started.waitForAccessLine(() => true);
    expect(line).toMatchObject({ reason: 'done', backend: backend.label, backends_tried: [`127.0.0.1:${dead}`, backend.label] });
    expect(typeof line.connect_ms).toBe('number');
    expect(line.connect_ms as number).toBeGreaterThanOrEqual(0);
  });

  it('when no backend answers: backend null, every backend in backends_tried, connect_ms until the last refusal', async () => {
    const deadA = await deadPort();
    const deadB = await deadPort();
    const started = await router(`listen: ["127.0.0.1:0"]\nroutes:\n  app.test: [127.0.0.1:${deadA}, 127.0.0.1:${deadB}]\n`);
    await exchange(started.port(), HELLO);
    const line = await started.waitForAccessLine(() => true);
    expect(line).toMatchObject({ reason: 'backend_unavailable', backend: null });
    expect([...(line.backends_tried as string[])].sort()).toEqual([`127.0.0.1:${deadA}`, `127.0.0.1:${deadB}`].sort());
    expect(typeof line.connect_ms).toBe('number');
  });

  it('a connection closed before routing has no backends_tried and connect_ms null', async () => {
    const started = await router(`listen: ["127.0.0.1:0"]\nroutes:\n  app.test: [127.0.0.1:9]\n`);
    await exchange(started.port(), Buffer.from('not a hello at all'));
    const line = await started.waitForAccessLine(() => true);
    expect(line).toMatchObject({ reason: 'not_tls', hello: 'not_tls', backends_tried: [], connect_ms: null });
  });

  it('backend_closed_early: the backend accepts, then closes without a byte while the client still talks', async () => {
    // Before, this was logged `done` with bytes_out 0: the line could not be told from a normal exchange.
    const backend = await captureBackend((socket) => socket.end());
    const started = await router(`listen: ["127.0.0.1:0"]\nproxy_protocol: none\nroutes:\n  app.test: [${backend.label}]\n`);
    const client = await connectRaw(started.port());
    const result = collect(client);
    client.write(HELLO);
    await once(client, 'end');
    client.end();
    await result;
    const line = await started.waitForAccessLine(() => true);
    expect(line).toMatchObject({ reason: 'backend_closed_early', backend: backend.label, bytes_out: 0 });
  });

  it('a backend that reads the client to its FIN and closes without answering is done, not closed early', async () => {
    const backend = await captureBackend((socket) => socket.on('end', () => socket.end()));
    const started = await router(`listen: ["127.0.0.1:0"]\nproxy_protocol: none\nroutes:\n  app.test: [${backend.label}]\n`);
    await exchange(started.port(), Buffer.concat([HELLO, Buffer.from('upload')]));
    const line = await started.waitForAccessLine(() => true);
    expect(line).toMatchObject({ reason: 'done', bytes_out: 0 });
  });

  it('terminate mode: bytes_in/bytes_out count plaintext, wire_bytes_in/out the TLS records on the client connection', async () => {
    const backend = await captureBackend((socket) => socket.on('data', () => socket.end('pong')));
    const started = await router(
      `listen: ["127.0.0.1:0"]\nproxy_protocol: none\nroutes:\n  alpha.test:\n    backends: [${backend.label}]\n` +
        `    terminate: { cert: ${path.join(CERT_DIR, 'alpha.test.pem')}, key: ${path.join(CERT_DIR, 'alpha.test.key')} }\n`,
    );
    const socket = tls.connect({ port: started.port(), host: '127.0.0.1', servername: 'alpha.test', ca: readFileSync(CA_FILE) });
    await once(socket, 'secureConnect');
    const received = collect(socket);
    socket.write('ping');
    await received;
    const line = await started.waitForAccessLine(() => true);
    expect(line).toMatchObject({ mode: 'terminate', reason: 'done', bytes_in: 4, bytes_out: 4 });
    // The handshake alone is hundreds of bytes each way (certificate included).
    expect(line.wire_bytes_in as number).toBeGreaterThan(200);
    expect(line.wire_bytes_out as number).toBeGreaterThan(500);
  });
});
