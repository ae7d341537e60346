/** `terminate.http` and a pool's `protocol` in the config: defaults filled in, mistakes named at their line. */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { formatProblem } from '../../src/config/problem.js';
import { describeConfig } from '../../src/config/describe.js';
import { CERT_DIR } from '../helpers/backends.js';

const terminate = (extra: string): string =>
  `{ cert: ${path.join(CERT_DIR, 'router.test.pem')}, key: ${path.join(CERT_DIR, 'router.test.key')}${extra} }`;

function load(yaml: string): ReturnType<typeof loadConfig> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sni-router-http-config-'));
  try {
    writeFileSync(path.join(dir, 'router.yaml'), yaml);
    return loadConfig({ configFile: path.join(dir, 'router.yaml') });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const problems = (yaml: string): string[] => {
  const result = load(yaml);
  return result.ok ? [] : result.problems.map((problem) => formatProblem(problem).replace(/^.*router\.yaml:(\d+):\d+:/, '$1:')); // columns vary with the path
};

describe('terminate.http', () => {
  it('http: true takes every default; a mapping overrides some', () => {
    const result = load(`listen: [":0"]\nroutes:\n  router.test:\n    backends: [127.0.0.1:1]\n    terminate: ${terminate(', http: { hsts: max-age=600, headers_timeout: 2s, trusted_forwarders: ["10.0.0.0/8"] }')}\n`);
    if (!result.ok) throw new Error(result.problems.map(formatProblem).join('\n'));
    const http = result.config.routes[0]!.terminate!.http!;
    expect(http).toMatchObject({ hsts: 'max-age=600', headersTimeoutMs: 2000, maxHeaderBytes: 16384, responseTimeoutMs: 60_000 });
    expect(http.trustedForwarders.map((cidr) => cidr.label)).toEqual(['10.0.0.0/8']);
  });

  it('check explains the ALPN choice: http/1.1 by default for a byte stream, both for HTTP mode', () => {
    const result = load(`listen: [":0"]\nroutes:\n  a.test:\n    backends: [127.0.0.1:1]\n    terminate: ${terminate('')}\n  router.test:\n    backends: [127.0.0.1:1]\n    protocol: h2c\n    terminate: ${terminate(', http: true')}\n`);
    if (!result.ok) throw new Error(result.problems.map(formatProblem).join('\n'));
    const table = describeConfig(result.config);
    expect(table).toMatch(/alpn http\/1\.1 \(default: byte stream, the backend is taken to speak HTTP\/1\.1 only; set alpn: \[h2\] for an h2c backend\)/);
    expect(table).toMatch(/alpn h2,http\/1\.1 \(default for http: the router speaks h2c to the backend\), http to h2c backends/);
  });

  it('names bad values, unknown keys, and protocol without http', () => {
    expect(problems(`listen: [":0"]\nroutes:\n  router.test:\n    backends: [127.0.0.1:1]\n    terminate: ${terminate(', http: { hsts: 1 year, keep_alve: 5s }')}\n`)).toEqual([
      "5: hsts of http of terminate of route 'router.test' must be a Strict-Transport-Security value, as in max-age=31536000; includeSubDomains",
      "5: unknown key 'keep_alve' in http of terminate of route 'router.test'; did you mean 'keep_alive'?",
    ]);
    expect(problems(`listen: [":0"]\nroutes:\n  router.test:\n    backends: [127.0.0.1:1]\n    protocol: h2c\n`)).toEqual([
      "5: protocol of route 'router.test' is only used with terminate: { …, http: true }",
    ]);
  });
});
