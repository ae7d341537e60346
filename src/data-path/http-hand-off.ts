/**
 * The serving_http stage's hand-off: a terminate.http route's TLS socket goes to the route's HTTP proxy (http/),
 * which owns it from then on. The connection keeps only the socket's 'close', to write its own access line.
 *
 * The context the proxy reads is one object with methods rather than an object literal of arrow functions, so a
 * hand-off allocates no closures (the house style for per-connection code); the 'close' handler is module-level
 * and finds its context through a symbol on the socket.
 */
import type tls from 'node:tls';
import type { Logger } from 'pino';
import type { BackendAddress } from '../config/types.js';
import type { CloseReason } from '../ops/close-reason.js';
import type { Pool } from '../pools/pool.js';
import { isAddressInAny } from '../wire/cidr.js';
import { displayAddress } from '../wire/address.js';
import type { ConnectionRecord } from './access-line.js';
import type { ClientHandshake } from './client-handshake.js';
import type { ConnectionHost, RoutingState } from './connection-host.js';
import type { HttpConnectionContext } from './http/context.js';
import type { HttpProfile } from './http/http-proxy.js';

/** The connection behind a hand-off: it learns when the HTTP proxy is done with the socket. */
export interface HttpHandOffOwner {
  readonly id: string;
  /** The TLS socket closed: the connection ends with `reason` (`done` unless the proxy said otherwise). */
  httpServingClosed(handshake: ClientHandshake, reason: CloseReason): void;
}

const kHandOff = Symbol('sni-router.http-hand-off');
type TaggedSecure = tls.TLSSocket & { [kHandOff]: HttpHandOff };

/** What the HTTP proxy learns of the connection, and where its counts and its close reason land (the record). */
export class HttpHandOff implements HttpConnectionContext {
  readonly connectionId: string;
  readonly clientAddress: string;
  readonly clientPort: number;
  readonly isPeerTrusted: boolean;
  readonly localPort: number;
  readonly route: string;
  readonly pool: Pool;
  readonly logger: Logger;
  /** `done` until the proxy names a failure; the connection closes with it when the socket does. */
  closeReason: CloseReason = 'done';
  readonly owner: HttpHandOffOwner;
  readonly handshake: ClientHandshake;
  readonly #record: ConnectionRecord;
  readonly #routing: RoutingState;

  constructor(owner: HttpHandOffOwner, handshake: ClientHandshake, http: HttpProfile, record: ConnectionRecord, host: ConnectionHost<unknown>, peer: string) {
    this.owner = owner;
    this.handshake = handshake;
    this.#record = record;
    this.#routing = host.snapshot;
    this.connectionId = owner.id;
    this.clientAddress = displayAddress(record.clientAddress);
    this.clientPort = record.clientPort;
    this.isPeerTrusted = host.inboundProxy === 'trusted' || isAddressInAny(peer, http.settings.trustedForwarders);
    this.localPort = record.localPort;
    this.route = record.routeName ?? 'default';
    this.pool = this.#routing.pool(record.match!.pool);
    this.logger = host.logger;
  }

  addressFor(backend: BackendAddress): string {
    return this.#routing.addressFor(backend);
  }

  countBytes(bytesIn: number, bytesOut: number): void {
    this.#record.bytesIn += bytesIn;
    this.#record.bytesOut += bytesOut;
  }

  usedBackend(label: string): void {
    this.#record.backend = label;
  }

  setCloseReason(reason: CloseReason | null, detail: string): void {
    if (reason !== null) this.closeReason = reason;
    this.#record.detail = detail;
  }
}

/**
 * First half of the hand-off: takes the TLS socket from the handshake and builds what the proxy will read. In two
 * halves so that the connection enters serving_http between them, as it always has: after the context is built,
 * before the socket's 'close' is watched. `peer`: the immediate peer's address, for trusted_forwarders.
 */
export function handOffToHttp(
  owner: HttpHandOffOwner,
  handshake: ClientHandshake,
  http: HttpProfile,
  record: ConnectionRecord,
  host: ConnectionHost<unknown>,
  peer: string,
): HttpHandOff {
  handshake.release();
  handshake.secure.resume(); // ClientHandshake paused it for a dial; the HTTP server reads it
  record.mode = 'http';
  return new HttpHandOff(owner, handshake, http, record, host, peer);
}

/**
 * Second half, once the connection is in serving_http: watch the socket's close, start serving. Runs synchronously
 * within 'secure', so no plaintext was read meanwhile but what `pending` holds, which goes with it.
 */
export function startHttpServing(handOff: HttpHandOff, http: HttpProfile, pending: Buffer[]): void {
  const secure = handOff.handshake.secure as TaggedSecure;
  secure[kHandOff] = handOff;
  secure.once('close', secureOnClose);
  http.serve(secure, handOff, pending.length > 0 ? Buffer.concat(pending) : null);
}

function secureOnClose(this: TaggedSecure): void {
  const handOff = this[kHandOff];
  handOff.owner.httpServingClosed(handOff.handshake, handOff.closeReason);
}
