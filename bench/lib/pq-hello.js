/**
 * A post-quantum-shaped ClientHello (~1.8 KB), the way current Chrome sends one: GREASE values, an
 * X25519MLKEM768 key share (1,216 bytes), ALPN h2/http1.1, ALPS and a GREASE encrypted_client_hello, in one TLS
 * record. The fixtures in fixtures/hellos/ are real captures but none is this large; the micro benchmark (and
 * `--hello pq`) use this one for the "2 KB post-quantum hello in under 5 µs" target.
 * Same layout as test/helpers/hello-builder.ts `toRecords(buildClientHello({ sni, alpn, grease: true,
 * postQuantum: true }), 'one')`, written out here because bench/ does not import from test/.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

// RFC 8446 §4, §4.2 and §5.1 (and the drafts named beside each value).
const CONTENT_TYPE_HANDSHAKE = 0x16;
const HANDSHAKE_TYPE_CLIENT_HELLO = 0x01;
const VERSION_TLS_1_0 = 0x0301;
const VERSION_TLS_1_2 = 0x0303;
const VERSION_TLS_1_3 = 0x0304;
const EXT_SERVER_NAME = 0;
const EXT_STATUS_REQUEST = 5;
const EXT_SUPPORTED_GROUPS = 10;
const EXT_EC_POINT_FORMATS = 11;
const EXT_SIGNATURE_ALGORITHMS = 13;
const EXT_ALPN = 16;
const EXT_SIGNED_CERTIFICATE_TIMESTAMP = 18;
const EXT_EXTENDED_MASTER_SECRET = 23;
const EXT_COMPRESS_CERTIFICATE = 27;
const EXT_SESSION_TICKET = 35;
const EXT_SUPPORTED_VERSIONS = 43;
const EXT_PSK_KEY_EXCHANGE_MODES = 45;
const EXT_KEY_SHARE = 51;
const EXT_APPLICATION_SETTINGS = 17513; // draft-vvv-tls-alps
const EXT_ENCRYPTED_CLIENT_HELLO = 0xfe0d; // draft-ietf-tls-esni
const EXT_RENEGOTIATION_INFO = 0xff01;
const NAME_TYPE_HOST_NAME = 0;
const GROUP_X25519 = 0x001d;
const GROUP_SECP256R1 = 0x0017;
const GROUP_SECP384R1 = 0x0018;
const GROUP_X25519_MLKEM768 = 0x11ec; // draft-ietf-tls-ecdhe-mlkem
const X25519_KEY_BYTES = 32;
const X25519_MLKEM768_KEY_BYTES = 1184 + X25519_KEY_BYTES;
const GREASE_CIPHER_SUITE = 0x5a5a; // RFC 8701
const GREASE_FIRST_EXTENSION = 0x3a3a;
const GREASE_LAST_EXTENSION = 0xdada;
const GREASE_GROUP = 0x9a9a;
const GREASE_VERSION = 0x7a7a;
const CIPHER_SUITES = [0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035];
const SIGNATURE_SCHEMES = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601];

const u8 = (value) => Buffer.from([value]);
const u16 = (value) => Buffer.from([value >> 8, value & 0xff]);
const u24 = (value) => Buffer.from([value >> 16, (value >> 8) & 0xff, value & 0xff]);
const u16s = (values) => Buffer.concat(values.map(u16));
const vec1 = (content) => Buffer.concat([u8(content.length), content]);
const vec2 = (content) => Buffer.concat([u16(content.length), content]);
const ext = (type, data = Buffer.alloc(0)) => Buffer.concat([u16(type), vec2(data)]);

/** Deterministic, non-zero filler (keys and randoms are any bytes). */
function filler(length, seed) {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i += 1) bytes[i] = ((seed + i * 151) % 251) + 1;
  return bytes;
}

/** @param {string} sni @returns {Buffer} the whole TLS record */
export function buildPostQuantumHello(sni) {
  const alpn = ['h2', 'http/1.1'];
  const extensions = [
    ext(GREASE_FIRST_EXTENSION),
    ext(EXT_SERVER_NAME, vec2(Buffer.concat([u8(NAME_TYPE_HOST_NAME), vec2(Buffer.from(sni, 'latin1'))]))),
    ext(EXT_EXTENDED_MASTER_SECRET),
    ext(EXT_RENEGOTIATION_INFO, u8(0)),
    ext(EXT_SUPPORTED_GROUPS, vec2(u16s([GREASE_GROUP, GROUP_X25519_MLKEM768, GROUP_X25519, GROUP_SECP256R1, GROUP_SECP384R1]))),
    ext(EXT_EC_POINT_FORMATS, vec1(u8(0))),
    ext(EXT_SESSION_TICKET),
    ext(EXT_ALPN, vec2(Buffer.concat(alpn.map((name) => vec1(Buffer.from(name)))))),
    ext(EXT_STATUS_REQUEST, Buffer.concat([u8(1), u16(0), u16(0)])),
    ext(EXT_SIGNATURE_ALGORITHMS, vec2(u16s(SIGNATURE_SCHEMES))),
    ext(EXT_SIGNED_CERTIFICATE_TIMESTAMP),
    ext(
      EXT_KEY_SHARE,
      vec2(
        Buffer.concat([
          u16(GREASE_GROUP),
          vec2(Buffer.alloc(1)),
          u16(GROUP_X25519_MLKEM768),
          vec2(filler(X25519_MLKEM768_KEY_BYTES, 7)),
          u16(GROUP_X25519),
          vec2(filler(X25519_KEY_BYTES, 3)),
        ]),
      ),
    ),
    ext(EXT_PSK_KEY_EXCHANGE_MODES, vec1(u8(1))),
    ext(EXT_SUPPORTED_VERSIONS, vec1(u16s([GREASE_VERSION, VERSION_TLS_1_3, VERSION_TLS_1_2]))),
    ext(EXT_COMPRESS_CERTIFICATE, vec1(u16(2))),
    ext(EXT_APPLICATION_SETTINGS, vec2(vec1(Buffer.from('h2')))),
    ext(
      EXT_ENCRYPTED_CLIENT_HELLO,
      Buffer.concat([u8(0), u16(1), u16(1), u8(0x2a), vec2(filler(32, 13)), vec2(filler(208, 17))]),
    ),
    ext(GREASE_LAST_EXTENSION, u8(0)),
  ];
  const body = Buffer.concat([
    u16(VERSION_TLS_1_2),
    filler(32, 5),
    vec1(filler(32, 11)),
    vec2(u16s([GREASE_CIPHER_SUITE, ...CIPHER_SUITES])),
    vec1(u8(0)),
    vec2(Buffer.concat(extensions)),
  ]);
  const handshake = Buffer.concat([u8(HANDSHAKE_TYPE_CLIENT_HELLO), u24(body.length), body]);
  return Buffer.concat([u8(CONTENT_TYPE_HANDSHAKE), u16(VERSION_TLS_1_0), u16(handshake.length), handshake]);
}

/** Writes the hello to `dir/pq-chrome.bin` and returns the path. */
export function writePostQuantumHello(dir, sni) {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'pq-chrome.bin');
  writeFileSync(file, buildPostQuantumHello(sni));
  return file;
}
