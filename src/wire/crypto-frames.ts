/**
 * Frames of a decrypted Initial packet (RFC 9000 §12.4, §19) and the CRYPTO stream they carry, reassembled by
 * offset: a post-quantum ClientHello spans two or three Initials, which may arrive in any order, in any split,
 * with retransmitted (overlapping) data. Pure: no I/O; never throws on input.
 *
 * Only PADDING, PING, ACK, CRYPTO and CONNECTION_CLOSE may appear in an Initial (RFC 9000 §12.4, Table 3); any
 * other frame is a PROTOCOL_VIOLATION, which here makes the hello `malformed`.
 */
import { readVarint, varintLength } from './quic-initial.js';

export const FRAME_PADDING = 0x00;
export const FRAME_PING = 0x01;
export const FRAME_ACK = 0x02;
export const FRAME_ACK_ECN = 0x03;
export const FRAME_CRYPTO = 0x06;
export const FRAME_CONNECTION_CLOSE = 0x1c;

export type FrameProblem =
  | 'frame_truncated' // a frame's fields run past the packet
  | 'frame_not_allowed' // a frame type that RFC 9000 §12.4 forbids in Initial packets
  | 'packet_without_frames' // RFC 9000 §12.4: a packet with no frames is a PROTOCOL_VIOLATION
  | 'crypto_data_mismatch' // retransmitted CRYPTO bytes differ from those at the same offsets before
  | 'crypto_too_large' // CRYPTO data beyond the cap on buffered hello bytes
  | 'connection_closed'; // the client sent CONNECTION_CLOSE before the hello was complete

/**
 * The CRYPTO stream of the Initial packet number space, bytes [0, length) as far as they have arrived.
 * Held sparsely, as copies of the bytes that arrived (never a buffer sized by the highest offset: a 1-byte frame
 * at offset 60 000 costs 1 byte, not 60 KB), in sorted, disjoint segments; overlapping retransmissions are
 * compared with what is held and only their new bytes are kept. The hello is complete once [0, 4 + body length)
 * is covered without a gap.
 */
export class CryptoStream {
  readonly #maxBytes: number;
  /** Sorted by offset, disjoint (they may touch). */
  readonly #segments: { readonly offset: number; readonly data: Buffer }[] = [];
  #bytesHeld = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** Bytes held, counting each offset once. */
  get bytesHeld(): number {
    return this.#bytesHeld;
  }

  /** Bytes from offset 0 without a gap. */
  get contiguousBytes(): number {
    let end = 0;
    for (const segment of this.#segments) {
      if (segment.offset > end) break;
      end = Math.max(end, segment.offset + segment.data.length);
    }
    return end;
  }

  /** The first `length` bytes, one copy; callers check `contiguousBytes >= length` first. */
  prefix(length: number): Buffer {
    const first = this.#segments[0];
    if (first !== undefined && first.offset === 0 && first.data.length >= length) return first.data.subarray(0, length);
    const out = Buffer.alloc(length);
    for (const segment of this.#segments) {
      if (segment.offset >= length) break;
      segment.data.copy(out, segment.offset, 0, Math.min(segment.data.length, length - segment.offset));
    }
    return out;
  }

  /** Index of the first segment that ends after `offset` (binary search: segments and their ends are sorted). */
  #firstEndingAfter(offset: number): number {
    let lo = 0;
    let hi = this.#segments.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const segment = this.#segments[mid]!;
      if (segment.offset + segment.data.length <= offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Adds `data` at stream `offset`; overlapping bytes must equal those already held. */
  add(offset: number, data: Uint8Array): FrameProblem | null {
    const end = offset + data.length;
    if (end > this.#maxBytes) return 'crypto_too_large';
    if (data.length === 0) return null;
    const incoming = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const segments = this.#segments;
    const first = this.#firstEndingAfter(offset);
    const merged: { readonly offset: number; readonly data: Buffer }[] = [];
    let cursor = offset;
    let next = first;
    // Bounded: walks only the held segments that overlap [offset, end), each compared once.
    for (; next < segments.length && segments[next]!.offset < end; next += 1) {
      const segment = segments[next]!;
      const segmentEnd = segment.offset + segment.data.length;
      if (segment.offset > cursor) {
        merged.push({ offset: cursor, data: Buffer.from(incoming.subarray(cursor - offset, segment.offset - offset)) });
        this.#bytesHeld += segment.offset - cursor;
      }
      const from = Math.max(segment.offset, cursor);
      const to = Math.min(segmentEnd, end);
      if (segment.data.compare(incoming, from - offset, to - offset, from - segment.offset, to - segment.offset) !== 0) {
        return 'crypto_data_mismatch';
      }
      merged.push(segment);
      cursor = Math.max(cursor, to);
    }
    if (cursor < end) {
      merged.push({ offset: cursor, data: Buffer.from(incoming.subarray(cursor - offset)) });
      this.#bytesHeld += end - cursor;
    }
    segments.splice(first, next - first, ...merged);
    return null;
  }
}

/**
 * Walks the frames of one decrypted Initial payload, adding CRYPTO data to `stream`.
 *
 *   PADDING  0x00                       (runs of zero bytes)
 *   PING     0x01
 *   ACK      0x02 | 0x03: Largest Acknowledged (i) | ACK Delay (i) | ACK Range Count (i) | First ACK Range (i)
 *                        | (Gap (i) | ACK Range Length (i)) × count | [0x03: ECT0 (i) ECT1 (i) ECN-CE (i)]
 *   CRYPTO   0x06: Offset (i) | Length (i) | Crypto Data
 *   CONNECTION_CLOSE 0x1c: Error Code (i) | Frame Type (i) | Reason Phrase Length (i) | Reason Phrase
 */
export function readInitialFrames(payload: Uint8Array, stream: CryptoStream): FrameProblem | null {
  const end = payload.length;
  if (end === 0) return 'packet_without_frames';
  let at = 0;
  // Bounded: every pass consumes at least the frame type byte.
  while (at < end) {
    const type = readVarint(payload, at, end);
    if (type < 0) return 'frame_truncated';
    at += varintLength(payload[at]!);
    if (type === FRAME_PADDING) {
      while (at < end && payload[at] === FRAME_PADDING) at += 1;
    } else if (type === FRAME_PING) {
      // no fields
    } else if (type === FRAME_ACK || type === FRAME_ACK_ECN) {
      at = skipAck(payload, at, end, type === FRAME_ACK_ECN);
      if (at < 0) return 'frame_truncated';
    } else if (type === FRAME_CRYPTO) {
      const offset = readVarint(payload, at, end);
      if (offset < 0) return 'frame_truncated';
      at += varintLength(payload[at]!);
      if (at >= end) return 'frame_truncated';
      const length = readVarint(payload, at, end);
      if (length < 0) return 'frame_truncated';
      at += varintLength(payload[at]!);
      if (length > end - at) return 'frame_truncated';
      const problem = stream.add(offset, payload.subarray(at, at + length));
      if (problem !== null) return problem;
      at += length;
    } else if (type === FRAME_CONNECTION_CLOSE) {
      return 'connection_closed';
    } else {
      return 'frame_not_allowed';
    }
  }
  return null;
}

/** Skips `count` varints from `at`; returns the offset after them, or -1 when they run past `end`. */
function skipVarints(bytes: Uint8Array, at: number, end: number, count: number): number {
  let pos = at;
  for (let i = 0; i < count; i += 1) {
    if (pos >= end) return -1;
    const length = varintLength(bytes[pos]!);
    if (length > end - pos) return -1;
    pos += length;
  }
  return pos;
}

function skipAck(bytes: Uint8Array, at: number, end: number, hasEcnCounts: boolean): number {
  // Largest Acknowledged, ACK Delay, then ACK Range Count.
  let pos = skipVarints(bytes, at, end, 2);
  if (pos < 0 || pos >= end) return -1;
  const rangeCount = readVarint(bytes, pos, end);
  if (rangeCount < 0) return -1;
  pos += varintLength(bytes[pos]!);
  // Each range takes at least 2 bytes: a count that cannot fit is rejected before any loop runs.
  if (rangeCount > (end - pos) / 2) return -1;
  pos = skipVarints(bytes, pos, end, 1 + 2 * rangeCount);
  if (pos < 0) return -1;
  return hasEcnCounts ? skipVarints(bytes, pos, end, 3) : pos;
}
