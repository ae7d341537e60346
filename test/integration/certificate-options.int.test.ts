/**
 * Certificates as operators hold them, made with openssl into a temp dir: an ECDSA and an RSA certificate on one
 * route chosen by the client's signature algorithms (openssl s_client -sigalgs / -cipher), an OCSP response made
 * with `openssl ocsp` stapled to `s_client -status`, `check` warnings for names that do not cover the route and
 * for a certificate expiring within 21 days, and the expiry in /routes and the metric.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { loadYaml, startTestRouter, type TestRouter } from '../helpers/router-harness.js';
import { startCaptureBackend, type CaptureBackend } from '../helpers/backends.js';
import { run } from '../helpers/clients.js';
import { certificateWarnings } from '../../src/config/certificate-warnings.js';
import { describeRoutes } from '../../src/control/admin.js';
import { RouterMetrics } from '../../src/ops/metrics.js';
import { parsePrometheusText, valueOf } from '../helpers/prometheus-text.js';

let dir: string;
const file = (name: string): string => path.join(dir, name);
const openssl = (...args: string[]): string => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] }).toString();

/** A certificate for `names` signed by the temp CA, valid `days`, with an ECDSA P-256 or RSA 2048 key. */
function makeCertificate(base: string, names: readonly string[], days: number, keyType: 'ec' | 'rsa'): void {
  const keyArgs = keyType === 'ec' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'] : ['-newkey', 'rsa:2048'];
  openssl('req', ...keyArgs, '-nodes', '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${names[0]}`);
  writeFileSync(file(`${base}.ext`), `subjectAltName=${names.map((name) => `DNS:${name}`).join(',')}\n`);
  openssl('x509', '-req', '-in', `${base}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${base}.pem`, '-days', String(days), '-extfile', `${base}.ext`);
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sni-router-certs-'));
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '30', '-subj', '/CN=Test OCSP CA');
  makeCertificate('ecdsa', ['app.test'], 10, 'ec'); // expires within 21 days: warned
  makeCertificate('rsa', ['app.test'], 90, 'rsa');
  makeCertificate('wild', ['*.example.test'], 90, 'rsa');
  makeCertificate('staple', ['staple.test'], 90, 'rsa');
  // An OCSP responder's answer for staple.pem, "good", signed by the CA (openssl's index.txt format).
  const serial = openssl('x509', '-in', 'staple.pem', '-noout', '-serial').trim().split('=')[1]!;
  writeFileSync(file('index.txt'), `V\t351231000000Z\t\t${serial}\tunknown\t/CN=staple.test\n`);
  openssl('ocsp', '-index', 'index.txt', '-rsigner', 'ca.pem', '-rkey', 'ca.key', '-CA', 'ca.pem', '-issuer', 'ca.pem', '-cert', 'staple.pem', '-respout', 'staple.ocsp.der', '-ndays', '7');
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function yamlFor(backendPort: number): string {
  return `
listen: ["127.0.0.1:0"]
proxy_protocol: none
routes:
  app.test:
    backends: [127.0.0.1:${backendPort}]
    terminate:
      certs: [{ cert: ${file('ecdsa.pem')}, key: ${file('ecdsa.key')} }, { cert: ${file('rsa.pem')}, key: ${file('rsa.key')} }]
  staple.test:
    backends: [127.0.0.1:${backendPort}]
    terminate: { cert: ${file('staple.pem')}, key: ${file('staple.key')}, ocsp: ${file('staple.ocsp.der')} }
  a.example.test:
    backends: [127.0.0.1:${backendPort}]
    terminate: { cert: ${file('wild.pem')}, key: ${file('wild.key')} }
  a.b.example.test:
    backends: [127.0.0.1:${backendPort}]
    terminate: { cert: ${file('wild.pem')}, key: ${file('wild.key')} }
  "*.example.test":
    backends: [127.0.0.1:${backendPort}]
    terminate: { cert: ${file('wild.pem')}, key: ${file('wild.key')} }
  "*.other.test":
    backends: [127.0.0.1:${backendPort}]
    terminate: { cert: ${file('staple.pem')}, key: ${file('staple.key')} }
`;
}

describe('check warnings', () => {
  it('warns for names that do not cover the route (RFC 6125 wildcards) and for expiry within 21 days, nothing else', () => {
    const config = loadYaml(yamlFor(9));
    const messages = certificateWarnings(config).map((warning) => warning.message);
    expect(messages).toHaveLength(3);
    expect(messages.find((m) => m.includes("route 'app.test'"))).toMatch(/ecdsa\.pem' of route 'app\.test' expires on .*, in (9|10) days \(under 21\)/);
    expect(messages.find((m) => m.includes("route 'a.b.example.test'"))).toContain("does not cover 'a.b.example.test': it names *.example.test");
    expect(messages.find((m) => m.includes("route '*.other.test'"))).toContain('(it needs *.other.test): it names staple.test');
  });

  it('sni-router check prints them as warnings and still exits 0', async () => {
    const yamlFile = file('router.yaml');
    writeFileSync(yamlFile, yamlFor(9));
    const cli = path.resolve(import.meta.dirname, '../../dist/cli.js');
    const result = await run('node', [cli, 'check', '-c', yamlFile]);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/router\.yaml:\d+:\d+: warning: the certificate '.*wild\.pem' of route 'a\.b\.example\.test' does not cover/);
    expect(result.stderr.match(/warning:/g)).toHaveLength(3);
  });
});

describe('serving', () => {
  let router: TestRouter;
  let backend: CaptureBackend;

  beforeAll(async () => {
    backend = await startCaptureBackend();
    router = await startTestRouter(yamlFor(backend.port));
  });
  afterAll(async () => {
    await router?.stop();
    await backend?.close();
  });

  const sClient = (servername: string, ...extra: string[]): Promise<string> =>
    run('openssl', ['s_client', '-connect', `127.0.0.1:${router.port()}`, '-servername', servername, '-CAfile', file('ca.pem'), ...extra], 'Q\n').then(
      (result) => result.stdout + result.stderr,
    );

  it('serves the ECDSA certificate to a client that allows only ECDSA signatures', async () => {
    const out = await sClient('app.test', '-sigalgs', 'ECDSA+SHA256');
    expect(out).toContain('Server public key is 256 bit');
    expect(out).toContain('Peer signature type: ECDSA');
    expect(out).toContain('Verify return code: 0 (ok)');
  });

  it('serves the RSA certificate to a client that allows only RSA signatures', async () => {
    const out = await sClient('app.test', '-sigalgs', 'RSA-PSS+SHA256:RSA+SHA256');
    expect(out).toContain('Server public key is 2048 bit');
    expect(out).toMatch(/Peer signature type: RSA/);
  });

  it('serves the RSA certificate to a TLS 1.2 client offering only an RSA cipher suite', async () => {
    const out = await sClient('app.test', '-tls1_2', '-cipher', 'ECDHE-RSA-AES128-GCM-SHA256');
    expect(out).toContain('Server public key is 2048 bit');
    expect(out).toContain('ECDHE-RSA-AES128-GCM-SHA256');
  });

  it('staples the OCSP response from the file to s_client -status', async () => {
    const out = await sClient('staple.test', '-status');
    expect(out).toContain('OCSP Response Status: successful (0x0)');
    expect(out).toContain('Cert Status: good');
  });

  it('sends no OCSP response for a route without ocsp', async () => {
    const out = await sClient('a.example.test', '-status');
    expect(out).toContain('OCSP response: no response sent');
  });

  it('/routes lists each certificate with its expiry, and the metric gives the earliest per route', async () => {
    const described = describeRoutes(router.router.config, 'h') as { routes: Array<{ name: string; certificates?: Array<Record<string, unknown>> }> };
    const app = described.routes.find((route) => route.name === 'app.test')!;
    expect(app.certificates!.map((c) => c.key_type)).toEqual(['ec', 'rsa']);
    expect(app.certificates![0]).toMatchObject({ file: file('ecdsa.pem'), dns_names: ['app.test'] });
    expect(app.certificates![0]!.expires_in_days).toBeGreaterThanOrEqual(9);
    expect(app.certificates![0]!.expires_in_days).toBeLessThanOrEqual(10);

    const metrics = new RouterMetrics(new Registry(), { processMetrics: false });
    metrics.watchCertificates(() => router.router.certificateExpiries());
    const families = parsePrometheusText(await metrics.registry.metrics());
    const ecdsaNotAfter = Date.parse(String(app.certificates![0]!.not_after)) / 1000;
    expect(valueOf(families, 'sni_router_certificate_expiry_seconds', { route: 'app.test' })).toBe(Math.floor(ecdsaNotAfter));
    expect(valueOf(families, 'sni_router_certificate_expiry_seconds', { route: 'staple.test' })).toBeGreaterThan(ecdsaNotAfter);
  });
});
