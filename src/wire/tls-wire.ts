/**
 * TLS wire constants used to read a ClientHello, named as the RFCs name them.
 * Sizes are in bytes; `*_BYTES` is the size of one field, `MIN_*`/`MAX_*` are bounds the grammar sets.
 * Pure data: imported by the reader (src/client-hello.ts) and by the test builder.
 */

// --- Record layer, RFC 8446 §5.1 ----------------------------------------------------------------------------
//
//          byte 0         bytes 1-2           bytes 3-4           bytes 5 .. 5+length-1
//        +--------------+-------------------+-------------------+---------------------------------+
//        | content_type | legacy_record_ver | length (uint16)   | fragment                        |
//        | 0x16 = hshk  | major 3, minor *  | 1 .. 2^14         | (a slice of handshake messages) |
//        +--------------+-------------------+-------------------+---------------------------------+

export const CONTENT_TYPE_CHANGE_CIPHER_SPEC = 0x14;
export const CONTENT_TYPE_ALERT = 0x15;
export const CONTENT_TYPE_HANDSHAKE = 0x16;
export const CONTENT_TYPE_APPLICATION_DATA = 0x17;

export const CONTENT_TYPE_BYTES = 1;
export const PROTOCOL_VERSION_BYTES = 2;
export const RECORD_LENGTH_BYTES = 2;
export const RECORD_HEADER_BYTES = CONTENT_TYPE_BYTES + PROTOCOL_VERSION_BYTES + RECORD_LENGTH_BYTES; // 5

/** Offsets inside the record header. */
export const RECORD_OFFSET_CONTENT_TYPE = 0;
export const RECORD_OFFSET_VERSION_MAJOR = CONTENT_TYPE_BYTES; // 1
export const RECORD_OFFSET_LENGTH = CONTENT_TYPE_BYTES + PROTOCOL_VERSION_BYTES; // 3

/** Major byte of every SSL 3.0 / TLS 1.x record version (0x0300 .. 0x0304). An SSLv2 hello fails this test. */
export const RECORD_VERSION_MAJOR_TLS = 0x03;

/** TLSPlaintext.length MUST NOT exceed 2^14 (RFC 8446 §5.1); zero-length handshake fragments are forbidden. */
export const MAX_PLAINTEXT_RECORD_BYTES = 2 ** 14;
export const MIN_HANDSHAKE_RECORD_BYTES = 1;

// --- Handshake header, RFC 8446 §4 ---------------------------------------------------------------------------
//
//   +-------------+-----------------------------+------------------------------------------+
//   | msg_type(1) | length (uint24, 3)          | body: `length` bytes, may span records   |
//   +-------------+-----------------------------+------------------------------------------+

export const HANDSHAKE_TYPE_CLIENT_HELLO = 1;
export const HANDSHAKE_TYPE_BYTES = 1;
export const HANDSHAKE_LENGTH_BYTES = 3;
export const HANDSHAKE_HEADER_BYTES = HANDSHAKE_TYPE_BYTES + HANDSHAKE_LENGTH_BYTES; // 4
export const HANDSHAKE_OFFSET_LENGTH = HANDSHAKE_TYPE_BYTES; // 1

// --- ClientHello body, RFC 8446 §4.1.2 (and RFC 5246 §7.4.1.2 for hellos without extensions) ----------------

export const RANDOM_BYTES = 32;
export const SESSION_ID_LENGTH_BYTES = 1;
export const MAX_SESSION_ID_BYTES = 32;
export const CIPHER_SUITES_LENGTH_BYTES = 2;
export const CIPHER_SUITE_BYTES = 2;
export const COMPRESSION_METHODS_LENGTH_BYTES = 1;
export const COMPRESSION_METHOD_BYTES = 1;
export const COMPRESSION_METHOD_NULL = 0;
export const EXTENSIONS_LENGTH_BYTES = 2;

/** Smallest ClientHello body: version, random, empty session id, one cipher suite, one compression method. */
export const MIN_CLIENT_HELLO_BODY_BYTES =
  PROTOCOL_VERSION_BYTES +
  RANDOM_BYTES +
  SESSION_ID_LENGTH_BYTES +
  CIPHER_SUITES_LENGTH_BYTES +
  CIPHER_SUITE_BYTES +
  COMPRESSION_METHODS_LENGTH_BYTES +
  COMPRESSION_METHOD_BYTES; // 41

// --- Extensions, RFC 8446 §4.2 -------------------------------------------------------------------------------

export const EXTENSION_TYPE_BYTES = 2;
export const EXTENSION_LENGTH_BYTES = 2;
export const EXTENSION_HEADER_BYTES = EXTENSION_TYPE_BYTES + EXTENSION_LENGTH_BYTES; // 4
/** Extension types are uint16: 0 .. 0xffff. */
export const EXTENSION_TYPE_COUNT = 2 ** 16;

export const EXT_SERVER_NAME = 0; // RFC 6066 §3
export const EXT_SUPPORTED_GROUPS = 10; // RFC 8446 §4.2.7
export const EXT_SIGNATURE_ALGORITHMS = 13; // RFC 8446 §4.2.3
export const EXT_ALPN = 16; // RFC 7301 §3.1 (application_layer_protocol_negotiation)
export const EXT_PADDING = 21; // RFC 7685 §3
export const EXT_PRE_SHARED_KEY = 41; // RFC 8446 §4.2.11
export const EXT_SUPPORTED_VERSIONS = 43; // RFC 8446 §4.2.1
export const EXT_PSK_KEY_EXCHANGE_MODES = 45; // RFC 8446 §4.2.9
export const EXT_KEY_SHARE = 51; // RFC 8446 §4.2.8

// server_name, RFC 6066 §3
export const SERVER_NAME_LIST_LENGTH_BYTES = 2;
export const NAME_TYPE_BYTES = 1;
export const HOST_NAME_LENGTH_BYTES = 2;
export const NAME_TYPE_HOST_NAME = 0;
export const SERVER_NAME_ENTRY_HEADER_BYTES = NAME_TYPE_BYTES + HOST_NAME_LENGTH_BYTES; // 3
export const MIN_HOST_NAME_BYTES = 1;

// application_layer_protocol_negotiation, RFC 7301 §3.1
export const PROTOCOL_NAME_LIST_LENGTH_BYTES = 2;
export const PROTOCOL_NAME_LENGTH_BYTES = 1;
export const MIN_PROTOCOL_NAME_BYTES = 1;
/** protocol_name_list<2..2^16-1>: at least one name of at least one byte, with its length byte. */
export const MIN_PROTOCOL_NAME_LIST_BYTES = PROTOCOL_NAME_LENGTH_BYTES + MIN_PROTOCOL_NAME_BYTES; // 2

// supported_versions, RFC 8446 §4.2.1 (ClientHello form: ProtocolVersion versions<2..254>)
export const SUPPORTED_VERSIONS_LENGTH_BYTES = 1;
export const MIN_SUPPORTED_VERSIONS_BYTES = PROTOCOL_VERSION_BYTES; // 2

// --- Protocol versions, RFC 8446 §4.2.1 / §5.1 ---------------------------------------------------------------

export const VERSION_TLS_1_0 = 0x0301;
export const VERSION_TLS_1_1 = 0x0302;
export const VERSION_TLS_1_2 = 0x0303;
export const VERSION_TLS_1_3 = 0x0304;

// --- Cipher suites used by the test builder (RFC 8446 §B.4, RFC 5289) ----------------------------------------

export const TLS_AES_128_GCM_SHA256 = 0x1301;
export const TLS_AES_256_GCM_SHA384 = 0x1302;
export const TLS_CHACHA20_POLY1305_SHA256 = 0x1303;
export const TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 = 0xc02b;
export const TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 = 0xc02f;

/** GREASE values, RFC 8701 §2: 0x0a0a, 0x1a1a, … 0xfafa (cipher suites, extensions, groups, versions). */
export const GREASE_VALUES: readonly number[] = Array.from({ length: 16 }, (_, i) => ((i << 4) | 0x0a) * 0x0101);
