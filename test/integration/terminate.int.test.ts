/**
 * Terminate mode end to end: real clients (curl, openssl s_client, node:tls) through a real router that ends TLS
 * for some names and passes others through on the same listener, to real plaintext, h2c, TLS and HAProxy backends.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import path from 'node:path';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { startTestRouter, type LogLine, type TestRouter } from '../helpers/router-harness.js';
import { CA_FILE, CERT_DIR, certFor, listenOnLoopback, startCaptureBackend, startTlsBackend, type CaptureBackend, type LoopbackServer, type TlsBackend } from '../helpers/backends.js';
import { curlGet, opensslConnect, tlsConnect } from '../helpers/clients.js';
import { startDribbler, type Dribbler } from '../helpers/dribble.js';
import { decodeV2 } from '../helpers/proxy-decode.js';
import { HAPROXY_HTTP_PREAMBLE, hasHaproxy, PEER_MISSING_REASON, startHaproxy, type PeerProcess } from '../helpers/peers.js';
import { freePort } from '../helpers/ports.js';
import { PP2_CLIENT_CERT_CONN, PP2_CLIENT_SSL, PP2_SUBTYPE_SSL_VERSION, PP2_TYPE_ALPN, PP2_TYPE_AUTHORITY, PP2_TYPE_SSL, PP2_TYPE_UNIQUE_ID } from '../../src/wire/proxy-header.js';

const cert = (name: string): string => path.join(CERT_DIR, name);
const CA = readFileSync(CA_FILE);

/** A plaintext HTTP/1.1 server that answers with what it saw: proof that the router sent it plaintext. */
async function startPlainBackend(): Promise<LoopbackServer> {
  return listenOnLoopback(
    http.createServer((request, response) => {
      response.writeHead(200, { 'content-type': 'text/plain', connection: 'close' });
      response.end(`plain HTTP/${request.httpVersion} ${request.method} ${request.url} host=${request.headers.host}\n`);
    }),
  );
}

/** A plaintext HTTP/2 server (h2c, prior knowledge): only a client that negotiated h2 with the router can talk to it. */
async function startH2cBackend(): Promise<LoopbackServer> {
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    stream.respond({ ':status': 200, 'content-type': 'text/plain' });
    stream.end(`h2c ${String(headers[':method'])} ${String(headers[':authority'])}\n`);
  });
  return listenOnLoopback(server);
}

/** An HTTPS backend that reports the SNI it was asked for (re-encryption). */
async function startSniReportingBackend(certName: string): Promise<LoopbackServer> {
  return listenOnLoopback(
    https.createServer({ ...certFor(certName), ALPNProtocols: ['http/1.1'] }, (request, response) => {
      const socket = request.socket as tls.TLSSocket;
      response.writeHead(200, { 'content-type': 'text/plain', connection: 'close' });
      response.end(`tls backend servername=${String(socket.servername)} protocol=${String(socket.getProtocol())}\n`);
    }),
  );
}

/** Runs `action`, then waits for an access line written after it started that matches `predicate`. */
async function lineAfter(router: TestRouter, action: () => Promise<void>, predicate: (line: LogLine) => boolean): Promise<LogLine> {
  const before = new Set(router.accessLines());
  await action();
  return router.waitForAccessLine((line) => !before.has(line) && predicate(line));
}

describe('terminate mode', () => {
  let plain: LoopbackServer;
  let h2c: LoopbackServer;
  let reencrypted: LoopbackServer;
  let untrusted: LoopbackServer;
  let passthrough: TlsBackend;
  let capture: CaptureBackend;
  let router: TestRouter;

  beforeAll(async () => {
    [plain, h2c, reencrypted, untrusted, passthrough, capture] = await Promise.all([
      startPlainBackend(),
      startH2cBackend(),
      startSniReportingBackend('alpha.test'),
      startSniReportingBackend('untrusted.test'),
      startTlsBackend('alpha.test'),
      startCaptureBackend((socket) => socket.on('end', () => socket.end())),
    ]);
    const router1 = `{ cert: ${cert('router.test.pem')}, key: ${cert('router.test.key')}`;
    const wild = `cert: ${cert('wild.test.pem')}, key: ${cert('wild.test.key')}`;
    router = await startTestRouter(`
listen: ["127.0.0.1:0"]
proxy_protocol: none
routes:
  router.test:
    backends: [${plain.label}]
    terminate: ${router1}, alpn: [http/1.1] }
  legacy.test:
    backends: [${h2c.label}]
    terminate: ${router1}, alpn: [h2] }
  chain.test:
    backends: [${plain.label}]
    terminate: { cert: ${cert('chain.test.pem')}, key: ${cert('chain.test.key')} }
  "*.wild.test":
    backends: [${plain.label}]
    terminate: { ${wild} }
  pp.wild.test:
    backends: [${capture.label}]
    proxy_protocol: v2
    terminate: { ${wild} }
  mtlspp.wild.test:
    backends: [${capture.label}]
    proxy_protocol: v2
    terminate: { ${wild}, client_ca: ${CA_FILE} }
  mtls.wild.test:
    backends: [${plain.label}]
    terminate: { ${wild}, alpn: [http/1.1], client_ca: ${CA_FILE} }
  reencrypt.wild.test:
    backends: [${reencrypted.label}]
    terminate: { ${wild}, alpn: [http/1.1], backend_tls: { ca: ${CA_FILE}, servername: alpha.test } }
  untrusted.wild.test:
    backends: [${untrusted.label}]
    terminate: { ${wild}, alpn: [http/1.1], backend_tls: { ca: ${CA_FILE}, servername: alpha.test } }
  insecure.wild.test:
    backends: [${untrusted.label}]
    terminate: { ${wild}, alpn: [http/1.1], backend_tls: { servername: alpha.test, verify: false } }
  alpha.test: [${passthrough.label}]
`);
  });

  afterAll(async () => {
    await router?.stop();
    await Promise.all([plain, h2c, reencrypted, untrusted, passthrough, capture].map((backend) => backend?.close()));
  });

  it("openssl s_client gets the router's certificate for a terminated name", async () => {
    for (const [servername, expected] of [['router.test', 'router.test'], ['legacy.test', 'router.test'], ['x.wild.test', 'wild.test']] as const) {
      const { subject, result } = await opensslConnect(router.port(), servername);
      expect(subject, result.stdout + result.stderr).toBe(expected);
      expect(result.stdout + result.stderr).toMatch(/Verification: OK/);
    }
  });

  it('curl through a terminated name: verified certificate, the backend receives plaintext HTTP/1.1', async () => {
    let result = { stdout: '', stderr: '' };
    const line = await lineAfter(router, async () => void (result = await curlGet('router.test', router.port())), (l) => l.sni === 'router.test');
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe(`plain HTTP/1.1 GET / host=router.test:${router.port()}\n`);
    expect(line.reason).toBe('done');
    expect(line).toMatchObject({ mode: 'terminate', route: 'router.test', backend: plain.label, tls_version: 'TLSv1.3', alpn_negotiated: 'http/1.1' });
    expect(line.cipher).toMatch(/^TLS_/);
    expect(line.bytes_in).toBeGreaterThan(0);
    expect(line.bytes_out).toBeGreaterThan(0);
  });

  it('curl --http2: ALPN h2 is negotiated and a plaintext h2c backend answers', async () => {
    let result = { stdout: '', stderr: '' };
    const extra = ['--http2', '-w', 'http_version=%{http_version}\\n'];
    const line = await lineAfter(router, async () => void (result = await curlGet('legacy.test', router.port(), { extra })), (l) => l.sni === 'legacy.test');
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe(`h2c GET legacy.test:${router.port()}\nhttp_version=2\n`);
    expect(line).toMatchObject({ mode: 'terminate', alpn_negotiated: 'h2' });
  });

  it('a passthrough name on the same listener still passes through untouched', async () => {
    const { subject } = await opensslConnect(router.port(), 'alpha.test');
    expect(subject).toBe('alpha.test');
    let result = { stdout: '', stderr: '' };
    const line = await lineAfter(router, async () => void (result = await curlGet('alpha.test', router.port())), (l) => l.sni === 'alpha.test');
    expect(result.stdout.trim()).toBe('backend=alpha.test');
    expect(line.reason).toBe('done');
    expect(line.mode).toBe('passthrough');
    expect(line.tls_version).toBeUndefined();
  });

  it('a PEM chain with an intermediate is served whole (the client trusts only the root)', async () => {
    const socket = await tlsConnect(router.port(), 'chain.test');
    expect(socket.authorized).toBe(true);
    const chain = socket.getPeerCertificate(true);
    expect(chain.subject.CN).toBe('chain.test');
    expect(chain.issuerCertificate.subject.CN).toBe('sni-router test intermediate');
    socket.end();
  });

  it('a hello dribbled one byte per segment is handed to TLS whole (nothing lost)', async () => {
    let dribbler: Dribbler | null = null;
    try {
      dribbler = await startDribbler(router.port(), 4096);
      const result = await curlGet('router.test', dribbler.port);
      expect(result.stderr).toBe('');
      expect(result.stdout).toMatch(/^plain HTTP\/1\.1 GET \//);
      expect(dribbler.writes).toBeGreaterThan(200);
    } finally {
      await dribbler?.close();
    }
  });

  it('the PROXY v2 header to a terminated backend holds ALPN, AUTHORITY, UNIQUE_ID and SSL, then plaintext', async () => {
    const before = capture.connections.length;
    const socket = await tlsConnect(router.port(), 'pp.wild.test', { ALPNProtocols: ['http/1.1'] });
    socket.write('hello backend');
    const data = await capture.receivedAtLeast(before, 16 + 13);
    const header = decodeV2(data);
    const tail = (await capture.receivedAtLeast(before, header.headerLength + 13)).subarray(header.headerLength);
    expect(tail.toString()).toBe('hello backend');
    expect(header.command).toBe('PROXY');
    expect(header.family).toBe('TCP4');
    expect(header.destination?.port).toBe(router.port());
    expect(header.tlvs.get(PP2_TYPE_ALPN)?.toString()).toBe('http/1.1');
    expect(header.tlvs.get(PP2_TYPE_AUTHORITY)?.toString()).toBe('pp.wild.test');
    const ssl = header.tlvs.get(PP2_TYPE_SSL)!;
    expect(ssl[0]! & PP2_CLIENT_SSL).toBe(PP2_CLIENT_SSL);
    expect(ssl[0]! & PP2_CLIENT_CERT_CONN).toBe(0);
    expect(ssl[5]).toBe(PP2_SUBTYPE_SSL_VERSION);
    expect(ssl.subarray(8, 8 + ssl.readUInt16BE(6)).toString()).toBe('TLSv1.3');
    socket.end();
    const line = await router.waitForAccessLine((l) => l.sni === 'pp.wild.test');
    expect(header.tlvs.get(PP2_TYPE_UNIQUE_ID)?.toString()).toBe(line.id);
  });

  it('mTLS: a client without a certificate is refused', async () => {
    const result = await curlGet('mtls.wild.test', router.port());
    expect(result.code).not.toBe(0);
    expect(result.stdout).toBe('');
    const line = await router.waitForAccessLine((l) => l.sni === 'mtls.wild.test');
    expect(line).toMatchObject({ mode: 'terminate', reason: 'client_reset', backend: null });
    expect(String(line.detail)).toMatch(/TLS handshake failed/);
  });

  it('mTLS: the PROXY v2 SSL TLV tells the backend a client certificate was given and verified', async () => {
    const before = capture.connections.length;
    const socket = await tlsConnect(router.port(), 'mtlspp.wild.test', certFor('client'));
    socket.write('x');
    const header = decodeV2(await capture.receivedAtLeast(before, 16));
    const ssl = header.tlvs.get(PP2_TYPE_SSL)!;
    expect(ssl[0]! & PP2_CLIENT_CERT_CONN).toBe(PP2_CLIENT_CERT_CONN);
    expect(ssl.readUInt32BE(1)).toBe(0); // verify: 0 = the certificate was verified
    socket.destroy();
  });

  it('mTLS: a client with a certificate signed by client_ca gets through', async () => {
    const result = await curlGet('mtls.wild.test', router.port(), { extra: ['--cert', cert('client.pem'), '--key', cert('client.key')] });
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/^plain HTTP\/1\.1 GET \/ host=mtls\.wild\.test/);
  });

  it('mTLS: a certificate from another CA is refused after the handshake', async () => {
    const socket = tls.connect({ port: router.port(), host: '127.0.0.1', servername: 'mtls.wild.test', ca: CA, ...certFor('untrusted.test') });
    socket.on('error', () => {});
    await once(socket, 'close');
    const line = await router.waitForAccessLine((l) => l.sni === 'mtls.wild.test' && String(l.detail).includes('client certificate refused'));
    expect(line.backend).toBeNull();
  });

  it('re-encryption: the backend sees TLS with the configured SNI, verified against backend_tls.ca', async () => {
    const result = await curlGet('reencrypt.wild.test', router.port());
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('tls backend servername=alpha.test protocol=TLSv1.3\n');
  });

  it('re-encryption refuses a backend whose certificate is not trusted (verify on)', async () => {
    const result = await curlGet('untrusted.wild.test', router.port());
    expect(result.stdout).toBe('');
    const line = await router.waitForAccessLine((l) => l.sni === 'untrusted.wild.test');
    expect(line.reason).toBe('backend_unavailable');
    expect(String(line.detail)).toMatch(/backend TLS: .*(self[- ]signed|certificate)/i);
  });

  it('re-encryption with verify: false accepts that backend', async () => {
    const result = await curlGet('insecure.wild.test', router.port());
    expect(result.stdout).toBe('tls backend servername=alpha.test protocol=TLSv1.3\n');
  });

  it('4 MiB each way through TLS: backpressure and half-close as in passthrough', async () => {
    const echo = await listenOnLoopback(
      net.createServer({ allowHalfOpen: true }, (socket) => {
        socket.on('error', () => {});
        socket.pipe(socket);
      }),
    );
    const echoRouter = await startTestRouter(`
listen: ["127.0.0.1:0"]
proxy_protocol: none
routes:
  router.test:
    backends: [${echo.label}]
    terminate: { cert: ${cert('router.test.pem')}, key: ${cert('router.test.key')} }
`);
    try {
      const socket = await tlsConnect(echoRouter.port(), 'router.test', { allowHalfOpen: true } as tls.ConnectionOptions);
      const payload = Buffer.alloc(4 * 1024 * 1024, 7);
      let received = 0;
      socket.on('data', (chunk: Buffer) => (received += chunk.length));
      socket.end(payload); // half-close: our FIN reaches the echo server, which then finishes its echo and ends
      await once(socket, 'end');
      expect(received).toBe(payload.length);
      const line = await echoRouter.waitForAccessLine((l) => l.reason === 'done');
      expect(line).toMatchObject({ bytes_in: payload.length, bytes_out: payload.length, mode: 'terminate' });
    } finally {
      await echoRouter.stop();
      await echo.close();
    }
  });

  it('a client that leaves mid-handshake ends as client_reset; the router keeps serving', async () => {
    const hello = await captureClientHello('router.test');
    const socket = net.connect({ port: router.port(), host: '127.0.0.1' });
    socket.on('error', () => {});
    await once(socket, 'connect');
    socket.write(hello);
    await once(socket, 'data'); // the router's ServerHello: it is mid-handshake now
    socket.destroy();
    const line = await router.waitForAccessLine((l) => l.sni === 'router.test' && l.reason === 'client_reset');
    expect(line.mode).toBe('terminate');
    expect(String(line.detail)).toMatch(/handshake/);
    const result = await curlGet('router.test', router.port());
    expect(result.stdout).toMatch(/^plain HTTP\/1\.1/);
  });
});

/** The first bytes a node:tls client sends for `servername`: its ClientHello. */
async function captureClientHello(servername: string): Promise<Buffer> {
  const probe = net.createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const client = tls.connect({ port: (probe.address() as net.AddressInfo).port, host: '127.0.0.1', servername });
  client.on('error', () => {});
  const [peer] = (await once(probe, 'connection')) as [net.Socket];
  const [chunk] = (await once(peer, 'data')) as [Buffer];
  peer.destroy();
  client.destroy();
  probe.close();
  return chunk;
}

describe.skipIf(!hasHaproxy())(`HAProxy accepts our PROXY v2 header with ALPN and SSL TLVs ${hasHaproxy() ? '' : PEER_MISSING_REASON.haproxy}`, () => {
  let haproxy: PeerProcess;
  let router: TestRouter;

  beforeAll(async () => {
    const port = await freePort();
    haproxy = await startHaproxy(
      `${HAPROXY_HTTP_PREAMBLE}
frontend plain
  bind 127.0.0.1:${port} accept-proxy
  http-request return status 200 content-type text/plain lf-string "src=%[src] authority=%[fc_pp_authority] uid=%[fc_pp_unique_id]\\n"
`,
      { readyPorts: [port] },
    );
    router = await startTestRouter(`
listen: ["127.0.0.1:0"]
proxy_protocol: v2
routes:
  router.test:
    backends: [127.0.0.1:${port}]
    terminate: { cert: ${cert('router.test.pem')}, key: ${cert('router.test.key')}, alpn: [http/1.1] }
`);
  });

  afterAll(async () => {
    await router?.stop();
    await haproxy?.stop();
  });

  it('answers over the terminated connection with the SNI and id it read from the header', async () => {
    const result = await curlGet('router.test', router.port());
    expect(result.stderr).toBe('');
    const line = await router.waitForAccessLine((l) => l.sni === 'router.test' && l.reason === 'done');
    expect(result.stdout).toBe(`src=127.0.0.1 authority=router.test uid=${String(line.id)}\n`);
  });
});
