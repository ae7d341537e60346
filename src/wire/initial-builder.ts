/**
 * Builds protected client Initial packets: the inverse of the reader, for tests, fixtures and the replay probe
 * (a captured hello re-cut into more Initials, or Initials sealed with the wrong keys). Never used on the data
 * path; pure (node:crypto only).
 */
import { deriveClientInitialKeys, headerProtectionMask, sealPayload, QUIC_VERSION_2, HP_SAMPLE_BYTES, type InitialKeys } from './quic-crypto.js';
import { FIXED_BIT, HEADER_FORM_LONG, MIN_INITIAL_DATAGRAM_BYTES } from './quic-initial.js';
import { FRAME_CRYPTO } from './crypto-frames.js';

const LONG_TYPE_INITIAL_V1 = 0b00;
const LONG_TYPE_INITIAL_V2 = 0b01;
const MAX_PACKET_NUMBER_BYTES = 4;

/** Encodes a varint (RFC 9000 §16) in the shortest form, or in `width` bytes when given. */
export function encodeVarint(value: number, width?: 1 | 2 | 4 | 8): Buffer {
  const bytes = width ?? (value < 0x40 ? 1 : value < 0x4000 ? 2 : value < 0x40000000 ? 4 : 8);
  const out = Buffer.alloc(bytes);
  let rest = value;
  for (let i = bytes - 1; i >= 0; i -= 1) {
    out[i] = rest % 256;
    rest = Math.floor(rest / 256);
  }
  out[0] = out[0]! | ({ 1: 0x00, 2: 0x40, 4: 0x80, 8: 0xc0 } as const)[bytes];
  return out;
}

/** A CRYPTO frame: type | offset (i) | length (i) | data. */
export function cryptoFrame(offset: number, data: Uint8Array): Buffer {
  return Buffer.concat([encodeVarint(FRAME_CRYPTO), encodeVarint(offset), encodeVarint(data.length), data]);
}

export interface InitialPacketOptions {
  readonly version: number;
  readonly dcid: Uint8Array;
  readonly scid?: Uint8Array;
  readonly packetNumber: number;
  /** Bytes of the encoded packet number, 1–4; default 2 (as browsers send early packets). */
  readonly packetNumberLength?: 1 | 2 | 3 | 4;
  readonly token?: Uint8Array;
  /** Frames of the payload (CRYPTO, PING, ACK…), before padding. */
  readonly frames: Uint8Array;
  /** Pad with PADDING frames until the packet is this long; default 1200 (RFC 9000 §14.1); 0 = no padding. */
  readonly padToBytes?: number;
  /** Seal with these keys instead of those of (version, dcid): a packet that will not authenticate. */
  readonly keys?: InitialKeys;
}

/** One protected Initial packet. */
export function buildInitialPacket(options: InitialPacketOptions): Buffer {
  const pnLength = options.packetNumberLength ?? 2;
  const scid = options.scid ?? Buffer.alloc(0);
  const token = options.token ?? Buffer.alloc(0);
  const typeBits = options.version === QUIC_VERSION_2 ? LONG_TYPE_INITIAL_V2 : LONG_TYPE_INITIAL_V1;
  const first = HEADER_FORM_LONG | FIXED_BIT | (typeBits << 4) | (pnLength - 1);
  const version = Buffer.alloc(4);
  version.writeUInt32BE(options.version >>> 0);
  const head = Buffer.concat([
    Buffer.from([first]),
    version,
    Buffer.from([options.dcid.length]),
    options.dcid,
    Buffer.from([scid.length]),
    scid,
    encodeVarint(token.length),
    token,
  ]);
  const lengthFieldBytes = 2;
  const tagBytes = 16;
  const fixed = head.length + lengthFieldBytes + pnLength + tagBytes;
  const padTo = options.padToBytes ?? MIN_INITIAL_DATAGRAM_BYTES;
  // The sample needs 4 - pnLength + 16 bytes of ciphertext past the packet number: pad short payloads up to it.
  const minPayload = MAX_PACKET_NUMBER_BYTES - pnLength + HP_SAMPLE_BYTES - tagBytes;
  const payloadLength = Math.max(options.frames.length, padTo - fixed, minPayload);
  const plaintext = Buffer.alloc(payloadLength); // trailing zeros are PADDING frames
  Buffer.from(options.frames).copy(plaintext);

  const pn = Buffer.alloc(pnLength);
  let rest = options.packetNumber;
  for (let i = pnLength - 1; i >= 0; i -= 1) {
    pn[i] = rest % 256;
    rest = Math.floor(rest / 256);
  }
  const header = Buffer.concat([head, encodeVarint(pnLength + payloadLength + tagBytes, lengthFieldBytes), pn]);
  const keys = options.keys ?? deriveClientInitialKeys(options.version, options.dcid);
  const sealed = sealPayload(keys, options.packetNumber, header, plaintext);
  const packet = Buffer.concat([header, sealed]);

  const pnOffset = header.length - pnLength;
  const sampleOffset = pnOffset + MAX_PACKET_NUMBER_BYTES;
  const mask = headerProtectionMask(keys, packet.subarray(sampleOffset, sampleOffset + HP_SAMPLE_BYTES));
  packet[0] = packet[0]! ^ (mask[0]! & 0x0f);
  for (let i = 0; i < pnLength; i += 1) packet[pnOffset + i] = packet[pnOffset + i]! ^ mask[1 + i]!;
  return packet;
}

export interface SplitHelloOptions {
  readonly version: number;
  readonly dcid: Uint8Array;
  readonly scid?: Uint8Array;
  /** Offsets in the handshake message where a new Initial starts; each piece goes in its own packet. */
  readonly cuts: readonly number[];
  /** First packet number; each next Initial takes the next one. */
  readonly firstPacketNumber?: number;
}

/**
 * Cuts a ClientHello handshake message at `cuts` into CRYPTO frames, one Initial packet (and datagram) per piece,
 * in stream order; reorder the result to send them out of order.
 */
export function splitHelloIntoInitials(message: Uint8Array, options: SplitHelloOptions): Buffer[] {
  const cuts = [...new Set(options.cuts.filter((cut) => cut > 0 && cut < message.length))].sort((a, b) => a - b);
  const bounds = [0, ...cuts, message.length];
  const packets: Buffer[] = [];
  for (let i = 0; i + 1 < bounds.length; i += 1) {
    const from = bounds[i]!;
    const to = bounds[i + 1]!;
    packets.push(
      buildInitialPacket({
        version: options.version,
        dcid: options.dcid,
        scid: options.scid,
        packetNumber: (options.firstPacketNumber ?? 0) + i,
        frames: cryptoFrame(from, message.subarray(from, to)),
      }),
    );
  }
  return packets;
}
