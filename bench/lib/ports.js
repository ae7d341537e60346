/** Loopback ports: a free one, a server listening on one, and waiting (with a deadline) until one accepts. */
import { once } from 'node:events';
import net from 'node:net';

export const LOOPBACK = '127.0.0.1';
const RETRY_MS = 25;
const ATTEMPT_MS = 500;

/** @param {net.Server} server  listening on a TCP address */
function portOf(server) {
  const address = server.address();
  return typeof address === 'object' && address !== null ? address.port : 0;
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort() {
  return /** @type {Promise<number>} */ (new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ host: LOOPBACK, port: 0 }, () => {
      const port = portOf(server);
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no free port'))));
    });
  }));
}

/**
 * Starts `server` on a free port of 127.0.0.1; resolves that port once it listens.
 * @param {net.Server} server
 * @returns {Promise<number>}
 */
export async function listenOnLoopback(server) {
  server.listen(0, LOOPBACK);
  await once(server, 'listening');
  return portOf(server);
}

/** @param {number} port @returns {Promise<boolean>} */
function tryConnect(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: LOOPBACK, port });
    const timer = setTimeout(() => finish(false), ATTEMPT_MS);
    const finish = (/** @type {boolean} */ isOpen) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(isOpen);
    };
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

/**
 * Resolves once 127.0.0.1:port accepts; rejects after `timeoutMs`, or as soon as `abortReason()` returns a string
 * (e.g. the process that should listen has exited).
 * @param {number} port
 * @param {number} timeoutMs
 * @param {() => string | null} [abortReason]
 */
export async function waitForPort(port, timeoutMs, abortReason = () => null) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reason = abortReason();
    if (reason !== null) throw new Error(reason);
    if (await tryConnect(port)) return;
    if (Date.now() >= deadline) throw new Error(`nothing accepted on ${LOOPBACK}:${port} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
  }
}
