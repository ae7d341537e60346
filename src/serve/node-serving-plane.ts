/**
 * The node data plane: one net.Server per listener (listener.ts) and a TypeScript Connection per connection, or a
 * PlainHttpConnection on a plain-HTTP listener (`http: redirect | route`; only this plane carries those).
 */
import type { Config } from '../config/types.js';
import type { ConnectionInfo } from '../data-path/connection-info.js';
import type { BoundListener, DataPlane, PlaneOwner } from './data-plane.js';
import { Listener, type ListenerOwner, type OpenConnection } from './listener.js';
import type { Snapshot } from './snapshot.js';

export class NodeServingPlane implements DataPlane, ListenerOwner {
  readonly name = 'node';
  readonly #owner: PlaneOwner;
  readonly #listeners = new Map<string, Listener>();
  readonly #open = new Set<OpenConnection>();

  constructor(owner: PlaneOwner) {
    this.#owner = owner;
  }

  get logger(): PlaneOwner['logger'] {
    return this.#owner.logger;
  }

  get metrics(): PlaneOwner['metrics'] {
    return this.#owner.metrics;
  }

  currentSnapshot(): Snapshot {
    return this.#owner.currentSnapshot();
  }

  connectionOpened(connection: OpenConnection): void {
    if (!connection.isClosed) this.#open.add(connection);
  }

  connectionClosed(connection: OpenConnection): void {
    if (this.#open.delete(connection)) this.#owner.connectionEnded();
  }

  get openConnections(): number {
    return this.#open.size;
  }

  /** Every open connection, oldest first. */
  connectionInfos(): ConnectionInfo[] {
    const now = performance.now();
    return [...this.#open].map((connection) => connection.info(now));
  }

  get listeners(): BoundListener[] {
    return [...this.#listeners.values()].map((listener) => ({ label: listener.address.label, ...listener.bound }));
  }

  async openListeners(config: Config): Promise<void> {
    const opened: Listener[] = [];
    try {
      for (const address of config.listen) {
        if (this.#listeners.has(address.label)) continue;
        const listener = await Listener.open(address, this);
        opened.push(listener);
        this.#listeners.set(address.label, listener);
      }
    } catch (error) {
      for (const listener of opened) {
        this.#listeners.delete(listener.address.label);
        listener.stopAccepting();
      }
      throw error;
    }
  }

  keepListeners(labels: ReadonlySet<string>): void {
    for (const [label, listener] of this.#listeners) {
      if (labels.has(label)) continue;
      this.#listeners.delete(label);
      listener.stopAccepting();
    }
  }

  configChanged(): void {}

  stopAccepting(): void {
    for (const listener of this.#listeners.values()) listener.stopAccepting();
    this.#listeners.clear();
  }

  closeConnections(): void {
    for (const connection of [...this.#open]) connection.close('shutdown');
  }
}
