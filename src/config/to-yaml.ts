/**
 * `sni-router --print-config`: the YAML file equivalent to a resolved Config, so that a command-line set-up can
 * graduate to a file without surprises (`sni-router -c printed.yaml` routes exactly as the flags did).
 *
 * Flags give pools PROXY `none` by default while a file's default is `v2`, so the printed file always states
 * `proxy_protocol` at the top; pools that match it and use the default balancer are written in short form.
 * Settings at their defaults are left out, except `listen`, `proxy_protocol` and `timeouts`, which an operator
 * reading the file should not have to look up.
 */
import { stringify } from 'yaml';
import { DEFAULT_BALANCE, DEFAULT_LOG_LEVEL } from './draft.js';
import { formatDuration } from './durations.js';
import { QUIC_COUNT_KEYS, QUIC_DURATION_KEYS, type QuicSettings } from './quic-keys.js';
import {
  type Config,
  DEFAULT_BACKEND_PROTOCOL,
  DEFAULT_HTTP_TERMINATE,
  DEFAULT_MAX_HELLO_BYTES,
  DEFAULT_TERMINATE,
  DEFAULT_WEIGHT,
  defaultTerminateAlpn,
  type HttpTerminateSettings,
  type PoolConfig,
  type RouteConfig,
  type TerminateSettings,
} from './types.js';

type Yaml = Record<string, unknown>;

export function configToYaml(config: Config): string {
  const document: Yaml = {
    // A QUIC or plain-HTTP entry needs the long form; the others keep the short one they were probably written in.
    listen: config.listen.map((listen) =>
      listen.http
        ? { address: listen.label, http: listen.http, ...(listen.httpsPort != null ? { https_port: listen.httpsPort } : {}) }
        : listen.quic
          ? { address: listen.label, quic: true }
          : listen.label,
    ),
    proxy_protocol: config.proxyProtocol,
    timeouts: {
      client_hello: formatDuration(config.timeouts.clientHelloMs),
      connect: formatDuration(config.timeouts.connectMs),
      idle: formatDuration(config.timeouts.idleMs),
    },
  };
  if (config.maxHelloBytes !== DEFAULT_MAX_HELLO_BYTES) document.max_hello_bytes = config.maxHelloBytes;
  if (config.logLevel !== DEFAULT_LOG_LEVEL) document.log_level = config.logLevel;
  if (config.admin !== null) {
    document.admin = config.admin.allowNonLoopback ? { listen: config.admin.label, allow_non_loopback: true } : config.admin.label;
  }
  if (config.stated.includes('shutdown_grace')) document.shutdown_grace = formatDuration(config.shutdownGraceMs);
  if (config.stated.includes('workers')) document.workers = config.workers;
  if (config.stated.includes('data_plane')) document.data_plane = config.dataPlane;
  if (config.routes.length > 0) {
    document.routes = Object.fromEntries(config.routes.map((route) => [route.name, routeYaml(route, config)]));
  }
  if (config.defaultPool !== null) document.default = poolYaml(config.defaultPool, config);
  if (config.stated.includes('quic')) document.quic = quicYaml(config.quic);
  const source = config.sourceFile ?? 'the command line';
  return `# sni-router config equivalent to ${source}\n${stringify(document, { lineWidth: 0 })}`;
}

function routeYaml(route: RouteConfig, config: Config): unknown {
  const pool = poolYaml(route.pool, config);
  const extra: Yaml = {};
  if (route.terminate !== null) {
    extra.terminate = terminateYaml(route.terminate);
  }
  if (route.alpn.length > 0) extra.alpn = Object.fromEntries(route.alpn.map((entry) => [entry.protocol, poolYaml(entry.pool, config)]));
  if (route.fallback) extra.fallback = poolYaml(route.fallback, config);
  if (route.quicBackends !== null) extra.quic_backends = route.quicBackends.map((backend) => backend.label);
  if (Object.keys(extra).length === 0) return pool;
  return { ...(Array.isArray(pool) ? { backends: pool } : (pool as Yaml)), ...extra };
}

function quicYaml(quic: QuicSettings): Yaml {
  const document: Yaml = {};
  for (const [key, field] of Object.entries(QUIC_DURATION_KEYS)) document[key] = formatDuration(quic[field]);
  for (const [key, { field }] of Object.entries(QUIC_COUNT_KEYS)) document[key] = quic[field];
  return document;
}

/** cert and key, and the other keys only where they differ from the defaults. */
function terminateYaml(terminate: TerminateSettings): Yaml {
  const { certFile, keyFile, minVersion, alpn, clientCaFile, backendTls, http } = terminate;
  const yaml: Yaml = { cert: certFile, key: keyFile };
  if (minVersion !== DEFAULT_TERMINATE.minVersion) yaml.min_version = minVersion;
  const defaultAlpn = defaultTerminateAlpn(http);
  const isDefaultAlpn = alpn.length === defaultAlpn.length && alpn.every((protocol, i) => protocol === defaultAlpn[i]);
  if (!isDefaultAlpn) yaml.alpn = [...alpn];
  if (clientCaFile !== null) yaml.client_ca = clientCaFile;
  if (backendTls !== null) {
    const { caFile, servername, verify } = backendTls;
    yaml.backend_tls = { ...(caFile !== null ? { ca: caFile } : {}), ...(servername !== null ? { servername } : {}), ...(verify ? {} : { verify }) };
  }
  if (http !== null) yaml.http = httpYaml(http);
  return yaml;
}

/** `http: true` when every setting is the default, else the settings that differ. */
function httpYaml(http: HttpTerminateSettings): true | Yaml {
  const d = DEFAULT_HTTP_TERMINATE;
  const changed: Yaml = {};
  if (http.hsts !== d.hsts) changed.hsts = http.hsts;
  if (http.trustedForwarders.length > 0) changed.trusted_forwarders = http.trustedForwarders.map((cidr) => cidr.label);
  if (http.maxHeaderBytes !== d.maxHeaderBytes) changed.max_header_bytes = http.maxHeaderBytes;
  if (http.maxBodyBytes !== d.maxBodyBytes) changed.max_body_bytes = http.maxBodyBytes;
  if (http.headersTimeoutMs !== d.headersTimeoutMs) changed.headers_timeout = formatDuration(http.headersTimeoutMs);
  if (http.requestTimeoutMs !== d.requestTimeoutMs) changed.request_timeout = formatDuration(http.requestTimeoutMs);
  if (http.responseTimeoutMs !== d.responseTimeoutMs) changed.response_timeout = formatDuration(http.responseTimeoutMs);
  if (http.keepAliveMs !== d.keepAliveMs) changed.keep_alive = formatDuration(http.keepAliveMs);
  if (http.maxBackendConnections !== d.maxBackendConnections) changed.max_backend_connections = http.maxBackendConnections;
  return Object.keys(changed).length === 0 ? true : changed;
}

/** Short form (a list of backends) when nothing but the backends differs from the defaults. */
function poolYaml(pool: PoolConfig, config: Config): unknown {
  const backends = pool.backends.map((backend) =>
    backend.weight !== DEFAULT_WEIGHT ? { address: backend.label, weight: backend.weight } : backend.label,
  );
  const long: Yaml = { backends };
  if (pool.proxyProtocol !== config.proxyProtocol) long.proxy_protocol = pool.proxyProtocol;
  if (pool.protocol !== DEFAULT_BACKEND_PROTOCOL) long.protocol = pool.protocol;
  if (pool.balance !== DEFAULT_BALANCE) long.balance = pool.balance;
  if (pool.health) {
    const { intervalMs, timeoutMs, rise, fall, tls, tlsServerName } = pool.health;
    long.health = { interval: formatDuration(intervalMs), timeout: formatDuration(timeoutMs), rise, fall, tls: tls ? (tlsServerName ?? true) : false };
  }
  return Object.keys(long).length === 1 ? backends : long;
}
