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
 * Bytes land in one buffer that grows (by doubling, up to `maxBytes`) as higher offsets arrive; `filled` is a
 * sorted list of disjoint [from, to) ranges. The hello is complete once [0, 4 + body length) is one range.
 */
export class CryptoStream {
  readonly #maxBytes: number;
  #buffer: Buffer = Buffer.alloc(0);
  /** Disjoint, sorted, non-adjacent: [from0, to0, from1, to1, …]. */
  #filled: number[] = [];

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** Bytes held, counting each offset once. */
  get bytesHeld(): number {
    let sum = 0;
    for (let i = 0; i < this.#filled.length; i += 2) sum += this.#filled[i + 1]! - this.#filled[i]!;
    return sum;
  }

  /** Bytes from offset 0 without a gap. */
  get contiguousBytes(): number {
    return this.#filled.length > 0 && this.#filled[0] === 0 ? this.#filled[1]! : 0;
  }

  /** The first `length` bytes; callers check `contiguousBytes >= length` first. */
  prefix(length: number): Buffer {
    return this.#buffer.subarray(0, length);
  }

  /** Adds `data` at stream `offset`; overlapping bytes must equal those already held. */
  add(offset: number, data: Uint8Array): FrameProblem | null {
    const end = offset + data.length;
    if (end > this.#maxBytes) return 'crypto_too_large';
    if (data.length === 0) return null;
    if (end > this.#buffer.length) this.#grow(end);
    // Compare against what is already held in the overlap, then copy the new bytes in.
    for (let i = 0; i < this.#filled.length; i += 2) {
      const from = Math.max(this.#filled[i]!, offset);
      const to = Math.min(this.#filled[i + 1]!, end);
      if (from < to && Buffer.compare(this.#buffer.subarray(from, to), data.subarray(from - offset, to - offset)) !== 0) {
        return 'crypto_data_mismatch';
      }
    }
    this.#buffer.set(data, offset);
    this.#mark(offset, end);
    return null;
  }

  #grow(needed: number): void {
    let size = Math.max(this.#buffer.length, 1024);
    while (size < needed) size *= 2;
    const next = Buffer.alloc(Math.min(size, this.#maxBytes));
    this.#buffer.copy(next);
    this.#buffer = next;
  }

  /** Merges [from, to) into the filled ranges. */
  #mark(from: number, to: number): void {
    const merged: number[] = [];
    let lo = from;
    let hi = to;
    let placed = false;
    for (let i = 0; i < this.#filled.length; i += 2) {
      const a = this.#filled[i]!;
      const b = this.#filled[i + 1]!;
      if (b < lo) {
        merged.push(a, b);
      } else if (a > hi) {
        if (!placed) merged.push(lo, hi);
        placed = true;
        merged.push(a, b);
      } else {
        lo = Math.min(lo, a);
        hi = Math.max(hi, b);
      }
    }
    if (!placed) merged.push(lo, hi);
    this.#filled = merged;
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
