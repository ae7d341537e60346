/**
 * Connection limits, all decided at accept (never per chunk):
 *
 * - per listener: `max_connections` open connections, `max_connections_per_client` per peer address;
 * - router-wide, on by default: connections still in their hello phase (PROXY header + ClientHello), in total
 *   (`limits.max_hello_connections`) and per peer address (`limits.max_hello_connections_per_client`).
 *
 * Over a per-client cap the new connection is refused. Over the total hello cap the *oldest* unfinished hello is
 * closed to make room (reason `limit`): a slowloris flood then only ever evicts its own stalled sockets, while a
 * real client, whose hello takes milliseconds, is never the oldest for long. Refusals are logged by RefusalLog at
 * most once per second per listener, with a count.
 *
 * Peer address means the TCP peer. A peer trusted to send PROXY headers (a load balancer) carries many clients, so
 * its connections count towards the total hello cap but not the per-client one; listener caps still apply to it.
 */
import type { Logger } from 'pino';
import { DEFAULT_LIMITS, type Limits } from './config/types.js';

/** How often a listener may log refusals; the line carries how many were refused since the last one. */
export const REFUSAL_LOG_INTERVAL_MS = 1_000;

export type LimitName = 'max_connections' | 'max_connections_per_client' | 'max_hello_connections_per_client';

/** Counts per key, entries removed at zero so the map holds only addresses with open connections. */
export class CountsByKey {
  readonly #counts = new Map<string, number>();
  get(key: string): number {
    return this.#counts.get(key) ?? 0;
  }
  add(key: string): void {
    this.#counts.set(key, this.get(key) + 1);
  }
  remove(key: string): void {
    const count = this.get(key) - 1;
    if (count <= 0) this.#counts.delete(key);
    else this.#counts.set(key, count);
  }
  get size(): number {
    return this.#counts.size;
  }
}

/** One connection's place in the hello phase; `leave()` is idempotent. */
export interface HelloSlot {
  leave(): void;
}

interface HelloEntry extends HelloSlot {
  readonly client: string | null;
  readonly evict: () => void;
}

/** The router-wide hello-phase gate. Carried across reloads (its caps are updated in place). */
export class HelloGate {
  #limits: Limits = DEFAULT_LIMITS;
  /** Insertion order is age: the first entry is the oldest unfinished hello. */
  readonly #open = new Set<HelloEntry>();
  readonly #perClient = new CountsByKey();
  /** Hellos closed to make room, since start (for tests and metrics). */
  evicted = 0;

  setLimits(limits: Limits): void {
    this.#limits = limits;
  }

  get limits(): Limits {
    return this.#limits;
  }

  get size(): number {
    return this.#open.size;
  }

  /**
   * Admits a new connection into the hello phase, or returns null when its address already holds the per-client
   * maximum. `evict` closes the connection should it become the oldest when room is needed. `client` null: count
   * it in the total only (a trusted PROXY sender carries many clients on one address).
   */
  enter(client: string | null, evict: () => void): HelloSlot | null {
    if (client !== null && this.#perClient.get(client) >= this.#limits.maxHelloConnectionsPerClient) return null;
    // Bounded: each pass removes one entry (evict() leaves synchronously; if it did not, we drop it here).
    while (this.#open.size >= this.#limits.maxHelloConnections) {
      const oldest = this.#open.values().next().value as HelloEntry | undefined;
      if (oldest === undefined) break;
      oldest.leave();
      this.evicted++;
      oldest.evict();
    }
    const gate = this;
    let isOpen = true;
    const entry: HelloEntry = {
      client,
      evict,
      leave(): void {
        if (!isOpen) return;
        isOpen = false;
        gate.#open.delete(entry);
        if (client !== null) gate.#perClient.remove(client);
      },
    };
    this.#open.add(entry);
    if (client !== null) this.#perClient.add(client);
    return entry;
  }
}

/** Per-listener counts for max_connections and max_connections_per_client. */
export class ListenerCounts {
  total = 0;
  readonly perClient = new CountsByKey();

  /** The limit a new connection from `client` would break, or null (and the connection is counted). */
  admit(client: string, maxConnections: number | null, maxPerClient: number | null): LimitName | null {
    if (maxConnections !== null && this.total >= maxConnections) return 'max_connections';
    if (maxPerClient !== null && this.perClient.get(client) >= maxPerClient) return 'max_connections_per_client';
    this.total++;
    if (maxPerClient !== null) this.perClient.add(client);
    return null;
  }

  release(client: string, isCountedPerClient: boolean): void {
    this.total = Math.max(0, this.total - 1);
    if (isCountedPerClient) this.perClient.remove(client);
  }
}

/** One warn line per interval per listener, however many connections a limit refuses. */
export class RefusalLog {
  #lastAt = -Infinity;
  #suppressed = 0;
  constructor(
    private readonly logger: Logger,
    private readonly listener: string,
  ) {}

  refused(limit: LimitName, client: string): void {
    const now = performance.now();
    if (now - this.#lastAt < REFUSAL_LOG_INTERVAL_MS) {
      this.#suppressed++;
      return;
    }
    this.logger.warn({ listener: this.listener, limit, client, reason: 'limit', refused_since_last_line: this.#suppressed + 1 }, 'connection refused by a limit');
    this.#lastAt = now;
    this.#suppressed = 0;
  }
}
