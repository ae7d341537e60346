/**
 * Pool dial order (balancer pick first, then the other available backends, down ones left out) and host-name
 * backends resolved when a config is loaded.
 */
import { afterEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import { once } from 'node:events';
import pino from 'pino';
import { HealthRegistry } from '../../src/pools/health.js';
import { Pool } from '../../src/pools/pool.js';
import { Resolver } from '../../src/pools/resolve.js';
import type { PoolConfig } from '../../src/config/types.js';
import { loadYaml, startTestRouter, type TestRouter } from '../helpers/router-harness.js';

function poolConfig(count: number): PoolConfig {
  const backends = Array.from({ length: count }, (_, i) => ({ host: '10.0.0.1', port: 1000 + i, label: `10.0.0.1:${1000 + i}`, weight: 1 }));
  return { backends, proxyProtocol: 'none', balance: 'round-robin', health: null, protocol: 'http/1.1' };
}

describe('Pool.dialOrder', () => {
  it('starts at the balancer pick and walks the ring, leaving down backends out', () => {
    const health = new HealthRegistry(null);
    const pool = new Pool(poolConfig(4), health);
    expect(pool.dialOrder('c')).toEqual([0, 1, 2, 3]);
    expect(pool.dialOrder('c')).toEqual([1, 2, 3, 0]);
    health.reportDialFailure('10.0.0.1:1003', 'ECONNREFUSED');
    expect(pool.dialOrder('c')).toEqual([2, 0, 1]);
  });

  it('is empty when every backend is down; the last-resort order still lists them all', () => {
    const health = new HealthRegistry(null);
    const pool = new Pool(poolConfig(2), health);
    health.reportDialFailure('10.0.0.1:1000', 'x');
    health.reportDialFailure('10.0.0.1:1001', 'x');
    expect(pool.dialOrder('c')).toEqual([]);
    expect(pool.lastResortOrder()).toEqual([0, 1]);
  });
});

let router: TestRouter | null = null;
let server: net.Server | null = null;
const served: net.Socket[] = [];
afterEach(async () => {
  await router?.stop();
  for (const socket of served.splice(0)) socket.destroy();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  router = null;
  server = null;
});

describe('host-name backends', () => {
  it('are resolved when the config is loaded (IPv4 and IPv6 answers kept in the system order)', async () => {
    const resolver = new Resolver();
    await resolver.refresh(loadYaml(`
listen: ["127.0.0.1:0"]
default: [localhost:443, 10.0.0.1:443]
`), pino({ level: 'silent' }));
    const addresses = resolver.addressesOf('localhost');
    expect(addresses.length).toBeGreaterThan(0);
    for (const address of addresses) expect(net.isIP(address)).not.toBe(0);
    expect(resolver.addressFor({ host: 'localhost', port: 443, label: 'localhost:443', weight: 1 })).toBe(addresses[0]);
    expect(resolver.addressFor({ host: '10.0.0.1', port: 443, label: '10.0.0.1:443', weight: 1 })).toBe('10.0.0.1');
  });

  it('a name that does not resolve is logged once and connected by name', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, { write: (text: string) => lines.push(JSON.parse(text) as Record<string, unknown>) });
    const resolver = new Resolver();
    const config = loadYaml(`
listen: ["127.0.0.1:0"]
default: [no-such-host.invalid:443]
`);
    await resolver.refresh(config, logger);
    await resolver.refresh(config, logger);
    expect(lines.filter((l) => l.msg === 'backend host name does not resolve; connecting by name')).toHaveLength(1);
    expect(resolver.addressFor({ host: 'no-such-host.invalid', port: 443, label: 'no-such-host.invalid:443', weight: 1 })).toBe('no-such-host.invalid');
  });

  it('routes to a localhost:port backend', async () => {
    server = net.createServer((socket) => {
      served.push(socket);
      socket.end('named\n');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as net.AddressInfo).port;
    router = await startTestRouter(`
listen: ["127.0.0.1:0"]
proxy_protocol: none
default: [localhost:${port}]
`);
    const socket = net.connect({ port: router.port(), host: '127.0.0.1' });
    socket.write('ping\n');
    const [data] = (await once(socket, 'data')) as [Buffer];
    expect(data.toString()).toBe('named\n');
    socket.destroy();
    const line = await router.waitForAccessLine(() => true);
    expect(line.backend).toBe(`localhost:${port}`);
  });
});
