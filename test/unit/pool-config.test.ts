/**
 * The pool and listener config shapes: backend long form with weight, health, fallback, ALPN pools, listen long form with
 * accept_proxy_protocol and connection caps, top-level limits; their errors (file:line:col, "did you mean"); and
 * how `sni-router check` shows them. SPEC's forms are covered unchanged by config.test.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatProblem, loadConfig } from '../../src/config/load.js';
import { describeConfig } from '../../src/config/describe.js';
import { DEFAULT_LIMITS } from '../../src/config/types.js';
import { loadYaml } from '../helpers/router-harness.js';

const dir = mkdtempSync(path.join(tmpdir(), 'sni-router-pool-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function problems(yaml: string): string[] {
  const file = path.join(dir, 'router.yaml');
  writeFileSync(file, yaml);
  const result = loadConfig({ configFile: file });
  if (result.ok) return [];
  return result.problems.map((problem) => formatProblem(problem).replace(`${file}:`, ''));
}

const FULL = `
listen:
  - "127.0.0.1:8443"
  - address: "127.0.0.1:9443"
    accept_proxy_protocol: { trusted: ["10.0.0.0/8", "::1", "192.168.1.7"] }
    max_connections: 1000
    max_connections_per_client: 20
limits: { max_hello_connections: 5000, max_hello_connections_per_client: 50 }
routes:
  app.example.com:
    backends: [10.0.0.5:8443, { address: "10.0.0.6:8443", weight: 3 }, "backend.internal:443"]
    balance: least-conn
    health: { interval: 2s, timeout: 500ms, rise: 3, fall: 2, tls: true }
    alpn:
      "acme-tls/1": [127.0.0.1:9400]
      h2: { backends: [10.0.0.7:8443], balance: source-hash }
    fallback: [10.0.9.9:443]
  "*.example.org":
    backends: [10.0.1.5:443]
    health: { tls: probe.example.org }
default: [10.0.9.9:443]
`;

describe('pool, listener and limits config keys', () => {
  it('reads every new key into the resolved config', () => {
    const config = loadYaml(FULL);
    const [plain, long] = config.listen;
    expect(plain).toMatchObject({ acceptProxy: null, maxConnections: null, maxConnectionsPerClient: null });
    expect(long).toMatchObject({ label: '127.0.0.1:9443', maxConnections: 1000, maxConnectionsPerClient: 20 });
    expect(long?.acceptProxy?.trusted.map((cidr) => cidr.label)).toEqual(['10.0.0.0/8', '::1/128', '192.168.1.7/32']);
    expect(config.limits).toEqual({ ...DEFAULT_LIMITS, maxHelloConnections: 5000, maxHelloConnectionsPerClient: 50 });
    expect(config.stated).toEqual(['limits']);
    const app = config.routes[0]!;
    expect(app.pool.backends.map((b) => [b.label, b.weight])).toEqual([
      ['10.0.0.5:8443', 1],
      ['10.0.0.6:8443', 3],
      ['backend.internal:443', 1],
    ]);
    expect(app.pool.health).toEqual({ intervalMs: 2000, timeoutMs: 500, rise: 3, fall: 2, tls: true, tlsServerName: 'app.example.com' });
    expect(app.alpn.map((entry) => [entry.protocol, entry.pool.backends[0]?.label, entry.pool.balance])).toEqual([
      ['acme-tls/1', '127.0.0.1:9400', 'round-robin'],
      ['h2', '10.0.0.7:8443', 'source-hash'],
    ]);
    expect(app.fallback?.backends.map((b) => b.label)).toEqual(['10.0.9.9:443']);
    expect(config.routes[1]?.pool.health).toMatchObject({ intervalMs: 5000, timeoutMs: 2000, rise: 2, fall: 3, tls: true, tlsServerName: 'probe.example.org' });
    expect(Object.isFrozen(app.alpn[0]?.pool)).toBe(true);
  });

  it('resolves SPEC-only configs to the defaults of the new keys, hello limits on', () => {
    const config = loadYaml(`
listen: ["127.0.0.1:0"]
routes: { a.test: [127.0.0.1:1] }
`);
    expect(config.limits).toEqual(DEFAULT_LIMITS);
    expect(config.stated).toEqual([]);
    expect(DEFAULT_LIMITS.maxHelloConnections).toBeGreaterThan(0);
    expect(config.routes[0]?.alpn).toEqual([]);
    expect(config.routes[0]?.fallback).toBeNull();
    expect(config.routes[0]?.pool.health).toBeNull();
  });

  it('reports every problem with its position and a plain sentence', () => {
    expect(
      problems(`
listen:
  - { address: "127.0.0.1:0", accept_proxy_protocol: { trusted: ["10.0.0.0/33", "nope"] }, max_connections: 0 }
  - { adress: "127.0.0.1:1" }
limits: { max_hello_connection: 5, max_hello_connections_per_client: many }
routes:
  a.test:
    backends: [{ address: "10.0.0.1:1", weight: 0 }, { address: "10.0.0.2:1", wieght: 2 }]
    health: { interval: 0s, rize: 2, tls: "not a name" }
    alpn: { "": [10.0.0.3:1], "bad proto": [10.0.0.3:1] }
    fallback: { backends: [10.0.0.4:1], terminate: { cert: a, key: b } }
`),
    ).toEqual([
      "3:66: trusted network '10.0.0.0/33' has prefix length '33', which is not a number from 0 to 32",
      "3:81: trusted network 'nope' is not an IPv4 or IPv6 network, as in '10.0.0.0/8' or '::1/128'",
      "3:109: max_connections must be a whole number of at least 1, not '0'",
      "4:7: unknown key 'adress' in a listen entry; did you mean 'address'?",
      "5:11: unknown key 'max_hello_connection' in limits; did you mean 'max_hello_connections'?",
      "5:70: limits.max_hello_connections_per_client must be a whole number of at least 1, not 'many'",
      "8:49: weight of backend '10.0.0.1:1' of route 'a.test' must be a whole number of at least 1, not '0'",
      "8:79: unknown key 'wieght' in a backend of route 'a.test'; did you mean 'weight'?",
      "9:25: health.interval of route 'a.test' must be longer than zero",
      "9:29: unknown key 'rize' in health of route 'a.test'; did you mean 'rise'?",
      "9:43: health.tls of route 'a.test' must be true, false or the server name to send, as in app.example.com",
      "10:13: alpn protocol '' of route 'a.test' must be 1–255 printable ASCII bytes, as in acme-tls/1 or h2",
      "10:31: alpn protocol 'bad proto' of route 'a.test' must be 1–255 printable ASCII bytes, as in acme-tls/1 or h2",
      "11:41: fallback of route 'a.test' cannot terminate TLS; only a named route can (its name picks the certificate)",
    ]);
  });

  it('sni-router check shows listeners, limits, weights, health, ALPN pools and fallbacks', () => {
    const text = describeConfig(loadYaml(FULL));
    expect(text).toContain('127.0.0.1:9443; accept PROXY from 10.0.0.0/8, ::1/128, 192.168.1.7/32; max_connections 1000, max_connections_per_client 20');
    expect(text).toMatch(/^limits +max_hello_connections 5000, max_hello_connections_per_client 50$/m);
    const rows = text.split('\n').filter((line) => /^ {2}\S/.test(line)).map((line) => line.trim().split(/ {2,}/));
    expect(rows.map((row) => row.slice(0, 3))).toEqual([
      ['#', 'kind', 'name'],
      ['1', 'exact', 'app.example.com'],
      ['1a', 'alpn', 'app.example.com + acme-tls/1'],
      ['1b', 'alpn', 'app.example.com + h2'],
      ['1+', 'fallback', 'app.example.com'],
      ['2', 'wildcard', '*.example.org'],
      ['-', 'default', '(anything else)'],
    ]);
    expect(rows[1]?.[3]).toBe('10.0.0.5:8443, 10.0.0.6:8443 (weight 3), backend.internal:443');
    expect(rows[1]?.[5]).toBe('least-conn; health every 2s, timeout 500ms, rise 3, fall 2, tls sni app.example.com');
  });
});
