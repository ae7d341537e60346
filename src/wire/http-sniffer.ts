/**
 * The plain-HTTP sniffer: the second protocol a listener can peek at (the first is TLS, whose reader is the
 * ClientHello reader; src/wire/sniffer.ts). As in sniproxy, a sniffer is a value — its name, a fresh incremental
 * reader per connection, and what to tell a client whose first bytes it could not use — so connection code never
 * knows which protocol it peeked. The reader is HttpHostReader; `found` names the Host's host name (an IPv6 literal
 * names none), and the whole head is `byteLength`. The plain-HTTP connection reads the same reader directly (it
 * also needs the method and target for its redirects): `newHeadReader`.
 */
import { HttpHostReader, type HttpRequestHead, splitHostAndPort } from './http-host-reader.js';
import type { SniffAbort, Sniffer, SnifferLimits, SniffReader, SniffResult } from './sniffer.js';

/** Short answers a plain-HTTP listener gives itself; each closes the connection. */
export function plainHttpResponse(status: number, reason: string, body: string, extraHeaders = ''): Buffer {
  return Buffer.from(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `Connection: close\r\n${extraHeaders}\r\n${body}`,
    'latin1',
  );
}

/** The head reader for a connection, bounded like the sniffer's. */
export function newHeadReader(limits: SnifferLimits): HttpHostReader {
  return new HttpHostReader({ maxHeadBytes: limits.maxBytes });
}

class HttpSniffReader implements SniffReader {
  readonly #reader: HttpHostReader;
  /** The head once `found`: method, target and Host as sent. */
  request: HttpRequestHead | null = null;

  constructor(limits: SnifferLimits) {
    this.#reader = newHeadReader(limits);
  }

  push(chunk: Uint8Array): SniffResult {
    const result = this.#reader.push(chunk);
    switch (result.kind) {
      case 'request': {
        this.request = result.request;
        const host = result.request.host === null ? null : splitHostAndPort(result.request.host);
        return { kind: 'found', serverName: host === null || host.isIpv6 ? null : host.name, alpn: [], byteLength: result.request.headersEnd };
      }
      case 'not_http':
        return { kind: 'foreign' };
      default:
        return result;
    }
  }
}

const ABORT_MESSAGES: Readonly<Record<SniffAbort, Buffer>> = {
  malformed: plainHttpResponse(400, 'Bad Request', 'bad request\n'),
  too_large: plainHttpResponse(431, 'Request Header Fields Too Large', 'request head too large\n'),
  unknown_name: plainHttpResponse(404, 'Not Found', 'no route for this host\n'),
  no_name: plainHttpResponse(400, 'Bad Request', 'a Host header is required\n'),
};

export const HTTP_SNIFFER: Sniffer = Object.freeze({
  name: 'http',
  newReader: (limits: SnifferLimits): SniffReader => new HttpSniffReader(limits),
  abortMessage: (why: SniffAbort): Buffer | null => ABORT_MESSAGES[why],
});
