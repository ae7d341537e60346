/**
 * The admin API could be driven by any local web page. It checked neither Host nor Origin, so a cross-site
 * `POST /reload` from a browser (a "simple" request, no preflight) reloaded the router, and a DNS-rebinding page
 * could read /routes; 2,000 reloads in 3.1 s were each run; half-sent requests were held 74 s each, without a cap.
 * Now every request must name the listener in Host and must not come from another site (src/admin-guard.ts),
 * reloads are folded (Reloader) and rate-limited (429), and node's headers/request timeouts and a connection cap
 * bound what a slow client can hold. Real HTTP over loopback throughout.
 */
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_HEADERS_TIMEOUT_MS, ADMIN_MAX_CONNECTIONS, type AdminServer, startAdmin, type AdminHandlers } from '../../src/control/admin.js';
import { RELOAD_BURST, refusalOfAdminRequest } from '../../src/control/admin-guard.js';
import { loadConfig } from '../../src/config/load.js';
import { ControlMetrics } from '../../src/ops/metrics.js';
import { Reloader } from '../../src/control/reload.js';

const servers: AdminServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

function quickConfig() {
  const result = loadConfig({ listen: ['127.0.0.1:0'], defaultBackends: '127.0.0.1:9' });
  if (!result.ok) throw new Error('quick config should be valid');
  return result.config;
}

async function startWithReloader(): Promise<{ admin: AdminServer; loads: () => number }> {
  let loads = 0;
  const config = quickConfig();
  const reloader = new Reloader({
    load: () => {
      loads++;
      return { ok: true, config };
    },
    config,
    logger: pino({ level: 'silent' }, new Writable({ write: (_chunk, _encoding, done) => done() })),
    metrics: new ControlMetrics(new Registry()),
    // A reload that takes a while, as a big config does: requests that arrive meanwhile must share the next run.
    apply: () => new Promise((resolve) => setTimeout(resolve, 50)),
  });
  const handlers: AdminHandlers = {
    isReady: () => true,
    config: () => ({ config: reloader.config, hash: reloader.hash }),
    connections: async () => ({}),
    metrics: async () => ({ contentType: 'text/plain', body: '' }),
    reload: () => reloader.reload('admin'),
  };
  const admin = await startAdmin('127.0.0.1', 0, handlers);
  servers.push(admin);
  return { admin, loads: () => loads };
}

function request(port: number, path: string, options: { method?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers ?? {}, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('admin API guard', () => {
  it('admin API accepts a forged Host: a DNS-rebinding name is refused, the listener address and localhost are not', async () => {
    const { admin } = await startWithReloader();
    expect((await request(admin.port, '/routes', { headers: { host: 'rebind.attacker.example' } })).status).toBe(403);
    expect((await request(admin.port, '/routes', { headers: { host: `rebind.attacker.example:${admin.port}` } })).body).toMatch(/is not this admin listener/);
    expect((await request(admin.port, '/healthz', { headers: { host: `127.0.0.1:${admin.port}` } })).status).toBe(200);
    expect((await request(admin.port, '/healthz', { headers: { host: `localhost:${admin.port}` } })).status).toBe(200);
    expect((await request(admin.port, '/healthz', { headers: { host: `[::1]:${admin.port}` } })).status).toBe(200);
  });

  it('a listener bound beyond loopback (allow_non_loopback) accepts names it cannot know, still not other sites', () => {
    const asked = (headers: Record<string, string>): http.IncomingMessage => ({ headers }) as unknown as http.IncomingMessage;
    expect(refusalOfAdminRequest(asked({ host: 'sni-router.edge.svc:9901' }), '0.0.0.0')).toBeNull();
    expect(refusalOfAdminRequest(asked({ host: 'sni-router.edge.svc:9901' }), '127.0.0.1')).toMatch(/not this admin listener/);
    expect(refusalOfAdminRequest(asked({ host: 'sni-router.edge.svc:9901', origin: 'http://evil.example' }), '0.0.0.0')).toMatch(/another origin/);
  });

  it('admin API reloads on a cross-site browser POST: an Origin or Sec-Fetch-Site of another site is refused', async () => {
    const { admin, loads } = await startWithReloader();
    const host = `127.0.0.1:${admin.port}`;
    const crossSite = await request(admin.port, '/reload', { method: 'POST', headers: { host, origin: 'http://evil.example', 'content-type': 'text/plain' } });
    expect(crossSite.status).toBe(403);
    expect(crossSite.body).toMatch(/another origin/);
    const nullOrigin = await request(admin.port, '/reload', { method: 'POST', headers: { host, origin: 'null' } });
    expect(nullOrigin.status).toBe(403);
    const fetchSite = await request(admin.port, '/reload', { method: 'POST', headers: { host, 'sec-fetch-site': 'cross-site' } });
    expect(fetchSite.status).toBe(403);
    expect(loads()).toBe(0);
    // The same origin (the admin page itself) and a tool without those headers may.
    expect((await request(admin.port, '/reload', { method: 'POST', headers: { host, origin: `http://${host}` } })).status).toBe(200);
    expect((await request(admin.port, '/reload', { method: 'POST', headers: { host } })).status).toBe(200);
    expect(loads()).toBe(2);
  });

  it('admin API runs every one of a flood of reloads: concurrent ones are folded, the rest get 429', async () => {
    const { admin, loads } = await startWithReloader();
    const answers = await Promise.all(Array.from({ length: 40 }, () => request(admin.port, '/reload', { method: 'POST' })));
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.filter((status) => status === 200)).toHaveLength(RELOAD_BURST);
    expect(statuses.filter((status) => status === 429)).toHaveLength(40 - RELOAD_BURST);
    // The burst's requests arrived while the first ran: they share one more run at most.
    expect(loads()).toBeLessThanOrEqual(2);
    expect(answers.find((answer) => answer.status === 429)?.body).toMatch(/too many reloads; retry in \d+ s/);
  });

  it('admin API holds half-sent requests without a bound: stalled headers are closed, connections are capped', async () => {
    const { admin } = await startWithReloader();
    const openedAt = performance.now();
    const stalled = net.connect(admin.port, '127.0.0.1');
    stalled.on('error', () => {});
    let answer = '';
    stalled.on('data', (chunk: Buffer) => (answer += chunk.toString())); // reading on, so its end is seen
    await once(stalled, 'connect');
    stalled.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n'); // and never the blank line
    const idle: net.Socket[] = [];
    try {
      for (let i = 0; i < ADMIN_MAX_CONNECTIONS + 5; i++) {
        const socket = net.connect(admin.port, '127.0.0.1');
        socket.on('error', () => {});
        idle.push(socket);
      }
      await Promise.all(idle.map((socket) => once(socket, 'connect')));
      // Past the cap, the server closes new connections at once.
      const refused = await Promise.race([
        Promise.any(idle.map((socket) => once(socket, 'close'))).then(() => true),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 3_000)),
      ]);
      expect(refused).toBe(true);
      await once(stalled, 'close');
      const heldMs = performance.now() - openedAt;
      expect(heldMs).toBeLessThan(ADMIN_HEADERS_TIMEOUT_MS + 5_000);
      expect(answer).toMatch(/^HTTP\/1\.1 408/);
    } finally {
      for (const socket of idle) socket.destroy();
      stalled.destroy();
    }
  }, 20_000);
});
