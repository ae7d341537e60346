/**
 * The splice: both directions of an established connection copied with backpressure, half-close passed on, bytes
 * counted. It owns the two sockets' handlers from start() on and reports how it ended; closing is the owner's.
 *
 *   client ──data──► backend.write (false: pause client until backend 'drain')
 *   client ◄─write── backend data  (false: pause backend until client 'drain')
 *   FIN either way ─► end() on the other side; both sockets closed ─► ended('done' | 'backend_closed_early')
 */
import type net from 'node:net';
import type { CloseReason } from '../ops/close-reason.js';

/**
 * How a splice ends: both sockets closed (`done`; `backend_closed_early` when the backend ended before sending a
 * byte while the client still talked), one failed (`client_reset`, `backend_reset`, `detail` the error code), or
 * no byte moved for the idle timeout.
 */
export type SpliceEnd = Extract<CloseReason, 'done' | 'backend_closed_early' | 'client_reset' | 'backend_reset' | 'idle_timeout'>;

/** How a splice reports to its connection, which then closes it. */
export interface SpliceOwner {
  spliceEnded(reason: SpliceEnd, detail?: string): void;
  /** The backend reset (ECONNRESET, EPIPE) before sending a byte: called before spliceEnded('backend_reset'). */
  backendRefused(code: string): void;
}

/** The bytes a splice counts, shared with the connection's record (added to, never reset). */
export interface ByteCounts {
  bytesIn: number;
  bytesOut: number;
}

/** What goes to the backend before the client's next bytes: the PROXY header (if not yet sent) and peeked bytes. */
export interface SpliceHead {
  readonly header: Buffer | null;
  readonly peeked: readonly Buffer[];
  /** The client's FIN already came (with its hello, say): pass it on right after the head. */
  readonly isClientEnded: boolean;
}

// Module-level handlers find their splice through a symbol: no closures per connection (the ws library's habit).
const kSplice = Symbol('sni-router.splice');
type TaggedSocket = net.Socket & { [kSplice]?: Splice };

export class Splice {
  readonly #client: TaggedSocket;
  readonly #backend: TaggedSocket;
  readonly #owner: SpliceOwner;
  readonly #counts: ByteCounts;
  #closedSockets = 0;
  #isClientEnded = false;
  #isBackendEndedEarly = false;
  #hasBackendSent = false;

  constructor(client: net.Socket, backend: net.Socket, owner: SpliceOwner, counts: ByteCounts) {
    this.#client = client as TaggedSocket;
    this.#backend = backend as TaggedSocket;
    this.#owner = owner;
    this.#counts = counts;
  }

  /**
   * Takes over both sockets (the client's previous handlers must be gone, bar 'error'), writes the head, and lets
   * bytes flow. `idleMs` 0: no idle timeout.
   */
  start(head: SpliceHead, idleMs: number): void {
    const client = this.#client;
    const backend = this.#backend;
    client[kSplice] = this;
    backend[kSplice] = this;
    client.on('error', clientOnError);
    client.on('data', clientOnData);
    client.on('end', clientOnEnd);
    client.on('close', onSocketClose);
    client.on('drain', clientOnDrain);
    client.on('timeout', clientOnTimeout);
    backend.on('error', backendOnError);
    backend.on('data', backendOnData);
    backend.on('end', backendOnEnd);
    backend.on('close', onSocketClose);
    backend.on('drain', backendOnDrain);

    // Header and hello leave in one segment where the kernel allows: cork, write all, uncork.
    backend.cork();
    if (head.header) backend.write(head.header);
    let isWritable = true;
    for (const chunk of head.peeked) isWritable = backend.write(chunk);
    this.#isClientEnded = head.isClientEnded;
    if (head.isClientEnded) backend.end();
    backend.uncork();
    // The client socket sees every byte either way, so its inactivity timer is the connection's idle timer.
    if (idleMs > 0) client.setTimeout(idleMs);
    if (isWritable) client.resume();
  }

  destroy(): void {
    this.#client.destroy();
    this.#backend.destroy();
  }

  /** @internal */
  onClientData(chunk: Buffer): void {
    this.#counts.bytesIn += chunk.length;
    if (!this.#backend.write(chunk)) this.#client.pause();
  }

  /** @internal */
  onBackendData(chunk: Buffer): void {
    this.#hasBackendSent = true;
    this.#counts.bytesOut += chunk.length;
    if (!this.#client.write(chunk)) this.#backend.pause();
  }

  /** @internal */
  onClientDrain(): void {
    this.#backend.resume();
  }

  /** @internal */
  onBackendDrain(): void {
    this.#client.resume();
  }

  /** @internal Half-close: a FIN from the client is passed on, the other direction stays open. */
  onClientEnd(): void {
    this.#isClientEnded = true;
    this.#backend.end();
  }

  /** @internal A backend ending before its first byte, while the client still talks, has dropped the connection. */
  onBackendEnd(): void {
    if (!this.#hasBackendSent && !this.#isClientEnded) this.#isBackendEndedEarly = true;
    this.#client.end();
  }

  /** @internal */
  onSocketClose(): void {
    this.#closedSockets++;
    if (this.#closedSockets === 2) this.#owner.spliceEnded(this.#isBackendEndedEarly ? 'backend_closed_early' : 'done');
  }

  /** @internal */
  onClientError(error: NodeJS.ErrnoException): void {
    this.#owner.spliceEnded('client_reset', error.code ?? error.message);
  }

  /** @internal */
  onBackendError(error: NodeJS.ErrnoException): void {
    const code = error.code ?? error.message;
    if (!this.#hasBackendSent && (code === 'ECONNRESET' || code === 'EPIPE')) this.#owner.backendRefused(code);
    this.#owner.spliceEnded('backend_reset', code);
  }

  /** @internal */
  onIdle(): void {
    this.#owner.spliceEnded('idle_timeout');
  }
}

function clientOnData(this: TaggedSocket, chunk: Buffer): void {
  this[kSplice]?.onClientData(chunk);
}
function clientOnEnd(this: TaggedSocket): void {
  this[kSplice]?.onClientEnd();
}
function clientOnDrain(this: TaggedSocket): void {
  this[kSplice]?.onClientDrain();
}
function clientOnError(this: TaggedSocket, error: NodeJS.ErrnoException): void {
  this[kSplice]?.onClientError(error);
}
function clientOnTimeout(this: TaggedSocket): void {
  this[kSplice]?.onIdle();
}
function backendOnData(this: TaggedSocket, chunk: Buffer): void {
  this[kSplice]?.onBackendData(chunk);
}
function backendOnEnd(this: TaggedSocket): void {
  this[kSplice]?.onBackendEnd();
}
function backendOnDrain(this: TaggedSocket): void {
  this[kSplice]?.onBackendDrain();
}
function backendOnError(this: TaggedSocket, error: NodeJS.ErrnoException): void {
  this[kSplice]?.onBackendError(error);
}
function onSocketClose(this: TaggedSocket): void {
  this[kSplice]?.onSocketClose();
}
