/**
 * A pool as a balancer sees it, with no sockets: weights, live connection counts and a set of down backends the
 * test sets directly, and a seeded random source so the random balancer's runs repeat.
 */
import type { BalancerView } from '../../src/pools/balancers.js';

export class TestView implements BalancerView {
  readonly active: number[];
  readonly down = new Set<number>();
  constructor(readonly weights: number[]) {
    this.active = weights.map(() => 0);
  }
  get size(): number {
    return this.weights.length;
  }
  weightAt(index: number): number {
    return this.weights[index] ?? 1;
  }
  labelAt(index: number): string {
    return `10.0.0.${index + 1}:443`;
  }
  activeAt(index: number): number {
    return this.active[index] ?? 0;
  }
  isAvailable(index: number): boolean {
    return !this.down.has(index);
  }
}

/** A small deterministic PRNG (mulberry32). */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A distinct client address per `i` (198.51.x.y), as many clients behind one pool would have. */
export function clientAddress(i: number): string {
  return `198.51.${(i >> 8) & 0xff}.${i & 0xff}`;
}
