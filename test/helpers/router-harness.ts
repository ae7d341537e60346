/**
 * Runs a real router in the test process on real loopback sockets, from YAML text written to a temp file (the
 * same path an operator's config takes), and captures its JSON log lines in memory.
 */
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { loadConfig, formatProblem } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { startRouter, type RunningRouter } from '../../src/serve/router.js';

export interface LogLine {
  readonly level: string | number;
  readonly msg?: string;
  readonly [field: string]: unknown;
}

export interface TestRouter {
  readonly router: RunningRouter;
  readonly config: Config;
  /** Port of the listener at `index` (in config order). */
  port(index?: number): number;
  readonly logs: LogLine[];
  accessLines(): LogLine[];
  /** Resolves with the first access line matching `predicate`, waiting on log events (bounded by `timeoutMs`). */
  waitForAccessLine(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Resolves with the first log line matching `predicate`, waiting on log events (bounded by `timeoutMs`). */
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Resolves once `condition` over all lines so far holds, checked again on every new line (bounded). */
  waitForLogs(condition: (logs: readonly LogLine[]) => boolean, what: string, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export function loadYaml(yaml: string): Config {
  const dir = mkdtempSync(path.join(tmpdir(), 'sni-router-test-'));
  const file = path.join(dir, 'router.yaml');
  writeFileSync(file, yaml);
  try {
    const result = loadConfig({ configFile: file });
    if (!result.ok) throw new Error(`test config invalid:\n${result.problems.map(formatProblem).join('\n')}`);
    return result.config;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function startTestRouter(yaml: string): Promise<TestRouter> {
  const config = loadYaml(yaml);
  const logs: LogLine[] = [];
  let waiters: Array<() => void> = [];
  const stream = {
    write(text: string): void {
      logs.push(JSON.parse(text) as LogLine);
      const current = waiters;
      waiters = [];
      for (const wake of current) wake();
    },
  };
  const logger = pino({ level: 'debug', formatters: { level: (label) => ({ level: label }) } }, stream);
  const router = await startRouter(config, { logger });
  const accessLines = (): LogLine[] => logs.filter((line) => line.msg === 'connection closed');
  /** Checks `find` now and again after every log line until it answers, or fails with `failure()` at the deadline. */
  async function untilLogged<T>(find: () => T | undefined, timeoutMs: number, failure: () => string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = find();
      if (found !== undefined) return found;
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(failure());
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
  return {
    router,
    config,
    logs,
    port(index = 0) {
      const listener = router.listeners[index];
      if (!listener) throw new Error(`no listener ${index}`);
      return listener.port;
    },
    accessLines,
    waitForAccessLine(predicate, timeoutMs = 10_000) {
      return untilLogged(() => accessLines().find(predicate), timeoutMs, () => `no matching access line within ${timeoutMs} ms; have:\n${accessLines().map((l) => JSON.stringify(l)).join('\n')}`);
    },
    waitForLog(predicate, timeoutMs = 10_000) {
      return untilLogged(() => logs.find(predicate), timeoutMs, () => `no matching log line within ${timeoutMs} ms; have:\n${logs.map((l) => JSON.stringify(l)).join('\n')}`);
    },
    async waitForLogs(condition, what, timeoutMs = 10_000) {
      await untilLogged(() => (condition(logs) ? true : undefined), timeoutMs, () => `timed out after ${timeoutMs} ms waiting for ${what}; have:\n${logs.map((l) => JSON.stringify(l)).join('\n')}`);
    },
    async stop() {
      await router.close(0);
    },
  };
}
