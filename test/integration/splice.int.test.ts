/**
 * The data path: half-close each way, errors on one side closing the other, idle timeout, and connect retry on
 * the next backend of the pool.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import type net from 'node:net';
import { startTestRouter, type TestRouter } from '../helpers/router-harness.js';
import { startCaptureBackend, deadPort, type CaptureBackend } from '../helpers/backends.js';
import { connectRaw, collect } from '../helpers/clients.js';
import { decodeV2 } from '../helpers/proxy-decode.js';
import { buildClientHello, toRecords } from '../helpers/hello-builder.js';

const HELLO = toRecords(buildClientHello({ sni: 'app.test', alpn: ['http/1.1'] }), 'one');

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(backendHandler?: (socket: net.Socket) => void, extra = ''): Promise<{ router: TestRouter; backend: CaptureBackend }> {
  const backend = await startCaptureBackend(backendHandler);
  cleanups.push(() => backend.close());
  const router = await startTestRouter(`listen: ["127.0.0.1:0"]\n${extra}\nroutes:\n  app.test: [${backend.label}]\n`);
  cleanups.push(() => router.stop());
  return { router, backend };
}

describe('splice', () => {
  it('client half-close: the backend sees EOF and can still answer', async () => {
    const { router, backend } = await setup((socket) => {
      socket.on('end', () => socket.end('answer after your FIN'));
    });
    const client = await connectRaw(router.port());
    const result = collect(client);
    client.end(Buffer.concat([HELLO, Buffer.from('request')]));
    const { data, hadError } = await result;
    expect(hadError).toBe(false);
    expect(data.toString()).toBe('answer after your FIN');
    const received = backend.connections[0]!.received();
    const header = decodeV2(received);
    expect(received.subarray(header.headerLength).toString('latin1')).toBe(Buffer.concat([HELLO, Buffer.from('request')]).toString('latin1'));
    const line = await router.waitForAccessLine(() => true);
    expect(line).toMatchObject({ reason: 'done', bytes_in: HELLO.length + 7, bytes_out: 21 });
  });

  it('backend half-close: the client sees EOF and can still send', async () => {
    const { router, backend } = await setup((socket) => {
      socket.end('bye first');
    });
    const client = await connectRaw(router.port());
    client.write(HELLO);
    const chunks: Buffer[] = [];
    client.on('data', (d: Buffer) => chunks.push(d));
    await once(client, 'end');
    expect(Buffer.concat(chunks).toString()).toBe('bye first');
    // Our direction is still open: the backend receives this after it sent its FIN.
    client.end('still talking');
    await backend.connections[0]!.ended;
    expect(backend.connections[0]!.received().toString('latin1').endsWith('still talking')).toBe(true);
    await router.waitForAccessLine((l) => l.reason === 'done');
  });

  it('a backend reset closes the client and is logged as backend_reset', async () => {
    const { router } = await setup((socket) => {
      socket.once('data', () => socket.resetAndDestroy());
    });
    const client = await connectRaw(router.port());
    const result = collect(client);
    client.write(HELLO);
    await result;
    const line = await router.waitForAccessLine(() => true);
    expect(line.reason).toBe('backend_reset');
  });

  it('a client reset closes the backend and is logged as client_reset', async () => {
    const { router, backend } = await setup();
    const client = await connectRaw(router.port());
    client.write(HELLO);
    await backend.receivedAtLeast(0, HELLO.length);
    client.resetAndDestroy();
    await backend.connections[0]!.ended;
    const line = await router.waitForAccessLine(() => true);
    expect(line.reason).toBe('client_reset');
  });

  it('an idle connection is closed after timeouts.idle', async () => {
    const { router } = await setup(undefined, 'timeouts: { idle: 300ms }');
    const client = await connectRaw(router.port());
    const result = collect(client);
    client.write(HELLO);
    const started = Date.now();
    await result;
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect((await router.waitForAccessLine(() => true)).reason).toBe('idle_timeout');
  });

  it('a hello that never completes is closed after timeouts.client_hello', async () => {
    const { router } = await setup(undefined, 'timeouts: { client_hello: 300ms }');
    const client = await connectRaw(router.port());
    const result = collect(client);
    client.write(HELLO.subarray(0, 40));
    await result;
    expect((await router.waitForAccessLine(() => true)).reason).toBe('hello_timeout');
  });

  it('a hello larger than max_hello_bytes is closed as hello_too_large', async () => {
    const { router } = await setup(undefined, 'max_hello_bytes: 1024');
    const big = toRecords(buildClientHello({ sni: 'app.test', padTo: 3000 }), [500, 500, 500, 500, 500]);
    const client = await connectRaw(router.port());
    const result = collect(client);
    client.write(big);
    await result;
    expect((await router.waitForAccessLine(() => true)).reason).toBe('hello_too_large');
  });

  it('a refused backend is retried on the next backend of the pool', async () => {
    const live = await startCaptureBackend();
    cleanups.push(() => live.close());
    const dead = await deadPort();
    const router = await startTestRouter(`listen: ["127.0.0.1:0"]\nroutes:\n  app.test: [127.0.0.1:${dead}, ${live.label}]\n`);
    cleanups.push(() => router.stop());
    for (let i = 0; i < 4; i++) {
      const client = await connectRaw(router.port());
      client.write(HELLO);
      await live.receivedAtLeast(i, HELLO.length);
      client.destroy();
    }
    expect(live.connections.length).toBe(4);
  });

  it('a pool with every backend dead closes the client as backend_unavailable', async () => {
    const [a, b] = [await deadPort(), await deadPort()];
    const router = await startTestRouter(`listen: ["127.0.0.1:0"]\nroutes:\n  app.test: [127.0.0.1:${a}, 127.0.0.1:${b}]\n`);
    cleanups.push(() => router.stop());
    const client = await connectRaw(router.port());
    const result = collect(client);
    client.write(HELLO);
    await result;
    const line = await router.waitForAccessLine(() => true);
    expect(line.reason).toBe('backend_unavailable');
    expect(String(line.detail)).toMatch(/ECONNREFUSED/);
  });

  it('round-robin spreads connections over the pool', async () => {
    const one = await startCaptureBackend();
    const two = await startCaptureBackend();
    cleanups.push(() => one.close(), () => two.close());
    const router = await startTestRouter(`listen: ["127.0.0.1:0"]\nroutes:\n  app.test: [${one.label}, ${two.label}]\n`);
    cleanups.push(() => router.stop());
    for (let i = 0; i < 6; i++) {
      const client = await connectRaw(router.port());
      client.write(HELLO);
      const target = i % 2 === 0 ? one : two;
      await target.receivedAtLeast(Math.floor(i / 2), HELLO.length);
      client.destroy();
    }
    expect([one.connections.length, two.connections.length]).toEqual([3, 3]);
  });
});
