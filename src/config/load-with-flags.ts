/**
 * loadConfig plus what only flags give: `--workers`, and the loopback rule for `--admin` (the file's `admin` is
 * checked where it is read, with its line). Run at start, by `check` and `explain`, and again on every reload —
 * in the loader thread (src/config-loader-thread.ts) — so flags keep applying.
 */
import { deepFreeze } from './freeze.js';
import { type CliInput, COMMAND_LINE, type ConfigProblem, type ConfigResult, loadConfig } from './load.js';
import { describeAdminBindProblem, parseWorkers } from './operations.js';

/** Everything a load needs, as plain data (it crosses to the loader thread). */
export interface LoadSpec {
  readonly input: CliInput;
  /** `--workers` as given, or undefined. */
  readonly workers?: string | undefined;
}

export function loadWithFlags(spec: LoadSpec): ConfigResult {
  const { input } = spec;
  const result = loadConfig(input);
  const problems: ConfigProblem[] = result.ok ? [] : [...result.problems];
  const report = (message: string): void => {
    problems.push({ file: COMMAND_LINE, line: 0, col: 0, message });
  };
  const workers = spec.workers === undefined ? undefined : parseWorkers(spec.workers);
  if (workers && !workers.ok) report(`--workers ${workers.reason}`);
  if (result.ok && input.admin !== undefined && result.config.admin !== null) {
    const { label, host } = result.config.admin;
    const problem = describeAdminBindProblem(label, host, result.config.admin.allowNonLoopback);
    if (problem !== null) report(`--admin: ${problem}`);
  }
  if (!result.ok || problems.length > 0) return { ok: false, problems };
  if (workers?.ok) {
    const stated = result.config.stated.includes('workers') ? result.config.stated : [...result.config.stated, 'workers' as const];
    return { ok: true, config: deepFreeze({ ...result.config, workers: workers.workers, stated }) };
  }
  return result;
}
