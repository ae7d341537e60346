/**
 * What an HTTP-mode request needs from the connection it came on: who the client is, which pool serves it, where
 * to log, and where to count. The connection builds one at hand-over (src/data-path/http-hand-off.ts).
 */
import type { Logger } from 'pino';
import type { BackendAddress } from '../../config/types.js';
import type { CloseReason } from '../../ops/close-reason.js';
import type { Pool } from '../../pools/pool.js';

export interface HttpConnectionContext {
  readonly connectionId: string;
  /** The client's address (a trusted PROXY header's, when the listener reads one) and port. */
  readonly clientAddress: string;
  readonly clientPort: number;
  /** The immediate peer may speak for others (accept_proxy_protocol trusted, or in trusted_forwarders). */
  readonly isPeerTrusted: boolean;
  /** The port the client connected to. */
  readonly localPort: number;
  readonly route: string;
  readonly pool: Pool;
  readonly logger: Logger;
  /** A host-name backend's resolved address (src/pools/resolve.ts). */
  addressFor(backend: BackendAddress): string;
  /** Plaintext bytes of requests and responses, for the connection's own line. */
  countBytes(bytesIn: number, bytesOut: number): void;
  /** A request went to this backend (the connection line's `backend` is the last one). */
  usedBackend(label: string): void;
  /** Why the connection ends, when not `done`; null keeps the default (a reset of the client). */
  setCloseReason(reason: CloseReason | null, detail: string): void;
}
