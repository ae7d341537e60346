/** What the figures were measured on, and how the CPUs were split between the proxy and the client side. */
import { execFileSync } from 'node:child_process';
import os from 'node:os';

/** CPUs of the machine, read before this process pins itself (after that, availableParallelism() says 1). */
export const CPU_COUNT = os.availableParallelism();

function hasTaskset() {
  try {
    execFileSync('taskset', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function gccVersion() {
  try {
    return execFileSync('gcc', ['--version'], { encoding: 'utf8' }).split('\n')[0] ?? null;
  } catch {
    return null;
  }
}

/**
 * The proxy gets core 1; the load generator, the echo backend and this process get the rest. With one core (or
 * no taskset) nothing is pinned and the table says so.
 * @returns {{ proxyCpus: string | null, clientCpus: string | null, note: string }}
 */
export function planCpus() {
  const cores = CPU_COUNT;
  if (cores < 2) return { proxyCpus: null, clientCpus: null, note: 'one core: nothing pinned (figures are not comparable with pinned runs)' };
  if (!hasTaskset()) return { proxyCpus: null, clientCpus: null, note: 'taskset not found (util-linux): nothing pinned' };
  const clientCpus = cores === 2 ? '0' : cores === 3 ? '0,2' : `0,2-${cores - 1}`;
  return { proxyCpus: '1', clientCpus, note: `proxy on CPU 1; load generator + echo backend on CPU ${clientCpus}` };
}

/** Pins this process (all its threads) to `cpus`, so the orchestrator never runs on the proxy's core. */
export function pinSelf(cpus) {
  if (cpus === null) return;
  try {
    execFileSync('taskset', ['-a', '-p', '-c', cpus, String(process.pid)], { stdio: 'ignore' });
  } catch {
    // Not fatal: the orchestrator is idle while a measurement runs.
  }
}

/** @param {Record<string, { version: string | null }>} targets */
export function describeMachine(targets) {
  const cpus = os.cpus();
  return {
    cpu_model: cpus[0]?.model ?? 'unknown',
    nproc: CPU_COUNT,
    memory_gib: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    loadavg_at_start: os.loadavg().map((value) => Math.round(value * 100) / 100),
    node: process.version,
    haproxy: targets.haproxy?.version ?? null,
    nginx: targets.nginx?.version ?? null,
    sni_router: targets['sni-router']?.version ?? null,
    gcc: gccVersion(),
  };
}
