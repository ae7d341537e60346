/**
 * /metrics and the rest of the admin API (issue 7), on a router run as a child process with `admin:` set.
 * The exposition is judged by a strict text-format parser (helpers/prometheus-text.ts), and the counters are
 * checked to move with the traffic sent: good hellos, no SNI, not TLS, malformed.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, type RouterProcess, startRouterProcess } from '../helpers/cli-process.js';
import { run } from '../helpers/clients.js';
import { deadPort } from '../helpers/backends.js';
import { exchange } from '../helpers/ports.js';
import { parsePrometheusText, valueOf } from '../helpers/prometheus-text.js';
import { type EchoBackend, helloFor, httpRequest, oneShot, startEchoBackend } from '../helpers/streams.js';

let backend: EchoBackend;
let router: RouterProcess;
let port = 0;
let adminPort = 0;
let dir = '';
let file = '';
let dead = '';
const LISTENER = '127.0.0.1:0';

beforeAll(async () => {
  backend = await startEchoBackend('echo');
  dir = mkdtempSync(path.join(tmpdir(), 'sni-router-metrics-'));
  file = path.join(dir, 'router.yaml');
  dead = `127.0.0.1:${await deadPort()}`;
  writeFileSync(file, `listen: ["${LISTENER}"]\nadmin: 127.0.0.1:0\nproxy_protocol: none\nroutes:\n  a.test: [${backend.label}]\n  "*.w.test": [${backend.label}]\n  dead.test: [${dead}]\n`);
  router = await startRouterProcess(['-c', file, '--no-watch']);
  port = Number((await router.waitForLine((line) => line.msg === 'listening')).port);
  adminPort = Number((await router.waitForLine((line) => line.msg === 'admin listening')).port);
  await router.waitForLine((line) => line.msg === 'sni-router started');
});

afterAll(async () => {
  await router?.stop('SIGKILL');
  await backend?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function scrape(): Promise<ReturnType<typeof parsePrometheusText>> {
  const response = await httpRequest(adminPort, '/metrics');
  expect(response.status).toBe(200);
  expect(response.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(response.body);
}

/** Waits until the router has written `n` access lines (the metrics are updated in the same close call). */
async function closedConnections(n: number): Promise<void> {
  await router.waitForLine(() => router.lines().filter((line) => line.msg === 'connection closed').length >= n);
}

describe('/metrics', () => {
  it('is valid Prometheus text, and the counters move as traffic is sent', async () => {
    const before = await scrape();
    expect(valueOf(before, 'sni_router_connections_accepted_total', { listener: LISTENER }) ?? 0).toBe(0);
    expect(valueOf(before, 'sni_router_client_hello_total', { outcome: 'sni_found' })).toBe(0);
    for (const name of ['sni_router_connections_active', 'sni_router_config_reloads_total', 'sni_router_client_hello_bytes', 'process_cpu_user_seconds_total']) {
      expect(before.has(name), name).toBe(true);
    }

    for (let i = 0; i < 3; i++) expect(await oneShot(port, 'a.test')).toBe('echo');
    expect(await oneShot(port, 'x.w.test')).toBe('echo');
    await exchange('127.0.0.1', port, helloFor(null)); // no SNI, no default: closed (no_route)
    await exchange('127.0.0.1', port, Buffer.from('GET / HTTP/1.0\r\n\r\n')); // not TLS
    await exchange('127.0.0.1', port, Buffer.from('16030100040200000000', 'hex')); // a ServerHello: malformed
    await exchange('127.0.0.1', port, helloFor('unknown.example')); // a name no route has: closed, label 'none'
    await closedConnections(8);

    const after = await scrape();
    const v = (name: string, labels: Record<string, string> = {}): number | undefined => valueOf(after, name, labels);
    expect(v('sni_router_connections_accepted_total', { listener: LISTENER })).toBe(8);
    expect(v('sni_router_connections_active', { listener: LISTENER })).toBe(0);
    expect(v('sni_router_client_hello_total', { outcome: 'sni_found' })).toBe(5);
    expect(v('sni_router_client_hello_total', { outcome: 'no_sni' })).toBe(1);
    expect(v('sni_router_client_hello_total', { outcome: 'not_tls' })).toBe(1);
    expect(v('sni_router_client_hello_total', { outcome: 'malformed' })).toBe(1);
    expect(v('sni_router_client_hello_total', { outcome: 'timeout' })).toBe(0);
    expect(v('sni_router_connections_closed_total', { route: 'a.test', reason: 'done' })).toBe(3);
    expect(v('sni_router_connections_closed_total', { route: '*.w.test', reason: 'done' })).toBe(1);
    expect(v('sni_router_connections_closed_total', { route: 'none', reason: 'no_route' })).toBe(2);
    expect(v('sni_router_connections_closed_total', { route: 'none', reason: 'not_tls' })).toBe(1);
    expect(v('sni_router_connections_closed_total', { route: 'none', reason: 'hello_malformed' })).toBe(1);
    const hello = helloFor('a.test').length;
    expect(v('sni_router_bytes_in_total', { route: 'a.test' })).toBe(3 * (hello + 100));
    expect(v('sni_router_bytes_out_total', { route: 'a.test' })).toBe(3 * ('echo\n'.length + hello + 100));
    expect(v('sni_router_backend_connect_seconds_count', { route: 'a.test' })).toBe(3);
    expect(v('sni_router_connection_duration_seconds_count', { route: 'a.test' })).toBe(3);
    expect(v('sni_router_client_hello_bytes_count')).toBe(6);
    // A server name never becomes a label value.
    const labelValues = [...after.values()].flatMap((family) => family.samples.flatMap((sample) => Object.values(sample.labels)));
    expect(labelValues).not.toContain('unknown.example');

    const { body } = await httpRequest(adminPort, '/routes');
    const hash = (JSON.parse(body) as { hash: string }).hash;
    expect(v('sni_router_config_info', { hash })).toBe(1);
    expect(v('sni_router_backend_up', { backend: backend.label })).toBe(1);
    expect(v('sni_router_backend_up', { backend: dead })).toBe(1); // not tried yet
  });

  it('backend_up drops when a backend refuses', async () => {
    const closedBefore = router.lines().filter((line) => line.msg === 'connection closed').length;
    await exchange('127.0.0.1', port, helloFor('dead.test'));
    await closedConnections(closedBefore + 1);
    const metrics = await scrape();
    expect(valueOf(metrics, 'sni_router_connections_closed_total', { route: 'dead.test', reason: 'backend_unavailable' })).toBe(1);
    expect(valueOf(metrics, 'sni_router_backend_up', { backend: dead })).toBe(0);
    expect(valueOf(metrics, 'sni_router_backend_up', { backend: backend.label })).toBe(1);
  });

  it('counts reloads by result', async () => {
    const before = await scrape();
    const ok = await httpRequest(adminPort, '/reload', 'POST');
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toMatchObject({ ok: true, routes_added: [], routes_removed: [] });
    const good = readFileSync(file, 'utf8');
    writeFileSync(file, `${good}bogus: 1\n`);
    const bad = await httpRequest(adminPort, '/reload', 'POST');
    writeFileSync(file, good);
    expect(bad.status).toBe(422);
    const refused = JSON.parse(bad.body) as { ok: boolean; problems: string[] };
    expect(refused.ok).toBe(false);
    expect(refused.problems).toHaveLength(1);
    expect(refused.problems[0]).toMatch(`${file}:8:1: unknown top-level key 'bogus'`);
    const after = await scrape();
    const delta = (result: string): number =>
      (valueOf(after, 'sni_router_config_reloads_total', { result }) ?? 0) - (valueOf(before, 'sni_router_config_reloads_total', { result }) ?? 0);
    expect([delta('success'), delta('failure')]).toEqual([1, 1]);
  });
});

describe('admin API', () => {
  it('/healthz, /readyz, /routes, /connections; 404 and 405', async () => {
    expect(await httpRequest(adminPort, '/healthz')).toMatchObject({ status: 200, body: 'ok\n' });
    expect(await httpRequest(adminPort, '/readyz')).toMatchObject({ status: 200, body: 'ready\n' });
    const routes = JSON.parse((await httpRequest(adminPort, '/routes')).body) as Record<string, unknown>;
    expect(routes).toMatchObject({
      config: file,
      listen: [LISTENER],
      routes: [
        { name: 'a.test', kind: 'exact', backends: [backend.label], proxy_protocol: 'none', balance: 'round-robin', terminate: false, line: 5 },
        { name: 'dead.test', kind: 'exact', backends: [dead], line: 7 },
        { name: '*.w.test', kind: 'wildcard', backends: [backend.label], line: 6 },
      ],
      default: null,
    });
    expect(routes.hash).toMatch(/^[0-9a-f]{12}$/);
    const connections = JSON.parse((await httpRequest(adminPort, '/connections')).body) as Record<string, unknown>;
    expect(connections).toMatchObject({ active: 0, draining: false });
    expect(connections.accepted).toBeGreaterThanOrEqual(8);
    expect((await httpRequest(adminPort, '/nope')).status).toBe(404);
    expect((await httpRequest(adminPort, '/reload')).status).toBe(405);
    expect((await httpRequest(adminPort, '/metrics', 'POST')).status).toBe(405);
  });

  it('refuses a non-loopback address unless the long form allows it', async () => {
    const cli = (...args: string[]) => run(process.execPath, [CLI, ...args]);
    const open = path.join(dir, 'open.yaml');
    writeFileSync(open, 'listen: ["127.0.0.1:0"]\ndefault: [127.0.0.1:1]\nadmin: 0.0.0.0:9901\n');
    const refused = await cli('check', '-c', open);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`${open}:3:8: admin address '0.0.0.0:9901' is not a loopback address`);

    const flag = await cli('check', '-l', '127.0.0.1:0', '-d', '127.0.0.1:1', '--admin', '[::]:9901');
    expect(flag.code).toBe(1);
    expect(flag.stderr).toContain("<command line>: --admin: admin address '[::]:9901' is not a loopback address");

    writeFileSync(open, 'listen: ["127.0.0.1:0"]\ndefault: [127.0.0.1:1]\nadmin: { listen: "0.0.0.0:9901", allow_non_loopback: true }\n');
    const allowed = await cli('check', '-c', open);
    expect(allowed.code).toBe(0);
    expect(allowed.stdout).toContain('admin            0.0.0.0:9901 (non-loopback allowed)');
  });
});

describe('hello outcomes timeout and too_large (in process)', () => {
  it('are counted', async () => {
    const { RouterMetrics } = await import('../../src/ops/metrics.js');
    const { startRouter } = await import('../../src/serve/router.js');
    const { loadYaml } = await import('../helpers/router-harness.js');
    const pino = (await import('pino')).default;
    const metrics = new RouterMetrics(undefined, { processMetrics: false });
    const config = loadYaml('listen: ["127.0.0.1:0"]\ntimeouts: { client_hello: 200ms }\nmax_hello_bytes: 100\ndefault: [127.0.0.1:1]\n');
    const running = await startRouter(config, { logger: pino({ level: 'silent' }), metrics });
    try {
      const listenPort = running.listeners[0]!.port;
      await exchange('127.0.0.1', listenPort, helloFor('a-name-long-enough-to-pass-one-hundred-bytes.example'), 2_000);
      await exchange('127.0.0.1', listenPort, Buffer.from([0x16, 0x03, 0x01]), 2_000); // a record header begun, then silence
      const families = parsePrometheusText(await metrics.registry.metrics());
      expect(valueOf(families, 'sni_router_client_hello_total', { outcome: 'too_large' })).toBe(1);
      expect(valueOf(families, 'sni_router_client_hello_total', { outcome: 'timeout' })).toBe(1);
      expect(valueOf(families, 'sni_router_connections_closed_total', { route: 'none', reason: 'hello_timeout' })).toBe(1);
      expect(valueOf(families, 'sni_router_connections_closed_total', { route: 'none', reason: 'hello_too_large' })).toBe(1);
    } finally {
      await running.close(0);
    }
  });
});
