/**
 * Connection limits, decided at accept, except the byte budget, charged as hello bytes arrive:
 *
 * - per listener: `max_connections` open connections, `max_connections_per_client` per peer address;
 * - router-wide, on by default: connections still in their hello phase (PROXY header, ClientHello, and for
 *   terminate routes the TLS handshake), in total (`limits.max_hello_connections`) and per peer address
 *   (`limits.max_hello_connections_per_client`), and the bytes all pending hellos hold (`limits.max_hello_bytes_total`);
 * - router-wide, off by default: new connections per second per peer address (`limits.max_connection_rate_per_client`).
 *
 * Over a per-client cap or the rate the new connection is refused. Over the total hello cap, or the byte budget, the
 * *oldest* unfinished hellos are closed to make room (reason `limit`; for bytes, the oldest of those holding at
 * least the average): a slowloris flood then only ever evicts its own stalled sockets, while a real client, whose
 * hello takes milliseconds, is never the oldest for long. Refusals are
 * logged by RefusalLog at most once per second per listener, with a count.
 *
 * Peer address means the TCP peer. A peer trusted to send PROXY headers (a load balancer) carries many clients, so
 * its connections count towards the total hello cap but not the per-client one; listener caps still apply to it.
 */
import type { Logger } from 'pino';
import { DEFAULT_LIMITS, type Limits } from '../config/types.js';

/** How often a listener may log refusals; the line carries how many were refused since the last one. */
export const REFUSAL_LOG_INTERVAL_MS = 1_000;

import type { LimitName } from '../ops/limit-names.js';
export { LIMIT_NAMES, type LimitName } from '../ops/limit-names.js';
/** Limits that close the oldest unfinished hello rather than refuse the newcomer. */
export type EvictingLimit = 'max_hello_connections' | 'max_hello_bytes_total';

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
  /**
   * The bytes this connection's pending hello now holds. Over the budget, the oldest unfinished hellos are closed
   * (this one too, when it is the oldest): the caller checks whether it is still open afterwards.
   */
  hold(bytes: number): void;
  leave(): void;
}

interface HelloEntry extends HelloSlot {
  readonly client: string | null;
  readonly evict: (limit: EvictingLimit) => void;
  /** Bytes this hello holds now. */
  readonly held: number;
}

/**
 * Over the byte budget, the oldest hello holding at least the average is closed, looking at this many of the oldest
 * at most: a real client's small hello is passed over in favour of a flood's big ones behind it, and a front of
 * many small stalled hellos cannot make one eviction scan the whole gate.
 */
const BYTE_EVICTION_SCAN = 64;

/** The router-wide hello-phase gate. Carried across reloads (its caps are updated in place). */
export class HelloGate {
  #limits: Limits = DEFAULT_LIMITS;
  /** Insertion order is age: the first entry is the oldest unfinished hello. */
  readonly #open = new Set<HelloEntry>();
  readonly #perClient = new CountsByKey();
  #heldBytes = 0;
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

  /** Bytes held by all pending hellos. */
  get heldBytes(): number {
    return this.#heldBytes;
  }

  /**
   * Admits a new connection into the hello phase, or returns null when its address already holds the per-client
   * maximum. `evict` closes the connection should it become the oldest when room is needed. `client` null: count
   * it in the total only (a trusted PROXY sender carries many clients on one address).
   */
  enter(client: string | null, evict: (limit: EvictingLimit) => void): HelloSlot | null {
    if (client !== null && this.#perClient.get(client) >= this.#limits.maxHelloConnectionsPerClient) return null;
    // Bounded: each pass removes one entry.
    while (this.#open.size >= this.#limits.maxHelloConnections && this.#evictOldest('max_hello_connections'));
    const gate = this;
    let isOpen = true;
    let held = 0;
    const entry: HelloEntry = {
      client,
      evict,
      get held(): number {
        return held;
      },
      hold(bytes: number): void {
        if (!isOpen) return;
        gate.#heldBytes += bytes - held;
        held = bytes;
        // Bounded: each pass removes one entry; the loop ends at the latest when this entry itself is evicted.
        while (gate.#heldBytes > gate.#limits.maxHelloBytesTotal && gate.#evictOldest('max_hello_bytes_total'));
      },
      leave(): void {
        if (!isOpen) return;
        isOpen = false;
        gate.#heldBytes -= held;
        held = 0;
        gate.#open.delete(entry);
        if (client !== null) gate.#perClient.remove(client);
      },
    };
    this.#open.add(entry);
    if (client !== null) this.#perClient.add(client);
    return entry;
  }

  /** Closes the oldest unfinished hello (over the byte budget: the oldest big one); false when there is none. */
  #evictOldest(limit: EvictingLimit): boolean {
    let oldest = this.#open.values().next().value as HelloEntry | undefined;
    if (oldest === undefined) return false;
    if (limit === 'max_hello_bytes_total') {
      const average = this.#heldBytes / this.#open.size;
      let scanned = 0;
      for (const entry of this.#open) {
        if (entry.held >= average) {
          oldest = entry;
          break;
        }
        if (++scanned >= BYTE_EVICTION_SCAN) break;
      }
    }
    // Leave first, so the gate's counts are right even if evict() does not call back synchronously.
    oldest.leave();
    this.evicted++;
    oldest.evict(limit);
    return true;
  }
}

/** The window of max_connection_rate_per_client: connections per this many ms (HAProxy's conn_rate(1s)). */
export const CONNECTION_RATE_WINDOW_MS = 1_000;

/**
 * New connections per client address over a sliding one-second window, estimated as HAProxy's freq_ctr does from
 * two fixed periods: this period's count plus the previous period's, weighted by how much of it the window still
 * covers. The two maps are swapped at each period, so memory holds only the addresses seen in the last two seconds.
 * Every attempt counts, refused ones included: a client that keeps flooding stays refused until it slows down.
 */
export class ConnectionRate {
  #current = new Map<string, number>();
  #previous = new Map<string, number>();
  #periodStart = -Infinity;

  /** Counts a connection from `client`; true when it is within `maxPerSecond`. */
  admit(client: string, maxPerSecond: number, now = performance.now()): boolean {
    const elapsed = now - this.#periodStart;
    if (elapsed >= CONNECTION_RATE_WINDOW_MS) {
      // One period on: this one becomes the previous; two or more: both are history.
      this.#previous = elapsed >= 2 * CONNECTION_RATE_WINDOW_MS ? new Map() : this.#current;
      this.#current = new Map();
      this.#periodStart = elapsed >= 2 * CONNECTION_RATE_WINDOW_MS ? now : this.#periodStart + CONNECTION_RATE_WINDOW_MS;
    }
    const count = (this.#current.get(client) ?? 0) + 1;
    this.#current.set(client, count);
    const previousWeight = 1 - (now - this.#periodStart) / CONNECTION_RATE_WINDOW_MS;
    const rate = count + (this.#previous.get(client) ?? 0) * previousWeight;
    return rate <= maxPerSecond;
  }

  /** Addresses tracked (for tests: the memory bound). */
  get size(): number {
    return this.#current.size + this.#previous.size;
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

/**
 * One warn line per interval per listener, however many connections the limits refuse. Refusals within the
 * interval after a line are counted, and the count is written when the interval ends (a timer, so a burst that
 * stops is still reported), with the limit of each.
 */
export class RefusalLog {
  #lastAt = -Infinity;
  #pending = new Map<LimitName, number>();
  #lastClient = '';
  #timer: NodeJS.Timeout | null = null;
  constructor(
    private readonly logger: Logger,
    private readonly listener: string,
  ) {}

  refused(limit: LimitName, client: string): void {
    this.#pending.set(limit, (this.#pending.get(limit) ?? 0) + 1);
    this.#lastClient = client;
    if (this.#timer !== null) return;
    const wait = this.#lastAt + REFUSAL_LOG_INTERVAL_MS - performance.now();
    if (wait <= 0) {
      this.flush();
      return;
    }
    this.#timer = setTimeout(() => this.flush(), wait);
    this.#timer.unref();
  }

  /** Writes the pending count now (also at shutdown, so no count is lost). */
  flush(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#pending.size === 0) return;
    let total = 0;
    let top: LimitName = 'max_connections';
    let topCount = 0;
    const byLimit: Record<string, number> = {};
    for (const [limit, count] of this.#pending) {
      byLimit[limit] = count;
      total += count;
      if (count > topCount) [top, topCount] = [limit, count];
    }
    this.#pending.clear();
    this.#lastAt = performance.now();
    this.logger.warn(
      { listener: this.listener, limit: top, client: this.#lastClient, reason: 'limit', refused_since_last_line: total, refused_by_limit: byLimit },
      'connection refused by a limit',
    );
  }
}
