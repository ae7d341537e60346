/**
 * Out of file descriptors, on a router run as a child process with a small `ulimit -n`: the shortage is logged and
 * counted although libuv sheds the connections silently, and a backend dial failing with EMFILE leaves the backend
 * up (the shortage is ours, not the backend's).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type RouterProcess, startRouterProcess } from '../helpers/cli-process.js';
import { type EchoBackend, helloFor, httpRequest, oneShot, startEchoBackend } from '../helpers/streams.js';
import { parsePrometheusText, valueOf } from '../helpers/prometheus-text.js';
import { waitFor } from '../helpers/wait-for.js';

let backend: EchoBackend | null = null;
let router: RouterProcess | null = null;
let dir = '';
const stalled: net.Socket[] = [];

afterAll(async () => {
  for (const socket of stalled.splice(0)) socket.destroy();
  await router?.stop('SIGKILL');
  await backend?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Resolves when the router closes `socket` (or after `ms`, bounded). */
function closed(socket: net.Socket, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => (socket.destroy(), resolve()), ms);
    socket.once('close', () => (clearTimeout(timer), resolve()));
    socket.resume();
  });
}

async function connect(port: number): Promise<net.Socket> {
  const socket = net.connect({ port, host: '127.0.0.1' });
  socket.on('error', () => {});
  await once(socket, 'connect');
  return socket;
}

/** Polls /metrics (bounded): the flood's descriptors are back once the router has no connection open. */
async function waitForNoConnections(adminPort: number): Promise<void> {
  const isIdle = async (): Promise<boolean> => {
    try {
      const metrics = parsePrometheusText((await httpRequest(adminPort, '/metrics')).body);
      return valueOf(metrics, 'sni_router_connections_active', { listener: '127.0.0.1:0' }) === 0;
    } catch {
      return false; // the admin listener itself may have been shed a moment ago
    }
  };
  await waitFor(isIdle, 'sni_router_connections_active to fall to 0', { timeoutMs: 5_000, intervalMs: 50 });
}

describe('out of file descriptors', () => {
  it('EMFILE at accept is logged and counted; EMFILE on a backend dial does not mark the backend down', async () => {
    // Failed: libuv sheds connections at EMFILE without the server seeing an error, so the promised "out of file
    // descriptors" line never appeared (no access line, no metric); and a dial failing with EMFILE marked a healthy
    // backend down. A listener now probes for a descriptor once a second, and a dial's EMFILE closes only that
    // connection (backend_unavailable) without touching the backend's health.
    backend = await startEchoBackend('echo');
    dir = mkdtempSync(path.join(tmpdir(), 'sni-router-fds-'));
    const file = path.join(dir, 'router.yaml');
    // A long hello timeout: the stalled flood must stay until the test lets it go.
    writeFileSync(file, `listen: ["127.0.0.1:0"]\nadmin: 127.0.0.1:0\nproxy_protocol: none\ntimeouts: { client_hello: 60s }\nroutes:\n  a.test: [${backend.label}]\n`);
    router = await startRouterProcess(['-c', file, '--no-watch'], { maxDescriptors: 64 });
    const port = Number((await router.waitForLine((line) => line.msg === 'listening')).port);
    const adminPort = Number((await router.waitForLine((line) => line.msg === 'admin listening')).port);
    await router.waitForLine((line) => line.msg === 'sni-router started');
    expect(await oneShot(port, 'a.test')).toBe('echo');

    // Stalled hellos until the router is out of descriptors (bounded: the limit is 64).
    const isShort = (): boolean => router!.lines().some((l) => l.msg === 'out of file descriptors; refusing new connections');
    for (let i = 0; i < 100 && !isShort(); i++) {
      stalled.push(await connect(port));
      if (i > 30) await new Promise((resolve) => setTimeout(resolve, 30)); // the probe runs once a second
    }
    const line = await router.waitForLine((l) => l.msg === 'out of file descriptors; refusing new connections', 3_000);
    expect(line).toMatchObject({ err: 'EMFILE' });

    // Free one descriptor: the next client is accepted, but the router has none left to dial its backend with.
    // A connection of the flood still waiting in the kernel's backlog may take the freed descriptor instead (and
    // this client is shed): then free another, a bounded number of times.
    const isDialShort = (): boolean => router!.lines().some((l) => l.msg === 'connection closed' && l.reason === 'backend_unavailable');
    for (let attempt = 0; attempt < 10 && !isDialShort(); attempt++) {
      stalled.shift()!.destroy();
      const client = await connect(port);
      client.write(helloFor('a.test'));
      await closed(client, 3_000);
    }
    const failed = await router.waitForLine((l) => l.msg === 'connection closed' && l.reason === 'backend_unavailable', 5_000);
    expect(String(failed.detail)).toMatch(/out of file descriptors \(EMFILE\)/);

    // The flood leaves: the backend was never marked down, and serves at once.
    for (const socket of stalled.splice(0)) socket.destroy();
    await waitForNoConnections(adminPort);
    expect(await oneShot(port, 'a.test')).toBe('echo');
    expect(router.lines().filter((l) => l.msg === 'backend down')).toHaveLength(0);
    const metrics = parsePrometheusText((await httpRequest(adminPort, '/metrics')).body);
    expect(valueOf(metrics, 'sni_router_out_of_descriptors_total', { where: 'accept' }) ?? 0).toBeGreaterThanOrEqual(1);
    expect(valueOf(metrics, 'sni_router_out_of_descriptors_total', { where: 'dial' }) ?? 0).toBeGreaterThanOrEqual(1);
  });
});
