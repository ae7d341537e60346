/**
 * Runs the C load generator (bench/c/loadgen.c) in one mode and returns its JSON result. The generator prints
 * "WARMED" and "MEASURED" at the edges of the measured window; `onMarker` runs at each so the caller can sample
 * /proc of the target at the same moments. Every run has a hard deadline, after which the generator is killed.
 */
import { startChild } from './children.js';

const SLACK_MS = 15_000;
const DRAIN_MS = 2_000;

/**
 * @param {string} binary
 * @param {'rate' | 'stream'} mode
 * @param {{ port: number, helloFile: string, cpus: string | null, warmupMs: number, durationMs: number,
 *           extraArgs?: string[], onMarker?: (marker: 'WARMED' | 'MEASURED') => void }} options
 * @returns {Promise<Record<string, any>>}
 */
export async function runLoad(binary, mode, options) {
  const args = [
    mode,
    '--port', String(options.port),
    '--hello', options.helloFile,
    '--warmup-ms', String(options.warmupMs),
    '--duration-ms', String(options.durationMs),
    ...(options.extraArgs ?? []),
  ];
  const child = startChild(`loadgen ${mode}`, binary, args, { cpus: options.cpus });
  child.onLine((line) => {
    if (line === 'WARMED' || line === 'MEASURED') options.onMarker?.(line);
  });
  const capMs = options.warmupMs + options.durationMs + DRAIN_MS + SLACK_MS;
  try {
    const match = await child.waitForLine(/^\{.*\}$/, capMs);
    await child.exited;
    return JSON.parse(match[0]);
  } finally {
    await child.stop(1_000, 'SIGKILL');
  }
}

/**
 * Idle mode: opens `conns` connections past the hello, calls `whileHeld(openCount)` once they are all open,
 * then lets the generator close them.
 * @param {string} binary
 * @param {{ port: number, helloFile: string, cpus: string | null, conns: number, openTimeoutMs: number,
 *           whileHeld: (open: number) => Promise<void> }} options
 * @returns {Promise<Record<string, any>>}
 */
export async function runIdle(binary, options) {
  const holdMs = 120_000;
  const args = [
    'idle',
    '--port', String(options.port),
    '--hello', options.helloFile,
    '--conns', String(options.conns),
    '--open-timeout-ms', String(options.openTimeoutMs),
    '--hold-ms', String(holdMs),
  ];
  const child = startChild('loadgen idle', binary, args, { cpus: options.cpus, stdin: 'pipe' });
  try {
    const ready = await child.waitForLine(/^READY (\d+)$/, options.openTimeoutMs + SLACK_MS);
    await options.whileHeld(Number(ready[1]));
    child.process.stdin?.end('release\n');
    const match = await child.waitForLine(/^\{.*\}$/, SLACK_MS);
    return JSON.parse(match[0]);
  } finally {
    await child.stop(1_000, 'SIGKILL');
  }
}
