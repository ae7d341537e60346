/**
 * QUIC passthrough by SNI with real QUIC stacks on loopback: ngtcp2's gtlsclient and headless Chromium as clients,
 * two gtlsserver backends (one certificate each, no SNI selection), and the flow engine routed by the real
 * RouteTable in between. Each backend serves a different body, so what a client downloads says which backend
 * its flow reached.
 */
import dgram from 'node:dgram';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildInitialPacket, cryptoFrame } from '../../src/wire/initial-builder.js';
import { deriveClientInitialKeys, QUIC_VERSION_1 } from '../../src/wire/quic-crypto.js';
import { hasChromium } from '../helpers/chromium.js';
import { buildClientHello } from '../helpers/hello-builder.js';
import {
  ALPHA_BODY,
  BETA_BODY,
  CERTS_DIR,
  canUsePrivateHosts,
  fetchWithChromium,
  fetchWithGtlsClient,
  freeUdpPort,
  hasGtls,
  spkiHash,
  udpSocketsOfThisProcess,
  useAlphaAndBetaServers,
} from '../helpers/quic-peers.js';
import { startQuicRouter, type TestQuicRouter } from '../helpers/quic-router.js';
import { waitFor } from '../helpers/wait-for.js';

const canRun = hasGtls() && canUsePrivateHosts();

describe.skipIf(!canRun)('QUIC routed by SNI to real QUIC servers', () => {
  const peers = useAlphaAndBetaServers();

  async function withRouter(
    options: Parameters<typeof startQuicRouter>[0],
    body: (router: TestQuicRouter) => Promise<void>,
  ): Promise<void> {
    const router = await startQuicRouter(options);
    try {
      await body(router);
    } finally {
      await router.close();
    }
  }

  const routes = (): string[] => [`alpha.test=127.0.0.1:${peers.alpha.port}`, `beta.test=127.0.0.1:${peers.beta.port}`];

  it('each name reaches its own server, and the flow record says how', async () => {
    await withRouter({ routes: routes(), limits: { idleTimeoutMs: 300 } }, async (router) => {
      const [toAlpha, toBeta] = await Promise.all([
        fetchWithGtlsClient('alpha.test', router.port, peers.hostsFile),
        fetchWithGtlsClient('beta.test', router.port, peers.hostsFile),
      ]);
      expect(toAlpha.body, toAlpha.output).toBe(ALPHA_BODY);
      expect(toBeta.body, toBeta.output).toBe(BETA_BODY);
      const records = await router.waitForRecords((all) => all.length === 2);
      const alphaRecord = records.find((record) => record.sni === 'alpha.test')!;
      expect(alphaRecord).toMatchObject({
        mode: 'quic',
        route: 'alpha.test',
        backend: `127.0.0.1:${peers.alpha.port}`,
        quicVersion: QUIC_VERSION_1,
        reason: 'idle_timeout',
      });
      expect(alphaRecord.alpn).toContain('h3');
      expect(alphaRecord.datagramsIn).toBeGreaterThan(1);
      expect(alphaRecord.datagramsOut).toBeGreaterThan(1);
      expect(alphaRecord.bytesOut).toBeGreaterThan(ALPHA_BODY.length);
      expect(records.find((record) => record.sni === 'beta.test')).toMatchObject({ route: 'beta.test', backend: `127.0.0.1:${peers.beta.port}` });
    });
  });

  it('an unknown name is dropped and never answered; its flow ends as no_route', async () => {
    await withRouter({ routes: routes(), limits: { helloTimeoutMs: 2_000 } }, async (router) => {
      // The client retries for a while; 3 s is enough to see its Initial and a retransmission or two.
      const result = await fetchWithGtlsClient('gamma.test', router.port, peers.hostsFile, 3_000);
      expect(result.body).toBeNull();
      const records = await router.waitForRecords((all) => all.length >= 1);
      // Retransmitted Initials within the hello timeout land on the same rejected flow: one record, not one each.
      expect(records).toHaveLength(1);
      expect(records[0]).toMatchObject({ sni: 'gamma.test', route: null, backend: null, reason: 'no_route', datagramsOut: 0, bytesOut: 0 });
      expect(records[0]!.datagramsIn).toBeGreaterThanOrEqual(2);
      expect(router.engine.stats().backendSockets).toBe(0);
    });
  });

  it('a backend that refuses gives way to the next one of the pool', async () => {
    // Refusal shows as ICMP port unreachable, which Linux rate-limits per destination (1/s): the answer timeout
    // covers the case where the ICMP message is suppressed.
    const closedPort = await freeUdpPort();
    const limits = { idleTimeoutMs: 300, backendAnswerTimeoutMs: 500 };
    await withRouter({ routes: [`alpha.test=127.0.0.1:${closedPort},127.0.0.1:${peers.alpha.port}`], limits }, async (router) => {
      const result = await fetchWithGtlsClient('alpha.test', router.port, peers.hostsFile);
      expect(result.body, result.output).toBe(ALPHA_BODY);
      const [record] = await router.waitForRecords((all) => all.length === 1);
      expect(record!.backend).toBe(`127.0.0.1:${peers.alpha.port}`);
    });
  });

  it('a flood of junk datagrams and of Initials sealed with wrong keys does not stop good clients', async () => {
    await withRouter({ routes: routes(), limits: { idleTimeoutMs: 300 } }, async (router) => {
      const hello = buildClientHello({ sni: 'alpha.test', alpn: ['h3'] });
      const wrongKeys = deriveClientInitialKeys(QUIC_VERSION_1, Buffer.from('0000000000000000', 'hex'));
      const badInitial = (i: number): Buffer =>
        buildInitialPacket({ version: QUIC_VERSION_1, dcid: Buffer.from(`dcid${String(i).padStart(4, '0')}`), packetNumber: 0, frames: cryptoFrame(0, hello), keys: wrongKeys });
      const flooders = await Promise.all(
        Array.from({ length: 4 }, () => new Promise<dgram.Socket>((resolve) => {
          const socket = dgram.createSocket('udp4');
          socket.bind(0, '127.0.0.1', () => resolve(socket));
        })),
      );
      let stop = false;
      let sent = 0;
      const flood = (async () => {
        // Bounded: at most 20 000 datagrams, stopped as soon as the good fetches are done.
        for (let round = 0; round < 500 && !stop; round += 1) {
          for (const [index, socket] of flooders.entries()) {
            for (let i = 0; i < 10; i += 1) {
              const kind = (round + i) % 4;
              const datagram =
                kind === 0 ? badInitial(round * 10 + i)
                : kind === 1 ? Buffer.alloc(1200, round & 0xff) // junk (short header as far as QUIC goes)
                : kind === 2 ? Buffer.from([0xc0, 0, 0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 1]) // Version Negotiation
                : Buffer.concat([Buffer.from([0xc0, 0xfa, 0xce, 0xb0, 0x0c, 8]), Buffer.alloc(1300, index)]); // unknown version
              socket.send(datagram, router.port, '127.0.0.1');
              sent += 1;
            }
          }
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      })();
      const results = await Promise.all([
        fetchWithGtlsClient('alpha.test', router.port, peers.hostsFile),
        fetchWithGtlsClient('beta.test', router.port, peers.hostsFile),
      ]);
      stop = true;
      await flood;
      for (const socket of flooders) socket.close();
      expect(results[0].body, results[0].output).toBe(ALPHA_BODY);
      expect(results[1].body, results[1].output).toBe(BETA_BODY);
      const stats = router.engine.stats();
      expect(sent).toBeGreaterThan(100);
      expect(stats.drops.hello_malformed).toBeGreaterThan(0); // the Initials with wrong keys
      expect(stats.drops.version_negotiation).toBeGreaterThan(0);
      expect(stats.drops.unsupported_version).toBeGreaterThan(0);
      // Junk made no flow: only the two good clients did.
      expect(stats.flowsOpened).toBe(2);
    });
  });

  it('flows time out and free their backend sockets', async () => {
    await withRouter({ routes: routes(), limits: { idleTimeoutMs: 400 } }, async (router) => {
      const before = udpSocketsOfThisProcess();
      const result = await fetchWithGtlsClient('alpha.test', router.port, peers.hostsFile);
      expect(result.body, result.output).toBe(ALPHA_BODY);
      await router.waitForRecords((all) => all.length === 1);
      expect(router.records[0]!.reason).toBe('idle_timeout');
      expect(router.engine.stats()).toMatchObject({ flows: 0, pendingFlows: 0, backendSockets: 0 });
      // dgram closes its descriptor on the next turn of the loop: wait for the count, with a deadline.
      await waitFor(() => udpSocketsOfThisProcess() === before, () => `UDP sockets back to ${before} (have ${udpSocketsOfThisProcess()})`, { timeoutMs: 2_000 });
      expect(udpSocketsOfThisProcess()).toBe(before);
    });
  });

  it.skipIf(!hasChromium())('headless Chromium reaches its backend over QUIC; its hello spans two Initials', { timeout: 40_000 }, async () => {
    await withRouter({ routes: routes(), limits: { idleTimeoutMs: 300 } }, async (router) => {
      const result = await fetchWithChromium('alpha.test', router.port, spkiHash(path.join(CERTS_DIR, 'alpha.test.pem')));
      expect(result.body, result.output).toContain(ALPHA_BODY.trim());
      const [record] = await router.waitForRecords((all) => all.length === 1);
      expect(record).toMatchObject({ sni: 'alpha.test', route: 'alpha.test', backend: `127.0.0.1:${peers.alpha.port}` });
      expect(record!.alpn).toContain('h3');
      expect(record!.helloDatagrams).toBeGreaterThanOrEqual(2);
    });
  });
});
