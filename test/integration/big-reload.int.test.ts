/**
 * A reload of a big config stalled all traffic: with 10,000 routes every reload read, validated and compiled the
 * config on the event loop (520–790 ms in the router's own duration_ms), and a connection that arrived meanwhile
 * waited for all of it. Now the config is loaded, hashed and diffed in a worker thread and arrives in chunks,
 * and the snapshot is built a slice per turn (src/config-loader-thread.ts, Snapshot.build), so connections are
 * served while the reload runs. Asserted as an order of events, not a time: connections made after the SIGHUP
 * are answered before the reload's `config reloaded` line. bench/reload-block.js measures the block itself.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type RouterProcess, startRouterProcess } from '../helpers/cli-process.js';
import { type EchoBackend, oneShot, startEchoBackend } from '../helpers/streams.js';

const ROUTES = 10_000;
const cleanups: Array<() => unknown> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function bigConfig(backend: string, generation: number): string {
  let yaml = `listen: ["127.0.0.1:0"]\nproxy_protocol: none\nroutes:\n  a.test: [${backend}]\n`;
  for (let i = 0; i < ROUTES; i++) {
    if (i % 10 === 0) yaml += `  "~^r${i}-g${generation}-[a-z0-9]+\\\\.example\\\\.net$": [127.0.0.1:9]\n`;
    else if (i % 3 === 0) yaml += `  "*.w${i}.example.com": [127.0.0.1:9]\n`;
    else yaml += `  "c${i}-g${generation}.example.com": [127.0.0.1:9, 127.0.0.1:10]\n`;
  }
  return yaml;
}

describe('reload of a big config', () => {
  it('a reload of a big config stalls all traffic: connections made during it are served before it ends', async () => {
    const backend: EchoBackend = await startEchoBackend('alpha');
    cleanups.push(() => backend.close());
    const dir = mkdtempSync(path.join(tmpdir(), 'sni-router-big-reload-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'router.yaml');
    writeFileSync(file, bigConfig(backend.label, 1));
    const router: RouterProcess = await startRouterProcess(['-c', file, '--no-watch']);
    cleanups.push(() => router.stop('SIGKILL'));
    const port = Number((await router.waitForLine((line) => line.msg === 'listening', 30_000)).port);
    await router.waitForLine((line) => line.msg === 'sni-router started', 30_000);
    expect(await oneShot(port, 'a.test')).toBe('alpha');

    writeFileSync(file, bigConfig(backend.label, 2));
    const reloaded = (): boolean => router.lines().some((line) => line.msg === 'config reloaded');
    router.child.kill('SIGHUP');
    let servedDuringReload = 0;
    const deadline = Date.now() + 30_000;
    while (!reloaded() && Date.now() < deadline) {
      expect(await oneShot(port, 'a.test')).toBe('alpha');
      if (!reloaded()) servedDuringReload++;
    }
    const line = await router.waitForLine((entry) => entry.msg === 'config reloaded', 30_000);
    expect(line.routes_added).toBeDefined();
    expect(servedDuringReload).toBeGreaterThan(0);
    expect(await oneShot(port, 'a.test')).toBe('alpha');
  }, 60_000);
});
