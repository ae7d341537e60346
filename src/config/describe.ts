/**
 * A resolved Config as `sni-router check` (and the demo) print it: the settings, then every route in the order a
 * lookup tries them, then the default pool.
 *
 *   listen           127.0.0.1:8443
 *                    [::1]:8443
 *   ...
 *   routes, in the order a lookup tries them:
 *     #  kind      name             backends        proxy  balance      from    terminate
 *     1  exact     app.example.com  10.0.0.5:8443   v2     round-robin  line 6  -
 *     -  default   (anything else)  10.0.9.9:443    v2     round-robin  line 9  -
 */
import { orderByPrecedence } from '../route-table.js';
import { formatDuration } from './durations.js';
import type { Config, ListenAddress, PoolConfig, RouteConfig, SourcePosition } from './types.js';

export function describeConfig(config: Config): string {
  const clientHelloMs = formatDuration(config.timeouts.clientHelloMs);
  const connectMs = formatDuration(config.timeouts.connectMs);
  const idleMs = formatDuration(config.timeouts.idleMs);
  const settings: [string, string][] = [
    ...config.listen.map((l, i): [string, string] => [i === 0 ? 'listen' : '', describeListen(l)]),
    ['proxy_protocol', `${config.proxyProtocol} (pools that do not set their own)`],
    ['timeouts', `client_hello ${clientHelloMs}, connect ${connectMs}, idle ${idleMs}`],
    ['max_hello_bytes', String(config.maxHelloBytes)],
    ['log_level', config.logLevel],
    ['admin', config.admin?.label ?? 'off'],
  ];
  const keyWidth = Math.max(...settings.map(([key]) => key.length));
  const lines = settings.map(([key, value]) => `${key.padEnd(keyWidth)}  ${value}`);

  const header = ['#', 'kind', 'name', 'backends', 'proxy', 'balance', 'from', 'terminate'];
  const rows = orderByPrecedence(config.routes).map((route, index) => routeRow(String(index + 1), route));
  rows.push(
    config.defaultPool === null
      ? ['-', 'default', '(anything else)', 'none: such connections are closed', '-', '-', '-', '-']
      : poolRow('-', 'default', '(anything else)', config.defaultPool, null),
  );
  lines.push('', 'routes, in the order a lookup tries them:', ...formatTable([header, ...rows]).map((line) => `  ${line}`));
  return lines.join('\n');
}

function describeListen(listen: ListenAddress): string {
  if (listen.label.startsWith(':')) return `${listen.label}  (every IPv4 and IPv6 address)`;
  if (listen.host === '::' && listen.ipv6Only) return `${listen.label}  (every IPv6 address, IPv6 only)`;
  if (listen.host === '0.0.0.0') return `${listen.label}  (every IPv4 address)`;
  return listen.label;
}

function routeRow(number: string, route: RouteConfig): string[] {
  const row = poolRow(number, route.kind, route.name, route.pool, route.source);
  row[7] = route.terminate === null ? '-' : `cert ${route.terminate.certFile}, key ${route.terminate.keyFile}`;
  return row;
}

function poolRow(number: string, kind: string, name: string, pool: PoolConfig, source: SourcePosition | null): string[] {
  const backends = pool.backends.map((b) => b.label).join(', ');
  return [number, kind, name, backends, pool.proxyProtocol, pool.balance, describeSource(source), '-'];
}

function describeSource(source: SourcePosition | null): string {
  if (source === null) return '-';
  return source.line > 0 ? `line ${source.line}` : 'flag';
}

/** Left-aligned columns two spaces apart; the last column is not padded. */
function formatTable(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  '));
}
