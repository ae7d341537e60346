/** Config for plain-HTTP listeners and terminate certificate lists, from YAML and flags; certificate name coverage. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type CliInput, formatProblem, loadConfig } from '../../src/config/load.js';
import { configToYaml } from '../../src/config/to-yaml.js';
import { certificateNameCovers, describeUncoveredRoute } from '../../src/config/certificate-warnings.js';

const CERT = resolve('fixtures/configs/certs/legacy.pem');
const KEY = resolve('fixtures/configs/certs/legacy.key');

function load(text: string, flags: Omit<CliInput, 'configFile'> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'sni-router-config-'));
  const file = join(dir, 'config.yaml');
  writeFileSync(file, text);
  return loadConfig({ configFile: file, ...flags });
}

const ROUTES = 'routes:\n  a.test: [127.0.0.1:8080]\n';

describe('plain-HTTP listen entries', () => {
  it('reads http: redirect with https_port and http: route', () => {
    const result = load(`listen:\n  - ":443"\n  - { address: ":80", http: redirect, https_port: 8443 }\n  - { address: "127.0.0.1:8080", http: route }\n${ROUTES}`);
    expect(result.ok && result.config.listen.map((l) => [l.label, l.http ?? null, l.httpsPort ?? null])).toEqual([
      [':443', null, null],
      [':80', 'redirect', 8443],
      ['127.0.0.1:8080', 'route', null],
    ]);
  });

  it.each([
    ['{ address: ":80", http: redirct }', "http of a listen entry must be"],
    ['{ address: ":80", http: route, https_port: 8443 }', "https_port only applies to a listen entry with 'http: redirect'"],
    ['{ address: ":80", http: redirect, https_port: 70000 }', 'https_port 70000 is outside 1–65535'],
    ['{ address: ":80", http: redirect, accept_proxy_protocol: { trusted: ["10.0.0.0/8"] } }', 'accept_proxy_protocol is not supported on a plain-HTTP listen entry'],
  ])('refuses %s', (entry, message) => {
    const result = load(`listen:\n  - ${entry}\n${ROUTES}`);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.problems.map(formatProblem).join('\n')).toContain(message);
  });

  it('--http-redirect, --https-port and --http-route add entries; --print-config writes them back in long form', () => {
    const result = loadConfig({ listen: ['127.0.0.1:8443'], routes: ['a.test=127.0.0.1:8080'], httpRedirect: [':80'], httpsPort: '8443', httpRoute: ['127.0.0.1:8081'] });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config.listen.map((l) => [l.label, l.http ?? null, l.httpsPort ?? null])).toEqual([
      ['127.0.0.1:8443', null, null],
      [':80', 'redirect', 8443],
      ['127.0.0.1:8081', 'route', null],
    ]);
    expect(configToYaml(result.config)).toContain('- address: :80\n    http: redirect\n    https_port: 8443');
  });

  it('refuses --https-port without --http-redirect, and a port already listened on', () => {
    const result = loadConfig({ listen: [':80'], routes: ['a.test=127.0.0.1:8080'], httpRedirect: [':80'], httpsPort: 'x' });
    expect(!result.ok && result.problems.map((p) => p.message)).toEqual([
      "--https-port must be a port number (1–65535), not 'x'",
      "--http-redirect ':80' is already a listen address",
    ]);
    const alone = loadConfig({ listen: [':443'], routes: ['a.test=127.0.0.1:8080'], httpsPort: '8443' });
    expect(!alone.ok && alone.problems.map((p) => p.message)).toEqual(['--https-port only applies to --http-redirect listeners; give --http-redirect ADDR']);
  });
});

describe('terminate certs and ocsp', () => {
  it('takes a list of certificate pairs; the first is also cert/key', () => {
    const result = load(`listen: [":443"]\nroutes:\n  a.test:\n    backends: [127.0.0.1:8080]\n    terminate:\n      certs: [{ cert: ${CERT}, key: ${KEY} }, { cert: ${CERT}, key: ${KEY} }]\n`);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const terminate = result.config.routes[0]!.terminate!;
    expect(terminate.certFile).toBe(CERT);
    expect(terminate.certs).toHaveLength(2);
  });

  it.each([
    [`{ cert: ${CERT}, key: ${KEY}, certs: [{ cert: ${CERT}, key: ${KEY} }] }`, "gives both 'certs' and 'cert'"],
    [`{ certs: [] }`, 'needs at least one { cert, key } pair'],
    [`{ certs: [{ cert: ${CERT} }] }`, "needs 'key', the private key file (PEM)"],
    [`{ cert: ${CERT}, key: ${KEY}, ocsp: ${KEY} }`, 'is not a DER OCSP response'],
    [`{ certs: [{ cert: ${CERT}, key: ${KEY}, ocsp: ${KEY} }, { cert: ${CERT}, key: ${KEY} }] }`, 'OCSP stapling'],
  ])('refuses terminate %s', (terminate, message) => {
    const result = load(`listen: [":443"]\nroutes:\n  a.test:\n    backends: [127.0.0.1:8080]\n    terminate: ${terminate}\n`);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.problems.map(formatProblem).join('\n')).toContain(message);
  });
});

describe('certificate names cover routes (RFC 6125 wildcards)', () => {
  it.each([
    ['a.example.com', 'a.example.com', true],
    ['*.example.com', 'a.example.com', true],
    ['*.example.com', 'a.b.example.com', false],
    ['*.example.com', 'example.com', false],
    ['*.example.com', 'xexample.com', false],
    ['b.example.com', 'a.example.com', false],
  ])('%s covers %s: %s', (certificateName, name, covers) => {
    expect(certificateNameCovers(certificateName, name)).toBe(covers);
  });

  it('a wildcard route needs the same wildcard; regex routes are not judged', () => {
    expect(describeUncoveredRoute({ name: '*.example.com', kind: 'wildcard', pattern: '.example.com' }, ['*.example.com'])).toBeNull();
    expect(describeUncoveredRoute({ name: '*.example.com', kind: 'wildcard', pattern: '.example.com' }, ['a.example.com'])).toContain('it needs *.example.com');
    expect(describeUncoveredRoute({ name: '~^a', kind: 'regex', pattern: '^a' }, [])).toBeNull();
    expect(describeUncoveredRoute({ name: 'a.test', kind: 'exact', pattern: 'a.test' }, [])).toContain('no DNS names');
  });
});
