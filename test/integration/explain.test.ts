/**
 * `sni-router explain` must agree with real routing: for names of every route kind (exact, the longer of two
 * wildcards, the first of two matching regexes, default, closed, an invalid name, no SNI), the route explain
 * names is the one a real connection through a running router takes (its backend answers; its access line
 * names the route). Also: the CLI's output, and `--print-config` giving a file that routes as the flags did.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explainRoute } from '../../src/routing/explain.js';
import { CLI } from '../helpers/cli-process.js';
import { run } from '../helpers/clients.js';
import { exchange } from '../helpers/ports.js';
import { loadYaml, startTestRouter, type TestRouter } from '../helpers/router-harness.js';
import { type EchoBackend, helloFor, isClosedWithoutBackend, oneShot, startEchoBackend } from '../helpers/streams.js';

const NAMES = ['exact', 'wild', 'deepwild', 'regex1', 'regex2', 'fallback'] as const;
const backends = new Map<string, EchoBackend>();
let withDefault: TestRouter;
let withoutDefault: TestRouter;

function routesYaml(): string {
  const b = (name: string): string => backends.get(name)!.label;
  return `listen: ["127.0.0.1:0"]
proxy_protocol: none
routes:
  app.example.com: [${b('exact')}]
  "*.example.com": [${b('wild')}]
  "*.deep.example.com": [${b('deepwild')}]
  "~^api-[0-9]+\\\\.": [${b('regex1')}]
  "~^api-": [${b('regex2')}]
`;
}

beforeAll(async () => {
  for (const name of NAMES) backends.set(name, await startEchoBackend(name));
  withDefault = await startTestRouter(`${routesYaml()}default: [${backends.get('fallback')!.label}]\n`);
  withoutDefault = await startTestRouter(routesYaml());
});

afterAll(async () => {
  await Promise.all([withDefault?.stop(), withoutDefault?.stop()]);
  await Promise.all([...backends.values()].map((backend) => backend.close()));
});

/** name → the kind explain should give with and without a default pool. */
const CASES: Array<[string | null, string, string]> = [
  ['app.example.com', 'exact', 'exact'],
  ['APP.Example.com.', 'exact', 'exact'],
  ['x.example.com', 'wildcard', 'wildcard'],
  ['a.b.deep.example.com', 'wildcard', 'wildcard'],
  ['example.com', 'default', 'closed'],
  ['api-7.example.net', 'regex', 'regex'],
  ['api-x.example.net', 'regex', 'regex'],
  ['other.test', 'default', 'closed'],
  ['bad name', 'default', 'closed'],
  [null, 'default', 'closed'],
];

describe('explain agrees with real routing', () => {
  it.each(CASES)('%s → %s (with default) / %s (without)', async (name, kindWithDefault, kindWithout) => {
    for (const [router, kind] of [
      [withDefault, kindWithDefault],
      [withoutDefault, kindWithout],
    ] as const) {
      const explanation = explainRoute(router.config, name);
      expect(explanation.kind).toBe(kind);
      const before = router.accessLines().length;
      if (explanation.pool === null) {
        expect(await isClosedWithoutBackend(router.port(), name)).toBe(true);
      } else {
        const answered = await oneShot(router.port(), name);
        const expectedBackend = [...backends.values()].find((backend) => backend.label === explanation.pool!.backends[0]!.label);
        expect(answered).toBe(expectedBackend?.name);
      }
      const access = await router.waitForAccessLine((_line) => router.accessLines().length > before);
      const route = explanation.route?.name ?? (explanation.kind === 'default' ? 'default' : null);
      expect(router.accessLines()[before]?.route ?? null).toBe(route);
      expect(access).toBeTruthy();
    }
  });

  it('says why the others lost', () => {
    const explanation = explainRoute(withDefault.config, 'api-7.deep.example.com');
    expect(explanation.route?.name).toBe('*.deep.example.com');
    expect(explanation.reasons).toEqual([
      "wildcard '*.deep.example.com' (line 6) is the longest wildcard that matches",
      "'*.example.com' (line 5) matches too, but '*.deep.example.com' is longer (more specific)",
      "'~^api-[0-9]+\\.' (line 7) matches too, but wildcards win over regexes",
      "'~^api-' (line 8) matches too, but wildcards win over regexes",
    ]);
  });

  it('picks a route\'s ALPN pool when the client offers that protocol', () => {
    const config = loadYaml(`listen: ["127.0.0.1:0"]
routes:
  app.example.com:
    backends: [127.0.0.1:1001]
    alpn:
      "acme-tls/1": [127.0.0.1:1002]
`);
    expect(explainRoute(config, 'app.example.com', ['acme-tls/1']).pool?.backends[0]?.label).toBe('127.0.0.1:1002');
    expect(explainRoute(config, 'app.example.com', ['h2']).pool?.backends[0]?.label).toBe('127.0.0.1:1001');
  });
});

describe('the CLI', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'sni-router-explain-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('sni-router explain -c FILE NAME prints the route, the pool and why', async () => {
    const file = path.join(dir, 'router.yaml');
    writeFileSync(file, 'listen: ["127.0.0.1:8443"]\nroutes:\n  "*.example.com": [10.0.0.1:443]\n  "~^x": [10.0.0.2:443]\n');
    const result = await run(process.execPath, [CLI, 'explain', '-c', file, 'x.example.com']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout.split('\n')).toEqual([
      'name      x.example.com',
      'route     *.example.com  (wildcard)',
      'backends  10.0.0.1:443',
      'proxy     v2',
      'balance   round-robin',
      'mode      passthrough',
      "why       wildcard '*.example.com' (line 3) is the longest wildcard that matches",
      "          '~^x' (line 4) matches too, but wildcards win over regexes",
      '',
    ]);
    const closed = await run(process.execPath, [CLI, 'explain', '-c', file, 'example.com']);
    expect(closed.stdout).toContain('route     none: the connection is closed (no_route)');
    const noSni = await run(process.execPath, [CLI, 'explain', '-c', file, '--no-sni', '']);
    expect(noSni.stdout).toContain('why       the ClientHello has no server name');
  });

  it('--print-config prints a file that resolves to the same table as the flags', async () => {
    const flags = ['-l', '127.0.0.1:8443', '-l', '[::1]:8443', '-r', 'app.example.com=10.0.0.5:8443,10.0.0.6:8443', '-r', '*.example.org=10.0.1.5:443', '-r', '~^api-[0-9]+\\.example\\.net$=10.0.2.5:443', '-d', '10.0.9.9:443', '-p', 'v1', '--log-level', 'warn', '--admin', '127.0.0.1:9901'];
    const printed = await run(process.execPath, [CLI, ...flags, '--print-config']);
    expect(printed).toMatchObject({ code: 0, stderr: '' });
    const file = path.join(dir, 'printed.yaml');
    writeFileSync(file, printed.stdout);
    const fromFlags = await run(process.execPath, [CLI, 'check', ...flags]);
    const fromFile = await run(process.execPath, [CLI, 'check', '-c', file]);
    expect(fromFile.code).toBe(0);
    // The same table, but for the first line and the 'from' column (flag vs line N).
    const table = (text: string): string[][] =>
      text
        .split('\n')
        .slice(1)
        .map((line) => line.trim().split(/\s{2,}/))
        .map((cells) => (cells.length === 8 ? cells.filter((_cell, index) => index !== 6) : cells));
    expect(table(fromFile.stdout)).toEqual(table(fromFlags.stdout));
  });
});

describe('no SNI through a real router', () => {
  it('explain and the router agree for a hello without a server name', async () => {
    const explanation = explainRoute(withDefault.config, null);
    expect(explanation.kind).toBe('default');
    const reply = await exchange('127.0.0.1', withDefault.port(), helloFor(null), 1_000);
    expect(reply.data.toString()).toMatch(/^fallback\n/);
  });
});
