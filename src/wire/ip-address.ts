/**
 * The one judge of IP address text, and addresses as bytes: for the PROXY header (both directions), trusted
 * networks, and the config's host:port values. Text → 4 or 16 bytes (or null: not an IP address), IPv4-mapped
 * handling, and RFC 5952 text for IPv6. It accepts exactly the texts node:net's isIPv4/isIPv6 accept (no leading
 * zeros in a dotted quad; an IPv6 zone of letters, digits, '-', '.' and ':'), so what the config accepts is what a
 * socket will take. Pure: no `node:net`, no regexes; the parsers run per connection, so they make one pass over
 * the characters and build no intermediate strings.
 */

export const IPV4_ADDRESS_BYTES = 4;
export const IPV6_ADDRESS_BYTES = 16;

/** An address as bytes: 4 for IPv4, 16 for IPv6. */
export type AddressBytes = number[];

const IPV4_OCTET_MAX = 255;
const IPV6_GROUPS = 8;
const IPV6_GROUP_MAX_DIGITS = 4;
const GROUP_BYTES = 2;
const IPV4_MAPPED_PREFIX_ZERO_BYTES = 10; // ::ffff:a.b.c.d is 10 zero bytes, 0xff 0xff, then the IPv4 address
const IPV4_MAPPED_MARKER = 0xff;
const CHAR_0 = 0x30;
const CHAR_9 = 0x39;
const CHAR_LOWER_A = 0x61;
const CHAR_LOWER_F = 0x66;
const CHAR_UPPER_A = 0x41;
const CHAR_UPPER_F = 0x46;
const CHAR_UPPER_Z = 0x5a;
const CHAR_LOWER_Z = 0x7a;
const CHAR_DASH = 0x2d;
const CHAR_DOT = 0x2e;
const CHAR_COLON = 0x3a;
const NOT_HEX = -1;
const HEX_LETTER_OFFSET = 10;
const DECIMAL_RADIX = 10;
const HEX_RADIX = 16;
const IPV4_OCTET_MAX_DIGITS = 3;
const BITS_PER_BYTE = 8;
const BYTE_MASK = 0xff;

function hexDigit(code: number): number {
  if (code >= CHAR_0 && code <= CHAR_9) return code - CHAR_0;
  if (code >= CHAR_LOWER_A && code <= CHAR_LOWER_F) return code - CHAR_LOWER_A + HEX_LETTER_OFFSET;
  if (code >= CHAR_UPPER_A && code <= CHAR_UPPER_F) return code - CHAR_UPPER_A + HEX_LETTER_OFFSET;
  return NOT_HEX;
}

/**
 * Dotted quad in text[start, end) → 4 bytes, or null. Exactly four decimal parts of 1–3 digits, each ≤ 255, and
 * no leading zero (`01` could be read as octal; node refuses it too).
 */
export function parseIPv4(text: string, start = 0, end = text.length): AddressBytes | null {
  const bytes: AddressBytes = [];
  let value = 0;
  let digits = 0;
  for (let i = start; i <= end; i++) {
    const code = i < end ? text.charCodeAt(i) : CHAR_DOT;
    if (code === CHAR_DOT) {
      if (digits === 0 || value > IPV4_OCTET_MAX || bytes.length === IPV4_ADDRESS_BYTES) return null;
      bytes.push(value);
      value = 0;
      digits = 0;
    } else if (code >= CHAR_0 && code <= CHAR_9 && digits < IPV4_OCTET_MAX_DIGITS && !(digits === 1 && value === 0)) {
      value = value * DECIMAL_RADIX + (code - CHAR_0);
      digits++;
    } else {
      return null;
    }
  }
  return bytes.length === IPV4_ADDRESS_BYTES ? bytes : null;
}

/**
 * RFC 4291 §2.2 text → 16 bytes, or null: hex groups, at most one '::', an optional trailing dotted quad, and
 * a '%zone' that is dropped. One pass over the characters, no intermediate strings (it runs per connection).
 */
export function parseIPv6(text: string): AddressBytes | null {
  const zoneAt = text.indexOf('%');
  const end = zoneAt === -1 ? text.length : zoneAt;
  if (zoneAt !== -1 && !isZone(text, zoneAt + 1)) return null;
  const groups: number[] = [];
  let gapAt = -1; // index in `groups` where '::' stands
  let i = 0;
  if (text.charCodeAt(0) === CHAR_COLON) {
    if (text.charCodeAt(1) !== CHAR_COLON) return null;
    gapAt = 0;
    i = 2;
  }
  while (i < end) {
    let value = 0;
    let j = i;
    for (; j < end; j++) {
      const digit = hexDigit(text.charCodeAt(j));
      if (digit === NOT_HEX) break;
      if (j - i === IPV6_GROUP_MAX_DIGITS) return null;
      value = value * HEX_RADIX + digit;
    }
    if (j < end && text.charCodeAt(j) === CHAR_DOT) {
      const quad = parseIPv4(text, i, end); // the last 32 bits, written as a.b.c.d
      if (quad === null) return null;
      for (let k = 0; k < IPV4_ADDRESS_BYTES; k += GROUP_BYTES) groups.push(((quad[k] ?? 0) << BITS_PER_BYTE) | (quad[k + 1] ?? 0));
      break;
    }
    if (j === i || groups.length === IPV6_GROUPS) return null;
    groups.push(value);
    if (j === end) break;
    if (text.charCodeAt(j) !== CHAR_COLON || j + 1 === end) return null;
    j++;
    if (text.charCodeAt(j) === CHAR_COLON) {
      if (gapAt !== -1) return null;
      gapAt = groups.length;
      j++;
    }
    i = j;
  }
  if (gapAt === -1 ? groups.length !== IPV6_GROUPS : groups.length >= IPV6_GROUPS) return null;

  const bytes: AddressBytes = new Array<number>(IPV6_ADDRESS_BYTES).fill(0);
  const tailShift = gapAt === -1 ? 0 : IPV6_GROUPS - groups.length;
  for (let g = 0; g < groups.length; g++) {
    const slot = gapAt !== -1 && g >= gapAt ? g + tailShift : g;
    const group = groups[g] ?? 0;
    bytes[GROUP_BYTES * slot] = group >> BITS_PER_BYTE;
    bytes[GROUP_BYTES * slot + 1] = group & BYTE_MASK;
  }
  return bytes;
}

/** A zone id (RFC 4007 §11) from `start` to the end: one or more of letters, digits, '-', '.' and ':'. */
function isZone(text: string, start: number): boolean {
  if (start >= text.length) return false;
  for (let i = start; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const isLetter = (code >= CHAR_UPPER_A && code <= CHAR_UPPER_Z) || (code >= CHAR_LOWER_A && code <= CHAR_LOWER_Z);
    const isDigit = code >= CHAR_0 && code <= CHAR_9;
    if (!isLetter && !isDigit && code !== CHAR_DASH && code !== CHAR_DOT && code !== CHAR_COLON) return false;
  }
  return true;
}

/** Address text → 4 bytes (a dotted quad) or 16 (IPv6, zone dropped); null when it is not an IP address. */
export function addressBytes(text: string): AddressBytes | null {
  return text.includes(':') ? parseIPv6(text) : parseIPv4(text);
}

/** 4 for a dotted quad, 6 for IPv6 text, 0 for anything else (node:net's isIP, answered by this parser). */
export function ipVersionOf(text: string): 0 | 4 | 6 {
  const bytes = addressBytes(text);
  return bytes === null ? 0 : bytes.length === IPV4_ADDRESS_BYTES ? 4 : 6;
}

/** An IPv4-mapped IPv6 address (::ffff:a.b.c.d) as its 4 IPv4 bytes; any other address as it is. */
export function unmapIPv4(bytes: AddressBytes): AddressBytes {
  return bytes.length === IPV6_ADDRESS_BYTES && isIPv4Mapped(bytes) ? bytes.slice(IPV6_ADDRESS_BYTES - IPV4_ADDRESS_BYTES) : bytes;
}

export function isIPv4Mapped(bytes: ArrayLike<number>): boolean {
  for (let i = 0; i < IPV4_MAPPED_PREFIX_ZERO_BYTES; i++) if (bytes[i] !== 0) return false;
  return bytes[IPV4_MAPPED_PREFIX_ZERO_BYTES] === IPV4_MAPPED_MARKER && bytes[IPV4_MAPPED_PREFIX_ZERO_BYTES + 1] === IPV4_MAPPED_MARKER;
}

/** 4 bytes → ::ffff:a.b.c.d (16 bytes), for a header whose other address is genuinely IPv6. */
export function mapToIPv6(bytes: AddressBytes): AddressBytes {
  if (bytes.length === IPV6_ADDRESS_BYTES) return bytes;
  const mapped = new Array<number>(IPV4_MAPPED_PREFIX_ZERO_BYTES).fill(0);
  mapped.push(IPV4_MAPPED_MARKER, IPV4_MAPPED_MARKER, ...bytes);
  return mapped;
}

/** RFC 5952 text: lowercase, longest run (≥ 2) of zero groups as '::', IPv4-mapped as ::ffff:a.b.c.d. */
export function formatIPv6(bytes: ArrayLike<number>): string {
  if (isIPv4Mapped(bytes)) return `::ffff:${Array.from(bytes).slice(IPV6_ADDRESS_BYTES - IPV4_ADDRESS_BYTES).join('.')}`;
  const groups: number[] = [];
  for (let i = 0; i < IPV6_ADDRESS_BYTES; i += GROUP_BYTES) groups.push(((bytes[i] ?? 0) << BITS_PER_BYTE) | (bytes[i + 1] ?? 0));
  let bestAt = -1;
  let bestLength = 1; // a single zero group is not compressed
  for (let i = 0; i < IPV6_GROUPS; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let end = i;
    while (end < IPV6_GROUPS && groups[end] === 0) end++;
    if (end - i > bestLength) {
      bestAt = i;
      bestLength = end - i;
    }
    i = end;
  }
  const hex = (list: number[]): string => list.map((group) => group.toString(HEX_RADIX)).join(':');
  if (bestAt === -1) return hex(groups);
  return `${hex(groups.slice(0, bestAt))}::${hex(groups.slice(bestAt + bestLength))}`;
}
