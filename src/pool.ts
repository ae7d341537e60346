import type { BackendAddress, PoolConfig } from './config/types.js';
import { createBalancer, type Balancer } from './balancers.js';

/**
 * A pool's live state for one config snapshot: the balancer's position and how many connections each backend
 * holds. Config stays frozen; everything that changes per connection lives here.
 */
export class Pool {
  readonly config: PoolConfig;
  private readonly balancer: Balancer;
  private readonly active: number[];

  constructor(config: PoolConfig) {
    this.config = config;
    this.active = config.backends.map(() => 0);
    this.balancer = createBalancer(config.balance, (index) => this.active[index] ?? 0);
  }

  get size(): number {
    return this.config.backends.length;
  }

  /** Index of the first backend to try for this client; callers walk on with `(first + attempt) % size`. */
  firstChoice(clientAddress: string): number {
    return this.balancer.pick(clientAddress, this.size);
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
