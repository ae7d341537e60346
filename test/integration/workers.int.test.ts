/**
 * `--workers N` (issue 5): N processes share the listeners; each serves; one that dies is replaced and the event
 * logged; SIGHUP reloads every worker; /metrics adds up all workers; SIGTERM drains them all and exits 0.
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import net from 'node:net';
import { CLI, type RouterProcess, startRouterProcess } from '../helpers/cli-process.js';
import { run } from '../helpers/clients.js';
import { parsePrometheusText, valueOf } from '../helpers/prometheus-text.js';
import { type EchoBackend, httpRequest, oneShot, startEchoBackend } from '../helpers/streams.js';

let alpha: EchoBackend;
let beta: EchoBackend;
let dir = '';
let file = '';
let router: RouterProcess;
let port = 0;
let adminPort = 0;

const config = (routes: string): string => `listen: ["127.0.0.1:0"]\nadmin: 127.0.0.1:0\nproxy_protocol: none\nroutes:\n${routes}`;

beforeAll(async () => {
  [alpha, beta] = await Promise.all([startEchoBackend('alpha'), startEchoBackend('beta')]);
  dir = mkdtempSync(path.join(tmpdir(), 'sni-router-workers-'));
  file = path.join(dir, 'router.yaml');
  writeFileSync(file, config(`  a.test: [${alpha.label}]\n`));
  router = await startRouterProcess(['-c', file, '--workers', '2', '--no-watch']);
  port = Number((await router.waitForLine((line) => line.msg === 'listening', 20_000)).port);
  adminPort = Number((await router.waitForLine((line) => line.msg === 'admin listening')).port);
  await router.waitForLine((line) => line.msg === 'sni-router started');
}, 30_000);

afterAll(async () => {
  await router?.stop('SIGKILL');
  await Promise.all([alpha?.close(), beta?.close()]);
  rmSync(dir, { recursive: true, force: true });
});

const workerPids = (): number[] => router.lines().filter((line) => line.msg === 'worker started').map((line) => Number(line.worker_pid));

/** The pids (from the access lines) of the workers that served the last `n` connections. */
async function servingPids(n: number, sni: string, expected: string): Promise<Set<number>> {
  const before = router.lines().filter((line) => line.msg === 'connection closed').length;
  for (let i = 0; i < n; i++) expect(await oneShot(port, sni)).toBe(expected);
  await router.waitForLine(() => router.lines().filter((line) => line.msg === 'connection closed').length >= before + n);
  return new Set(router.lines().filter((line) => line.msg === 'connection closed').slice(before).map((line) => Number(line.pid)));
}

describe('--workers 2', () => {
  it('starts two workers, both of which serve', async () => {
    const started = router.lines().find((line) => line.msg === 'sni-router started');
    expect(started).toMatchObject({ workers: 2 });
    const pids = workerPids();
    expect(pids).toHaveLength(2);
    expect(pids).not.toContain(router.pid);
    // The cluster hands connections out round-robin: a handful reach both.
    expect([...(await servingPids(8, 'a.test', 'alpha'))].sort()).toEqual([...pids].sort());
  });

  it('/metrics adds up the workers', async () => {
    const before = router.lines().filter((line) => line.msg === 'connection closed').length;
    const metrics = parsePrometheusText((await httpRequest(adminPort, '/metrics')).body);
    expect(valueOf(metrics, 'sni_router_connections_closed_total', { route: 'a.test', reason: 'done' })).toBe(before);
    expect(valueOf(metrics, 'sni_router_workers')).toBe(2);
    const connections = JSON.parse((await httpRequest(adminPort, '/connections')).body) as Record<string, unknown>;
    expect(connections).toMatchObject({ workers: 2, accepted: before, active: 0 });
  });

  it('SIGHUP reloads every worker', async () => {
    const temp = `${file}.tmp`;
    writeFileSync(temp, config(`  a.test: [${alpha.label}]\n  b.test: [${beta.label}]\n`));
    renameSync(temp, file);
    router.child.kill('SIGHUP');
    const reloaded = await router.waitForLine((line) => line.msg === 'config reloaded');
    expect(reloaded).toMatchObject({ routes_added: ['b.test'] });
    expect((await servingPids(8, 'b.test', 'beta')).size).toBe(2);
  });

  it('a worker that dies is replaced, and the event logged', async () => {
    const [victim, survivor] = workerPids();
    process.kill(victim!, 'SIGKILL');
    const died = await router.waitForLine((line) => line.msg === 'worker died; starting a replacement');
    expect(died).toMatchObject({ worker_pid: victim, signal: 'SIGKILL' });
    await router.waitForLine(() => workerPids().length === 3, 15_000);
    const replacement = workerPids()[2]!;
    expect([victim, survivor]).not.toContain(replacement);
    // The replacement serves the running config (b.test came with the reload), beside the survivor.
    expect([...(await servingPids(8, 'b.test', 'beta'))].sort()).toEqual([survivor, replacement].sort());
    expect((await httpRequest(adminPort, '/readyz')).status).toBe(200);
  }, 30_000);

  it('SIGTERM drains every worker and exits 0', async () => {
    const exited = new Promise<number | null>((resolve) => router.child.once('exit', (code) => resolve(code)));
    router.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(router.lines().some((line) => line.msg === 'shutdown complete')).toBe(true);
    for (const pid of workerPids()) expect(() => process.kill(pid, 0)).toThrow();
  }, 30_000);
});

describe('--workers start-up failure', () => {
  it('exits 2 naming the address when the port is taken', async () => {
    const blocker = net.createServer();
    blocker.listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const { port: taken } = blocker.address() as net.AddressInfo;
    try {
      const result = await run(process.execPath, [CLI, '-l', `127.0.0.1:${taken}`, '-d', '127.0.0.1:1', '--workers', '2']);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(new RegExp(`^sni-router: cannot listen on 127\\.0\\.0\\.1:${taken}: .*EADDRINUSE`));
    } finally {
      blocker.close();
    }
  }, 30_000);
});
