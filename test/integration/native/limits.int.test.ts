/**
 * Accept under pressure on the native plane. EMFILE: a plane in a child process (which routes every connection
 * as soon as it is accepted) with a low descriptor limit
 * (prlimit) stops accepting when accept4 fails, reports it once, and serves again once descriptors are free,
 * instead of spinning on a queue it cannot serve or dying. SO_REUSEPORT: two planes (as two workers would) bind
 * the same address and port.
 */
import { describe, expect, it } from 'vitest';
import net from 'node:net';
import { once } from 'node:events';
import { startCaptureBackend } from '../../helpers/backends.js';
import { buildClientHello, toRecords } from '../../helpers/hello-builder.js';
import { addon, registerCleanupsAndLeakCheck, startPlaneChild, startTestPlane } from './harness.js';

const HELLO = toRecords(buildClientHello({ sni: 'limits.test' }), 'one');
/** Enough for node's own descriptors plus a handful of connections. */
const CHILD_MAX_OPEN_FILES = 40;
const cleanups = registerCleanupsAndLeakCheck();

async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

describe.skipIf(addon === null)('native plane: accept limits', () => {
  it('stops accepting on EMFILE, reports it once, and resumes when descriptors are free', async () => {
    const backend = await startCaptureBackend();
    cleanups.push(() => backend.close());
    const child = await startPlaneChild(backend.port, CHILD_MAX_OPEN_FILES);
    cleanups.push(() => child.stop());
    // Silent clients: each holds descriptors in the child (its socket and its backend's) until accept4 fails.
    const silent: net.Socket[] = [];
    cleanups.push(() => silent.forEach((socket) => socket.destroy()));
    for (let i = 0; i < CHILD_MAX_OPEN_FILES + 10; i++) {
      const socket = net.connect(child.port, '127.0.0.1');
      socket.on('error', () => {});
      silent.push(socket);
      await once(socket, 'connect');
    }
    await until(async () => ((await child.stats()).emfilePauses === 1 ? true : undefined), 'the emfile pause');
    const paused = await child.stats();
    expect(paused.emfilePauses).toBe(1); // once per pause, not once per failed accept4
    for (const socket of silent) socket.destroy();
    // After the 2 s back-off the queued connections are accepted (and closed: they left), then a real one is served.
    await until(async () => ((await child.stats()).openConnections === 0 ? true : undefined), 'the silent clients to be gone');
    const client = net.connect({ port: child.port, host: '127.0.0.1', allowHalfOpen: true });
    cleanups.push(() => void client.destroy());
    client.on('error', () => {});
    await once(client, 'connect');
    client.write(HELLO);
    // The child routes every connection at accept, silent ones too: find the one that carried the hello.
    await until(async () => (backend.connections.some((c) => c.received().equals(HELLO)) ? true : undefined), 'the hello at the backend');
    client.destroy();
    expect((await child.stats()).accepted).toBeGreaterThan(CHILD_MAX_OPEN_FILES / 2);
  });

  it('lets two planes listen on the same address and port with reusePort (one per worker)', async () => {
    const first = startTestPlane({ routes: {} });
    cleanups.push(() => first.destroy());
    const shared = first.plane.listen({ host: '127.0.0.1', port: 0, reusePort: true });
    const second = startTestPlane({ routes: {} });
    cleanups.push(() => second.destroy());
    expect(second.plane.listen({ host: '127.0.0.1', port: shared.port, reusePort: true }).port).toBe(shared.port);
    // Without it, the same bind is refused.
    expect(() => second.plane.listen({ host: '127.0.0.1', port: shared.port })).toThrow(expect.objectContaining({ code: 'EADDRINUSE' }));
  });
});
