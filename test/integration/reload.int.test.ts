/**
 * Zero-drop reload (issue 7), with the router run the way an operator runs it (node dist/cli.js as a child):
 *
 * - under load: long-lived streams and a steady stream of short connections keep going while the config changes
 *   five times (a route added, one removed, a backend moved, an invalid config, a fix), by SIGHUP and by
 *   rewriting the file; nothing fails or is cut, and after each reload new connections follow the new table;
 * - a Kubernetes ConfigMap update (the `..data` symlink swapped to a new folder) is picked up; an invalid one is
 *   refused with file:line:col and the old table keeps serving.
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type RouterProcess, startRouterProcess } from '../helpers/cli-process.js';
import { freePort, tryConnect } from '../helpers/ports.js';
import { type EchoBackend, isClosedWithoutBackend, oneShot, openStream, type Stream, startEchoBackend } from '../helpers/streams.js';

let alpha: EchoBackend;
let beta: EchoBackend;
let gamma: EchoBackend;
const routers: RouterProcess[] = [];
const dirs: string[] = [];

beforeAll(async () => {
  [alpha, beta, gamma] = await Promise.all([startEchoBackend('alpha'), startEchoBackend('beta'), startEchoBackend('gamma')]);
});

afterEach(async () => {
  await Promise.all(routers.splice(0).map((router) => router.stop('SIGKILL')));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

afterAll(async () => {
  await Promise.all([alpha, beta, gamma].map((backend) => backend?.close()));
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'sni-router-reload-'));
  dirs.push(dir);
  return dir;
}

/** Replaces the file in one step (write beside it, rename over it), as config management tools do. */
function writeAtomically(file: string, text: string): void {
  const temp = `${file}.tmp-${process.pid}`;
  writeFileSync(temp, text);
  renameSync(temp, file);
}

function config(routes: Record<string, EchoBackend>): string {
  const lines = Object.entries(routes).map(([name, backend]) => `  "${name}": [${backend.label}]`);
  return `listen: ["127.0.0.1:0"]\nproxy_protocol: none\nroutes:\n${lines.join('\n')}\n`;
}

async function start(args: string[]): Promise<{ router: RouterProcess; port: number }> {
  const router = await startRouterProcess(args);
  routers.push(router);
  const listening = await router.waitForLine((line) => line.msg === 'listening');
  await router.waitForLine((line) => line.msg === 'sni-router started');
  return { router, port: Number(listening.port) };
}

const count = (router: RouterProcess, msg: string): number => router.lines().filter((line) => line.msg === msg).length;

/** Waits for the n-th (1-based) line with this msg. */
async function nth(router: RouterProcess, msg: string, n: number): Promise<Record<string, unknown>> {
  await router.waitForLine(() => count(router, msg) >= n, 15_000);
  return router.lines().filter((line) => line.msg === msg)[n - 1]!;
}

describe('reload under load', () => {
  it('five config changes while streams run: nothing fails or is cut; new connections follow each new table', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'router.yaml');
    writeAtomically(file, config({ 'a.test': alpha, 'b.test': beta }));
    const { router, port } = await start(['-c', file]);

    // Long-lived streams, started on the first table, each echoing a chunk every few ms until told to stop.
    const streams: Stream[] = [];
    for (let i = 0; i < 6; i++) streams.push(await openStream(port, i % 2 === 0 ? 'a.test' : 'b.test'));
    expect(streams.map((stream) => stream.backend)).toEqual(['alpha', 'beta', 'alpha', 'beta', 'alpha', 'beta']);
    let isLoadRunning = true;
    let streamed = 0;
    const streaming = streams.map(async (stream) => {
      for (let i = 0; i < 100_000 && isLoadRunning; i++) {
        await stream.send(512);
        streamed += 512;
      }
      await stream.finish();
    });
    // Short connections all along, to a name every table has (its backend moves at step 3).
    let shortDone = 0;
    const shortSeen = new Set<string>();
    const shortLoops = [0, 1, 2].map(async () => {
      for (let i = 0; i < 100_000 && isLoadRunning; i++) {
        shortSeen.add(await oneShot(port, 'a.test'));
        shortDone++;
      }
    });

    const latencies: number[] = [];
    const reload = async (how: 'SIGHUP' | 'file', text: string, expectedMsg: string, n: number): Promise<Record<string, unknown>> => {
      const startedAt = performance.now();
      writeAtomically(file, text);
      if (how === 'SIGHUP') router.child.kill('SIGHUP');
      const line = await nth(router, expectedMsg, n);
      latencies.push(performance.now() - startedAt);
      expect(line.source).toBe(how === 'SIGHUP' ? 'signal' : 'file');
      return line;
    };

    const loads = [...streaming, ...shortLoops];
    for (const load of loads) load.catch(() => {}); // judged below, after the steps
    try {
      // 1. a route added (SIGHUP)
      let line = await reload('SIGHUP', config({ 'a.test': alpha, 'b.test': beta, 'c.test': gamma }), 'config reloaded', 1);
      expect(line).toMatchObject({ routes_added: ['c.test'], routes_removed: [], routes_changed: [] });
      expect(await oneShot(port, 'c.test')).toBe('gamma');

      // 2. a route removed (the file rewritten; the watcher picks it up)
      line = await reload('file', config({ 'a.test': alpha, 'c.test': gamma }), 'config reloaded', 2);
      expect(line).toMatchObject({ routes_added: [], routes_removed: ['b.test'] });
      expect(await isClosedWithoutBackend(port, 'b.test')).toBe(true);

      // 3. a backend moved (SIGHUP)
      line = await reload('SIGHUP', config({ 'a.test': beta, 'c.test': gamma }), 'config reloaded', 3);
      expect(line).toMatchObject({ routes_changed: ['a.test'] });
      expect(await oneShot(port, 'a.test')).toBe('beta');

      // 4. an invalid config: refused, every problem with file:line:col, the running table kept
      line = await reload('SIGHUP', `${config({ 'a.test': alpha })}timeouts: { idle: 10 }\nroutez: {}\n`, 'reload rejected; keeping the running config', 1);
      expect(line.problems).toEqual([
        `${file}:5:19: timeouts.idle is a bare number (10); give it a unit, such as 10s or 10ms`,
        `${file}:6:1: unknown top-level key 'routez'; did you mean 'routes'?`,
      ]);
      expect(await oneShot(port, 'a.test')).toBe('beta');
      expect(await oneShot(port, 'c.test')).toBe('gamma');

      // 5. fixed: b.test back, a.test home again (the file rewritten)
      line = await reload('file', config({ 'a.test': alpha, 'b.test': beta, 'c.test': gamma }), 'config reloaded', 4);
      expect(line).toMatchObject({ routes_added: ['b.test'], routes_changed: ['a.test'] });
      expect(await oneShot(port, 'a.test')).toBe('alpha');
      expect(await oneShot(port, 'b.test')).toBe('beta');

    } finally {
      isLoadRunning = false;
    }
    await Promise.all(loads); // any failed or cut stream rejects here
    expect(shortDone).toBeGreaterThan(5);
    expect(streamed).toBeGreaterThan(6 * 512);
    expect([...shortSeen].sort()).toEqual(['alpha', 'beta']);

    // Every access line so far: the only non-`done` closes are the probes of the removed route.
    const reasons = router.lines().filter((l) => l.msg === 'connection closed').map((l) => `${String(l.sni)}:${String(l.reason)}`);
    expect(reasons.filter((r) => !r.endsWith(':done'))).toEqual(['b.test:no_route']);
    const durations = router.lines().filter((l) => l.msg === 'config reloaded').map((l) => Number(l.duration_ms));
    console.log(
      `reload: ${durations.length} applied, router-side ${durations.map((d) => d.toFixed(1)).join('/')} ms; ` +
        `write→log ${latencies.map((d) => d.toFixed(0)).join('/')} ms; ${shortDone} short connections and ` +
        `${streamed} streamed bytes during the reloads, none failed`,
    );
  }, 30_000);
});

describe('listeners on reload', () => {
  it('an added listener opens; a removed one stops accepting while its open connections drain', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'router.yaml');
    writeAtomically(file, config({ 'a.test': alpha }));
    const { router, port } = await start(['-c', file, '--no-watch']);
    const stream = await openStream(port, 'a.test');
    await stream.send(1000);

    const newPort = await freePort();
    writeAtomically(file, config({ 'a.test': alpha }).replace('127.0.0.1:0', `127.0.0.1:${newPort}`));
    router.child.kill('SIGHUP');
    const reloaded = await nth(router, 'config reloaded', 1);
    expect(reloaded).toMatchObject({ listeners_added: [`127.0.0.1:${newPort}`], listeners_removed: ['127.0.0.1:0'] });
    expect(router.lines().filter((line) => line.msg === 'listening').map((line) => line.port)).toEqual([port, newPort]);

    expect(await oneShot(newPort, 'a.test')).toBe('alpha');
    expect(await tryConnect('127.0.0.1', port, 2_000)).toBe(false);
    await stream.send(64 * 1024); // the connection accepted on the removed listener carries on
    await stream.finish();
  }, 30_000);
});

describe('Kubernetes ConfigMap update (symlink swap)', () => {
  /** The layout the kubelet makes: config.yaml → ..data/config.yaml, ..data → ..<timestamp>/ */
  function configMapVolume(): { dir: string; file: string; publish(version: string, text: string): void } {
    const dir = tempDir();
    const publish = (version: string, text: string): void => {
      const folder = path.join(dir, `..${version}`);
      mkdirSync(folder);
      writeFileSync(path.join(folder, 'config.yaml'), text);
      symlinkSync(`..${version}`, path.join(dir, '..data_tmp'));
      renameSync(path.join(dir, '..data_tmp'), path.join(dir, '..data')); // the atomic swap
    };
    return { dir, file: path.join(dir, 'config.yaml'), publish };
  }

  it('is picked up; an invalid one is refused and the old table keeps serving', async () => {
    const volume = configMapVolume();
    volume.publish('2026_01_01_00_00_00.1', config({ 'a.test': alpha }));
    symlinkSync('..data/config.yaml', volume.file);
    const { router, port } = await start(['-c', volume.file]);
    expect(await oneShot(port, 'a.test')).toBe('alpha');

    volume.publish('2026_01_01_00_01_00.2', config({ 'a.test': alpha, 'new.test': gamma }));
    const reloaded = await nth(router, 'config reloaded', 1);
    expect(reloaded).toMatchObject({ source: 'file', routes_added: ['new.test'] });
    expect(await oneShot(port, 'new.test')).toBe('gamma');

    volume.publish('2026_01_01_00_02_00.3', 'listen: ["127.0.0.1:0"]\nroutes:\n  a.test: [127.0.0.1:99999]\n');
    const rejected = await nth(router, 'reload rejected; keeping the running config', 1);
    expect(rejected.problems).toEqual([`${volume.file}:3:12: backend '127.0.0.1:99999' of route 'a.test' has port 99999, outside 1–65535`]);
    expect(await oneShot(port, 'new.test')).toBe('gamma');
    expect(await oneShot(port, 'a.test')).toBe('alpha');
    expect(count(router, 'config reloaded')).toBe(1);
  }, 30_000);
});
