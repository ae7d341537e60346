import { afterEach, describe, expect, it, vi } from 'vitest';
import { settleWithDeadline } from '../../src/ops/settle.js';

describe('settleWithDeadline', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('settles with the first outcome only, and clears its deadline', () => {
    vi.useFakeTimers();
    const outcomes: string[] = [];
    const attempt = settleWithDeadline(1_000, () => 'deadline', (outcome) => outcomes.push(outcome));
    expect(attempt.isSettled).toBe(false);
    expect(attempt.settle('connected')).toBe(true);
    expect(attempt.settle('error after connect')).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(5_000);
    expect(outcomes).toEqual(['connected']);
    expect(attempt.isSettled).toBe(true);
  });

  it('settles with the deadline outcome when nothing finishes in time, and ignores what comes later', () => {
    vi.useFakeTimers();
    const outcomes: string[] = [];
    const attempt = settleWithDeadline(250, () => 'timed out', (outcome) => outcomes.push(outcome));
    vi.advanceTimersByTime(249);
    expect(outcomes).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(outcomes).toEqual(['timed out']);
    expect(attempt.settle('late connect')).toBe(false);
    expect(outcomes).toEqual(['timed out']);
  });

  it('an outcome settled from inside the callback does not run it twice', () => {
    vi.useFakeTimers();
    let calls = 0;
    const attempt = settleWithDeadline<string>(100, () => 'deadline', () => {
      calls++;
      attempt.settle('re-entered');
    });
    attempt.settle('first');
    expect(calls).toBe(1);
  });
});
