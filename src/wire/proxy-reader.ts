/**
 * Pure, incremental reader for an inbound PROXY protocol header (HAProxy's doc/proxy-protocol.txt, v1 §2.1 and
 * v2 §2.2), for listeners behind a load balancer. Push the connection's bytes as they arrive, in chunks of any
 * size; the answer is `need_more` until it is final: `done` (with the bytes after the header, which belong to the
 * ClientHello) or `malformed` (close the connection: a header is never guessed at). No I/O, no timers: the
 * deadline is the connection's client_hello timeout.
 *
 * Every byte is judged as it arrives, so a peer that is not speaking PROXY fails on its first wrong byte rather
 * than after a buffer fills; nothing past the header's declared size is buffered.
 *
 *   v1: "PROXY" SP ("TCP4" | "TCP6") SP src SP dst SP sport SP dport CRLF    at most 107 bytes (§2.1)
 *       "PROXY" SP "UNKNOWN" [anything but CRLF] CRLF                        → use the real connection's addresses
 *
 *   v2: byte 0                12          13          14..15        16 ..
 *       | signature (12)      | ver | cmd | fam | prot | length      | addresses | TLVs |
 *       |                     | 0x2 | 0/1 | 1/2 | 1    | after 16    | 12 / 36   | ...  |
 *       cmd LOCAL (0)        → the real connection's addresses (health checks from the load balancer)
 *       cmd PROXY, AF_UNSPEC → the same (§2.2: "the receiver must ignore the address information")
 *       TLVs: type(1) length(2) value — walked to check that they fill the block exactly, otherwise ignored.
 */
import { formatIPv6, ipVersionOf, parseIPv6 } from './ip-address.js';
import {
  IPV4_ADDRESS_BYTES,
  IPV6_ADDRESS_BYTES,
  PORT_BYTES,
  PP1_MAX_BYTES,
  PP2_ADDR_INET6_BYTES,
  PP2_ADDR_INET_BYTES,
  PP2_AF_INET,
  PP2_AF_INET6,
  PP2_AF_UNSPEC,
  PP2_CMD_LOCAL,
  PP2_CMD_PROXY,
  PP2_HEADER_BYTES,
  PP2_OFFSET_FAM,
  PP2_OFFSET_LENGTH,
  PP2_OFFSET_VER_CMD,
  PP2_SIGNATURE,
  PP2_SIGNATURE_BYTES,
  PP2_TLV_HEADER_BYTES,
  PP2_TRANS_STREAM,
  PP2_VERSION,
} from './proxy-header.js';

export interface InboundEndpoint {
  readonly address: string;
  readonly port: number;
}

export interface InboundProxyHeader {
  readonly version: 1 | 2;
  /** `local`: v2 LOCAL, v2 AF_UNSPEC or v1 UNKNOWN — keep the real connection's addresses. */
  readonly command: 'proxy' | 'local';
  /** The original client and the address it connected to; null for `local`. */
  readonly source: InboundEndpoint | null;
  readonly destination: InboundEndpoint | null;
  /** Bytes the header took on the wire. */
  readonly byteLength: number;
}

export const PROXY_MALFORMED_REASONS = [
  'not_proxy', // the first bytes are neither "PROXY " nor the v2 signature (a missing header)
  'v1_bad_protocol', // not TCP4, TCP6 or UNKNOWN
  'v1_bad_address', // an address that is not of the declared family
  'v1_bad_port', // not a decimal number from 0 to 65535
  'v1_bad_syntax', // wrong field count, double spaces, a control byte, or CR without LF
  'v1_too_long', // no CRLF within 107 bytes
  'v2_bad_version', // version nibble is not 2
  'v2_bad_command', // command is neither LOCAL nor PROXY
  'v2_bad_family', // PROXY over something other than TCP over IPv4/IPv6 (UDP, AF_UNIX)
  'v2_length_short', // length smaller than the address block of the family
  'v2_too_long', // length past MAX_INBOUND_V2_BYTES
  'v2_tlv_overflow', // a TLV runs past the header
] as const;

export type ProxyMalformedReason = (typeof PROXY_MALFORMED_REASONS)[number];

export type ProxyReadResult =
  | { readonly kind: 'need_more' }
  | { readonly kind: 'done'; readonly header: InboundProxyHeader; readonly rest: Buffer }
  | { readonly kind: 'malformed'; readonly reason: ProxyMalformedReason };

/**
 * The largest v2 header we take (16-byte prefix + addresses + TLVs). Load balancers send a few dozen bytes of
 * TLVs (AWS: the VPC endpoint id; HAProxy: SSL details); 4 KiB leaves room without letting a peer make us buffer
 * 64 KiB before the ClientHello even starts.
 */
export const MAX_INBOUND_V2_BYTES = 4096;

const NEED_MORE: ProxyReadResult = Object.freeze({ kind: 'need_more' });
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
const V1_PREFIX_BYTES = V1_PREFIX.length;
const CR = 0x0d;
const LF = 0x0a;
const SPACE = 0x20;
const PRINTABLE_MIN = 0x21;
const PRINTABLE_MAX = 0x7e;
const V1_FIELDS_INET = 6; // PROXY TCP4 src dst sport dport
const MAX_PORT = 0xffff;
const PORT_TEXT = /^(?:0|[1-9]\d{0,4})$/;
const HIGH_NIBBLE = 0xf0;
const LOW_NIBBLE = 0x0f;

const MODE_UNDECIDED = 0;
const MODE_V1 = 1;
const MODE_V2 = 2;
type Mode = typeof MODE_UNDECIDED | typeof MODE_V1 | typeof MODE_V2;

function malformed(reason: ProxyMalformedReason): ProxyReadResult {
  return { kind: 'malformed', reason };
}

export class ProxyHeaderReader {
  #result: ProxyReadResult = NEED_MORE;
  #mode: Mode = MODE_UNDECIDED;
  /** Header bytes so far; v1 and the v2 prefix fit in PP1_MAX_BYTES, a v2 header is re-allocated once its size is known. */
  #buffer: Buffer = Buffer.allocUnsafe(PP1_MAX_BYTES);
  #filled = 0;
  /** v2: 16 + length, once the prefix is in. */
  #v2Total = 0;

  push(chunk: Buffer): ProxyReadResult {
    if (this.#result !== NEED_MORE) return this.#result;
    let pos = 0;
    // Bounded: each pass consumes at least one byte or returns.
    while (pos < chunk.length) {
      if (this.#mode === MODE_V2 && this.#v2Total > 0) {
        const count = Math.min(this.#v2Total - this.#filled, chunk.length - pos);
        chunk.copy(this.#buffer, this.#filled, pos, pos + count);
        this.#filled += count;
        pos += count;
        if (this.#filled === this.#v2Total) return this.#finish(parseV2(this.#buffer.subarray(0, this.#filled)), chunk, pos);
        continue;
      }
      const byte = chunk[pos]!;
      pos += 1;
      const verdict = this.#mode === MODE_V1 || (this.#mode === MODE_UNDECIDED && byte === V1_PREFIX[0]) ? this.#v1Byte(byte) : this.#v2PrefixByte(byte);
      if (verdict === 'done') {
        const parsed = this.#mode === MODE_V1 ? parseV1(this.#buffer.subarray(0, this.#filled)) : null;
        if (parsed !== null) return this.#finish(parsed, chunk, pos);
      } else if (verdict !== null) {
        return this.#finish(verdict, chunk, pos);
      } else if (this.#v2Total > 0 && this.#filled === this.#v2Total) {
        return this.#finish(parseV2(this.#buffer.subarray(0, this.#filled)), chunk, pos);
      }
    }
    return NEED_MORE;
  }

  #finish(result: ProxyReadResult | InboundProxyHeader, chunk: Buffer, pos: number): ProxyReadResult {
    this.#result = 'kind' in result ? result : { kind: 'done', header: result, rest: chunk.subarray(pos) };
    this.#buffer = Buffer.alloc(0);
    return this.#result;
  }

  /** One byte of a v1 line: 'done' when CRLF is in, a malformed result, or null for more. */
  #v1Byte(byte: number): ProxyReadResult | 'done' | null {
    this.#mode = MODE_V1;
    const offset = this.#filled;
    if (offset < V1_PREFIX_BYTES && byte !== V1_PREFIX[offset]) return malformed('not_proxy');
    if (offset >= PP1_MAX_BYTES) return malformed('v1_too_long');
    this.#buffer[offset] = byte;
    this.#filled = offset + 1;
    const previous = offset > 0 ? this.#buffer[offset - 1] : undefined;
    if (previous === CR) return byte === LF ? 'done' : malformed('v1_bad_syntax');
    if (byte === CR) return null;
    if (byte !== SPACE && (byte < PRINTABLE_MIN || byte > PRINTABLE_MAX)) return malformed('v1_bad_syntax');
    return null;
  }

  /** One byte of the v2 16-byte prefix; judges signature, version, command and length as they arrive. */
  #v2PrefixByte(byte: number): ProxyReadResult | null {
    this.#mode = MODE_V2;
    const offset = this.#filled;
    this.#buffer[offset] = byte;
    this.#filled = offset + 1;
    if (offset < PP2_SIGNATURE_BYTES) return byte === PP2_SIGNATURE[offset] ? null : malformed('not_proxy');
    if (offset === PP2_OFFSET_VER_CMD) {
      if ((byte & HIGH_NIBBLE) !== PP2_VERSION) return malformed('v2_bad_version');
      const command = byte & LOW_NIBBLE;
      return command === PP2_CMD_LOCAL || command === PP2_CMD_PROXY ? null : malformed('v2_bad_command');
    }
    if (this.#filled < PP2_HEADER_BYTES) return null;
    const length = this.#buffer.readUInt16BE(PP2_OFFSET_LENGTH);
    const isProxy = (this.#buffer[PP2_OFFSET_VER_CMD]! & LOW_NIBBLE) === PP2_CMD_PROXY;
    const family = this.#buffer[PP2_OFFSET_FAM]!;
    if (isProxy && family !== PP2_AF_UNSPEC) {
      const block = addressBlockBytes(family);
      if (block === null) return malformed('v2_bad_family');
      if (length < block) return malformed('v2_length_short');
    }
    if (PP2_HEADER_BYTES + length > MAX_INBOUND_V2_BYTES) return malformed('v2_too_long');
    const total = PP2_HEADER_BYTES + length;
    if (length === 0) {
      this.#v2Total = PP2_HEADER_BYTES; // complete: push() finishes it
      return null;
    }
    const grown = Buffer.allocUnsafe(total);
    this.#buffer.copy(grown, 0, 0, PP2_HEADER_BYTES);
    this.#buffer = grown;
    this.#v2Total = total;
    return null;
  }
}

/** Address block size of a v2 PROXY header's family byte; null for what we do not take (UDP, AF_UNIX). */
function addressBlockBytes(family: number): number | null {
  if (family === (PP2_AF_INET | PP2_TRANS_STREAM)) return PP2_ADDR_INET_BYTES;
  if (family === (PP2_AF_INET6 | PP2_TRANS_STREAM)) return PP2_ADDR_INET6_BYTES;
  return null;
}

function parseV2(header: Buffer): InboundProxyHeader | ProxyReadResult {
  const isProxy = (header[PP2_OFFSET_VER_CMD]! & LOW_NIBBLE) === PP2_CMD_PROXY;
  const family = header[PP2_OFFSET_FAM]!;
  const block = isProxy && family !== PP2_AF_UNSPEC ? (addressBlockBytes(family) ?? 0) : 0;
  // TLVs follow the address block (for LOCAL the whole body is skipped, §2.2).
  if (isProxy) {
    let offset = PP2_HEADER_BYTES + block;
    while (offset < header.length) {
      if (offset + PP2_TLV_HEADER_BYTES > header.length) return malformed('v2_tlv_overflow');
      offset += PP2_TLV_HEADER_BYTES + header.readUInt16BE(offset + 1);
      if (offset > header.length) return malformed('v2_tlv_overflow');
    }
  }
  if (!isProxy || block === 0) return { version: 2, command: 'local', source: null, destination: null, byteLength: header.length };
  const start = PP2_HEADER_BYTES;
  const addressSize = block === PP2_ADDR_INET_BYTES ? IPV4_ADDRESS_BYTES : IPV6_ADDRESS_BYTES;
  const text = addressSize === IPV4_ADDRESS_BYTES ? formatIPv4 : formatIPv6;
  const portsAt = start + 2 * addressSize;
  return {
    version: 2,
    command: 'proxy',
    source: { address: text(header.subarray(start, start + addressSize)), port: header.readUInt16BE(portsAt) },
    destination: { address: text(header.subarray(start + addressSize, portsAt)), port: header.readUInt16BE(portsAt + PORT_BYTES) },
    byteLength: header.length,
  };
}

function parseV1(line: Buffer): InboundProxyHeader | ProxyReadResult {
  const text = line.toString('latin1', 0, line.length - 2);
  const fields = text.split(' ');
  const protocol = fields[1];
  if (protocol === 'UNKNOWN') return { version: 1, command: 'local', source: null, destination: null, byteLength: line.length };
  if (protocol !== 'TCP4' && protocol !== 'TCP6') return malformed(fields.length < 2 || protocol === '' ? 'v1_bad_syntax' : 'v1_bad_protocol');
  if (fields.length !== V1_FIELDS_INET || fields.some((field) => field === '')) return malformed('v1_bad_syntax');
  const [, , source = '', destination = '', sourcePort = '', destinationPort = ''] = fields;
  const version = protocol === 'TCP4' ? 4 : 6;
  if (ipVersionOf(source) !== version || ipVersionOf(destination) !== version) return malformed('v1_bad_address');
  if (!PORT_TEXT.test(sourcePort) || !PORT_TEXT.test(destinationPort)) return malformed('v1_bad_port');
  if (Number(sourcePort) > MAX_PORT || Number(destinationPort) > MAX_PORT) return malformed('v1_bad_port');
  const canonical = protocol === 'TCP4' ? (address: string): string => address : canonicalIPv6;
  return {
    version: 1,
    command: 'proxy',
    source: { address: canonical(source), port: Number(sourcePort) },
    destination: { address: canonical(destination), port: Number(destinationPort) },
    byteLength: line.length,
  };
}

function formatIPv4(bytes: Buffer): string {
  return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
}

/** RFC 5952 text, as node prints peers: a v1 header may spell an IPv6 address any valid way. */
function canonicalIPv6(text: string): string {
  const bytes = parseIPv6(text);
  return bytes === null ? text.toLowerCase() : formatIPv6(bytes);
}

