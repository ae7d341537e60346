import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classifyRouteName, orderByPrecedence } from '../../src/config/route-grammar.js';
import type { PoolConfig, RouteConfig } from '../../src/config/types.js';
import { describeHostNameProblem, normalizeServerName } from '../../src/wire/host-name.js';
import { type RouteMatch, RouteTable } from '../../src/routing/route-table.js';

function pool(label: string): PoolConfig {
  const [host = '', port = '0'] = label.split(':');
  return { backends: [{ host, port: Number(port), label, weight: 1 }], proxyProtocol: 'none', balance: 'round-robin', health: null, protocol: 'http/1.1' };
}

/** A route as the config loader would build it from its name. */
function route(name: string, backend = '127.0.0.1:1'): RouteConfig {
  const classified = classifyRouteName(name);
  if (!classified.ok) throw new Error(`bad route name in test: ${name}`);
  return { name, kind: classified.kind, pattern: classified.pattern, pool: pool(backend), terminate: null, source: null, alpn: [], fallback: null, quicBackends: null };
}

const DEFAULT_POOL = pool('127.0.0.1:9999');

/** What a lookup chose, as 'how name' ('exact app.example.com', 'default', or null). */
function chosen(match: RouteMatch | null): string | null {
  if (match === null) return null;
  return match.route === null ? match.how : `${match.how} ${match.route.name}`;
}

/** Raw bytes as a hello parser decoding latin1 would hand them over. */
const latin1 = (bytes: number[]): string => Buffer.from(bytes).toString('latin1');

describe('normalizeServerName', () => {
  const label63 = 'a'.repeat(63);
  const name253 = `${'a'.repeat(61)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}`;

  it.each<[string, string]>([
    ['example.com', 'example.com'],
    ['Example.COM', 'example.com'],
    ['example.com.', 'example.com'],
    ['EXAMPLE.com.', 'example.com'],
    ['a', 'a'],
    ['a.', 'a'],
    ['xn--bcher-kva.example', 'xn--bcher-kva.example'],
    ['_acme-challenge.example.com', '_acme-challenge.example.com'],
    ['-leading-hyphen.example', '-leading-hyphen.example'],
    ['10.0.0.1', '10.0.0.1'],
    [`${label63}.example`, `${label63}.example`],
    [name253, name253],
    [`${name253}.`, name253],
  ])('%j → %j', (raw, expected) => {
    expect(name253.length).toBe(253);
    expect(normalizeServerName(raw)).toBe(expected);
  });

  it.each<[string, string]>([
    ['empty', ''],
    ['a lone dot', '.'],
    ['two trailing dots', 'example.com..'],
    ['a leading dot', '.example.com'],
    ['an empty label', 'a..example.com'],
    ['a NUL byte', 'example.com\0'],
    ['a NUL in the middle', 'evil.com\0.example.com'],
    ['a space', 'exa mple.com'],
    ['a tab', 'example.com\t'],
    ['a slash', 'example.com/path'],
    ['a backslash', 'example\\.com'],
    ['a colon (port)', 'example.com:443'],
    ['a star', '*.example.com'],
    ['raw UTF-8 decoded as latin1', latin1([0x62, 0xc3, 0xbc, 0x63, 0x68, 0x65, 0x72, 0x2e, 0x64, 0x65])],
    ['a non-ASCII character', 'bücher.de'],
    ['a 64-byte label', `${'a'.repeat(64)}.example`],
    ['a 254-byte name', `${name253}x`],
    ['a 254-byte name with a trailing dot after 253', `${name253}x.`],
    ['DEL', 'example\u007f.com'],
  ])('%s → null', (_what, raw) => {
    expect(normalizeServerName(raw)).toBeNull();
  });

  it('says why for every name it refuses, and only for those (describeHostNameProblem agrees)', () => {
    const hostish = fc.stringMatching(/^[a-zA-Z0-9._*\- \/\u0000é-]{0,80}$/);
    fc.assert(
      fc.property(fc.oneof(hostish, fc.string({ maxLength: 300 })), (raw) => {
        expect(normalizeServerName(raw) === null).toBe(describeHostNameProblem(raw) !== null);
      }),
      { numRuns: 2_000 },
    );
  });

  it('returns the very string it was given when that is already canonical (no allocation)', () => {
    const name = 'app.example.com';
    expect(normalizeServerName(name)).toBe(name);
  });
});

describe('RouteTable precedence', () => {
  const table = RouteTable.compile(
    [
      route('~^app\\.example\\.com$'), // a regex that would match an exact name: exact still wins
      route('~^api-[0-9]+\\.example\\.net$'),
      route('~example\\.io$'), // unanchored; listed before the next, which also matches a.example.io
      route('~^a'),
      route('~^BIG-'), // regexes match case-insensitively
      route('*.example.com'),
      route('*.a.example.com'),
      route('*.example.org'),
      route('app.example.com'),
      route('App.Example.org.'),
      route('x.a.example.com'),
    ],
    DEFAULT_POOL,
  );

  it.each<[string | null, string | null]>([
    // exact beats everything
    ['app.example.com', 'exact app.example.com'],
    ['APP.example.COM.', 'exact app.example.com'],
    ['app.example.org', 'exact App.Example.org.'],
    ['x.a.example.com', 'exact x.a.example.com'],
    // the longest matching wildcard wins
    ['y.a.example.com', 'wildcard *.a.example.com'],
    ['z.y.a.example.com', 'wildcard *.a.example.com'],
    ['b.example.com', 'wildcard *.example.com'],
    ['a.b.c.example.com', 'wildcard *.example.com'],
    ['WWW.Example.Org.', 'wildcard *.example.org'],
    // a wildcard needs at least one label in front
    ['example.com', 'default'],
    ['a.example.com', 'wildcard *.example.com'],
    ['xexample.com', 'default'],
    // regexes in order, on the normalized name
    ['api-7.example.net', 'regex ~^api-[0-9]+\\.example\\.net$'],
    ['API-7.EXAMPLE.NET.', 'regex ~^api-[0-9]+\\.example\\.net$'],
    ['api-x.example.net', 'regex ~^a'],
    ['a.example.io', 'regex ~example\\.io$'],
    ['big-thing.test', 'regex ~^BIG-'],
    // wildcards beat regexes
    ['api-7.example.com', 'wildcard *.example.com'],
    // default for no match, no SNI, and names that are not host names
    ['nothing.test', 'default'],
    [null, 'default'],
    ['', 'default'],
    ['app.example.com\0', 'default'],
    ['app example.com', 'default'],
    ['app.example.com/x', 'default'],
    ['*.example.com', 'default'],
    ['a..example.com', 'default'],
    [`${'a'.repeat(64)}.example.com`, 'default'],
    [latin1([0xc3, 0xa4, 0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x63, 0x6f, 0x6d]), 'default'],
  ])('%j → %s', (sni, expected) => {
    expect(chosen(table.lookup(sni))).toBe(expected);
  });

  it('hands back the pool of the matched route, or the default pool', () => {
    const t = RouteTable.compile([route('a.test', '10.0.0.1:1')], DEFAULT_POOL);
    expect(t.lookup('a.test')?.pool.backends[0]?.label).toBe('10.0.0.1:1');
    expect(t.lookup('b.test')?.pool).toBe(DEFAULT_POOL);
    expect(t.lookup('b.test')?.route).toBeNull();
  });

  it('returns null when nothing matches and there is no default', () => {
    const t = RouteTable.compile([route('a.test'), route('*.b.test'), route('~^c')], null);
    expect(chosen(t.lookup('z.test'))).toBeNull();
    expect(chosen(t.lookup(null))).toBeNull();
    expect(chosen(t.lookup('bad name'))).toBeNull();
    expect(chosen(t.lookup('x.b.test'))).toBe('wildcard *.b.test');
  });

  it('an empty table sends everything to the default', () => {
    expect(chosen(RouteTable.compile([], DEFAULT_POOL).lookup('a.test'))).toBe('default');
    expect(RouteTable.compile([], null).lookup('a.test')).toBeNull();
  });

  it('the first of two routes with one name wins', () => {
    const t = RouteTable.compile([route('a.test', '10.0.0.1:1'), route('A.test', '10.0.0.2:1')], null);
    expect(t.lookup('a.test')?.route?.name).toBe('a.test');
  });
});

/**
 * Property: for random lists of `~atom` regex routes and random names drawn from `namePattern`, lookup picks the
 * route a plain first-match scan picks, with V8's own `i` flag as the oracle for case folding.
 */
function expectFirstMatchScan(atoms: readonly string[], namePattern: RegExp): void {
  fc.assert(
    fc.property(
      fc.array(fc.constantFrom(...atoms), { minLength: 1, maxLength: 12 }),
      fc.array(fc.stringMatching(namePattern), { minLength: 1, maxLength: 20 }),
      (sources, names) => {
        const routes = sources.map((source, index) => route(`~${source}`, `127.0.0.1:${index + 1}`));
        const t = RouteTable.compile(routes, DEFAULT_POOL);
        for (const name of names) {
          const normalized = normalizeServerName(name);
          const expected = normalized === null ? null : routes.find((r) => new RegExp(r.pattern, 'i').test(normalized));
          expect(t.lookup(name)?.route ?? null).toBe(expected ?? null);
        }
      },
    ),
    { numRuns: 300 },
  );
}

describe('RouteTable regexes', () => {
  it('the first regex in file order wins even when a later one matches earlier in the name', () => {
    // Joined as one alternation, '^ab' would match at offset 0 before 'b\.test$' matches at offset 1; the
    // lookup must still answer with the first regex of the file.
    const t = RouteTable.compile([route('~b\\.test$'), route('~^ab'), route('~^zz')], DEFAULT_POOL);
    expect(chosen(t.lookup('ab.test'))).toBe('regex ~b\\.test$');
    expect(chosen(t.lookup('abc.test2'))).toBe('regex ~^ab');
  });

  it('regexes with backreferences or lookaround are refused: the linear-time engine cannot run them', () => {
    // Route regexes now run on V8's linear-time engine (no backtracking, so no hostile name can stall the
    // router); it has no backreferences or lookaround, so such a route is refused at load with why.
    for (const name of ['~^(b)\\1\\.test$', '~^(?<x>c)\\k<x>', '~(?<=a)b', '~^a(?!b)']) {
      const classified = classifyRouteName(name);
      expect(classified.ok, name).toBe(false);
      if (!classified.ok) expect(classified.reason, name).toMatch(/cannot be run in linear time: it uses (a backreference|lookahead or lookbehind)/);
    }
  });

  it('named groups with the same name in two regexes still work', () => {
    const t = RouteTable.compile([route('~^(?<n>a)1'), route('~^(?<n>b)2')], DEFAULT_POOL);
    expect(chosen(t.lookup('b2.test'))).toBe('regex ~^(?<n>b)2');
  });

  it('regex lookups leave no state behind (no g or y flag)', () => {
    const t = RouteTable.compile([route('~test$')], null);
    for (let i = 0; i < 3; i++) expect(chosen(t.lookup('a.test'))).toBe('regex ~test$');
  });

  it('agrees with a plain first-match scan on arbitrary names and regex lists', () => {
    // Upper-case atoms check the case folding (route-regex.ts) against V8's own `i` flag, the oracle in expectFirstMatchScan.
    expectFirstMatchScan(['^a', 'b', 'c$', '\\.', '^[a-c]+\\.test$', 'a.c', '(?:ab|ba)', 'x?y', '^.{3}$', '[0-9]', '^A', 'B', '[A-C]+$', '[^B]', '\\x41', '^ab', '^a\\.', '^x|y', 'Y$', '[b-]', '^[^A-Z]+$', '^A\\.B', '\\X'], /^[abcxy0-9.]{1,8}$/);
  });

  it('agrees with a plain first-match scan when every regex is anchored with a literal prefix (the prefix Map)', () => {
    expectFirstMatchScan(['^a', '^ab', '^a\\.', '^b.*c$', '^A[bc]', '^ab?c', '^a+b', '^0', '^xy$', '^X\\.y', '^abc|^b'], /^[abcxy0.]{1,8}$/);
  });
});

describe('orderByPrecedence', () => {
  it('exact names, then wildcards most specific first, then regexes in file order', () => {
    const routes = [route('~z'), route('*.example.com'), route('b.test'), route('~a'), route('*.x.example.com'), route('a.test'), route('*.org')];
    expect(orderByPrecedence(routes).map((r) => r.name)).toEqual(['b.test', 'a.test', '*.x.example.com', '*.example.com', '*.org', '~z', '~a']);
  });
});

// Lookup speed is measured by `node bench/micro.js` (ns per lookup for each of these kinds), not asserted here: a
// timed assertion fails on a loaded machine and proves nothing there. This checks the same big table routes right.
describe('RouteTable at scale', () => {
  it('routes every kind right with 10,000 exact names, 1,000 wildcards and 50 regexes', () => {
    const routes: RouteConfig[] = [];
    for (let i = 0; i < 10_000; i++) routes.push(route(`host-${i}.example.com`));
    for (let i = 0; i < 1_000; i++) routes.push(route(`*.zone-${i}.example.net`));
    for (let i = 0; i < 50; i++) routes.push(route(`~^api-${i}-[0-9]+\\.example\\.org$`));
    const table = RouteTable.compile(routes, DEFAULT_POOL);
    // Flat strings, as a hello parser produces them (template literals would give rope strings).
    const names = (make: (i: number) => string): string[] => Array.from({ length: 64 }, (_, i) => Buffer.from(make((i * 151) % 1_000)).toString('latin1'));
    const cases: [string, string[], RouteMatch['how']][] = [
      ['exact hit', names((i) => `host-${i * 7}.example.com`), 'exact'],
      ['exact hit, upper case + trailing dot', names((i) => `HOST-${i * 7}.Example.COM.`), 'exact'],
      ['wildcard hit, 1 label in front', names((i) => `www.zone-${i}.example.net`), 'wildcard'],
      ['wildcard hit, 3 labels in front', names((i) => `a.b.c.zone-${i}.example.net`), 'wildcard'],
      ['regex hit, last of 50', names((i) => `api-49-${i}.example.org`), 'regex'],
      ['miss: every map and regex, then default', names((i) => `nothing-${i}.example.io`), 'default'],
      ['not a host name', names((i) => `bad name ${i}`), 'default'],
    ];
    for (const [, sample, how] of cases) {
      for (const name of sample) expect(table.lookup(name)?.how).toBe(how);
    }
  });
});

describe('RouteTable: ALPN pools', () => {
  const app = route('app.example.com', '10.0.0.1:443');
  const withAlpn: RouteConfig = {
    ...app,
    alpn: [
      { protocol: 'acme-tls/1', pool: pool('127.0.0.1:9400') },
      { protocol: 'h2', pool: pool('10.0.0.2:443') },
    ],
    fallback: pool('10.0.9.9:443'),
  };
  const wildcard: RouteConfig = { ...route('*.example.com', '10.0.1.1:443'), alpn: [{ protocol: 'acme-tls/1', pool: pool('127.0.0.1:9401') }] };
  const table = RouteTable.compile([withAlpn, wildcard], DEFAULT_POOL);
  const backendOf = (match: RouteMatch | null): string | undefined => match?.pool.backends[0]?.label;

  it.each<[string, readonly string[], string, string | null]>([
    ['app.example.com', ['acme-tls/1'], '127.0.0.1:9400', 'acme-tls/1'],
    ['app.example.com', ['h2', 'http/1.1'], '10.0.0.2:443', 'h2'],
    ['app.example.com', ['http/1.1'], '10.0.0.1:443', null],
    ['app.example.com', [], '10.0.0.1:443', null],
    // The first ALPN pool in file order that the client offers wins, whatever the client's order.
    ['app.example.com', ['h2', 'acme-tls/1'], '127.0.0.1:9400', 'acme-tls/1'],
    ['x.example.com', ['acme-tls/1'], '127.0.0.1:9401', 'acme-tls/1'],
    ['x.example.com', ['h2'], '10.0.1.1:443', null],
    ['other.test', ['acme-tls/1'], '127.0.0.1:9999', null],
  ])('%s offering %j → %s', (name, offered, backend, alpn) => {
    const match = table.lookup(name, offered);
    expect(backendOf(match)).toBe(backend);
    expect(match?.alpn ?? null).toBe(alpn);
  });

  it('carries the route name and its fallback pool on ALPN matches too', () => {
    const match = table.lookup('APP.example.com.', ['acme-tls/1']);
    expect(chosen(match)).toBe('exact app.example.com');
    expect(match?.fallback?.backends[0]?.label).toBe('10.0.9.9:443');
    expect(table.lookup('app.example.com')).toBe(table.lookup('app.example.com', ['nothing']));
  });
});
