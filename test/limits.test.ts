/** The limit book-keeping alone: per-client caps refuse, the total hello cap evicts the oldest, counts return to zero. */
import { describe, expect, it } from 'vitest';
import { HelloGate, ListenerCounts } from '../src/limits.js';
import { DEFAULT_LIMITS } from '../src/config/types.js';

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
