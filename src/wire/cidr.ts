/**
 * IPv4/IPv6 networks (`10.0.0.0/8`, `::1/128`, or a bare address meaning one host) and membership tests, for the
 * `trusted` list of a listener that accepts PROXY headers. Pure: the address texts are the ones node reports for
 * sockets ('1.2.3.4', '::1', '::ffff:1.2.3.4'); an IPv4-mapped IPv6 peer matches IPv4 networks.
 */
import { addressBytes, IPV4_ADDRESS_BYTES, unmapIPv4 } from './ip-address.js';

/** An IPv4 or IPv6 network, `10.0.0.0/8` or `::1/128`, as written and parsed. */
export interface Cidr {
  readonly label: string;
  readonly family: 4 | 6;
  /** Network address as 4 or 16 bytes. */
  readonly bytes: readonly number[];
  readonly prefixLength: number;
}

export type CidrResult = { readonly ok: true; readonly value: Cidr } | { readonly ok: false; readonly reason: string };

const BITS_PER_BYTE = 8;

/** '10.0.0.0/8', '::1/128', '127.0.0.1' (a /32), '[::1]/128' is not accepted (no brackets in CIDRs). */
export function parseCidr(raw: string): CidrResult {
  const text = raw.trim();
  const slash = text.indexOf('/');
  const addressText = slash === -1 ? text : text.slice(0, slash);
  const bytes = addressBytes(addressText);
  if (bytes === null) return { ok: false, reason: "is not an IPv4 or IPv6 network, as in '10.0.0.0/8' or '::1/128'" };
  const maxPrefix = bytes.length * BITS_PER_BYTE;
  let prefixLength = maxPrefix;
  if (slash !== -1) {
    const prefixText = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > maxPrefix) {
      return { ok: false, reason: `has prefix length '${prefixText}', which is not a number from 0 to ${maxPrefix}` };
    }
    prefixLength = Number(prefixText);
  }
  const family = bytes.length === IPV4_ADDRESS_BYTES ? 4 : 6;
  return { ok: true, value: { label: slash === -1 ? `${text}/${maxPrefix}` : text, family, bytes: maskBytes(bytes, prefixLength), prefixLength } };
}

function maskBytes(bytes: readonly number[], prefixLength: number): number[] {
  return bytes.map((byte, index) => {
    const bitsHere = Math.max(0, Math.min(BITS_PER_BYTE, prefixLength - index * BITS_PER_BYTE));
    return byte & ((0xff << (BITS_PER_BYTE - bitsHere)) & 0xff);
  });
}

/** True when `address` (node's text for a peer) lies in one of `networks`. */
export function isAddressInAny(address: string, networks: readonly Cidr[]): boolean {
  const parsed = addressBytes(address);
  if (parsed === null) return false;
  const bytes = unmapIPv4(parsed);
  for (const network of networks) {
    if (network.bytes.length !== bytes.length) continue;
    const masked = maskBytes(bytes, network.prefixLength);
    if (masked.every((byte, index) => byte === network.bytes[index])) return true;
  }
  return false;
}
