/**
 * Inbound PROXY protocol: real HAProxy in front (`send-proxy-v2`, and `send-proxy` for v1) → router listener with
 * accept_proxy_protocol → capture backend. Our access log and the v2 header we forward carry the original client
 * address (a distinct loopback address, 127.0.0.5), not HAProxy's. An untrusted peer sending a header is refused;
 * a trusted peer without one is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { once } from 'node:events';
import { startTestRouter, type TestRouter } from '../helpers/router-harness.js';
import { startCaptureBackend, type CaptureBackend } from '../helpers/backends.js';
import { buildClientHello, toRecords } from '../helpers/hello-builder.js';
import { hasHaproxy, PEER_MISSING_REASON, startHaproxy, type PeerProcess } from '../helpers/peers.js';
import { freePort } from '../helpers/ports.js';
import { decodeV2 } from '../helpers/proxy-decode.js';
import { encodeProxyHeader } from '../../src/wire/proxy-header.js';

const HELLO = toRecords(buildClientHello({ sni: 'alpha.test', alpn: ['h2'] }));
const CLIENT = '127.0.0.5';

/** Connects from `localAddress`, writes `bytes`, resolves once the router has closed the connection or timed out. */
async function sendFrom(port: number, localAddress: string, bytes: Buffer): Promise<net.Socket> {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress });
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.write(bytes);
  return socket;
}

describe.skipIf(!hasHaproxy())(`inbound PROXY from HAProxy ${hasHaproxy() ? '' : PEER_MISSING_REASON.haproxy}`, () => {
  let haproxy: PeerProcess;
  let router: TestRouter;
  let backend: CaptureBackend;
  let v2Port: number;
  let v1Port: number;

  beforeAll(async () => {
    backend = await startCaptureBackend();
    router = await startTestRouter(`
listen:
  - address: "127.0.0.1:0"
    accept_proxy_protocol: { trusted: ["127.0.0.1/32", "::1/128"] }
proxy_protocol: v2
routes:
  alpha.test: [127.0.0.1:${backend.port}]
`);
    v2Port = await freePort();
    v1Port = await freePort();
    haproxy = await startHaproxy(
      `
defaults
  mode tcp
  timeout connect 2s
  timeout client 5s
  timeout server 5s
listen v2
  bind 127.0.0.1:${v2Port}
  server router 127.0.0.1:${router.port()} send-proxy-v2
listen v1
  bind 127.0.0.1:${v1Port}
  server router 127.0.0.1:${router.port()} send-proxy
`,
      { readyPorts: [v2Port, v1Port] },
    );
  });

  afterAll(async () => {
    await haproxy?.stop();
    await router?.stop();
    await backend?.close();
  });

  it.each([
    ['send-proxy-v2', () => v2Port],
    ['send-proxy (v1)', () => v1Port],
  ])('%s: the access log and the header we forward carry the original client address', async (_name, port) => {
    const index = backend.connections.length;
    const client = await sendFrom(port(), CLIENT, HELLO);
    const received = await backend.receivedAtLeast(index, HELLO.length + 16);
    const header = decodeV2(received);
    const clientPort = client.localPort;
    expect(header.source).toEqual({ address: CLIENT, port: clientPort });
    // The destination is the address the client reached: HAProxy's frontend.
    expect(header.destination).toEqual({ address: '127.0.0.1', port: port() });
    expect(received.subarray(header.headerLength).equals(HELLO)).toBe(true);
    client.destroy();
    const line = await router.waitForAccessLine((l) => l.client === `${CLIENT}:${clientPort}`);
    expect(line).toMatchObject({ sni: 'alpha.test', route: 'alpha.test' });
    // bytes_in counts what was forwarded: the hello, not the inbound header.
    expect(line.bytes_in).toBe(HELLO.length);
  });

  it('refuses an untrusted peer that sends a header (never trusted), before reading it', async () => {
    const forged = encodeProxyHeader('v2', { source: { address: '203.0.113.66', port: 1234 }, destination: { address: '127.0.0.1', port: 443 } });
    const before = backend.connections.length;
    const socket = await sendFrom(router.port(), '127.0.0.3', Buffer.concat([forged, HELLO]));
    await once(socket, 'close');
    const line = await router.waitForAccessLine((l) => String(l.client).startsWith('127.0.0.3:'));
    expect(line).toMatchObject({ reason: 'proxy_rejected', backend: null });
    expect(String(line.detail)).toMatch(/not in accept_proxy_protocol.trusted/);
    expect(backend.connections.length).toBe(before);
  });

  it('refuses a trusted peer that sends no header (a ClientHello straight away)', async () => {
    const socket = await sendFrom(router.port(), '127.0.0.1', HELLO);
    const localPort = socket.localPort;
    await once(socket, 'close');
    const line = await router.waitForAccessLine((l) => l.client === `127.0.0.1:${localPort}`);
    expect(line).toMatchObject({ reason: 'proxy_rejected' });
    expect(String(line.detail)).toMatch(/no PROXY header from a trusted peer: not_proxy/);
  });

  it('refuses a malformed header from a trusted peer', async () => {
    const socket = await sendFrom(router.port(), '127.0.0.1', Buffer.from('PROXY TCP4 1.2.3.999 127.0.0.1 1 2\r\n'));
    const localPort = socket.localPort;
    await once(socket, 'close');
    const line = await router.waitForAccessLine((l) => l.client === `127.0.0.1:${localPort}`);
    expect(line).toMatchObject({ reason: 'proxy_rejected', detail: 'malformed PROXY header: v1_bad_address' });
  });

  it('a v2 LOCAL header (a balancer health check) keeps the real peer address', async () => {
    const local = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, 0x20, 0x00, 0x00, 0x00]);
    const index = backend.connections.length;
    const socket = await sendFrom(router.port(), '127.0.0.1', Buffer.concat([local, HELLO]));
    const received = await backend.receivedAtLeast(index, HELLO.length + 16);
    expect(decodeV2(received).source).toEqual({ address: '127.0.0.1', port: socket.localPort });
    socket.destroy();
  });
});
