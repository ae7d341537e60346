import net from 'node:net';
import { ConnectRefusedError, ConnectTimeoutError, type SniRouterError } from '../ops/errors.js';
import type { BackendAddress } from '../config/types.js';
import { settleWithDeadline } from '../ops/settle.js';

export type DialCallback = (error: SniRouterError | null, socket: net.Socket | null) => void;

/**
 * Opens one TCP connection to a backend within `timeoutMs`. The callback fires exactly once: with the connected
 * socket (error listener already attached by the caller's next step is not assumed — a no-op guard stays on), or
 * with a typed error after the attempt's socket has been destroyed.
 */
export function dial(backend: BackendAddress, timeoutMs: number, callback: DialCallback, connectHost = backend.host): net.Socket {
  // `connectHost` is the address a host-name backend resolved to at start-up or reload (src/resolve.ts).
  const socket = net.connect({ host: connectHost, port: backend.port, allowHalfOpen: true, noDelay: true });
  const attempt = settleWithDeadline<SniRouterError | null>(
    timeoutMs,
    () => new ConnectTimeoutError(backend.label, timeoutMs),
    (error) => {
      socket.removeListener('connect', onConnect);
      if (error) {
        socket.destroy();
        callback(error, null);
      } else {
        callback(null, socket);
      }
    },
  );
  const onConnect = (): void => void attempt.settle(null);
  socket.once('connect', onConnect);
  // Stays attached for the socket's life: an error after settling is handled by the connection's own listener,
  // but a socket must never be without one (an unhandled 'error' would crash the process).
  socket.on('error', (error) => attempt.settle(new ConnectRefusedError(backend.label, error)));
  return socket;
}
