/**
 * Route regexes on V8's linear-time engine (src/route-regex.ts), and what hostile input costs the parts that
 * compile, check and explain them. Pure parts; the router-level proofs are in regex-routes.int.test.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { describeConfig } from '../../src/config/describe.js';
import { formatProblem, loadConfig } from '../../src/config/load.js';
import { classifyRouteName } from '../../src/config/route-names.js';
import { closestWord } from '../../src/config/suggest.js';
import type { Config, PoolConfig, RouteConfig } from '../../src/config/types.js';
import { explainRoute, formatExplanation } from '../../src/routing/explain.js';
import { compileRouteRegex, HAS_LINEAR_ENGINE, MAX_REGEX_ROUTES, MAX_UNANCHORED_REGEX_TOTAL_LENGTH } from '../../src/config/route-regex.js';
import { RouteTable } from '../../src/routing/route-table.js';

const POOL: PoolConfig = { backends: [{ host: '127.0.0.1', port: 1, label: '127.0.0.1:1' }], proxyProtocol: 'none', balance: 'round-robin' };

function route(name: string): RouteConfig {
  const classified = classifyRouteName(name);
  if (!classified.ok) throw new Error(`bad route name in test: ${name}: ${classified.reason}`);
  return { name, kind: classified.kind, pattern: classified.pattern, pool: POOL, terminate: null, source: null };
}

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
function writeConfig(text: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'sni-router-regex-unit-'));
  dirs.push(dir);
  const file = path.join(dir, 'router.yaml');
  writeFileSync(file, text);
  return file;
}

describe('compileRouteRegex', () => {
  it('has the linear-time engine on this Node.js (else every regex route is refused)', () => {
    expect(HAS_LINEAR_ENGINE).toBe(true);
    const compiled = compileRouteRegex('^(a+)+$');
    expect(compiled.ok && compiled.regex.flags).toBe('l');
  });

  // Case folding stands in for the `i` flag the engine lacks: on lower-case names it must answer as `i` would.
  it.each<[string, string[]]>([
    ['^API-[0-9]+\\.Example\\.NET$', ['api-7.example.net', 'api-.example.net', 'apx-7.example.net']],
    ['^[A-Z]+$', ['abc', 'abc1', '_']],
    ['^[A-z]+$', ['abc', '_', 'a^b']],
    ['^[^A-Z]+$', ['abc', '123', '1-2']],
    ['^[^a-z]+$', ['abc', '123']],
    ['^\\x41\\u0042c$', ['abc', 'xbc']],
    ['^[\\x41-\\x43]$', ['b', 'd']],
    ['^[A-]$', ['a', '-', 'b']],
    ['^\\W\\D\\S$', ['---', 'a1a', '...']],
    ['^(?<Host>WWW)\\.x$', ['www.x', 'ww.x']],
    ['^\\P\\K$', ['pk', 'p']],
  ])('%s matches lower-case names exactly as with the i flag', (source, names) => {
    const compiled = compileRouteRegex(source);
    expect(compiled.ok).toBe(true);
    if (!compiled.ok) return;
    const oracle = new RegExp(source, 'i');
    for (const name of names) expect(compiled.regex.test(name), name).toBe(oracle.test(name));
  });
});

describe('hostile server names cost bounded work', () => {
  const table = RouteTable.compile([route('exact.test'), route('*.wild.test'), route('~^(a+)+$'), route('~(x+x+)+y')], POOL);

  it('a 64 KiB name, 32,768 labels and odd bytes go to the default pool without touching a regex', () => {
    const names = ['a'.repeat(64 * 1024), 'a.'.repeat(32 * 1024), '\u0000'.repeat(1000), 'ÿ'.repeat(300), `${'a'.repeat(63)}.`.repeat(4)];
    for (const name of names) expect(table.lookup(name)?.how).toBe('default');
  });

  it('names of every length up to 253 against nested quantifiers are answered (1,000 lookups)', () => {
    let answered = 0;
    for (let length = 1; length <= 250; length++) {
      for (const name of [`${'a'.repeat(length)}b`, `${'x'.repeat(length)}`, `${'a'.repeat(length)}`, `${'x'.repeat(length)}z`]) {
        if (name.length <= 63 && table.lookup(name) !== null) answered++;
        else if (name.length > 63 && table.lookup(name)?.how === 'default') answered++;
      }
    }
    expect(answered).toBe(1_000);
  });

  it('explain of a 64 KiB name returns, quoting only its start and its length', () => {
    const config = { routes: [route('exact.test')], defaultPool: null } as unknown as Config;
    const explanation = explainRoute(config, 'a'.repeat(64 * 1024));
    expect(explanation.kind).toBe('closed');
    const text = formatExplanation(explanation);
    expect(text.length).toBeLessThan(2_000);
    expect(text).toContain('(65536 characters)');
  });
});

describe('check: limits on regex routes and long values', () => {
  it('refuses ~80,000 regex routes with a line naming the limit (they once crashed the first lookup)', () => {
    // 80,000 regexes joined into one alternation threw "Regular expression too large" inside RouteTable.lookup on
    // the first connection and the process exited. check now stops at MAX_REGEX_ROUTES, naming the first route over.
    const lines = ['listen: ["127.0.0.1:0"]', 'routes:'];
    for (let i = 0; i < 80_000; i++) lines.push(`  "~^r${i}\\\\.test$": [127.0.0.1:1]`);
    const result = loadConfig({ configFile: writeConfig(`${lines.join('\n')}\n`) });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems.map(formatProblem)).toEqual([
      expect.stringMatching(new RegExp(`router\\.yaml:${MAX_REGEX_ROUTES + 3}:3: route '~\\^r${MAX_REGEX_ROUTES}\\\\\\.test\\$' is regex route number ${MAX_REGEX_ROUTES + 1}, over the limit of ${MAX_REGEX_ROUTES} regex routes`)),
    ]);
  });

  it('builds a table of MAX_REGEX_ROUTES anchored regexes at load; a hit and a miss are answered', () => {
    const routes = Array.from({ length: MAX_REGEX_ROUTES }, (_, i) => route(`~^r${i}-[0-9]+\\.test$`));
    const table = RouteTable.compile(routes, null);
    expect(table.lookup('R9999-1.test')?.route?.name).toBe('~^r9999-[0-9]+\\.test$');
    expect(table.lookup('r9999-x.test')).toBeNull();
    expect(table.lookup(`${'r'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`)).toBeNull();
  });

  it('refuses unanchored regexes past MAX_UNANCHORED_REGEX_TOTAL_LENGTH characters (each is tried on every miss)', () => {
    const lines = ['listen: ["127.0.0.1:0"]', 'routes:'];
    const count = Math.ceil(MAX_UNANCHORED_REGEX_TOTAL_LENGTH / 20) + 1;
    for (let i = 0; i < count; i++) lines.push(`  "~api-${String(i).padStart(4, '0')}\\\\.example\\\\.net$": [127.0.0.1:1]`);
    for (let i = 0; i < 100; i++) lines.push(`  "~^web-${i}\\\\.example\\\\.net$": [127.0.0.1:1]`); // anchored: not counted
    const result = loadConfig({ configFile: writeConfig(`${lines.join('\n')}\n`) });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const problems = result.problems.map(formatProblem);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      new RegExp(`router\\.yaml:\\d+:3: route '~api-\\d{4}.*' brings the regex routes that do not start with \\^ and a literal \\(as in \\^api-\\) to \\d+ pattern characters, over the limit of ${MAX_UNANCHORED_REGEX_TOTAL_LENGTH}:`),
    );
  });

  it('a table at the unanchored limit answers 253-byte names built to match nothing (200 lookups)', () => {
    const pattern = (i: number): string => `(a+)+b${String(i).padStart(4, '0')}x+y`;
    const routes = Array.from({ length: Math.floor(MAX_UNANCHORED_REGEX_TOTAL_LENGTH / pattern(0).length) }, (_, i) => route(`~${pattern(i)}`));
    const table = RouteTable.compile(routes, POOL);
    const name = `${'a'.repeat(63)}.${'a'.repeat(63)}.${'a'.repeat(63)}.${'a'.repeat(61)}`;
    let answered = 0;
    for (let i = 0; i < 200; i++) if (table.lookup(name)?.how === 'default') answered++;
    expect(answered).toBe(200);
  });

  it('a 50 MB bad value gets no "did you mean" and is echoed cut, with its length', () => {
    // The edit distance behind "did you mean" ran on the whole value: 52–58 s and 1.9 GB, then the whole value was
    // echoed. Suggestions now skip long words and problems quote the start of a value and its length.
    const value = 'x'.repeat(50 * 1024 * 1024);
    expect(closestWord(value, ['debug', 'info'])).toBeNull();
    const result = loadConfig({ configFile: writeConfig(`listen: ["127.0.0.1:0"]\ndefault: [127.0.0.1:1]\nlog_level: ${value}\n`) });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const [line = ''] = result.problems.map(formatProblem);
    expect(line).toMatch(/:3:12: log_level must be .*, not 'x{80}…' \(52428800 characters\)$/);
  });

  it('describes 1,250,000 routes without overflowing the stack (no spread of unbounded arrays)', () => {
    // `check` overflowed the stack on 1.25 M routes: push(...rows) passes every row as an argument.
    const routes = Array.from({ length: 1_250_000 }, (_, i): RouteConfig => ({
      name: `h${i}.test`,
      kind: 'exact',
      pattern: `h${i}.test`,
      pool: POOL,
      terminate: null,
      source: null,
    }));
    const config = {
      listen: [],
      proxyProtocol: 'none',
      timeouts: { clientHelloMs: 5000, connectMs: 3000, idleMs: 600000 },
      maxHelloBytes: 65536,
      routes,
      defaultPool: null,
      logLevel: 'info',
      admin: null,
      sourceFile: null,
    } as unknown as Config;
    const text = describeConfig(config);
    expect(text).toContain('1250000  exact');
  });
});
