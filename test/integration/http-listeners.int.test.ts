/**
 * Plain-HTTP listeners with real curl: `http: redirect` answers 308 to https:// with the right Location (ports,
 * query, IPv6 hosts), 400 without a Host; an ACME HTTP-01 path is routed by Host to the route's pool over plain
 * HTTP with the pool's PROXY v2 header; `http: route` routes by Host like TLS names; a slow client is cut by
 * timeouts.client_hello.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type net from 'node:net';
import { startTestRouter, type TestRouter } from '../helpers/router-harness.js';
import { startCaptureBackend, type CaptureBackend } from '../helpers/backends.js';
import { collect, connectRaw, run } from '../helpers/clients.js';
import { canListen, freePort } from '../helpers/ports.js';
import { decodeV2 } from '../helpers/proxy-decode.js';

const PP2_TYPE_AUTHORITY = 0x02;
const HAS_IPV6 = await canListen('::1');

/** A backend that answers each connection's first request head with `body` and closes, recording what came. */
function answeringBackend(body: string): Promise<CaptureBackend> {
  return startCaptureBackend((socket: net.Socket) => {
    let seen = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      seen = Buffer.concat([seen, chunk]);
      if (seen.includes('\r\n\r\n') && !socket.writableEnded) {
        socket.end(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
      }
    });
  });
}

/** curl with no redirect following; returns status, Location and body. */
async function curlHttp(url: string, extra: readonly string[] = []): Promise<{ status: number; location: string | null; body: string; stderr: string }> {
  const result = await run('curl', ['-sS', '-g', '--max-time', '10', '-D', '-', ...extra, url]);
  const [head = '', ...rest] = result.stdout.split('\r\n\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
  const location = /^location: (.*)$/im.exec(head)?.[1] ?? null;
  return { status, location, body: rest.join('\r\n\r\n'), stderr: result.stderr };
}

describe('plain-HTTP listeners', () => {
  let router: TestRouter;
  let app: CaptureBackend;
  let plain: CaptureBackend;
  let dropping: CaptureBackend;
  let redirectPort: number;
  let redirect8443Port: number;
  let routePort: number;
  let ipv6Port: number | null = null;

  beforeAll(async () => {
    app = await answeringBackend('acme-token-for-app');
    plain = await answeringBackend('plain backend says hi');
    dropping = await startCaptureBackend((socket) => socket.end());
    redirectPort = await freePort();
    redirect8443Port = await freePort();
    routePort = await freePort();
    if (HAS_IPV6) ipv6Port = await freePort('::1');
    router = await startTestRouter(`
listen:
  - { address: "127.0.0.1:${redirectPort}", http: redirect }
  - { address: "127.0.0.1:${redirect8443Port}", http: redirect, https_port: 8443 }
  - { address: "127.0.0.1:${routePort}", http: route }
${ipv6Port !== null ? `  - { address: "[::1]:${ipv6Port}", http: redirect }` : ''}
proxy_protocol: v2
timeouts: { client_hello: 700ms }
routes:
  app.test: [127.0.0.1:${app.port}]
  plain.test:
    backends: [127.0.0.1:${plain.port}]
    proxy_protocol: none
  drop.test:
    backends: [127.0.0.1:${dropping.port}]
    proxy_protocol: none
`);
  });

  afterAll(async () => {
    await router?.stop();
    await app?.close();
    await plain?.close();
    await dropping?.close();
  });

  it('redirect answers 308 to https://HOST/PATH?QUERY, without the port for 443', async () => {
    const answer = await curlHttp(`http://app.test:${redirectPort}/a/b?x=1&y=%20z`, ['--resolve', `app.test:${redirectPort}:127.0.0.1`]);
    expect(answer.status).toBe(308);
    expect(answer.location).toBe('https://app.test/a/b?x=1&y=%20z');
    const line = await router.waitForAccessLine((l) => l.path === '/a/b?x=1&y=%20z');
    expect(line).toMatchObject({ reason: 'redirected', status: 308, mode: 'http_redirect', host: `app.test:${redirectPort}`, backend: null });
    expect(app.connections.length).toBe(0);
  });

  it('redirect to https_port when it is not 443; Host names are lower-cased, their port dropped', async () => {
    const answer = await curlHttp(`http://127.0.0.1:${redirect8443Port}/login`, ['-H', 'Host: WWW.App.Test:80']);
    expect(answer.status).toBe(308);
    expect(answer.location).toBe('https://www.app.test:8443/login');
  });

  it('redirect keeps an IPv6 host in brackets', async () => {
    const answer = await curlHttp(`http://127.0.0.1:${redirectPort}/p?q`, ['-H', 'Host: [2001:db8::7]:80']);
    expect(answer.status).toBe(308);
    expect(answer.location).toBe('https://[2001:db8::7]/p?q');
  });

  it.skipIf(!HAS_IPV6)('redirect on an IPv6 listener, curl to http://[::1]:PORT/', async () => {
    const answer = await curlHttp(`http://[::1]:${ipv6Port}/v6`);
    expect(answer.status).toBe(308);
    expect(answer.location).toBe('https://[::1]/v6');
    // Regression: the plain-HTTP access line wrote an IPv6 client as ::1:PORT, which reads as one address.
    const line = await router.waitForAccessLine((l) => l.path === '/v6');
    expect(line.client).toMatch(/^\[::1\]:\d+$/);
  });

  it('a request without Host gets 400 and reason http_bad_request', async () => {
    const answer = await curlHttp(`http://127.0.0.1:${redirectPort}/nohost`, ['-H', 'Host:']);
    expect(answer.status).toBe(400);
    const line = await router.waitForAccessLine((l) => l.detail === 'missing_host');
    expect(line).toMatchObject({ reason: 'http_bad_request', status: 400, detail: 'missing_host' });
  });

  it('an ACME HTTP-01 path is routed by Host to the pool over plain HTTP, after a PROXY v2 header', async () => {
    const path = '/.well-known/acme-challenge/Zx9-tok_en';
    const answer = await curlHttp(`http://app.test:${redirectPort}${path}`, ['--resolve', `app.test:${redirectPort}:127.0.0.1`]);
    expect(answer.status).toBe(200);
    expect(answer.body).toBe('acme-token-for-app');
    const received = app.connections.at(-1)!.received();
    const header = decodeV2(received);
    expect(header.source?.address).toBe('127.0.0.1');
    expect(header.destination?.port).toBe(redirectPort);
    expect(header.tlvs.get(PP2_TYPE_AUTHORITY)?.toString()).toBe('app.test');
    const request = received.subarray(header.headerLength).toString('latin1');
    expect(request.startsWith(`GET ${path} HTTP/1.1\r\nHost: app.test:${redirectPort}\r\n`)).toBe(true);
    const line = await router.waitForAccessLine((l) => l.path === path);
    expect(line).toMatchObject({ reason: 'done', route: 'app.test', backend: `127.0.0.1:${app.port}` });
  });

  it('an ACME path for a host with no route gets 404', async () => {
    const answer = await curlHttp(`http://127.0.0.1:${redirectPort}/.well-known/acme-challenge/x`, ['-H', 'Host: nobody.test']);
    expect(answer.status).toBe(404);
    await router.waitForAccessLine((l) => l.host === 'nobody.test' && l.reason === 'no_route');
  });

  it('http: route sends the request by Host, byte for byte, with the pool PROXY setting (none here)', async () => {
    const before = plain.connections.length;
    const answer = await curlHttp(`http://plain.test:${routePort}/hello?there`, ['--resolve', `plain.test:${routePort}:127.0.0.1`, '-H', 'X-Probe: 1']);
    expect(answer.status).toBe(200);
    expect(answer.body).toBe('plain backend says hi');
    const received = plain.connections[before]!.received().toString('latin1');
    expect(received.startsWith(`GET /hello?there HTTP/1.1\r\nHost: plain.test:${routePort}\r\n`)).toBe(true);
    expect(received).toContain('X-Probe: 1\r\n');
  });

  it('http: route with a v2 pool sends the header, and an unknown Host is 404', async () => {
    const answer = await curlHttp(`http://app.test:${routePort}/x`, ['--resolve', `app.test:${routePort}:127.0.0.1`]);
    expect(answer.body).toBe('acme-token-for-app');
    const header = decodeV2(app.connections.at(-1)!.received());
    expect(header.tlvs.get(PP2_TYPE_AUTHORITY)?.toString()).toBe('app.test');
    expect((await curlHttp(`http://127.0.0.1:${routePort}/`, ['-H', 'Host: other.test'])).status).toBe(404);
  });

  it('http: route to a backend that closes before a byte: the client sees the close, the line says backend_closed_early', async () => {
    const socket = await connectRaw(routePort);
    const head = 'GET /dropped HTTP/1.1\r\nHost: drop.test\r\n\r\n';
    socket.write(head);
    const closed = await collect(socket);
    expect(closed.data.length).toBe(0);
    const line = await router.waitForAccessLine((l) => l.route === 'drop.test');
    expect(line).toMatchObject({ mode: 'http', reason: 'backend_closed_early', bytes_in: head.length, bytes_out: 0, path: '/dropped' });
  });

  it('a client that never finishes its head is cut by timeouts.client_hello', async () => {
    const socket = await connectRaw(routePort);
    socket.write('GET /slow HTTP/1.1\r\nHo');
    const closed = await collect(socket);
    expect(closed.data.length).toBe(0);
    const line = await router.waitForAccessLine((l) => l.reason === 'hello_timeout' && l.listener === `127.0.0.1:${routePort}`);
    expect(line.detail).toContain('no complete request head within 700 ms');
  });

  it('a TLS ClientHello on a plain-HTTP port gets a 400 and closes', async () => {
    const socket = await connectRaw(routePort);
    socket.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x10]));
    const closed = await collect(socket);
    expect(closed.data.toString('latin1')).toMatch(/^HTTP\/1\.1 400 /);
  });
});
