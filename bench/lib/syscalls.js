/**
 * Syscalls per connection: a separate short pass of the rate load with `strace -c -f` attached to every process of
 * the target (strace slows the target several-fold, so these runs give counts, never speeds). Connections are
 * counted by the echo backend, so the warm-up's count as well as the window's.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { processTree } from './proc.js';

const STRACE_BIN = '/usr/bin/strace';
const ATTACH_MS = 500;
const DETACH_TIMEOUT_MS = 10_000;

export function hasStrace() {
  return existsSync(STRACE_BIN);
}

/** @typedef {{ total: number, by_syscall: Record<string, number> }} StraceCounts  calls, in all and by syscall */

/**
 * Attaches strace to the tree under `pid`; `stop()` detaches and returns { total, by_syscall } (calls).
 * @param {number} pid
 */
export async function attachStrace(pid) {
  const dir = mkdtempSync(path.join(tmpdir(), 'sni-bench-strace-'));
  const out = path.join(dir, 'strace.txt');
  const pids = processTree(pid);
  const child = spawn(STRACE_BIN, ['-c', '-f', '-o', out, ...pids.flatMap((p) => ['-p', String(p)])], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk.toString()));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  await new Promise((resolve) => setTimeout(resolve, ATTACH_MS));
  return {
    async stop() {
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), DETACH_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
      try {
        return parseStraceSummary(readFileSync(out, 'utf8'));
      } catch {
        throw new Error(`strace wrote no summary: ${stderr.trim().slice(-300)}`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/**
 * `strace -c` table → { total, by_syscall }.
 * @param {string} text
 * @returns {StraceCounts}
 */
export function parseStraceSummary(text) {
  /** @type {Record<string, number>} */
  const bySyscall = {};
  let total = 0;
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 5 || !/^\d+\.\d+$/.test(fields[0] ?? '')) continue;
    const name = fields[fields.length - 1];
    const calls = Number(fields[3]);
    if (!Number.isFinite(calls)) continue;
    if (name === 'total') total = calls;
    else bySyscall[name] = calls;
  }
  return { total, by_syscall: bySyscall };
}
