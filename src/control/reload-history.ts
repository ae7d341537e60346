/**
 * The last reloads' outcomes, for the admin API (`GET /reloads`, the status page): a ring of RELOAD_HISTORY_SIZE
 * entries, newest first, each saying when, what asked, whether it took, and what changed or what was wrong.
 * Lists of names are cut at RELOAD_HISTORY_MAX_NAMES (a 10,000-route reload must not keep 10,000 names per entry);
 * the counts stay whole.
 */
import type { ConfigDiff } from '../config/diff.js';

export const RELOAD_HISTORY_SIZE = 20;
export const RELOAD_HISTORY_MAX_NAMES = 50;
export const RELOAD_HISTORY_MAX_PROBLEMS = 20;

export type ReloadTrigger = 'signal' | 'file' | 'admin';

export interface ReloadChanges {
  readonly routes_added: readonly string[];
  readonly routes_removed: readonly string[];
  readonly routes_changed: readonly string[];
  readonly listeners_added: readonly string[];
  readonly listeners_removed: readonly string[];
  readonly settings_changed: readonly string[];
  /** How many of each, when a list above was cut. */
  readonly counts: { readonly routes_added: number; readonly routes_removed: number; readonly routes_changed: number };
}

export type ReloadEntry =
  | {
      /** ISO time the reload finished. */
      readonly at: string;
      readonly source: ReloadTrigger;
      readonly ok: true;
      readonly hash: string;
      readonly previous_hash: string;
      readonly duration_ms: number;
      readonly changes: ReloadChanges;
    }
  | {
      readonly at: string;
      readonly source: ReloadTrigger;
      readonly ok: false;
      /** The running config, kept. */
      readonly hash: string;
      readonly duration_ms: number;
      readonly problems: readonly string[];
    };

const cut = (names: readonly string[], max = RELOAD_HISTORY_MAX_NAMES): string[] => names.slice(0, max);

export function changesOf(diff: ConfigDiff): ReloadChanges {
  return {
    routes_added: cut(diff.routesAdded),
    routes_removed: cut(diff.routesRemoved),
    routes_changed: cut(diff.routesChanged),
    listeners_added: cut(diff.listenersAdded),
    listeners_removed: cut(diff.listenersRemoved),
    settings_changed: cut(diff.settingsChanged),
    counts: { routes_added: diff.routesAdded.length, routes_removed: diff.routesRemoved.length, routes_changed: diff.routesChanged.length },
  };
}

export class ReloadHistory {
  readonly #size: number;
  readonly #entries: ReloadEntry[] = [];

  constructor(size = RELOAD_HISTORY_SIZE) {
    this.#size = size;
  }

  succeeded(source: ReloadTrigger, previousHash: string, hash: string, durationMs: number, diff: ConfigDiff, at = new Date()): void {
    this.#push({ at: at.toISOString(), source, ok: true, hash, previous_hash: previousHash, duration_ms: durationMs, changes: changesOf(diff) });
  }

  failed(source: ReloadTrigger, hash: string, durationMs: number, problems: readonly string[], at = new Date()): void {
    const kept = problems.slice(0, RELOAD_HISTORY_MAX_PROBLEMS).map((problem) => (problem.length > 1000 ? `${problem.slice(0, 1000)}…` : problem));
    if (problems.length > kept.length) kept.push(`… and ${problems.length - kept.length} more`);
    this.#push({ at: at.toISOString(), source, ok: false, hash, duration_ms: durationMs, problems: kept });
  }

  /** Newest first. */
  entries(): readonly ReloadEntry[] {
    return [...this.#entries].reverse();
  }

  #push(entry: ReloadEntry): void {
    this.#entries.push(entry);
    if (this.#entries.length > this.#size) this.#entries.shift();
  }
}
