/**
 * Graceful shutdown (issue 7): SIGTERM/SIGINT stop accepting at once, let open connections finish up to
 * `shutdown_grace`, close what is left with reason `shutdown`, and exit 0; a second signal exits at once.
 * The router runs as a child process (node dist/cli.js), as under systemd or Kubernetes.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type RouterProcess, startRouterProcess } from '../helpers/cli-process.js';
import { tryConnect } from '../helpers/ports.js';
import { type EchoBackend, openStream, startEchoBackend } from '../helpers/streams.js';

let backend: EchoBackend;
const routers: RouterProcess[] = [];
const dirs: string[] = [];

beforeAll(async () => {
  backend = await startEchoBackend('echo');
});
afterEach(async () => {
  await Promise.all(routers.splice(0).map((router) => router.stop('SIGKILL')));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
afterAll(async () => {
  await backend?.close();
});

async function start(grace: string): Promise<{ router: RouterProcess; port: number; exited: Promise<number | null> }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sni-router-shutdown-'));
  dirs.push(dir);
  const file = path.join(dir, 'router.yaml');
  writeFileSync(file, `listen: ["127.0.0.1:0"]\nproxy_protocol: none\nshutdown_grace: ${grace}\nroutes:\n  a.test: [${backend.label}]\n`);
  const router = await startRouterProcess(['-c', file]);
  routers.push(router);
  const port = Number((await router.waitForLine((line) => line.msg === 'listening')).port);
  await router.waitForLine((line) => line.msg === 'sni-router started');
  const exited = new Promise<number | null>((resolve) => router.child.once('exit', (code) => resolve(code)));
  return { router, port, exited };
}

describe('SIGTERM', () => {
  it('open connections finish their transfer; new connects are refused; exit 0 once they are done', async () => {
    const { router, port, exited } = await start('20s');
    const streams = await Promise.all([openStream(port, 'a.test'), openStream(port, 'a.test'), openStream(port, 'a.test')]);
    for (const stream of streams) await stream.send(1000);

    const signalledAt = performance.now();
    router.child.kill('SIGTERM');
    const shuttingDown = await router.waitForLine((line) => line.msg === 'shutting down');
    expect(shuttingDown).toMatchObject({ signal: 'SIGTERM', grace_ms: 20_000, active: 3 });

    // The listener is closed: a new client is refused at once.
    expect(await tryConnect('127.0.0.1', port, 2_000)).toBe(false);
    // The open ones keep transferring, in both directions, well after the signal...
    for (let round = 0; round < 5; round++) for (const stream of streams) await stream.send(64 * 1024);
    expect(router.child.exitCode).toBeNull();
    // ...and finish normally; the router exits as soon as the last one is done, not at the end of the grace.
    for (const stream of streams) await stream.finish();
    expect(await exited).toBe(0);
    const drainMs = performance.now() - signalledAt;
    expect(drainMs).toBeLessThan(15_000);

    const access = router.lines().filter((line) => line.msg === 'connection closed');
    expect(access.map((line) => line.reason)).toEqual(['done', 'done', 'done']);
    expect(access.every((line) => Number(line.bytes_in) > 5 * 64 * 1024)).toBe(true);
    expect(router.lines().some((line) => line.msg === 'shutdown complete')).toBe(true);
    console.log(`drain: 3 streams finished ${Math.round(drainMs)} ms after SIGTERM; exit 0`);
  }, 30_000);

  it('connections still open when shutdown_grace ends are closed with reason shutdown; exit 0', async () => {
    const { router, port, exited } = await start('300ms');
    const stream = await openStream(port, 'a.test');
    await stream.send(100);
    const signalledAt = performance.now();
    router.child.kill('SIGINT');
    expect(await exited).toBe(0);
    const elapsed = performance.now() - signalledAt;
    expect(elapsed).toBeGreaterThanOrEqual(250);
    const access = await router.waitForLine((line) => line.msg === 'connection closed');
    expect(access).toMatchObject({ reason: 'shutdown', sni: 'a.test' });
    await expect(stream.send(10)).rejects.toThrow();
  }, 30_000);

  it('a second signal exits at once', async () => {
    const { router, port, exited } = await start('60s');
    const stream = await openStream(port, 'a.test');
    router.child.kill('SIGTERM');
    await router.waitForLine((line) => line.msg === 'shutting down');
    const secondAt = performance.now();
    router.child.kill('SIGTERM');
    expect(await exited).toBe(128 + 15);
    expect(performance.now() - secondAt).toBeLessThan(5_000);
    expect(router.lines().some((line) => line.msg === 'second signal; exiting at once')).toBe(true);
    stream.socket.destroy();
  }, 30_000);
});
