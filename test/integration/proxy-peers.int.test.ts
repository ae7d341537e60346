/**
 * End to end with real peers judging our PROXY header: curl → router (passthrough, PROXY v2/v1) → HAProxy or
 * nginx, which terminate TLS with alpha.test's certificate and read the header. Their answer shows the client's
 * real address and, for HAProxy, the SNI from PP2_TYPE_AUTHORITY and our connection id from PP2_TYPE_UNIQUE_ID.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startTestRouter, type TestRouter } from '../helpers/router-harness.js';
import { CERT_DIR } from '../helpers/backends.js';
import { curlGet } from '../helpers/clients.js';
import { HAPROXY_HTTP_PREAMBLE, hasHaproxy, hasNginx, PEER_MISSING_REASON, startHaproxy, startNginx, type PeerProcess } from '../helpers/peers.js';
import { freePort } from '../helpers/ports.js';

const certDir = mkdtempSync(path.join(tmpdir(), 'sni-router-peer-certs-'));
// HAProxy wants certificate and key in one file.
const combinedPem = path.join(certDir, 'alpha.test.pem');
writeFileSync(combinedPem, Buffer.concat([readFileSync(path.join(CERT_DIR, 'alpha.test.pem')), readFileSync(path.join(CERT_DIR, 'alpha.test.key'))]));

afterAll(() => rmSync(certDir, { recursive: true, force: true }));

describe.skipIf(!hasHaproxy())(`HAProxy accept-proxy behind the router ${hasHaproxy() ? '' : PEER_MISSING_REASON.haproxy}`, () => {
  let haproxy: PeerProcess;
  let router: TestRouter;
  let haproxyPort: number;
  let haproxyV6Port: number;

  beforeAll(async () => {
    haproxyPort = await freePort();
    haproxyV6Port = await freePort('::1');
    haproxy = await startHaproxy(
      `${HAPROXY_HTTP_PREAMBLE}
frontend tls
  bind 127.0.0.1:${haproxyPort} accept-proxy ssl crt ${combinedPem}
  bind ipv6@::1:${haproxyV6Port} accept-proxy ssl crt ${combinedPem}
  http-request return status 200 content-type text/plain lf-string "src=%[src] dst=%[dst] dport=%[dst_port] authority=%[fc_pp_authority] uid=%[fc_pp_unique_id]\\n"
`,
      { readyPorts: [haproxyPort, { host: '::1', port: haproxyV6Port }] },
    );
    router = await startTestRouter(`
listen: ["127.0.0.1:0", "[::1]:0"]
proxy_protocol: v2
routes:
  alpha.test: [127.0.0.1:${haproxyPort}]
  "*.alpha.test":
    backends: ["[::1]:${haproxyV6Port}"]
    proxy_protocol: v1
`);
  });

  afterAll(async () => {
    await router?.stop();
    await haproxy?.stop();
  });

  it('HAProxy reads the client address, the SNI and the connection id from our v2 header (IPv4)', async () => {
    const result = await curlGet('alpha.test', router.port(0));
    expect(result.stderr).toBe('');
    const body = result.stdout.trim();
    const line = await router.waitForAccessLine((l) => l.sni === 'alpha.test' && l.listener === '127.0.0.1:0');
    const clientPort = String(line.client).split(':')[1];
    expect(body).toBe(`src=127.0.0.1 dst=127.0.0.1 dport=${router.port(0)} authority=alpha.test uid=${String(line.id)}`);
    expect(clientPort).toMatch(/^\d+$/);
  });

  it('HAProxy reads an IPv6 client from our v2 header', async () => {
    const result = await curlGet('alpha.test', router.port(1), { host: '::1' });
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toMatch(new RegExp(`^src=::1 dst=::1 dport=${router.port(1)} authority=alpha.test uid=\\S+$`));
  });

  it('HAProxy reads our v1 header (a per-route proxy_protocol) from an IPv6 backend address', async () => {
    // The name is covered by the wildcard route but HAProxy's certificate is alpha.test's: tell curl to accept it.
    const result = await curlGet('www.alpha.test', router.port(0), { extra: ['--connect-to', `www.alpha.test:${router.port(0)}:127.0.0.1:${router.port(0)}`, '-k'] });
    expect(result.stderr).toBe('');
    // v1 carries addresses only: no authority, no unique id.
    expect(result.stdout.trim()).toBe(`src=127.0.0.1 dst=127.0.0.1 dport=${router.port(0)} authority= uid=`);
  });
});

describe.skipIf(!hasNginx())(`nginx proxy_protocol behind the router ${hasNginx() ? '' : PEER_MISSING_REASON.nginx}`, () => {
  let nginx: PeerProcess;
  let router: TestRouter;
  let nginxPort: number;

  beforeAll(async () => {
    nginxPort = await freePort();
    nginx = await startNginx(
      {
        http: `
  server {
    listen 127.0.0.1:${nginxPort} ssl proxy_protocol;
    ssl_certificate ${path.join(CERT_DIR, 'alpha.test.pem')};
    ssl_certificate_key ${path.join(CERT_DIR, 'alpha.test.key')};
    default_type text/plain;
    return 200 "addr=$proxy_protocol_addr port=$proxy_protocol_port server=$proxy_protocol_server_addr:$proxy_protocol_server_port sni=$ssl_server_name\\n";
  }`,
      },
      { readyPorts: [nginxPort] },
    );
    router = await startTestRouter(`
listen: [":0"]
routes:
  alpha.test: [127.0.0.1:${nginxPort}]
`);
  });

  afterAll(async () => {
    await router?.stop();
    await nginx?.stop();
  });

  it('nginx reads the client address from our v2 header, sent as IPv4 from a dual-stack listener', async () => {
    const result = await curlGet('alpha.test', router.port());
    expect(result.stderr).toBe('');
    const line = await router.waitForAccessLine((l) => l.sni === 'alpha.test');
    const clientPort = String(line.client).split(':').pop();
    expect(result.stdout.trim()).toBe(`addr=127.0.0.1 port=${clientPort} server=127.0.0.1:${router.port()} sni=alpha.test`);
  });
});
