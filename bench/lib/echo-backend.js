/**
 * The C echo backend (bench/c/echo-backend.c) as a child process: strips a PROXY v2/v1 header when there is one,
 * echoes the rest. Its exit line counts the headers it saw, which proves each proxy really sent one.
 */
import { startChild } from './children.js';

const START_TIMEOUT_MS = 5_000;
const STOP_TIMEOUT_MS = 3_000;

/**
 * @typedef {{ accepted: number, proxy_v2: number, proxy_v1: number, no_header: number, bad_header: number }} EchoCounters
 * @typedef {{ port: number, pid: number, stop: () => Promise<EchoCounters | null> }} EchoBackend
 */

/**
 * @param {string} binary
 * @param {string | null} cpus
 * @returns {Promise<EchoBackend>}
 */
export async function startEchoBackend(binary, cpus) {
  const child = startChild('echo-backend', binary, ['0'], { cpus });
  const match = await child.waitForLine(/^LISTENING (\d+)$/, START_TIMEOUT_MS);
  const counters = child.waitForLine(/^\{.*\}$/, 60 * 60_000).then(
    (m) => /** @type {EchoCounters} */ (JSON.parse(m[0])),
    () => null,
  );
  return {
    port: Number(match[1]),
    pid: child.pid,
    async stop() {
      await child.stop(STOP_TIMEOUT_MS);
      return counters;
    },
  };
}
