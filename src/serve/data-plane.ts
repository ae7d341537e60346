/**
 * The DataPlane seam: what carries connections. The router (router.ts) owns the live snapshot, reload and drain;
 * a plane opens the configured listeners, accepts and carries each connection on the snapshot current at its
 * accept, counts what is open, and closes. Two implementations:
 *
 *   node     net.Server listeners and the TypeScript Connection (listener.ts, data-path/connection.ts)
 *   native   the C plane on Node-API (data-path/native/): accept, hello buffering, connect and splice(2) in C; the
 *            decision (hello reader, route table, balancer, PROXY header) here in TypeScript; terminate routes and
 *            inbound PROXY are handed over to the node Connection with the socket's descriptor
 *
 * `data_plane: auto` takes native where its addon loaded and every listener suits it, else node with one warning
 * line saying why. A config with a plain-HTTP listener (`http: redirect | route`) runs on node: only the node plane
 * carries those; a reload that adds one while the native plane runs is refused (restart to switch planes).
 */
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import type { Config, DataPlaneChoice } from '../config/types.js';
import type { ConnectionMetrics } from '../ops/connection-metrics.js';
import type { ConnectionInfo } from '../data-path/connection-info.js';
import { loadNativeAddon } from '../data-path/native/load.js';
import type { NativeAddon } from '../data-path/native/addon.js';
import { SniRouterError } from '../ops/errors.js';
import type { Snapshot } from './snapshot.js';

export type DataPlaneName = 'native' | 'node';

export interface BoundListener {
  /** As configured, e.g. '127.0.0.1:8443' or ':8443'. */
  readonly label: string;
  readonly address: string;
  readonly port: number;
}

/** What a plane needs from the router that runs it. */
export interface PlaneOwner {
  /** The snapshot new connections start on (read at accept time, so a reload takes effect at once). */
  currentSnapshot(): Snapshot;
  readonly logger: Logger;
  readonly metrics?: ConnectionMetrics;
  /** A connection ended: the router checks whether a drain is complete. */
  connectionEnded(): void;
}

export interface DataPlane {
  readonly name: DataPlaneName;
  readonly listeners: readonly BoundListener[];
  /** Connections open now, any state. */
  readonly openConnections: number;
  /** Every open connection as the admin API lists it, oldest first (per plane; not sorted across). */
  connectionInfos(): ConnectionInfo[];
  /** Opens the listeners of `config` not open yet; on failure none of them stays open (ListenError). */
  openListeners(config: Config): Promise<void>;
  /** Stops accepting on every listener whose label is not in `labels` (a reload dropped it). */
  keepListeners(labels: ReadonlySet<string>): void;
  /** A reload swapped `config` in: plane-wide settings (hello timeout) follow it. */
  configChanged(config: Config): void;
  /** Stops accepting everywhere; open connections are not touched. */
  stopAccepting(): void;
  /** Closes every open connection (reason shutdown). */
  closeConnections(): void;
}

export type PlaneChoice = { readonly name: 'node'; readonly fallbackReason: string | null } | { readonly name: 'native'; readonly addon: NativeAddon };

/** Why `config` cannot run on the native plane, or null. */
export function nativeUnsuitability(config: Config): string | null {
  for (const listener of config.listen) {
    // The C side takes IP literals only; net.Server resolves names.
    if (isIP(listener.host) === 0) return `listener ${listener.label} names a host, and the native plane listens on IP addresses only`;
    // Plain-HTTP listeners (redirect, route by Host) are carried by the node plane only: a config with one runs on node.
    if (listener.http) return `listener ${listener.label} is a plain-HTTP listener (http: ${listener.http}), which only the node plane carries`;
  }
  return null;
}

/**
 * Resolves `data_plane` (auto: native where it loads). Throws when native was asked for (file or flag) and cannot
 * run; asked for by SNI_ROUTER_DATA_PLANE, a config the native plane does not suit runs on node (a missing addon
 * still throws: that run is meant to test the native plane).
 */
export function chooseDataPlane(config: Config): PlaneChoice {
  const wanted: DataPlaneChoice = config.dataPlane; // resolved by the config: the file, --data-plane, or the default
  if (wanted === 'node') return { name: 'node', fallbackReason: null };
  const loaded = loadNativeAddon();
  if ('error' in loaded) {
    if (wanted === 'native') throw new SniRouterError('SNIR_ERR_CONFIG', `data_plane native cannot run: ${loaded.error}`);
    return { name: 'node', fallbackReason: loaded.error };
  }
  const unsuitable = nativeUnsuitability(config);
  if (unsuitable === null) return { name: 'native', addon: loaded.addon };
  if (wanted === 'native' && config.stated.includes('data_plane')) throw new SniRouterError('SNIR_ERR_CONFIG', `data_plane native cannot run: ${unsuitable}`);
  return { name: 'node', fallbackReason: unsuitable };
}
