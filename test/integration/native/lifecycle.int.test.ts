/**
 * A spliced connection's life on the native plane: half-close each way, RST passed on each way, connect retry over
 * the backend order, hello and idle timeouts. Real sockets on 127.0.0.1; no descriptor may outlive the file.
 */
import { describe, expect, it } from 'vitest';
import { once } from 'node:events';
import type net from 'node:net';
import { deadPort, startCaptureBackend, type CaptureBackend } from '../../helpers/backends.js';
import { collect, connectRaw } from '../../helpers/clients.js';
import { buildClientHello, toRecords } from '../../helpers/hello-builder.js';
import type { RouteEntry } from './harness.js';
import { addon, registerCleanupsAndLeakCheck, startTestPlane, type TestPlane } from './harness.js';

const HELLO = toRecords(buildClientHello({ sni: 'app.test' }), 'one');
const cleanups = registerCleanupsAndLeakCheck();

async function setup(
  onBackend?: (socket: net.Socket) => void,
  route: Partial<RouteEntry> = {},
  helloTimeoutMs?: number,
): Promise<{ routed: TestPlane; backend: CaptureBackend }> {
  const backend = await startCaptureBackend(onBackend);
  cleanups.push(() => backend.close());
  const routed = startTestPlane({
    routes: { 'app.test': { backends: [{ host: '127.0.0.1', port: backend.port }], header: 'none', ...route } },
    ...(helloTimeoutMs === undefined ? {} : { helloTimeoutMs }),
  });
  cleanups.push(() => routed.destroy());
  return { routed, backend };
}

function errorOf(socket: net.Socket): Promise<NodeJS.ErrnoException | null> {
  return new Promise((resolve) => {
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error));
    socket.once('close', () => resolve(null));
  });
}

describe.skipIf(addon === null)('native plane: connection life', () => {
  it('client half-close: the backend sees EOF and still answers', async () => {
    const { routed, backend } = await setup((socket) => socket.on('end', () => socket.end('answer after your FIN')));
    const client = await connectRaw(routed.port);
    const result = collect(client);
    client.end(Buffer.concat([HELLO, Buffer.from('request')]));
    const { data, hadError } = await result;
    expect(hadError).toBe(false);
    expect(data.toString()).toBe('answer after your FIN');
    expect(backend.connections[0]!.received().equals(Buffer.concat([HELLO, Buffer.from('request')]))).toBe(true);
    expect((await routed.closedEvent(0)).event).toMatchObject({ reason: 'done', bytesOut: 21 });
  });

  it('backend half-close: the client sees EOF and can still send', async () => {
    const { routed, backend } = await setup((socket) => socket.end('bye first'));
    const client = await connectRaw(routed.port);
    const closed = once(client, 'close');
    client.write(HELLO);
    const chunks: Buffer[] = [];
    client.on('data', (chunk: Buffer) => chunks.push(chunk));
    await once(client, 'end');
    expect(Buffer.concat(chunks).toString()).toBe('bye first');
    client.end('after your FIN');
    await backend.receivedAtLeast(0, HELLO.length + 14);
    await closed;
    expect(backend.connections[0]!.received().subarray(HELLO.length).toString()).toBe('after your FIN');
    expect((await routed.closedEvent(0)).event.reason).toBe('done');
  });

  it('a client reset is passed on to the backend as a reset (client_reset)', async () => {
    const { routed, backend } = await setup(() => {});
    const client = await connectRaw(routed.port);
    client.on('error', () => {});
    client.write(HELLO);
    const connection = await backend.connection(0);
    await backend.receivedAtLeast(0, HELLO.length);
    const backendError = errorOf(connection.socket);
    client.resetAndDestroy();
    expect((await backendError)?.code).toBe('ECONNRESET');
    expect((await routed.closedEvent(0)).event.reason).toBe('client_reset');
  });

  it('a backend reset is passed on to the client as a reset (backend_reset)', async () => {
    const { routed, backend } = await setup(() => {});
    const client = await connectRaw(routed.port);
    const clientError = errorOf(client);
    client.write(HELLO);
    const connection = await backend.connection(0);
    await backend.receivedAtLeast(0, HELLO.length);
    connection.socket.resetAndDestroy();
    expect((await clientError)?.code).toBe('ECONNRESET');
    expect((await routed.closedEvent(0)).event.reason).toBe('backend_reset');
  });

  it('retries the next backend when the first refuses', async () => {
    const refused = await deadPort();
    const { routed, backend } = await setup(undefined, {});
    const retrying = startTestPlane({
      routes: { 'app.test': { backends: [{ host: '127.0.0.1', port: refused }, { host: '127.0.0.1', port: backend.port }], header: 'none' } },
    });
    cleanups.push(() => retrying.destroy());
    routed.destroy();
    const client = await connectRaw(retrying.port);
    const result = collect(client);
    client.end(HELLO);
    await result;
    expect(backend.connections[0]!.received().equals(HELLO)).toBe(true);
    expect((await retrying.closedEvent(0)).event).toMatchObject({ reason: 'done', backendIndex: 1, tries: 2 });
    expect(retrying.plane.stats().connectFailures).toBe(1);
  });

  it('closes with backend_unavailable when every backend refuses', async () => {
    const routed = startTestPlane({
      routes: { 'app.test': { backends: [{ host: '127.0.0.1', port: await deadPort() }, { host: '127.0.0.1', port: await deadPort() }] } },
    });
    cleanups.push(() => routed.destroy());
    const client = await connectRaw(routed.port);
    const result = collect(client);
    client.write(HELLO);
    await result;
    expect((await routed.closedEvent(0)).event).toMatchObject({ reason: 'backend_unavailable', tries: 2, backendIndex: -1 });
  });

  it('closes with hello_timeout when the hello does not complete in time', async () => {
    const { routed } = await setup(undefined, {}, 150);
    const client = await connectRaw(routed.port);
    const result = collect(client);
    client.write(HELLO.subarray(0, 20));
    await result;
    const { event } = await routed.closedEvent(0);
    expect(event.reason).toBe('hello_timeout');
    expect(event.durationMs).toBeGreaterThanOrEqual(140);
  });

  it('closes with idle_timeout when no byte moves either way for the idle timeout', async () => {
    const { routed, backend } = await setup(() => {}, { idleTimeoutMs: 200 });
    const client = await connectRaw(routed.port);
    const result = collect(client);
    client.write(HELLO);
    await backend.receivedAtLeast(0, HELLO.length);
    // Activity inside the window keeps it open: one more exchange, then silence.
    backend.connections[0]!.socket.write('pong');
    await result;
    const { event } = await routed.closedEvent(0);
    expect(event).toMatchObject({ reason: 'idle_timeout', bytesOut: 4 });
    expect(event.durationMs).toBeGreaterThanOrEqual(190);
    // Timer wheel regression: a deadline re-armed for "now" by a firing callback went into the slot being
    // processed and waited a whole turn of the wheel (41 s). The wheel now moves past the tick before firing it.
    expect(event.durationMs).toBeLessThan(5_000);
  });

  it('destroy() closes every connection with reason shutdown and leaves no listener', async () => {
    const { routed } = await setup(() => {});
    const client = await connectRaw(routed.port);
    const result = collect(client);
    client.write(HELLO);
    while (routed.plane.connections()[0]?.state !== 'splicing') await new Promise<void>((resolve) => setImmediate(resolve));
    routed.destroy();
    await result;
    expect(routed.closed.map((c) => c.event.reason)).toEqual(['shutdown']);
  });
});
