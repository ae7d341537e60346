/** RFC 7301 §3.1: a ProtocolName is 1–255 bytes; we accept the printable ASCII that every registered one uses. */
const ALPN_PROTOCOL_NAME = /^[\x21-\x7e]{1,255}$/;

/** Whether `text` may name an ALPN protocol in the config (`alpn:` pools, `--alpn`). */
export function isAlpnProtocolName(text: string): boolean {
  return ALPN_PROTOCOL_NAME.test(text);
}
