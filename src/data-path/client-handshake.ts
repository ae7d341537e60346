/**
 * The handshaking stage of a terminated connection: the server side of TLS on the client's own socket, fed the
 * peeked ClientHello (terminate.ts), and the client's certificate judged once the handshake is done (mTLS). It
 * reports the outcome once; the TLS socket's plaintext and FIN go to the owner as the connection's client bytes.
 */
import type net from 'node:net';
import type tls from 'node:tls';
import { acceptTls, type NegotiatedTls, negotiatedOf, refusalOf, type TerminateProfile } from './terminate.js';

export interface HandshakeOwner {
  /** The handshake is done and the client's certificate (if asked for) accepted. */
  handshakeDone(negotiated: NegotiatedTls): void;
  /** The handshake failed, the client left during it, the certificate was refused, or TLS failed later. */
  handshakeFailed(detail: string, negotiated: NegotiatedTls | null): void;
  /** Plaintext from the client (none comes before 'secure'). */
  onClientData(chunk: Buffer): void;
  onClientEnd(): void;
}

const kHandshake = Symbol('sni-router.handshake');
type TaggedSocket = tls.TLSSocket & { [kHandshake]: ClientHandshake };

export class ClientHandshake {
  /** The client's stream from here on: plaintext in, plaintext out. */
  readonly secure: tls.TLSSocket;
  readonly #profile: TerminateProfile;
  readonly #owner: HandshakeOwner;
  #isDone = false;

  /** `raw` must be paused, with no 'data' or 'end' listener left (the TLS layer alone reads it from here). */
  constructor(raw: net.Socket, peeked: readonly Buffer[], profile: TerminateProfile, owner: HandshakeOwner) {
    this.#profile = profile;
    this.#owner = owner;
    const secure = acceptTls(raw, peeked, profile) as TaggedSocket;
    secure[kHandshake] = this;
    this.secure = secure;
    secure.on('error', secureOnError);
    secure.on('close', secureOnClose);
    secure.once('secure', secureOnSecure);
    // Flowing while the handshake runs, so that a client leaving mid-handshake is seen ('end' needs a reader).
    secure.on('data', secureOnData);
    secure.on('end', secureOnEnd);
  }

  /** Hands the TLS socket to the splice: its handlers replace these, bar 'error' (a TLS error stays the client's). */
  release(): void {
    this.secure.removeListener('data', secureOnData);
    this.secure.removeListener('end', secureOnEnd);
  }

  /** @internal */
  onSecure(): void {
    const secure = this.secure;
    const negotiated = negotiatedOf(secure, this.#profile);
    const refusal = refusalOf(secure, this.#profile, negotiated);
    if (refusal !== null) {
      this.#owner.handshakeFailed(refusal, negotiated);
      return;
    }
    this.#isDone = true;
    secure.pause(); // plaintext waits in the TLS socket until the backend is up
    this.#owner.handshakeDone(negotiated);
  }

  /** @internal */
  onError(error: NodeJS.ErrnoException): void {
    this.#owner.handshakeFailed(`${this.#isDone ? 'TLS error' : 'TLS handshake failed'}: ${error.code ?? error.message}`, null);
  }

  /** @internal */
  onClose(): void {
    if (!this.#isDone) this.#owner.handshakeFailed('client left during the TLS handshake', null);
  }

  /** @internal */
  onData(chunk: Buffer): void {
    this.#owner.onClientData(chunk);
  }

  /** @internal */
  onEnd(): void {
    if (this.#isDone) this.#owner.onClientEnd();
    else this.#owner.handshakeFailed('client left during the TLS handshake', null);
  }
}

function secureOnSecure(this: TaggedSocket): void {
  this[kHandshake].onSecure();
}
function secureOnError(this: TaggedSocket, error: NodeJS.ErrnoException): void {
  this[kHandshake].onError(error);
}
function secureOnClose(this: TaggedSocket): void {
  this[kHandshake].onClose();
}
function secureOnData(this: TaggedSocket, chunk: Buffer): void {
  this[kHandshake].onData(chunk);
}
function secureOnEnd(this: TaggedSocket): void {
  this[kHandshake].onEnd();
}
