const V4_MAPPED_PREFIX = '::ffff:';

/** True for '::ffff:1.2.3.4', how node shows an IPv4 peer on a dual-stack socket. */
export function isV4Mapped(address: string): boolean {
  return address.length > V4_MAPPED_PREFIX.length && address.toLowerCase().startsWith(V4_MAPPED_PREFIX) && address.includes('.');
}

/** The address an operator expects to read: IPv4 clients of dual-stack listeners shown as plain IPv4. */
export function displayAddress(address: string): string {
  return isV4Mapped(address) ? address.slice(V4_MAPPED_PREFIX.length) : address;
}

/** `host:port`, with IPv6 addresses in brackets (RFC 3986), so that the port reads as one. */
export function formatEndpoint(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}
