/**
 * Which data plane runs: `--data-plane node | native | auto`, the start-up line and /metrics saying which, and
 * auto falling back to the node plane with one warning line when the addon cannot load. Real router processes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadNativeAddon } from '../../src/data-path/native/load.js';
import { CLI, type RouterProcess, startRouterProcess } from '../helpers/cli-process.js';
import { run } from '../helpers/clients.js';
import { parsePrometheusText, valueOf } from '../helpers/prometheus-text.js';
import { type EchoBackend, httpRequest, oneShot, startEchoBackend } from '../helpers/streams.js';
import { freePort } from '../helpers/ports.js';

const hasNative = 'addon' in loadNativeAddon();
const MISSING_ADDON = '/nonexistent/sni_router_native.node';

let backend: EchoBackend;
const started: RouterProcess[] = [];

beforeAll(async () => {
  backend = await startEchoBackend('echo');
});

afterAll(async () => {
  for (const router of started) await router.stop('SIGKILL');
  await backend?.close();
});

/** Starts the CLI with `env` added to ours (SNI_ROUTER_DATA_PLANE cleared: the flags say what is wanted). */
async function startWith(args: readonly string[], env: Record<string, string> = {}): Promise<{ router: RouterProcess; port: number; adminPort: number }> {
  const saved = { ...process.env };
  delete process.env.SNI_ROUTER_DATA_PLANE;
  Object.assign(process.env, env);
  try {
    const router = await startRouterProcess(['-l', '127.0.0.1:0', '--admin', '127.0.0.1:0', '-r', `a.test=${backend.label}`, '--log-level', 'info', ...args]);
    started.push(router);
    const port = Number((await router.waitForLine((line) => line.msg === 'listening')).port);
    const adminPort = Number((await router.waitForLine((line) => line.msg === 'admin listening')).port);
    await router.waitForLine((line) => line.msg === 'sni-router started');
    return { router, port, adminPort };
  } finally {
    process.env = saved;
  }
}

async function planeMetric(adminPort: number, plane: string): Promise<number | undefined> {
  const metrics = parsePrometheusText((await httpRequest(adminPort, '/metrics')).body);
  return valueOf(metrics, 'sni_router_data_plane_info', { plane });
}

describe('data plane choice', () => {
  it('--data-plane node: the start-up line and /metrics say node, and it serves', async () => {
    const { router, port, adminPort } = await startWith(['--data-plane', 'node']);
    expect(router.lines().find((line) => line.msg === 'sni-router started')).toMatchObject({ data_plane: 'node' });
    expect(await planeMetric(adminPort, 'node')).toBe(1);
    expect(await planeMetric(adminPort, 'native')).toBeUndefined();
    expect(await oneShot(port, 'a.test')).toBe('echo');
    expect(router.lines().filter((line) => line.msg === 'native data plane not used; running the node plane')).toHaveLength(0);
  });

  it.skipIf(!hasNative)('--data-plane native: the start-up line and /metrics say native; the access line is the node plane\'s', async () => {
    const { router, port, adminPort } = await startWith(['--data-plane', 'native']);
    expect(router.lines().find((line) => line.msg === 'sni-router started')).toMatchObject({ data_plane: 'native' });
    expect(await planeMetric(adminPort, 'native')).toBe(1);
    expect(await oneShot(port, 'a.test')).toBe('echo');
    const line = await router.waitForLine((l) => l.msg === 'connection closed');
    expect(Object.keys(line).filter((key) => !['level', 'time', 'pid', 'hostname'].includes(key)).sort()).toEqual(
      ['alpn', 'backend', 'backends_tried', 'bytes_in', 'bytes_out', 'client', 'connect_ms', 'duration_ms', 'hello', 'id', 'listener', 'mode', 'msg', 'reason', 'route', 'sni'].sort(),
    );
    expect(line).toMatchObject({ sni: 'a.test', route: 'a.test', backend: backend.label, mode: 'passthrough', reason: 'done' });
    expect(String(line.client)).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('auto without a loadable addon: one warning line saying why, then the node plane', async () => {
    const { router, port, adminPort } = await startWith([], { SNI_ROUTER_NATIVE_ADDON: MISSING_ADDON });
    const warnings = router.lines().filter((line) => line.msg === 'native data plane not used; running the node plane');
    expect(warnings).toHaveLength(1);
    expect(String(warnings[0]!.why)).toContain('missing');
    expect(router.lines().find((line) => line.msg === 'sni-router started')).toMatchObject({ data_plane: 'node' });
    expect(await planeMetric(adminPort, 'node')).toBe(1);
    expect(await oneShot(port, 'a.test')).toBe('echo');
  });

  it.skipIf(!hasNative)('auto with the addon built runs native', async () => {
    const { router } = await startWith([]);
    expect(router.lines().find((line) => line.msg === 'sni-router started')).toMatchObject({ data_plane: 'native' });
  });

  it.skipIf(!hasNative)('auto with a plain-HTTP listener runs node (one warning saying why), and the redirect answers', async () => {
    const httpPort = await freePort();
    const { router, port } = await startWith(['--http-redirect', `127.0.0.1:${httpPort}`]);
    const warnings = router.lines().filter((line) => line.msg === 'native data plane not used; running the node plane');
    expect(warnings).toHaveLength(1);
    expect(String(warnings[0]!.why)).toContain('plain-HTTP listener');
    expect(router.lines().find((line) => line.msg === 'sni-router started')).toMatchObject({ data_plane: 'node' });
    expect(await oneShot(port, 'a.test')).toBe('echo');
    const answer = await run('curl', ['-sS', '--max-time', '10', '-o', '/dev/null', '-w', '%{http_code} %{redirect_url}', `http://127.0.0.1:${httpPort}/x`, '-H', 'Host: a.test']);
    expect(answer.stdout).toBe('308 https://a.test/x');
  });

  it.skipIf(!hasNative)('--data-plane native with a plain-HTTP listener exits 1 saying why', async () => {
    const httpPort = await freePort();
    const result = await run(process.execPath, [CLI, '-l', '127.0.0.1:0', '-r', `a.test=${backend.label}`, '--data-plane', 'native', '--http-redirect', `127.0.0.1:${httpPort}`]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^sni-router: data_plane native cannot run: .*plain-HTTP listener/);
  });

  it('--data-plane native without a loadable addon exits 1 saying why', async () => {
    const saved = { ...process.env };
    process.env.SNI_ROUTER_NATIVE_ADDON = MISSING_ADDON;
    try {
      const result = await run(process.execPath, [CLI, '-l', '127.0.0.1:0', '-r', `a.test=${backend.label}`, '--data-plane', 'native']);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/^sni-router: data_plane native cannot run: .*missing/);
    } finally {
      process.env = saved;
    }
  });

  it('--data-plane with another word is a config error', async () => {
    const result = await run(process.execPath, [CLI, 'check', '-l', '127.0.0.1:0', '-r', `a.test=${backend.label}`, '--data-plane', 'fast']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("--data-plane must be one of auto, native, node, not 'fast'");
  });
});
