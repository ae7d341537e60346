import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const CLI = join(ROOT, 'dist', 'cli.js');
const FIXTURES = 'fixtures/configs';

/** Newest modification time under `dir` of files ending in `.ts`. */
function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

beforeAll(() => {
  // `npm test` builds first; run on its own, this file builds dist/ when it is missing or older than src/.
  const isStale = !existsSync(CLI) || statSync(CLI).mtimeMs < newestSource(join(ROOT, 'src'));
  if (isStale) {
    try {
      execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'pipe' });
    } catch {
      // tsc still emits when some other file has a type error; what matters is that dist/cli.js is there.
    }
  }
  expect(existsSync(CLI)).toBe(true);
}, 120_000);

interface Outcome {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

const children = new Set<ChildProcess>();

afterEach(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  children.clear();
});

function start(args: readonly string[]): { child: ChildProcess; outcome: Promise<Outcome>; stdout: () => string; stderr: () => string } {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const outcome = once(child, 'close').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null, stdout, stderr }));
  return { child, outcome, stdout: () => stdout, stderr: () => stderr };
}

function cli(...args: string[]): Promise<Outcome> {
  return start(args).outcome;
}

function expectedLines(fixture: string): string {
  return readFileSync(`${FIXTURES}/${fixture}.expected`, 'utf8').split('<fixtures>').join(resolve(ROOT, FIXTURES));
}

describe('sni-router check', () => {
  it('prints the resolved routing table and exits 0', async () => {
    const result = await cli('check', '-c', `${FIXTURES}/good-minimal.yaml`);
    expect(result).toEqual({
      code: 0,
      signal: null,
      stderr: '',
      stdout: [
        `sni-router: ${resolve(ROOT, FIXTURES, 'good-minimal.yaml')} is valid`,
        '',
        'listen           127.0.0.1:8443',
        'proxy_protocol   v2 (pools that do not set their own)',
        'timeouts         client_hello 5s, connect 3s, idle 10m',
        'max_hello_bytes  65536',
        'log_level        info',
        'admin            off',
        '',
        'routes, in the order a lookup tries them:',
        '  #  kind     name             backends        proxy  balance      from  terminate',
        '  -  default  (anything else)  127.0.0.1:9443  v2     round-robin  -     -',
        '',
      ].join('\n'),
    });
  });

  it('lists routes with kind, backends, proxy mode, balance and terminate, in precedence order', async () => {
    const result = await cli('check', '--config', 'config/example.yaml');
    expect(result.code).toBe(0);
    const routeLines = result.stdout.split('\n').filter((line) => /^ {2}[0-9-] /.test(line));
    expect(routeLines.map((line) => line.trim().split(/\s+/).slice(0, 3).join(' '))).toEqual([
      '1 exact app.example.com',
      '2 exact legacy.example.com',
      '3 wildcard *.example.org',
      '4 regex ~^api-[0-9]+\\.example\\.net$',
      '- default (anything',
    ]);
    expect(routeLines[1]).toContain(`cert ${resolve(ROOT, FIXTURES, 'certs/legacy.pem')}, key ${resolve(ROOT, FIXTURES, 'certs/legacy.key')}`);
    expect(routeLines[2]).toMatch(/127\.0\.0\.1:9101 +none +least-conn/);
  });

  it.each(['bad-unknown-keys', 'bad-addresses', 'bad-terminate', 'bad-yaml-syntax', 'bad-empty'])(
    '%s: every problem on stderr as file:line:col, exit 1',
    async (fixture) => {
      const result = await cli('check', '-c', `${FIXTURES}/${fixture}.yaml`);
      expect(result).toEqual({ code: 1, signal: null, stdout: '', stderr: expectedLines(fixture) });
    },
  );

  it('takes the other flags too, and they override the file', async () => {
    const result = await cli('check', '-c', `${FIXTURES}/good-minimal.yaml`, '-l', ':0', '-r', '*.test=127.0.0.1:1', '-p', 'v1', '--log-level', 'warn');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('listen           :0  (every IPv4 and IPv6 address)');
    expect(result.stdout).toContain('log_level        warn');
    expect(result.stdout).toMatch(/1 {2}wildcard {2}\*\.test +127\.0\.0\.1:1 +v1 +round-robin +flag/);
  });

  it('accepts the options before the subcommand as well', async () => {
    const result = await cli('-c', `${FIXTURES}/good-minimal.yaml`, 'check', '-l', '127.0.0.1:0');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('listen           127.0.0.1:0\n');
  });

  it('checks a command-line-only config', async () => {
    const result = await cli('check', '-l', '127.0.0.1:0', '-r', 'a.test=127.0.0.1:1', '--terminate', 'a.test', '--cert', `${FIXTURES}/certs/legacy.pem`, '--key', `${FIXTURES}/certs/legacy.key`);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^sni-router: the command line is valid\n/);
  });

  it('names the flag in command-line problems', async () => {
    const result = await cli('check', '-l', '127.0.0.1', '-r', 'a.test=127.0.0.1:1', '-p', 'v3', '--terminate', 'b.test', '--cert', 'x.pem', '--key', 'x.key');
    expect(result.code).toBe(1);
    expect(result.stderr.split('\n')).toEqual([
      "<command line>: --proxy-protocol must be v2, v1 or none, not 'v3'; did you mean 'v2'?",
      "<command line>: --listen '127.0.0.1' needs a port, as in '127.0.0.1:443'",
      "<command line>: --cert 'x.pem' cannot be read: it does not exist",
      "<command line>: --key 'x.key' cannot be read: it does not exist",
      "<command line>: --terminate 'b.test' names no route; did you mean 'a.test'?",
      '',
    ]);
  });
});

describe('argument errors exit 1', () => {
  it.each<[string, string[], RegExp]>([
    ['an unknown option', ['--bogus'], /unknown option '--bogus'/],
    ['an option without its value', ['check', '-c'], /option '-c, --config <file>' argument missing/],
    ['an unknown subcommand', ['chek'], /too many arguments/],
    ['nothing to do', [], /<command line>: nothing to listen on/],
    ['a bad --workers', ['-l', '127.0.0.1:0', '-d', '127.0.0.1:1', '--workers', 'many'], /<command line>: --workers must be 'auto' or a whole number from 1 to 64, not 'many'/],
  ])('%s', async (_what, args, message) => {
    const result = await cli(...args);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toBe('');
  });

  it('a bad config in run mode: the problems, exit 1, nothing started', async () => {
    const result = await cli('-c', `${FIXTURES}/bad-values.yaml`);
    expect(result).toEqual({ code: 1, signal: null, stdout: '', stderr: expectedLines('bad-values') });
  });

  it('--help lists exactly the flags of SPEC and exits 0', async () => {
    const result = await cli('--help');
    expect(result.code).toBe(0);
    const flags = [...result.stdout.matchAll(/^ {2}(-\w, )?(--[\w-]+)/gm)].map((m) => m[2]);
    // SPEC's flags, then the operations ones (--no-watch, --print-config, --workers, --data-plane); the 2026-12 additions
    // --version, --terminate-http and --alpn (what --terminate routes offer), --quic (UDP beside the --listen
    // addresses), the plain-HTTP listeners --http-redirect, --http-route and --https-port, and --log-format.
    expect(flags).toEqual(['--version', '--config', '--listen', '--quic', '--route', '--default', '--proxy-protocol', '--terminate', '--terminate-http', '--alpn', '--http-redirect', '--http-route', '--https-port', '--cert', '--key', '--log-level', '--admin', '--workers', '--data-plane', '--no-watch', '--print-config', '--log-format', '--help']);
  });
});

// ── Run mode: these start the real router (src/router.ts) ─────────────────────────────────────────────────────

interface LogLine {
  readonly msg?: string;
  readonly listener?: string;
  readonly port?: number;
  readonly problems?: string[];
  readonly [key: string]: unknown;
}

const LOG_WAIT_MS = 10_000;

/** Resolves with the first JSON log line on stdout for which `accept` is true. */
function waitForLog(run: ReturnType<typeof start>, accept: (line: LogLine) => boolean): Promise<LogLine> {
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      run.child.stdout?.off('data', onData);
      run.child.off('close', onClose);
      reject(new Error(`no such log line within ${LOG_WAIT_MS} ms; stdout: ${run.stdout()}; stderr: ${run.stderr()}`));
    }, LOG_WAIT_MS);
    const scan = (): boolean => {
      for (const text of run.stdout().split('\n')) {
        if (!text.startsWith('{')) continue;
        const line = JSON.parse(text) as LogLine;
        if (accept(line)) {
          clearTimeout(timer);
          run.child.stdout?.off('data', onData);
          run.child.off('close', onClose);
          resolvePromise(line);
          return true;
        }
      }
      return false;
    };
    const onData = (): void => {
      // The 'data' listener that fills run.stdout() was added first, so the text is already there.
      scan();
    };
    const onClose = (code: number | null): void => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before the log line; stderr: ${run.stderr()}; stdout: ${run.stdout()}`));
    };
    if (scan()) return;
    run.child.stdout?.on('data', onData);
    run.child.once('close', onClose);
  });
}

describe('run mode (needs the real router)', () => {
  it('starts, logs each listener with the port it got, and exits 0 on SIGTERM', async () => {
    const run = start(['-l', '127.0.0.1:0', '-d', '127.0.0.1:1']);
    const listening = await waitForLog(run, (line) => line.msg === 'listening');
    expect(listening).toMatchObject({ level: 'info', listener: '127.0.0.1:0', address: '127.0.0.1' });
    const port = listening.port ?? 0;
    expect(port).toBeGreaterThan(0);
    await waitForLog(run, (line) => line.msg === 'sni-router started');
    // It really listens there.
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    socket.destroy();
    run.child.kill('SIGTERM');
    const result = await run.outcome;
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('"msg":"shutting down"');
  });

  it("a quiet router's access line reaches stdout without waiting for more traffic", async () => {
    const run = start(['-l', '127.0.0.1:0', '-r', 'a.test=127.0.0.1:1']);
    const port = (await waitForLog(run, (line) => line.msg === 'listening')).port ?? 0;
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    socket.end('GET / HTTP/1.0\r\n\r\n');
    const access = await waitForLog(run, (line) => line.msg === 'connection closed');
    expect(access.reason).toBe('not_tls');
    run.child.kill('SIGTERM');
    expect((await run.outcome).code).toBe(0);
  });

  it('signal right after the first log line: exits 0 on SIGINT, not killed by it', async () => {
    // Regression: the CLI logged 'listening' and only then installed its signal handlers, so a supervisor that
    // signalled as soon as it read the line could kill the process outright (exit by signal, no clean close).
    // Handlers now go in before the first line is written.
    const run = start(['-l', '127.0.0.1:0', '-d', '127.0.0.1:1']);
    const signalOnFirstLine = (): void => {
      run.child.stdout?.off('data', signalOnFirstLine);
      run.child.kill('SIGINT'); // synchronously, in the very callback that delivers the line
    };
    run.child.stdout?.on('data', signalOnFirstLine);
    expect(await run.outcome).toMatchObject({ code: 0, signal: null });
  });

  it('exits 2 naming the address when the port is taken', async () => {
    const blocker = net.createServer();
    blocker.listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const { port } = blocker.address() as net.AddressInfo;
    try {
      const result = await cli('-l', `127.0.0.1:${port}`, '-d', '127.0.0.1:1');
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(new RegExp(`^sni-router: cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`));
    } finally {
      blocker.close();
    }
  });

  it('SIGHUP reloads the file; a broken file is logged and the running config kept', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sni-router-cli-'));
    const file = join(dir, 'config.yaml');
    copyFileSync(`${FIXTURES}/good-minimal.yaml`, file);
    const run = start(['-c', file, '-l', '127.0.0.1:0']);
    const port = (await waitForLog(run, (line) => line.msg === 'listening')).port ?? 0;

    writeFileSync(file, 'listen: ["127.0.0.1:8443"]\ndefault: [127.0.0.1:9443]\ntimeouts: { idle: 10 }\n');
    run.child.kill('SIGHUP');
    const rejected = await waitForLog(run, (line) => line.msg === 'reload rejected; keeping the running config');
    expect(rejected.problems).toEqual([`${file}:3:19: timeouts.idle is a bare number (10); give it a unit, such as 10s or 10ms`]);
    const stillThere = net.connect(port, '127.0.0.1');
    await once(stillThere, 'connect');
    stillThere.destroy();

    writeFileSync(file, 'listen: ["127.0.0.1:8443"]\ndefault: [127.0.0.1:9443]\nlog_level: debug\n');
    run.child.kill('SIGHUP');
    await waitForLog(run, (line) => line.msg === 'config reloaded');

    run.child.kill('SIGTERM');
    expect((await run.outcome).code).toBe(0);
  });
});
