/**
 * The reference in docs/ and the code must agree, both ways: a close reason, error code, flag, metric, config key
 * or admin path added in one place and not the other fails, and so does one the docs still list after the code
 * dropped it. Each list is read from the code itself (an exported constant, a built metrics registry, the CLI's
 * option calls), never copied into this test.
 */
import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { TOP_LEVEL_KEYS } from '../../src/config/validate.js';
import { ACCEPT_PROXY_KEYS, LISTEN_KEYS } from '../../src/config/sections/listen.js';
import { TIMEOUT_KEYS } from '../../src/config/sections/timeouts.js';
import { LIMITS_KEYS } from '../../src/config/sections/limits.js';
import { BACKEND_KEYS, DEFAULT_POOL_KEYS, ROUTE_KEYS, SUB_POOL_KEYS } from '../../src/config/sections/pools.js';
import { HEALTH_KEYS } from '../../src/config/sections/health.js';
import { BACKEND_TLS_KEYS, CERTIFICATE_PAIR_KEYS, TERMINATE_KEYS } from '../../src/config/sections/terminate.js';
import { HTTP_TERMINATE_KEYS } from '../../src/config/terminate-http.js';
import { ADMIN_KEYS } from '../../src/config/operations.js';
import { QUIC_KEYS } from '../../src/config/quic-keys.js';
import { GET_PATHS } from '../../src/control/admin.js';
import { CLOSE_REASONS, HTTP_CLOSE_REASONS } from '../../src/ops/close-reason.js';
import { ERROR_CODES } from '../../src/ops/errors.js';
import { ControlMetrics, RouterMetrics } from '../../src/ops/metrics.js';

const read = (path: string): string => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

/** The text from `heading` (a whole line) to the next heading of the same or a higher level. */
function section(page: string, heading: string): string {
  const text = read(page);
  const start = text.indexOf(`\n${heading}\n`);
  expect(start, `${page} has a "${heading}" section`).toBeGreaterThanOrEqual(0);
  const level = /^#+/.exec(heading)![0].length;
  const next = new RegExp(`\\n#{1,${level}} `, 'g');
  next.lastIndex = start + heading.length + 1;
  const end = next.exec(text)?.index ?? text.length;
  return text.slice(start, end);
}

/** The rows of every table in `text` (header and separator rows left out), each split into its cells. */
function tableRows(text: string): string[][] {
  const rows: string[][] = [];
  let isHeader = true;
  for (const line of text.split('\n')) {
    if (!line.startsWith('|')) {
      isHeader = true;
      continue;
    }
    // `\|` inside a cell is a literal bar, not a cell border.
    const cells = line.replace(/\\\|/g, '\u0000').split('|').slice(1, -1).map((cell) => cell.replace(/\u0000/g, '|').trim());
    if (isHeader) isHeader = false; // the header row; the separator row follows
    else if (!/^-+$/.test(cells[0] ?? '')) rows.push(cells);
  }
  return rows;
}

/** The backticked words of a cell: "`a`, `b`" → ['a', 'b']. */
const codeSpans = (cell: string): string[] => [...cell.matchAll(/`([^`]+)`/g)].map((match) => match[1]!);

const sorted = (items: Iterable<string>): string[] => [...items].sort();

describe('docs/access-log.md', () => {
  const firstColumn = (heading: string): string[] => tableRows(section('docs/access-log.md', heading)).map((row) => codeSpans(row[0]!)[0]!);

  it('documents exactly the close reasons the code uses', () => {
    expect(sorted(firstColumn('## Close reasons'))).toEqual(sorted([...CLOSE_REASONS, ...HTTP_CLOSE_REASONS]));
  });

  it('documents exactly the error codes the code defines', () => {
    expect(sorted(firstColumn('## Error codes'))).toEqual(sorted(Object.keys(ERROR_CODES)));
  });
});

/**
 * The flags commander is given in src/cli.ts, read from its source: the program cannot be built without running
 * (cli.ts parses process.argv when imported). Every `.option('…')` and `new Option('…')` flag string, the
 * `.version(…, '…')` one, and commander's own `-h, --help`. Each as "-c, --config" or "--quic" (no argument).
 */
function codeFlags(): string[] {
  const source = read('src/cli.ts');
  const specs = [
    ...[...source.matchAll(/\.option\(\s*(['"])(-[^'"]+)\1/g)].map((match) => match[2]!),
    ...[...source.matchAll(/new Option\(\s*(['"])(-[^'"]+)\1/g)].map((match) => match[2]!),
    ...[...source.matchAll(/\.version\([^,]+,\s*(['"])(-[^'"]+)\1/g)].map((match) => match[2]!),
    '-h, --help',
  ];
  return [...new Set(specs.map(flagNames))];
}

/** '-c, --config <file>' → '-c, --config'; '--alpn <list>' → '--alpn'. */
const flagNames = (spec: string): string =>
  spec
    .split(/[ ,]+/)
    .filter((word) => /^--?[a-zA-Z]/.test(word))
    .join(', ');

describe('docs/command-line.md', () => {
  const documented = (): string[] => {
    const names = tableRows(read('docs/command-line.md')).flatMap((row) => codeSpans(row[0]!).filter((span) => span.startsWith('-')));
    return [...new Set(names.map(flagNames))];
  };

  it('finds the flags in src/cli.ts (a reader that sees none would pass everything)', () => {
    const flags = codeFlags();
    expect(flags.length).toBeGreaterThan(20);
    expect(flags).toEqual(expect.arrayContaining(['-c, --config', '-V, --version', '--no-watch', '--log-format', '--no-sni']));
  });

  it('documents every flag the program defines, with its short form, and no flag it does not', () => {
    expect(sorted(documented())).toEqual(sorted(codeFlags()));
  });
});

describe('docs/metrics.md', () => {
  /** "name type label,label" for every metric the router and its control side register. */
  async function registered(): Promise<string[]> {
    const registry = new Registry();
    new RouterMetrics(registry, { processMetrics: false });
    new ControlMetrics(registry);
    return (await registry.getMetricsAsJSON()).map((metric) => {
      const labels = new Set<string>();
      for (const value of metric.values) for (const key of Object.keys(value.labels)) if (key !== 'le') labels.add(key);
      const declared = (registry.getSingleMetric(metric.name) as unknown as { labelNames?: string[] }).labelNames ?? [];
      for (const key of declared) labels.add(key);
      return `${metric.name} ${metric.type} ${sorted(labels).join(',') || '-'}`;
    });
  }

  const documentedRows = (): string[][] => tableRows(read('docs/metrics.md')).filter((row) => /^`sni_router_\w+`$/.test(row[0]!));

  it('lists exactly the metrics the code registers, with their types and labels', async () => {
    const documented = documentedRows().map(([name, type, labels]) => {
      const labelList = labels === '—' ? '-' : sorted(codeSpans(labels!)).join(',');
      return `${codeSpans(name!)[0]} ${type} ${labelList}`;
    });
    expect(sorted(documented)).toEqual(sorted(await registered()));
  });

  it('covers the process metrics with its `process_*`, `nodejs_*` row', async () => {
    const registry = new Registry();
    new RouterMetrics(registry);
    const names = (await registry.getMetricsAsJSON()).map((metric) => metric.name).filter((name) => !name.startsWith('sni_router_'));
    expect(names.length).toBeGreaterThan(0);
    const wildcards = tableRows(read('docs/metrics.md')).flatMap((row) => codeSpans(row[0]!).filter((span) => span.endsWith('*')));
    const prefixes = wildcards.map((span) => span.slice(0, -1));
    expect(names.filter((name) => !prefixes.some((prefix) => name.startsWith(prefix)))).toEqual([]);
  });
});

describe('docs/configuration.md', () => {
  /** Each row of "All keys" names where the keys go; these are the code's lists for each. */
  const CODE_KEYS: Readonly<Record<string, readonly string[]>> = {
    '(top level)': TOP_LEVEL_KEYS,
    '`listen[]` (long form)': LISTEN_KEYS,
    '`listen[].accept_proxy_protocol`': ACCEPT_PROXY_KEYS,
    '`timeouts`': TIMEOUT_KEYS,
    '`limits`': LIMITS_KEYS,
    '`admin` (long form)': ADMIN_KEYS,
    '`quic`': QUIC_KEYS,
    '`routes.NAME` (long form)': ROUTE_KEYS,
    '`default` (long form)': DEFAULT_POOL_KEYS,
    '`routes.NAME.fallback`, `routes.NAME.alpn.PROTOCOL` (long form)': SUB_POOL_KEYS,
    '`….backends[]` (long form)': BACKEND_KEYS,
    '`….health`': HEALTH_KEYS,
    '`routes.NAME.terminate`': TERMINATE_KEYS,
    '`routes.NAME.terminate.certs[]`': CERTIFICATE_PAIR_KEYS,
    '`routes.NAME.terminate.backend_tls`': BACKEND_TLS_KEYS,
    '`routes.NAME.terminate.http`': HTTP_TERMINATE_KEYS,
  };

  it('"All keys" has a row for every key list of the validator, and no other', () => {
    const places = tableRows(section('docs/configuration.md', '## All keys')).map((row) => row[0]!);
    expect(sorted(places)).toEqual(sorted(Object.keys(CODE_KEYS)));
  });

  it.each(Object.entries(CODE_KEYS))('"All keys" lists exactly the keys of %s', (place, keys) => {
    const row = tableRows(section('docs/configuration.md', '## All keys')).find((cells) => cells[0] === place);
    expect(row, `a row for ${place}`).toBeDefined();
    expect(sorted(codeSpans(row![1]!))).toEqual(sorted(keys));
  });

  it('the "Config file" table explains every top-level key, and no other', () => {
    const rows = tableRows(section('docs/configuration.md', '## Config file'));
    const documented = new Set(rows.map((row) => codeSpans(row[0]!)[0]!.split('.')[0]!));
    expect(sorted(documented)).toEqual(sorted(TOP_LEVEL_KEYS));
  });
});

describe('docs/admin-api.md', () => {
  it('documents exactly the GET paths the admin listener answers', () => {
    const requests = tableRows(read('docs/admin-api.md')).flatMap((row) => codeSpans(row[0]!));
    // A row per query form (`GET /connections?list`) documents its path.
    const documented = new Set(requests.filter((request) => request.startsWith('GET ')).map((request) => request.slice('GET '.length).split('?')[0]!));
    expect(sorted(documented)).toEqual(sorted(GET_PATHS));
  });
});
