/**
 * What a reload changes, for its log line and the admin API: routes added, removed and changed (by name as
 * written), listeners added and removed, and the other settings that differ. Plus a short, stable hash of a
 * Config, the same in every worker, shown in the reload log, /routes and the `sni_router_config_info` metric.
 * Pure: no I/O.
 */
import { createHash } from 'node:crypto';
import type { Config, RouteConfig } from './types.js';

export interface ConfigDiff {
  readonly routesAdded: string[];
  readonly routesRemoved: string[];
  readonly routesChanged: string[];
  readonly listenersAdded: string[];
  readonly listenersRemoved: string[];
  /** Other top-level settings that differ: `default`, `timeouts`, `proxy_protocol`, … */
  readonly settingsChanged: string[];
}

/** Positions say where a route was written, not what it does: a route that only moved is not "changed". */
function routeBody(route: RouteConfig): string {
  const { source: _source, ...rest } = route;
  return stableJson(rest);
}

export function diffConfigs(before: Config, after: Config): ConfigDiff {
  const beforeRoutes = new Map(before.routes.map((route) => [route.name, routeBody(route)]));
  const afterRoutes = new Map(after.routes.map((route) => [route.name, routeBody(route)]));
  const routesAdded = [...afterRoutes.keys()].filter((name) => !beforeRoutes.has(name));
  const routesRemoved = [...beforeRoutes.keys()].filter((name) => !afterRoutes.has(name));
  const routesChanged = [...afterRoutes].filter(([name, body]) => beforeRoutes.has(name) && beforeRoutes.get(name) !== body).map(([name]) => name);
  const beforeListen = new Set(before.listen.map((listen) => listen.label));
  const afterListen = new Set(after.listen.map((listen) => listen.label));
  const settings: Array<[string, unknown, unknown]> = [
    ['default', before.defaultPool, after.defaultPool],
    ['proxy_protocol', before.proxyProtocol, after.proxyProtocol],
    ['timeouts', before.timeouts, after.timeouts],
    ['max_hello_bytes', before.maxHelloBytes, after.maxHelloBytes],
    ['log_level', before.logLevel, after.logLevel],
    ['admin', before.admin, after.admin],
    ['shutdown_grace', before.shutdownGraceMs, after.shutdownGraceMs],
    ['workers', before.workers, after.workers],
    ['data_plane', before.dataPlane, after.dataPlane],
    ['limits', before.limits, after.limits],
    // Route order decides between regexes; a reordering is a change even when no route body changed.
    ['route order', before.routes.map((r) => r.name), after.routes.map((r) => r.name)],
  ];
  return {
    routesAdded,
    routesRemoved,
    routesChanged,
    listenersAdded: [...afterListen].filter((label) => !beforeListen.has(label)),
    listenersRemoved: [...beforeListen].filter((label) => !afterListen.has(label)),
    settingsChanged: settings.filter(([, a, b]) => stableJson(a) !== stableJson(b)).map(([name]) => name),
  };
}

export function isEmptyDiff(diff: ConfigDiff): boolean {
  return Object.values(diff).every((list: string[]) => list.length === 0);
}

/** For the reload log line: snake_case keys, the access log's vocabulary. */
export function diffFields(diff: ConfigDiff): Record<string, string[]> {
  return {
    routes_added: diff.routesAdded,
    routes_removed: diff.routesRemoved,
    routes_changed: diff.routesChanged,
    listeners_added: diff.listenersAdded,
    listeners_removed: diff.listenersRemoved,
    settings_changed: diff.settingsChanged,
  };
}

/** 12 hex digits of SHA-256 over the config's content (the source file's path and route positions left out). */
export function configHash(config: Config): string {
  const { sourceFile: _file, routes, ...rest } = config;
  const body = stableJson({ ...rest, routes: routes.map(routeBody) });
  return createHash('sha256').update(body).digest('hex').slice(0, 12);
}

/** JSON with object keys sorted, so that equal configs give equal text whatever order their keys were built in. */
function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) return item;
    return Object.fromEntries(Object.entries(item as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  });
}
