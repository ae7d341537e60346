/**
 * QUIC long headers and Initial packets (RFC 9000 §17.2, §17.2.2; RFC 9369 §3.2 for version 2): find the packets
 * coalesced in one datagram, and remove an Initial's header and payload protection (RFC 9001 §5.4, §5.3).
 * Pure: no I/O; every length is checked against the datagram before it is trusted; never throws on input.
 * The datagram is never written to: the router forwards it byte for byte.
 */
import { HP_SAMPLE_BYTES, QUIC_VERSION_2, headerProtectionMask, isSupportedVersion, openPayload, type InitialKeys } from './quic-crypto.js';

/*
 * Long header packet, RFC 9000 §17.2
 *
 *   byte 0: 1 (Header Form) | 1 (Fixed Bit) | Long Packet Type (2) | Type-Specific Bits (4)
 *   | Version (32) | DCID Len (8) | DCID (0..160) | SCID Len (8) | SCID (0..160) | type-specific payload … |
 *
 * Initial, RFC 9000 §17.2.2 (type-specific bits: Reserved (2), Packet Number Length (2), both header-protected)
 *   … | Token Length (i) | Token | Length (i) | Packet Number (8..32) | Packet Payload (8..) |
 *   Length covers the packet number and the payload; what follows belongs to the next coalesced packet.
 */
export const HEADER_FORM_LONG = 0x80;
export const FIXED_BIT = 0x40;
const LONG_PACKET_TYPE_SHIFT = 4;
const LONG_PACKET_TYPE_MASK = 0x03;
/** Long-header bits under header protection: Reserved (2) and Packet Number Length (2) (RFC 9001 §5.4.1). */
const LONG_HEADER_PROTECTED_BITS = 0x0f;
const RESERVED_BITS = 0x0c;
const PACKET_NUMBER_LENGTH_MASK = 0x03;

export const FIRST_BYTE_BYTES = 1;
export const VERSION_BYTES = 4;
export const CONNECTION_ID_LENGTH_BYTES = 1;
/** RFC 9000 §17.2: in QUIC v1 (and v2) connection IDs are at most 20 bytes. */
export const MAX_CONNECTION_ID_BYTES = 20;
/** The fewest bytes of any long header: first byte, version, two empty connection IDs. */
export const MIN_LONG_HEADER_BYTES = FIRST_BYTE_BYTES + VERSION_BYTES + 2 * CONNECTION_ID_LENGTH_BYTES; // 7
/** Version Negotiation packets carry version 0 (RFC 9000 §17.2.1). */
export const VERSION_NEGOTIATION = 0;
/** Header protection samples 16 bytes starting 4 bytes past the packet number's first byte (RFC 9001 §5.4.2). */
const MAX_PACKET_NUMBER_BYTES = 4;
/** RFC 9000 §14.1: a server MUST discard an Initial in a UDP datagram smaller than 1200 bytes. */
export const MIN_INITIAL_DATAGRAM_BYTES = 1200;

/** Long packet types by their role; the bits that encode them differ between versions (RFC 9369 §3.2). */
export type LongPacketType = 'initial' | '0rtt' | 'handshake' | 'retry';
const TYPES_V1: readonly LongPacketType[] = ['initial', '0rtt', 'handshake', 'retry'];
const TYPES_V2: readonly LongPacketType[] = ['retry', 'initial', '0rtt', 'handshake'];

/** One long-header packet found in a datagram; offsets index the datagram. */
export interface LongHeaderPacket {
  readonly start: number;
  /** Exclusive end of the packet (the next coalesced packet starts here). */
  readonly end: number;
  readonly version: number;
  readonly type: LongPacketType;
  readonly dcid: Uint8Array;
  readonly scid: Uint8Array;
  /** Offset of the (protected) packet number: only meaningful for Initial, 0-RTT and Handshake packets. */
  readonly packetNumberOffset: number;
}

/** Why the bytes at some offset are not a long-header packet this reader can walk. */
export type HeaderProblem =
  | 'short_header' // header form bit clear: a 1-RTT packet, never a connection's first
  | 'version_negotiation' // version 0: only servers send these; never answered
  | 'unsupported_version' // a version whose Initial protection is unknown here (a server would negotiate)
  | 'fixed_bit_clear' // RFC 9000 §17.2: such packets are discarded
  | 'header_truncated' // a length or connection ID runs past the datagram
  | 'connection_id_too_long'; // more than 20 bytes in v1/v2

/** A variable-length integer (RFC 9000 §16): 2-bit length prefix, then 6, 14, 30 or 62 bits big-endian. */
export function varintLength(firstByte: number): number {
  return 1 << (firstByte >> 6);
}

/**
 * Reads the varint at `at` (which must be < end); returns its value, or -1 when it runs past `end`. Values above
 * 2^53 lose precision, which is harmless: every value read here is a length or offset compared against far
 * smaller bounds.
 */
export function readVarint(bytes: Uint8Array, at: number, end: number): number {
  const length = varintLength(bytes[at]!);
  if (length > end - at) return -1;
  let value = bytes[at]! & 0x3f;
  for (let i = 1; i < length; i += 1) value = value * 256 + bytes[at + i]!;
  return value;
}

/** Reads the long header at `start`; a HeaderProblem when it is not one this reader can walk. */
export function readLongHeader(bytes: Uint8Array, start: number): LongHeaderPacket | HeaderProblem {
  const end = bytes.length;
  const first = bytes[start]!;
  if ((first & HEADER_FORM_LONG) === 0) return 'short_header';
  if (MIN_LONG_HEADER_BYTES > end - start) return 'header_truncated';
  const version = ((bytes[start + 1]! << 24) | (bytes[start + 2]! << 16) | (bytes[start + 3]! << 8) | bytes[start + 4]!) >>> 0;
  if (version === VERSION_NEGOTIATION) return 'version_negotiation';
  if (!isSupportedVersion(version)) return 'unsupported_version';
  if ((first & FIXED_BIT) === 0) return 'fixed_bit_clear';

  let at = start + FIRST_BYTE_BYTES + VERSION_BYTES;
  const dcidLength = bytes[at]!;
  at += CONNECTION_ID_LENGTH_BYTES;
  if (dcidLength > MAX_CONNECTION_ID_BYTES) return 'connection_id_too_long';
  if (dcidLength + CONNECTION_ID_LENGTH_BYTES > end - at) return 'header_truncated';
  const dcid = bytes.subarray(at, at + dcidLength);
  at += dcidLength;
  const scidLength = bytes[at]!;
  at += CONNECTION_ID_LENGTH_BYTES;
  if (scidLength > MAX_CONNECTION_ID_BYTES) return 'connection_id_too_long';
  if (scidLength > end - at) return 'header_truncated';
  const scid = bytes.subarray(at, at + scidLength);
  at += scidLength;

  const types = version === QUIC_VERSION_2 ? TYPES_V2 : TYPES_V1;
  const type = types[(first >> LONG_PACKET_TYPE_SHIFT) & LONG_PACKET_TYPE_MASK]!;
  if (type === 'retry') {
    // No Length field: a Retry fills the rest of the datagram (RFC 9000 §17.2.5). Clients never send one.
    return { start, end, version, type, dcid, scid, packetNumberOffset: end };
  }
  if (type === 'initial') {
    if (at >= end) return 'header_truncated';
    const tokenLength = readVarint(bytes, at, end);
    if (tokenLength < 0) return 'header_truncated';
    at += varintLength(bytes[at]!);
    if (tokenLength > end - at) return 'header_truncated';
    at += tokenLength;
  }
  if (at >= end) return 'header_truncated';
  const length = readVarint(bytes, at, end);
  if (length < 0) return 'header_truncated';
  at += varintLength(bytes[at]!);
  if (length > end - at) return 'header_truncated';
  return { start, end: at + length, version, type, dcid, scid, packetNumberOffset: at };
}

/** An Initial packet with its protection removed. */
export interface OpenedInitial {
  readonly packetNumber: number;
  readonly payload: Buffer;
  /** Reserved bits after header protection removal; non-zero is a PROTOCOL_VIOLATION (RFC 9000 §17.2). */
  readonly hasReservedBits: boolean;
}

export type OpenProblem = 'packet_too_short' | 'decrypt_failed';

/**
 * Removes header protection (RFC 9001 §5.4.1) and opens the payload of the Initial `packet` found in `datagram`.
 * `largestPacketNumber` is the largest packet number already opened in this flow (-1 for none), against which the
 * truncated packet number is expanded (RFC 9000 §17.1, Appendix A.3).
 */
export function openInitial(
  datagram: Uint8Array,
  packet: LongHeaderPacket,
  keys: InitialKeys,
  largestPacketNumber: number,
): OpenedInitial | OpenProblem {
  const pnOffset = packet.packetNumberOffset;
  const sampleOffset = pnOffset + MAX_PACKET_NUMBER_BYTES;
  if (sampleOffset + HP_SAMPLE_BYTES > packet.end) return 'packet_too_short';
  const mask = headerProtectionMask(keys, datagram.subarray(sampleOffset, sampleOffset + HP_SAMPLE_BYTES));
  const first = datagram[packet.start]! ^ (mask[0]! & LONG_HEADER_PROTECTED_BITS);
  const pnLength = (first & PACKET_NUMBER_LENGTH_MASK) + 1;

  // The unprotected header is the AEAD's associated data; build it in a copy, leaving the datagram untouched.
  const header = Buffer.from(datagram.subarray(packet.start, pnOffset + pnLength));
  header[0] = first;
  let truncated = 0;
  for (let i = 0; i < pnLength; i += 1) {
    const at = pnOffset - packet.start + i;
    header[at] = header[at]! ^ mask[1 + i]!;
    truncated = truncated * 256 + header[at]!;
  }
  const packetNumber = decodePacketNumber(largestPacketNumber, truncated, pnLength * 8);
  const payload = openPayload(keys, packetNumber, header, datagram.subarray(pnOffset + pnLength, packet.end));
  if (payload === null) return 'decrypt_failed';
  return { packetNumber, payload, hasReservedBits: (first & RESERVED_BITS) !== 0 };
}

/** RFC 9000 Appendix A.3: the packet number closest to largest + 1 whose low `bits` bits are `truncated`. */
export function decodePacketNumber(largest: number, truncated: number, bits: number): number {
  const expected = largest + 1;
  const window = 2 ** bits;
  const halfWindow = window / 2;
  const candidate = expected - (expected % window) + truncated;
  if (candidate <= expected - halfWindow && candidate < 2 ** 62 - window) return candidate + window;
  if (candidate > expected + halfWindow && candidate >= window) return candidate - window;
  return candidate;
}
