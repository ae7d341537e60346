/**
 * Quick mode (routes given by flags) through the real CLI, against real sockets: the PROXY mode a flag route
 * takes beside a file and per route, `--alpn` for `--terminate` routes, `explain --no-sni`, `--version`, and the
 * sentence an EACCES on a low port prints.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CERT_DIR, type CaptureBackend, startCaptureBackend } from '../helpers/backends.js';
import { CLI, type RouterProcess, startRouterProcess } from '../helpers/cli-process.js';
import { run } from '../helpers/clients.js';
import { readableByAll } from '../helpers/readable-tree.js';
import { buildClientHello, toRecords } from '../helpers/hello-builder.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PP2_SIGNATURE = Buffer.from('\r\n\r\n\0\r\nQUIT\n', 'latin1');
const TLS_HANDSHAKE = 0x16;

let dir = '';
let backend: CaptureBackend;
const routers: RouterProcess[] = [];

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'sni-router-quick-'));
  backend = await startCaptureBackend();
});
afterAll(async () => {
  await backend.close();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  await Promise.all(routers.splice(0).map((router) => router.stop()));
});

function configFile(name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

async function startRouter(args: readonly string[]): Promise<number> {
  const router = await startRouterProcess([...args, '--log-level', 'info']);
  routers.push(router);
  const line = await router.waitForLine((entry) => entry.msg === 'listening');
  return Number(line.port);
}

/** Sends a ClientHello for `sni` through the router; resolves with the first bytes the backend read. */
async function firstBytesAtBackend(port: number, sni: string): Promise<Buffer> {
  const index = backend.connections.length;
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  socket.write(toRecords(buildClientHello({ sni })));
  try {
    return await backend.receivedAtLeast(index, 16);
  } finally {
    socket.destroy();
  }
}

describe('PROXY mode of flag routes', () => {
  it('flag route beside a v2 file speaks v2 (it was silently sent no PROXY header)', async () => {
    // A -r route beside -c took the flag default `none` while the file said `proxy_protocol: v2`, so the
    // backend, expecting a header, read the ClientHello as one. Flag routes now take the file's mode.
    const file = configFile('v2.yaml', 'listen: ["127.0.0.1:0"]\nproxy_protocol: v2\nroutes:\n  file.test: [127.0.0.1:1]\n');
    const port = await startRouter(['-c', file, '-r', `flag.test=${backend.label}`]);
    const bytes = await firstBytesAtBackend(port, 'flag.test');
    expect(bytes.subarray(0, PP2_SIGNATURE.length).equals(PP2_SIGNATURE)).toBe(true);
  });

  it("';proxy=' after the backends chooses per route; -p still sets the rest", async () => {
    const port = await startRouter([
      '-l', '127.0.0.1:0', '-p', 'v2',
      '-r', `none.test=${backend.label};proxy=none`,
      '-r', `v1.test=${backend.label};proxy=v1`,
      '-r', `plain.test=${backend.label}`,
    ]);
    expect((await firstBytesAtBackend(port, 'none.test'))[0]).toBe(TLS_HANDSHAKE);
    expect((await firstBytesAtBackend(port, 'v1.test')).subarray(0, 6).toString('latin1')).toBe('PROXY ');
    expect((await firstBytesAtBackend(port, 'plain.test')).subarray(0, PP2_SIGNATURE.length).equals(PP2_SIGNATURE)).toBe(true);
  });

  it("a bad ';proxy=' value or an unknown option is an error naming the route", () => {
    const result = spawnSync(process.execPath, [CLI, 'check', '-l', ':0', '-r', 'a.test=127.0.0.1:1;proxy=v3', '-r', 'b.test=127.0.0.1:1;prxy=v2'], { encoding: 'utf8' });
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(
      "<command line>: --route 'a.test': proxy must be v2, v1 or none, not 'v3'; did you mean 'v2'?\n" +
        "<command line>: --route 'b.test': unknown option 'prxy' (known: proxy); did you mean 'proxy'?\n",
    );
  });
});

describe('--alpn for --terminate routes', () => {
  const cert = path.join(CERT_DIR, 'router.test.pem');
  const key = path.join(CERT_DIR, 'router.test.key');
  const negotiated = async (port: number): Promise<string> => {
    const result = await run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'router.test', '-alpn', 'h2,http/1.1'], 'Q\n');
    return /ALPN protocol: (\S+)/.exec(result.stdout)?.[1] ?? (/No ALPN negotiated/.test(result.stdout) ? 'none' : `? (${result.stderr})`);
  };

  it('offers what --alpn lists, and the file default (http/1.1 only: a byte stream to an HTTP/1.1 backend) without it', async () => {
    const flags = ['-l', '127.0.0.1:0', '-r', `router.test=${backend.label}`, '--terminate', 'router.test', '--cert', cert, '--key', key];
    expect(await negotiated(await startRouter([...flags, '--alpn', 'h2,http/1.1']))).toBe('h2');
    expect(await negotiated(await startRouter(flags))).toBe('http/1.1');
  });

  it('--terminate-http offers h2 and http/1.1 (the router speaks HTTP to the backend itself)', async () => {
    const flags = ['-l', '127.0.0.1:0', '-r', `router.test=${backend.label}`, '--terminate-http', 'router.test', '--cert', cert, '--key', key];
    expect(await negotiated(await startRouter(flags))).toBe('h2');
  });

  // A list other than the byte-stream default ([http/1.1]): the printed file leaves out what equals the default.
  it('--print-config writes the list as terminate.alpn, so the file it prints means the same', () => {
    const flags = ['-l', '127.0.0.1:0', '-r', 'router.test=127.0.0.1:1', '--terminate', 'router.test', '--cert', cert, '--key', key, '--alpn', 'h2,http/1.1'];
    const printed = spawnSync(process.execPath, [CLI, ...flags, '--print-config'], { encoding: 'utf8' });
    expect(printed.status).toBe(0);
    expect(printed.stdout).toMatch(/terminate:\n\s+cert: .*router\.test\.pem\n\s+key: .*router\.test\.key\n\s+alpn:\n\s+- h2\n\s+- http\/1\.1\n/);
  });

  it('--alpn without --terminate, or with a bad list, is an error', () => {
    const alone = spawnSync(process.execPath, [CLI, 'check', '-l', ':0', '-d', '127.0.0.1:1', '--alpn', 'h2'], { encoding: 'utf8' });
    expect(alone.status).toBe(1);
    expect(alone.stderr).toBe('<command line>: --alpn is only used with --terminate NAME (it is the ALPN those routes offer)\n');
    const twice = spawnSync(process.execPath, [CLI, 'check', '-l', ':0', '-r', 'router.test=127.0.0.1:1', '--terminate', 'router.test', '--cert', cert, '--key', key, '--alpn', 'h2,h2'], { encoding: 'utf8' });
    expect(twice.status).toBe(1);
    expect(twice.stderr).toBe("<command line>: --alpn 'h2,h2' lists 'h2' twice\n");
  });
});

describe('explain --no-sni', () => {
  it('explains a hello without a server name, no name needed', () => {
    const result = spawnSync(process.execPath, [CLI, 'explain', '-l', ':0', '-r', 'a.test=127.0.0.1:1', '-d', '127.0.0.1:2', '--no-sni'], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('name      (no SNI)');
    expect(result.stdout).toContain('route     default pool');
    expect(result.stdout).toContain('why       the ClientHello has no server name');
  });

  it('without a name and without --no-sni, says what to give', () => {
    const result = spawnSync(process.execPath, [CLI, 'explain', '-l', ':0', '-d', '127.0.0.1:2'], { encoding: 'utf8' });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('give the server name to explain, or --no-sni');
  });
});

describe('--version', () => {
  it('prints the package version, as -V too', () => {
    const version = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    for (const flag of ['--version', '-V']) {
      const result = spawnSync(process.execPath, [CLI, flag], { encoding: 'utf8' });
      expect(result.status).toBe(0);
      expect(result.stdout).toBe(`${version}\n`);
    }
  });
});

const unprivilegedPortStart = Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8'));
const canDropToUser = process.getuid?.() === 0 && spawnSync('sh', ['-c', 'command -v setpriv']).status === 0;

describe('EACCES on a low port', () => {
  // Needs root to become an unprivileged user (setpriv), and a kernel that keeps port 443 privileged.
  it.skipIf(!canDropToUser || unprivilegedPortStart <= 443)('names the three ways to bind below 1024', () => {
    const tree = readableByAll(ROOT); // uid 1000 must be able to read the CLI
    const result = spawnSync(
      'setpriv',
      ['--reuid', '1000', '--regid', '1000', '--clear-groups', '--inh-caps', '-all', '--bounding-set', '-all', '--no-new-privs',
        process.execPath, path.join(tree.root, path.relative(ROOT, CLI)), '-l', '127.0.0.1:443', '-d', '127.0.0.1:1', '--log-level', 'silent'],
      { encoding: 'utf8', timeout: 15_000 },
    );
    tree.remove();
    expect(result.status).toBe(2);
    const message = result.stderr.trim().split('\n').at(-1) ?? '';
    expect(message).toContain('cannot listen on 127.0.0.1:443: listen EACCES');
    expect(message).toContain('AmbientCapabilities=CAP_NET_BIND_SERVICE');
    expect(message).toContain(`setcap cap_net_bind_service=+ep on the node binary (${process.execPath})`);
    expect(message).toContain('sysctl net.ipv4.ip_unprivileged_port_start=443');
  });
});
