/** Backend health as the admin API shows it: since when, why (HealthRegistry.describe), and merged over workers. */
import { describe, expect, it } from 'vitest';
import { HealthRegistry, type BackendStatus } from '../../src/pools/health.js';
import { mergeBackendStatuses } from '../../src/control/workers.js';

describe('HealthRegistry.describe', () => {
  it('says up since first known, down since the failure with its error, then up again since the recovery', () => {
    const health = new HealthRegistry(null);
    const unknown = health.describe('10.0.0.1:443', Date.parse('2026-12-01T00:00:00Z'));
    expect(unknown).toEqual({ backend: '10.0.0.1:443', state: 'up', since: '2026-12-01T00:00:00.000Z', last_error: null, cause: null });

    const before = Date.now();
    health.reportDialFailure('10.0.0.1:443', 'ECONNREFUSED');
    const down = health.describe('10.0.0.1:443');
    expect(down).toMatchObject({ state: 'down', last_error: 'ECONNREFUSED', cause: 'passive' });
    expect(Date.parse(down.since)).toBeGreaterThanOrEqual(before - 1);

    health.reportDialFailure('10.0.0.1:443', 'ETIMEDOUT'); // still down: the error is the latest, the since is not moved
    expect(health.describe('10.0.0.1:443')).toMatchObject({ state: 'down', since: down.since, last_error: 'ETIMEDOUT' });

    health.reportDialSuccess('10.0.0.1:443');
    expect(health.describe('10.0.0.1:443')).toMatchObject({ state: 'up', last_error: null, cause: 'passive' });
  });
});

describe('mergeBackendStatuses', () => {
  const status = (backend: string, state: 'up' | 'down', since: string, active: number, lastError: string | null = null): BackendStatus => ({
    backend,
    state,
    since,
    last_error: lastError,
    cause: state === 'down' ? 'check' : null,
    active,
  });

  it('is down when any worker has it down (since the earliest), up since the latest change, connections summed', () => {
    const merged = mergeBackendStatuses([
      [status('a', 'up', '2026-12-01T00:00:01Z', 2), status('b', 'up', '2026-12-01T00:00:01Z', 1), status('c', 'down', '2026-12-01T00:00:09Z', 0, 'late')],
      [status('a', 'up', '2026-12-01T00:00:05Z', 3), status('b', 'down', '2026-12-01T00:00:07Z', 0, 'ECONNREFUSED'), status('c', 'down', '2026-12-01T00:00:03Z', 0, 'early')],
    ]);
    expect(merged).toEqual([
      status('a', 'up', '2026-12-01T00:00:05Z', 5),
      { ...status('b', 'down', '2026-12-01T00:00:07Z', 1, 'ECONNREFUSED') },
      status('c', 'down', '2026-12-01T00:00:03Z', 0, 'early'),
    ]);
    expect(mergeBackendStatuses([])).toEqual([]);
  });
});
