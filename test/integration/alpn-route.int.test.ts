/**
 * ALPN-aware routes: the same name, alpha.test, goes to an ACME responder pool for `acme-tls/1` (TLS-ALPN-01)
 * and to the app pool otherwise. Judged with real `openssl s_client -alpn`: the certificate that comes back names
 * the backend that answered (the ACME pool holds beta.test's certificate, the app pool alpha.test's).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import tls from 'node:tls';
import { startTestRouter, type TestRouter } from '../helpers/router-harness.js';
import { certFor, listenOnLoopback, type LoopbackServer } from '../helpers/backends.js';
import { opensslConnect } from '../helpers/clients.js';

function startTlsServer(certName: string): Promise<LoopbackServer> {
  const server = tls.createServer({ ...certFor(certName), ALPNProtocols: ['acme-tls/1', 'h2', 'http/1.1'] }, (socket) => {
    socket.on('error', () => {});
    socket.end(`${certName}\n`);
  });
  server.on('tlsClientError', () => {});
  return listenOnLoopback(server);
}

describe('ALPN routes', () => {
  let app: LoopbackServer;
  let acme: LoopbackServer;
  let router: TestRouter;

  beforeAll(async () => {
    app = await startTlsServer('alpha.test');
    acme = await startTlsServer('beta.test');
    router = await startTestRouter(`
listen: ["127.0.0.1:0"]
proxy_protocol: none
routes:
  alpha.test:
    backends: [127.0.0.1:${app.port}]
    alpn:
      "acme-tls/1": [127.0.0.1:${acme.port}]
`);
  });

  afterAll(async () => {
    await router?.stop();
    await app?.close();
    await acme?.close();
  });

  it('openssl s_client -alpn acme-tls/1 lands on the ACME pool', async () => {
    const { subject, result } = await opensslConnect(router.port(), 'alpha.test', { alpn: 'acme-tls/1' });
    expect(subject, result.stdout + result.stderr).toBe('beta.test');
    const line = await router.waitForAccessLine((l) => l.alpn === 'acme-tls/1');
    expect(line).toMatchObject({ route: 'alpha.test', pool: 'alpn acme-tls/1', backend: `127.0.0.1:${acme.port}` });
  });

  it('openssl s_client -alpn h2 lands on the app pool', async () => {
    const { subject, result } = await opensslConnect(router.port(), 'alpha.test', { alpn: 'h2' });
    expect(subject, result.stdout + result.stderr).toBe('alpha.test');
    const line = await router.waitForAccessLine((l) => l.alpn === 'h2');
    expect(line).toMatchObject({ route: 'alpha.test', backend: `127.0.0.1:${app.port}` });
    expect(line.pool).toBeUndefined();
  });

  it('a client offering several protocols including acme-tls/1 goes to the ACME pool; none at all, to the app', async () => {
    expect((await opensslConnect(router.port(), 'alpha.test', { alpn: 'h2,acme-tls/1' })).subject).toBe('beta.test');
    expect((await opensslConnect(router.port(), 'alpha.test')).subject).toBe('alpha.test');
  });
});
