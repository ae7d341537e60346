/**
 * Each balancer's distribution over thousands of picks, on the balancer alone (no sockets), with a stated
 * tolerance: weights are honoured, least-conn follows live counts, power-of-two favours the lighter backend,
 * source-hash is stable per client and moves only the clients of a backend that goes down.
 */
import { describe, expect, it } from 'vitest';
import { createBalancer } from '../../src/pools/balancers.js';
import type { BalanceAlgorithm } from '../../src/config/types.js';
import { clientAddress, seeded, TestView as View } from '../helpers/balancer-view.js';

function share(counts: number[], total: number): number[] {
  return counts.map((count) => count / total);
}

const PICKS = 4_000;

describe('round-robin (smooth weighted)', () => {
  it('gives exactly the weights over whole cycles, interleaved rather than in bursts', () => {
    const view = new View([5, 1, 1]);
    const balancer = createBalancer('round-robin');
    const picks = Array.from({ length: 7 * 500 }, () => balancer.pick('c', view));
    const counts = [0, 1, 2].map((i) => picks.filter((p) => p === i).length);
    expect(counts).toEqual([2500, 500, 500]);
    // nginx's smooth order for 5:1:1 is a a b a c a a: never more than two of a in a row before b or c.
    expect(picks.slice(0, 7)).toEqual([0, 0, 1, 0, 2, 0, 0]);
  });

  it('rotates evenly with equal weights and skips a down backend', () => {
    const view = new View([1, 1, 1]);
    const balancer = createBalancer('round-robin');
    expect(Array.from({ length: 6 }, () => balancer.pick('c', view))).toEqual([0, 1, 2, 0, 1, 2]);
    view.down.add(1);
    const picks = Array.from({ length: 600 }, () => balancer.pick('c', view));
    expect(picks.filter((p) => p === 1)).toHaveLength(0);
    expect(picks.filter((p) => p === 0)).toHaveLength(300);
  });

  it('returns -1 when every backend is down', () => {
    const view = new View([1, 1]);
    view.down.add(0).add(1);
    for (const algorithm of ['round-robin', 'least-conn', 'random', 'source-hash'] as BalanceAlgorithm[]) {
      expect(createBalancer(algorithm).pick('c', view)).toBe(-1);
    }
  });
});

describe('least-conn', () => {
  it('picks the backend with the fewest connections per unit of weight', () => {
    const view = new View([1, 2, 1]);
    view.active.splice(0, 3, 3, 4, 1);
    // loads 3/1, 4/2, 1/1 → index 2
    expect(createBalancer('least-conn').pick('c', view)).toBe(2);
  });

  it('with connections that stay open, keeps counts in the ratio of the weights (±1 connection)', () => {
    const view = new View([3, 1, 2]);
    const balancer = createBalancer('least-conn');
    for (let i = 0; i < 3_000; i++) {
      const index = balancer.pick('c', view);
      view.active[index] = (view.active[index] ?? 0) + 1;
    }
    expect(Math.abs(view.active[0]! - 1500)).toBeLessThanOrEqual(1);
    expect(Math.abs(view.active[1]! - 500)).toBeLessThanOrEqual(1);
    expect(Math.abs(view.active[2]! - 1000)).toBeLessThanOrEqual(1);
  });

  it('spreads an idle pool (ties rotate)', () => {
    const view = new View([1, 1, 1, 1]);
    const balancer = createBalancer('least-conn');
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < PICKS; i++) counts[balancer.pick('c', view)]!++;
    expect(counts).toEqual([1000, 1000, 1000, 1000]);
  });
});

describe('random (power of two choices)', () => {
  it('with equal loads, follows the weights within ±3 percentage points over 4,000 picks', () => {
    const view = new View([1, 2, 5]);
    const balancer = createBalancer('random', seeded(42));
    const counts = [0, 0, 0];
    for (let i = 0; i < PICKS; i++) counts[balancer.pick('c', view)]!++;
    const expected = [1 / 8, 2 / 8, 5 / 8];
    share(counts, PICKS).forEach((value, i) => expect(Math.abs(value - expected[i]!)).toBeLessThan(0.03));
  });

  it('with connections that stay open, keeps loads per weight close (max/min load within 10%)', () => {
    const view = new View([1, 1, 2, 4]);
    const balancer = createBalancer('random', seeded(7));
    for (let i = 0; i < PICKS; i++) {
      const index = balancer.pick('c', view);
      view.active[index] = (view.active[index] ?? 0) + 1;
    }
    const loads = view.active.map((count, i) => count / view.weightAt(i));
    expect(Math.max(...loads) / Math.min(...loads)).toBeLessThan(1.1);
  });

  it('never picks a down backend', () => {
    const view = new View([1, 1, 1]);
    view.down.add(2);
    const balancer = createBalancer('random', seeded(1));
    for (let i = 0; i < 1_000; i++) expect(balancer.pick('c', view)).not.toBe(2);
  });
});

describe('source-hash (weighted rendezvous)', () => {
  it('gives a client the same backend every time while the pool is unchanged', () => {
    const view = new View([1, 1, 1]);
    const first = createBalancer('source-hash');
    const second = createBalancer('source-hash'); // a reload builds a new balancer: same answers
    for (let i = 0; i < 1_000; i++) {
      const pick = first.pick(clientAddress(i), view);
      expect(first.pick(clientAddress(i), view)).toBe(pick);
      expect(second.pick(clientAddress(i), view)).toBe(pick);
    }
  });

  it('spreads 4,000 clients in the ratio of the weights within ±3 percentage points', () => {
    const view = new View([1, 1, 2]);
    const balancer = createBalancer('source-hash');
    const counts = [0, 0, 0];
    for (let i = 0; i < PICKS; i++) counts[balancer.pick(clientAddress(i), view)]!++;
    const expected = [0.25, 0.25, 0.5];
    share(counts, PICKS).forEach((value, i) => expect(Math.abs(value - expected[i]!)).toBeLessThan(0.03));
  });

  it('when a backend goes down, only its clients move', () => {
    const view = new View([1, 1, 1, 1]);
    const balancer = createBalancer('source-hash');
    const before = Array.from({ length: PICKS }, (_, i) => balancer.pick(clientAddress(i), view));
    view.down.add(1);
    const after = Array.from({ length: PICKS }, (_, i) => balancer.pick(clientAddress(i), view));
    for (let i = 0; i < PICKS; i++) {
      if (before[i] !== 1) expect(after[i]).toBe(before[i]);
      else expect(after[i]).not.toBe(1);
    }
  });
});
