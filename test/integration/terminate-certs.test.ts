/**
 * Certificate material for terminate mode: checked at config time with the file and the YAML position named,
 * refused at start-up, re-read when it changes on disk (a bad new file keeps the old one), plus the TLS defaults
 * (minimum version, session resumption).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import tls from 'node:tls';
import path from 'node:path';
import { once } from 'node:events';
import { copyFileSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { checkCertMaterial } from '../../src/config/cert-check.js';
import { formatProblem, loadConfig } from '../../src/config/load.js';
import { describeConfig } from '../../src/config/describe.js';
import { CertificateError } from '../../src/ops/errors.js';
import { startRouter } from '../../src/serve/router.js';
import pino from 'pino';
import { startTestRouter, type TestRouter } from '../helpers/router-harness.js';
import { waitFor } from '../helpers/wait-for.js';
import { CA_FILE, CERT_DIR, listenOnLoopback, type LoopbackServer } from '../helpers/backends.js';
import { tlsConnect } from '../helpers/clients.js';

const cert = (name: string): string => path.join(CERT_DIR, name);
const CA = readFileSync(CA_FILE);

function tempDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'sni-router-terminate-'));
}

/** A TCP echo server (the backend of terminated names here). */
function startEcho(): Promise<LoopbackServer> {
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => {});
    socket.pipe(socket);
  });
  return listenOnLoopback(server);
}

async function echoOnce(socket: tls.TLSSocket, text: string): Promise<string> {
  socket.write(text);
  const [chunk] = (await once(socket, 'data')) as [Buffer];
  return chunk.toString();
}

describe('checkCertMaterial', () => {
  it.each([
    ['a leaf and its key', 'router.test.pem', 'router.test.key'],
    ['a chain with an intermediate', 'chain.test.pem', 'chain.test.key'],
    ['a wildcard', 'wild.test.pem', 'wild.test.key'],
  ])('accepts %s', (_, certFile, keyFile) => {
    expect(checkCertMaterial({ certFile: cert(certFile), keyFile: cert(keyFile) })).toEqual([]);
  });

  it.each([
    ['a key that does not match', 'router.test.pem', 'alpha.test.key', 'key', /private key file '.*alpha\.test\.key' does not match the certificate in '.*router\.test\.pem'/],
    ['an expired certificate', 'expired.test.pem', 'expired.test.key', 'cert', /certificate in '.*expired\.test\.pem' expired on 2020-02-01/],
    ['a missing file', 'nope.pem', 'router.test.key', 'cert', /cannot read the certificate file '.*nope\.pem': it does not exist/],
    ['a key where the certificate belongs', 'router.test.key', 'router.test.key', 'cert', /'.*router\.test\.key' holds no PEM certificate/],
    ['a certificate where the key belongs', 'router.test.pem', 'router.test.pem', 'key', /'.*router\.test\.pem' cannot be read as a PEM private key/],
  ])('reports %s, naming the file', (_, certFile, keyFile, role, message) => {
    const problems = checkCertMaterial({ certFile: cert(certFile), keyFile: cert(keyFile) });
    expect(problems).toHaveLength(1);
    expect(problems[0]?.role).toBe(role);
    expect(problems[0]?.message).toMatch(message);
  });
});

describe('terminate settings in the config file', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function problemsOf(yaml: string): string[] {
    const file = path.join(dir, 'router.yaml');
    writeFileSync(file, yaml);
    const result = loadConfig({ configFile: file });
    return result.ok ? [] : result.problems.map(formatProblem);
  }

  it('reads every terminate key and shows them in the check table', () => {
    const file = path.join(dir, 'good.yaml');
    writeFileSync(
      file,
      `listen: ["127.0.0.1:0"]
routes:
  router.test:
    backends: [127.0.0.1:9]
    terminate:
      cert: ${cert('router.test.pem')}
      key: ${cert('router.test.key')}
      min_version: TLSv1.3
      alpn: [http/1.1]
      client_ca: ${CA_FILE}
      backend_tls: { ca: ${CA_FILE}, servername: app.internal, verify: false }
`,
    );
    const result = loadConfig({ configFile: file });
    if (!result.ok) throw new Error(result.problems.map(formatProblem).join('\n'));
    expect(result.config.routes[0]?.terminate).toEqual({
      certFile: cert('router.test.pem'),
      keyFile: cert('router.test.key'),
      minVersion: 'TLSv1.3',
      alpn: ['http/1.1'],
      clientCaFile: CA_FILE,
      backendTls: { caFile: CA_FILE, servername: 'app.internal', verify: false },
      http: null, // resolved: a byte stream, not HTTP termination
      certs: null, // one certificate, given as cert/key
      ocspFile: null,
    });
    const table = describeConfig(result.config);
    expect(table).toContain('min TLSv1.3');
    expect(table).toContain('alpn http/1.1');
    expect(table).toContain(`client_ca ${CA_FILE}`);
    expect(table).toContain('backend_tls servername app.internal, verify off');
  });

  it('reports bad material at the YAML key, naming the file', () => {
    const problems = problemsOf(`listen: ["127.0.0.1:0"]
routes:
  a.test:
    backends: [127.0.0.1:9]
    terminate: { cert: ${cert('router.test.pem')}, key: ${cert('alpha.test.key')} }
  b.test:
    backends: [127.0.0.1:9]
    terminate:
      cert: ${cert('expired.test.pem')}
      key: ${cert('expired.test.key')}
`);
    const where = path.join(dir, 'router.yaml');
    expect(problems).toHaveLength(2);
    const keyCol = 5 + `    terminate: { cert: ${cert('router.test.pem')}, key: `.length - 4;
    expect(problems[0]).toBe(
      `${where}:5:${keyCol}: the private key file '${cert('alpha.test.key')}' does not match the certificate in '${cert('router.test.pem')}' (CN=router.test) (terminate of route 'a.test')`,
    );
    expect(problems[1]).toMatch(new RegExp(`^${where.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:9:13: the certificate in '.*expired\\.test\\.pem' expired on 2020-02-01T00:00:00\\.000Z`));
  });

  it('reports bad values of the new keys, with did-you-mean', () => {
    const problems = problemsOf(`listen: ["127.0.0.1:0"]
routes:
  a.test:
    backends: [127.0.0.1:9]
    terminate:
      cert: ${cert('router.test.pem')}
      key: ${cert('router.test.key')}
      min_version: TLSv1.1
      alpn: h2
      client_ca: ${cert('missing-ca.pem')}
      backend_tls: { verfy: false, servername: "not a name" }
`).map((line) => line.replace(/^.*router\.yaml:/, ''));
    expect(problems).toEqual([
      "8:20: min_version of route 'a.test' must be TLSv1.2 or TLSv1.3, not 'TLSv1.1'; did you mean 'TLSv1.2'?",
      "9:13: alpn of terminate of route 'a.test' must be a list of protocol names, as in [h2, http/1.1]",
      `10:18: cannot read the client CA file '${cert('missing-ca.pem')}' of route 'a.test': it does not exist`,
      "11:22: unknown key 'verfy' in backend_tls of route 'a.test'; did you mean 'verify'?",
      "11:48: servername of backend_tls of route 'a.test' must be a host name: it contains a space; only letters, digits, '-', '_' and dots are allowed",
    ]);
  });
});

describe('start-up with bad certificate material', () => {
  it('--terminate with a key that does not match refuses to start, naming the file', async () => {
    const loaded = loadConfig({
      listen: ['127.0.0.1:0'],
      routes: ['flag.test=127.0.0.1:9'],
      terminate: ['flag.test'],
      cert: cert('beta.test.pem'),
      key: cert('alpha.test.key'),
    });
    if (!loaded.ok) throw new Error(loaded.problems.map(formatProblem).join('\n'));
    const attempt = startRouter(loaded.config, { logger: pino({ level: 'silent' }) });
    await expect(attempt).rejects.toBeInstanceOf(CertificateError);
    await expect(attempt).rejects.toThrow(/alpha\.test\.key' does not match the certificate in '.*beta\.test\.pem'/);
  });
});

describe('certificate rotation on disk', () => {
  let dir: string;
  let echo: Awaited<ReturnType<typeof startEcho>>;
  let router: TestRouter;
  const open: tls.TLSSocket[] = [];

  beforeAll(async () => {
    dir = tempDir();
    copyFileSync(cert('router.test.pem'), path.join(dir, 'site.pem'));
    copyFileSync(cert('router.test.key'), path.join(dir, 'site.key'));
    echo = await startEcho();
    router = await startTestRouter(`
listen: ["127.0.0.1:0"]
proxy_protocol: none
routes:
  router.test:
    backends: [${echo.label}]
    terminate: { cert: ${path.join(dir, 'site.pem')}, key: ${path.join(dir, 'site.key')} }
`);
  });

  afterEach(() => {
    for (const socket of open.splice(0)) socket.destroy();
  });

  afterAll(async () => {
    await router?.stop();
    await echo?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Replaces `name` in the temp dir the way certbot and cert-manager do: write beside it, rename over it. */
  function replace(name: string, content: Buffer | string): void {
    const staging = path.join(dir, `.${name}.new`);
    writeFileSync(staging, content);
    renameSync(staging, path.join(dir, name));
  }

  /** Polls (bounded): the reload is announced by a line, but the served certificate is what the client sees. */
  async function waitForServedCn(cn: string, timeoutMs = 10_000): Promise<void> {
    let served: unknown;
    const isServed = async (): Promise<boolean> => {
      const socket = await tlsConnect(router.port(), 'router.test');
      served = socket.getPeerCertificate().subject.CN;
      socket.destroy();
      return served === cn;
    };
    await waitFor(isServed, () => `CN ${cn} to be served (still ${served})`, { timeoutMs, intervalMs: 50 });
  }

  function waitForLog(message: string, timeoutMs = 10_000): Promise<Record<string, unknown>> {
    return router.waitForLog((line) => line.msg === message, timeoutMs);
  }

  it('new connections get the new certificate; an open connection keeps going; a bad file keeps the old one', async () => {
    const old = await tlsConnect(router.port(), 'router.test');
    open.push(old);
    expect(old.getPeerCertificate().subject.CN).toBe('router.test');
    expect(await echoOnce(old, 'before')).toBe('before');

    replace('site.key', readFileSync(cert('router-next.test.key')));
    replace('site.pem', readFileSync(cert('router-next.test.pem')));
    await waitForServedCn('router-next.test');
    const reloaded = await waitForLog('certificate reloaded');
    expect(reloaded.cert).toBe(path.join(dir, 'site.pem'));

    // The connection opened before the renewal is untouched.
    expect(await echoOnce(old, 'after')).toBe('after');

    // A broken renewal (a truncated file) is refused with the file named; the last good certificate stays.
    replace('site.pem', '-----BEGIN CERTIFICATE-----\nnot base64\n');
    const failed = await waitForLog('certificate reload failed; keeping the previous certificate');
    expect(failed.file).toBe(path.join(dir, 'site.pem'));
    const socket = await tlsConnect(router.port(), 'router.test');
    open.push(socket);
    expect(socket.getPeerCertificate().subject.CN).toBe('router-next.test');
    expect(await echoOnce(socket, 'still fine')).toBe('still fine');
  });
});

describe('TLS defaults', () => {
  let echo: Awaited<ReturnType<typeof startEcho>>;
  let router: TestRouter;
  beforeAll(async () => {
    echo = await startEcho();
    router = await startTestRouter(`
listen: ["127.0.0.1:0"]
proxy_protocol: none
routes:
  router.test:
    backends: [${echo.label}]
    terminate: { cert: ${cert('router.test.pem')}, key: ${cert('router.test.key')} }
  legacy.test:
    backends: [${echo.label}]
    terminate: { cert: ${cert('router.test.pem')}, key: ${cert('router.test.key')}, min_version: TLSv1.3 }
`);
  });
  afterAll(async () => {
    await router?.stop();
    await echo?.close();
  });

  it('TLS 1.2 is accepted by default; min_version TLSv1.3 refuses it', async () => {
    const tls12 = await tlsConnect(router.port(), 'router.test', { maxVersion: 'TLSv1.2' });
    expect(tls12.getProtocol()).toBe('TLSv1.2');
    expect(await echoOnce(tls12, 'v1.2')).toBe('v1.2');
    tls12.destroy();
    const refused = tls.connect({ port: router.port(), host: '127.0.0.1', servername: 'legacy.test', ca: CA, maxVersion: 'TLSv1.2' });
    const [error] = (await once(refused, 'error')) as [Error];
    expect(error.message).toMatch(/protocol version|alert/i);
  });

  it('sessions resume with a ticket', async () => {
    const first = await tlsConnect(router.port(), 'router.test');
    const [session] = (await once(first, 'session')) as [Buffer];
    first.destroy();
    const second = await tlsConnect(router.port(), 'router.test', { session });
    expect(second.isSessionReused()).toBe(true);
    second.destroy();
  });

  it('TLS 1.2 renegotiation is refused', async () => {
    const socket = await tlsConnect(router.port(), 'router.test', { maxVersion: 'TLSv1.2' });
    const refused = new Promise<Error>((resolve) => {
      socket.on('error', resolve);
      socket.renegotiate({}, (error) => error && resolve(error));
    });
    expect((await refused).message).toMatch(/no renegotiation/);
    socket.destroy();
  }, 10_000);
});
