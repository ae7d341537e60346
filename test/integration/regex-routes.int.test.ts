/**
 * Regex routes against hostile server names, through a real router process and real TLS clients.
 *
 * Catastrophic backtracking: with a route `~^(a+)+$` beside an exact route, one client sending 26 a's and a b
 * stalled every other connection for 2.4 s, doubling with each extra a (the router is one thread, and V8's usual
 * regex engine backtracks). Route regexes now run on V8's linear-time engine (src/route-regex.ts), so the hostile
 * names below (30 and 60 a's: minutes to hours of backtracking before) cost microseconds: a good client sent right
 * after them is served, and `explain` answers. The router runs as a child process so that, were it ever to stall
 * again, these tests fail by their timeouts instead of freezing the test runner.
 *
 * A throw on a connection's lookup path (an 80,000-regex alternation once threw "Regular expression too large"
 * there and the process exited): it now closes that connection with `no_route`, and the next one is served.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { RouteTable } from '../../src/routing/route-table.js';
import { startTlsBackend, type TlsBackend } from '../helpers/backends.js';
import { CLI, type RouterProcess, startRouterProcess } from '../helpers/cli-process.js';
import { opensslConnect, run } from '../helpers/clients.js';
import { startTestRouter, type TestRouter } from '../helpers/router-harness.js';

const HOSTILE_NAMES = [`${'a'.repeat(30)}b`, `${'a'.repeat(60)}b`, `${'a'.repeat(40)}.example.con`, `${'a1'.repeat(30)}-.example.com.x`];

let alpha: TlsBackend;
let dir: string;
let configFile: string;
const routers: RouterProcess[] = [];

beforeAll(async () => {
  alpha = await startTlsBackend('alpha.test');
  dir = mkdtempSync(path.join(tmpdir(), 'sni-router-regex-'));
  configFile = path.join(dir, 'router.yaml');
  writeFileSync(
    configFile,
    [
      'listen: ["127.0.0.1:0"]',
      'proxy_protocol: none',
      'routes:',
      `  alpha.test: [${alpha.label}]`,
      `  "~^(a+)+$": [${alpha.label}]`,
      `  "~^([a-z0-9]+-?)+\\\\.example\\\\.com$": [${alpha.label}]`,
      '',
    ].join('\n'),
  );
});
afterEach(async () => {
  await Promise.all(routers.splice(0).map((router) => router.stop('SIGKILL')));
});
afterAll(async () => {
  await alpha?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A TLS client that sends a hello with `servername` and resolves once the router has closed it. */
function sendHostileHello(port: number, servername: string): Promise<void> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve());
  });
}

describe('regex routes: catastrophic backtracking', () => {
  it('hostile names against ~^(a+)+$ and ^([a-z0-9]+-?)+\\.example\\.com$ are answered while a good client is served', async () => {
    const router = await startRouterProcess(['-c', configFile, '--no-watch']);
    routers.push(router);
    const port = Number((await router.waitForLine((line) => line.msg === 'listening')).port);

    const hostile = HOSTILE_NAMES.map((name) => sendHostileHello(port, name));
    const good = await opensslConnect(port, 'alpha.test');
    expect(good.subject, good.result.stdout + good.result.stderr).toBe('alpha.test');
    await Promise.all(hostile);
    // `aaaa…ab` matches neither regex (there is no default), so each hostile client was closed as no_route.
    for (const name of HOSTILE_NAMES) {
      const line = await router.waitForLine((entry) => entry.msg === 'connection closed' && entry.sni === name);
      expect(line.reason, name).toBe('no_route');
    }
    // An all-a name does match ~^(a+)+$ (the linear engine still matches what the pattern says).
    const matching = await opensslConnect(port, 'a'.repeat(63));
    expect(matching.subject).toBe('alpha.test');
  });

  it('explain answers for the same hostile names, and agrees with routing', async () => {
    for (const name of HOSTILE_NAMES.slice(0, 2)) {
      const result = await run(process.execPath, [CLI, 'explain', '-c', configFile, name], '', 15_000);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain('no exact name, wildcard or regex matches');
      expect(result.stdout).toContain('closed (reason no_route)');
    }
    const hit = await run(process.execPath, [CLI, 'explain', '-c', configFile, 'AAAA'], '', 15_000);
    expect(hit.stdout).toMatch(/route\s+~\^\(a\+\)\+\$\s+\(regex\)/);
  });
});

describe('regex routes: a throw on the lookup path', () => {
  let router: TestRouter | undefined;
  afterEach(async () => {
    vi.restoreAllMocks();
    await router?.stop();
    router = undefined;
  });

  it('closes that connection with no_route and keeps serving the next', async () => {
    router = await startTestRouter(`listen: ["127.0.0.1:0"]\nproxy_protocol: none\nroutes:\n  alpha.test: [${alpha.label}]\n`);
    vi.spyOn(RouteTable.prototype, 'lookup').mockImplementationOnce(() => {
      throw new SyntaxError('Invalid regular expression: Regular expression too large');
    });
    await sendHostileHello(router.port(), 'alpha.test');
    const line = await router.waitForAccessLine((entry) => entry.sni === 'alpha.test');
    expect(line.reason).toBe('no_route');
    const next = await opensslConnect(router.port(), 'alpha.test');
    expect(next.subject).toBe('alpha.test');
  });
});
