/**
 * Pure, incremental reader of a QUIC client's first flight: push the flow's datagrams as they arrive and get
 * `need_more` until the ClientHello carried in its Initial packets is complete (`hello`), or a final answer that
 * the flow cannot be routed (`not_quic`, `too_large`, `malformed`). No I/O, no timers (the hello timeout lives in
 * the flow engine); bad input is an answer, never an exception.
 *
 * Per datagram: walk the coalesced packets (RFC 9000 §12.2), remove the protection of each Initial with keys
 * derived from its Destination Connection ID (RFC 9001 §5.2), add its CRYPTO frames to the reassembled stream,
 * and once bytes [0, 4 + length) of the stream are in, hand that handshake message to the TLS ClientHello reader.
 *
 * The first datagram is judged strictly (it decides whether the flow exists at all: junk makes no state). Later
 * datagrams that hold no Initial this reader can open are ignored, as a QUIC server discards packets it cannot
 * decrypt (RFC 9000 §12.2), so a forged datagram from a spoofed source cannot end someone else's pending flow.
 */
import { ClientHelloReader, type ClientHello, type MalformedReason } from './client-hello.js';
import { CONTENT_TYPE_HANDSHAKE, HANDSHAKE_HEADER_BYTES, HANDSHAKE_TYPE_CLIENT_HELLO, MAX_PLAINTEXT_RECORD_BYTES, RECORD_HEADER_BYTES } from './tls-wire.js';
import { CryptoStream, readInitialFrames, type FrameProblem } from './crypto-frames.js';
import { deriveClientInitialKeys, type InitialKeys } from './quic-crypto.js';
import { MIN_INITIAL_DATAGRAM_BYTES, openInitial, readLongHeader, type HeaderProblem } from './quic-initial.js';

/** Why the first datagram of a flow is not the start of a QUIC connection this reader can follow. */
export const NOT_QUIC_REASONS = [
  'short_header', // a 1-RTT packet: a connection the router has no flow for
  'version_negotiation', // version 0: sent by servers only; never answered
  'unsupported_version', // not QUIC v1 or v2: a QUIC server would answer with Version Negotiation; we stay silent
  'fixed_bit_clear', // RFC 9000 §17.2: not a valid QUIC long header
  'not_initial', // a 0-RTT, Handshake or Retry packet first
  'initial_too_small', // an Initial in a datagram under 1200 bytes (RFC 9000 §14.1: discarded)
] as const;
export type NotQuicReason = (typeof NOT_QUIC_REASONS)[number];

/** Why a flow's Initials cannot yield a ClientHello (besides the TLS reader's own reasons, which pass through). */
export const QUIC_MALFORMED_REASONS = [
  'header_truncated', // a long-header length or connection ID runs past the datagram
  'connection_id_too_long', // a connection ID over 20 bytes
  'packet_too_short', // too short to hold the header-protection sample
  'decrypt_failed', // the first Initial does not authenticate with the keys of its DCID
  'reserved_bits_set', // reserved header bits non-zero after protection removal (RFC 9000 §17.2)
  'frame_truncated',
  'frame_not_allowed',
  'packet_without_frames',
  'crypto_data_mismatch',
  'connection_closed',
] as const;
export type QuicMalformedReason = (typeof QUIC_MALFORMED_REASONS)[number] | MalformedReason;

/** The Initial the hello came in, for the flow: its version and connection IDs (copies, safe to keep). */
export interface QuicInitialInfo {
  readonly version: number;
  readonly dcid: Buffer;
  readonly scid: Buffer;
}

export type QuicHelloResult =
  | { readonly kind: 'need_more' }
  | { readonly kind: 'hello'; readonly hello: ClientHello; readonly initial: QuicInitialInfo }
  | { readonly kind: 'not_quic'; readonly reason: NotQuicReason }
  | { readonly kind: 'too_large' }
  | { readonly kind: 'malformed'; readonly reason: QuicMalformedReason };

export interface QuicInitialReaderOptions {
  /** Cap on the CRYPTO stream bytes (the ClientHello handshake message) buffered; past it: `too_large`. */
  readonly maxHelloBytes: number;
}

const NEED_MORE: QuicHelloResult = Object.freeze({ kind: 'need_more' });
const TOO_LARGE: QuicHelloResult = Object.freeze({ kind: 'too_large' });
const NOT_QUIC_REASON_SET: ReadonlySet<string> = new Set(NOT_QUIC_REASONS);

function notQuic(reason: NotQuicReason): QuicHelloResult {
  return { kind: 'not_quic', reason };
}
function malformed(reason: QuicMalformedReason): QuicHelloResult {
  return { kind: 'malformed', reason };
}
function fromHeaderProblem(problem: HeaderProblem): QuicHelloResult {
  return NOT_QUIC_REASON_SET.has(problem) ? notQuic(problem as NotQuicReason) : malformed(problem as QuicMalformedReason);
}
function fromFrameProblem(problem: FrameProblem): QuicHelloResult {
  return problem === 'crypto_too_large' ? TOO_LARGE : malformed(problem);
}

const BITS_PER_BYTE = 8;

export class QuicInitialReader {
  readonly #stream: CryptoStream;
  readonly #maxHelloBytes: number;
  #result: QuicHelloResult = NEED_MORE;
  #keys: InitialKeys | null = null;
  #keysDcid: Buffer | null = null;
  #firstInitial: QuicInitialInfo | null = null;
  #largestPacketNumber = -1;

  /** Datagrams pushed, and how many of them held no Initial this reader could open (ignored). */
  datagrams = 0;
  datagramsIgnored = 0;
  /** Initial packets opened, and those discarded (bad protection, too short) inside otherwise useful datagrams. */
  packetsOpened = 0;
  packetsDiscarded = 0;

  constructor(options: QuicInitialReaderOptions) {
    if (!Number.isSafeInteger(options.maxHelloBytes) || options.maxHelloBytes < HANDSHAKE_HEADER_BYTES) {
      throw new RangeError(`maxHelloBytes must be an integer ≥ ${HANDSHAKE_HEADER_BYTES}, got ${String(options.maxHelloBytes)}`);
    }
    this.#maxHelloBytes = options.maxHelloBytes;
    this.#stream = new CryptoStream(options.maxHelloBytes);
  }

  /** The answer so far: `need_more` until a final one. */
  get result(): QuicHelloResult {
    return this.#result;
  }

  /** CRYPTO bytes held for the hello (each offset counted once). */
  get bytesBuffered(): number {
    return this.#stream.bytesHeld;
  }

  /** Feeds one whole UDP datagram (the reader never keeps or writes to it). The first final answer sticks. */
  push(datagram: Uint8Array): QuicHelloResult {
    if (this.#result !== NEED_MORE) return this.#result;
    const isFirst = this.datagrams === 0;
    this.datagrams += 1;
    const verdict = this.#readDatagram(datagram, isFirst);
    if (verdict === NEED_MORE) return NEED_MORE;
    if (!isFirst && verdict.kind !== 'hello' && verdict.kind !== 'too_large' && !this.#isProtocolViolation(verdict)) {
      this.datagramsIgnored += 1;
      return NEED_MORE;
    }
    this.#result = verdict;
    return verdict;
  }

  /** A violation inside an authenticated packet ends the flow; a packet that merely fails to open does not. */
  #isProtocolViolation(verdict: QuicHelloResult): boolean {
    return verdict.kind === 'malformed' && verdict.reason !== 'decrypt_failed' && verdict.reason !== 'packet_too_short'
      && verdict.reason !== 'header_truncated' && verdict.reason !== 'connection_id_too_long';
  }

  #readDatagram(datagram: Uint8Array, isFirst: boolean): QuicHelloResult {
    if (datagram.length === 0) return notQuic('short_header');
    let opened = 0;
    let firstProblem: QuicHelloResult | null = null;
    let at = 0;
    // Bounded: every pass moves `at` to the end of a packet, which lies past its header; or stops.
    while (at < datagram.length) {
      const packet = readLongHeader(datagram, at);
      if (typeof packet === 'string') {
        // Bytes after the first packet that are no packet (padding some stacks append): the walk stops there.
        if (at === 0) firstProblem = fromHeaderProblem(packet);
        break;
      }
      at = packet.end;
      if (packet.type !== 'initial') {
        firstProblem ??= notQuic('not_initial');
        continue;
      }
      if (datagram.length < MIN_INITIAL_DATAGRAM_BYTES) {
        firstProblem ??= notQuic('initial_too_small');
        break;
      }
      const keys = this.#keysFor(packet.version, packet.dcid);
      const initial = openInitial(datagram, packet, keys, this.#largestPacketNumber);
      if (typeof initial === 'string') {
        this.packetsDiscarded += 1;
        firstProblem ??= malformed(initial);
        continue;
      }
      if (initial.hasReservedBits) return malformed('reserved_bits_set');
      this.packetsOpened += 1;
      opened += 1;
      if (initial.packetNumber > this.#largestPacketNumber) this.#largestPacketNumber = initial.packetNumber;
      this.#firstInitial ??= { version: packet.version, dcid: Buffer.from(packet.dcid), scid: Buffer.from(packet.scid) };
      const problem = readInitialFrames(initial.payload, this.#stream);
      if (problem !== null) return fromFrameProblem(problem);
    }
    if (opened === 0) return firstProblem ?? notQuic('short_header');
    return this.#helloIfComplete();
  }

  /** Keys for this DCID: derived once and kept while the client keeps its DCID (all Initials before a reply). */
  #keysFor(version: number, dcid: Uint8Array): InitialKeys {
    if (this.#keys === null || this.#keys.version !== version || this.#keysDcid === null || !this.#keysDcid.equals(dcid)) {
      this.#keys = deriveClientInitialKeys(version, dcid);
      this.#keysDcid = Buffer.from(dcid);
    }
    return this.#keys;
  }

  /*
   * The CRYPTO stream of the Initial space holds exactly the ClientHello handshake message (RFC 9001 §4.1.1):
   *   | msg_type = 1 (1) | length (uint24) | ClientHello body (length) |
   */
  #helloIfComplete(): QuicHelloResult {
    const have = this.#stream.contiguousBytes;
    if (have < HANDSHAKE_HEADER_BYTES) return NEED_MORE;
    const head = this.#stream.prefix(HANDSHAKE_HEADER_BYTES);
    if (head[0] !== HANDSHAKE_TYPE_CLIENT_HELLO) return malformed('handshake_not_client_hello');
    const bodyLength = (head[1]! << (2 * BITS_PER_BYTE)) | (head[2]! << BITS_PER_BYTE) | head[3]!;
    const messageLength = HANDSHAKE_HEADER_BYTES + bodyLength;
    if (messageLength > this.#maxHelloBytes) return TOO_LARGE;
    if (have < messageLength) return NEED_MORE;
    const answer = readHandshakeClientHello(this.#stream.prefix(messageLength));
    if (answer.kind === 'hello') return { kind: 'hello', hello: answer.hello, initial: this.#firstInitial! };
    return answer;
  }
}

/**
 * Reads one complete ClientHello handshake message (header included) with the TLS reader, by framing it as the
 * TLS records a TCP client would have sent (RFC 8446 §5.1: fragments of at most 2^14 bytes). `byteLength` in the
 * answer is the message's own length.
 */
export function readHandshakeClientHello(message: Buffer): QuicHelloResult {
  const records = Math.max(1, Math.ceil(message.length / MAX_PLAINTEXT_RECORD_BYTES));
  const reader = new ClientHelloReader({ maxHelloBytes: message.length + records * RECORD_HEADER_BYTES });
  let answer = reader.push(Buffer.alloc(0));
  for (let from = 0; from < message.length; from += MAX_PLAINTEXT_RECORD_BYTES) {
    const fragment = message.subarray(from, Math.min(message.length, from + MAX_PLAINTEXT_RECORD_BYTES));
    const header = Buffer.from([CONTENT_TYPE_HANDSHAKE, 0x03, 0x01, fragment.length >> BITS_PER_BYTE, fragment.length & 0xff]);
    reader.push(header);
    answer = reader.push(fragment);
  }
  switch (answer.kind) {
    case 'hello':
      return { kind: 'hello', hello: { ...answer.hello, byteLength: message.length }, initial: EMPTY_INITIAL };
    case 'malformed':
      return malformed(answer.reason as MalformedReason);
    case 'too_large':
      return TOO_LARGE;
    default:
      // need_more cannot happen for a whole message; not_tls cannot happen for records framed here.
      return malformed('handshake_too_short');
  }
}

const EMPTY_INITIAL: QuicInitialInfo = Object.freeze({ version: 0, dcid: Buffer.alloc(0), scid: Buffer.alloc(0) });

/** Reads a list of datagrams with a fresh reader; the last answer. */
export function readQuicHello(datagrams: readonly Uint8Array[], options: QuicInitialReaderOptions): QuicHelloResult {
  const reader = new QuicInitialReader(options);
  let answer: QuicHelloResult = NEED_MORE;
  for (const datagram of datagrams) answer = reader.push(datagram);
  return answer;
}
