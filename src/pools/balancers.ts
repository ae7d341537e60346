import type { BalanceAlgorithm } from '../config/types.js';

/**
 * What a balancer may know about a pool: its backends' weights, labels, live connection counts, and which are
 * available (not marked down by health). Index order is the pool's backend order.
 */
export interface BalancerView {
  readonly size: number;
  weightAt(index: number): number;
  labelAt(index: number): string;
  activeAt(index: number): number;
  isAvailable(index: number): boolean;
}

/**
 * Picks the backend to try first among the available ones, or -1 when none is available. The pool builds the
 * rest of the retry order from that pick, so one pick per connection is all a balancer does.
 */
export interface Balancer {
  pick(clientAddress: string, view: BalancerView): number;
}

/** A source of uniform numbers in [0, 1); tests pass a seeded one. */
export type RandomSource = () => number;

/**
 * Smooth weighted round-robin (nginx's): each pick adds every available backend's weight to its running score,
 * takes the highest, and subtracts the total from it. Weights 5:1:1 give a a b a c a a, not a a a a a b c; equal
 * weights give plain rotation. Down backends neither gain nor lose score, so they rejoin without a burst.
 */
class RoundRobin implements Balancer {
  private scores: number[] = [];
  pick(_clientAddress: string, view: BalancerView): number {
    if (this.scores.length !== view.size) this.scores = new Array<number>(view.size).fill(0);
    let best = -1;
    let total = 0;
    for (let index = 0; index < view.size; index++) {
      if (!view.isAvailable(index)) continue;
      const weight = view.weightAt(index);
      const score = (this.scores[index] ?? 0) + weight;
      this.scores[index] = score;
      total += weight;
      if (best === -1 || score > (this.scores[best] ?? 0)) best = index;
    }
    if (best !== -1) this.scores[best] = (this.scores[best] ?? 0) - total;
    return best;
  }
}

/** True when backend a carries less load per unit of weight than b: a.active / a.weight < b.active / b.weight. */
function isLighter(view: BalancerView, a: number, b: number): boolean {
  return view.activeAt(a) * view.weightAt(b) < view.activeAt(b) * view.weightAt(a);
}

/**
 * Fewest open connections per unit of weight. Ties rotate, so an idle pool still spreads its connections.
 */
class LeastConn implements Balancer {
  private rotation = 0;
  pick(_clientAddress: string, view: BalancerView): number {
    const size = view.size;
    if (size === 0) return -1;
    const start = this.rotation++ % size;
    let best = -1;
    for (let step = 0; step < size; step++) {
      const index = (start + step) % size;
      if (!view.isAvailable(index)) continue;
      if (best === -1 || isLighter(view, index, best)) best = index;
    }
    return best;
  }
}

/**
 * Power of two choices: two backends drawn at random in proportion to their weights, and the lighter of the two
 * (connections per weight) wins; the first on a tie. Nearly least-conn's spread, without its herd on one backend
 * when many routers share a pool.
 */
class PowerOfTwo implements Balancer {
  constructor(private readonly random: RandomSource) {}
  pick(_clientAddress: string, view: BalancerView): number {
    let totalWeight = 0;
    for (let index = 0; index < view.size; index++) if (view.isAvailable(index)) totalWeight += view.weightAt(index);
    if (totalWeight === 0) return -1;
    const first = this.draw(view, totalWeight, -1);
    const second = this.draw(view, totalWeight - view.weightAt(first), first);
    if (second === -1) return first;
    return isLighter(view, second, first) ? second : first;
  }

  /** One available backend other than `excluded`, with probability weight / totalWeight; -1 when none is left. */
  private draw(view: BalancerView, totalWeight: number, excluded: number): number {
    if (totalWeight <= 0) return -1;
    let ticket = this.random() * totalWeight;
    let last = -1;
    for (let index = 0; index < view.size; index++) {
      if (index === excluded || !view.isAvailable(index)) continue;
      last = index;
      ticket -= view.weightAt(index);
      if (ticket < 0) return index;
    }
    return last;
  }
}

const FNV_OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const TWO_TO_32 = 2 ** 32;

/** FNV-1a over `text`, continuing from `hash`. */
function fnv1a(text: string, hash: number): number {
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, FNV_PRIME);
  }
  return hash;
}

/** murmur3's finalizer: FNV's low bits are weak on short, similar inputs like IP addresses. */
function mix(hash: number): number {
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

/**
 * Weighted rendezvous hashing (HRW): every backend scores the client, -weight / ln(u) with u a hash of
 * (client, backend label) in (0, 1), and the highest score wins. The same client gets the same backend for as
 * long as the pool is unchanged; when a backend goes down only its own clients move, and they spread over the
 * rest in proportion to weight.
 */
class SourceHash implements Balancer {
  pick(clientAddress: string, view: BalancerView): number {
    const clientHash = fnv1a(clientAddress, FNV_OFFSET_BASIS);
    let best = -1;
    let bestScore = -Infinity;
    for (let index = 0; index < view.size; index++) {
      if (!view.isAvailable(index)) continue;
      const unit = (mix(fnv1a(view.labelAt(index), clientHash)) + 0.5) / TWO_TO_32;
      const score = -view.weightAt(index) / Math.log(unit);
      if (score > bestScore) {
        best = index;
        bestScore = score;
      }
    }
    return best;
  }
}

export function createBalancer(algorithm: BalanceAlgorithm, random: RandomSource = Math.random): Balancer {
  switch (algorithm) {
    case 'round-robin':
      return new RoundRobin();
    case 'random':
      return new PowerOfTwo(random);
    case 'source-hash':
      return new SourceHash();
    case 'least-conn':
      return new LeastConn();
  }
}
