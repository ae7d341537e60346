/**
 * Kill a backend mid-test: new connections keep succeeding on the others (passive health retries and marks it
 * down, active checks confirm), its down state is logged once; bring it back on the same port: active checks
 * restore it and it gets connections again. Plain (non-TLS) connections go to the default pool, so each client
 * is one line each way.
 */
import { afterEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import { once } from 'node:events';
import { startTestRouter } from '../helpers/router-harness.js';
import { deadPort } from '../helpers/backends.js';
import { buildClientHello, toRecords } from '../helpers/hello-builder.js';

interface NamedBackend {
  readonly name: string;
  port: number;
  served: number;
  close(): Promise<void>;
}

/** A TCP server that answers every connection with its name and closes. */
async function startNamedBackend(name: string, port = 0): Promise<NamedBackend> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    backend.served++;
    socket.end(`${name}\n`);
  });
  const backend: NamedBackend = {
    name,
    port,
    served: 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  backend.port = (server.address() as net.AddressInfo).port;
  return backend;
}

/**
 * One client through the router: sends a line (or a ClientHello for `sni`), resolves with what came back ('' when
 * closed without an answer).
 */
function ask(port: number, sni?: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
    socket.on('error', () => {});
    socket.on('close', () => resolve(text.trim()));
    socket.on('connect', () => socket.write(sni === undefined ? 'ping\n' : toRecords(buildClientHello({ sni }))));
  });
}

async function askMany(port: number, count: number): Promise<string[]> {
  const answers: string[] = [];
  // A few at a time: realistic, and kind to a loaded machine.
  for (let i = 0; i < count; i += 10) answers.push(...(await Promise.all(Array.from({ length: Math.min(10, count - i) }, () => ask(port)))));
  return answers;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('backend health', () => {
  it('keeps serving when a backend dies, logs it once, and active checks bring it back', async () => {
    const backends = [await startNamedBackend('a'), await startNamedBackend('b'), await startNamedBackend('c')];
    cleanups.push(async () => {
      for (const backend of backends) await backend.close();
    });
    const router = await startTestRouter(`
listen: ["127.0.0.1:0"]
proxy_protocol: none
timeouts: { connect: 1s }
default:
  backends: [${backends.map((b) => `127.0.0.1:${b.port}`).join(', ')}]
  health: { interval: 100ms, timeout: 500ms, rise: 2, fall: 2 }
`);
    cleanups.push(() => router.stop());
    const port = router.port();

    const before = await askMany(port, 30);
    expect(before.filter((a) => a === '').length).toBe(0);
    expect(new Set(before)).toEqual(new Set(['a', 'b', 'c']));

    // Kill b mid-test.
    const b = backends[1]!;
    const bPort = b.port;
    await b.close();
    const during = await askMany(port, 60);
    expect(during.filter((a) => a === '')).toEqual([]); // every client still served
    expect(during.filter((a) => a === 'b')).toEqual([]);
    expect(new Set(during)).toEqual(new Set(['a', 'c']));
    await router.waitForLog((l) => l.msg === 'backend down' && l.backend === `127.0.0.1:${bPort}`);
    // Logged once per change, not once per connection.
    expect(router.logs.filter((l) => l.msg === 'backend down' && l.backend === `127.0.0.1:${bPort}`)).toHaveLength(1);
    expect(router.accessLines().filter((l) => l.reason === 'backend_unavailable')).toEqual([]);

    // Bring b back on the same port: the checks (rise 2) restore it.
    backends[1] = await startNamedBackend('b', bPort);
    await router.waitForLog((l) => l.msg === 'backend up' && l.backend === `127.0.0.1:${bPort}`);
    const after = await askMany(port, 30);
    expect(after.filter((a) => a === '')).toEqual([]);
    expect(after.filter((a) => a === 'b').length).toBeGreaterThanOrEqual(5);
  });

  it('without active checks, a refused backend is skipped for its back-off and clients never see the failure', async () => {
    const alive = await startNamedBackend('alive');
    cleanups.push(() => alive.close());
    const dead = await deadPort();
    const router = await startTestRouter(`
listen: ["127.0.0.1:0"]
proxy_protocol: none
default: [127.0.0.1:${dead}, 127.0.0.1:${alive.port}]
`);
    cleanups.push(() => router.stop());
    const answers = await askMany(router.port(), 40);
    expect(new Set(answers)).toEqual(new Set(['alive']));
    // Without health, round-robin would dial the dead backend for every other connection (20 of 40). Marked down
    // at its first refusal, it is skipped during the back-off; only connections already dialing it concurrently
    // (at most one batch of 10) or a trial after the back-off on a very slow machine can still hit it.
    const failedAttempts = router.logs.filter((l) => l.msg === 'backend attempt failed').length;
    expect(failedAttempts).toBeGreaterThanOrEqual(1);
    expect(failedAttempts).toBeLessThan(10);
    expect(router.logs.filter((l) => l.msg === 'backend down')).toHaveLength(1);
  });

  it('a pool whose backends are all down uses the route fallback pool; without one, closes with backend_unavailable', async () => {
    const spare = await startNamedBackend('spare');
    cleanups.push(() => spare.close());
    const [deadA, deadB] = [await deadPort(), await deadPort()];
    const router = await startTestRouter(`
listen: ["127.0.0.1:0"]
proxy_protocol: none
routes:
  with-fallback.test:
    backends: [127.0.0.1:${deadA}]
    fallback: [127.0.0.1:${spare.port}]
default: [127.0.0.1:${deadB}]
`);
    cleanups.push(() => router.stop());
    const firstAnswer = await ask(router.port(), 'with-fallback.test');
    expect(firstAnswer).toBe('spare');
    const served = await router.waitForAccessLine((l) => l.route === "with-fallback.test");
    expect(served).toMatchObject({ reason: 'done', pool: 'fallback', backend: `127.0.0.1:${spare.port}` });
    // Now the route's only backend is marked down: the next client goes straight to the fallback.
    expect(await ask(router.port(), 'with-fallback.test')).toBe('spare');
    expect(router.logs.filter((l) => l.msg === 'backend attempt failed' && l.backend === `127.0.0.1:${deadA}`)).toHaveLength(1);
    // Non-TLS goes to the default pool, which has no fallback.
    expect(await ask(router.port())).toBe('');
    const line = await router.waitForAccessLine((l) => l.reason === 'backend_unavailable');
    expect(String(line.detail)).toMatch(/ECONNREFUSED/);
  });
});
