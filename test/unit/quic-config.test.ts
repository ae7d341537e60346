/** The config's QUIC keys: `quic: true` on a listen entry, `--quic`, `quic_backends`, the `quic:` section, check. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { describeConfig } from '../../src/config/describe.js';
import { type CliInput, type ConfigResult, formatProblem, loadConfig } from '../../src/config/load.js';
import { QUIC_DEFAULTS } from '../../src/config/quic-keys.js';
import { configToYaml } from '../../src/config/to-yaml.js';
import { loadWithFlags } from '../../src/config/load-with-flags.js';
import type { Config } from '../../src/config/types.js';
import { DEFAULT_QUIC_FLOW_LIMITS } from '../../src/data-path/quic/flow-types.js';
import { engineLimits } from '../../src/serve/quic-listeners.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function fileWith(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'sni-router-quic-config-'));
  dirs.push(dir);
  const file = join(dir, 'config.yaml');
  writeFileSync(file, text);
  return file;
}

function load(input: CliInput): ConfigResult {
  return loadConfig(input);
}

function mustLoad(input: CliInput): Config {
  const result = load(input);
  if (!result.ok) throw new Error(result.problems.map(formatProblem).join('\n'));
  return result.config;
}

function problems(input: CliInput): string[] {
  const result = load(input);
  expect(result.ok).toBe(false);
  return result.ok ? [] : result.problems.map((problem) => problem.message);
}

describe('QUIC config keys', () => {
  it('keeps the string form and reads the object form with quic: true', () => {
    const config = mustLoad({
      configFile: fileWith('listen: [":8443", { address: "127.0.0.1:9443", quic: true }]\nroutes: { a.test: [127.0.0.1:1] }\n'),
    });
    expect(config.listen.map((listen) => [listen.label, listen.quic])).toEqual([
      [':8443', false],
      ['127.0.0.1:9443', true],
    ]);
    // Resolved: the defaults when the file has no `quic:`, which check and --print-config then leave out.
    expect(config.quic).toEqual(QUIC_DEFAULTS);
    expect(config.stated).not.toContain('quic');
  });

  it('--quic marks every --listen address, and needs one', () => {
    const config = mustLoad({ listen: ['127.0.0.1:8443', '[::1]:8443'], routes: ['a.test=127.0.0.1:1'], quic: true });
    expect(config.listen.every((listen) => listen.quic === true)).toBe(true);
    expect(problems({ configFile: fileWith('listen: [":8443"]\nroutes: { a.test: [127.0.0.1:1] }\n'), quic: true })[0]).toMatch(/--quic binds UDP beside the --listen addresses/);
  });

  it('reads quic_backends on a route, and reports broken ones', () => {
    const config = mustLoad({
      configFile: fileWith('listen: [{ address: ":8443", quic: true }]\nroutes:\n  a.test: { backends: [127.0.0.1:1], quic_backends: [127.0.0.1:2, "[::1]:3"] }\n'),
    });
    expect(config.routes[0]!.quicBackends!.map((backend) => backend.label)).toEqual(['127.0.0.1:2', '[::1]:3']);
    const messages = problems({ configFile: fileWith('listen: [":8443"]\nroutes:\n  a.test: { backends: [127.0.0.1:1], quic_backends: [nope] }\n') });
    expect(messages.join('\n')).toMatch(/quic_backends of route 'a.test'/);
  });

  it('reads the quic section over the engine defaults, which the config defaults equal', () => {
    expect({ ...QUIC_DEFAULTS }).toEqual({
      idleTimeoutMs: DEFAULT_QUIC_FLOW_LIMITS.idleTimeoutMs,
      helloTimeoutMs: DEFAULT_QUIC_FLOW_LIMITS.helloTimeoutMs,
      backendAnswerTimeoutMs: DEFAULT_QUIC_FLOW_LIMITS.backendAnswerTimeoutMs,
      maxFlows: DEFAULT_QUIC_FLOW_LIMITS.maxFlows,
      maxPendingFlows: DEFAULT_QUIC_FLOW_LIMITS.maxPendingFlows,
      maxPendingFlowsPerClient: DEFAULT_QUIC_FLOW_LIMITS.maxPendingFlowsPerAddress,
      maxPendingBytesPerFlow: DEFAULT_QUIC_FLOW_LIMITS.maxPendingBytesPerFlow,
    });
    const config = mustLoad({
      configFile: fileWith('listen: [":8443"]\nroutes: { a.test: [127.0.0.1:1] }\nquic: { idle_timeout: 10s, max_flows: 100 }\n'),
    });
    expect(config.quic).toEqual({ ...QUIC_DEFAULTS, idleTimeoutMs: 10_000, maxFlows: 100 });
    const messages = problems({
      configFile: fileWith('listen: [":8443"]\nroutes: { a.test: [127.0.0.1:1] }\nquic: { idle_timeout: 10, max_pending_bytes_per_flow: 100, max_flow: 3 }\n'),
    });
    expect(messages).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^quic\.idle_timeout is a bare number/),
        expect.stringMatching(/^quic\.max_pending_bytes_per_flow must be a whole number of at least 1200/),
        expect.stringMatching(/^unknown key 'max_flow' in quic; did you mean 'max_flows'/),
      ]),
    );
    expect(problems({ configFile: fileWith('listen: [{ address: ":8443", quic: yes please }]\nroutes: { a.test: [127.0.0.1:1] }\n') })[0]).toMatch(
      /quic of a listen entry must be true or false/,
    );
  });

  it('check says which listeners are QUIC and that QUIC flows carry no PROXY header', () => {
    const config = mustLoad({
      configFile: fileWith('listen: ["127.0.0.1:8443", { address: ":9443", quic: true }]\nproxy_protocol: v2\nroutes:\n  a.test: [127.0.0.1:1]\n  b.test: { backends: [127.0.0.1:2], proxy_protocol: none, quic_backends: [127.0.0.1:4] }\n'),
    });
    const text = describeConfig(config);
    expect(text).toMatch(/:9443 {2}\(every IPv4 and IPv6 address\); QUIC too/);
    expect(text).not.toMatch(/127\.0\.0\.1:8443; QUIC/);
    expect(text).toMatch(/QUIC \(UDP\) listeners: :9443/);
    expect(text).toMatch(/route b\.test: QUIC flows go to 127\.0\.0\.1:4/);
    expect(text).toMatch(/PROXY headers are not sent on QUIC.*\(1 route with proxy_protocol: a\.test\)/);
    expect(describeConfig(mustLoad({ listen: ['127.0.0.1:8443'], routes: ['a.test=127.0.0.1:1'] }))).not.toMatch(/QUIC/);
  });

  it('--print-config writes the QUIC keys back so the file routes as the flags did', () => {
    const config = mustLoad({
      configFile: fileWith('listen: [{ address: ":9443", quic: true }]\nroutes:\n  b.test: { backends: [127.0.0.1:2], quic_backends: [127.0.0.1:4] }\nquic: { idle_timeout: 10s }\n'),
    });
    const again = mustLoad({ configFile: fileWith(configToYaml(config)) });
    expect(again.listen[0]!.quic).toBe(true);
    expect(again.routes[0]!.quicBackends!.map((backend) => backend.label)).toEqual(['127.0.0.1:4']);
    expect(again.quic).toEqual(config.quic);
  });

  it('the engine gets the quic section and the shared max_hello_bytes; with no section, its own defaults', () => {
    const plain = mustLoad({ listen: ['127.0.0.1:8443'], routes: ['a.test=127.0.0.1:1'], quic: true });
    expect(engineLimits(plain)).toEqual(DEFAULT_QUIC_FLOW_LIMITS);
    const tuned = mustLoad({
      configFile: fileWith('listen: [":8443"]\nmax_hello_bytes: 4096\nroutes: { a.test: [127.0.0.1:1] }\nquic: { hello_timeout: 2s, max_pending_flows_per_client: 4 }\n'),
    });
    expect(engineLimits(tuned)).toEqual({ ...DEFAULT_QUIC_FLOW_LIMITS, maxHelloBytes: 4096, helloTimeoutMs: 2_000, maxPendingFlowsPerAddress: 4 });
  });

  it('QUIC listeners with more than one worker are refused: a flow would be split between processes', () => {
    const result = loadWithFlags({ input: { listen: ['127.0.0.1:8443'], routes: ['a.test=127.0.0.1:1'], quic: true }, workers: '2' });
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.problems.map((problem) => problem.message).join('\n')).toMatch(/QUIC listeners need workers: 1/);
    expect(loadWithFlags({ input: { listen: ['127.0.0.1:8443'], routes: ['a.test=127.0.0.1:1'] }, workers: '2' }).ok).toBe(true);
  });
});
