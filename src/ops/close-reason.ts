/**
 * Why a connection ended: the closed vocabulary of the access log's `reason` field (documented in docs/access-log.md, "Close reasons").
 */
export const CLOSE_REASONS = [
  'done', // both sides finished normally
  'hello_timeout', // the ClientHello did not complete within timeouts.client_hello
  'hello_too_large', // the ClientHello grew past max_hello_bytes
  'hello_malformed', // the bytes looked like TLS but broke the ClientHello grammar
  'not_tls', // the first bytes were not a TLS handshake and no default pool was set
  'no_route', // no route matched (or no usable SNI) and no default pool was set
  'backend_unavailable', // every backend of the pool refused or timed out
  'client_reset', // the client reset or errored
  'backend_reset', // the backend reset or errored
  'idle_timeout', // no bytes either way for timeouts.idle
  'limit', // refused by a connection limit
  'proxy_rejected', // inbound PROXY header required but the peer is untrusted, or the header is missing or malformed
  'shutdown', // the router closed it while shutting down
  // Added later: appended, as the native plane numbers reasons in this order (native/plane.h).
  'backend_closed_early', // the backend closed its side before sending a byte, while the client was still sending
  'redirected', // a plain-HTTP redirect listener answered 308 to https://
  'http_bad_request', // a plain-HTTP listener answered 400: not HTTP/1.x, a malformed head, or no usable Host
] as const;

/**
 * HTTP mode (terminate.http) only: a request's line, or the connection's when it ended on one of these. Kept apart
 * from CLOSE_REASONS, which the native data plane shares index for index (native/binding.c), and which never
 * serves HTTP mode.
 */
export const HTTP_CLOSE_REASONS = [
  'bad_gateway', // 502: every backend refused, or one broke off before its response head
  'service_unavailable', // 503: every backend of the pool is down
  'gateway_timeout', // 504: no response head within http.response_timeout
  'request_timeout', // 408: a request head or body slower than http.headers_timeout / request_timeout
  'request_too_large', // 413/431: a body over http.max_body_bytes, or a head over http.max_header_bytes
] as const;

export type CloseReason = (typeof CLOSE_REASONS)[number] | (typeof HTTP_CLOSE_REASONS)[number];
