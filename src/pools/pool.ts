import type { BackendAddress, PoolConfig } from '../config/types.js';
import { createBalancer, type Balancer, type BalancerView, type RandomSource } from './balancers.js';
import { HealthRegistry } from './health.js';

/**
 * A pool's live state for one config snapshot: the balancer's position and how many connections each backend
 * holds. Health lives in the router-wide HealthRegistry (keyed by backend label), so it survives reloads.
 * Config stays frozen; everything that changes per connection lives here.
 */
export class Pool implements BalancerView {
  readonly config: PoolConfig;
  readonly health: HealthRegistry;
  private readonly balancer: Balancer;
  private readonly active: number[];

  constructor(config: PoolConfig, health: HealthRegistry = new HealthRegistry(null), random?: RandomSource) {
    this.config = config;
    this.health = health;
    this.active = config.backends.map(() => 0);
    this.balancer = createBalancer(config.balance, random);
  }

  get size(): number {
    return this.config.backends.length;
  }

  weightAt(index: number): number {
    return this.config.backends[index]?.weight ?? 0;
  }

  labelAt(index: number): string {
    return this.config.backends[index]?.label ?? '';
  }

  activeAt(index: number): number {
    return this.active[index] ?? 0;
  }

  isAvailable(index: number): boolean {
    return this.health.isAvailable(this.labelAt(index));
  }

  /**
   * The backends to dial, in order: the balancer's pick, then the other available backends round the ring from
   * it. Backends marked down are left out; when every one is down the list is empty and the caller decides
   * (a fallback pool, else `lastResortOrder`).
   */
  dialOrder(clientAddress: string): number[] {
    const first = this.balancer.pick(clientAddress, this);
    if (first === -1) return [];
    const order = [first];
    for (let step = 1; step < this.size; step++) {
      const index = (first + step) % this.size;
      if (this.isAvailable(index)) order.push(index);
    }
    return order;
  }

  /** Every backend, down ones included, for when all are down and there is no fallback: one may be back. */
  lastResortOrder(): number[] {
    return this.config.backends.map((_, index) => index);
  }

  /** Index of the first backend to try for this client (-1 when every backend is down). */
  firstChoice(clientAddress: string): number {
    return this.balancer.pick(clientAddress, this);
  }

  backendAt(index: number): BackendAddress {
    const backend = this.config.backends[index % this.size];
    if (!backend) throw new Error(`pool has no backend at ${index}`);
    return backend;
  }

  acquire(index: number): void {
    this.active[index] = (this.active[index] ?? 0) + 1;
  }

  release(index: number): void {
    this.active[index] = Math.max(0, (this.active[index] ?? 0) - 1);
  }
}
