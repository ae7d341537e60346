/**
 * Health checks up close: a check towards a PROXY pool opens with a v2 LOCAL header (v1 pools: PROXY UNKNOWN);
 * a TLS check sends the route's name as SNI; passive failures mark a backend down for a back-off; health state
 * survives a reload for backends that stay, and is forgotten for those that leave.
 */
import { afterEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';
import pino from 'pino';
import { startCaptureBackend, certFor, type CaptureBackend } from '../helpers/backends.js';
import { decodeV2 } from '../helpers/proxy-decode.js';
import { loadYaml } from '../helpers/router-harness.js';
import { HealthRegistry, PASSIVE_BACKOFF_MIN_MS } from '../../src/pools/health.js';
import { Snapshot } from '../../src/serve/snapshot.js';

const silent = pino({ level: 'silent' });
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('active checks', () => {
  it.each([
    ['v2', (data: Buffer) => expect(decodeV2(data)).toMatchObject({ command: 'LOCAL', headerLength: 16 })],
    ['v1', (data: Buffer) => expect(data.toString('latin1')).toBe('PROXY UNKNOWN\r\n')],
  ] as const)('a check towards a %s pool opens with a "not proxied" header', async (mode, verify) => {
    const backend: CaptureBackend = await startCaptureBackend();
    cleanups.push(() => backend.close());
    const config = loadYaml(`
listen: ["127.0.0.1:0"]
proxy_protocol: ${mode}
default: { backends: [127.0.0.1:${backend.port}], health: { interval: 1h, timeout: 1s } }
`);
    const snapshot = new Snapshot(config, silent);
    cleanups.push(() => snapshot.dispose());
    const connection = await backend.connection(0);
    await connection.ended;
    verify(connection.received());
  });

  it('a TLS check completes a handshake sending the route name as SNI', async () => {
    const serverNames: Array<string | false> = [];
    const server = tls.createServer({ ...certFor('alpha.test') }, (socket) => socket.end());
    let sawTwoChecks = (): void => {};
    const twoChecks = new Promise<void>((resolve) => (sawTwoChecks = resolve));
    server.on('secureConnection', (socket: tls.TLSSocket) => {
      serverNames.push(socket.servername ?? false);
      if (serverNames.length === 2) sawTwoChecks();
    });
    server.on('tlsClientError', () => {});
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const port = (server.address() as net.AddressInfo).port;
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, { write: (text: string) => lines.push(JSON.parse(text) as Record<string, unknown>) });
    const config = loadYaml(`
listen: ["127.0.0.1:0"]
proxy_protocol: none
routes:
  alpha.test: { backends: [127.0.0.1:${port}], health: { interval: 50ms, timeout: 1s, rise: 1, fall: 1, tls: true } }
`);
    const snapshot = new Snapshot(config, logger);
    cleanups.push(() => snapshot.dispose());
    // Two handshakes are two events on the server: wait for the second, bounded.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 5_000);
      void twoChecks.then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    expect(serverNames.slice(0, 2)).toEqual(['alpha.test', 'alpha.test']);
    expect(snapshot.shared.health.isUp(`127.0.0.1:${port}`)).toBe(true);
    expect(lines.filter((l) => l.msg === 'backend down')).toEqual([]);
  });
});

describe('passive health', () => {
  it('a failure marks the backend down for the back-off, then allows one trial; success brings it up', () => {
    const lines: Array<Record<string, unknown>> = [];
    const registry = new HealthRegistry(pino({ level: 'info' }, { write: (text: string) => lines.push(JSON.parse(text) as Record<string, unknown>) }));
    const now = performance.now();
    registry.reportDialFailure('b:1', 'ECONNREFUSED');
    registry.reportDialFailure('b:1', 'ECONNREFUSED');
    expect(registry.isAvailable('b:1', now)).toBe(false);
    expect(registry.isAvailable('b:1', now + PASSIVE_BACKOFF_MIN_MS * 2 + 50)).toBe(true);
    registry.reportDialSuccess('b:1');
    expect(registry.isUp('b:1')).toBe(true);
    expect(lines.map((l) => l.msg)).toEqual(['backend down', 'backend up']);
  });

  it('state survives a reload for a backend that stays, and is dropped for one that leaves', () => {
    const first = new Snapshot(loadYaml(`
listen: ["127.0.0.1:0"]
default: [127.0.0.1:9, 127.0.0.1:10]
`), silent);
    first.shared.health.reportDialFailure('127.0.0.1:9', 'ECONNREFUSED');
    first.shared.health.reportDialFailure('127.0.0.1:10', 'ECONNREFUSED');
    const second = new Snapshot(loadYaml(`
listen: ["127.0.0.1:0"]
default: [127.0.0.1:9, 127.0.0.1:11]
`), silent, first);
    expect(second.shared.health.isUp('127.0.0.1:9')).toBe(false);
    expect(second.shared.health.isUp('127.0.0.1:10')).toBe(true); // forgotten
    const pool = second.pool(second.config.defaultPool!);
    expect(pool.dialOrder('1.2.3.4')).toEqual([1]);
    second.dispose();
  });
});
