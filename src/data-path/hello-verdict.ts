/**
 * What a finished sniff means for a connection: route it, or close it with a reason, a detail and the sniffer's
 * alert for the client. The verdict also fills what the access line learns from the hello (server name, ALPN, kind)
 * and counts the hello's outcome, so that the connection's peeking stage only acts on it.
 */
import type { CloseReason } from '../ops/close-reason.js';
import type { ConnectionMetrics } from '../ops/connection-metrics.js';
import type { SniffResult } from '../wire/sniffer.js';
import type { ConnectionRecord } from './access-line.js';
import type { ConnectionHost, RoutingState } from './connection-host.js';

export type HelloVerdict =
  | { readonly kind: 'route' }
  | { readonly kind: 'close'; readonly reason: CloseReason; readonly detail: string | undefined; readonly farewell: Buffer | null };

/** One shared object: a hello that routes, the common case, allocates nothing. */
const ROUTE: HelloVerdict = Object.freeze({ kind: 'route' });

/**
 * `peeked`: the bytes the sniffer read, for the debug line of a malformed hello. `host`: the listener's sniffer (its
 * alerts) and logger; `routing`: the snapshot's hello limit and whether a default pool takes foreign bytes.
 */
export function judgeHello(
  result: Exclude<SniffResult, { kind: 'need_more' }>,
  peeked: readonly Buffer[],
  record: ConnectionRecord,
  host: Pick<ConnectionHost<unknown>, 'sniffer' | 'logger'>,
  routing: RoutingState,
  metrics: ConnectionMetrics,
  connectionId: string,
): HelloVerdict {
  const { sniffer, logger } = host;
  switch (result.kind) {
    case 'found':
      record.sni = result.serverName;
      record.alpn = result.alpn;
      record.hello = result.serverName === null ? 'no_sni' : 'sni';
      metrics.hello(result.serverName === null ? 'no_sni' : 'sni_found', result.byteLength);
      return ROUTE;
    case 'foreign':
      // Not the listener's protocol at all: SPEC sends it to the default pool when one is set.
      record.hello = 'not_tls';
      metrics.hello('not_tls', 0);
      return routing.hasDefaultPool ? ROUTE : { kind: 'close', reason: 'not_tls', detail: undefined, farewell: null };
    case 'too_large':
      metrics.hello('too_large', record.bytesIn);
      return { kind: 'close', reason: 'hello_too_large', detail: `hello larger than ${routing.maxHelloBytes} bytes`, farewell: sniffer.abortMessage('too_large') };
    case 'malformed':
      metrics.hello('malformed', record.bytesIn);
      // At debug, the bytes as hex, ready to paste into fixtures/ so a bad hello seen in the field becomes a test.
      if (logger.isLevelEnabled('debug')) {
        logger.debug({ id: connectionId, reason: result.reason, hex: Buffer.concat(peeked).toString('hex') }, 'malformed hello bytes');
      }
      return { kind: 'close', reason: 'hello_malformed', detail: result.reason, farewell: sniffer.abortMessage('malformed') };
  }
}
