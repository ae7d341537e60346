/**
 * Slowloris: 5,000 connections (100 from each of 50 loopback addresses) send half a ClientHello and stall. While
 * they are all open, good clients are still routed promptly: we measure connect → backend answer for 50 of them
 * and state the latency. Then every stalled connection is closed by the hello timeout (reason hello_timeout).
 * Router and clients share this process's event loop, which is the harder case for the router.
 */
import { afterAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { once } from 'node:events';
import { startTestRouter, type TestRouter } from '../helpers/router-harness.js';
import { buildClientHello, toRecords } from '../helpers/hello-builder.js';

const STALLED = 5_000;
const ADDRESSES = 50;
const GOOD_CLIENTS = 50;
const HELLO = toRecords(buildClientHello({ sni: 'app.test', alpn: ['h2', 'http/1.1'] }));
const HALF_HELLO = HELLO.subarray(0, Math.floor(HELLO.length / 2));
const CLIENT_HELLO_TIMEOUT_MS = 10_000;

let router: TestRouter | null = null;
let backend: net.Server | null = null;
const sockets = new Set<net.Socket>();

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await router?.stop();
  await new Promise<void>((resolve) => (backend ? backend.close(() => resolve()) : resolve()));
});

function stalledClient(port: number, localAddress: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress });
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('connect', () => {
      socket.write(HALF_HELLO);
      resolve(socket);
    });
    socket.once('close', () => {
      sockets.delete(socket);
      reject(new Error('closed before connecting'));
    });
  });
}

/** A good client: full hello, resolves with ms from connect start to the backend's answer. */
function goodClient(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.200' });
    socket.on('error', reject);
    socket.once('connect', () => socket.write(HELLO));
    socket.once('data', () => {
      resolve(performance.now() - started);
      socket.destroy();
    });
  });
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

describe('slowloris', () => {
  it('5,000 stalled half-hellos do not starve good clients, and all are closed by the hello timeout', async () => {
    backend = net.createServer((socket) => {
      socket.on('error', () => {});
      socket.once('data', () => socket.write('ok'));
    });
    backend.listen(0, '127.0.0.1');
    await once(backend, 'listening');
    const backendPort = (backend.address() as net.AddressInfo).port;
    router = await startTestRouter(`
listen: ["127.0.0.1:0"]
proxy_protocol: none
timeouts: { client_hello: ${CLIENT_HELLO_TIMEOUT_MS}ms }
routes:
  app.test: [127.0.0.1:${backendPort}]
`);
    const port = router.port();
    const baseline = await goodClient(port);

    const openStarted = performance.now();
    const stalled: net.Socket[] = [];
    const closed: Array<Promise<void>> = [];
    // 250 connects in flight at a time; 100 per address from 127.0.1.1 … 127.0.1.50.
    for (let i = 0; i < STALLED; i += 250) {
      const batch = await Promise.all(Array.from({ length: 250 }, (_, j) => stalledClient(port, `127.0.1.${((i + j) % ADDRESSES) + 1}`)));
      for (const socket of batch) {
        stalled.push(socket);
        closed.push(new Promise((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve()))));
      }
    }
    const openMs = performance.now() - openStarted;
    expect(stalled).toHaveLength(STALLED);
    // Every stalled connection has reached the router and is waiting in its hello phase.
    const deadline = Date.now() + 10_000;
    while (router.router.activeConnections < STALLED && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(router.router.activeConnections).toBeGreaterThanOrEqual(STALLED);

    // Good clients while all 5,000 stall.
    const latencies: number[] = [];
    for (let i = 0; i < GOOD_CLIENTS; i++) latencies.push(await goodClient(port));
    const sorted = [...latencies].sort((a, b) => a - b);
    const stalledStillOpen = stalled.filter((socket) => !socket.destroyed).length;
    const summary = {
      baseline_ms: Math.round(baseline * 10) / 10,
      open_5000_ms: Math.round(openMs),
      good_p50_ms: Math.round(percentile(sorted, 50) * 10) / 10,
      good_p99_ms: Math.round(percentile(sorted, 99) * 10) / 10,
      good_max_ms: Math.round((sorted.at(-1) ?? NaN) * 10) / 10,
      stalled_open_while_measuring: stalledStillOpen,
    };
    console.log(`slowloris: ${JSON.stringify(summary)}`);
    expect(stalledStillOpen).toBe(STALLED);
    expect(percentile(sorted, 50)).toBeLessThan(100);
    expect(sorted.at(-1)).toBeLessThan(1_000);

    // The hello timeout closes every stalled connection.
    const closeStarted = performance.now();
    await Promise.all(closed);
    console.log(`slowloris: all ${STALLED} stalled connections closed ${Math.round(performance.now() - closeStarted)} ms after measuring`);
    const timeouts = router.accessLines().filter((l) => l.reason === 'hello_timeout');
    expect(timeouts).toHaveLength(STALLED);
    expect(router.accessLines().filter((l) => l.reason === 'done' || l.reason === 'client_reset').length).toBeLessThanOrEqual(GOOD_CLIENTS + 1);
  }, 40_000);
});
