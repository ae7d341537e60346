/**
 * The resolved, validated configuration: what the router runs on.
 *
 * Produced only by `loadConfig` (src/config/load.ts), deep-frozen, and never mutated: each connection keeps the
 * snapshot it started with, so a reload can swap the whole object at once. Fully resolved: every setting the
 * operator left out holds its default here, so no reader applies a default of its own.
 */
import type { Cidr } from '../wire/cidr.js';
import type { QuicSettings } from './quic-keys.js';

export type { Cidr } from '../wire/cidr.js';

export type ProxyProtocolMode = 'v2' | 'v1' | 'none';
export type BalanceAlgorithm = 'round-robin' | 'least-conn' | 'random' | 'source-hash';
export type RouteKind = 'exact' | 'wildcard' | 'regex';
/** `auto`: the native (C) plane where its addon loaded, else the node plane. */
export type DataPlaneChoice = 'auto' | 'native' | 'node';

/** Where a setting came from, for error messages and `sni-router check`. `file` is '<command line>' for flags. */
export interface SourcePosition {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

/** A host:port pair as the operator wrote it, parsed. IPv6 literals are stored without brackets. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
  /** Canonical text form: `10.0.0.5:8443`, `[::1]:8443`, `backend.internal:443`. */
  readonly label: string;
}

/** A listen address as written, before the long form's settings: host:port, and whether it is IPv6 only. */
export interface ListenEndpoint extends HostPort {
  /**
   * `:8443` means every IPv4 and IPv6 address: host '::' with ipv6Only false (one dual-stack socket).
   * `[::]:8443` means IPv6 only, so that it can sit beside `0.0.0.0:8443` as SPEC's example does.
   */
  readonly ipv6Only: boolean;
}

export interface ListenAddress extends ListenEndpoint {
  /** Long form `accept_proxy_protocol: { trusted: [CIDRs] }`: read a PROXY v1/v2 header from these peers only. */
  readonly acceptProxy: AcceptProxySettings | null;
  /** Long form `max_connections`: open connections on this listener; null = no cap. */
  readonly maxConnections: number | null;
  /** Long form `max_connections_per_client`: open connections per peer address on this listener; null = no cap. */
  readonly maxConnectionsPerClient: number | null;
  /** Long form `quic: true` (or `--quic`): also bind UDP on this address and port and route QUIC by SNI. */
  readonly quic: boolean;
  /**
   * Long form `http`: a plain-HTTP listener instead of a TLS one. `redirect` answers 308 to https:// (ACME
   * HTTP-01 paths are routed by Host instead); `route` routes every request by Host. Null = TLS.
   */
  readonly http: PlainHttpMode | null;
  /** Long form `https_port`: the port redirects point at; null = DEFAULT_HTTPS_PORT (left out of the Location). */
  readonly httpsPort: number | null;
}

export type PlainHttpMode = 'redirect' | 'route';
export const PLAIN_HTTP_MODES: readonly PlainHttpMode[] = ['redirect', 'route'];
export const DEFAULT_HTTPS_PORT = 443;

export interface AcceptProxySettings {
  readonly trusted: readonly Cidr[];
}

/** What a listen address has when the long form does not say: no PROXY header accepted, no caps. */
export const DEFAULT_LISTEN_SETTINGS: Omit<ListenAddress, keyof ListenEndpoint> = Object.freeze({ acceptProxy: null, maxConnections: null, maxConnectionsPerClient: null, quic: false, http: null, httpsPort: null });

/** A backend; `weight` (long form `{ address, weight }`) is DEFAULT_WEIGHT unless given. */
export interface BackendAddress extends HostPort {
  readonly weight: number;
}

export const DEFAULT_WEIGHT = 1;

/** Active health checks of a pool's backends (`health:` on a pool). */
export interface HealthSettings {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** Consecutive successes that bring a down backend up, failures that bring an up one down. */
  readonly rise: number;
  readonly fall: number;
  /** Complete a TLS handshake as well as the TCP connect. */
  readonly tls: boolean;
  /** SNI for the TLS check: the value given, else the route's name when it is an exact name, else none. */
  readonly tlsServerName: string | null;
}

/**
 * Top-level `limits:`: caps on connections still in their hello phase (PROXY header, ClientHello, and the TLS
 * handshake of terminate routes), on by default; and a per-client connection rate, off by default.
 */
export interface Limits {
  readonly maxHelloConnections: number;
  readonly maxHelloConnectionsPerClient: number;
  /** Bytes held by all pending hellos together; past it the oldest unfinished hellos are closed. */
  readonly maxHelloBytesTotal: number;
  /** New connections per second from one client address (sliding one-second window); null = no limit. */
  readonly maxConnectionRatePerClient: number | null;
}

export type TlsMinVersion = 'TLSv1.2' | 'TLSv1.3';

/** `terminate.backend_tls`: re-encrypt towards the backend. */
export interface BackendTlsSettings {
  /** CA bundle (PEM) that the backend's certificate must chain to; null = the runtime's public roots. */
  readonly caFile: string | null;
  /** SNI sent to the backend (and the name its certificate must carry); null = the client's SNI. */
  readonly servername: string | null;
  /** Verify the backend's certificate (default true). */
  readonly verify: boolean;
}

/** `terminate:` on a route. Only cert and key must be given; the rest hold their defaults when left out. */
export interface TerminateSettings {
  /** Absolute paths (relative ones were resolved against the config file's folder). With `certs`, its first pair. */
  readonly certFile: string;
  readonly keyFile: string;
  /** `ocsp:` a DER OCSP response for the certificate, stapled to handshakes that ask (status_request). */
  readonly ocspFile: string | null;
  /**
   * `certs: [{ cert, key }, …]`: several certificates for one route (ECDSA and RSA), all loaded into one context so
   * that OpenSSL picks by the client's signature algorithms. Null = the one pair above.
   */
  readonly certs: readonly CertificatePair[] | null;
  /** Lowest TLS version accepted from clients; default DEFAULT_TLS_MIN_VERSION. */
  readonly minVersion: TlsMinVersion;
  /** ALPN protocols offered to clients in order of preference; default DEFAULT_TERMINATE_ALPN (DEFAULT_HTTP_TERMINATE_ALPN with http); [] = no ALPN. */
  readonly alpn: readonly string[];
  /** CA bundle (PEM) for client certificates: when set, a client must present a certificate it signed (mTLS). */
  readonly clientCaFile: string | null;
  /** Re-encrypt towards the backend; null = the backend gets plaintext. */
  readonly backendTls: BackendTlsSettings | null;
  /** `http: true | { … }`: the router is the route's HTTP reverse proxy (src/data-path/http/); null = byte stream. */
  readonly http: HttpTerminateSettings | null;
}

/** `terminate.http`: HTTP termination. Every field has its default filled in by the validator. */
export interface HttpTerminateSettings {
  /** `Strict-Transport-Security` value added to every response (`max-age=31536000`), or null for none. */
  readonly hsts: string | null;
  /** Peers whose X-Forwarded-For is kept and appended to (besides accept_proxy_protocol's trusted networks). */
  readonly trustedForwarders: readonly Cidr[];
  /** Largest request head (request line and headers) accepted; larger gets 431. */
  readonly maxHeaderBytes: number;
  /** Largest request body accepted; larger gets 413. 0 = no limit (bodies stream through). */
  readonly maxBodyBytes: number;
  /** A request's head must arrive within this, from the connection's start or the previous response. */
  readonly headersTimeoutMs: number;
  /** A request (head and body) must arrive within this. */
  readonly requestTimeoutMs: number;
  /** The backend's response head must come within this, or 504. */
  readonly responseTimeoutMs: number;
  /** Idle kept-alive connections (client side and backend side) close after this. */
  readonly keepAliveMs: number;
  /** Most connections the router opens to one backend of the pool at once (more requests queue). */
  readonly maxBackendConnections: number;
}

export const DEFAULT_HTTP_TERMINATE: HttpTerminateSettings = Object.freeze({
  hsts: null,
  trustedForwarders: Object.freeze([]) as readonly Cidr[],
  maxHeaderBytes: 16 * 1024,
  maxBodyBytes: 0,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 300_000,
  responseTimeoutMs: 60_000,
  keepAliveMs: 5_000,
  maxBackendConnections: 64,
});

/** What a pool's backends speak in HTTP mode: HTTP/1.1 (default) or HTTP/2 by prior knowledge (h2c). */
export type BackendProtocol = 'http/1.1' | 'h2c';
export const BACKEND_PROTOCOLS: readonly BackendProtocol[] = ['http/1.1', 'h2c'];
export const DEFAULT_BACKEND_PROTOCOL: BackendProtocol = 'http/1.1';

export interface CertificatePair {
  readonly certFile: string;
  readonly keyFile: string;
  readonly ocspFile: string | null;
}

/** Every certificate of a terminate setting, in the order given. */
export function certificatePairsOf(settings: Pick<TerminateSettings, 'certFile' | 'keyFile'> & { readonly ocspFile?: string | null; readonly certs?: readonly CertificatePair[] | null }): readonly CertificatePair[] {
  return settings.certs ?? [{ certFile: settings.certFile, keyFile: settings.keyFile, ocspFile: settings.ocspFile ?? null }];
}

export const TLS_MIN_VERSIONS: readonly TlsMinVersion[] = ['TLSv1.2', 'TLSv1.3'];
export const DEFAULT_TLS_MIN_VERSION: TlsMinVersion = 'TLSv1.2';
/**
 * Byte-stream terminate forwards the client's bytes as they are, so it offers only what a plaintext backend is
 * safe to assume to speak: HTTP/1.1. (Offering h2 to an HTTP/1.1 backend fails every h2-capable client.)
 */
export const DEFAULT_TERMINATE_ALPN: readonly string[] = Object.freeze(['http/1.1']);
/** HTTP mode speaks to the backend itself, so clients may use either. */
export const DEFAULT_HTTP_TERMINATE_ALPN: readonly string[] = Object.freeze(['h2', 'http/1.1']);
/** What `terminate:` holds beside cert and key when the operator gives nothing else (alpn: DEFAULT_HTTP_TERMINATE_ALPN with http). */
export const DEFAULT_TERMINATE: Omit<TerminateSettings, 'certFile' | 'keyFile'> = Object.freeze({
  minVersion: DEFAULT_TLS_MIN_VERSION,
  alpn: DEFAULT_TERMINATE_ALPN,
  clientCaFile: null,
  backendTls: null,
  http: null,
  ocspFile: null,
  certs: null,
});
/** The ALPN a terminate offers when it sets none: byte stream or HTTP mode. */
export function defaultTerminateAlpn(http: HttpTerminateSettings | null): readonly string[] {
  return http ? DEFAULT_HTTP_TERMINATE_ALPN : DEFAULT_TERMINATE_ALPN;
}

export interface PoolConfig {
  readonly backends: readonly BackendAddress[];
  readonly proxyProtocol: ProxyProtocolMode;
  readonly balance: BalanceAlgorithm;
  /** Active checks; null = passive health only. */
  readonly health: HealthSettings | null;
  /** What the backends speak to an HTTP-mode route: `protocol: h2c` = HTTP/2 by prior knowledge; default http/1.1. */
  readonly protocol: BackendProtocol;
}

/** A route's pool for clients that offer this ALPN protocol (route `alpn: { "acme-tls/1": [backends] }`). */
export interface AlpnPool {
  readonly protocol: string;
  readonly pool: PoolConfig;
}

export interface RouteConfig {
  /** The key exactly as written: `app.example.com`, `*.example.org`, `~^api-[0-9]+\.example\.net$`. */
  readonly name: string;
  readonly kind: RouteKind;
  /**
   * For exact and wildcard routes: the normalized name (lower case, no trailing dot; for wildcards the suffix
   * including the leading dot, e.g. `.example.org`). For regex routes: the regex source without the `~`.
   */
  readonly pattern: string;
  readonly pool: PoolConfig;
  readonly terminate: TerminateSettings | null;
  readonly source: SourcePosition | null;
  /** Pools by offered ALPN protocol, tried in file order before `pool`; [] = none. */
  readonly alpn: readonly AlpnPool[];
  /** Used when every backend of the chosen pool is down or fails; null = close (backend_unavailable). */
  readonly fallback: PoolConfig | null;
  /** `quic_backends`: where this route's QUIC flows go; null = the pool's backends, same host:port, over UDP. */
  readonly quicBackends: readonly BackendAddress[] | null;
}

export interface Timeouts {
  readonly clientHelloMs: number;
  readonly connectMs: number;
  readonly idleMs: number;
}

export interface Config {
  readonly listen: readonly ListenAddress[];
  /** Default PROXY mode for pools that do not set their own. */
  readonly proxyProtocol: ProxyProtocolMode;
  readonly timeouts: Timeouts;
  /** Cap on the bytes of TLS records carrying the ClientHello; past it the connection closes (hello_too_large). */
  readonly maxHelloBytes: number;
  /** In file order (regex precedence depends on it), then routes added by flags. */
  readonly routes: readonly RouteConfig[];
  /** Pool for unmatched or missing SNI; null closes such connections (reason no_route). */
  readonly defaultPool: PoolConfig | null;
  readonly logLevel: string;
  readonly admin: AdminAddress | null;
  /** SIGTERM/SIGINT: how long open connections may take to finish before they are closed (reason shutdown). */
  readonly shutdownGraceMs: number;
  /** Processes sharing the listeners (node:cluster); 1 = no cluster. `auto` was resolved to the core count. */
  readonly workers: number;
  /**
   * Which data plane carries connections (`data_plane`, `--data-plane`); when neither gives one, the default
   * (SNI_ROUTER_DATA_PLANE, else auto: src/config/operations.ts). `stated` says whether the operator named it.
   */
  readonly dataPlane: DataPlaneChoice;
  /** Absolute path of the YAML file, or null in quick mode (flags only). */
  readonly sourceFile: string | null;
  /** Hello-phase caps: DEFAULT_LIMITS for what the file left out. */
  readonly limits: Limits;
  /** The `quic:` bounds (src/config/quic-keys.ts): QUIC_DEFAULTS for what the file left out. */
  readonly quic: QuicSettings;
  /**
   * Which of the settings `check` and `--print-config` show only when stated were stated (in the file, or
   * `--workers`), so that a table or printed file says what the operator said, even when it is the default.
   */
  readonly stated: readonly StatedSetting[];
}

/** Settings shown by `check` and written by `--print-config` only when the operator gave them. */
export type StatedSetting = 'shutdown_grace' | 'workers' | 'data_plane' | 'limits' | 'quic';

export const DEFAULT_WORKERS = 1;

export const DEFAULT_TIMEOUTS: Timeouts = Object.freeze({
  clientHelloMs: 5_000,
  connectMs: 3_000,
  idleMs: 10 * 60_000,
});

export const DEFAULT_MAX_HELLO_BYTES = 64 * 1024;

/** The admin listener. A non-loopback address is refused unless `allowNonLoopback` (long form) says so. */
export interface AdminAddress extends HostPort {
  readonly allowNonLoopback: boolean;
}

export const DEFAULT_SHUTDOWN_GRACE_MS = 30_000;
/** `workers: auto` and larger numbers are capped here: past it the processes only fight over the same cores. */
export const MAX_WORKERS = 64;
/** Hard ceiling for `max_hello_bytes`, rejected at config time (Envoy does the same): a hello is never this big. */
export const MAX_MAX_HELLO_BYTES = 1024 * 1024;

/** Hello-phase limits are on unless raised: one address may not hold more than this many unfinished hellos. */
export const DEFAULT_LIMITS: Limits = Object.freeze({
  maxHelloConnections: 10_000,
  maxHelloConnectionsPerClient: 256,
  // 64 MiB: a thousand real hellos of 64 KiB at once (real ones are 0.5–2 KiB), and a bound on a flood's memory.
  maxHelloBytesTotal: 64 * 1024 * 1024,
  maxConnectionRatePerClient: null,
});

export const DEFAULT_HEALTH = Object.freeze({ intervalMs: 5_000, timeoutMs: 2_000, rise: 2, fall: 3 });
