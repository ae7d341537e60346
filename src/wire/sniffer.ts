/**
 * A sniffer reads the first bytes of a connection to learn where it goes, without consuming them (sniproxy's
 * `Protocol`: `{ name, parse_packet, abort_message }`). The connection holds one as a value and never knows which
 * protocol it peeked: TLS (the ClientHello's SNI) today, plain HTTP (the Host header) beside it.
 */
import { ClientHelloReader } from './client-hello.js';

/** What a sniffer is told about the bytes it may wait for. */
export interface SnifferLimits {
  /** Past this many bytes without a verdict the reader answers `too_large`. */
  readonly maxBytes: number;
}

/**
 * The verdict on the bytes so far. `found` carries the name to route by (null: the protocol was recognised but
 * named no host, e.g. a ClientHello without SNI); `foreign`: the bytes are not this protocol at all.
 */
export type SniffResult =
  | { readonly kind: 'need_more' }
  | { readonly kind: 'found'; readonly serverName: string | null; readonly alpn: readonly string[]; readonly byteLength: number }
  | { readonly kind: 'foreign' }
  | { readonly kind: 'too_large' }
  | { readonly kind: 'malformed'; readonly reason: string };

/** Fed the connection's bytes in order, each chunk once; answers `need_more` until it has a final verdict. */
export interface SniffReader {
  push(chunk: Uint8Array): SniffResult;
}

/**
 * Why a connection is given up before it reached a backend, as far as the client could be told in its protocol:
 * its bytes broke the grammar, grew too large, or named a host no route serves (`unknown_name`) or none at all.
 */
export type SniffAbort = 'malformed' | 'too_large' | 'unknown_name' | 'no_name';

export interface Sniffer {
  /** For logs: 'tls', 'http'. */
  readonly name: string;
  newReader(limits: SnifferLimits): SniffReader;
  /** Bytes to send the client before closing (e.g. a TLS alert record), or null to close without a word. */
  abortMessage(why: SniffAbort): Buffer | null;
}

// RFC 8446 §5.1 (TLSPlaintext) and §6 (Alert): ContentType alert, legacy_record_version, length, then the alert.
const CONTENT_TYPE_ALERT = 0x15;
const LEGACY_RECORD_VERSION = 0x0303;
const ALERT_LEVEL_FATAL = 2;
/** "A message could not be decoded because some field was out of the specified range or the length was wrong." */
const ALERT_DECODE_ERROR = 50;
/** RFC 6066 §3: the server name the client asked for is not served here. */
const ALERT_UNRECOGNIZED_NAME = 112;
const ALERT_BODY_LENGTH = 2;

/** One TLS alert record: 5 bytes of record header and 2 of alert. */
export function tlsAlertRecord(description: number): Buffer {
  const record = Buffer.alloc(5 + ALERT_BODY_LENGTH);
  record[0] = CONTENT_TYPE_ALERT;
  record.writeUInt16BE(LEGACY_RECORD_VERSION, 1);
  record.writeUInt16BE(ALERT_BODY_LENGTH, 3);
  record[5] = ALERT_LEVEL_FATAL;
  record[6] = description;
  return record;
}

const DECODE_ERROR_RECORD = tlsAlertRecord(ALERT_DECODE_ERROR);
const UNRECOGNIZED_NAME_RECORD = tlsAlertRecord(ALERT_UNRECOGNIZED_NAME);

class TlsHelloReader implements SniffReader {
  readonly #reader: ClientHelloReader;

  constructor(limits: SnifferLimits) {
    this.#reader = new ClientHelloReader({ maxHelloBytes: limits.maxBytes });
  }

  push(chunk: Uint8Array): SniffResult {
    const result = this.#reader.push(chunk);
    switch (result.kind) {
      case 'hello':
        return { kind: 'found', serverName: result.hello.sni, alpn: result.hello.alpn, byteLength: result.hello.byteLength };
      case 'not_tls':
        return FOREIGN;
      default:
        return result;
    }
  }
}
const FOREIGN: SniffResult = Object.freeze({ kind: 'foreign' });

/**
 * The ClientHello sniffer. A hello that breaks the grammar is answered with a fatal decode_error alert and one whose
 * name no route serves with unrecognized_name, so the client reports why instead of "connection reset". A hello too
 * large, or one without SNI and no default pool, is closed bare as before: no alert says more than the close.
 */
export const TLS_SNIFFER: Sniffer = Object.freeze({
  name: 'tls',
  newReader: (limits: SnifferLimits): SniffReader => new TlsHelloReader(limits),
  abortMessage(why: SniffAbort): Buffer | null {
    if (why === 'malformed') return DECODE_ERROR_RECORD;
    if (why === 'unknown_name') return UNRECOGNIZED_NAME_RECORD;
    return null;
  },
});
