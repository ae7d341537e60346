/**
 * The request headers an HTTP-mode route sends its backend, and the response headers it sends the client: pure
 * functions of what came in, so that the rules read (and are tested) in one place.
 *
 *   - hop-by-hop headers (RFC 9110 §7.6.1: Connection and those it names, Keep-Alive, Proxy-Connection, TE,
 *     Transfer-Encoding, Upgrade, Trailer) belong to one connection and are not passed on; h2 pseudo-headers
 *     become Host;
 *   - X-Forwarded-For: the client address, appended to the list only when the peer that sent it is trusted
 *     (else a client could write whatever it likes there, and a backend trusting the first entry would believe it);
 *     X-Forwarded-Proto/Host/Port and RFC 7239 Forwarded say what the client asked for.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'transfer-encoding', 'upgrade', 'trailer', 'http2-settings']);

/** Who asked, as the router saw it. */
export interface ForwardedFor {
  /** The client's address (from a trusted PROXY header when the listener reads one), without brackets. */
  readonly clientAddress: string;
  /** Whether the peer may speak for someone else: its X-Forwarded-For / Forwarded are kept and appended to. */
  readonly isPeerTrusted: boolean;
  /** The port the client connected to (X-Forwarded-Port). */
  readonly localPort: number;
}

/** The names the Connection header lists (lower case). */
function connectionTokens(headers: IncomingHttpHeaders): Set<string> {
  const value = headers.connection;
  const tokens = new Set<string>();
  for (const piece of (Array.isArray(value) ? value.join(',') : (value ?? '')).split(',')) {
    const token = piece.trim().toLowerCase();
    if (token.length > 0) tokens.add(token);
  }
  return tokens;
}

/** RFC 7239 §6: an IPv6 node is quoted and bracketed; an IPv4 one is a plain token. */
function forwardedNode(address: string): string {
  return address.includes(':') ? `"[${address}]"` : address;
}

/** RFC 7230 token or quoted-string for a host value in Forwarded. */
function forwardedValue(value: string): string {
  return /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(value) ? value : `"${value.replace(/["\\]/g, '\\$&')}"`;
}

/**
 * The headers for the backend request. `host` is the authority the client asked for (Host, or :authority over h2).
 * `isUpgrade` keeps Connection: upgrade and Upgrade (a WebSocket handshake is passed on as such).
 */
export function backendRequestHeaders(incoming: IncomingHttpHeaders, host: string, who: ForwardedFor, isUpgrade = false): OutgoingHttpHeaders {
  const named = connectionTokens(incoming);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || name.startsWith(':')) continue;
    if (HOP_BY_HOP.has(name) || named.has(name)) continue;
    // The router answers Expect: 100-continue to the client itself (node's server does, before the body is read).
    if (name === 'expect') continue;
    out[name] = value;
  }
  out.host = host;
  if (isUpgrade && incoming.upgrade !== undefined) {
    out.connection = 'upgrade';
    out.upgrade = incoming.upgrade;
  }
  const earlierFor = who.isPeerTrusted ? joined(incoming['x-forwarded-for']) : '';
  out['x-forwarded-for'] = earlierFor.length > 0 ? `${earlierFor}, ${who.clientAddress}` : who.clientAddress;
  out['x-forwarded-proto'] = 'https';
  out['x-forwarded-host'] = host;
  out['x-forwarded-port'] = String(who.localPort);
  const element = `for=${forwardedNode(who.clientAddress)};host=${forwardedValue(host)};proto=https`;
  const earlierForwarded = who.isPeerTrusted ? joined(incoming.forwarded) : '';
  out.forwarded = earlierForwarded.length > 0 ? `${earlierForwarded}, ${element}` : element;
  return out;
}

function joined(value: string | string[] | undefined): string {
  return (Array.isArray(value) ? value.join(', ') : (value ?? '')).trim();
}

/** The backend's response headers for the client: hop-by-hop ones dropped (h2 forbids them), HSTS added if set. */
export function clientResponseHeaders(incoming: IncomingHttpHeaders, hsts: string | null): OutgoingHttpHeaders {
  const named = connectionTokens(incoming);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || name.startsWith(':')) continue;
    if (HOP_BY_HOP.has(name) || named.has(name)) continue;
    out[name] = value;
  }
  if (hsts !== null) out['strict-transport-security'] = hsts;
  return out;
}
