/**
 * HTTP termination end to end (terminate.http): real clients (curl default / --http1.1 / --http2, node https and
 * http2, headless Chromium) through a real router to a node `http` backend and a python `http.server`; and the
 * byte-stream mode's defaults that made every h2-capable client fail against an HTTP/1.1 backend.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import path from 'node:path';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startTestRouter, type LogLine, type TestRouter } from '../helpers/router-harness.js';
import { CA_FILE, CERT_DIR, deadPort } from '../helpers/backends.js';
import { run } from '../helpers/clients.js';
import { canListen } from '../helpers/ports.js';
import {
  maskedFrame,
  requestOfPage,
  startNodeHttpBackend,
  startPythonHttpBackend,
  type NodeHttpBackend,
  type PythonHttpBackend,
} from '../helpers/http-backends.js';

const cert = (name: string): string => path.join(CERT_DIR, name);
const CA = readFileSync(CA_FILE);
const CHROMIUM = '/usr/bin/chromium';
const HAS_IPV6 = await canListen('::1');

let node: NodeHttpBackend;
let bounded: NodeHttpBackend;
let python: PythonHttpBackend;
let router: TestRouter;
let port: number;

const requestLines = (): LogLine[] => router.logs.filter((line) => line.msg === 'request');

async function waitForRequestLine(predicate: (line: LogLine) => boolean, timeoutMs = 10_000): Promise<LogLine> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = requestLines().find(predicate);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no matching request line; have:\n${requestLines().map((l) => JSON.stringify(l)).join('\n')}`);
    // The router runs in this process: wait for its next connection line (or 50 ms), never spin on resolved promises.
    const known = new Set(router.accessLines());
    await router.waitForAccessLine((line) => !known.has(line), 50).catch(() => undefined);
  }
}

/** curl https://NAME:PORT/PATH through the router, verified against the test CA; body and `-w` output. */
function curl(name: string, extra: readonly string[] = [], urlPath = '/'): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return run('curl', ['-sS', '--max-time', '10', '--resolve', `${name}:${port}:127.0.0.1`, '--cacert', CA_FILE, ...extra, `https://${name}:${port}${urlPath}`]);
}

beforeAll(async () => {
  [node, bounded, python] = await Promise.all([startNodeHttpBackend(), startNodeHttpBackend(), startPythonHttpBackend()]);
  const router1 = `cert: ${cert('router.test.pem')}, key: ${cert('router.test.key')}`;
  const wild = `cert: ${cert('wild.test.pem')}, key: ${cert('wild.test.key')}`;
  router = await startTestRouter(`
listen: ["127.0.0.1:0"]
proxy_protocol: none
routes:
  router.test:
    backends: [${node.label}]
    terminate: { ${router1}, http: { hsts: max-age=600 } }
  alpha.test:
    backends: [${python.label}]
    terminate: { cert: ${cert('alpha.test.pem')}, key: ${cert('alpha.test.key')}, http: true }
  trusted.wild.test:
    backends: [${node.label}]
    terminate: { ${wild}, http: { trusted_forwarders: ["127.0.0.0/8"] } }
  pool.wild.test:
    backends: [${bounded.label}]
    terminate: { ${wild}, http: { max_backend_connections: 4 } }
  down.wild.test:
    backends: [127.0.0.1:${await deadPort()}]
    terminate: { ${wild}, http: true }
  slow.wild.test:
    backends: [${node.label}]
    terminate: { ${wild}, http: { headers_timeout: 1s } }
  bytes.wild.test:
    backends: [${node.label}]
    terminate: { ${wild} }
  pybytes.wild.test:
    backends: [${python.label}]
    terminate: { ${wild} }
`);
  port = router.port();
});

afterAll(async () => {
  await router?.stop();
  await Promise.all([node?.close(), bounded?.close(), python?.close()]);
});

describe('every client gets the page by default', () => {
  for (const [label, flags, version] of [
    ['curl (no flags: offers h2)', [], '2'],
    ['curl --http1.1', ['--http1.1'], '1.1'],
    ['curl --http2', ['--http2'], '2'],
  ] as const) {
    it(`${label} → node http backend and python http.server`, async () => {
      const toNode = await curl('router.test', [...flags, '-w', '\nversion=%{http_version}']);
      expect(toNode.stderr).toBe('');
      expect(toNode.stdout).toMatch(new RegExp(`\\nversion=${version.replace('.', '\\.')}$`));
      expect(requestOfPage(toNode.stdout).headers.host).toBe(`router.test:${port}`);
      const toPython = await curl('alpha.test', [...flags, '-w', '\nversion=%{http_version}']);
      expect(toPython.stderr).toBe('');
      expect(toPython.stdout).toBe(`${python.page}\nversion=${version}`);
    });
  }

  it('byte-stream terminate (no http) offers http/1.1 only: curl with no flags gets the python page', async () => {
    const result = await curl('pybytes.wild.test', ['-w', '\nversion=%{http_version}']);
    expect(result.stderr).toBe('');
    // python answers HTTP/1.0; what matters is that the client did not get h2, which the backend cannot speak.
    expect(result.stdout.startsWith(python.page)).toBe(true);
    expect(result.stdout).toMatch(/\nversion=1(\.[01])?$/); // curl writes HTTP/1.0 as '1'
    const line = await router.waitForAccessLine((l) => l.sni === 'pybytes.wild.test');
    expect(line).toMatchObject({ mode: 'terminate', alpn_negotiated: 'http/1.1', reason: 'done' });
  });

  it('node https gets the page; the connection line says mode http and the request line names the backend', async () => {
    const body = await new Promise<string>((resolve, reject) => {
      const request = https.get({ host: '127.0.0.1', port, servername: 'router.test', headers: { host: 'router.test' }, ca: CA, path: '/from-node?x=1', agent: false }, (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString()));
        response.on('end', () => resolve(text));
      });
      request.on('error', reject);
    });
    expect(requestOfPage(body).url).toBe('/from-node?x=1');
    const line = await waitForRequestLine((l) => l.path === '/from-node?x=1');
    expect(line).toMatchObject({ method: 'GET', host: 'router.test', status: 200, backend: node.label, reason: 'done', protocol: 'http/1.1' });
    expect(line.bytes_out).toBeGreaterThan(0);
    const connection = await router.waitForAccessLine((l) => l.id === line.id);
    // node https offers no ALPN; the router serves HTTP/1.1 then.
    expect(connection).toMatchObject({ mode: 'http', backend: node.label, alpn_negotiated: null, reason: 'done' });
  });

  it.skipIf(!existsSync(CHROMIUM))('headless Chromium gets the page over h2', async () => {
    const profile = mkdtempSync(path.join(tmpdir(), 'chromium-'));
    try {
      const result = await run(
        CHROMIUM,
        [
          '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
          '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`,
          '--host-resolver-rules=MAP router.test 127.0.0.1, MAP * ~NOTFOUND', '--ignore-certificate-errors',
          '--dump-dom', `https://router.test:${port}/from-chromium`,
        ],
        '',
        45_000,
      );
      const seen = requestOfPage(result.stdout);
      expect(seen.url).toBe('/from-chromium');
      expect(seen.headers['x-forwarded-proto']).toBe('https');
      const line = await waitForRequestLine((l) => l.path === '/from-chromium');
      expect(line).toMatchObject({ protocol: 'h2', status: 200 });
    } finally {
      rmSync(profile, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('what the backend learns', () => {
  it('X-Forwarded-For is the client, X-Forwarded-Proto https, Host as the client sent it, Forwarded per RFC 7239', async () => {
    const seen = requestOfPage((await curl('router.test', ['--http2'], '/who')).stdout);
    expect(seen.headers).toMatchObject({
      host: `router.test:${port}`,
      'x-forwarded-for': '127.0.0.1',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': `router.test:${port}`,
      'x-forwarded-port': String(port),
      forwarded: `for=127.0.0.1;host="router.test:${port}";proto=https`,
    });
  });

  it('a spoofed X-Forwarded-For from an untrusted client is replaced; a trusted forwarder\'s is appended to', async () => {
    const spoof = ['-H', 'X-Forwarded-For: 6.6.6.6', '-H', 'Forwarded: for=6.6.6.6'];
    const untrusted = requestOfPage((await curl('router.test', spoof, '/spoof')).stdout);
    expect(untrusted.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(untrusted.headers.forwarded).not.toMatch(/6\.6\.6\.6/);
    const trusted = requestOfPage((await curl('trusted.wild.test', spoof, '/spoof')).stdout);
    expect(trusted.headers['x-forwarded-for']).toBe('6.6.6.6, 127.0.0.1');
    expect(trusted.headers.forwarded).toBe('for=6.6.6.6, for=127.0.0.1;host="trusted.wild.test:' + port + '";proto=https');
  });

  it('hop-by-hop headers are not passed on; HSTS is on responses when set, absent when not', async () => {
    const withHsts = await curl('router.test', ['--http1.1', '-i', '-H', 'Connection: keep-alive, X-Secret', '-H', 'X-Secret: 1', '-H', 'Keep-Alive: 5'], '/hop');
    expect(withHsts.stdout).toMatch(/\r\nstrict-transport-security: max-age=600\r\n/i);
    const seen = requestOfPage(withHsts.stdout);
    expect(seen.headers['x-secret']).toBeUndefined();
    expect(seen.headers['keep-alive']).toBeUndefined();
    const without = await curl('trusted.wild.test', ['-i']);
    expect(without.stdout).not.toMatch(/strict-transport-security/i);
  });

  it('Expect: 100-continue: the client is told to go on and the backend gets the whole body', async () => {
    const result = await curl('router.test', ['--http1.1', '-H', 'Expect: 100-continue', '--data-binary', 'x'.repeat(5000), '-i'], '/upload');
    expect(result.stdout).toMatch(/^HTTP\/1\.1 100 Continue\r\n/);
    expect(requestOfPage(result.stdout)).toMatchObject({ method: 'POST', bodyBytes: 5000 });
  });
});

describe('connections to the backend', () => {
  it('100 requests over one h2 connection use at most 4 backend connections (max_backend_connections: 4)', async () => {
    const session = http2.connect(`https://127.0.0.1:${port}`, { ca: CA, servername: 'pool.wild.test' });
    session.on('error', () => undefined);
    try {
      const one = (i: number): Promise<number> =>
        new Promise((resolve, reject) => {
          const stream = session.request({ ':path': `/n${i}`, ':authority': 'pool.wild.test' });
          let status = 0;
          stream.on('response', (headers) => (status = Number(headers[':status'])));
          stream.on('data', () => undefined);
          stream.on('end', () => resolve(status));
          stream.on('error', reject);
        });
      const statuses = await Promise.all(Array.from({ length: 100 }, (_, i) => one(i)));
      expect(statuses.every((status) => status === 200)).toBe(true);
      expect(bounded.seen.length).toBe(100);
      expect(bounded.connections()).toBeGreaterThan(0);
      expect(bounded.connections()).toBeLessThanOrEqual(4);
    } finally {
      session.close();
    }
  });

  it('a WebSocket echo works through HTTP mode', async () => {
    const socket = tls.connect({ port, host: '127.0.0.1', servername: 'router.test', ca: CA, ALPNProtocols: ['http/1.1'] });
    socket.on('error', () => undefined);
    await once(socket, 'secureConnect');
    socket.write('GET /chat HTTP/1.1\r\nHost: router.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    let received = Buffer.alloc(0);
    const waitFor = async (predicate: (bytes: Buffer) => boolean): Promise<void> => {
      while (!predicate(received)) {
        const [chunk] = (await once(socket, 'data')) as [Buffer];
        received = Buffer.concat([received, chunk]);
      }
    };
    await waitFor((bytes) => bytes.includes('\r\n\r\n'));
    const head = received.subarray(0, received.indexOf('\r\n\r\n')).toString();
    expect(head).toMatch(/^HTTP\/1\.1 101 /);
    expect(head).toMatch(/Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=/);
    received = received.subarray(received.indexOf('\r\n\r\n') + 4);
    socket.write(maskedFrame('hello through the router'));
    await waitFor((bytes) => bytes.length >= 2 + 'hello through the router'.length);
    expect(received.subarray(2).toString()).toBe('hello through the router');
    socket.destroy();
    const line = await waitForRequestLine((l) => l.path === '/chat');
    expect(line).toMatchObject({ status: 101, upgrade: 'websocket', backend: node.label });
  });
});

describe('when no backend answers, and limits', () => {
  it('502 with a short body when the pool is down; the request line says bad_gateway', async () => {
    const result = await curl('down.wild.test', ['-w', '\nstatus=%{http_code}'], '/down');
    expect(result.stdout).toBe('bad gateway: no backend answered\n\nstatus=502');
    const line = await waitForRequestLine((l) => l.path === '/down');
    expect(line).toMatchObject({ status: 502, reason: 'bad_gateway' });
  });

  it('a slow-headers client is cut by headers_timeout (408, connection reason request_timeout)', async () => {
    const socket = tls.connect({ port, host: '127.0.0.1', servername: 'slow.wild.test', ca: CA, ALPNProtocols: ['http/1.1'] });
    socket.on('error', () => undefined);
    await once(socket, 'secureConnect');
    const startedAt = Date.now();
    socket.write('GET /slow HTTP/1.1\r\nHost: slow.wild.test\r\n');
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    // One header byte every 200 ms: the connection never idles, but its head never completes.
    const dribble = setInterval(() => socket.write('X'), 200);
    try {
      await once(socket, 'close');
    } finally {
      clearInterval(dribble);
    }
    expect(Date.now() - startedAt).toBeLessThan(8_000);
    expect(received).toMatch(/^HTTP\/1\.1 408 /);
    const line = await router.waitForAccessLine((l) => l.sni === 'slow.wild.test');
    expect(line).toMatchObject({ mode: 'http', reason: 'request_timeout' });
  });
});

describe('byte-stream terminate', () => {
  // Regression: a client that got its answer and then reset (closing with our session ticket or the last bytes
  // unread, as wget and python's ssl do without close_notify) was logged client_reset; after a request and a
  // response with nothing left to send, it is done.
  it('client_reset_after_complete_exchange_is_done: a reset after the response is logged done', async () => {
    const raw = net.connect(port, '127.0.0.1');
    await once(raw, 'connect');
    const socket = tls.connect({ socket: raw, servername: 'bytes.wild.test', ca: CA, ALPNProtocols: ['http/1.1'] });
    socket.on('error', () => undefined);
    raw.on('error', () => undefined);
    await once(socket, 'secureConnect');
    socket.write('GET /reset HTTP/1.1\r\nHost: bytes.wild.test\r\n\r\n');
    let received = '';
    while (!received.includes('</html>')) received += ((await once(socket, 'data')) as [Buffer])[0].toString();
    raw.resetAndDestroy(); // an RST, as a client closing with bytes unread sends
    const line = await router.waitForAccessLine((l) => l.sni === 'bytes.wild.test');
    expect(line).toMatchObject({ mode: 'terminate', reason: 'done', detail: 'client left without close_notify' });
  });
});

describe('a kept-alive HTTP-mode connection the router closes', () => {
  // Regression: a connection closed by the router while it served HTTP (shutdown, a limit's eviction) wrote its
  // access line, and then again when its TLS socket's 'close' came: two lines, and the connection counted closed twice.
  it('shutdown_closes_http_connection_once: one access line, reason shutdown', async () => {
    const own = await startTestRouter(`
listen: ["127.0.0.1:0"]
routes:
  router.test:
    backends: [${node.label}]
    terminate: { cert: ${cert('router.test.pem')}, key: ${cert('router.test.key')}, http: true }
`);
    const session = http2.connect(`https://127.0.0.1:${own.port()}`, { ca: CA, servername: 'router.test' });
    session.on('error', () => undefined);
    try {
      const stream = session.request({ ':path': '/kept', ':authority': 'router.test' });
      stream.resume();
      await once(stream, 'end');
      const request = await own.waitForLog((line) => line.msg === 'request' && line.path === '/kept');
      await own.router.close(0);
      await own.waitForAccessLine((line) => line.id === request.id);
      // The socket's 'close' comes a turn or more after the router's own close; give it time to write a second line.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const lines = own.accessLines().filter((line) => line.id === request.id);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ mode: 'http', reason: 'shutdown' });
    } finally {
      session.destroy();
      await own.stop();
    }
  });
});

describe('an IPv6 client in HTTP mode', () => {
  // Regression: the request line wrote an IPv6 client as ::1:PORT, which reads as one address.
  it.skipIf(!HAS_IPV6)('request_line_brackets_ipv6_client: client is [::1]:PORT on the request line and the connection line', async () => {
    const own = await startTestRouter(`
listen: ["[::1]:0"]
routes:
  router.test:
    backends: [${node.label}]
    terminate: { cert: ${cert('router.test.pem')}, key: ${cert('router.test.key')}, http: true }
`);
    try {
      const result = await run('curl', ['-sS', '--max-time', '10', '--http1.1', '--resolve', `router.test:${own.port()}:::1`, '--cacert', CA_FILE, `https://router.test:${own.port()}/v6`]);
      expect(result.stderr).toBe('');
      const request = await own.waitForLog((line) => line.msg === 'request' && line.path === '/v6');
      expect(request.client).toMatch(/^\[::1\]:\d+$/);
      const connection = await own.waitForAccessLine((line) => line.id === request.id);
      expect(connection.client).toBe(request.client);
    } finally {
      await own.stop();
    }
  });
});
