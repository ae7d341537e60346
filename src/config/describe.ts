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
import { orderByPrecedence } from './route-grammar.js';
import { formatDuration } from './durations.js';
import type { Config, ListenAddress, PoolConfig, RouteConfig, SourcePosition, TerminateSettings } from './types.js';
import { DEFAULT_LIMITS, DEFAULT_WEIGHT, defaultTerminateAlpn } from './types.js';

export function describeConfig(config: Config): string {
  const clientHelloMs = formatDuration(config.timeouts.clientHelloMs);
  const connectMs = formatDuration(config.timeouts.connectMs);
  const idleMs = formatDuration(config.timeouts.idleMs);
  const settings: [string, string][] = [
    ...config.listen.map((l, i): [string, string] => [i === 0 ? 'listen' : '', describeListen(l) + describeListenLimits(l)]),
    ['proxy_protocol', `${config.proxyProtocol} (pools that do not set their own)`],
    ['timeouts', `client_hello ${clientHelloMs}, connect ${connectMs}, idle ${idleMs}`],
    ['max_hello_bytes', String(config.maxHelloBytes)],
    ['log_level', config.logLevel],
    ['admin', config.admin === null ? 'off' : `${config.admin.label}${config.admin.allowNonLoopback ? ' (non-loopback allowed)' : ''}`],
  ];
  // Shown only when set, so that the table of a config without them reads as it always did.
  if (config.stated.includes('shutdown_grace')) settings.push(['shutdown_grace', formatDuration(config.shutdownGraceMs)]);
  if (config.stated.includes('workers')) settings.push(['workers', String(config.workers)]);
  if (config.stated.includes('data_plane')) settings.push(['data_plane', config.dataPlane]);
  if (config.stated.includes('limits')) {
    const { maxHelloConnections, maxHelloConnectionsPerClient, maxHelloBytesTotal, maxConnectionRatePerClient } = config.limits;
    // The newer keys only when set away from their defaults, so existing configs' tables read as they did.
    const bytes = maxHelloBytesTotal === DEFAULT_LIMITS.maxHelloBytesTotal ? '' : `, max_hello_bytes_total ${maxHelloBytesTotal}`;
    const rate = maxConnectionRatePerClient === null ? '' : `, max_connection_rate_per_client ${maxConnectionRatePerClient}/s`;
    settings.push(['limits', `max_hello_connections ${maxHelloConnections}, max_hello_connections_per_client ${maxHelloConnectionsPerClient}${bytes}${rate}`]);
  }
  const keyWidth = settings.reduce((width, [key]) => Math.max(width, key.length), 0);
  const lines = settings.map(([key, value]) => `${key.padEnd(keyWidth)}  ${value}`);

  const header = ['#', 'kind', 'name', 'backends', 'proxy', 'balance', 'from', 'terminate'];
  // No spread into push() or Math.max(): with a million routes that many arguments overflow the stack.
  const rows: string[][] = [header];
  orderByPrecedence(config.routes).forEach((route, index) => {
    rows.push(routeRow(String(index + 1), route));
    for (const row of subPoolRows(String(index + 1), route)) rows.push(row);
  });
  rows.push(
    config.defaultPool === null
      ? ['-', 'default', '(anything else)', 'none: such connections are closed', '-', '-', '-', '-']
      : poolRow('-', 'default', '(anything else)', config.defaultPool, null),
  );
  lines.push('', 'routes, in the order a lookup tries them:');
  for (const line of formatTable(rows)) lines.push(`  ${line}`);
  for (const line of describeQuic(config)) lines.push(line);
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
  row[7] = route.terminate === null ? '-' : describeTerminate(route.terminate, route.pool);
  return row;
}

/** `cert F, key F, min TLSv1.2, alpn h2,http/1.1[, client_ca F][, backend_tls servername N, verify on, ca F]`. */
function describeTerminate(terminate: TerminateSettings, pool: PoolConfig): string {
  const { alpn } = terminate;
  const parts = [
    `cert ${terminate.certFile}`,
    `key ${terminate.keyFile}`,
    `min ${terminate.minVersion}`,
    `alpn ${alpn.length > 0 ? alpn.join(',') : 'none'} (${whyAlpn(terminate, pool)})`,
  ];
  if (terminate.http) {
    const http = terminate.http;
    parts.push(`http to ${pool.protocol} backends${http.hsts ? `, hsts ${http.hsts}` : ''}`);
  }
  if (terminate.clientCaFile) parts.push(`client_ca ${terminate.clientCaFile}`);
  const backendTls = terminate.backendTls;
  if (backendTls) {
    const ca = backendTls.caFile ? `, ca ${backendTls.caFile}` : '';
    parts.push(`backend_tls servername ${backendTls.servername ?? '(the client SNI)'}, verify ${backendTls.verify ? 'on' : 'off'}${ca}`);
  }
  return parts.join(', ');
}

/**
 * Why the route offers these protocols, in the words an operator needs: a byte-stream route hands the client's
 * bytes to the backend as they are, so an h2 offer is only right where the backend speaks h2c.
 */
function whyAlpn(terminate: TerminateSettings, pool: PoolConfig): string {
  const isDefault = sameList(terminate.alpn, defaultTerminateAlpn(terminate.http));
  if (terminate.http) return isDefault ? `default for http: the router speaks ${pool.protocol} to the backend` : 'as set';
  if (isDefault) return 'default: byte stream, the backend is taken to speak HTTP/1.1 only; set alpn: [h2] for an h2c backend';
  if (terminate.alpn.includes('h2')) return 'as set: byte stream, the backend must take h2 by prior knowledge (h2c)';
  return 'as set';
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((item, i) => item === b[i]);
}

function poolRow(number: string, kind: string, name: string, pool: PoolConfig, source: SourcePosition | null): string[] {
  const backends = pool.backends.map((b) => (b.weight === DEFAULT_WEIGHT ? b.label : `${b.label} (weight ${b.weight})`)).join(', ');
  return [number, kind, name, backends, pool.proxyProtocol, pool.balance + describeHealth(pool), describeSource(source), '-'];
}

/**
 * A route's other pools, right under it: `1a alpn <name> + acme-tls/1` (tried first, in file order, when the
 * client offers that protocol) and `1+ fallback <name>` (when every backend of the chosen pool is down).
 */
function subPoolRows(number: string, route: RouteConfig): string[][] {
  const rows = route.alpn.map((entry, i) =>
    poolRow(`${number}${String.fromCharCode(0x61 + (i % 26))}`, 'alpn', `${route.name} + ${entry.protocol}`, entry.pool, route.source),
  );
  if (route.fallback) rows.push(poolRow(`${number}+`, 'fallback', route.name, route.fallback, route.source));
  return rows;
}

/** `; health every 5s, timeout 2s, rise 2, fall 3[, tls sni N]` for pools with active checks. */
function describeHealth(pool: PoolConfig): string {
  const health = pool.health;
  if (!health) return '';
  const tls = health.tls ? `, tls${health.tlsServerName === null ? '' : ` sni ${health.tlsServerName}`}` : '';
  const timing = `every ${formatDuration(health.intervalMs)}, timeout ${formatDuration(health.timeoutMs)}`;
  return `; health ${timing}, rise ${health.rise}, fall ${health.fall}${tls}`;
}

/** `; accept PROXY from 10.0.0.0/8; max_connections 1000, per client 10` for listen entries in long form. */
function describeListenLimits(listen: ListenAddress): string {
  let text = '';
  if (listen.http === 'redirect') text += `; plain HTTP: 308 to https://HOST${listen.httpsPort != null && listen.httpsPort !== 443 ? `:${listen.httpsPort}` : ''}/…, ACME HTTP-01 routed by Host`;
  else if (listen.http === 'route') text += '; plain HTTP routed by Host';
  if (listen.acceptProxy) text += `; accept PROXY from ${listen.acceptProxy.trusted.map((cidr) => cidr.label).join(', ')}`;
  const caps: string[] = [];
  if (listen.maxConnections !== null) caps.push(`max_connections ${listen.maxConnections}`);
  if (listen.maxConnectionsPerClient !== null) caps.push(`max_connections_per_client ${listen.maxConnectionsPerClient}`);
  if (caps.length > 0) text += `; ${caps.join(', ')}`;
  if (listen.quic) text += '; QUIC too (UDP on the same address and port)';
  return text;
}

/**
 * With QUIC listeners: the `quic:` bounds, where each route's QUIC flows go when not to its pool's backends, and
 * which routes' PROXY header QUIC flows go without (a UDP datagram has no stream to put one in front of).
 */
function describeQuic(config: Config): string[] {
  const quicListeners = config.listen.filter((listen) => listen.quic);
  if (quicListeners.length === 0) return [];
  const q = config.quic;
  const lines = [
    '',
    `QUIC (UDP) listeners: ${quicListeners.map((listen) => listen.label).join(', ')}`,
    `  quic: idle_timeout ${formatDuration(q.idleTimeoutMs)}, hello_timeout ${formatDuration(q.helloTimeoutMs)}, ` +
      `backend_answer_timeout ${formatDuration(q.backendAnswerTimeoutMs)}, max_flows ${q.maxFlows}, ` +
      `max_pending_flows ${q.maxPendingFlows}, max_pending_flows_per_client ${q.maxPendingFlowsPerClient}, ` +
      `max_pending_bytes_per_flow ${q.maxPendingBytesPerFlow}`,
  ];
  for (const route of orderByPrecedence(config.routes)) {
    if (route.quicBackends !== null) lines.push(`  route ${route.name}: QUIC flows go to ${route.quicBackends.map((b) => b.label).join(', ')}`);
  }
  const withProxy = orderByPrecedence(config.routes).filter((route) => route.pool.proxyProtocol !== 'none').map((route) => route.name);
  if (config.defaultPool !== null && config.defaultPool.proxyProtocol !== 'none') withProxy.push('default');
  if (withProxy.length > 0) {
    lines.push(`  note: PROXY headers are not sent on QUIC: over UDP the backends see the router's address, not the client's (${withProxy.length} route${withProxy.length === 1 ? '' : 's'} with proxy_protocol: ${withProxy.slice(0, 10).join(', ')}${withProxy.length > 10 ? ', …' : ''})`);
  } else {
    lines.push("  note: PROXY headers are not sent on QUIC: over UDP the backends see the router's address, not the client's");
  }
  return lines;
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
