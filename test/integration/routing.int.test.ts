/**
 * Real TLS clients (openssl s_client, curl, node:tls) through a real router to real TLS backends: the certificate
 * and body that come back prove which backend answered, and that the router never touched the TLS bytes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import tls from 'node:tls';
import { once } from 'node:events';
import { startTestRouter, type TestRouter } from '../helpers/router-harness.js';
import { startTlsBackend, CA_FILE, type TlsBackend } from '../helpers/backends.js';
import { opensslConnect, curlGet, connectRaw, collect } from '../helpers/clients.js';
import { readFileSync } from 'node:fs';

describe('routing by SNI through real clients', () => {
  let alpha: TlsBackend;
  let beta: TlsBackend;
  let fallback: TlsBackend;
  let wild: TlsBackend;
  let withDefault: TestRouter;
  let withoutDefault: TestRouter;

  beforeAll(async () => {
    [alpha, beta, fallback, wild] = await Promise.all([
      startTlsBackend('alpha.test'),
      startTlsBackend('beta.test'),
      startTlsBackend('default.test'),
      startTlsBackend('wild.test'),
    ]);
    const routes = `
routes:
  alpha.test: [${alpha.label}]
  beta.test:
    backends: [${beta.label}]
  "*.wild.test": [${wild.label}]
  "~^gamma-[0-9]+\\\\.test$": [${beta.label}]
`;
    withDefault = await startTestRouter(`listen: ["127.0.0.1:0"]\nproxy_protocol: none\n${routes}\ndefault: [${fallback.label}]\n`);
    withoutDefault = await startTestRouter(`listen: ["127.0.0.1:0"]\nproxy_protocol: none\n${routes}`);
  });

  afterAll(async () => {
    await Promise.all([withDefault?.stop(), withoutDefault?.stop()]);
    await Promise.all([alpha, beta, fallback, wild].map((b) => b?.close()));
  });

  it.each([
    ['alpha.test', 'alpha.test'],
    ['beta.test', 'beta.test'],
    ['x.wild.test', 'wild.test'],
    ['deep.er.wild.test', 'wild.test'],
    ['gamma-42.test', 'beta.test'],
  ])('openssl s_client -servername %s gets the certificate of %s', async (servername, expectedCn) => {
    const { subject, result } = await opensslConnect(withDefault.port(), servername);
    expect(subject, result.stdout + result.stderr).toBe(expectedCn);
  });

  it.each([
    ['alpha.test', 'backend=alpha.test'],
    ['beta.test', 'backend=beta.test'],
  ])('curl https://%s/ verifies the backend certificate and reads its body', async (name, body) => {
    const result = await curlGet(name, withDefault.port());
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe(body);
  });

  it('an unknown name goes to the default pool', async () => {
    const { subject } = await opensslConnect(withDefault.port(), 'unknown.test');
    expect(subject).toBe('default.test');
    await withDefault.waitForAccessLine((l) => l.sni === 'unknown.test' && l.reason === 'done' && l.route === 'default');
  });

  it('a hello without SNI goes to the default pool', async () => {
    const { subject } = await opensslConnect(withDefault.port(), null);
    expect(subject).toBe('default.test');
  });

  it('names match case-insensitively and with one trailing dot', async () => {
    for (const servername of ['ALPHA.Test', 'alpha.test.']) {
      const socket = tls.connect({ port: withDefault.port(), host: '127.0.0.1', servername, ca: readFileSync(CA_FILE), checkServerIdentity: () => undefined });
      await once(socket, 'secureConnect');
      expect(socket.getPeerCertificate().subject.CN).toBe('alpha.test');
      socket.destroy();
    }
  });

  it('`*.wild.test` does not match wild.test itself', async () => {
    const { subject } = await opensslConnect(withDefault.port(), 'wild.test');
    expect(subject).toBe('default.test');
  });

  it('with no default pool, an unknown name is closed and logged once with reason no_route', async () => {
    const before = withoutDefault.accessLines().length;
    const { subject } = await opensslConnect(withoutDefault.port(), 'nobody.test');
    expect(subject).toBeNull();
    const line = await withoutDefault.waitForAccessLine((l) => l.sni === 'nobody.test');
    expect(line).toMatchObject({ reason: 'no_route', route: null, backend: null, mode: 'passthrough', listener: '127.0.0.1:0' });
    expect(typeof line.id).toBe('string');
    expect(line.client).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(withoutDefault.accessLines().length).toBe(before + 1);
  });

  it('with no default pool, plain HTTP is closed as not_tls', async () => {
    const socket = await connectRaw(withoutDefault.port());
    const closed = collect(socket);
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    const { data } = await closed;
    expect(data.length).toBe(0);
    await withoutDefault.waitForAccessLine((l) => l.reason === 'not_tls');
  });

  it('the access line of a routed connection carries every field of the SPEC', async () => {
    const earlier = new Set(withDefault.accessLines());
    const result = await curlGet('alpha.test', withDefault.port());
    expect(result.stdout.trim()).toBe('backend=alpha.test');
    const line = await withDefault.waitForAccessLine((l) => !earlier.has(l) && l.sni === 'alpha.test' && l.reason === 'done');
    expect(line).toMatchObject({ route: 'alpha.test', backend: alpha.label, mode: 'passthrough', listener: '127.0.0.1:0' });
    expect(line.alpn).toContain('http/1.1');
    expect(line.bytes_in as number).toBeGreaterThan(200);
    expect(line.bytes_out as number).toBeGreaterThan(200);
    expect(line.duration_ms as number).toBeGreaterThan(0);
  });
});
