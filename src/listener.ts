import net from 'node:net';
import type { Logger } from 'pino';
import type { ListenAddress } from './config/types.js';
import { ListenError } from './errors.js';
import { Connection, type ConnectionHost } from './connection.js';
import type { ConnectionMetrics } from './connection-metrics.js';
import type { Snapshot } from './snapshot.js';
import { displayAddress } from './address.js';
import { isAddressInAny } from './cidr.js';
import { ListenerCounts, RefusalLog, type LimitName } from './limits.js';

function ignoreError(): void {}

/** While out of file descriptors, the log says so at most once per this window (sniproxy backs off 2 s too). */
const ACCEPT_BACKOFF_MS = 2_000;

export interface ListenerOwner {
  /** The snapshot new connections start on (read at accept time, so a reload takes effect at once). */
  currentSnapshot(): Snapshot;
  readonly logger: Logger;
  connectionOpened(connection: Connection): void;
  connectionClosed(connection: Connection): void;
  /** Handed to every connection; absent = metrics off. */
  readonly metrics?: ConnectionMetrics;
}

/** One net.Server for one configured address. */
export class Listener {
  readonly address: ListenAddress;
  private readonly server: net.Server;
  private readonly owner: ListenerOwner;
  private backoffTimer: NodeJS.Timeout | null = null;
  private closing = false;
  private readonly counts = new ListenerCounts();
  private readonly refusals: RefusalLog;

  private constructor(address: ListenAddress, owner: ListenerOwner) {
    this.address = address;
    this.owner = owner;
    this.refusals = new RefusalLog(owner.logger, address.label);
    // allowHalfOpen: a client's FIN must not close our side; it is forwarded to the backend instead.
    this.server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.accept(socket));
    this.server.on('error', (error) => this.onServerError(error));
  }

  static async open(address: ListenAddress, owner: ListenerOwner): Promise<Listener> {
    const listener = new Listener(address, owner);
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => reject(new ListenError(address.label, error));
      listener.server.once('error', onError);
      listener.server.listen({ host: address.host, port: address.port, ipv6Only: address.ipv6Only, backlog: 4096 }, () => {
        listener.server.removeListener('error', onError);
        resolve();
      });
    });
    return listener;
  }

  get bound(): { address: string; port: number } {
    const info = this.server.address();
    if (info === null || typeof info === 'string') return { address: this.address.host, port: this.address.port };
    return { address: info.address, port: info.port };
  }

  /**
   * Stops accepting; open connections are not touched. The listening socket closes at once; server.close's own
   * callback would wait for every open connection, which is the router's business (drain), not ours.
   */
  stopAccepting(): void {
    this.closing = true;
    if (this.backoffTimer) clearTimeout(this.backoffTimer);
    this.server.close();
  }

  private accept(socket: net.Socket): void {
    const snapshot = this.owner.currentSnapshot();
    // Limits are judged here, once per connection (src/limits.ts); the listen entry is read from the snapshot so
    // that a reload changing a listener's limits or trusted networks applies to the next connection.
    const settings = snapshot.config.listen.find((entry) => entry.label === this.address.label) ?? this.address;
    const peer = displayAddress(socket.remoteAddress ?? '');
    const maxPerClient = settings.maxConnectionsPerClient ?? null;
    const refusedBy = this.counts.admit(peer, settings.maxConnections ?? null, maxPerClient);
    if (refusedBy !== null) {
      this.refuse(socket, refusedBy, peer);
      return;
    }
    let connection: Connection | null = null;
    // A trusted PROXY sender carries many clients: it is held to the total hello cap, not the per-client one.
    const inboundProxy = settings.acceptProxy ? (isAddressInAny(peer, settings.acceptProxy.trusted) ? 'trusted' : 'untrusted') : null;
    const isProxySender = inboundProxy === 'trusted';
    const evict = (): void => connection?.close('limit', 'oldest unfinished hello closed to make room');
    const slot = snapshot.shared.helloGate.enter(isProxySender ? null : peer, evict);
    if (slot === null) {
      this.counts.release(peer, maxPerClient !== null);
      this.refuse(socket, 'max_hello_connections_per_client', peer);
      return;
    }
    const host: ConnectionHost = {
      snapshot,
      listenerLabel: this.address.label,
      logger: this.owner.logger,
      connectionClosed: (closed) => {
        slot.leave();
        this.counts.release(peer, maxPerClient !== null);
        this.owner.connectionClosed(closed);
      },
      metrics: this.owner.metrics,
      inboundProxy,
      helloFinished: () => slot.leave(),
    };
    connection = new Connection(socket, host);
    this.owner.connectionOpened(connection);
  }

  /** Refused at accept: no Connection, no access line; one rate-limited log line per listener instead. */
  private refuse(socket: net.Socket, limit: LimitName, peer: string): void {
    socket.on('error', ignoreError);
    socket.destroy();
    this.refusals.refused(limit, peer);
  }

  private onServerError(error: NodeJS.ErrnoException): void {
    if (this.closing) return;
    if (error.code === 'EMFILE' || error.code === 'ENFILE') {
      // Out of descriptors. Node has no way to pause a listening socket short of closing it (which would give up
      // the port), but libuv already sheds the pending connections (its reserve-fd trick: close a spare fd,
      // accept and close what waits, reopen the spare) so accept does not spin; what must not happen is one log
      // line per refused client. Say it once per back-off window.
      if (this.backoffTimer) return;
      this.owner.logger.error({ listener: this.address.label, err: error.code }, 'out of file descriptors; refusing new connections');
      this.backoffTimer = setTimeout(() => (this.backoffTimer = null), ACCEPT_BACKOFF_MS);
      this.backoffTimer.unref();
      return;
    }
    this.owner.logger.error({ listener: this.address.label, err: error.message }, 'listener error');
  }
}
