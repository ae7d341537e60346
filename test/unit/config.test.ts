import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseBackendAddress, parseListenAddress } from '../../src/config/addresses.js';
import { describeConfig } from '../../src/config/describe.js';
import { formatDuration, parseDuration } from '../../src/config/durations.js';
import { type CliInput, type ConfigResult, formatProblem, loadConfig, type LoadOptions } from '../../src/config/load.js';
import { closestWord, editDistance } from '../../src/config/suggest.js';
import { type Config, DEFAULT_LIMITS, DEFAULT_SHUTDOWN_GRACE_MS, DEFAULT_TERMINATE, type PoolConfig } from '../../src/config/types.js';

const FIXTURES = 'fixtures/configs';
const FIXTURES_ABS = resolve(FIXTURES);
const CERT = `${FIXTURES}/certs/legacy.pem`;
const KEY = `${FIXTURES}/certs/legacy.key`;
/** A listen address in short form: no PROXY header accepted, no connection caps. */
const NO_LISTEN_CAPS = { acceptProxy: null, maxConnections: null, maxConnectionsPerClient: null, quic: false, http: null, httpsPort: null };

function mustLoad(input: CliInput, options?: LoadOptions): Config {
  const result = loadConfig(input, options);
  if (!result.ok) throw new Error(`expected a valid config:\n${result.problems.map(formatProblem).join('\n')}`);
  return result.config;
}

function problemLines(result: ConfigResult): string[] {
  if (result.ok) throw new Error('expected problems, got a valid config');
  return result.problems.map(formatProblem);
}

/**
 * The whole pool loadConfig builds from plain backend addresses: weight 1 each, passive health only, HTTP/1.1 to
 * the backends. Each backend is [host, port, label], the label written out as the access line shows it.
 */
function plainPool(
  backends: ReadonlyArray<readonly [host: string, port: number, label: string]>,
  proxyProtocol: PoolConfig['proxyProtocol'],
  balance: PoolConfig['balance'],
): PoolConfig {
  return { backends: backends.map(([host, port, label]) => ({ host, port, label, weight: 1 })), proxyProtocol, balance, health: null, protocol: 'http/1.1' };
}

function tempConfig(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'sni-router-config-'));
  const file = join(dir, 'config.yaml');
  writeFileSync(file, text);
  return file;
}

describe('fixtures/configs: every bad-*.yaml gives exactly the lines of its .expected file', () => {
  const bad = readdirSync(FIXTURES).filter((f) => f.startsWith('bad-') && f.endsWith('.yaml'));
  it('has fixtures', () => expect(bad.length).toBeGreaterThan(10));
  it.each(bad)('%s', (name) => {
    const expected = readFileSync(`${FIXTURES}/${name.replace(/\.yaml$/, '.expected')}`, 'utf8')
      .split('<fixtures>')
      .join(FIXTURES_ABS)
      .trimEnd()
      .split('\n');
    expect(problemLines(loadConfig({ configFile: `${FIXTURES}/${name}` }))).toEqual(expected);
  });
});

describe('fixtures/configs: every good-*.yaml loads', () => {
  const good = readdirSync(FIXTURES).filter((f) => f.startsWith('good-') && f.endsWith('.yaml'));
  it.each(good)('%s', (name) => {
    expect(loadConfig({ configFile: `${FIXTURES}/${name}` }).ok).toBe(true);
  });
  it('config/example.yaml loads too', () => {
    expect(loadConfig({ configFile: 'config/example.yaml' }).ok).toBe(true);
  });
});

describe('the resolved config of SPEC example (good-spec.yaml)', () => {
  const config = mustLoad({ configFile: `${FIXTURES}/good-spec.yaml` });

  it('has its listeners, defaults and timeouts', () => {
    expect(config.listen).toEqual([
      { host: '0.0.0.0', port: 443, label: '0.0.0.0:443', ipv6Only: false, ...NO_LISTEN_CAPS },
      { host: '::', port: 443, label: '[::]:443', ipv6Only: true, ...NO_LISTEN_CAPS },
    ]);
    expect(config.proxyProtocol).toBe('v2');
    expect(config.timeouts).toEqual({ clientHelloMs: 5_000, connectMs: 3_000, idleMs: 600_000 });
    expect(config.maxHelloBytes).toBe(65_536);
    expect(config.logLevel).toBe('info');
    expect(config.admin).toBeNull();
    expect(config.sourceFile).toBe(resolve(FIXTURES, 'good-spec.yaml'));
    // Resolved: what the file leaves out holds its default, and nothing was stated.
    expect(config.shutdownGraceMs).toBe(DEFAULT_SHUTDOWN_GRACE_MS);
    expect(config.workers).toBe(1);
    expect(config.limits).toEqual(DEFAULT_LIMITS);
    expect(config.stated).toEqual([]);
    expect(config.routes.map((r) => [r.alpn, r.fallback])).toEqual(config.routes.map(() => [[], null]));
  });

  it('keeps routes in file order with kind, pattern, pool and position', () => {
    expect(config.routes.map((r) => [r.name, r.kind, r.pattern])).toEqual([
      ['app.example.com', 'exact', 'app.example.com'],
      ['*.example.org', 'wildcard', '.example.org'],
      ['~^api-[0-9]+\\.example\\.net$', 'regex', '^api-[0-9]+\\.example\\.net$'],
      ['legacy.example.com', 'exact', 'legacy.example.com'],
    ]);
    const [app, org, , legacy] = config.routes;
    expect(app?.pool).toEqual(plainPool([['10.0.0.5', 8443, '10.0.0.5:8443'], ['10.0.0.6', 8443, '10.0.0.6:8443']], 'v2', 'round-robin'));
    expect(app?.source).toEqual({ file: `${FIXTURES}/good-spec.yaml`, line: 6, col: 3 });
    expect(org?.pool.proxyProtocol).toBe('none');
    expect(org?.pool.balance).toBe('least-conn');
    expect(legacy?.terminate).toEqual({ ...DEFAULT_TERMINATE, certFile: resolve(FIXTURES, 'certs/legacy.pem'), keyFile: resolve(FIXTURES, 'certs/legacy.key') });
    expect(config.defaultPool?.backends.map((b) => b.label)).toEqual(['10.0.9.9:443']);
  });

  it('is deep-frozen', () => {
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.listen)).toBe(true);
    expect(Object.isFrozen(config.routes[0]?.pool.backends[0])).toBe(true);
    expect(Object.isFrozen(config.timeouts)).toBe(true);
    expect(Object.isFrozen(config.routes[3]?.terminate)).toBe(true);
    expect(() => {
      (config.routes as unknown as object[]).push({});
    }).toThrow(TypeError);
    expect(() => {
      (config.timeouts as { idleMs: number }).idleMs = 1;
    }).toThrow(TypeError);
  });
});

describe('every accepted spelling (good-every-form.yaml)', () => {
  const config = mustLoad({ configFile: `${FIXTURES}/good-every-form.yaml` });

  it('reads every listen form', () => {
    expect(config.listen).toEqual([
      { host: '::', port: 8443, label: ':8443', ipv6Only: false, ...NO_LISTEN_CAPS },
      { host: '::', port: 9443, label: '[::]:9443', ipv6Only: true, ...NO_LISTEN_CAPS },
      { host: '0.0.0.0', port: 9443, label: '0.0.0.0:9443', ipv6Only: false, ...NO_LISTEN_CAPS },
      { host: '::1', port: 10443, label: '[::1]:10443', ipv6Only: true, ...NO_LISTEN_CAPS },
      { host: 'localhost', port: 0, label: 'localhost:0', ipv6Only: false, ...NO_LISTEN_CAPS },
    ]);
  });

  it('reads durations, sizes, log level and admin', () => {
    expect(config.timeouts).toEqual({ clientHelloMs: 500, connectMs: 1_500, idleMs: 3_600_000 });
    expect(config.maxHelloBytes).toBe(16_384);
    expect(config.logLevel).toBe('debug');
    expect(config.admin).toEqual({ host: '127.0.0.1', port: 9090, label: '127.0.0.1:9090', allowNonLoopback: false });
  });

  it('normalizes names, accepts one backend without a list, follows YAML aliases, inherits proxy_protocol', () => {
    expect(config.routes.map((r) => [r.kind, r.pattern, r.pool.proxyProtocol, r.pool.balance])).toEqual([
      ['exact', 'app.example.com', 'v1', 'round-robin'],
      ['wildcard', '.example.com', 'v1', 'source-hash'],
      ['wildcard', '.deep.example.com', 'none', 'random'],
      ['regex', '^api-[0-9]+\\.example\\.net$', 'v1', 'round-robin'],
      ['regex', '(?:www)www\\.example\\.io$', 'v1', 'round-robin'],
    ]);
    expect(config.routes[0]?.pool.backends).toEqual([{ host: 'backend-a.internal', port: 443, label: 'backend-a.internal:443', weight: 1 }]);
    expect(config.routes[2]?.pool.backends.map((b) => b.label)).toEqual(['[2001:db8::5]:443', '10.0.0.7:443']);
    expect(config.routes[2]?.pool.backends[0]?.host).toBe('2001:db8::5');
  });

  it('reads a long-form default', () => {
    expect(config.defaultPool).toEqual(plainPool([['10.0.9.9', 443, '10.0.9.9:443']], 'v2', 'least-conn'));
  });
});

describe('config file problems outside the fixtures', () => {
  it('a missing file is one problem naming it', () => {
    expect(problemLines(loadConfig({ configFile: 'no/such/file.yaml' }))).toEqual([
      'no/such/file.yaml: cannot read the config file: it does not exist',
    ]);
  });

  it('a folder is not a config file', () => {
    expect(problemLines(loadConfig({ configFile: FIXTURES }))).toEqual([`${FIXTURES}: cannot read the config file: it is a folder, not a file`]);
  });

  it('collects file and flag problems together, file ones first', () => {
    const file = tempConfig('listen: [":8443"]\ntimeouts: { idle: 5 }\ndefault: [10.0.0.1:443]\n');
    expect(problemLines(loadConfig({ configFile: file, logLevel: 'loud', listen: ['nope'] }))).toEqual([
      `${file}:2:19: timeouts.idle is a bare number (5); give it a unit, such as 5s or 5ms`,
      "<command line>: --listen 'nope' needs a port, as in 'nope:443'",
      "<command line>: --log-level must be fatal, error, warn, info, debug, trace or silent, not 'loud'",
    ]);
  });

  it('resolves terminate paths against the config file folder, not the working directory', () => {
    const config = mustLoad({ configFile: `${FIXTURES_ABS}/good-spec.yaml` }, { cwd: tmpdir() });
    expect(config.routes.find((r) => r.terminate !== null)?.terminate?.certFile).toBe(resolve(FIXTURES_ABS, 'certs/legacy.pem'));
  });

  it('routes reach the route table in file order, so regex precedence follows the file', () => {
    const file = tempConfig('listen: [":8443"]\nroutes:\n  "~b": [10.0.0.1:1]\n  "~a": [10.0.0.1:2]\n  x.test: [10.0.0.1:3]\n');
    expect(mustLoad({ configFile: file }).routes.map((r) => r.name)).toEqual(['~b', '~a', 'x.test']);
  });
});

describe('flags over the file', () => {
  const base = `${FIXTURES}/good-spec.yaml`;

  it('--listen replaces the file listen list', () => {
    const config = mustLoad({ configFile: base, listen: ['127.0.0.1:0', '[::1]:0'] });
    expect(config.listen.map((l) => l.label)).toEqual(['127.0.0.1:0', '[::1]:0']);
  });

  it("--route adds a route with the --proxy-protocol mode (default: the file's proxy_protocol)", () => {
    const config = mustLoad({ configFile: base, routes: ['new.example.com=127.0.0.1:1,127.0.0.1:2'] });
    const added = config.routes.at(-1);
    expect(added?.name).toBe('new.example.com');
    expect(added?.pool).toEqual(plainPool([['127.0.0.1', 1, '127.0.0.1:1'], ['127.0.0.1', 2, '127.0.0.1:2']], 'v2', 'round-robin'));
    expect(added?.source).toEqual({ file: '<command line>', line: 0, col: 0 });
    expect(mustLoad({ configFile: base, routes: ['n.test=127.0.0.1:1'], proxyProtocol: 'v1' }).routes.at(-1)?.pool.proxyProtocol).toBe('v1');
  });

  it('--proxy-protocol leaves the pools of the file alone', () => {
    const config = mustLoad({ configFile: base, proxyProtocol: 'v1' });
    expect(config.routes.map((r) => r.pool.proxyProtocol)).toEqual(['v2', 'none', 'v2', 'v2']);
    expect(config.proxyProtocol).toBe('v2');
  });

  it('--route with the name of a file route wins, in the file route place', () => {
    const config = mustLoad({ configFile: base, routes: ['APP.example.com.=127.0.0.1:7'] });
    expect(config.routes.map((r) => r.pattern)).toEqual(['app.example.com', '.example.org', '^api-[0-9]+\\.example\\.net$', 'legacy.example.com']);
    expect(config.routes[0]?.pool.backends.map((b) => b.label)).toEqual(['127.0.0.1:7']);
    expect(config.routes[0]?.pool.proxyProtocol).toBe('v2');
  });

  it("--route splits at the last '=', so a regex may hold one", () => {
    const config = mustLoad({ listen: [':0'], routes: ['~^[=a]pi\\.test$=127.0.0.1:1'] });
    expect(config.routes[0]?.pattern).toBe('^[=a]pi\\.test$');
  });

  it('--default replaces the default pool', () => {
    const config = mustLoad({ configFile: base, defaultBackends: '127.0.0.1:9,[::1]:9' });
    expect(config.defaultPool).toEqual(plainPool([['127.0.0.1', 9, '127.0.0.1:9'], ['::1', 9, '[::1]:9']], 'v2', 'round-robin'));
  });

  it('--terminate marks a file route or a flag route, with --cert/--key resolved against the working directory', () => {
    const config = mustLoad({
      configFile: base,
      routes: ['t.test=127.0.0.1:1'],
      terminate: ['app.example.com', 'T.test'],
      cert: CERT,
      key: KEY,
    });
    const terminate = { ...DEFAULT_TERMINATE, certFile: resolve(CERT), keyFile: resolve(KEY) };
    expect(config.routes.find((r) => r.name === 'app.example.com')?.terminate).toEqual(terminate);
    expect(config.routes.find((r) => r.name === 't.test')?.terminate).toEqual(terminate);
    const fromElsewhere = mustLoad(
      { listen: [':0'], routes: ['a.test=127.0.0.1:1'], terminate: ['a.test'], cert: 'certs/legacy.pem', key: 'certs/legacy.key' },
      { cwd: FIXTURES_ABS },
    );
    expect(fromElsewhere.routes[0]?.terminate).toEqual(terminate);
  });

  it('--log-level and --admin replace the file ones', () => {
    const config = mustLoad({ configFile: `${FIXTURES}/good-every-form.yaml`, logLevel: 'warn', admin: '[::1]:9191' });
    expect(config.logLevel).toBe('warn');
    expect(config.admin).toEqual({ host: '::1', port: 9191, label: '[::1]:9191', allowNonLoopback: false });
  });

  it('quick mode: flags alone make a config, pools default to no PROXY header', () => {
    const config = mustLoad({ listen: ['127.0.0.1:0'], routes: ['*.test=127.0.0.1:1'] });
    expect(config.sourceFile).toBeNull();
    expect(config.proxyProtocol).toBe('none');
    expect(config.routes[0]?.pool.proxyProtocol).toBe('none');
    expect(config.defaultPool).toBeNull();
    expect(config.timeouts).toEqual({ clientHelloMs: 5_000, connectMs: 3_000, idleMs: 600_000 });
    expect(Object.isFrozen(config.routes[0]?.pool)).toBe(true);
  });

  it.each<[string, CliInput, string[]]>([
    ['nothing at all', {}, [
      '<command line>: nothing to listen on: give --listen ADDR, or a config file with -c',
      '<command line>: nothing to route, so every connection would be closed: give --route NAME=BACKENDS or --default BACKENDS',
    ]],
    ['no route or default', { listen: [':0'] }, [
      '<command line>: nothing to route, so every connection would be closed: give --route NAME=BACKENDS or --default BACKENDS',
    ]],
    ['no listen', { defaultBackends: '127.0.0.1:1' }, ['<command line>: nothing to listen on: give --listen ADDR, or a config file with -c']],
    ['bad --proxy-protocol', { listen: [':0'], defaultBackends: '127.0.0.1:1', proxyProtocol: 'V1' }, [
      "<command line>: --proxy-protocol must be v2, v1 or none, not 'V1'; did you mean 'v1'?",
    ]],
    ['bad --route forms', { listen: [':0'], routes: ['app.test', '=1.2.3.4:1', 'a b=1.2.3.4:1', 'x.test=', 'y.test=1.2.3.4', 'z.test=1.2.3.4:1,1.2.3.4:1'] }, [
      "<command line>: --route 'app.test' must be NAME=BACKENDS, as in 'app.example.com=10.0.0.5:8443,10.0.0.6:8443'",
      "<command line>: --route '=1.2.3.4:1' must be NAME=BACKENDS, as in 'app.example.com=10.0.0.5:8443,10.0.0.6:8443'",
      "<command line>: --route 'a b' is not a host name: it contains a space; only letters, digits, '-', '_' and dots are allowed",
      "<command line>: --route 'x.test' has no backends",
      "<command line>: --route 'y.test': backend '1.2.3.4' needs a port, as in '1.2.3.4:443'",
      "<command line>: --route 'z.test' lists backend '1.2.3.4:1' twice",
    ]],
    ['the same --route twice', { listen: [':0'], routes: ['a.test=1.2.3.4:1', 'A.TEST=1.2.3.4:2'] }, ["<command line>: --route 'A.TEST' is given twice"]],
    ['bad --listen and --default', { listen: [':0', ':0', '1.2.3.4'], defaultBackends: ',' }, [
      "<command line>: --listen ':0' is given twice",
      "<command line>: --listen '1.2.3.4' needs a port, as in '1.2.3.4:443'",
      '<command line>: --default has no backends',
    ]],
    ['--terminate without --cert/--key', { listen: [':0'], routes: ['a.test=1.2.3.4:1'], terminate: ['a.test'] }, [
      '<command line>: --terminate needs --cert as well',
      '<command line>: --terminate needs --key as well',
    ]],
    ['--terminate of no route', { listen: [':0'], routes: ['api.test=1.2.3.4:1'], terminate: ['apl.test'], cert: CERT, key: KEY }, [
      "<command line>: --terminate 'apl.test' names no route; did you mean 'api.test'?",
    ]],
    ['--cert that cannot be read', { listen: [':0'], routes: ['a.test=1.2.3.4:1'], terminate: ['a.test'], cert: 'missing.pem', key: KEY }, [
      "<command line>: --cert 'missing.pem' cannot be read: it does not exist",
    ]],
    ['--cert without --terminate', { listen: [':0'], defaultBackends: '1.2.3.4:1', cert: CERT }, [
      '<command line>: --cert and --key are only used with --terminate NAME',
    ]],
    ['bad --log-level and --admin', { listen: [':0'], defaultBackends: '1.2.3.4:1', logLevel: 'warning', admin: '::1:9000' }, [
      "<command line>: --log-level must be fatal, error, warn, info, debug, trace or silent, not 'warning'; did you mean 'warn'?",
      "<command line>: --admin '::1:9000' needs brackets around an IPv6 address, as in '[::1]:8443'",
    ]],
  ])('%s', (_name, input, expected) => {
    expect(problemLines(loadConfig(input))).toEqual(expected);
  });

  it('a file with no listen is fine when --listen gives one', () => {
    expect(loadConfig({ configFile: `${FIXTURES}/bad-empty.yaml`, listen: [':0'], defaultBackends: '127.0.0.1:1' }).ok).toBe(true);
  });
});

describe('parseDuration', () => {
  it.each<[unknown, number]>([
    ['500ms', 500],
    ['5s', 5_000],
    ['1.5s', 1_500],
    ['1.1s', 1_100],
    ['10m', 600_000],
    ['1h', 3_600_000],
    ['24h', 86_400_000],
    [' 3s ', 3_000],
  ])('%j → %i ms', (text, ms) => {
    expect(parseDuration(text)).toEqual({ ok: true, ms });
  });

  it.each<[unknown, string]>([
    [5, 'is a bare number (5); give it a unit, such as 5s or 5ms'],
    ['5', "must be a duration such as 500ms, 5s, 10m or 1h, not '5'"],
    ['5 s', "must be a duration such as 500ms, 5s, 10m or 1h, not '5 s'"],
    ['5S', "must be a duration such as 500ms, 5s, 10m or 1h, not '5S'"],
    ['1d', "must be a duration such as 500ms, 5s, 10m or 1h, not '1d'"],
    ['1m30s', "must be a duration such as 500ms, 5s, 10m or 1h, not '1m30s'"],
    ['-1s', "must be a duration such as 500ms, 5s, 10m or 1h, not '-1s'"],
    ['0s', 'must be longer than zero'],
    ['0.5ms', "must be a whole number of milliseconds, not '0.5ms'"],
    ['597h', 'is longer than the longest timer Node.js allows (about 24 days)'],
    [null, 'must be a duration such as 500ms, 5s, 10m or 1h'],
  ])('%j is refused', (value, reason) => {
    expect(parseDuration(value)).toEqual({ ok: false, reason });
  });

  it.each<[number, string]>([
    [500, '500ms'],
    [1_500, '1500ms'],
    [5_000, '5s'],
    [90_000, '90s'],
    [600_000, '10m'],
    [3_600_000, '1h'],
  ])('formatDuration(%i) is %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
    expect(parseDuration(text)).toEqual({ ok: true, ms });
  });
});

describe('addresses', () => {
  it.each<[string, string, number, string]>([
    ['10.0.0.5:8443', '10.0.0.5', 8443, '10.0.0.5:8443'],
    ['[::1]:8443', '::1', 8443, '[::1]:8443'],
    ['[2001:DB8::1]:443', '2001:db8::1', 443, '[2001:db8::1]:443'],
    ['Backend.Internal:443', 'backend.internal', 443, 'backend.internal:443'],
    ['backend_1.internal.:1', 'backend_1.internal.', 1, 'backend_1.internal.:1'],
    ['localhost:65535', 'localhost', 65_535, 'localhost:65535'],
  ])('backend %s', (text, host, port, label) => {
    expect(parseBackendAddress(text)).toEqual({ ok: true, value: { host, port, label } });
  });

  it.each<[string, string]>([
    ['', 'is empty'],
    ['10.0.0.5', "needs a port, as in '10.0.0.5:443'"],
    ['10.0.0.5:', "needs a port after the ':', as in '10.0.0.5:443'"],
    [':443', "needs a host before the ':', as in '10.0.0.5:443'"],
    ['::1:443', "needs brackets around an IPv6 address, as in '[::1]:8443'"],
    ['[::1]', "needs a port, as in '[::1]:443'"],
    ['[::1:443', "has a '[' without a closing ']'"],
    ['[::1]x:443', "must have ':port' right after the ']'"],
    ['[example.com]:443', "has '[example.com]', but brackets are only for IPv6 addresses"],
    ['10.0.0.5:0', 'has port 0, outside 1–65535'],
    ['10.0.0.5:65536', 'has port 65536, outside 1–65535'],
    ['10.0.0.5:123456', "has port '123456', which is not a number from 1 to 65535"],
    ['10.0.0.5:-1', "has port '-1', which is not a number from 1 to 65535"],
    ['10.0.0.300:1', "has '10.0.0.300', which is not a valid IPv4 address"],
    ['a/b:1', "has host 'a/b', which is not a host name or IP address: it contains '/'; only letters, digits, '-', '_' and dots are allowed"],
  ])('backend %j is refused', (text, reason) => {
    expect(parseBackendAddress(text)).toEqual({ ok: false, reason });
  });

  it.each<[string, string, number, boolean]>([
    [':8443', '::', 8443, false],
    ['[::]:443', '::', 443, true],
    ['0.0.0.0:443', '0.0.0.0', 443, false],
    ['127.0.0.1:0', '127.0.0.1', 0, false],
    ['[::1]:8443', '::1', 8443, true],
  ])('listen %s', (text, host, port, ipv6Only) => {
    expect(parseListenAddress(text)).toEqual({ ok: true, value: { host, port, label: text, ipv6Only } });
  });

  it('listen refuses what a backend refuses, bar the empty host and port 0', () => {
    expect(parseListenAddress(':65536')).toEqual({ ok: false, reason: 'has port 65536, outside 0–65535' });
    expect(parseListenAddress('8443')).toEqual({ ok: false, reason: "needs a port, as in '8443:443'" });
  });
});

describe('did you mean', () => {
  it.each<[string, string, number]>([
    ['listen', 'listen', 0],
    ['listn', 'listen', 1],
    ['kitten', 'sitting', 3],
    ['', 'abc', 3],
  ])('editDistance(%j, %j) is %i', (a, b, distance) => {
    expect(editDistance(a, b)).toBe(distance);
    expect(editDistance(b, a)).toBe(distance);
  });

  it.each<[string, string | null]>([
    ['listn', 'listen'],
    ['Listen', 'listen'],
    ['proxy-protocol', 'proxy_protocol'],
    ['default_pool', 'default'],
    ['rout', 'routes'],
    ['zzz', null],
  ])('closestWord(%j) is %j', (word, expected) => {
    expect(closestWord(word, ['listen', 'proxy_protocol', 'default', 'routes'])).toBe(expected);
  });
});

describe('describeConfig', () => {
  it('prints settings, routes in precedence order, and the default', () => {
    const config = mustLoad({ configFile: `${FIXTURES}/good-every-form.yaml` });
    expect(describeConfig(config).split('\n')).toEqual([
      'listen           :8443  (every IPv4 and IPv6 address)',
      '                 [::]:9443  (every IPv6 address, IPv6 only)',
      '                 0.0.0.0:9443  (every IPv4 address)',
      '                 [::1]:10443',
      '                 localhost:0',
      'proxy_protocol   v1 (pools that do not set their own)',
      'timeouts         client_hello 500ms, connect 1500ms, idle 1h',
      'max_hello_bytes  16384',
      'log_level        debug',
      'admin            127.0.0.1:9090',
      '',
      'routes, in the order a lookup tries them:',
      '  #  kind      name                         backends                         proxy  balance      from     terminate',
      '  1  exact     App.Example.COM.             backend-a.internal:443           v1     round-robin  line 17  -',
      '  2  wildcard  *.deep.example.com           [2001:db8::5]:443, 10.0.0.7:443  none   random       line 21  -',
      '  3  wildcard  *.Example.com                [2001:db8::5]:443, 10.0.0.7:443  v1     source-hash  line 18  -',
      '  4  regex     ~^api-[0-9]+\\.example\\.net$  10.0.2.5:443                     v1     round-robin  line 25  -',
      '  5  regex     ~(?:www)www\\.example\\.io$    10.0.2.6:443                     v1     round-robin  line 26  -',
      '  -  default   (anything else)              10.0.9.9:443                     v2     least-conn   -        -',
    ]);
  });
});
