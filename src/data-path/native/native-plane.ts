/**
 * The native data plane with its TypeScript half: the C side owns sockets, timers and bytes; this side reads each
 * connection's ClientHello incrementally with the project's ClientHelloReader, on the bytes the C side hands up in
 * batches, and asks a `decide` function what to do. `decide` is plain data in, plain data out, so this file knows
 * nothing of snapshots, pools or the router: the composition root supplies it.
 */
import { closeSync } from 'node:fs';
import { ClientHelloReader, type HelloResult } from '../../wire/client-hello.js';
import type { CloseReason } from '../../ops/close-reason.js';
import type { ProxyEndpoint } from '../../wire/proxy-header.js';
import type {
  ClosedEvent,
  ConnectedEvent,
  ListenOptions,
  NativeAddon,
  NativeBackend,
  NativeConnection,
  NativeEvent,
  NativePlaneOptions,
  NativeStats,
  RawNativePlane,
} from './addon.js';

export type FinalHelloResult = Exclude<HelloResult, { readonly kind: 'need_more' }>;

/** What `decide` is told about a connection whose hello reader gave its final answer. */
export interface HelloVerdict {
  readonly connId: number;
  readonly listenerId: number;
  readonly client: ProxyEndpoint;
  readonly local: ProxyEndpoint;
  readonly result: FinalHelloResult;
}

/**
 * What to do with a connection. `context` is kept for the connection's life and handed back to `onClosed`:
 * the caller keeps exactly what its access line needs (nothing is retained otherwise, so an idle connection
 * costs the plane's C struct and one Map entry at most).
 */
export type Decision<Context> =
  | {
      readonly kind: 'route';
      /** Tried in order: the next on refusal or connect timeout. IP literals. */
      readonly backends: readonly NativeBackend[];
      /** Sent before the peeked bytes, in the same write (e.g. a PROXY v2 header), or null. */
      readonly header: Uint8Array | null;
      readonly connectTimeoutMs: number;
      readonly idleTimeoutMs: number;
      readonly context?: Context;
    }
  | { readonly kind: 'close'; readonly reason: CloseReason; readonly context?: Context }
  /** TypeScript takes the socket over (terminate routes, inbound PROXY): see `onHandoff`. */
  | { readonly kind: 'handoff' };

/** A connection that closed before its hello was decided (hello timeout, reset, early FIN). */
export interface UndecidedConnection {
  readonly listenerId: number;
  readonly client: ProxyEndpoint;
  readonly local: ProxyEndpoint;
}

export interface HandedOffSocket {
  /** Give it to `new net.Socket({ fd, readable: true, writable: true })`; the plane no longer knows it. */
  readonly fd: number;
  /** Every byte read from the client so far: replay them to the next reader (`socket.unshift` or TLS). */
  readonly peeked: Buffer;
}

export interface NativeDataPlaneOptions<Context> extends NativePlaneOptions {
  readonly maxHelloBytes: number;
  readonly decide: (verdict: HelloVerdict) => Decision<Context>;
  /**
   * Right after accept, before any byte is read: false refuses the connection (closed at once with reason
   * `limit`, and no `onClosed` for it: a refusal is the caller's to report, as a refused accept is).
   */
  readonly admit?: (connId: number, connection: UndecidedConnection) => boolean;
  /** The bytes an undecided connection's hello holds now (for a total budget); called as they grow. */
  readonly onHelloBytes?: (connId: number, heldBytes: number) => void;
  readonly onHandoff?: (verdict: HelloVerdict, socket: HandedOffSocket) => void;
  readonly onConnected?: (event: ConnectedEvent) => void;
  /**
   * Once per connection the plane closed. `context`: what `decide` returned with its decision (null without
   * one); `undecided`: set instead when it closed before the decision.
   */
  readonly onClosed?: (event: ClosedEvent, context: Context | null, undecided: UndecidedConnection | null) => void;
  readonly onEmfile?: (listenerId: number) => void;
  /** A `decide` or handler that threw: the connection is closed (no_route) and the router keeps serving. */
  readonly onError?: (error: unknown) => void;
}

/** A connection waiting for its hello. */
interface Pending extends UndecidedConnection {
  readonly reader: ClientHelloReader;
  held: number;
}

export class NativeDataPlane<Context = never> {
  readonly #plane: RawNativePlane;
  readonly #options: NativeDataPlaneOptions<Context>;
  readonly #pending = new Map<number, Pending>();
  /** Decided connections whose decision carried a context. */
  readonly #contexts = new Map<number, Context>();
  /** Refused by `admit`: their closed event is swallowed. */
  readonly #refused = new Set<number>();

  constructor(addon: NativeAddon, options: NativeDataPlaneOptions<Context>) {
    this.#options = options;
    const planeOptions: NativePlaneOptions = {
      maxHelloBytes: options.maxHelloBytes,
      ...(options.helloTimeoutMs === undefined ? {} : { helloTimeoutMs: options.helloTimeoutMs }),
      ...(options.forceCopy === undefined ? {} : { forceCopy: options.forceCopy }),
    };
    this.#plane = addon.createPlane((events) => this.#onEvents(events), planeOptions);
  }

  listen(options: ListenOptions): { readonly listenerId: number; readonly port: number } {
    return this.#plane.listen(options);
  }

  closeListener(listenerId: number): boolean {
    return this.#plane.closeListener(listenerId);
  }

  close(connId: number, reason: CloseReason): boolean {
    return this.#plane.close(connId, reason);
  }

  setHelloTimeout(ms: number): void {
    this.#plane.setHelloTimeout(ms);
  }

  stats(): NativeStats {
    return this.#plane.stats();
  }

  connections(): NativeConnection[] {
    return this.#plane.connections();
  }

  /** Closes everything (reason shutdown); the last closed events are delivered before it returns. */
  destroy(): void {
    this.#plane.destroy();
    this.#pending.clear();
    this.#contexts.clear();
    this.#refused.clear();
  }

  #onEvents(events: readonly NativeEvent[]): void {
    for (const event of events) {
      try {
        this.#onEvent(event);
      } catch (error) {
        if ('connId' in event) this.#plane.close(event.connId, 'no_route');
        this.#options.onError?.(error);
      }
    }
  }

  #onEvent(event: NativeEvent): void {
    switch (event.kind) {
      case 'accepted': {
        const pending: Pending = {
          listenerId: event.listenerId,
          client: { address: event.clientAddress, port: event.clientPort },
          local: { address: event.localAddress, port: event.localPort },
          reader: new ClientHelloReader({ maxHelloBytes: this.#options.maxHelloBytes }),
          held: 0,
        };
        if (this.#options.admit !== undefined && !this.#options.admit(event.connId, pending)) {
          this.#refused.add(event.connId);
          this.#plane.close(event.connId, 'limit');
          return;
        }
        this.#pending.set(event.connId, pending);
        this.#onBytes(event.connId, pending, event.bytes, event.end);
        return;
      }
      case 'hello': {
        const pending = this.#pending.get(event.connId);
        if (pending !== undefined) this.#onBytes(event.connId, pending, event.bytes, event.end);
        return;
      }
      case 'connected':
        this.#options.onConnected?.(event);
        return;
      case 'closed': {
        if (this.#refused.delete(event.connId)) return;
        const pending = this.#pending.get(event.connId) ?? null;
        const context = this.#contexts.get(event.connId);
        if (pending !== null) this.#pending.delete(event.connId);
        if (context !== undefined) this.#contexts.delete(event.connId);
        this.#options.onClosed?.(event, context ?? null, pending);
        return;
      }
      case 'emfile':
        this.#options.onEmfile?.(event.listenerId);
        return;
    }
  }

  #onBytes(connId: number, pending: Pending, bytes: Buffer, isEnd: boolean): void {
    const result = bytes.length > 0 ? pending.reader.push(bytes) : ({ kind: 'need_more' } as const);
    if (result.kind === 'need_more') {
      pending.held += bytes.length;
      if (bytes.length > 0) this.#options.onHelloBytes?.(connId, pending.held);
      if (isEnd) this.#plane.close(connId, 'client_reset'); // FIN before a complete hello: nothing to route
      return;
    }
    this.#pending.delete(connId);
    const verdict: HelloVerdict = { connId, listenerId: pending.listenerId, client: pending.client, local: pending.local, result };
    const decision = this.#options.decide(verdict);
    switch (decision.kind) {
      case 'route':
        if (decision.context !== undefined) this.#contexts.set(connId, decision.context);
        this.#plane.route(connId, decision.backends, decision.header, decision.connectTimeoutMs, decision.idleTimeoutMs);
        return;
      case 'close':
        if (decision.context !== undefined) this.#contexts.set(connId, decision.context);
        this.#plane.close(connId, decision.reason);
        return;
      case 'handoff': {
        const socket = this.#plane.handoff(connId);
        if (socket === null) return;
        if (this.#options.onHandoff === undefined) closeSync(socket.fd); // nobody to take it: never leak it
        else this.#options.onHandoff(verdict, socket);
        return;
      }
    }
  }
}
