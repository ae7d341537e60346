import { lowPortHint } from './low-port-hint.js';

/**
 * Every failure the router reports to an operator has a stable code (documented in docs/access-log.md, "Error codes").
 * Bad input on the wire is not an exception (readers return result kinds); these classes are for config,
 * start-up and connect failures that cross module boundaries.
 */

export const ERROR_CODES = {
  SNIR_ERR_CONFIG: 'the configuration or command line is invalid',
  SNIR_ERR_LISTEN: 'a listener could not be opened (port in use, permission, bad address)',
  SNIR_ERR_CONNECT_TIMEOUT: 'a backend did not accept the connection within timeouts.connect',
  SNIR_ERR_CONNECT_REFUSED: 'a backend refused or failed the connection',
  SNIR_ERR_CERT: 'certificate or key material could not be loaded',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class SniRouterError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SniRouterError';
    this.code = code;
  }
}

export class ConfigError extends SniRouterError {
  /** Every problem found, already formatted as `file:line:col: sentence`. */
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super('SNIR_ERR_CONFIG', problems.join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export class ListenError extends SniRouterError {
  readonly address: string;
  constructor(address: string, cause: unknown) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    const hint = lowPortHint(address, cause);
    super('SNIR_ERR_LISTEN', `cannot listen on ${address}: ${detail}${hint !== null ? `; ${hint}` : ''}`, { cause });
    this.name = 'ListenError';
    this.address = address;
  }
}

export class ConnectTimeoutError extends SniRouterError {
  constructor(backend: string, timeoutMs: number) {
    super('SNIR_ERR_CONNECT_TIMEOUT', `backend ${backend} did not accept within ${timeoutMs} ms`);
    this.name = 'ConnectTimeoutError';
  }
}

export class ConnectRefusedError extends SniRouterError {
  constructor(backend: string, cause: unknown) {
    const detail = cause instanceof Error ? ((cause as NodeJS.ErrnoException).code ?? cause.message) : String(cause);
    super('SNIR_ERR_CONNECT_REFUSED', `backend ${backend} failed: ${detail}`, { cause });
    this.name = 'ConnectRefusedError';
  }
}

export class CertificateError extends SniRouterError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SNIR_ERR_CERT', message, options);
    this.name = 'CertificateError';
  }
}
