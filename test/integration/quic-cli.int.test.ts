/**
 * QUIC by SNI through the real command line (`node dist/cli.js`), as an operator runs it: a config file (or
 * flags with --quic), TCP and UDP on one port, real QUIC stacks (ngtcp2's gtlsclient/gtlsserver, headless
 * Chromium), the access log, /metrics and /connections on the admin listener, SIGHUP reloads and SIGTERM drains.
 * Each backend serves its own body, so what a client downloads says which backend its flow reached.
 */
import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildInitialPacket, cryptoFrame } from '../../src/wire/initial-builder.js';
import { QUIC_VERSION_1 } from '../../src/wire/quic-crypto.js';
import { type RouterProcess, startRouterProcess } from '../helpers/cli-process.js';
import { hasChromium } from '../helpers/chromium.js';
import { buildClientHello } from '../helpers/hello-builder.js';
import { parsePrometheusText, valueOf } from '../helpers/prometheus-text.js';
import {
  ALPHA_BODY,
  BETA_BODY,
  CERTS_DIR,
  canUsePrivateHosts,
  fetchWithChromium,
  fetchWithGtlsClient,
  hasGtls,
  spkiHash,
  useAlphaAndBetaServers,
} from '../helpers/quic-peers.js';
import { type EchoBackend, oneShot, startEchoBackend } from '../helpers/streams.js';

const routers: RouterProcess[] = [];
const dirs: string[] = [];

afterEach(async () => {
  await Promise.all(routers.splice(0).map((router) => router.stop('SIGKILL')));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function configFile(text: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'sni-router-quic-cli-'));
  dirs.push(dir);
  const file = path.join(dir, 'router.yaml');
  writeFileSync(file, text);
  return file;
}

interface Started {
  readonly router: RouterProcess;
  /** The one port TCP and UDP share. */
  readonly port: number;
  readonly adminPort: number | null;
}

async function start(args: string[], withAdmin = false): Promise<Started> {
  const router = await startRouterProcess(args);
  routers.push(router);
  const tcp = await router.waitForLine((line) => line.msg === 'listening');
  const udp = await router.waitForLine((line) => line.msg === 'quic listening');
  expect(udp.port).toBe(tcp.port);
  const admin = withAdmin ? await router.waitForLine((line) => line.msg === 'admin listening') : null;
  await router.waitForLine((line) => line.msg === 'sni-router started');
  return { router, port: Number(tcp.port), adminPort: admin === null ? null : Number(admin.port) };
}

const flowLines = (router: RouterProcess): Array<Record<string, unknown>> =>
  router.lines().filter((line) => line.msg === 'connection closed' && line.mode === 'quic');

async function waitForFlows(router: RouterProcess, count: number): Promise<Array<Record<string, unknown>>> {
  await router.waitForLine(() => flowLines(router).length >= count, 15_000);
  return flowLines(router);
}

async function adminGet(port: number, what: string): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}${what}`);
  return response.text();
}

describe.skipIf(!(hasGtls() && canUsePrivateHosts()))('QUIC through the CLI with real QUIC peers', () => {
  const peers = useAlphaAndBetaServers();

  it('gtlsclient: two names reach their own servers; one access line per flow, metrics and /connections count them', async () => {
    const file = configFile(
      [
        'listen: [{ address: "127.0.0.1:0", quic: true }]',
        'admin: "127.0.0.1:0"',
        'proxy_protocol: v2',
        'quic: { idle_timeout: 300ms }',
        'routes:',
        `  alpha.test: [127.0.0.1:${peers.alpha.port}]`,
        `  beta.test: { backends: [127.0.0.1:1], quic_backends: [127.0.0.1:${peers.beta.port}] }`,
        '',
      ].join('\n'),
    );
    const { router, port, adminPort } = await start(['-c', file], true);
    const [toAlpha, toBeta] = await Promise.all([
      fetchWithGtlsClient('alpha.test', port, peers.hostsFile),
      fetchWithGtlsClient('beta.test', port, peers.hostsFile),
    ]);
    expect(toAlpha.body, toAlpha.output).toBe(ALPHA_BODY);
    expect(toBeta.body, toBeta.output).toBe(BETA_BODY);
    const lines = await waitForFlows(router, 2);
    const alphaLine = lines.find((line) => line.sni === 'alpha.test')!;
    expect(alphaLine).toMatchObject({
      listener: '127.0.0.1:0',
      route: 'alpha.test',
      backend: `127.0.0.1:${peers.alpha.port}`,
      mode: 'quic',
      reason: 'idle_timeout',
      quic_version: QUIC_VERSION_1,
    });
    expect(String(alphaLine.alpn)).toContain('h3');
    for (const key of ['datagrams_in', 'datagrams_out', 'bytes_in', 'bytes_out', 'duration_ms']) expect(alphaLine[key], key).toBeGreaterThan(0);
    expect(Number(alphaLine.bytes_out)).toBeGreaterThan(ALPHA_BODY.length);
    expect(lines.find((line) => line.sni === 'beta.test')).toMatchObject({ route: 'beta.test', backend: `127.0.0.1:${peers.beta.port}` });

    const families = parsePrometheusText(await adminGet(adminPort!, '/metrics'));
    expect(valueOf(families, 'sni_router_client_hello_total', { outcome: 'sni_found', protocol: 'quic' })).toBe(2);
    expect(valueOf(families, 'sni_router_client_hello_total', { outcome: 'sni_found', protocol: 'tcp' })).toBe(0);
    expect(valueOf(families, 'sni_router_quic_flows_closed_total', { route: 'alpha.test', reason: 'idle_timeout' })).toBe(1);
    expect(valueOf(families, 'sni_router_quic_datagrams_total', { route: 'beta.test', direction: 'out' })).toBe(Number(lines.find((line) => line.sni === 'beta.test')!.datagrams_out));
    expect(valueOf(families, 'sni_router_quic_flows_active')).toBe(0);
    expect(valueOf(families, 'sni_router_quic_dropped_datagrams_total', { reason: 'short_header' })).toBe(0);
    const connections = JSON.parse(await adminGet(adminPort!, '/connections')) as Record<string, unknown>;
    expect(connections).toMatchObject({ quicFlows: 0, active: 0 });
  });

  it('--quic: an unknown name goes to --default; without one it is dropped, never answered', async () => {
    // The file gives the routes and a short idle timeout; the flags give the address and --quic.
    const file = configFile(`quic: { idle_timeout: 300ms, hello_timeout: 1s }\nroutes:\n  alpha.test: [127.0.0.1:${peers.alpha.port}]\n`);
    const withDefault = await start(['-c', file, '-l', '127.0.0.1:0', '--quic', '-d', `127.0.0.1:${peers.beta.port}`]);
    const without = await start(['-c', file, '-l', '127.0.0.1:0', '--quic']);
    // gtlsserver has one certificate and gtlsclient does not check it: the body says which server answered.
    const [toDefault, dropped] = await Promise.all([
      fetchWithGtlsClient('gamma.test', withDefault.port, peers.hostsFile),
      fetchWithGtlsClient('gamma.test', without.port, peers.hostsFile, 3_000),
    ]);
    expect(toDefault.body, toDefault.output).toBe(BETA_BODY);
    expect(dropped.body).toBeNull();
    const [defaultLine] = await waitForFlows(withDefault.router, 1);
    expect(defaultLine).toMatchObject({ sni: 'gamma.test', route: 'default', backend: `127.0.0.1:${peers.beta.port}` });
    const [droppedLine] = await waitForFlows(without.router, 1);
    expect(droppedLine).toMatchObject({ sni: 'gamma.test', route: null, backend: null, reason: 'no_route', datagrams_out: 0, bytes_out: 0 });
  });

  it('TCP and UDP on the same port at once: a TLS stream and a QUIC download side by side', async () => {
    const tcpBackend: EchoBackend = await startEchoBackend('tcp-alpha');
    try {
      const file = configFile(
        [
          'listen: [{ address: "127.0.0.1:0", quic: true }]',
          'proxy_protocol: none',
          'quic: { idle_timeout: 300ms }',
          'routes:',
          `  alpha.test: { backends: [${tcpBackend.label}], quic_backends: [127.0.0.1:${peers.alpha.port}] }`,
          '',
        ].join('\n'),
      );
      const { router, port } = await start(['-c', file]);
      const [overTcp, overUdp] = await Promise.all([oneShot(port, 'alpha.test'), fetchWithGtlsClient('alpha.test', port, peers.hostsFile)]);
      expect(overTcp).toBe('tcp-alpha');
      expect(overUdp.body, overUdp.output).toBe(ALPHA_BODY);
      await waitForFlows(router, 1);
      const modes = router.lines().filter((line) => line.msg === 'connection closed').map((line) => line.mode).sort();
      expect(modes).toEqual(['passthrough', 'quic']);
    } finally {
      await tcpBackend.close();
    }
  });

  it.skipIf(!hasChromium())('headless Chromium reaches its backend over QUIC through the CLI; its hello spans two Initials', { timeout: 45_000 }, async () => {
    const file = configFile(
      ['listen: [{ address: "127.0.0.1:0", quic: true }]', 'quic: { idle_timeout: 300ms }', 'routes:', `  alpha.test: [127.0.0.1:${peers.alpha.port}]`, `  beta.test: [127.0.0.1:${peers.beta.port}]`, ''].join('\n'),
    );
    const { router, port } = await start(['-c', file]);
    const result = await fetchWithChromium('alpha.test', port, spkiHash(path.join(CERTS_DIR, 'alpha.test.pem')));
    expect(result.body, result.output).toContain(ALPHA_BODY.trim());
    const lines = await waitForFlows(router, 1);
    const line = lines.find((entry) => entry.sni === 'alpha.test')!;
    expect(line).toMatchObject({ route: 'alpha.test', backend: `127.0.0.1:${peers.alpha.port}`, mode: 'quic' });
    expect(String(line.alpn)).toContain('h3');
    expect(Number(line.hello_datagrams)).toBeGreaterThanOrEqual(2);
  });
});

/** A UDP backend that answers every datagram with its name, and counts what it got; on `port` when given. */
async function namedUdpBackend(name: string, port = 0): Promise<{ port: number; received: () => number; close: () => Promise<void> }> {
  const socket = dgram.createSocket('udp4');
  let received = 0;
  socket.on('message', (_datagram, peer) => {
    received += 1;
    socket.send(name, peer.port, peer.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, '127.0.0.1', () => {
      socket.removeListener('error', reject);
      resolve();
    });
  });
  return { port: socket.address().port, received: () => received, close: () => new Promise((resolve) => socket.close(() => resolve())) };
}

/**
 * A named UDP backend with a TCP listener on the same port number (for a TCP health check to find it up). The
 * TCP port is picked free first; if its UDP twin is taken (other tests run at once), another pair is tried.
 */
async function udpBackendWithTcpTwin(name: string): Promise<{ backend: Awaited<ReturnType<typeof namedUdpBackend>>; tcp: net.Server }> {
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const tcp = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(0, '127.0.0.1', () => resolve());
    });
    try {
      return { backend: await namedUdpBackend(name, (tcp.address() as net.AddressInfo).port), tcp };
    } catch {
      tcp.close();
    }
  }
  throw new Error('no port free for both TCP and UDP in 20 tries');
}

/** A client socket of its own (one flow), which sends and waits for the next answer. */
async function udpClient(routerPort: number): Promise<{ port: number; ask: (datagram: Buffer) => Promise<string>; close: () => void }> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  return {
    port: socket.address().port,
    ask: (datagram) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no answer through the router within 5 s')), 5_000);
        socket.once('message', (answer) => {
          clearTimeout(timer);
          resolve(answer.toString());
        });
        socket.send(datagram, routerPort, '127.0.0.1');
      }),
    close: () => socket.close(),
  };
}

function initialFor(sni: string): Buffer {
  return buildInitialPacket({ version: QUIC_VERSION_1, dcid: randomBytes(8), packetNumber: 0, frames: cryptoFrame(0, buildClientHello({ sni, alpn: ['h3'] })) });
}

describe('QUIC backend order from the route pool, through the CLI', () => {
  it('round-robin spreads new flows over the pool; a backend its TCP health check finds down is left out', async () => {
    // `first` and `second` also listen on TCP at their UDP port, so the active check finds them up; `third` has
    // no TCP listener there, so its check fails and it is marked down.
    const twins = await Promise.all([udpBackendWithTcpTwin('first'), udpBackendWithTcpTwin('second')]);
    const [first, second] = twins.map((twin) => twin.backend) as [Awaited<ReturnType<typeof namedUdpBackend>>, Awaited<ReturnType<typeof namedUdpBackend>>];
    const tcpListeners = twins.map((twin) => twin.tcp);
    const third = await namedUdpBackend('third');
    const clients: Array<{ close: () => void }> = [];
    try {
      const backends = [first, second, third].map((backend) => `127.0.0.1:${backend.port}`).join(', ');
      const file = configFile(
        `listen: [{ address: "127.0.0.1:0", quic: true }]\nroutes:\n  app.test:\n    backends: [${backends}]\n` +
          '    health: { interval: 100ms, timeout: 500ms, rise: 1, fall: 1 }\n',
      );
      const { router, port } = await start(['-c', file]);
      await router.waitForLine((line) => line.msg === 'backend down' && line.backend === `127.0.0.1:${third.port}`);
      const answers: string[] = [];
      for (let i = 0; i < 4; i += 1) {
        const client = await udpClient(port);
        clients.push(client);
        answers.push(await client.ask(initialFor('app.test')));
      }
      expect(answers.filter((name) => name === 'first')).toHaveLength(2);
      expect(answers.filter((name) => name === 'second')).toHaveLength(2);
      expect(third.received()).toBe(0);
    } finally {
      for (const client of clients) client.close();
      for (const server of tcpListeners) server.close();
      await Promise.all([first.close(), second.close(), third.close()]);
    }
  });
});

describe('QUIC reload and shutdown through the CLI', () => {
  it('a reload moves new flows only; SIGTERM drains: open flows keep forwarding, new ones are not taken', async () => {
    const [first, second] = await Promise.all([namedUdpBackend('first'), namedUdpBackend('second')]);
    const clients: Array<{ close: () => void }> = [];
    try {
      const text = (backend: number): string =>
        `listen: [{ address: "127.0.0.1:0", quic: true }]\nshutdown_grace: 5s\nquic: { idle_timeout: 20s }\nroutes:\n  app.test: [127.0.0.1:${backend}]\n`;
      const file = configFile(text(first.port));
      const { router, port } = await start(['-c', file, '--no-watch']);
      const early = await udpClient(port);
      clients.push(early);
      expect(await early.ask(initialFor('app.test'))).toBe('first');

      writeFileSync(file, text(second.port));
      router.child.kill('SIGHUP');
      await router.waitForLine((line) => line.msg === 'config reloaded', 15_000);
      // The flow routed before the reload keeps its backend; a new flow takes the new table.
      expect(await early.ask(Buffer.from('still there'))).toBe('first');
      const late = await udpClient(port);
      clients.push(late);
      expect(await late.ask(initialFor('app.test'))).toBe('second');

      router.child.kill('SIGTERM');
      await router.waitForLine((line) => line.msg === 'shutting down');
      const refused = await udpClient(port);
      clients.push(refused);
      refused.ask(initialFor('app.test')).catch(() => {}); // never answered: the router is draining
      // Datagrams from one socket are handled in order, so once `early` hears back, `refused` was already seen.
      expect(await early.ask(Buffer.from('draining'))).toBe('first');
      // The grace runs out with both flows still open (idle_timeout 20s): they end as shutdown, then the process.
      if (router.child.exitCode === null) await once(router.child, 'exit');
      expect(router.child.exitCode).toBe(0);
      const lines = flowLines(router);
      expect(lines.map((line) => [line.client, line.backend, line.reason]).sort()).toEqual(
        [
          [`127.0.0.1:${early.port}`, `127.0.0.1:${first.port}`, 'shutdown'],
          [`127.0.0.1:${late.port}`, `127.0.0.1:${second.port}`, 'shutdown'],
        ].sort(),
      );
      expect(lines.find((line) => line.client === `127.0.0.1:${early.port}`)).toMatchObject({ datagrams_in: 3, datagrams_out: 3 });
      expect(first.received()).toBe(3);
      expect(second.received()).toBe(1);
    } finally {
      for (const client of clients) client.close();
      await Promise.all([first.close(), second.close()]);
    }
  });
});
