/** The limit book-keeping alone: per-client caps refuse, the total hello cap evicts the oldest, counts return to zero. */
import { describe, expect, it } from 'vitest';
import type { Logger } from 'pino';
import { ConnectionRate, HelloGate, ListenerCounts, RefusalLog } from '../../src/serve/limits.js';
import { DEFAULT_LIMITS } from '../../src/config/types.js';

describe('HelloGate', () => {
  it('refuses the (N+1)th unfinished hello from one address and admits other addresses', () => {
    const gate = new HelloGate();
    gate.setLimits({ ...DEFAULT_LIMITS, maxHelloConnections: 100, maxHelloConnectionsPerClient: 2 });
    const a1 = gate.enter('10.0.0.1', () => {});
    const a2 = gate.enter('10.0.0.1', () => {});
    expect(a1).not.toBeNull();
    expect(a2).not.toBeNull();
    expect(gate.enter('10.0.0.1', () => {})).toBeNull();
    expect(gate.enter('10.0.0.2', () => {})).not.toBeNull();
    a1!.leave();
    a1!.leave(); // idempotent
    expect(gate.enter('10.0.0.1', () => {})).not.toBeNull();
    expect(gate.size).toBe(3);
  });

  it('at the total cap, evicts the oldest unfinished hello to admit the new one', () => {
    const gate = new HelloGate();
    gate.setLimits({ ...DEFAULT_LIMITS, maxHelloConnections: 3, maxHelloConnectionsPerClient: 10 });
    const evicted: string[] = [];
    const slots = ['a', 'b', 'c'].map((name) => gate.enter(name, () => evicted.push(name)));
    slots[0]!.leave(); // a finished its hello: no longer a candidate
    gate.enter('d', () => evicted.push('d'));
    expect(evicted).toEqual([]);
    gate.enter('e', () => evicted.push('e'));
    expect(evicted).toEqual(['b']);
    expect(gate.size).toBe(3);
    expect(gate.evicted).toBe(1);
  });
});

describe('ListenerCounts', () => {
  it('names the limit a new connection would break and counts only admitted ones', () => {
    const counts = new ListenerCounts();
    expect(counts.admit('x', 3, 2)).toBeNull();
    expect(counts.admit('x', 3, 2)).toBeNull();
    expect(counts.admit('x', 3, 2)).toBe('max_connections_per_client');
    expect(counts.admit('y', 3, 2)).toBeNull();
    expect(counts.admit('z', 3, 2)).toBe('max_connections');
    counts.release('x', true);
    expect(counts.admit('z', 3, 2)).toBeNull();
    expect(counts.total).toBe(3);
  });
});

describe('HelloGate: trusted PROXY senders', () => {
  it('counts a connection entered without a client address in the total only', () => {
    const gate = new HelloGate();
    gate.setLimits({ ...DEFAULT_LIMITS, maxHelloConnections: 10, maxHelloConnectionsPerClient: 1 });
    expect(gate.enter(null, () => {})).not.toBeNull();
    expect(gate.enter(null, () => {})).not.toBeNull();
    expect(gate.size).toBe(2);
  });
});

describe('HelloGate: limits.max_hello_bytes_total', () => {
  it('over the byte budget, evicts the oldest pending hellos until the bytes held fit', () => {
    // Failed: nothing bounded the bytes of all pending hellos together (10,000 × 64 KiB = 1.38 GB held).
    const gate = new HelloGate();
    gate.setLimits({ ...DEFAULT_LIMITS, maxHelloBytesTotal: 100_000 });
    const evicted: string[] = [];
    const slots = ['a', 'b', 'c'].map((name) => gate.enter(name, (limit) => evicted.push(`${name}:${limit}`))!);
    slots[0]!.hold(40_000);
    slots[1]!.hold(40_000);
    expect(evicted).toEqual([]);
    slots[2]!.hold(40_000); // 120,000 > 100,000: the oldest goes
    expect(evicted).toEqual(['a:max_hello_bytes_total']);
    expect(gate.heldBytes).toBe(80_000);
    slots[1]!.hold(10_000); // a hello's charge is replaced, not added
    expect(gate.heldBytes).toBe(50_000);
    slots[1]!.leave();
    slots[2]!.leave();
    expect(gate.heldBytes).toBe(0);
    expect(gate.size).toBe(0);
  });

  it('passes over an older small hello (a real client) to evict a big one', () => {
    const gate = new HelloGate();
    gate.setLimits({ ...DEFAULT_LIMITS, maxHelloBytesTotal: 100_000 });
    const evicted: string[] = [];
    const good = gate.enter('good', () => evicted.push('good'))!;
    good.hold(500);
    const big = ['b1', 'b2', 'b3'].map((name) => gate.enter(name, () => evicted.push(name))!);
    big[0]!.hold(40_000);
    big[1]!.hold(40_000);
    big[2]!.hold(40_000);
    expect(evicted).toEqual(['b1']);
    expect(gate.heldBytes).toBe(80_500);
  });

  it('evicts the charging hello itself when it is the oldest', () => {
    const gate = new HelloGate();
    gate.setLimits({ ...DEFAULT_LIMITS, maxHelloBytesTotal: 1_000 });
    const evicted: string[] = [];
    const slot = gate.enter('a', () => evicted.push('a'))!;
    slot.hold(2_000);
    expect(evicted).toEqual(['a']);
    expect(gate.heldBytes).toBe(0);
  });
});

describe('ConnectionRate', () => {
  it('refuses a client over its rate in a sliding second, not other clients, and forgets old addresses', () => {
    const rate = new ConnectionRate();
    const t0 = 10_000;
    for (let i = 0; i < 5; i++) expect(rate.admit('a', 5, t0 + i)).toBe(true);
    expect(rate.admit('a', 5, t0 + 10)).toBe(false);
    expect(rate.admit('b', 5, t0 + 10)).toBe(true);
    // Half a second into the next period the previous one still weighs half: 6 × 0.5 = 3, so two more fit.
    expect(rate.admit('a', 5, t0 + 1_500)).toBe(true);
    expect(rate.admit('a', 5, t0 + 1_501)).toBe(true);
    expect(rate.admit('a', 5, t0 + 1_502)).toBe(false);
    // Two idle periods later nothing is remembered.
    expect(rate.admit('c', 5, t0 + 5_000)).toBe(true);
    expect(rate.size).toBe(1);
  });
});

describe('RefusalLog', () => {
  it('writes the count of a burst that stopped within the interval', async () => {
    // Failed: refusals after a line were only counted into the next line, which never came once the burst stopped.
    const lines: Array<Record<string, unknown>> = [];
    let wake: () => void = () => {};
    const logger = { warn: (fields: Record<string, unknown>) => { lines.push(fields); wake(); } } as unknown as Logger;
    const log = new RefusalLog(logger, 'test');
    for (let i = 0; i < 10; i++) log.refused(i < 7 ? 'max_connections_per_client' : 'max_connection_rate_per_client', '10.0.0.1');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ refused_since_last_line: 1 });
    await new Promise<void>((resolve) => (wake = resolve));
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({
      limit: 'max_connections_per_client',
      refused_since_last_line: 9,
      refused_by_limit: { max_connections_per_client: 6, max_connection_rate_per_client: 3 },
    });
  });
});
