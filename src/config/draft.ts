/**
 * The config while it is being assembled: the file's settings first (validate.ts), then the flags over them
 * (flags.ts), then the last checks and the freeze (load.ts). Only load.ts turns a Draft into a Config.
 */
import {
  type AdminAddress,
  type BalanceAlgorithm,
  type DataPlaneChoice,
  DEFAULT_MAX_HELLO_BYTES,
  DEFAULT_TIMEOUTS,
  type Limits,
  type ListenAddress,
  type PoolConfig,
  type ProxyProtocolMode,
  type RouteConfig,
  type Timeouts,
} from './types.js';
import type { QuicSettings } from './quic-keys.js';

export const PROXY_PROTOCOL_MODES: readonly ProxyProtocolMode[] = ['v2', 'v1', 'none'];
export const BALANCE_ALGORITHMS: readonly BalanceAlgorithm[] = ['round-robin', 'least-conn', 'random', 'source-hash'];
/** pino's levels. */
export const LOG_LEVELS: readonly string[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export const FILE_DEFAULT_PROXY_PROTOCOL: ProxyProtocolMode = 'v2';
export const FLAG_DEFAULT_PROXY_PROTOCOL: ProxyProtocolMode = 'none';
export const DEFAULT_BALANCE: BalanceAlgorithm = 'round-robin';
export const DEFAULT_LOG_LEVEL = 'info';

export interface Draft {
  listen: ListenAddress[];
  /** A `listen` key or `--listen` flag was given (even a broken one): no "nothing to listen on" on top. */
  isListenGiven: boolean;
  proxyProtocol: ProxyProtocolMode;
  timeouts: Timeouts;
  maxHelloBytes: number;
  routes: RouteConfig[];
  defaultPool: PoolConfig | null;
  /** Some route or default was given (even a broken one): no "nothing to route" on top. */
  isRoutingGiven: boolean;
  /** The file's top level is not a mapping or has unknown keys (a misspelt 'listen'?): skip "nothing to …". */
  isTopLevelUnclear: boolean;
  logLevel: string;
  admin: AdminAddress | null;
  sourceFile: string | null;
  /** `shutdown_grace`, `workers` and `limits` when the file gives them; absent = their defaults (load.ts). */
  shutdownGraceMs?: number;
  workers?: number;
  /** `data_plane` when the file gives it; absent = the default (src/config/operations.ts, defaultDataPlane). */
  dataPlane?: DataPlaneChoice;
  limits?: Limits;
  /** The `quic:` section when the file gives it; absent = QUIC_DEFAULTS. */
  quic?: QuicSettings;
}

export function emptyDraft(proxyProtocol: ProxyProtocolMode, sourceFile: string | null): Draft {
  return {
    listen: [],
    isListenGiven: false,
    proxyProtocol,
    timeouts: { ...DEFAULT_TIMEOUTS },
    maxHelloBytes: DEFAULT_MAX_HELLO_BYTES,
    routes: [],
    defaultPool: null,
    isRoutingGiven: false,
    isTopLevelUnclear: false,
    logLevel: DEFAULT_LOG_LEVEL,
    admin: null,
    sourceFile,
  };
}

export function isProxyProtocolMode(value: unknown): value is ProxyProtocolMode {
  return typeof value === 'string' && (PROXY_PROTOCOL_MODES as readonly string[]).includes(value);
}

/**
 * The smallest cap that a ClientHello can fit under: record header (5) + handshake header (4) + client_version (2)
 * + random (32) + session_id length (1) + cipher_suites length (2) + one suite (2) + compression length (1) + null
 * compression (1) = 50 bytes (RFC 8446 §4.1.2, RFC 5246 §6.2.1). Below it, every connection would fail.
 */
export const MIN_MAX_HELLO_BYTES = 5 + 4 + 2 + 32 + 1 + 2 + 2 + 1 + 1;
