/**
 * The resolved, validated configuration: what the router runs on.
 *
 * Produced only by `loadConfig` (src/config/load.ts), deep-frozen, and never mutated: each connection keeps the
 * snapshot it started with, so a reload can swap the whole object at once.
 */

export type ProxyProtocolMode = 'v2' | 'v1' | 'none';
export type BalanceAlgorithm = 'round-robin' | 'least-conn' | 'random' | 'source-hash';
export type RouteKind = 'exact' | 'wildcard' | 'regex';

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

export interface ListenAddress extends HostPort {
  /**
   * `:8443` means every IPv4 and IPv6 address: host '::' with ipv6Only false (one dual-stack socket).
   * `[::]:8443` means IPv6 only, so that it can sit beside `0.0.0.0:8443` as SPEC's example does.
   */
  readonly ipv6Only: boolean;
}

export type BackendAddress = HostPort;

export interface TerminateSettings {
  /** Absolute paths (relative ones were resolved against the config file's folder). */
  readonly certFile: string;
  readonly keyFile: string;
}

export interface PoolConfig {
  readonly backends: readonly BackendAddress[];
  readonly proxyProtocol: ProxyProtocolMode;
  readonly balance: BalanceAlgorithm;
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
  readonly admin: HostPort | null;
  /** Absolute path of the YAML file, or null in quick mode (flags only). */
  readonly sourceFile: string | null;
}

export const DEFAULT_TIMEOUTS: Timeouts = Object.freeze({
  clientHelloMs: 5_000,
  connectMs: 3_000,
  idleMs: 10 * 60_000,
});

export const DEFAULT_MAX_HELLO_BYTES = 64 * 1024;
/** Hard ceiling for `max_hello_bytes`, rejected at config time (Envoy does the same): a hello is never this big. */
export const MAX_MAX_HELLO_BYTES = 1024 * 1024;
