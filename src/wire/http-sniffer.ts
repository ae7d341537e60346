/**
 * The plain-HTTP sniffer: the second protocol a listener can peek at (the first is TLS, whose reader is the
 * ClientHello reader). As in sniproxy, a sniffer is a value — its name, a fresh incremental reader per connection,
 * and the bytes to send a client whose first bytes it could not use — so the connection code never knows which
 * protocol it peeked.
 */
import { HttpHostReader } from './http-host-reader.js';

/** The bounds a sniffer's reader works within (the listener's hello limits). */
export interface SnifferLimits {
  readonly maxHelloBytes: number;
}

export interface HttpSniffer {
  readonly name: 'http';
  newReader(limits: SnifferLimits): HttpHostReader;
  /** Sent before closing a connection whose head was refused: a 400 that closes. */
  readonly abortMessage: Buffer;
}

/** Short answers a plain-HTTP listener gives itself; each closes the connection. */
export function plainHttpResponse(status: number, reason: string, body: string, extraHeaders = ''): Buffer {
  return Buffer.from(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `Connection: close\r\n${extraHeaders}\r\n${body}`,
    'latin1',
  );
}

export const HTTP_SNIFFER: HttpSniffer = Object.freeze({
  name: 'http',
  newReader: (limits: SnifferLimits) => new HttpHostReader({ maxHeadBytes: limits.maxHelloBytes }),
  abortMessage: plainHttpResponse(400, 'Bad Request', 'bad request\n'),
});
