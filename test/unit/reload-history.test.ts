/** The ring of recent reloads behind GET /reloads: bounded, newest first, long lists cut with their counts kept. */
import { describe, expect, it } from 'vitest';
import type { ConfigDiff } from '../../src/config/diff.js';
import { RELOAD_HISTORY_MAX_NAMES, RELOAD_HISTORY_MAX_PROBLEMS, RELOAD_HISTORY_SIZE, ReloadHistory } from '../../src/control/reload-history.js';

const diff = (fields: Partial<ConfigDiff> = {}): ConfigDiff => ({
  routesAdded: [],
  routesRemoved: [],
  routesChanged: [],
  listenersAdded: [],
  listenersRemoved: [],
  settingsChanged: [],
  ...fields,
});

describe('ReloadHistory', () => {
  it(`keeps the last ${RELOAD_HISTORY_SIZE}, newest first`, () => {
    const history = new ReloadHistory();
    for (let i = 0; i < RELOAD_HISTORY_SIZE + 5; i++) history.succeeded('admin', `h${i}`, `h${i + 1}`, i, diff(), new Date(Date.UTC(2026, 11, 1, 0, 0, i)));
    const entries = history.entries();
    expect(entries).toHaveLength(RELOAD_HISTORY_SIZE);
    expect(entries[0]).toMatchObject({ ok: true, hash: `h${RELOAD_HISTORY_SIZE + 5}`, previous_hash: `h${RELOAD_HISTORY_SIZE + 4}`, at: '2026-12-01T00:00:24.000Z' });
    expect(entries.at(-1)).toMatchObject({ hash: 'h6' });
  });

  it('records what changed, cutting long lists but keeping their counts', () => {
    const history = new ReloadHistory();
    const many = Array.from({ length: RELOAD_HISTORY_MAX_NAMES + 10 }, (_, i) => `r${i}.example`);
    history.succeeded('file', 'a', 'b', 1.5, diff({ routesAdded: many, routesRemoved: ['gone.example'], settingsChanged: ['timeouts'] }));
    const [entry] = history.entries();
    expect(entry).toMatchObject({ source: 'file', ok: true, duration_ms: 1.5 });
    if (!entry?.ok) throw new Error('expected a success');
    expect(entry.changes.routes_added).toHaveLength(RELOAD_HISTORY_MAX_NAMES);
    expect(entry.changes.routes_removed).toEqual(['gone.example']);
    expect(entry.changes.settings_changed).toEqual(['timeouts']);
    expect(entry.changes.counts).toEqual({ routes_added: RELOAD_HISTORY_MAX_NAMES + 10, routes_removed: 1, routes_changed: 0 });
  });

  it('records a failure with its problems (at most a few, each bounded) and the config kept', () => {
    const history = new ReloadHistory();
    const problems = Array.from({ length: RELOAD_HISTORY_MAX_PROBLEMS + 3 }, (_, i) => `router.yaml:${i + 1}:1: bad ${'x'.repeat(i === 0 ? 2000 : 1)}`);
    history.failed('signal', 'kept', 0.2, problems);
    const [entry] = history.entries();
    expect(entry).toMatchObject({ source: 'signal', ok: false, hash: 'kept' });
    if (entry?.ok !== false) throw new Error('expected a failure');
    expect(entry.problems).toHaveLength(RELOAD_HISTORY_MAX_PROBLEMS + 1);
    expect(entry.problems[0]!.length).toBeLessThanOrEqual(1001);
    expect(entry.problems.at(-1)).toBe('… and 3 more');
  });
});
