import net from 'node:net';
import type { Logger } from 'pino';
import type { ListenAddress } from './config/types.js';
import { ListenError } from './errors.js';
import { Connection, type ConnectionHost } from './connection.js';
import type { Snapshot } from './snapshot.js';

/** While out of file descriptors, the log says so at most once per this window (sniproxy backs off 2 s too). */
const ACCEPT_BACKOFF_MS = 2_000;

export interface ListenerOwner {
  /** The snapshot new connections start on (read at accept time, so a reload takes effect at once). */
  currentSnapshot(): Snapshot;
  readonly logger: Logger;
  connectionOpened(connection: Connection): void;
  connectionClosed(connection: Connection): void;
}

/** One net.Server for one configured address. */
export class Listener {
  readonly address: ListenAddress;
  private readonly server: net.Server;
  private readonly owner: ListenerOwner;
  private backoffTimer: NodeJS.Timeout | null = null;
  private closing = false;

  private constructor(address: ListenAddress, owner: ListenerOwner) {
    this.address = address;
    this.owner = owner;
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
    const host: ConnectionHost = {
      snapshot: this.owner.currentSnapshot(),
      listenerLabel: this.address.label,
      logger: this.owner.logger,
      connectionClosed: (connection) => this.owner.connectionClosed(connection),
    };
    this.owner.connectionOpened(new Connection(socket, host));
  }

  private onServerError(error: NodeJS.ErrnoException): void {
    if (this.closing) return;
    if (error.code === 'EMFILE' || error.code === 'ENFILE') {
      // Out of descriptors. libuv already sheds the pending connections (its reserve-fd trick) so accept does
      // not spin; what must not happen is one log line per refused client. Say it once per back-off window.
      if (this.backoffTimer) return;
      this.owner.logger.error({ listener: this.address.label, err: error.code }, 'out of file descriptors; refusing new connections');
      this.backoffTimer = setTimeout(() => (this.backoffTimer = null), ACCEPT_BACKOFF_MS);
      this.backoffTimer.unref();
      return;
    }
    this.owner.logger.error({ listener: this.address.label, err: error.message }, 'listener error');
  }
}
