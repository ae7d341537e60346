/**
 * IPv4/IPv6 networks (`10.0.0.0/8`, `::1/128`, or a bare address meaning one host) and membership tests, for the
 * `trusted` list of a listener that accepts PROXY headers. Pure: the address texts are the ones node reports for
 * sockets ('1.2.3.4', '::1', '::ffff:1.2.3.4'); an IPv4-mapped IPv6 peer matches IPv4 networks.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { Cidr } from './config/types.js';

export type CidrResult = { readonly ok: true; readonly value: Cidr } | { readonly ok: false; readonly reason: string };

const IPV4_BYTES = 4;
const IPV6_BYTES = 16;
const BITS_PER_BYTE = 8;
const IPV6_GROUPS = 8;
const HEX = 16;
const V4_MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/** Address text → 4 or 16 bytes; null when it is not an IP address. */
export function addressBytes(text: string): number[] | null {
  if (isIPv4(text)) return text.split('.').map(Number);
  const zone = text.indexOf('%');
  const address = zone === -1 ? text : text.slice(0, zone);
  if (!isIPv6(address)) return null;
  let head = address;
  let tailV4: number[] = [];
  const lastColon = address.lastIndexOf(':');
  if (address.includes('.', lastColon)) {
    tailV4 = address.slice(lastColon + 1).split('.').map(Number);
    head = `${address.slice(0, lastColon + 1)}0:0`;
  }
  const halves = head.split('::');
  const groups = (part: string | undefined): number[] => (part ? part.split(':').map((g) => Number.parseInt(g, HEX)) : []);
  const left = groups(halves[0]);
  const right = groups(halves[1]);
  const all = halves.length === 2 ? [...left, ...new Array<number>(IPV6_GROUPS - left.length - right.length).fill(0), ...right] : left;
  const bytes: number[] = [];
  for (const group of all) bytes.push(group >> BITS_PER_BYTE, group & 0xff);
  if (tailV4.length === IPV4_BYTES) bytes.splice(IPV6_BYTES - IPV4_BYTES, IPV4_BYTES, ...tailV4);
  return bytes;
}

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
  const family = bytes.length === IPV4_BYTES ? 4 : 6;
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
  let bytes = addressBytes(address);
  if (bytes === null) return false;
  if (bytes.length === IPV6_BYTES && V4_MAPPED_PREFIX.every((byte, index) => bytes![index] === byte)) {
    bytes = bytes.slice(V4_MAPPED_PREFIX.length);
  }
  for (const network of networks) {
    if (network.bytes.length !== bytes.length) continue;
    const masked = maskBytes(bytes, network.prefixLength);
    if (masked.every((byte, index) => byte === network.bytes[index])) return true;
  }
  return false;
}
