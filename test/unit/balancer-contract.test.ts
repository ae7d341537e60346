/**
 * What every Balancer promises, run against each one the same way (hono's habit: one suite, every
 * implementation): picks are available backends or -1, a single backend takes everything, down backends are
 * skipped and win picks again when they return, held-open connections end up in the ratio of the weights, and
 * where a balancer promises stickiness, the same client keeps its backend. balancers.test.ts keeps what is
 * particular to each (smooth order, least-conn's counts, power-of-two's bias, rendezvous' minimal moves).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BalanceAlgorithm } from '../../src/config/types.js';
import { type Balancer, createBalancer } from '../../src/pools/balancers.js';
import { clientAddress, seeded, TestView } from '../helpers/balancer-view.js';

interface BalancerUnderContract {
  readonly create: () => Balancer;
  /** The same client address gets the same backend while the pool is unchanged, across instances (reloads). */
  readonly stickyPerClient: boolean;
}

/** A Record, so that a new algorithm in config/types does not compile until it is put under the contract. */
const BALANCERS: Record<BalanceAlgorithm, BalancerUnderContract> = {
  'round-robin': { create: () => createBalancer('round-robin'), stickyPerClient: false },
  'least-conn': { create: () => createBalancer('least-conn'), stickyPerClient: false },
  random: { create: () => createBalancer('random', seeded(42)), stickyPerClient: false },
  'source-hash': { create: () => createBalancer('source-hash'), stickyPerClient: true },
};

const PICKS = 4_000;
/** Shares within this many percentage points of the weights over PICKS held-open connections. */
const SHARE_TOLERANCE = 0.04;

/** `count` picks from distinct clients, each pick held open (its backend's active count goes up). */
function pickHeldOpen(balancer: Balancer, view: TestView, count: number): number[] {
  const counts = view.weights.map(() => 0);
  for (let i = 0; i < count; i++) {
    const index = balancer.pick(clientAddress(i), view);
    if (index < 0) expect.fail(`pick ${i} answered ${index} while backends are available`);
    counts[index] = (counts[index] ?? 0) + 1;
    view.active[index] = (view.active[index] ?? 0) + 1;
  }
  return counts;
}

function expectShares(counts: number[], expected: number[]): void {
  const total = counts.reduce((sum, count) => sum + count, 0);
  counts.forEach((count, i) => {
    expect(Math.abs(count / total - (expected[i] ?? 0)), `backend ${i}: ${count} of ${total}, want ${expected[i]}`).toBeLessThan(SHARE_TOLERANCE);
  });
}

describe.each(Object.entries(BALANCERS))('Balancer contract: %s', (_name, { create }) => {
  it('answers -1 for an empty pool and for a pool whose backends are all down', () => {
    expect(create().pick('198.51.100.1', new TestView([]))).toBe(-1);
    const view = new TestView([1, 2, 3]);
    view.down.add(0).add(1).add(2);
    const balancer = create();
    for (let i = 0; i < 10; i++) expect(balancer.pick(clientAddress(i), view)).toBe(-1);
  });

  it('gives a single backend every pick, whatever its weight or load', () => {
    const view = new TestView([7]);
    view.active[0] = 1_000;
    const balancer = create();
    for (let i = 0; i < 100; i++) expect(balancer.pick(clientAddress(i), view)).toBe(0);
  });

  it('spreads held-open connections in the ratio of the weights', () => {
    const view = new TestView([1, 2, 5]);
    expectShares(pickHeldOpen(create(), view, PICKS), [1 / 8, 2 / 8, 5 / 8]);
  });

  it('skips a down backend, shares its part among the rest by weight, and uses it again once it is back', () => {
    const view = new TestView([1, 2, 5]);
    const balancer = create();
    view.down.add(2);
    const whileDown = pickHeldOpen(balancer, view, PICKS);
    expect(whileDown[2]).toBe(0);
    expectShares(whileDown, [1 / 3, 2 / 3, 0]);
    view.down.delete(2);
    view.active.fill(0);
    const afterReturn = pickHeldOpen(balancer, view, PICKS);
    expectShares(afterReturn, [1 / 8, 2 / 8, 5 / 8]);
  });

  it('always picks an available backend, or -1 exactly when none is (any weights, loads, down set)', () => {
    const backend = fc.record({ weight: fc.integer({ min: 1, max: 100 }), active: fc.nat(1_000), down: fc.boolean() });
    fc.assert(
      fc.property(fc.array(backend, { maxLength: 8 }), fc.array(fc.ipV4(), { minLength: 1, maxLength: 20 }), (backends, clients) => {
        const view = new TestView(backends.map((b) => b.weight));
        backends.forEach((b, i) => {
          view.active[i] = b.active;
          if (b.down) view.down.add(i);
        });
        const anyAvailable = backends.some((b) => !b.down);
        const balancer = create();
        for (const client of clients) {
          const index = balancer.pick(client, view);
          if (!anyAvailable) expect(index).toBe(-1);
          else expect(Number.isInteger(index) && index >= 0 && index < view.size && view.isAvailable(index)).toBe(true);
        }
      }),
      { numRuns: 200, seed: 10 },
    );
  });
});

const STICKY = Object.entries(BALANCERS).filter(([, balancer]) => balancer.stickyPerClient);

describe.each(STICKY)('Balancer contract, sticky per client: %s', (_name, { create }) => {
  it('keeps each client on its backend while the pool is unchanged, whatever the load, across instances', () => {
    const view = new TestView([1, 2, 3]);
    const first = create();
    const second = create();
    for (let i = 0; i < 1_000; i++) {
      const pick = first.pick(clientAddress(i), view);
      view.active[pick] = (view.active[pick] ?? 0) + 1;
      expect(first.pick(clientAddress(i), view)).toBe(pick);
      expect(second.pick(clientAddress(i), view)).toBe(pick);
    }
  });
});
