/**
 * Pure, incremental TLS ClientHello reader: push the bytes of a connection as they arrive, in chunks of any size,
 * and get `need_more` until the answer is final (`hello`, `not_tls`, `too_large` or `malformed`). No I/O, no
 * sockets, no timers: the hello timeout lives in the connection, not here.
 *
 * The hello is read the way a TLS server reads it (RFC 8446 §5.1): handshake records are walked one by one and their
 * fragments reassembled into the handshake message, so a post-quantum hello split over several records (or one byte
 * per TCP segment) is the normal path. Every length is checked against its container before it is trusted, so the
 * walk never reads outside the bytes it holds; bad input is an answer, never an exception.
 */
import {
  CONTENT_TYPE_HANDSHAKE,
  EXTENSION_HEADER_BYTES,
  EXTENSION_TYPE_BYTES,
  EXTENSION_TYPE_COUNT,
  EXTENSIONS_LENGTH_BYTES,
  EXT_ALPN,
  EXT_SERVER_NAME,
  EXT_SUPPORTED_VERSIONS,
  CIPHER_SUITE_BYTES,
  CIPHER_SUITES_LENGTH_BYTES,
  COMPRESSION_METHODS_LENGTH_BYTES,
  HANDSHAKE_HEADER_BYTES,
  HANDSHAKE_OFFSET_LENGTH,
  HANDSHAKE_TYPE_CLIENT_HELLO,
  HOST_NAME_LENGTH_BYTES,
  MAX_PLAINTEXT_RECORD_BYTES,
  MAX_SESSION_ID_BYTES,
  MIN_CLIENT_HELLO_BODY_BYTES,
  MIN_HANDSHAKE_RECORD_BYTES,
  MIN_HOST_NAME_BYTES,
  MIN_PROTOCOL_NAME_BYTES,
  MIN_PROTOCOL_NAME_LIST_BYTES,
  MIN_SUPPORTED_VERSIONS_BYTES,
  NAME_TYPE_BYTES,
  NAME_TYPE_HOST_NAME,
  PROTOCOL_NAME_LENGTH_BYTES,
  PROTOCOL_NAME_LIST_LENGTH_BYTES,
  PROTOCOL_VERSION_BYTES,
  RANDOM_BYTES,
  RECORD_HEADER_BYTES,
  RECORD_OFFSET_CONTENT_TYPE,
  RECORD_OFFSET_LENGTH,
  RECORD_OFFSET_VERSION_MAJOR,
  RECORD_VERSION_MAJOR_TLS,
  SERVER_NAME_ENTRY_HEADER_BYTES,
  SERVER_NAME_LIST_LENGTH_BYTES,
  SESSION_ID_LENGTH_BYTES,
  SUPPORTED_VERSIONS_LENGTH_BYTES,
} from './tls-wire.js';

export interface ClientHello {
  /** server_name (host_name type) decoded as latin1 exactly as sent, or null when the extension is absent. */
  readonly sni: string | null;
  /** ALPN protocol names offered, in order (latin1). Empty when the extension is absent. */
  readonly alpn: readonly string[];
  /** supported_versions offered (e.g. 0x0304), GREASE values included as sent. Empty when absent. */
  readonly supportedVersions: readonly number[];
  /** legacy_version field of the ClientHello body (0x0303 for TLS 1.2/1.3 hellos). */
  readonly legacyVersion: number;
  /** Bytes of the TLS records (headers included) that carried the hello, from the first byte of the stream. */
  readonly byteLength: number;
}

export type HelloResult =
  | { readonly kind: 'need_more' }
  | { readonly kind: 'hello'; readonly hello: ClientHello }
  | { readonly kind: 'not_tls' }
  | { readonly kind: 'too_large' }
  | { readonly kind: 'malformed'; readonly reason: string };

export interface ClientHelloReaderOptions {
  /** Cap on bytes of TLS records carrying the hello; past it the answer is `too_large`. */
  readonly maxHelloBytes: number;
}

/**
 * Why a hello is `malformed`: a closed, stable vocabulary (safe to use as a metric label or log field).
 * `HelloResult['reason']` stays `string` for compatibility; every value the reader produces is one of these.
 */
export const MALFORMED_REASONS = [
  // record layer, RFC 8446 §5.1
  'record_length_zero', // a handshake record with an empty fragment
  'record_length_overflow', // a record longer than 2^14 bytes
  'record_not_handshake', // a record of another content type before the hello was complete
  'record_bad_version', // a later record whose version major byte is not 3
  'record_trailing_data', // the record that ends the ClientHello carries bytes past it
  // handshake header, RFC 8446 §4
  'handshake_not_client_hello', // the first handshake message is not a ClientHello
  'handshake_too_short', // declared length below the smallest possible ClientHello body
  // ClientHello body, RFC 8446 §4.1.2
  'session_id_too_long', // legacy_session_id longer than 32 bytes
  'session_id_overflow', // legacy_session_id runs past the end of the hello
  'cipher_suites_bad_length', // cipher_suites empty or of odd length
  'cipher_suites_overflow', // cipher_suites runs past the end of the hello
  'compression_methods_bad_length', // legacy_compression_methods empty
  'compression_methods_overflow', // legacy_compression_methods runs past the end of the hello
  'extensions_overflow', // the extensions block (or its length) runs past the end of the hello
  'extensions_trailing_data', // bytes left in the hello after the extensions block
  // extensions, RFC 8446 §4.2
  'extension_header_overflow', // fewer than 4 bytes left in the block for an extension's type and length
  'extension_length_overflow', // an extension's data runs past the extensions block
  'duplicate_extension', // the same extension type twice
  // server_name, RFC 6066 §3
  'sni_bad_length', // server_name_list length does not fill the extension exactly, or the list is empty
  'sni_name_overflow', // a ServerName entry runs past the list
  'sni_name_empty', // a zero-length HostName
  'sni_duplicate_host_name', // more than one host_name entry
  // application_layer_protocol_negotiation, RFC 7301 §3.1
  'alpn_bad_length', // protocol_name_list length does not fill the extension exactly, or is below 2
  'alpn_name_empty', // a zero-length ProtocolName
  'alpn_name_overflow', // a ProtocolName runs past the list
  // supported_versions, RFC 8446 §4.2.1
  'supported_versions_bad_length', // versions<2..254> length wrong, odd, or not filling the extension
] as const;

export type MalformedReason = (typeof MALFORMED_REASONS)[number];

const NEED_MORE: HelloResult = Object.freeze({ kind: 'need_more' });
const NOT_TLS: HelloResult = Object.freeze({ kind: 'not_tls' });
const TOO_LARGE: HelloResult = Object.freeze({ kind: 'too_large' });

function malformed(reason: MalformedReason): HelloResult {
  return { kind: 'malformed', reason };
}

// Reader states. The record layer and the handshake layer interleave: a record may end in the middle of the
// handshake header or body, and the next record header is read before the handshake carries on where it stopped.
/** Reading the 5-byte record header (one byte at a time, so each field is judged the moment it arrives). */
const STATE_RECORD_HEADER = 0;
/** Inside a record fragment, reading the 4-byte handshake header (msg_type, uint24 length). */
const STATE_HANDSHAKE_HEADER = 1;
/** Inside a record fragment, gathering the ClientHello body into one buffer. */
const STATE_HANDSHAKE_BODY = 2;
type ReaderState = typeof STATE_RECORD_HEADER | typeof STATE_HANDSHAKE_HEADER | typeof STATE_HANDSHAKE_BODY;

const BITS_PER_BYTE = 8;
const UNKNOWN_LENGTH = -1;

/*
 * Framing, RFC 8446 §5.1 and §4: a client may cut the handshake message into records anywhere (even inside the
 * 4-byte handshake header), and TCP may cut the records anywhere again.
 *
 *   | 16 03 01 len16 | 01 len24 03 03 random … | 16 03 03 len16 | … extensions |      bytes on the wire
 *   '-record header-' '------ fragment -------' '-record header-' '- fragment -'
 *                     '-hs header-' '--------- ClientHello body: len24 bytes ---------'
 *
 * The reader keeps no record header bytes: it judges each field as its byte arrives (content type after 1 byte,
 * version after 2, length after 5), copies fragment bytes straight into a body buffer of len24 bytes, and walks
 * the body once, when its last byte is in. byteLength = the headers and fragments of every record up to the one
 * that completes the message, which must end exactly there.
 */

/** Incremental reader: push chunks as they arrive; the first answer other than need_more is final. */
export class ClientHelloReader {
  readonly #maxHelloBytes: number;
  #result: HelloResult = NEED_MORE;
  #state: ReaderState = STATE_RECORD_HEADER;

  /** Bytes of the current record header read so far (0 .. RECORD_HEADER_BYTES - 1). */
  #recordHeaderFilled = 0;
  /** The current record's length field, built up byte by byte. */
  #recordLength = 0;
  /** Fragment bytes of the current record not yet consumed. */
  #recordRemaining = 0;
  /** Sum over the records whose header was read: header + declared fragment length. */
  #recordBytesDeclared = 0;
  /** Sum over the records whose header was read: declared fragment length (all of it is handshake message). */
  #fragmentBytesDeclared = 0;

  /** Bytes of the handshake header read so far (0 .. HANDSHAKE_HEADER_BYTES). */
  #handshakeHeaderFilled = 0;
  /** ClientHello body length from the handshake header; UNKNOWN_LENGTH until its last byte is in. */
  #bodyLength = UNKNOWN_LENGTH;
  #bodyLengthPartial = 0;
  /** Views of the body's bytes in the pushed chunks (not copies), while it arrives in pieces. */
  #bodyParts: Uint8Array[] = [];
  #bodyFilled = 0;

  constructor(options: ClientHelloReaderOptions) {
    if (!Number.isSafeInteger(options.maxHelloBytes) || options.maxHelloBytes < 0) {
      throw new RangeError(`maxHelloBytes must be a non-negative integer, got ${String(options.maxHelloBytes)}`);
    }
    this.#maxHelloBytes = options.maxHelloBytes;
  }

  /**
   * Feeds the next bytes of the stream. Bytes after the end of a complete hello are ignored (not consumed). Until
   * the answer is final the reader keeps views of the pushed chunks, so their memory must not be reused meanwhile.
   */
  push(chunk: Uint8Array): HelloResult {
    if (this.#result !== NEED_MORE) return this.#result;
    const chunkLength = chunk.length;
    let pos = 0;
    // Bounded: every pass consumes at least one byte of `chunk` (or returns a final answer).
    while (pos < chunkLength) {
      if (this.#state === STATE_RECORD_HEADER) {
        const verdict = this.#readRecordHeaderByte(chunk[pos]!);
        pos += 1;
        if (verdict !== NEED_MORE) return this.#finish(verdict);
      } else if (this.#state === STATE_HANDSHAKE_HEADER) {
        const verdict = this.#readHandshakeHeaderByte(chunk[pos]!);
        pos += 1;
        if (verdict !== NEED_MORE) return this.#finish(verdict);
      } else {
        const bodyRemaining = this.#bodyLength - this.#bodyFilled;
        if (this.#bodyFilled === 0 && this.#recordRemaining >= bodyRemaining && chunkLength - pos >= bodyRemaining) {
          // Fast path: the whole body lies contiguous in this chunk and this record; read it in place, no copy.
          return this.#finish(parseClientHelloBody(asBuffer(chunk), pos, pos + bodyRemaining, this.#recordBytesDeclared));
        }
        const count = Math.min(this.#recordRemaining, bodyRemaining, chunkLength - pos);
        this.#keepBodyPart(chunk.subarray(pos, pos + count));
        pos += count;
        this.#bodyFilled += count;
        this.#recordRemaining -= count;
        if (this.#bodyFilled === this.#bodyLength) {
          const body = this.#joinBody();
          return this.#finish(parseClientHelloBody(body, 0, this.#bodyLength, this.#recordBytesDeclared));
        }
        if (this.#recordRemaining === 0) this.#state = STATE_RECORD_HEADER;
      }
    }
    return NEED_MORE;
  }

  #finish(result: HelloResult): HelloResult {
    this.#result = result;
    this.#bodyParts = [];
    return result;
  }

  /**
   * Keeps a view of body bytes, never a copy: the caller holds the chunks anyway (to forward them), so the hello is
   * held once. A view that continues the previous one in the same memory (a dribbled hello the caller coalesces into
   * one slab, src/hello-buffer.ts) widens it instead of adding a view per byte.
   */
  #keepBodyPart(part: Uint8Array): void {
    const parts = this.#bodyParts;
    const last = parts[parts.length - 1];
    if (last !== undefined && last.buffer === part.buffer && last.byteOffset + last.byteLength === part.byteOffset) {
      parts[parts.length - 1] = new Uint8Array(last.buffer, last.byteOffset, last.byteLength + part.byteLength);
    } else {
      parts.push(part);
    }
  }

  /** The body in one buffer, for the walk: in place when it lies in one view, else one copy that lives for the walk. */
  #joinBody(): Buffer {
    const parts = this.#bodyParts;
    if (parts.length === 1) return asBuffer(parts[0]!);
    return Buffer.concat(parts, this.#bodyLength);
  }

  /** One byte of a record header (RFC 8446 §5.1); judges each field as soon as its bytes are in. */
  #readRecordHeaderByte(byte: number): HelloResult {
    const offset = this.#recordHeaderFilled;
    this.#recordHeaderFilled = offset + 1;
    const isFirstRecord = this.#recordBytesDeclared === 0;
    if (offset === RECORD_OFFSET_CONTENT_TYPE) {
      if (byte === CONTENT_TYPE_HANDSHAKE) return NEED_MORE;
      return isFirstRecord ? NOT_TLS : malformed('record_not_handshake');
    }
    if (offset === RECORD_OFFSET_VERSION_MAJOR) {
      if (byte === RECORD_VERSION_MAJOR_TLS) return NEED_MORE;
      return isFirstRecord ? NOT_TLS : malformed('record_bad_version');
    }
    if (offset < RECORD_OFFSET_LENGTH) return NEED_MORE; // version minor: ignored (RFC 8446 §5.1)
    this.#recordLength = (this.#recordLength << BITS_PER_BYTE) | byte;
    if (this.#recordHeaderFilled < RECORD_HEADER_BYTES) return NEED_MORE;

    // The header is complete.
    const recordLength = this.#recordLength;
    this.#recordHeaderFilled = 0;
    this.#recordLength = 0;
    if (recordLength < MIN_HANDSHAKE_RECORD_BYTES) return malformed('record_length_zero');
    if (recordLength > MAX_PLAINTEXT_RECORD_BYTES) return malformed('record_length_overflow');
    this.#recordRemaining = recordLength;
    this.#recordBytesDeclared += RECORD_HEADER_BYTES + recordLength;
    this.#fragmentBytesDeclared += recordLength;
    this.#state = this.#handshakeHeaderFilled < HANDSHAKE_HEADER_BYTES ? STATE_HANDSHAKE_HEADER : STATE_HANDSHAKE_BODY;
    return this.#checkDeclaredSizes();
  }

  /** One byte of the handshake header (RFC 8446 §4), which may itself be split across records. */
  #readHandshakeHeaderByte(byte: number): HelloResult {
    const offset = this.#handshakeHeaderFilled;
    this.#handshakeHeaderFilled = offset + 1;
    this.#recordRemaining -= 1;
    if (offset < HANDSHAKE_OFFSET_LENGTH) {
      if (byte !== HANDSHAKE_TYPE_CLIENT_HELLO) return malformed('handshake_not_client_hello');
    } else {
      this.#bodyLengthPartial = (this.#bodyLengthPartial << BITS_PER_BYTE) | byte;
    }
    if (this.#handshakeHeaderFilled === HANDSHAKE_HEADER_BYTES) {
      if (this.#bodyLengthPartial < MIN_CLIENT_HELLO_BODY_BYTES) return malformed('handshake_too_short');
      this.#bodyLength = this.#bodyLengthPartial;
      this.#state = STATE_HANDSHAKE_BODY;
      const verdict = this.#checkDeclaredSizes();
      if (verdict !== NEED_MORE) return verdict;
    }
    if (this.#recordRemaining === 0) this.#state = STATE_RECORD_HEADER;
    return NEED_MORE;
  }

  /**
   * Judges the records announced so far against the handshake length and the cap, before any of their bytes are
   * buffered: the declared records must not run past the ClientHello, and the fewest bytes the whole hello can
   * still take (remaining message bytes in full records of 2^14, plus one header each) must fit in maxHelloBytes.
   */
  #checkDeclaredSizes(): HelloResult {
    if (this.#bodyLength !== UNKNOWN_LENGTH) {
      const unannounced = HANDSHAKE_HEADER_BYTES + this.#bodyLength - this.#fragmentBytesDeclared;
      if (unannounced < 0) return malformed('record_trailing_data');
      const fewestMoreRecords = Math.ceil(unannounced / MAX_PLAINTEXT_RECORD_BYTES);
      const fewestBytes = this.#recordBytesDeclared + unannounced + fewestMoreRecords * RECORD_HEADER_BYTES;
      if (fewestBytes > this.#maxHelloBytes) return TOO_LARGE;
    }
    return this.#recordBytesDeclared > this.#maxHelloBytes ? TOO_LARGE : NEED_MORE;
  }
}

/** Reads a whole buffer at once: the same answers as one `push` to a fresh reader. */
export function readClientHello(bytes: Uint8Array, options: ClientHelloReaderOptions): HelloResult {
  return new ClientHelloReader(options).push(bytes);
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Big-endian uint16 at `at`. Callers check that `at + 2 <= end` of the container first. */
function readUint16(bytes: Uint8Array, at: number): number {
  return (bytes[at]! << BITS_PER_BYTE) | bytes[at + 1]!;
}

// Duplicate extension check (RFC 8446 §4.2): one stamp per extension type, tagged with a generation that changes
// for every hello, so nothing is allocated or cleared per hello. Safe to share: a walk never yields.
const extensionSeenStamp = new Uint16Array(EXTENSION_TYPE_COUNT);
const MAX_STAMP_GENERATION = 0xffff;
let stampGeneration = 0;

function nextStampGeneration(): number {
  if (stampGeneration === MAX_STAMP_GENERATION) {
    extensionSeenStamp.fill(0);
    stampGeneration = 0;
  }
  stampGeneration += 1;
  return stampGeneration;
}

const NO_EXTENSION_VALUES: readonly never[] = Object.freeze([]);

/*
 * ClientHello body, RFC 8446 §4.1.2 (RFC 5246 §7.4.1.2: extensions may be absent in a TLS 1.2 hello)
 *
 *   +---------------------+  2  legacy_version            (0x0303)
 *   | random              | 32
 *   +---------------------+
 *   | len | session_id    |  1 + 0..32                    legacy_session_id<0..32>
 *   | len | cipher_suites |  2 + 2..2^16-2 (even)         CipherSuite cipher_suites<2..2^16-2>
 *   | len | compression   |  1 + 1..255                   opaque legacy_compression_methods<1..2^8-1>
 *   | len | extensions    |  2 + 0..2^16-1, exactly fills the rest of the body
 *   +---------------------+
 *   each Extension: type (2) | length (2) | extension_data (length)       RFC 8446 §4.2
 *
 * Smallest body: MIN_CLIENT_HELLO_BODY_BYTES = 2 + 32 + 1 + 2 + 2 + 1 + 1 = 41, checked before the walk starts,
 * which is why legacy_version, random and the session id length byte are read without a further check.
 */
function parseClientHelloBody(body: Buffer, start: number, end: number, byteLength: number): HelloResult {
  let at = start;
  const legacyVersion = readUint16(body, at);
  at += PROTOCOL_VERSION_BYTES + RANDOM_BYTES;

  const sessionIdLength = body[at]!;
  at += SESSION_ID_LENGTH_BYTES;
  if (sessionIdLength > MAX_SESSION_ID_BYTES) return malformed('session_id_too_long');
  if (sessionIdLength > end - at) return malformed('session_id_overflow');
  at += sessionIdLength;

  if (CIPHER_SUITES_LENGTH_BYTES > end - at) return malformed('cipher_suites_overflow');
  const cipherSuitesLength = readUint16(body, at);
  at += CIPHER_SUITES_LENGTH_BYTES;
  if (cipherSuitesLength < CIPHER_SUITE_BYTES || cipherSuitesLength % CIPHER_SUITE_BYTES !== 0) {
    return malformed('cipher_suites_bad_length');
  }
  if (cipherSuitesLength > end - at) return malformed('cipher_suites_overflow');
  at += cipherSuitesLength;

  if (COMPRESSION_METHODS_LENGTH_BYTES > end - at) return malformed('compression_methods_overflow');
  const compressionMethodsLength = body[at]!;
  at += COMPRESSION_METHODS_LENGTH_BYTES;
  if (compressionMethodsLength === 0) return malformed('compression_methods_bad_length');
  if (compressionMethodsLength > end - at) return malformed('compression_methods_overflow');
  at += compressionMethodsLength;

  let sni: string | null = null;
  let alpn: readonly string[] = NO_EXTENSION_VALUES;
  let supportedVersions: readonly number[] = NO_EXTENSION_VALUES;

  if (at < end) {
    if (EXTENSIONS_LENGTH_BYTES > end - at) return malformed('extensions_overflow');
    const extensionsLength = readUint16(body, at);
    at += EXTENSIONS_LENGTH_BYTES;
    if (extensionsLength > end - at) return malformed('extensions_overflow');
    if (extensionsLength < end - at) return malformed('extensions_trailing_data');

    const generation = nextStampGeneration();
    // Bounded: every pass advances `at` by at least EXTENSION_HEADER_BYTES towards `end`.
    while (at < end) {
      if (EXTENSION_HEADER_BYTES > end - at) return malformed('extension_header_overflow');
      const type = readUint16(body, at);
      const dataLength = readUint16(body, at + EXTENSION_TYPE_BYTES);
      at += EXTENSION_HEADER_BYTES;
      if (dataLength > end - at) return malformed('extension_length_overflow');
      if (extensionSeenStamp[type] === generation) return malformed('duplicate_extension');
      extensionSeenStamp[type] = generation;
      const dataEnd = at + dataLength;
      if (type === EXT_SERVER_NAME) {
        const entry = findHostNameEntry(body, at, dataEnd);
        if (typeof entry === 'string') return malformed(entry);
        if (entry !== NO_HOST_NAME) {
          const nameStart = entry + SERVER_NAME_ENTRY_HEADER_BYTES;
          sni = body.toString('latin1', nameStart, nameStart + readUint16(body, entry + NAME_TYPE_BYTES));
        }
      } else if (type === EXT_ALPN) {
        const names: string[] = [];
        const problem = readProtocolNames(body, at, dataEnd, names);
        if (problem !== null) return malformed(problem);
        alpn = names;
      } else if (type === EXT_SUPPORTED_VERSIONS) {
        const versions: number[] = [];
        const problem = readSupportedVersions(body, at, dataEnd, versions);
        if (problem !== null) return malformed(problem);
        supportedVersions = versions;
      }
      at = dataEnd;
    }
  }

  return { kind: 'hello', hello: { sni, alpn, supportedVersions, legacyVersion, byteLength } };
}

const NO_HOST_NAME = -1;

/*
 * server_name extension_data, RFC 6066 §3
 *
 *   | list length (2) | name_type (1) | HostName length (2) | HostName (1..2^16-1) | name_type … |
 *                     '------------- ServerName, repeated: server_name_list<1..2^16-1> -------'
 *
 * Every entry is read with the HostName shape (as deployed servers do); the one of type host_name (0) is the SNI,
 * and the list MUST NOT hold two of the same type. Returns the offset of the host_name entry, NO_HOST_NAME, or why
 * the extension is malformed.
 */
function findHostNameEntry(data: Uint8Array, start: number, end: number): number | MalformedReason {
  if (SERVER_NAME_LIST_LENGTH_BYTES > end - start) return 'sni_bad_length';
  const listLength = readUint16(data, start);
  let at = start + SERVER_NAME_LIST_LENGTH_BYTES;
  if (listLength === 0 || listLength !== end - at) return 'sni_bad_length';
  let hostNameEntry = NO_HOST_NAME;
  // Bounded: every pass advances `at` by at least SERVER_NAME_ENTRY_HEADER_BYTES + MIN_HOST_NAME_BYTES.
  while (at < end) {
    if (SERVER_NAME_ENTRY_HEADER_BYTES > end - at) return 'sni_name_overflow';
    const nameType = data[at]!;
    const nameLength = readUint16(data, at + NAME_TYPE_BYTES);
    if (nameLength < MIN_HOST_NAME_BYTES) return 'sni_name_empty';
    if (nameLength > end - at - SERVER_NAME_ENTRY_HEADER_BYTES) return 'sni_name_overflow';
    if (nameType === NAME_TYPE_HOST_NAME) {
      if (hostNameEntry !== NO_HOST_NAME) return 'sni_duplicate_host_name';
      hostNameEntry = at;
    }
    at += NAME_TYPE_BYTES + HOST_NAME_LENGTH_BYTES + nameLength;
  }
  return hostNameEntry;
}

/*
 * application_layer_protocol_negotiation extension_data, RFC 7301 §3.1
 *
 *   | list length (2) | name length (1) | ProtocolName (1..255) | name length (1) | … |
 *                     '---- protocol_name_list<2..2^16-1> -------------------------'
 */
function readProtocolNames(data: Buffer, start: number, end: number, names: string[]): MalformedReason | null {
  if (PROTOCOL_NAME_LIST_LENGTH_BYTES > end - start) return 'alpn_bad_length';
  const listLength = readUint16(data, start);
  let at = start + PROTOCOL_NAME_LIST_LENGTH_BYTES;
  if (listLength < MIN_PROTOCOL_NAME_LIST_BYTES || listLength !== end - at) return 'alpn_bad_length';
  // Bounded: every pass advances `at` by at least PROTOCOL_NAME_LENGTH_BYTES + MIN_PROTOCOL_NAME_BYTES.
  while (at < end) {
    const nameLength = data[at]!;
    at += PROTOCOL_NAME_LENGTH_BYTES;
    if (nameLength < MIN_PROTOCOL_NAME_BYTES) return 'alpn_name_empty';
    if (nameLength > end - at) return 'alpn_name_overflow';
    names.push(data.toString('latin1', at, at + nameLength));
    at += nameLength;
  }
  return null;
}

/*
 * supported_versions extension_data in a ClientHello, RFC 8446 §4.2.1
 *
 *   | list length (1) | ProtocolVersion (2) | ProtocolVersion (2) | … |     versions<2..254>
 */
function readSupportedVersions(data: Uint8Array, start: number, end: number, versions: number[]): MalformedReason | null {
  if (SUPPORTED_VERSIONS_LENGTH_BYTES > end - start) return 'supported_versions_bad_length';
  const listLength = data[start]!;
  let at = start + SUPPORTED_VERSIONS_LENGTH_BYTES;
  if (
    listLength < MIN_SUPPORTED_VERSIONS_BYTES ||
    listLength % PROTOCOL_VERSION_BYTES !== 0 ||
    listLength !== end - at
  ) {
    return 'supported_versions_bad_length';
  }
  // Bounded: every pass advances `at` by PROTOCOL_VERSION_BYTES; the list length is even and exactly fills the data.
  while (at < end) {
    versions.push(readUint16(data, at));
    at += PROTOCOL_VERSION_BYTES;
  }
  return null;
}
