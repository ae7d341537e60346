/**
 * Limits at accept, through real sockets from distinct loopback addresses: the (N+1)th connection from one
 * address is refused while other addresses still connect and are routed; refusals are logged once per second,
 * not once per connection; hello-phase caps refuse per address and evict the oldest stalled hello at the total.
 */
import { afterEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import { waitFor } from '../helpers/wait-for.js';
import { startTestRouter, type TestRouter } from '../helpers/router-harness.js';
import { startCaptureBackend, type CaptureBackend } from '../helpers/backends.js';
import { connectFrom } from '../helpers/clients.js';
import { buildClientHello, toRecords } from '../helpers/hello-builder.js';

const HELLO = toRecords(buildClientHello({ sni: 'app.test' }));

/** Resolves true when the router closes the socket within `ms` (a refusal), false if it stays open. */
function closesWithin(socket: net.Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve(true);
    const timer = setTimeout(() => resolve(false), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
    socket.resume();
  });
}

const open: net.Socket[] = [];
let router: TestRouter | null = null;
let backend: CaptureBackend | null = null;
afterEach(async () => {
  for (const socket of open.splice(0)) socket.destroy();
  await router?.stop();
  await backend?.close();
  router = null;
  backend = null;
});

describe('connection limits', () => {
  it('max_connections_per_client: the 4th connection from 127.0.0.2 is refused while 127.0.0.3 connects', async () => {
    backend = await startCaptureBackend(() => {}); // holds connections open
    router = await startTestRouter(`
listen:
  - { address: "127.0.0.1:0", max_connections: 50, max_connections_per_client: 3 }
proxy_protocol: none
routes:
  app.test: [127.0.0.1:${backend.port}]
`);
    const port = router.port();
    for (let i = 0; i < 3; i++) {
      const socket = await connectFrom(port, '127.0.0.2');
      socket.write(HELLO);
      open.push(socket);
    }
    await backend.connection(2);
    const fourth = await connectFrom(port, '127.0.0.2');
    open.push(fourth);
    expect(await closesWithin(fourth, 2_000)).toBe(true);

    const other = await connectFrom(port, '127.0.0.3');
    open.push(other);
    other.write(HELLO);
    const routed = await backend.receivedAtLeast(3, HELLO.length);
    expect(routed.equals(HELLO)).toBe(true);

    // Ten more refusals within the second: one log line (with a count), no access lines for refused sockets.
    for (let i = 0; i < 10; i++) {
      const socket = await connectFrom(port, '127.0.0.2');
      open.push(socket);
      expect(await closesWithin(socket, 2_000)).toBe(true);
    }
    const refusals = router.logs.filter((l) => l.msg === 'connection refused by a limit');
    expect(refusals.length).toBeLessThanOrEqual(2);
    expect(refusals[0]).toMatchObject({ limit: 'max_connections_per_client', client: '127.0.0.2', reason: 'limit' });
    expect(router.accessLines()).toHaveLength(0);

    // One of the three leaves: 127.0.0.2 may connect again.
    open[0]!.destroy();
    backend.connections[0]!.socket.destroy();
    await router.waitForAccessLine((l) => String(l.client).startsWith('127.0.0.2:'));
    const again = await connectFrom(port, '127.0.0.2');
    open.push(again);
    again.write(HELLO);
    await backend.connection(4);
  });

  it('max_connections caps the listener whatever the address', async () => {
    backend = await startCaptureBackend(() => {});
    router = await startTestRouter(`
listen: [{ address: "127.0.0.1:0", max_connections: 2 }]
proxy_protocol: none
routes: { app.test: [127.0.0.1:${backend.port}] }
`);
    for (const address of ['127.0.0.2', '127.0.0.3']) {
      const socket = await connectFrom(router.port(), address);
      socket.write(HELLO);
      open.push(socket);
    }
    await backend.connection(1);
    const third = await connectFrom(router.port(), '127.0.0.4');
    open.push(third);
    expect(await closesWithin(third, 2_000)).toBe(true);
    expect(router.logs.find((l) => l.msg === 'connection refused by a limit')).toMatchObject({ limit: 'max_connections' });
  });

  it('hello phase: a per-address cap refuses more stalled hellos; the total cap evicts the oldest (reason limit)', async () => {
    backend = await startCaptureBackend();
    router = await startTestRouter(`
listen: ["127.0.0.1:0"]
proxy_protocol: none
limits: { max_hello_connections: 4, max_hello_connections_per_client: 2 }
routes: { app.test: [127.0.0.1:${backend.port}] }
`);
    const port = router.port();
    const stalled = [await connectFrom(port, '127.0.0.2'), await connectFrom(port, '127.0.0.2')];
    open.push(...stalled);
    const oldestPort = stalled[0]!.localPort;
    // A stalled hello logs nothing until it ends: a bounded poll of the open count.
    await waitFor(() => router!.router.activeConnections === 2, 'two stalled hellos');
    const third = await connectFrom(port, '127.0.0.2');
    open.push(third);
    expect(await closesWithin(third, 2_000)).toBe(true);
    expect(router.logs.find((l) => l.msg === 'connection refused by a limit')).toMatchObject({ limit: 'max_hello_connections_per_client' });

    // Fill the total (4) from other addresses, then one more: the oldest stalled hello (127.0.0.2) is evicted.
    open.push(await connectFrom(port, '127.0.0.3'), await connectFrom(port, '127.0.0.4'));
    await waitFor(() => router!.router.activeConnections === 4, 'four stalled hellos');
    const good = await connectFrom(port, '127.0.0.5');
    open.push(good);
    good.write(HELLO);
    expect(await closesWithin(stalled[0]!, 2_000)).toBe(true);
    const evicted = await router.waitForAccessLine((l) => l.reason === 'limit');
    expect(evicted.client).toBe(`127.0.0.2:${oldestPort}`);
    expect(String(evicted.detail)).toMatch(/oldest unfinished hello/);
    await backend.receivedAtLeast(0, HELLO.length); // the new client was routed
  });
});
