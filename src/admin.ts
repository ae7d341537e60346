/**
 * The admin HTTP listener (off by default; `--admin ADDR` or `admin:` in the config). Loopback only unless the
 * config's long form says `allow_non_loopback: true` (checked when the config is read, src/config/operations.ts).
 *
 *   GET  /healthz       200 "ok" while the process runs
 *   GET  /readyz        200 when the listeners are open and a config is loaded; 503 while starting or draining
 *   GET  /routes        the resolved table as JSON, in lookup order, with the config's hash
 *   GET  /connections   counts as JSON: active (by listener), accepted, closed by reason
 *   GET  /metrics       Prometheus text format (prom-client)
 *   POST /reload        reload the config now; 200 with what changed, or 422 with every problem (config kept)
 *
 * The server knows nothing about routers or workers: the run mode hands it an AdminHandlers.
 */
import http from 'node:http';
import type { Config, PoolConfig, RouteConfig } from './config/types.js';
import { orderByPrecedence } from './route-table.js';
import { diffFields } from './config-diff.js';
import type { ReloadOutcome } from './reload.js';

export interface AdminHandlers {
  isReady(): boolean;
  config(): { config: Config; hash: string };
  connections(): Promise<unknown>;
  metrics(): Promise<{ contentType: string; body: string }>;
  reload(): Promise<ReloadOutcome>;
}

export interface AdminServer {
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function startAdmin(host: string, port: number, handlers: AdminHandlers): Promise<AdminServer> {
  const server = http.createServer((request, response) => {
    handle(request, response, handlers).catch((error: unknown) => {
      send(response, 500, { error: error instanceof Error ? error.message : String(error) });
    });
  });
  server.keepAliveTimeout = 5_000;
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

const GET_PATHS = ['/healthz', '/readyz', '/routes', '/connections', '/metrics'];

async function handle(request: http.IncomingMessage, response: http.ServerResponse, handlers: AdminHandlers): Promise<void> {
  const path = new URL(request.url ?? '/', 'http://admin').pathname;
  request.resume(); // bodies are ignored
  if (path === '/reload') {
    if (request.method !== 'POST') return void send(response, 405, { error: 'use POST /reload' }, { allow: 'POST' });
    const outcome = await handlers.reload();
    if (outcome.ok) send(response, 200, { ok: true, hash: outcome.hash, duration_ms: outcome.durationMs, ...diffFields(outcome.diff) });
    else send(response, 422, { ok: false, problems: outcome.problems });
    return;
  }
  if (!GET_PATHS.includes(path)) return void send(response, 404, { error: `no such path; try ${[...GET_PATHS, 'POST /reload'].join(', ')}` });
  if (request.method !== 'GET' && request.method !== 'HEAD') return void send(response, 405, { error: `use GET ${path}` }, { allow: 'GET, HEAD' });
  switch (path) {
    case '/healthz':
      return void sendText(response, 200, 'ok\n');
    case '/readyz':
      return handlers.isReady() ? void sendText(response, 200, 'ready\n') : void sendText(response, 503, 'not ready\n');
    case '/routes': {
      const { config, hash } = handlers.config();
      return void send(response, 200, describeRoutes(config, hash));
    }
    case '/connections':
      return void send(response, 200, await handlers.connections());
    case '/metrics': {
      const { contentType, body } = await handlers.metrics();
      response.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
      response.end(body);
      return;
    }
  }
}

/** The table as JSON, routes in the order a lookup tries them, keys in the config file's vocabulary. */
export function describeRoutes(config: Config, hash: string): unknown {
  return {
    hash,
    config: config.sourceFile,
    listen: config.listen.map((listen) => listen.label),
    routes: orderByPrecedence(config.routes).map((route) => describeRoute(route)),
    default: config.defaultPool === null ? null : describePool(config.defaultPool),
  };
}

function describeRoute(route: RouteConfig): Record<string, unknown> {
  return {
    name: route.name,
    kind: route.kind,
    ...describePool(route.pool),
    terminate: route.terminate !== null,
    ...(route.alpn && route.alpn.length > 0 ? { alpn: Object.fromEntries(route.alpn.map((entry) => [entry.protocol, describePool(entry.pool)])) } : {}),
    ...(route.fallback ? { fallback: describePool(route.fallback) } : {}),
    line: route.source && route.source.line > 0 ? route.source.line : null,
  };
}

function describePool(pool: PoolConfig): Record<string, unknown> {
  return { backends: pool.backends.map((backend) => backend.label), proxy_protocol: pool.proxyProtocol, balance: pool.balance };
}

function send(response: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = `${JSON.stringify(body, null, 2)}\n`;
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  response.end(text);
}

function sendText(response: http.ServerResponse, status: number, text: string): void {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}
