/**
 * The admin HTTP listener (off by default; `--admin ADDR` or `admin:` in the config). Loopback only unless the
 * config's long form says `allow_non_loopback: true` (checked when the config is read, src/config/operations.ts).
 *
 *   GET  /healthz       200 "ok" while the process runs and its event loop keeps up (503 past the lag limit)
 *   GET  /readyz        200 when the listeners are open, a config is loaded and the loop keeps up; else 503
 *   GET  /              the status page: one self-contained HTML page that reads the JSON below (status-page.ts)
 *   GET  /routes        the resolved table as JSON, in lookup order, with the config's hash and each backend's health
 *   GET  /connections   counts as JSON: active (by listener), accepted, closed by reason, bytes
 *   GET  /connections?list   the open connections, a page at a time (connection-list.ts)
 *   GET  /reloads       the last reloads' outcomes, newest first (reload-history.ts)
 *   GET  /metrics       Prometheus text format (prom-client)
 *   POST /reload        reload the config now; 200 with what changed, or 422 with every problem (config kept)
 *
 * The server knows nothing about routers or workers: the run mode hands it an AdminHandlers. Every request must
 * pass src/admin-guard.ts (Host names this listener; no cross-site browser request); reloads are rate-limited;
 * connections are capped and a request must be whole within ADMIN_REQUEST_TIMEOUT_MS.
 */
import http from 'node:http';
import { RateLimit, refusalOfAdminRequest } from './admin-guard.js';
import type { Config, PoolConfig, RouteConfig, TerminateSettings } from '../config/types.js';
import { servedCertificatesOf } from '../data-path/cert-store.js';
import { orderByPrecedence } from '../config/route-grammar.js';
import { diffFields } from '../config/diff.js';
import type { ReloadOutcome } from './reload.js';
import type { ReloadEntry } from './reload-history.js';
import { type ConnectionPage, isListRequest, type ListQuery, parseListQuery } from './connection-list.js';
import { STATUS_PAGE_HEADERS, STATUS_PAGE_HTML } from './status-page.js';
import type { BackendStatus } from '../pools/health.js';

/** Admin connections open at once; more are closed at accept (the admin API is for a few tools, not a crowd). */
export const ADMIN_MAX_CONNECTIONS = 64;
/** Headers must arrive within this, and the whole request within ADMIN_REQUEST_TIMEOUT_MS, or the socket closes. */
export const ADMIN_HEADERS_TIMEOUT_MS = 5_000;
export const ADMIN_REQUEST_TIMEOUT_MS = 10_000;

/** Whether the process (with workers: every worker) keeps up; `detail` says why not, for the 503 body. */
export interface LoopHealth {
  readonly isHealthy: boolean;
  readonly lagSeconds: number;
  readonly detail?: string;
}

/** A listener as bound (the port it got when :0 was asked for). */
export interface ListenerAddress {
  readonly label: string;
  readonly address: string;
  readonly port: number;
}

export interface AdminHandlers {
  isReady(): boolean;
  /** Event-loop health (src/loop-watchdog.ts); absent: always healthy. */
  loopHealth?(): LoopHealth;
  config(): { config: Config; hash: string };
  connections(): Promise<unknown>;
  metrics(): Promise<{ contentType: string; body: string }>;
  reload(): Promise<ReloadOutcome>;
  /** One page of the open connections; absent: `?list` answers 501. */
  connectionList?(query: ListQuery): Promise<ConnectionPage>;
  /** Every backend's health and open connections, for /routes; absent: /routes has no `backend_health`. */
  backendStatuses?(): Promise<readonly BackendStatus[]>;
  /** The last reloads, newest first. */
  reloads?(): readonly ReloadEntry[];
  /** The listeners as bound, and which data plane carries them (for /routes and the page). */
  serving?(): { readonly listeners: readonly ListenerAddress[]; readonly dataPlane: string | null; readonly workers: number };
}

export interface AdminServer {
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function startAdmin(host: string, port: number, handlers: AdminHandlers): Promise<AdminServer> {
  const reloads = new RateLimit();
  const server = http.createServer(
    {
      headersTimeout: ADMIN_HEADERS_TIMEOUT_MS,
      requestTimeout: ADMIN_REQUEST_TIMEOUT_MS,
      // How often node checks those two timeouts (default 30 s, which would let a half-sent request stay that long).
      connectionsCheckingInterval: 500,
      maxHeaderSize: 8 * 1024,
    },
    (request, response) => {
      const refusal = refusalOfAdminRequest(request, host);
      if (refusal !== null) {
        request.resume();
        return void send(response, 403, { error: refusal }, { connection: 'close' });
      }
      handle(request, response, handlers, reloads).catch((error: unknown) => {
        send(response, 500, { error: error instanceof Error ? error.message : String(error) });
      });
    },
  );
  server.keepAliveTimeout = 5_000;
  // A connection that sends nothing at all is not a request yet, so the two timeouts above do not see it.
  server.timeout = ADMIN_REQUEST_TIMEOUT_MS;
  server.maxConnections = ADMIN_MAX_CONNECTIONS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  server.on('error', () => {});
  const info = server.address();
  const bound = info !== null && typeof info === 'object' ? info : { address: host, port };
  return {
    address: bound.address,
    port: bound.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export const GET_PATHS = ['/', '/healthz', '/readyz', '/routes', '/connections', '/reloads', '/metrics'];

async function handle(request: http.IncomingMessage, response: http.ServerResponse, handlers: AdminHandlers, reloads: RateLimit): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://admin');
  const path = url.pathname;
  request.resume(); // bodies are ignored
  if (path === '/reload') {
    if (request.method !== 'POST') return void send(response, 405, { error: 'use POST /reload' }, { allow: 'POST' });
    if (!reloads.take()) {
      const retryAfter = reloads.retryAfterSeconds();
      return void send(response, 429, { error: `too many reloads; retry in ${retryAfter} s` }, { 'retry-after': String(retryAfter) });
    }
    const outcome = await handlers.reload();
    if (outcome.ok) send(response, 200, { ok: true, hash: outcome.hash, duration_ms: outcome.durationMs, ...diffFields(outcome.diff) });
    else send(response, 422, { ok: false, problems: outcome.problems });
    return;
  }
  if (!GET_PATHS.includes(path)) return void send(response, 404, { error: `no such path; try ${[...GET_PATHS, 'POST /reload'].join(', ')}` });
  if (request.method !== 'GET' && request.method !== 'HEAD') return void send(response, 405, { error: `use GET ${path}` }, { allow: 'GET, HEAD' });
  switch (path) {
    case '/healthz': {
      const loop = handlers.loopHealth?.() ?? null;
      if (loop !== null && !loop.isHealthy) return void sendText(response, 503, `unhealthy: ${loop.detail ?? `event loop lag ${loop.lagSeconds.toFixed(3)} s`}\n`);
      return void sendText(response, 200, 'ok\n');
    }
    case '/readyz': {
      const loop = handlers.loopHealth?.() ?? null;
      if (loop !== null && !loop.isHealthy) return void sendText(response, 503, `not ready: ${loop.detail ?? `event loop lag ${loop.lagSeconds.toFixed(3)} s`}\n`);
      return handlers.isReady() ? void sendText(response, 200, 'ready\n') : void sendText(response, 503, 'not ready\n');
    }
    case '/': {
      response.writeHead(200, { ...STATUS_PAGE_HEADERS, 'content-length': Buffer.byteLength(STATUS_PAGE_HTML) });
      response.end(STATUS_PAGE_HTML);
      return;
    }
    case '/routes': {
      const { config, hash } = handlers.config();
      const statuses = handlers.backendStatuses ? await handlers.backendStatuses() : null;
      const health = statuses === null ? null : new Map(statuses.map((status) => [status.backend, status]));
      return void send(response, 200, describeRoutes(config, hash, { health, serving: handlers.serving?.() ?? null }));
    }
    case '/connections': {
      if (!isListRequest(url.searchParams)) return void send(response, 200, await handlers.connections());
      const parsed = parseListQuery(url.searchParams);
      if (!parsed.ok) return void send(response, 400, { error: parsed.error });
      if (!handlers.connectionList) return void send(response, 501, { error: 'this run mode cannot list connections' });
      return void send(response, 200, await handlers.connectionList(parsed.query));
    }
    case '/reloads':
      return void send(response, 200, { reloads: handlers.reloads?.() ?? [] });
    case '/metrics': {
      const { contentType, body } = await handlers.metrics();
      response.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
      response.end(body);
      return;
    }
  }
}

export interface RoutesExtras {
  /** Each backend's health by label; null: not known here (no `backend_health` fields). */
  readonly health?: ReadonlyMap<string, BackendStatus> | null;
  readonly serving?: ReturnType<NonNullable<AdminHandlers['serving']>> | null;
}

/**
 * The table as JSON, routes in the order a lookup tries them, keys in the config file's vocabulary. Fields are
 * only ever added (tools parse them): `backend_health` beside each pool's `backends`, `listeners` beside `listen`.
 */
export function describeRoutes(config: Config, hash: string, extras: RoutesExtras = {}): unknown {
  const health = extras.health ?? null;
  const serving = extras.serving ?? null;
  return {
    hash,
    config: config.sourceFile,
    listen: config.listen.map((listen) => listen.label),
    ...(serving !== null ? { listeners: serving.listeners, data_plane: serving.dataPlane, workers: serving.workers } : {}),
    routes: orderByPrecedence(config.routes).map((route) => describeRoute(route, health)),
    default: config.defaultPool === null ? null : describePool(config.defaultPool, health),
  };
}

function describeRoute(route: RouteConfig, health: ReadonlyMap<string, BackendStatus> | null): Record<string, unknown> {
  return {
    name: route.name,
    kind: route.kind,
    ...describePool(route.pool, health),
    terminate: route.terminate !== null,
    ...(route.terminate !== null ? { certificates: describeCertificates(route.terminate) } : {}),
    ...(route.alpn && route.alpn.length > 0 ? { alpn: Object.fromEntries(route.alpn.map((entry) => [entry.protocol, describePool(entry.pool, health)])) } : {}),
    ...(route.fallback ? { fallback: describePool(route.fallback, health) } : {}),
    line: route.source && route.source.line > 0 ? route.source.line : null,
  };
}

/** The certificates served for a terminate route: file, names, key type and expiry (read from the live context). */
function describeCertificates(terminate: TerminateSettings): Array<Record<string, unknown>> {
  const now = Date.now();
  return servedCertificatesOf(terminate).map((certificate) => ({
    file: certificate.file,
    subject: certificate.subject,
    dns_names: certificate.dnsNames,
    key_type: certificate.keyType,
    not_after: certificate.notAfter.toISOString(),
    expires_in_days: Math.floor((certificate.notAfter.getTime() - now) / 86_400_000),
  }));
}

function describePool(pool: PoolConfig, health: ReadonlyMap<string, BackendStatus> | null = null): Record<string, unknown> {
  return {
    backends: pool.backends.map((backend) => backend.label),
    proxy_protocol: pool.proxyProtocol,
    balance: pool.balance,
    ...(health !== null ? { backend_health: pool.backends.map((backend) => describeHealth(backend.label, health.get(backend.label))) } : {}),
  };
}

/** One backend's entry of `backend_health`; `unknown` when no router answered for it (a worker restarting). */
function describeHealth(label: string, status: BackendStatus | undefined): Record<string, unknown> {
  if (status === undefined) return { backend: label, state: 'unknown', since: null, last_error: null, active: 0 };
  return { backend: label, state: status.state, since: status.since, last_error: status.last_error, active: status.active, ...(status.cause !== null ? { cause: status.cause } : {}) };
}

function send(response: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = `${JSON.stringify(body, null, 2)}\n`;
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'x-content-type-options': 'nosniff', 'cache-control': 'no-store', ...headers });
  response.end(text);
}

function sendText(response: http.ServerResponse, status: number, text: string): void {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}
