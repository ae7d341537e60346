/**
 * PROXY protocol headers towards backends: v2 binary with TLVs, or v1 text (addresses only).
 * Wire format: HAProxy's doc/proxy-protocol.txt (§2.1 v1, §2.2 v2). Pure: no I/O, no `node:net`.
 *
 * The address block and the fixed 16-byte prefix come from `proxy-protocol-js` (the project's dependency);
 * this file adds what the library lacks: text → bytes for node's address strings, one address family per
 * header, the TLVs, and a correct length field. The library writes `len` as the size of the address block
 * alone and appends `data` uncounted, so the TLVs it carries would be read by a receiver as payload; we
 * overwrite the 16-bit length at PP2_OFFSET_LENGTH after `build()`.
 */
import {
  Command,
  INETProtocol,
  IPv4Address,
  IPv4ProxyAddress,
  IPv6Address,
  IPv6ProxyAddress,
  Peer,
  TransportProtocol,
  UnspecProxyAddress,
  V1BinaryProxyProtocol,
  V2ProxyProtocol,
} from 'proxy-protocol-js';
import {
  type AddressBytes,
  addressBytes,
  formatIPv6,
  IPV4_ADDRESS_BYTES,
  IPV6_ADDRESS_BYTES,
  mapToIPv6,
  unmapIPv4,
} from './ip-address.js';

// Address sizes are part of this module's wire vocabulary (PP2_ADDR_*_BYTES); they live with the address code.
export { IPV4_ADDRESS_BYTES, IPV6_ADDRESS_BYTES };

export interface ProxyEndpoint {
  /** As node reports it: '1.2.3.4', '::1', or '::ffff:1.2.3.4' (sent as IPv4). */
  readonly address: string;
  readonly port: number;
}

export interface ProxyHeaderInput {
  readonly source: ProxyEndpoint;
  readonly destination: ProxyEndpoint;
  /** PP2_TYPE_AUTHORITY: the SNI, when present. */
  readonly authority?: string | null;
  /** PP2_TYPE_UNIQUE_ID: the connection id (≤ 128 bytes). */
  readonly uniqueId?: string | null;
  /** PP2_TYPE_ALPN: the negotiated protocol (terminate mode). */
  readonly alpn?: string | null;
  /** PP2_TYPE_SSL with PP2_SUBTYPE_SSL_VERSION (terminate mode). */
  readonly ssl?: { readonly version: string; readonly clientCertVerified?: boolean; readonly hasClientCert?: boolean } | null;
}

// --- v2 header, proxy-protocol.txt §2.2 ----------------------------------------------------------------------
//
//   byte 0                         12          13           14 .. 15        16 ..
//      +---------------------------+-----------+------------+---------------+------------------------+-------+
//      | signature (12)            | ver | cmd | fam | prot | length uint16 | addresses              | TLVs  |
//      | \r \n \r \n \0 \r \n QUIT \n | 0x2 | 0/1 | 1/2 | 1  | bytes after 16| 12 (INET) / 36 (INET6) | ...   |
//      +---------------------------+-----------+------------+---------------+------------------------+-------+
//
//   INET  addresses: src_addr(4) dst_addr(4) src_port(2) dst_port(2)
//   INET6 addresses: src_addr(16) dst_addr(16) src_port(2) dst_port(2)
//   TLV:  type(1) length_hi(1) length_lo(1) value(length)

export const PP2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
export const PP2_SIGNATURE_BYTES = 12;
export const PP2_VERSION = 0x20; // high nibble of byte 12
export const PP2_CMD_LOCAL = 0x00;
export const PP2_CMD_PROXY = 0x01;
export const PP2_AF_UNSPEC = 0x00; // high nibble of byte 13
export const PP2_AF_INET = 0x10;
export const PP2_AF_INET6 = 0x20;
export const PP2_TRANS_UNSPEC = 0x00; // low nibble of byte 13
export const PP2_TRANS_STREAM = 0x01;

export const PP2_OFFSET_VER_CMD = PP2_SIGNATURE_BYTES; // 12
export const PP2_OFFSET_FAM = PP2_OFFSET_VER_CMD + 1; // 13
export const PP2_OFFSET_LENGTH = PP2_OFFSET_FAM + 1; // 14
export const PP2_LENGTH_BYTES = 2;
export const PP2_HEADER_BYTES = PP2_OFFSET_LENGTH + PP2_LENGTH_BYTES; // 16
/** The length field is a uint16: address block plus TLVs may not exceed it. */
export const PP2_MAX_LENGTH = 0xffff;

export const PORT_BYTES = 2;
export const PORT_MAX = 0xffff;
export const PP2_ADDR_INET_BYTES = 2 * IPV4_ADDRESS_BYTES + 2 * PORT_BYTES; // 12
export const PP2_ADDR_INET6_BYTES = 2 * IPV6_ADDRESS_BYTES + 2 * PORT_BYTES; // 36

export const PP2_TLV_TYPE_BYTES = 1;
export const PP2_TLV_LENGTH_BYTES = 2;
export const PP2_TLV_HEADER_BYTES = PP2_TLV_TYPE_BYTES + PP2_TLV_LENGTH_BYTES; // 3

// TLV types, §2.2.1 – §2.2.7
export const PP2_TYPE_ALPN = 0x01;
export const PP2_TYPE_AUTHORITY = 0x02;
export const PP2_TYPE_CRC32C = 0x03;
export const PP2_TYPE_NOOP = 0x04;
export const PP2_TYPE_UNIQUE_ID = 0x05;
export const PP2_TYPE_SSL = 0x20;
export const PP2_SUBTYPE_SSL_VERSION = 0x21;
export const PP2_SUBTYPE_SSL_CN = 0x22;
export const PP2_SUBTYPE_SSL_CIPHER = 0x23;
export const PP2_SUBTYPE_SSL_SIG_ALG = 0x24;
export const PP2_SUBTYPE_SSL_KEY_ALG = 0x25;
export const PP2_TYPE_NETNS = 0x30;

// pp2_tlv_ssl value: client(1) verify(uint32) sub_tlv[], §2.2.6
export const PP2_CLIENT_SSL = 0x01;
export const PP2_CLIENT_CERT_CONN = 0x02;
export const PP2_CLIENT_CERT_SESS = 0x04;
export const PP2_SSL_CLIENT_BYTES = 1;
export const PP2_SSL_VERIFY_BYTES = 4;
/** `verify` is zero only when the client presented a certificate and it verified; non-zero otherwise. */
export const PP2_SSL_VERIFY_OK = 0;
export const PP2_SSL_VERIFY_NOT_OK = 1;

/** §2.2.5: "an opaque byte sequence of up to 128 bytes". */
export const PP2_UNIQUE_ID_MAX_BYTES = 128;
/** HAProxy's PP2_AUTHORITY_MAX: it rejects the whole header when an authority TLV is longer. */
export const PP2_AUTHORITY_MAX_BYTES = 255;

// --- v1 header, proxy-protocol.txt §2.1: "PROXY TCP4 src dst sport dport\r\n", at most 107 bytes ------------
export const PP1_MAX_BYTES = 107;

// --- Addresses ------------------------------------------------------------------------------------------------

/** Node's address text → 4 bytes (IPv4, or IPv4-mapped IPv6 folded) or 16 bytes. Throws: node reports no others. */
function endpointBytes(text: string): AddressBytes {
  const bytes = addressBytes(text);
  if (bytes === null) throw new TypeError(`PROXY header: not an IP address: '${text}'`);
  return unmapIPv4(bytes);
}

export function checkPort(port: number): number {
  if (!Number.isInteger(port) || port < 0 || port > PORT_MAX) throw new RangeError(`PROXY header: bad port ${port}`);
  return port;
}

/** Both addresses in one family: IPv4 when both are IPv4 (or mapped), else IPv6 with IPv4 mapped. */
export interface AddressPair {
  readonly isIPv4: boolean;
  readonly source: AddressBytes;
  readonly destination: AddressBytes;
}

export function addressPair(input: ProxyHeaderInput): AddressPair {
  const source = endpointBytes(input.source.address);
  const destination = endpointBytes(input.destination.address);
  if (source.length === IPV4_ADDRESS_BYTES && destination.length === IPV4_ADDRESS_BYTES) {
    return { isIPv4: true, source, destination };
  }
  return { isIPv4: false, source: mapToIPv6(source), destination: mapToIPv6(destination) };
}

// --- TLVs -----------------------------------------------------------------------------------------------------

/** Text TLVs are written one byte per character (latin1): the ClientHello reader decodes names as latin1, so a
 * name goes back out byte-for-byte as the client sent it. */
const TLV_TEXT_ENCODING = 'latin1';

function writeTlvHeader(out: Buffer, at: number, type: number, valueBytes: number): number {
  out[at] = type;
  out.writeUInt16BE(valueBytes, at + PP2_TLV_TYPE_BYTES);
  return at + PP2_TLV_HEADER_BYTES;
}

function writeTextTlv(out: Buffer, at: number, type: number, value: string): number {
  const valueAt = writeTlvHeader(out, at, type, value.length);
  return valueAt + out.write(value, valueAt, TLV_TEXT_ENCODING);
}

function nonEmpty(value: string | null | undefined): value is string {
  return value !== undefined && value !== null && value !== '';
}

/**
 * TLVs in ascending type order (the order HAProxy itself sends): ALPN, AUTHORITY, UNIQUE_ID, SSL.
 * An authority longer than PP2_AUTHORITY_MAX_BYTES (never a valid host name, but a client may send one) is left
 * out rather than sent, because HAProxy would refuse the whole connection for it.
 */
function encodeTlvs(input: ProxyHeaderInput): Buffer | null {
  const alpn = nonEmpty(input.alpn) ? input.alpn : null;
  const authority = nonEmpty(input.authority) && input.authority.length <= PP2_AUTHORITY_MAX_BYTES ? input.authority : null;
  const uniqueId = nonEmpty(input.uniqueId) ? input.uniqueId : null;
  const ssl = input.ssl ?? null;
  if (uniqueId !== null && uniqueId.length > PP2_UNIQUE_ID_MAX_BYTES) {
    throw new RangeError(`PROXY header: unique id is ${uniqueId.length} bytes, at most ${PP2_UNIQUE_ID_MAX_BYTES}`);
  }

  const sslValueBytes =
    ssl === null ? 0 : PP2_SSL_CLIENT_BYTES + PP2_SSL_VERIFY_BYTES + PP2_TLV_HEADER_BYTES + ssl.version.length;
  const totalBytes =
    (alpn === null ? 0 : PP2_TLV_HEADER_BYTES + alpn.length) +
    (authority === null ? 0 : PP2_TLV_HEADER_BYTES + authority.length) +
    (uniqueId === null ? 0 : PP2_TLV_HEADER_BYTES + uniqueId.length) +
    (ssl === null ? 0 : PP2_TLV_HEADER_BYTES + sslValueBytes);
  if (totalBytes === 0) return null;
  if (totalBytes + PP2_ADDR_INET6_BYTES > PP2_MAX_LENGTH) {
    throw new RangeError(`PROXY header: ${totalBytes} bytes of TLVs do not fit the 16-bit length field`);
  }

  const out = Buffer.allocUnsafe(totalBytes);
  let at = 0;
  if (alpn !== null) at = writeTextTlv(out, at, PP2_TYPE_ALPN, alpn);
  if (authority !== null) at = writeTextTlv(out, at, PP2_TYPE_AUTHORITY, authority);
  if (uniqueId !== null) at = writeTextTlv(out, at, PP2_TYPE_UNIQUE_ID, uniqueId);
  if (ssl !== null) {
    const hasCert = ssl.hasClientCert === true || ssl.clientCertVerified === true;
    at = writeTlvHeader(out, at, PP2_TYPE_SSL, sslValueBytes);
    out[at] = PP2_CLIENT_SSL | (hasCert ? PP2_CLIENT_CERT_CONN | PP2_CLIENT_CERT_SESS : 0);
    at += PP2_SSL_CLIENT_BYTES;
    out.writeUInt32BE(ssl.clientCertVerified === true ? PP2_SSL_VERIFY_OK : PP2_SSL_VERIFY_NOT_OK, at);
    at += PP2_SSL_VERIFY_BYTES;
    at = writeTextTlv(out, at, PP2_SUBTYPE_SSL_VERSION, ssl.version);
  }
  return out;
}

// --- Headers --------------------------------------------------------------------------------------------------

function encodeV1(pair: AddressPair, input: ProxyHeaderInput): Buffer {
  const format = pair.isIPv4 ? (bytes: AddressBytes): string => bytes.join('.') : formatIPv6;
  const header = new V1BinaryProxyProtocol(
    pair.isIPv4 ? INETProtocol.TCP4 : INETProtocol.TCP6,
    new Peer(format(pair.source), checkPort(input.source.port)),
    new Peer(format(pair.destination), checkPort(input.destination.port)),
  ).build();
  return Buffer.from(header.buffer, header.byteOffset, header.byteLength);
}

function encodeV2(pair: AddressPair, input: ProxyHeaderInput): Buffer {
  const sourcePort = checkPort(input.source.port);
  const destinationPort = checkPort(input.destination.port);
  const addresses = pair.isIPv4
    ? new IPv4ProxyAddress(IPv4Address.createFrom(pair.source), sourcePort, IPv4Address.createFrom(pair.destination), destinationPort)
    : new IPv6ProxyAddress(IPv6Address.createFrom(pair.source), sourcePort, IPv6Address.createFrom(pair.destination), destinationPort);
  const tlvs = encodeTlvs(input);
  const built = new V2ProxyProtocol(Command.PROXY, TransportProtocol.STREAM, addresses, tlvs ?? undefined).build();
  const header = Buffer.from(built.buffer, built.byteOffset, built.byteLength);
  // The library counted the address block only; the length field covers everything after byte 16.
  header.writeUInt16BE(header.length - PP2_HEADER_BYTES, PP2_OFFSET_LENGTH);
  return header;
}

/** Encodes a PROXY header: v2 binary with TLVs, or v1 text (which carries addresses only). */
export function encodeProxyHeader(version: 'v1' | 'v2', input: ProxyHeaderInput): Buffer {
  const pair = addressPair(input);
  return version === 'v1' ? encodeV1(pair, input) : encodeV2(pair, input);
}

/** Built once: signature, ver|cmd = 0x20, fam|prot = UNSPEC, length 0 (§2.2: the receiver keeps the real
 * endpoints and skips the block). */
const V2_LOCAL_HEADER = (() => {
  const built = new V2ProxyProtocol(Command.LOCAL, TransportProtocol.UNSPEC, new UnspecProxyAddress()).build();
  return Buffer.from(built);
})();

/** A v2 LOCAL header (no addresses): for health checks towards backends that require PROXY. */
export function encodeProxyV2Local(): Buffer {
  return Buffer.from(V2_LOCAL_HEADER);
}
