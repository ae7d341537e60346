/**
 * Builds TLS ClientHellos for tests: realistic TLS 1.3 hellos (the shape a current browser sends, optionally
 * post-quantum sized), variants (no SNI, GREASE, padding, extra or duplicate extensions) and, through the layout it
 * returns, the offsets of every length field so a test can make any of them lie.
 *
 *   const hello = buildClientHello({ sni: 'app.example.com', alpn: ['h2', 'http/1.1'] }); // handshake message
 *   const wire = toRecords(hello, [100, 7, 300]);   // records of 100, 7 and 300 bytes, the rest in one more
 *
 * Used by the reader's unit tests and by integration tests that send a hello over a real socket.
 */
import {
  CIPHER_SUITE_BYTES,
  CIPHER_SUITES_LENGTH_BYTES,
  COMPRESSION_METHOD_NULL,
  COMPRESSION_METHODS_LENGTH_BYTES,
  CONTENT_TYPE_HANDSHAKE,
  EXTENSION_HEADER_BYTES,
  EXTENSIONS_LENGTH_BYTES,
  EXT_ALPN,
  EXT_KEY_SHARE,
  EXT_PADDING,
  EXT_PSK_KEY_EXCHANGE_MODES,
  EXT_SERVER_NAME,
  EXT_SIGNATURE_ALGORITHMS,
  EXT_SUPPORTED_GROUPS,
  EXT_SUPPORTED_VERSIONS,
  GREASE_VALUES,
  HANDSHAKE_HEADER_BYTES,
  HANDSHAKE_OFFSET_LENGTH,
  HANDSHAKE_TYPE_CLIENT_HELLO,
  MAX_PLAINTEXT_RECORD_BYTES,
  NAME_TYPE_HOST_NAME,
  PROTOCOL_VERSION_BYTES,
  RANDOM_BYTES,
  RECORD_HEADER_BYTES,
  SESSION_ID_LENGTH_BYTES,
  TLS_AES_128_GCM_SHA256,
  TLS_AES_256_GCM_SHA384,
  TLS_CHACHA20_POLY1305_SHA256,
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
  VERSION_TLS_1_0,
  VERSION_TLS_1_2,
  VERSION_TLS_1_3,
} from '../../src/wire/tls-wire.js';

export interface TlsExtension {
  readonly type: number;
  readonly data: Uint8Array;
}

export interface HelloOptions {
  /** server_name host_name; null leaves the extension out. Default 'example.com'. */
  readonly sni?: string | null;
  /** ALPN names offered; empty or absent leaves the extension out. */
  readonly alpn?: readonly string[];
  /** supported_versions offered; null leaves the extension out. Default [0x0304, 0x0303]. */
  readonly supportedVersions?: readonly number[] | null;
  /** Total size of the handshake message (its 4-byte header included), reached with a padding extension (21). */
  readonly padTo?: number;
  /** GREASE (RFC 8701) cipher suite, extensions (first and last), group, key share and version, as Chrome does. */
  readonly grease?: boolean;
  /**
   * Look like a current browser's hello: offer X25519MLKEM768 with its 1216-byte key share, plus ALPS and a
   * GREASE encrypted_client_hello, as Chrome does: a ~1.8 KB hello.
   */
  readonly postQuantum?: boolean;
  /** Appended after the built-in extensions (before padding). May repeat a type to make a duplicate. */
  readonly extraExtensions?: readonly TlsExtension[];
  /** Replaces the whole extension list (sni, alpn, supportedVersions, grease, extraExtensions are then ignored). */
  readonly extensions?: readonly TlsExtension[];
  /** Leave out the extensions block entirely (an old TLS 1.2-style hello). */
  readonly omitExtensions?: boolean;
  readonly legacyVersion?: number;
  readonly sessionId?: Uint8Array;
  readonly cipherSuites?: readonly number[];
  readonly compressionMethods?: readonly number[];
}

/** Where each length field of a built hello sits (offsets into the handshake message). */
export interface HelloLayout {
  readonly handshakeLengthOffset: number;
  readonly sessionIdLengthOffset: number;
  readonly cipherSuitesLengthOffset: number;
  readonly compressionMethodsLengthOffset: number;
  /** null when the hello has no extensions block. */
  readonly extensionsLengthOffset: number | null;
  readonly extensions: readonly ExtensionLayout[];
}

export interface ExtensionLayout {
  readonly type: number;
  /** Offset of the extension's type field; its length field follows at +2, its data at +4. */
  readonly offset: number;
  readonly dataOffset: number;
  readonly dataLength: number;
}

export interface BuiltHello {
  /** The handshake message: msg_type, uint24 length, ClientHello body. */
  readonly message: Buffer;
  readonly layout: HelloLayout;
}

// Code points the builder uses that tls-wire.ts has no reason to name.
const EXT_EC_POINT_FORMATS = 11; // RFC 8422 §5.1.2
const EXT_STATUS_REQUEST = 5; // RFC 6066 §8
const EXT_SIGNED_CERTIFICATE_TIMESTAMP = 18; // RFC 6962 §3.3.1
const EXT_EXTENDED_MASTER_SECRET = 23; // RFC 7627 §5.1
const EXT_SESSION_TICKET = 35; // RFC 5077 §3.2
const EXT_COMPRESS_CERTIFICATE = 27; // RFC 8879 §3
const EXT_APPLICATION_SETTINGS = 17513; // draft-vvv-tls-alps (Chrome)
const EXT_ENCRYPTED_CLIENT_HELLO = 0xfe0d; // draft-ietf-tls-esni §5
const EXT_RENEGOTIATION_INFO = 0xff01; // RFC 5746 §3.2
const CERT_COMPRESSION_BROTLI = 2;
const ECH_CLIENT_HELLO_OUTER = 0;
const HPKE_KDF_HKDF_SHA256 = 0x0001;
const HPKE_AEAD_AES_128_GCM = 0x0001;
const ECH_GREASE_CONFIG_ID = 0x2a;
const ECH_GREASE_ENC_BYTES = 32;
const ECH_GREASE_PAYLOAD_BYTES = 208;
const GROUP_X25519 = 0x001d;
const GROUP_SECP256R1 = 0x0017;
const GROUP_SECP384R1 = 0x0018;
const GROUP_X25519_MLKEM768 = 0x11ec; // draft-ietf-tls-ecdhe-mlkem
const X25519_KEY_BYTES = 32;
const X25519_MLKEM768_KEY_BYTES = 1184 + X25519_KEY_BYTES; // ML-KEM-768 encapsulation key + X25519 share
const SIGNATURE_SCHEMES = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601];
const EC_POINT_FORMAT_UNCOMPRESSED = 0;
const PSK_DHE_KE = 1;
const STATUS_TYPE_OCSP = 1;
const DEFAULT_SNI = 'example.com';
/** Chrome's list (TLS 1.3 suites, then ECDHE-GCM/ChaCha, then legacy CBC/RSA), RFC 8446 §B.4, RFC 5289, RFC 7905. */
const DEFAULT_CIPHER_SUITES = [
  TLS_AES_128_GCM_SHA256,
  TLS_AES_256_GCM_SHA384,
  TLS_CHACHA20_POLY1305_SHA256,
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
  0xc02c, // TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
  0xc030, // TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
  0xcca9, // TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
  0xcca8, // TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
  0xc013, // TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA
  0xc014, // TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA
  0x009c, // TLS_RSA_WITH_AES_128_GCM_SHA256
  0x009d, // TLS_RSA_WITH_AES_256_GCM_SHA384
  0x002f, // TLS_RSA_WITH_AES_128_CBC_SHA
  0x0035, // TLS_RSA_WITH_AES_256_CBC_SHA
];
const GREASE_FIRST_EXTENSION = GREASE_VALUES[3]!; // 0x3a3a
const GREASE_LAST_EXTENSION = GREASE_VALUES[13]!; // 0xdada
const GREASE_CIPHER_SUITE = GREASE_VALUES[5]!; // 0x5a5a
const GREASE_GROUP = GREASE_VALUES[9]!; // 0x9a9a
const GREASE_VERSION = GREASE_VALUES[7]!; // 0x7a7a

/** Deterministic, non-zero filler so built hellos are reproducible (a real X25519 share is any 32 bytes). */
function filler(length: number, seed: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i += 1) bytes[i] = (seed + i * 151) % 251 + 1;
  return bytes;
}

export function uint8(value: number): Buffer {
  return Buffer.from([value]);
}

export function uint16(value: number): Buffer {
  const bytes = Buffer.alloc(2);
  bytes.writeUInt16BE(value);
  return bytes;
}

export function uint24(value: number): Buffer {
  const bytes = Buffer.alloc(3);
  bytes.writeUIntBE(value, 0, 3);
  return bytes;
}

function uint16List(values: readonly number[]): Buffer {
  return Buffer.concat(values.map(uint16));
}

/** A vector with a 1- or 2-byte length prefix. */
function vector(lengthBytes: 1 | 2, content: Uint8Array): Buffer {
  return Buffer.concat([lengthBytes === 1 ? uint8(content.length) : uint16(content.length), content]);
}

export function extension(type: number, data: Uint8Array = Buffer.alloc(0)): TlsExtension {
  return { type, data };
}

/** server_name (RFC 6066 §3): one host_name entry, or entries of any type given as [type, name] pairs. */
export function serverNameExtension(...entries: readonly (string | readonly [number, string])[]): TlsExtension {
  const list = entries.map((entry) => {
    const [type, name] = typeof entry === 'string' ? [NAME_TYPE_HOST_NAME, entry] : entry;
    return Buffer.concat([uint8(type), vector(2, Buffer.from(name, 'latin1'))]);
  });
  return extension(EXT_SERVER_NAME, vector(2, Buffer.concat(list)));
}

/** application_layer_protocol_negotiation (RFC 7301 §3.1). */
export function alpnExtension(names: readonly string[]): TlsExtension {
  return extension(EXT_ALPN, vector(2, Buffer.concat(names.map((name) => vector(1, Buffer.from(name, 'latin1'))))));
}

/** supported_versions, ClientHello form (RFC 8446 §4.2.1). */
export function supportedVersionsExtension(versions: readonly number[]): TlsExtension {
  return extension(EXT_SUPPORTED_VERSIONS, vector(1, uint16List(versions)));
}

export function paddingExtension(dataLength: number): TlsExtension {
  return extension(EXT_PADDING, Buffer.alloc(dataLength));
}

function keyShareExtension(options: HelloOptions): TlsExtension {
  const entries: Buffer[] = [];
  if (options.grease) entries.push(uint16(GREASE_GROUP), vector(2, Buffer.alloc(1)));
  if (options.postQuantum) entries.push(uint16(GROUP_X25519_MLKEM768), vector(2, filler(X25519_MLKEM768_KEY_BYTES, 7)));
  entries.push(uint16(GROUP_X25519), vector(2, filler(X25519_KEY_BYTES, 3)));
  return extension(EXT_KEY_SHARE, vector(2, Buffer.concat(entries)));
}

function defaultExtensions(options: HelloOptions): TlsExtension[] {
  const sni = options.sni === undefined ? DEFAULT_SNI : options.sni;
  const versions = options.supportedVersions === undefined ? [VERSION_TLS_1_3, VERSION_TLS_1_2] : options.supportedVersions;
  const groups = [
    ...(options.grease ? [GREASE_GROUP] : []),
    ...(options.postQuantum ? [GROUP_X25519_MLKEM768] : []),
    GROUP_X25519,
    GROUP_SECP256R1,
    GROUP_SECP384R1,
  ];
  const list: TlsExtension[] = [];
  if (options.grease) list.push(extension(GREASE_FIRST_EXTENSION));
  if (sni !== null) list.push(serverNameExtension(sni));
  list.push(
    extension(EXT_EXTENDED_MASTER_SECRET),
    extension(EXT_RENEGOTIATION_INFO, uint8(0)),
    extension(EXT_SUPPORTED_GROUPS, vector(2, uint16List(groups))),
    extension(EXT_EC_POINT_FORMATS, vector(1, uint8(EC_POINT_FORMAT_UNCOMPRESSED))),
    extension(EXT_SESSION_TICKET),
  );
  if (options.alpn !== undefined && options.alpn.length > 0) list.push(alpnExtension(options.alpn));
  list.push(
    extension(EXT_STATUS_REQUEST, Buffer.concat([uint8(STATUS_TYPE_OCSP), uint16(0), uint16(0)])),
    extension(EXT_SIGNATURE_ALGORITHMS, vector(2, uint16List(SIGNATURE_SCHEMES))),
    extension(EXT_SIGNED_CERTIFICATE_TIMESTAMP),
    keyShareExtension(options),
    extension(EXT_PSK_KEY_EXCHANGE_MODES, vector(1, uint8(PSK_DHE_KE))),
  );
  if (versions !== null) {
    list.push(supportedVersionsExtension(options.grease ? [GREASE_VERSION, ...versions] : versions));
  }
  list.push(extension(EXT_COMPRESS_CERTIFICATE, vector(1, uint16(CERT_COMPRESSION_BROTLI))));
  if (options.postQuantum) {
    const alps = options.alpn?.includes('h2') ? ['h2'] : [];
    list.push(
      extension(EXT_APPLICATION_SETTINGS, vector(2, Buffer.concat(alps.map((name) => vector(1, Buffer.from(name)))))),
      extension(
        EXT_ENCRYPTED_CLIENT_HELLO,
        Buffer.concat([
          uint8(ECH_CLIENT_HELLO_OUTER),
          uint16(HPKE_KDF_HKDF_SHA256),
          uint16(HPKE_AEAD_AES_128_GCM),
          uint8(ECH_GREASE_CONFIG_ID),
          vector(2, filler(ECH_GREASE_ENC_BYTES, 13)),
          vector(2, filler(ECH_GREASE_PAYLOAD_BYTES, 17)),
        ]),
      ),
    );
  }
  list.push(...(options.extraExtensions ?? []));
  if (options.grease) list.push(extension(GREASE_LAST_EXTENSION, uint8(0)));
  return list;
}

/** Builds the handshake message and the offsets of its length fields. */
export function layoutClientHello(options: HelloOptions = {}): BuiltHello {
  const sessionId = options.sessionId ?? filler(32, 11);
  const cipherSuites = options.cipherSuites ?? [
    ...(options.grease ? [GREASE_CIPHER_SUITE] : []),
    ...DEFAULT_CIPHER_SUITES,
  ];
  const compressionMethods = options.compressionMethods ?? [COMPRESSION_METHOD_NULL];
  const head = Buffer.concat([
    uint16(options.legacyVersion ?? VERSION_TLS_1_2),
    filler(RANDOM_BYTES, 5),
    vector(1, sessionId),
    vector(2, uint16List(cipherSuites)),
    vector(1, Buffer.from(compressionMethods)),
  ]);
  const sessionIdLengthOffset = HANDSHAKE_HEADER_BYTES + PROTOCOL_VERSION_BYTES + RANDOM_BYTES;
  const cipherSuitesLengthOffset = sessionIdLengthOffset + SESSION_ID_LENGTH_BYTES + sessionId.length;
  const compressionMethodsLengthOffset = cipherSuitesLengthOffset + CIPHER_SUITES_LENGTH_BYTES + cipherSuites.length * CIPHER_SUITE_BYTES;

  if (options.omitExtensions) {
    return {
      message: Buffer.concat([uint8(HANDSHAKE_TYPE_CLIENT_HELLO), uint24(head.length), head]),
      layout: {
        handshakeLengthOffset: HANDSHAKE_OFFSET_LENGTH,
        sessionIdLengthOffset,
        cipherSuitesLengthOffset,
        compressionMethodsLengthOffset,
        extensionsLengthOffset: null,
        extensions: [],
      },
    };
  }

  const extensions = [...(options.extensions ?? defaultExtensions(options))];
  const sizeWith = (list: readonly TlsExtension[]): number =>
    HANDSHAKE_HEADER_BYTES +
    head.length +
    EXTENSIONS_LENGTH_BYTES +
    list.reduce((sum, ext) => sum + EXTENSION_HEADER_BYTES + ext.data.length, 0);
  if (options.padTo !== undefined) {
    const shortBy = options.padTo - sizeWith(extensions);
    if (shortBy < EXTENSION_HEADER_BYTES) {
      throw new RangeError(`padTo ${options.padTo}: the hello is already ${sizeWith(extensions)} bytes`);
    }
    extensions.push(paddingExtension(shortBy - EXTENSION_HEADER_BYTES));
  }

  const extensionsLengthOffset = compressionMethodsLengthOffset + COMPRESSION_METHODS_LENGTH_BYTES + compressionMethods.length;
  const layouts: ExtensionLayout[] = [];
  let offset = extensionsLengthOffset + EXTENSIONS_LENGTH_BYTES;
  for (const ext of extensions) {
    layouts.push({ type: ext.type, offset, dataOffset: offset + EXTENSION_HEADER_BYTES, dataLength: ext.data.length });
    offset += EXTENSION_HEADER_BYTES + ext.data.length;
  }
  const block = Buffer.concat(extensions.flatMap((ext) => [uint16(ext.type), vector(2, ext.data)]));
  const body = Buffer.concat([head, vector(2, block)]);
  return {
    message: Buffer.concat([uint8(HANDSHAKE_TYPE_CLIENT_HELLO), uint24(body.length), body]),
    layout: {
      handshakeLengthOffset: HANDSHAKE_OFFSET_LENGTH,
      sessionIdLengthOffset,
      cipherSuitesLengthOffset,
      compressionMethodsLengthOffset,
      extensionsLengthOffset,
      extensions: layouts,
    },
  };
}

/** The handshake message of a ClientHello (msg_type, uint24 length, body). Wrap it with `toRecords`. */
export function buildClientHello(options: HelloOptions = {}): Buffer {
  return layoutClientHello(options).message;
}

/** A record header (RFC 8446 §5.1); the version defaults to 0x0301, what clients put on their first record. */
export function recordHeader(length: number, contentType = CONTENT_TYPE_HANDSHAKE, version = VERSION_TLS_1_0): Buffer {
  return Buffer.concat([uint8(contentType), uint16(version), uint16(length)]);
}

/**
 * Splits a handshake message into handshake records. Without sizes, the way a client does: records of at most
 * 2^14 bytes. 'one': a single record whatever its size (a test of the 2^14 limit). With sizes: records of those
 * fragment sizes in order, then whatever is left in one more record (split at 2^14).
 */
export function toRecords(handshake: Uint8Array, fragmentSizes?: readonly number[] | 'one'): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  const emit = (size: number): void => {
    parts.push(recordHeader(size), Buffer.from(handshake.subarray(at, at + size)));
    at += size;
  };
  if (fragmentSizes === 'one') {
    emit(handshake.length);
    return Buffer.concat(parts);
  }
  for (const size of fragmentSizes ?? []) {
    if (size > handshake.length - at) throw new RangeError(`fragment of ${size} bytes past the end of the message`);
    emit(size);
  }
  while (at < handshake.length) emit(Math.min(MAX_PLAINTEXT_RECORD_BYTES, handshake.length - at));
  return Buffer.concat(parts);
}

/** A copy of `bytes` with a big-endian field of `width` bytes at `offset` set to `value` (for lying lengths). */
export function withField(bytes: Uint8Array, offset: number, width: 1 | 2 | 3, value: number): Buffer {
  const copy = Buffer.from(bytes);
  copy.writeUIntBE(value, offset, width);
  return copy;
}

/** Total record bytes (headers included) of a handshake message split the default way. */
export function recordBytesFor(handshakeLength: number): number {
  return handshakeLength + Math.ceil(handshakeLength / MAX_PLAINTEXT_RECORD_BYTES) * RECORD_HEADER_BYTES;
}
