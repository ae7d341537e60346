/**
 * Keys and small checks for the issue-6 config shapes (listen long form, backend long form, health, limits, ALPN
 * pools), kept apart from validate.ts so that the walker only gains the readers.
 *
 *   listen: ["127.0.0.1:443", { address: "10.0.0.1:443", accept_proxy_protocol: { trusted: [10.0.0.0/8] },
 *                               max_connections: 10000, max_connections_per_client: 100 }]
 *   routes:
 *     app.example.com:
 *       backends: [10.0.0.5:8443, { address: 10.0.0.6:8443, weight: 3 }]
 *       health: { interval: 5s, timeout: 2s, rise: 2, fall: 3, tls: true }
 *       alpn: { "acme-tls/1": [127.0.0.1:9443] }
 *       fallback: [10.0.9.9:443]
 *   limits: { max_hello_connections: 10000, max_hello_connections_per_client: 256 }
 */
export const LISTEN_KEYS = ['address', 'accept_proxy_protocol', 'max_connections', 'max_connections_per_client', 'quic', 'http', 'https_port'];
export const BACKEND_KEYS = ['address', 'weight'];
export const HEALTH_KEYS = ['interval', 'timeout', 'rise', 'fall', 'tls'];
export const LIMITS_KEYS = ['max_hello_connections', 'max_hello_connections_per_client', 'max_hello_bytes_total', 'max_connection_rate_per_client'];

/** Weights are small integers (HAProxy allows 0–256; 0 is "drain", which we leave out). */
export const MAX_WEIGHT = 256;

/** RFC 7301 §3.1: a ProtocolName is 1–255 bytes; we accept the printable ASCII that every registered one uses. */
const ALPN_PROTOCOL_NAME = /^[\x21-\x7e]{1,255}$/;

export function isAlpnProtocolName(text: string): boolean {
  return ALPN_PROTOCOL_NAME.test(text);
}
