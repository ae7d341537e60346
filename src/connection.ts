import type net from 'node:net';
import type { Logger } from 'pino';
import { ClientHelloReader } from './client-hello.js';
import type { CloseReason } from './close-reason.js';
import { nextConnectionId } from './conn-id.js';
import { dial } from './dial.js';
import { encodeProxyHeader } from './proxy-header.js';
import { normalizeServerName } from './host-name.js';
import type { Pool } from './pool.js';
import type { Snapshot } from './snapshot.js';
import type { RouteMatch } from './route-table.js';
import { displayAddress } from './address.js';

/** What a connection needs from the listener that accepted it. */
export interface ConnectionHost {
  readonly snapshot: Snapshot;
  readonly listenerLabel: string;
  readonly logger: Logger;
  connectionClosed(connection: Connection): void;
}

export type ConnectionMode = 'passthrough' | 'terminate';

/**
 * The per-connection state machine. States move forward only:
 *
 *   PEEKING     reading the ClientHello under timeouts.client_hello; bytes are kept to forward later
 *   CONNECTING  route chosen, client paused, dialing the pool's backends in turn under timeouts.connect
 *   SPLICING    header and peeked bytes sent; both directions copied with backpressure until both ends close
 *   CLOSED      close(reason) ran: both sockets destroyed, timers cleared, access line written
 */
const PEEKING = 0;
const CONNECTING = 1;
const SPLICING = 2;
const CLOSED = 3;
type State = typeof PEEKING | typeof CONNECTING | typeof SPLICING | typeof CLOSED;

// Socket handlers are module-level functions that find their connection through a symbol, so that accepting a
// connection allocates no closures (the ws library's habit).
const kConnection = Symbol('sni-router.connection');
type TaggedSocket = net.Socket & { [kConnection]: Connection };

/** Longest SNI written to the log; a hello may carry a 64 KiB "name" and the log should not. */
const MAX_LOGGED_SNI_CHARS = 255;

export class Connection {
  readonly id = nextConnectionId();
  private state: State = PEEKING;
  private readonly client: TaggedSocket;
  private backend: TaggedSocket | null = null;
  private readonly host: ConnectionHost;
  private readonly startedAt = performance.now();
  /** Captured at accept: node reports undefined for these once a socket has closed. */
  private readonly clientAddress: string;
  private readonly clientPort: number;
  private readonly rawClientAddress: string;
  private readonly localAddress: string;
  private readonly localPort: number;

  private reader: ClientHelloReader | null;
  private peeked: Buffer[] = [];
  private helloTimer: NodeJS.Timeout | null = null;

  private sni: string | null = null;
  private alpn: readonly string[] = [];
  private match: RouteMatch | null = null;
  private pool: Pool | null = null;
  private backendIndex = -1;
  private backendLabel: string | null = null;
  private dialing: net.Socket | null = null;
  private mode: ConnectionMode = 'passthrough';
  /** Client → backend bytes (including the peeked hello), and backend → client bytes. */
  private bytesIn = 0;
  private bytesOut = 0;
  private closedSockets = 0;
  private clientEnded = false;
  private detail: string | null = null;

  constructor(client: net.Socket, host: ConnectionHost) {
    this.client = client as TaggedSocket;
    this.client[kConnection] = this;
    this.host = host;
    this.rawClientAddress = client.remoteAddress ?? '';
    this.clientAddress = displayAddress(this.rawClientAddress);
    this.clientPort = client.remotePort ?? 0;
    this.localAddress = client.localAddress ?? '';
    this.localPort = client.localPort ?? 0;
    client.on('error', clientOnError);
    client.on('data', clientOnData);
    client.on('end', clientOnEnd);
    client.on('close', clientOnClose);
    client.on('drain', clientOnDrain);
    client.on('timeout', clientOnTimeout);
    const config = host.snapshot.config;
    this.reader = new ClientHelloReader({ maxHelloBytes: config.maxHelloBytes });
    if (this.rawClientAddress === '') {
      // The client was gone before we saw it (reset right after accept): nothing to route, nothing to report to.
      this.close('client_reset', 'closed before accept completed');
      return;
    }
    this.helloTimer = setTimeout(helloTimedOut, config.timeouts.clientHelloMs, this);
  }

  /** Ends the connection. Safe to call any number of times: only the first call acts and logs. */
  close(reason: CloseReason, detail?: string): void {
    if (this.state === CLOSED) return;
    this.state = CLOSED;
    if (detail !== undefined) this.detail = detail;
    if (this.helloTimer) clearTimeout(this.helloTimer);
    this.helloTimer = null;
    this.reader = null;
    this.peeked = [];
    this.client.destroy();
    this.backend?.destroy();
    this.dialing?.destroy();
    if (this.pool && this.backendIndex >= 0 && this.backend) this.pool.release(this.backendIndex);
    this.writeAccessLine(reason);
    this.host.connectionClosed(this);
  }

  get isClosed(): boolean {
    return this.state === CLOSED;
  }

  // ---- PEEKING ---------------------------------------------------------------------------------------------

  /** @internal */
  onClientData(chunk: Buffer): void {
    this.bytesIn += chunk.length;
    if (this.state === SPLICING) {
      // Backpressure: stop reading the client until the backend's buffer drains.
      if (!this.backend!.write(chunk)) this.client.pause();
      return;
    }
    if (this.state !== PEEKING || !this.reader) return;
    this.peeked.push(chunk);
    const result = this.reader.push(chunk);
    switch (result.kind) {
      case 'need_more':
        return;
      case 'hello':
        this.sni = result.hello.sni;
        this.alpn = result.hello.alpn;
        this.route(this.sni);
        return;
      case 'not_tls':
        // Not a TLS handshake at all: SPEC sends it to the default pool when one is set.
        if (this.host.snapshot.config.defaultPool) this.route(null);
        else this.close('not_tls');
        return;
      case 'too_large':
        this.close('hello_too_large', `hello larger than ${this.host.snapshot.config.maxHelloBytes} bytes`);
        return;
      case 'malformed':
        // At debug, the bytes as hex, ready to paste into fixtures/ so a bad hello seen in the field becomes a test.
        if (this.host.logger.isLevelEnabled('debug')) {
          this.host.logger.debug({ id: this.id, reason: result.reason, hex: Buffer.concat(this.peeked).toString('hex') }, 'malformed hello bytes');
        }
        this.close('hello_malformed', result.reason);
        return;
    }
  }

  /** @internal */
  onHelloTimeout(): void {
    this.helloTimer = null;
    if (this.state === PEEKING) this.close('hello_timeout', `no complete ClientHello within ${this.host.snapshot.config.timeouts.clientHelloMs} ms`);
  }

  // ---- CONNECTING ------------------------------------------------------------------------------------------

  private route(serverName: string | null): void {
    if (this.helloTimer) clearTimeout(this.helloTimer);
    this.helloTimer = null;
    this.reader = null;
    this.client.pause();
    const match = this.host.snapshot.table.lookup(serverName);
    if (!match) {
      this.close('no_route');
      return;
    }
    this.match = match;
    this.state = CONNECTING;
    this.pool = this.host.snapshot.pool(match.pool);
    this.tryBackend(this.pool.firstChoice(this.clientAddress), 0);
  }

  private tryBackend(index: number, attempt: number): void {
    const pool = this.pool!;
    const backend = pool.backendAt(index);
    this.backendLabel = backend.label;
    this.dialing = dial(backend, this.host.snapshot.config.timeouts.connectMs, (error, socket) => {
      this.dialing = null;
      if (this.state === CLOSED) {
        socket?.destroy();
        return;
      }
      if (error || !socket) {
        this.host.logger.debug({ id: this.id, backend: backend.label, err: error?.message }, 'backend attempt failed');
        if (attempt + 1 < pool.size) {
          this.tryBackend((index + 1) % pool.size, attempt + 1);
        } else {
          this.close('backend_unavailable', error?.message ?? 'no backend');
        }
        return;
      }
      this.backendIndex = index % pool.size;
      pool.acquire(this.backendIndex);
      this.startSplice(socket);
    });
  }

  // ---- SPLICING --------------------------------------------------------------------------------------------

  private startSplice(socket: net.Socket): void {
    const backend = socket as TaggedSocket;
    backend[kConnection] = this;
    this.backend = backend;
    backend.on('error', backendOnError);
    backend.on('data', backendOnData);
    backend.on('end', backendOnEnd);
    backend.on('close', backendOnClose);
    backend.on('drain', backendOnDrain);

    const pool = this.pool!;
    // Header and hello leave in one segment where the kernel allows: cork, write all, uncork.
    backend.cork();
    if (pool.config.proxyProtocol !== 'none') {
      backend.write(
        encodeProxyHeader(pool.config.proxyProtocol, {
          source: { address: this.rawClientAddress, port: this.clientPort },
          destination: { address: this.localAddress, port: this.localPort },
          authority: this.sni === null ? null : normalizeServerName(this.sni),
          uniqueId: this.id,
        }),
      );
    }
    let writable = true;
    for (const chunk of this.peeked) writable = backend.write(chunk);
    if (this.clientEnded) backend.end();
    backend.uncork();
    this.peeked = [];
    this.state = SPLICING;
    const idleMs = this.host.snapshot.config.timeouts.idleMs;
    // The client socket sees every byte either way, so its inactivity timer is the connection's idle timer.
    if (idleMs > 0) this.client.setTimeout(idleMs);
    if (writable) this.client.resume();
  }

  /** @internal */
  onBackendData(chunk: Buffer): void {
    this.bytesOut += chunk.length;
    if (!this.client.write(chunk)) this.backend!.pause();
  }

  /** @internal */
  onClientDrain(): void {
    this.backend?.resume();
  }

  /** @internal */
  onBackendDrain(): void {
    if (this.state === SPLICING) this.client.resume();
  }

  /** @internal Half-close: a FIN from the client is passed on, the other direction stays open. */
  onClientEnd(): void {
    if (this.state === SPLICING) this.backend!.end();
    // A client may send its hello, its request and its FIN in one go: remember the FIN for when the backend is up.
    else if (this.state === CONNECTING) this.clientEnded = true;
    else this.close('client_reset', 'client closed before its ClientHello was complete');
  }

  /** @internal */
  onBackendEnd(): void {
    this.client.end();
  }

  /** @internal A socket is fully closed; once both are, without error, the connection is done. */
  onSocketClose(): void {
    if (this.state !== SPLICING) return;
    this.closedSockets++;
    if (this.closedSockets === 2) this.close('done');
  }

  // ---- CLOSED ----------------------------------------------------------------------------------------------

  private writeAccessLine(reason: CloseReason): void {
    const sni = this.sni !== null && this.sni.length > MAX_LOGGED_SNI_CHARS ? `${this.sni.slice(0, MAX_LOGGED_SNI_CHARS)}…` : this.sni;
    const match = this.match;
    const line: Record<string, unknown> = {
      id: this.id,
      client: `${this.clientAddress}:${this.clientPort}`,
      listener: this.host.listenerLabel,
      sni,
      alpn: this.alpn.length > 0 ? this.alpn.join(',') : null,
      route: match ? (match.route ? match.route.name : 'default') : null,
      backend: this.backend ? this.backendLabel : null,
      mode: this.mode,
      bytes_in: this.bytesIn,
      bytes_out: this.bytesOut,
      duration_ms: Math.round((performance.now() - this.startedAt) * 1000) / 1000,
      reason,
    };
    if (this.detail !== null) line.detail = this.detail;
    this.host.logger.info(line, 'connection closed');
  }
}

function clientOnData(this: TaggedSocket, chunk: Buffer): void {
  this[kConnection].onClientData(chunk);
}
function clientOnEnd(this: TaggedSocket): void {
  this[kConnection].onClientEnd();
}
function clientOnDrain(this: TaggedSocket): void {
  this[kConnection].onClientDrain();
}
function clientOnClose(this: TaggedSocket): void {
  this[kConnection].onSocketClose();
}
function clientOnError(this: TaggedSocket, error: NodeJS.ErrnoException): void {
  this[kConnection].close('client_reset', error.code ?? error.message);
}
function clientOnTimeout(this: TaggedSocket): void {
  this[kConnection].close('idle_timeout');
}
function backendOnData(this: TaggedSocket, chunk: Buffer): void {
  this[kConnection].onBackendData(chunk);
}
function backendOnEnd(this: TaggedSocket): void {
  this[kConnection].onBackendEnd();
}
function backendOnDrain(this: TaggedSocket): void {
  this[kConnection].onBackendDrain();
}
function backendOnClose(this: TaggedSocket): void {
  this[kConnection].onSocketClose();
}
function backendOnError(this: TaggedSocket, error: NodeJS.ErrnoException): void {
  this[kConnection].close('backend_reset', error.code ?? error.message);
}
function helloTimedOut(connection: Connection): void {
  connection.onHelloTimeout();
}
