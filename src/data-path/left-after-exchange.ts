/**
 * A terminated client that got its answer and left without close_notify (wget, python's ssl) closes with our
 * session ticket or the last bytes unread, so the kernel resets instead of a FIN. After a request and a response
 * went through, with nothing left to send it, that is the end of the exchange, not a failure: the access line and
 * the close metrics say `done`, not `client_reset`.
 */
import type net from 'node:net';
import type { ConnectionRecord } from './access-line.js';

/** The detail the access line carries when a reset is read as the end of a complete exchange. */
export const LEFT_WITHOUT_CLOSE_NOTIFY = 'client left without close_notify';

/**
 * Whether a client reset, with `detail` its error code, is a terminated client leaving after a complete exchange.
 * Only for a splicing connection: the caller checks the stage. Passthrough cannot tell (the TLS is not ours).
 */
export function isLeavingAfterExchange(record: ConnectionRecord, client: net.Socket, detail: string | undefined): boolean {
  if (record.mode !== 'terminate') return false;
  if (detail === undefined || !/ECONNRESET|EPIPE/.test(detail)) return false;
  return record.bytesIn > 0 && record.bytesOut > 0 && client.writableLength === 0;
}
