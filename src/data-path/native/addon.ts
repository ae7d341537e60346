/**
 * The types of the native data plane's Node-API surface (native/binding.c, native/events.c). Kept by hand: the
 * C side is small and changes rarely; test/native checks the shapes against the real addon.
 */
import type { CloseReason } from '../../ops/close-reason.js';

export interface ListenOptions {
  /** An IP literal ('127.0.0.1', '::1', '0.0.0.0', '::'); names are resolved by the caller. */
  readonly host: string;
  /** 0 = any free port (the one chosen is returned). */
  readonly port: number;
  readonly backlog?: number;
  /** SO_REUSEPORT: several workers may listen on the same address, the kernel spreads connections. */
  readonly reusePort?: boolean;
  /** IPV6_V6ONLY on an IPv6 socket ('[::]:443' beside '0.0.0.0:443'); false = dual stack. */
  readonly ipv6Only?: boolean;
}

export interface NativeBackend {
  /** An IP literal. */
  readonly host: string;
  readonly port: number;
}

/** The first event of a connection, right after accept: what arrived already (often the whole hello). */
export interface AcceptedEvent {
  readonly kind: 'accepted';
  readonly connId: number;
  readonly listenerId: number;
  readonly clientAddress: string;
  readonly clientPort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** Bytes read so far (may be empty). */
  readonly bytes: Buffer;
  /** The client sent FIN after these bytes. */
  readonly end: boolean;
}

/** More bytes while the connection waits for its decision: only the new ones. */
export interface HelloBytesEvent {
  readonly kind: 'hello';
  readonly connId: number;
  readonly bytes: Buffer;
  readonly end: boolean;
}

export interface ConnectedEvent {
  readonly kind: 'connected';
  readonly connId: number;
  /** Index into the backends given to route(). */
  readonly backendIndex: number;
  readonly connectUs: number;
}

export interface ClosedEvent {
  readonly kind: 'closed';
  readonly connId: number;
  readonly listenerId: number;
  readonly reason: CloseReason;
  /** Client → backend bytes delivered to the backend (peeked bytes included, the PROXY header not). */
  readonly bytesIn: number;
  /** Backend → client bytes delivered to the client. */
  readonly bytesOut: number;
  /** The backend that connected, or -1. */
  readonly backendIndex: number;
  /** Connect attempts made. */
  readonly tries: number;
  /** Why the last connect attempt failed, as node names it ('ECONNREFUSED', 'ETIMEDOUT', …), or null. */
  readonly connectError: string | null;
  readonly durationMs: number;
}

/** A listener ran out of descriptors (or memory) and stops accepting for 2 s. Once per pause. */
export interface EmfileEvent {
  readonly kind: 'emfile';
  readonly listenerId: number;
}

export type NativeEvent = AcceptedEvent | HelloBytesEvent | ConnectedEvent | ClosedEvent | EmfileEvent;

export interface NativeStats {
  readonly openConnections: number;
  readonly listeners: number;
  readonly pipesInUse: number;
  readonly pipesOpen: number;
  readonly helloBuffers: number;
  readonly accepted: number;
  readonly closed: number;
  readonly handedOff: number;
  readonly emfilePauses: number;
  readonly spliceRefused: number;
  readonly connectFailures: number;
  readonly closedByReason: Readonly<Record<CloseReason, number>>;
}

export type NativeConnectionState = 'hello' | 'connecting' | 'sending' | 'splicing';

export interface NativeConnection {
  readonly connId: number;
  readonly state: NativeConnectionState;
  readonly listenerId: number;
  readonly clientAddress: string;
  readonly clientPort: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly backendIndex: number;
  readonly ageMs: number;
}

export interface RawNativePlane {
  /** Throws an Error with `code` (EADDRINUSE, EACCES, EINVAL, EMFILE) when the socket cannot be opened. */
  listen(options: ListenOptions): { readonly listenerId: number; readonly port: number };
  closeListener(listenerId: number): boolean;
  /**
   * Connects to backends in the order given (next one on refusal or connect timeout), sends header + the bytes
   * peeked so far in one write, then splices both ways. 0 ms = no timeout. False: the connection is gone or was
   * decided already.
   */
  route(connId: number, backends: readonly NativeBackend[], header: Uint8Array | null, connectTimeoutMs: number, idleTimeoutMs: number): boolean;
  close(connId: number, reason: CloseReason): boolean;
  /** While still undecided: the fd becomes the caller's (new net.Socket({ fd })), with the bytes already read. */
  handoff(connId: number): { readonly fd: number; readonly peeked: Buffer } | null;
  /** For connections accepted from now on. */
  setHelloTimeout(ms: number): void;
  stats(): NativeStats;
  connections(): NativeConnection[];
  /** Closes every listener and connection (reason shutdown), delivers the last events, frees everything. */
  destroy(): void;
}

export interface NativePlaneOptions {
  /** 0 = none. Default 10 000. */
  readonly helloTimeoutMs?: number;
  /** Default 65 536; the hello buffer holds this + 16 KiB. */
  readonly maxHelloBytes?: number;
  /** Test hook: never splice(2) from a socket (the copy fallback path). */
  readonly forceCopy?: boolean;
}

export interface NativeAddon {
  createPlane(onEvents: (events: readonly NativeEvent[]) => void, options?: NativePlaneOptions): RawNativePlane;
  readonly closeReasons: readonly CloseReason[];
}
