import type { BalanceAlgorithm } from './config/types.js';

/**
 * Picks the index of the first backend to try. The dialer then walks the pool from there, so one pick gives the
 * full retry order.
 */
export interface Balancer {
  pick(clientAddress: string, backendCount: number): number;
}

class RoundRobin implements Balancer {
  private next = 0;
  pick(_clientAddress: string, backendCount: number): number {
    const index = this.next % backendCount;
    this.next = (index + 1) % backendCount;
    return index;
  }
}

class RandomPick implements Balancer {
  pick(_clientAddress: string, backendCount: number): number {
    return Math.floor(Math.random() * backendCount);
  }
}

/** FNV-1a over the address text: stable for a client while the pool is unchanged. */
class SourceHash implements Balancer {
  pick(clientAddress: string, backendCount: number): number {
    let hash = 0x811c9dc5;
    for (let i = 0; i < clientAddress.length; i++) {
      hash ^= clientAddress.charCodeAt(i);
      hash = Math.imul(hash, 0x01000193);
    }
    return (hash >>> 0) % backendCount;
  }
}

/** Least-conn needs the pool's live counts, so it reads them through a callback. */
class LeastConn implements Balancer {
  private rotation = 0;
  constructor(private readonly activeCount: (index: number) => number) {}
  pick(_clientAddress: string, backendCount: number): number {
    // Ties rotate so that an idle pool still spreads connections.
    const start = this.rotation++ % backendCount;
    let best = start;
    let bestCount = this.activeCount(start);
    for (let step = 1; step < backendCount; step++) {
      const index = (start + step) % backendCount;
      const count = this.activeCount(index);
      if (count < bestCount) {
        best = index;
        bestCount = count;
      }
    }
    return best;
  }
}

export function createBalancer(algorithm: BalanceAlgorithm, activeCount: (index: number) => number): Balancer {
  switch (algorithm) {
    case 'round-robin':
      return new RoundRobin();
    case 'random':
      return new RandomPick();
    case 'source-hash':
      return new SourceHash();
    case 'least-conn':
      return new LeastConn(activeCount);
  }
}
