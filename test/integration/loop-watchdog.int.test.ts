/**
 * A stalled event loop was invisible and unkillable: while one handler ran for seconds, /healthz of the process
 * simply did not answer, and with `--workers 2` the primary's /healthz said ok while a worker was stuck. Now:
 *
 * - LoopWatchdog measures the loop's lag (monitorEventLoopDelay plus a window timer that fires late by as much as
 *   the loop was blocked), and past 1 s the process reports itself unhealthy;
 * - the cluster primary pings its workers; a worker that stops answering (here: SIGSTOP, as stuck as a process
 *   gets) turns the primary's /healthz to 503 naming it, and after 5 s it is killed and replaced;
 * - an uncaught exception exits 70 (not 1, which the systemd unit never restarts) with one fatal line.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { LoopWatchdog } from '../../src/ops/loop-watchdog.js';
import { CLI, type RouterProcess, startRouterProcess } from '../helpers/cli-process.js';
import { httpRequest, oneShot, startEchoBackend, type EchoBackend } from '../helpers/streams.js';
import { waitFor } from '../helpers/wait-for.js';

const cleanups: Array<() => Promise<unknown> | void> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function blockFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // a handler that runs too long
  }
}

describe('event-loop watchdog', () => {
  it('a stalled event loop is invisible: a 1.2 s block shows as lag and makes the process unhealthy', async () => {
    const watchdog = new LoopWatchdog();
    try {
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(watchdog.isHealthy).toBe(true);
      blockFor(1_200);
      // The first timer after the block: the lag is visible to whatever asks next (/healthz, the gauge).
      await new Promise((resolve) => setImmediate(resolve));
      expect(watchdog.lagSeconds).toBeGreaterThanOrEqual(1);
      expect(watchdog.isHealthy).toBe(false);
    } finally {
      watchdog.close();
    }
  });

  it('a stuck worker is invisible: the primary reports it, then kills and replaces it', async () => {
    const backend: EchoBackend = await startEchoBackend('alpha');
    cleanups.push(() => backend.close());
    const dir = mkdtempSync(path.join(tmpdir(), 'sni-router-watchdog-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'router.yaml');
    writeFileSync(file, `listen: ["127.0.0.1:0"]\nadmin: 127.0.0.1:0\nproxy_protocol: none\nroutes:\n  a.test: [${backend.label}]\n`);
    const router: RouterProcess = await startRouterProcess(['-c', file, '--workers', '2', '--no-watch']);
    cleanups.push(() => router.stop('SIGKILL'));
    const port = Number((await router.waitForLine((line) => line.msg === 'listening', 20_000)).port);
    const adminPort = Number((await router.waitForLine((line) => line.msg === 'admin listening', 20_000)).port);
    await router.waitForLine((line) => line.msg === 'sni-router started', 20_000);
    expect((await httpRequest(adminPort, '/healthz')).status).toBe(200);

    const victim = Number(router.lines().find((line) => line.msg === 'worker started')?.worker_pid);
    process.kill(victim, 'SIGSTOP');
    try {
      // Unhealthy (naming the worker) once it has missed its heartbeat for 2 s; polled, bounded.
      let health = await httpRequest(adminPort, '/healthz');
      await waitFor(async () => (health = await httpRequest(adminPort, '/healthz')).status !== 200, '/healthz to turn 503', { timeoutMs: 4_000, intervalMs: 100 });
      expect(health.status).toBe(503);
      expect(health.body).toContain(`worker ${victim} has not answered`);
      const killed = await router.waitForLine((line) => line.msg === 'worker stopped answering; killing it and starting a replacement', 10_000);
      expect(killed.worker_pid).toBe(victim);
    } finally {
      try {
        process.kill(victim, 'SIGCONT');
      } catch {
        // already gone: killed by the primary
      }
    }
    await router.waitForLine((line) => line.msg === 'worker started' && line.worker_pid !== victim && router.lines().filter((l) => l.msg === 'worker started').length >= 3, 10_000);
    expect(await oneShot(port, 'a.test')).toBe('alpha');
    let health = await httpRequest(adminPort, '/healthz');
    await waitFor(async () => (health = await httpRequest(adminPort, '/healthz')).status === 200, '/healthz to turn 200 again', { timeoutMs: 4_000, intervalMs: 100 });
    expect(health.status).toBe(200);
  }, 40_000);

  it('an uncaught exception exits 1, which the unit never restarts: now 70 with one fatal line', async () => {
    const supervisor = pathToFileURL(path.join(path.dirname(CLI), 'control', 'supervisor.js')).href;
    const script = `import { exitOnUncaughtErrors } from ${JSON.stringify(supervisor)};\nexitOnUncaughtErrors();\nsetTimeout(() => { throw new TypeError('a bug'); }, 1);\n`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(70);
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'fatal', msg: 'uncaught exception; exiting with 70' });
    expect(lines[0]).toContain('TypeError: a bug');
  });
});
