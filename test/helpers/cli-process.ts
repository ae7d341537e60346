/** Runs the built CLI (`node dist/cli.js`) as a child process, the way an operator runs the router. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/cli.js');

export interface RouterProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** JSON log lines so far. */
  lines(): Array<Record<string, unknown>>;
  stderr(): string;
  /** Resident set size of the router process now, in bytes (Linux /proc). */
  rssBytes(): number;
  waitForLine(predicate: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** `maxDescriptors`: the router's open-file limit (ulimit -n), set by the shell that then execs node (same pid). */
export async function startRouterProcess(args: readonly string[], options: { maxDescriptors?: number } = {}): Promise<RouterProcess> {
  const command = [process.execPath, CLI, ...args];
  const child =
    options.maxDescriptors === undefined
      ? spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn('/bin/sh', ['-c', `ulimit -n ${options.maxDescriptors} && exec "$@"`, 'sh', ...command], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const parsed: Array<Record<string, unknown>> = [];
  let wake: Array<() => void> = [];
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString();
    let newline: number;
    while ((newline = stdout.indexOf('\n')) >= 0) {
      const text = stdout.slice(0, newline);
      stdout = stdout.slice(newline + 1);
      try {
        parsed.push(JSON.parse(text) as Record<string, unknown>);
      } catch {
        parsed.push({ text });
      }
    }
    const current = wake;
    wake = [];
    for (const fn of current) fn();
  });
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // 'close' comes after 'exit' and after the last stdout byte: from then on no line can arrive, so a waiter for
  // one learns it at once instead of at its deadline.
  let isClosed = false;
  child.on('close', () => {
    isClosed = true;
    const current = wake;
    wake = [];
    for (const fn of current) fn();
  });
  const handle: RouterProcess = {
    child,
    pid: child.pid!,
    lines: () => parsed,
    stderr: () => stderr,
    rssBytes() {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status);
      return kb ? Number(kb[1]) * 1024 : 0;
    },
    async waitForLine(predicate, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = parsed.find(predicate);
        if (found) return found;
        if (isClosed) throw new Error(`router exited (${child.exitCode ?? child.signalCode}): ${stderr}`);
        const remaining = deadline - Date.now();
        if (remaining <= 0) throw new Error(`router log line not seen in ${timeoutMs} ms; stderr: ${stderr}; lines: ${JSON.stringify(parsed.slice(-5))}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, remaining);
          wake.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
  return handle;
}
