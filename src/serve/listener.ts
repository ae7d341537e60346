import net from 'node:net';
import { open as openFile, close as closeFile } from 'node:fs';
import type { Logger } from 'pino';
import type { ListenAddress } from '../config/types.js';
import { ListenError } from '../ops/errors.js';
import { Connection } from '../data-path/connection.js';
import type { ConnectionHost } from '../data-path/connection-host.js';
import { TLS_SNIFFER } from '../wire/sniffer.js';
import { HTTP_SNIFFER } from '../wire/http-sniffer.js';
import { PlainHttpConnection } from '../data-path/http-connection.js';
import { DEFAULT_HTTPS_PORT } from '../config/types.js';
import type { ConnectionMetrics } from '../ops/connection-metrics.js';
import type { Snapshot } from './snapshot.js';
import { displayAddress } from '../wire/address.js';
import { isOutOfDescriptors } from '../ops/descriptors.js';
import { isAddressInAny } from '../wire/cidr.js';
import { ListenerCounts, RefusalLog, type EvictingLimit, type LimitName } from './limits.js';

function ignoreError(): void {}

/** While out of file descriptors, the log says so at most once per this window (sniproxy backs off 2 s too). */
const ACCEPT_BACKOFF_MS = 2_000;
/**
 * How often a listener checks that a descriptor can still be opened. libuv sheds connections silently when accept
 * fails with EMFILE (its reserve-descriptor trick: the server never sees an error), so the only way to notice is to
 * try: one open and close of /dev/null per second, a cost too small to measure.
 */
const DESCRIPTOR_PROBE_MS = 1_000;
const DESCRIPTOR_PROBE_PATH = '/dev/null';

export const EVICTION_DETAIL: Record<EvictingLimit, string> = {
  max_hello_connections: 'oldest unfinished hello closed to make room (limits.max_hello_connections)',
  max_hello_bytes_total: 'oldest unfinished hello closed to make room (limits.max_hello_bytes_total)',
};


/** A connection of either kind a listener accepts: TLS (passthrough or terminate) or plain HTTP. */
export type OpenConnection = Connection | PlainHttpConnection;

export interface ListenerOwner {
  /** The snapshot new connections start on (read at accept time, so a reload takes effect at once). */
  currentSnapshot(): Snapshot;
  readonly logger: Logger;
  connectionOpened(connection: OpenConnection): void;
  connectionClosed(connection: OpenConnection): void;
  /** Handed to every connection; absent = metrics off. */
  readonly metrics?: ConnectionMetrics;
}

/** One net.Server for one configured address. */
export class Listener {
  readonly address: ListenAddress;
  private readonly server: net.Server;
  private readonly owner: ListenerOwner;
  private backoffTimer: NodeJS.Timeout | null = null;
  private probeTimer: NodeJS.Timeout | null = null;
  /** Times the probe found no descriptor since the last log line. */
  private shortagesSinceLine = 0;
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
    this.scheduleProbe();
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
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.refusals.flush();
    this.server.close();
  }

  private accept(socket: net.Socket): void {
    const snapshot = this.owner.currentSnapshot();
    // Limits are judged here, once per connection (src/limits.ts); the listen entry is read from the snapshot so
    // that a reload changing a listener's limits or trusted networks applies to the next connection.
    const settings = snapshot.config.listen.find((entry) => entry.label === this.address.label) ?? this.address;
    const peer = displayAddress(socket.remoteAddress ?? '');
    // A trusted PROXY sender carries many clients: it is held to the total hello cap, not the per-client ones.
    const inboundProxy = settings.acceptProxy ? (isAddressInAny(peer, settings.acceptProxy.trusted) ? 'trusted' : 'untrusted') : null;
    const isProxySender = inboundProxy === 'trusted';
    const { shared } = snapshot;
    const maxRate = shared.helloGate.limits.maxConnectionRatePerClient;
    if (maxRate !== null && !isProxySender && peer !== '' && !shared.connectionRate.admit(peer, maxRate)) {
      this.refuse(socket, 'max_connection_rate_per_client', peer);
      return;
    }
    const maxPerClient = settings.maxConnectionsPerClient;
    const refusedBy = this.counts.admit(peer, settings.maxConnections, maxPerClient);
    if (refusedBy !== null) {
      this.refuse(socket, refusedBy, peer);
      return;
    }
    let connection: OpenConnection | null = null;
    const evict = (limit: EvictingLimit): void => {
      this.owner.metrics?.limited(limit);
      connection?.close('limit', EVICTION_DETAIL[limit]);
    };
    const slot = shared.helloGate.enter(isProxySender ? null : peer, evict);
    if (slot === null) {
      this.counts.release(peer, maxPerClient !== null);
      this.refuse(socket, 'max_hello_connections_per_client', peer);
      return;
    }
    const host: ConnectionHost<OpenConnection> = {
      snapshot,
      sniffer: settings.http ? HTTP_SNIFFER : TLS_SNIFFER,
      listenerLabel: this.address.label,
      logger: this.owner.logger,
      connectionClosed: (closed: OpenConnection) => {
        slot.leave();
        this.counts.release(peer, maxPerClient !== null);
        this.owner.connectionClosed(closed);
      },
      metrics: this.owner.metrics,
      inboundProxy,
      helloFinished: () => slot.leave(),
      helloHolds: (bytes) => slot.hold(bytes),
      outOfDescriptors: (code) => this.onOutOfDescriptors('dial', code),
    };
    // The snapshot's entry says which protocol this port speaks, so a reload may turn a listener into another kind.
    connection = settings.http
      ? new PlainHttpConnection(socket, host, { mode: settings.http, httpsPort: settings.httpsPort ?? DEFAULT_HTTPS_PORT })
      : new Connection(socket, host);
    this.owner.connectionOpened(connection);
  }

  /** Refused at accept: no Connection, no access line; one rate-limited log line per listener instead. */
  private refuse(socket: net.Socket, limit: LimitName, peer: string): void {
    socket.on('error', ignoreError);
    socket.destroy();
    this.owner.metrics?.limited(limit);
    this.refusals.refused(limit, peer);
  }

  private scheduleProbe(): void {
    this.probeTimer = setTimeout(() => this.probeDescriptors(), DESCRIPTOR_PROBE_MS);
    this.probeTimer.unref();
  }

  /** Opens and closes one descriptor: failing with EMFILE means accept is failing too (and libuv shedding). */
  private probeDescriptors(): void {
    this.probeTimer = null;
    if (this.closing) return;
    openFile(DESCRIPTOR_PROBE_PATH, 'r', (error, fd) => {
      if (error) {
        if (isOutOfDescriptors(error.code)) this.onOutOfDescriptors('accept', error.code ?? 'EMFILE');
      } else {
        closeFile(fd, ignoreError);
      }
      if (!this.closing) this.scheduleProbe();
    });
  }

  /** Counts a shortage and logs it at most once per back-off window, with how many were seen since the last line. */
  private onOutOfDescriptors(where: 'accept' | 'dial', code: string): void {
    this.owner.metrics?.outOfDescriptors(where);
    this.shortagesSinceLine++;
    if (this.backoffTimer) return;
    this.owner.logger.error(
      { listener: this.address.label, err: code, where, seen_since_last_line: this.shortagesSinceLine },
      'out of file descriptors; refusing new connections',
    );
    this.shortagesSinceLine = 0;
    this.backoffTimer = setTimeout(() => (this.backoffTimer = null), ACCEPT_BACKOFF_MS);
    this.backoffTimer.unref();
  }

  private onServerError(error: NodeJS.ErrnoException): void {
    if (this.closing) return;
    if (isOutOfDescriptors(error.code)) {
      // Out of descriptors. Node has no way to pause a listening socket short of closing it (which would give up
      // the port), but libuv already sheds the pending connections (its reserve-fd trick: close a spare fd,
      // accept and close what waits, reopen the spare) so accept does not spin, and mostly without telling us
      // (hence the probe); what must not happen is one log line per refused client.
      this.onOutOfDescriptors('accept', error.code ?? 'EMFILE');
      return;
    }
    this.owner.logger.error({ listener: this.address.label, err: error.message }, 'listener error');
  }
}
