/**
 * loadConfig plus what only flags give: `--workers`, `--data-plane`, the rule that QUIC listeners need one
 * worker, and the loopback rule for `--admin` (the file's `admin` is checked where it is read, with its line). Run at start, by `check` and `explain`, and again on every reload —
 * in the loader thread (src/config-loader-thread.ts) — so flags keep applying.
 */
import { deepFreeze } from './freeze.js';
import { type CliInput, COMMAND_LINE, type ConfigProblem, type ConfigResult, loadConfig } from './load.js';
import { describeAdminBindProblem, parseDataPlane, parseWorkers } from './operations.js';

/** Everything a load needs, as plain data (it crosses to the loader thread). */
export interface LoadSpec {
  readonly input: CliInput;
  /** `--workers` as given, or undefined. */
  readonly workers?: string | undefined;
  /** `--data-plane` as given, or undefined. */
  readonly dataPlane?: string | undefined;
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
  const dataPlane = spec.dataPlane === undefined ? undefined : parseDataPlane(spec.dataPlane);
  if (dataPlane && !dataPlane.ok) report(`--data-plane ${dataPlane.reason}`);
  if (result.ok && input.admin !== undefined && result.config.admin !== null) {
    const { label, host } = result.config.admin;
    const problem = describeAdminBindProblem(label, host, result.config.admin.allowNonLoopback);
    if (problem !== null) report(`--admin: ${problem}`);
  }
  // A QUIC flow is a run of datagrams, and the kernel spreads datagrams over processes sharing a UDP port.
  const workerCount = workers?.ok ? workers.workers : result.ok ? result.config.workers : 1;
  if (result.ok && workerCount > 1 && result.config.listen.some((listen) => listen.quic)) {
    report(`QUIC listeners need workers: 1 (with ${workerCount} processes sharing the UDP port, a flow's datagrams would be split between them)`);
  }
  if (!result.ok || problems.length > 0) return { ok: false, problems };
  if (!workers?.ok && !dataPlane?.ok) return result;
  const stated = [...result.config.stated];
  if (workers?.ok && !stated.includes('workers')) stated.push('workers');
  if (dataPlane?.ok && !stated.includes('data_plane')) stated.push('data_plane');
  return {
    ok: true,
    config: deepFreeze({
      ...result.config,
      ...(workers?.ok ? { workers: workers.workers } : {}),
      ...(dataPlane?.ok ? { dataPlane: dataPlane.dataPlane } : {}),
      stated,
    }),
  };
}
