/**
 * The stages of a connection (connection.ts), as one discriminated union: each stage names what it holds, so the
 * state machine needs no nullable fields and no non-null assertions to know what is live, and close(reason) frees
 * exactly what the stage it ends holds. Types only, apart from the shared 'closed' value.
 */
import type { Pool } from '../pools/pool.js';
import type { HelloBytes } from '../wire/hello-buffer.js';
import type { ProxyHeaderReader } from '../wire/proxy-reader.js';
import type { SniffReader } from '../wire/sniffer.js';
import type { BackendDialer } from './backend-dialer.js';
import type { ClientHandshake } from './client-handshake.js';
import type { Splice } from './splice.js';
import type { TerminateProfile } from './terminate.js';

/**
 * A connection is in one stage at a time, and each stage holds only its own data. Stages move forward only:
 *
 *   reading_proxy  listeners with accept_proxy_protocol only: a trusted peer's PROXY header, under
 *                  timeouts.client_hello; its client address replaces the peer's; the bytes after it are peeked
 *   peeking        the sniffer reads the first bytes (the ClientHello) under timeouts.client_hello; they are kept
 *   handshaking    terminate routes: the peeked bytes go to a server-side TLS session on the client's socket, under
 *                  a fresh timeouts.client_hello (terminate.ts); plaintext that comes early is kept
 *   dialing        route chosen, client paused, the pool's backends dialed in turn (backend-dialer.ts)
 *   splicing       header and kept bytes sent; both directions copied until both ends close (splice.ts)
 *   serving_http   terminate.http routes, after handshaking: the TLS socket belongs to the route's HTTP proxy
 *                  (http/, via http-hand-off.ts), which answers requests until the client leaves or a timeout cuts it;
 *                  serving_http_done once that socket has closed, for the close(reason) it triggers
 *   closed         close(reason) ran: sockets destroyed, timers cleared, access line written
 */
export type Stage =
  | { readonly name: 'reading_proxy'; readonly reader: ProxyHeaderReader; readonly timer: NodeJS.Timeout }
  | { readonly name: 'peeking'; readonly reader: SniffReader; readonly bytes: HelloBytes; readonly timer: NodeJS.Timeout }
  | { readonly name: 'handshaking'; readonly handshake: ClientHandshake; readonly profile: TerminateProfile; readonly pending: Buffer[]; readonly timer: NodeJS.Timeout }
  | { readonly name: 'dialing'; readonly handshake: ClientHandshake | null; readonly dialer: BackendDialer; readonly pending: Buffer[]; isClientEnded: boolean }
  | { readonly name: 'splicing'; readonly splice: Splice; readonly pool: Pool; readonly backendIndex: number }
  | { readonly name: 'serving_http' | 'serving_http_done'; readonly handshake: ClientHandshake }
  | { readonly name: 'closed' };

export const CLOSED: Stage = Object.freeze({ name: 'closed' });
