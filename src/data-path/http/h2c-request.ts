/**
 * A request to a `protocol: h2c` backend: one stream on the backend's shared HTTP/2 session (prior knowledge,
 * no TLS). Trailers from the backend are passed on to an h2 client; an HTTP/1.1 client gets none.
 */
import http2 from 'node:http2';
import type { OutgoingHttpHeaders } from 'node:http';
import type { BackendTarget, SendCallbacks } from './exchange.js';
import type { Upstreams } from './upstreams.js';

/** Connection-specific request headers HTTP/2 forbids (RFC 9113 §8.2.2); Host becomes :authority. */
const NOT_IN_H2 = new Set(['host', 'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

export function sendOverH2c(upstreams: Upstreams, target: BackendTarget, callbacks: SendCallbacks): void {
  const session = upstreams.sessionFor(target.label, target.host, target.port);
  const headers: OutgoingHttpHeaders = {
    ':method': target.method,
    ':path': target.path,
    ':authority': target.authority,
    ':scheme': 'http',
  };
  for (const [name, value] of Object.entries(target.headers)) if (!NOT_IN_H2.has(name)) headers[name] = value;
  let isConnected = !session.connecting;
  let isSettled = false;
  const stream = session.request(headers, { endStream: !target.hasBody });
  const connected = (): void => {
    isConnected = true;
    if (target.hasBody) callbacks.onConnected(stream);
    else callbacks.onConnected(stream); // nothing to send; the caller's pipe ends at once
  };
  if (isConnected) queueMicrotask(connected);
  else session.once('connect', connected);
  stream.on('response', (responseHeaders) => {
    isSettled = true;
    const status = Number(responseHeaders[':status'] ?? 502);
    callbacks.onAnswer({ status, headers: responseHeaders, body: stream });
  });
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (isSettled) return;
    isSettled = true;
    session.removeListener('connect', connected);
    callbacks.onFailed(`${target.label}: ${error.code ?? error.message}`, !isConnected, false);
  });
  stream.on('close', () => {
    if (isSettled) return;
    isSettled = true;
    callbacks.onFailed(`${target.label}: stream closed (${http2.constants.NGHTTP2_NO_ERROR === stream.rstCode ? 'no response' : `code ${stream.rstCode}`})`, !isConnected, false);
  });
}
