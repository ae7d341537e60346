import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ClientHelloReader,
  MALFORMED_REASONS,
  readClientHello,
  type HelloResult,
  type MalformedReason,
} from '../../src/wire/client-hello.js';
import {
  CONTENT_TYPE_ALERT,
  CONTENT_TYPE_APPLICATION_DATA,
  CONTENT_TYPE_CHANGE_CIPHER_SPEC,
  EXT_ALPN,
  EXT_PADDING,
  EXT_SERVER_NAME,
  EXT_SUPPORTED_VERSIONS,
  GREASE_VALUES,
  MAX_PLAINTEXT_RECORD_BYTES,
  RECORD_HEADER_BYTES,
  VERSION_TLS_1_2,
  VERSION_TLS_1_3,
} from '../../src/wire/tls-wire.js';
import {
  alpnExtension,
  buildClientHello,
  extension,
  layoutClientHello,
  recordHeader,
  serverNameExtension,
  supportedVersionsExtension,
  toRecords,
  uint16,
  uint8,
  withField,
  type BuiltHello,
  type HelloOptions,
} from '../helpers/hello-builder.js';

const FIXTURES_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'hellos');
const MAX_HELLO_BYTES = 64 * 1024;
const OPTIONS = { maxHelloBytes: MAX_HELLO_BYTES };

interface FixtureEntry {
  readonly name: string;
  readonly file: string;
  readonly sni: string | null;
  readonly alpn: readonly string[];
  readonly supportedVersionsIncludesTls13: boolean;
  readonly records: number;
}

const FIXTURES: readonly FixtureEntry[] = JSON.parse(readFileSync(join(FIXTURES_DIR, 'index.json'), 'utf8'));
const fixtureBytes = (entry: FixtureEntry): Buffer => readFileSync(join(FIXTURES_DIR, entry.file));

/** Feeds `bytes` in pieces cut at `cuts` (ascending offsets); returns every answer, one per push. */
function feed(bytes: Uint8Array, cuts: readonly number[], maxHelloBytes = MAX_HELLO_BYTES): HelloResult[] {
  const reader = new ClientHelloReader({ maxHelloBytes });
  const answers: HelloResult[] = [];
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    answers.push(reader.push(bytes.subarray(from, cut)));
    from = cut;
  }
  return answers;
}

/** Feeds one byte at a time; returns the answers (the last one is the final answer if there is one). */
function feedBytewise(bytes: Uint8Array, maxHelloBytes = MAX_HELLO_BYTES): HelloResult[] {
  return feed(bytes, Array.from({ length: bytes.length - 1 }, (_, i) => i + 1), maxHelloBytes);
}

/** How many bytes the reader needed before its answer became final (bytes after that are never looked at). */
function bytesToDecide(bytes: Uint8Array): number {
  const reader = new ClientHelloReader(OPTIONS);
  for (let i = 0; i < bytes.length; i += 1) {
    if (reader.push(bytes.subarray(i, i + 1)).kind !== 'need_more') return i + 1;
  }
  return Number.POSITIVE_INFINITY;
}

function helloOf(result: HelloResult) {
  if (result.kind !== 'hello') throw new Error(`expected a hello, got ${JSON.stringify(result)}`);
  return result.hello;
}

const wire = (options: HelloOptions = {}, fragments?: readonly number[] | 'one'): Buffer =>
  toRecords(buildClientHello(options), fragments);

describe('real captures (fixtures/hellos)', () => {
  it('index.json lists captures and every file exists', () => {
    expect(FIXTURES.length).toBeGreaterThanOrEqual(5);
    for (const entry of FIXTURES) expect(fixtureBytes(entry).length).toBeGreaterThan(RECORD_HEADER_BYTES);
    expect(FIXTURES.some((entry) => entry.records > 1)).toBe(true);
  });

  it.each(FIXTURES)('$name: whole', (entry) => {
    const bytes = fixtureBytes(entry);
    const hello = helloOf(readClientHello(bytes, OPTIONS));
    expect(hello.sni).toBe(entry.sni);
    expect(hello.alpn).toEqual(entry.alpn);
    expect(hello.supportedVersions.includes(VERSION_TLS_1_3)).toBe(entry.supportedVersionsIncludesTls13);
    expect(hello.legacyVersion).toBe(VERSION_TLS_1_2);
    expect(hello.byteLength).toBe(bytes.length);
  });

  it.each(FIXTURES)('$name: byte by byte, need_more until the last byte', (entry) => {
    const bytes = fixtureBytes(entry);
    const answers = feedBytewise(bytes);
    expect(answers.slice(0, -1).every((answer) => answer.kind === 'need_more')).toBe(true);
    expect(answers.at(-1)).toEqual(readClientHello(bytes, OPTIONS));
  });

  it.each(FIXTURES)('$name: split at every offset gives the same answer (split-feed invariant)', (entry) => {
    const bytes = fixtureBytes(entry);
    const whole = readClientHello(bytes, OPTIONS);
    for (let cut = 1; cut < bytes.length; cut += 1) {
      const [first, second] = feed(bytes, [cut]);
      expect(first).toEqual({ kind: 'need_more' });
      expect(second).toEqual(whole);
    }
  });

  it.each(FIXTURES)('$name: bytes after the hello are not part of it', (entry) => {
    const bytes = fixtureBytes(entry);
    const changeCipherSpec = Buffer.concat([recordHeader(1, CONTENT_TYPE_CHANGE_CIPHER_SPEC, VERSION_TLS_1_2), uint8(1)]);
    const earlyData = Buffer.concat([recordHeader(3, CONTENT_TYPE_APPLICATION_DATA, VERSION_TLS_1_2), Buffer.from('abc')]);
    const result = readClientHello(Buffer.concat([bytes, changeCipherSpec, earlyData]), OPTIONS);
    expect(result).toEqual(readClientHello(bytes, OPTIONS));
    expect(helloOf(result).byteLength).toBe(bytes.length);
  });

  it('the multi-record capture really spans several records', () => {
    const entry = FIXTURES.find((candidate) => candidate.name === 'openssl-multi-record');
    expect(entry?.records).toBeGreaterThan(1);
  });
});

describe('crafted hellos that must parse', () => {
  it('a default TLS 1.3 hello', () => {
    const hello = helloOf(readClientHello(wire(), OPTIONS));
    expect(hello).toEqual({
      sni: 'example.com',
      alpn: [],
      supportedVersions: [VERSION_TLS_1_3, VERSION_TLS_1_2],
      legacyVersion: VERSION_TLS_1_2,
      byteLength: wire().length,
    });
  });

  it.each([
    ['one record', () => 'one' as const],
    ['two records', () => [100]],
    ['three records of odd sizes', () => [101, 7]],
    ['the handshake header split 1+3', () => [1]],
    ['the handshake header split 2+2', () => [2]],
    ['the handshake header split 3+1', () => [3]],
    ['the handshake header over four records', () => [1, 1, 1, 1]],
    ['a one-byte record at the end', (length: number) => [length - 1]],
    ['one-byte records throughout', (length: number) => Array.from({ length }, () => 1)],
  ])('a hello in %s', (_name, fragmentsFor: (length: number) => readonly number[] | 'one') => {
    const message = buildClientHello({ sni: 'multi.example.com', alpn: ['h2', 'http/1.1'], grease: true });
    const bytes = toRecords(message, fragmentsFor(message.length));
    const result = readClientHello(bytes, OPTIONS);
    expect(helloOf(result).sni).toBe('multi.example.com');
    expect(helloOf(result).alpn).toEqual(['h2', 'http/1.1']);
    expect(helloOf(result).byteLength).toBe(bytes.length);
    expect(feedBytewise(bytes).at(-1)).toEqual(result);
  });

  it('a post-quantum hello (X25519MLKEM768 key share, GREASE, ALPN) is ~1.8 KB and parses', () => {
    const message = buildClientHello({ sni: 'pq.example.com', alpn: ['h2', 'http/1.1'], grease: true, postQuantum: true });
    expect(message.length).toBeGreaterThan(1700);
    for (const fragments of ['one', [1024], [512, 512, 512], [333, 1, 777]] as const) {
      const bytes = toRecords(message, fragments);
      const hello = helloOf(readClientHello(bytes, OPTIONS));
      expect(hello.sni).toBe('pq.example.com');
      expect(hello.byteLength).toBe(bytes.length);
    }
  });

  it('a 2 KB hello split over 3 records of odd sizes, split at every TCP offset', () => {
    const bytes = wire({ sni: 'two-k.example.com', padTo: 2048 }, [701, 677]);
    const whole = readClientHello(bytes, OPTIONS);
    expect(helloOf(whole).byteLength).toBe(2048 + 3 * RECORD_HEADER_BYTES);
    for (let cut = 1; cut < bytes.length; cut += 1) expect(feed(bytes, [cut])).toEqual([{ kind: 'need_more' }, whole]);
  });

  it('a hello bigger than one record (2^14) arrives in two records', () => {
    const message = buildClientHello({ padTo: MAX_PLAINTEXT_RECORD_BYTES + 1000 });
    const hello = helloOf(readClientHello(toRecords(message), OPTIONS));
    expect(hello.byteLength).toBe(message.length + 2 * RECORD_HEADER_BYTES);
  });

  it('a record of exactly 2^14 bytes is allowed', () => {
    const bytes = wire({ padTo: MAX_PLAINTEXT_RECORD_BYTES }, 'one');
    expect(bytes.readUInt16BE(3)).toBe(MAX_PLAINTEXT_RECORD_BYTES);
    expect(readClientHello(bytes, OPTIONS).kind).toBe('hello');
  });

  it('no server_name extension: sni is null', () => {
    expect(helloOf(readClientHello(wire({ sni: null }), OPTIONS)).sni).toBeNull();
  });

  it('a server_name list with no host_name entry: sni is null', () => {
    const bytes = wire({ sni: null, extraExtensions: [serverNameExtension([7, 'not-a-host-name'])] });
    expect(helloOf(readClientHello(bytes, OPTIONS)).sni).toBeNull();
  });

  it('the host_name entry is found after an entry of another type', () => {
    const bytes = wire({ sni: null, extraExtensions: [serverNameExtension([7, 'other'], 'real.example.com')] });
    expect(helloOf(readClientHello(bytes, OPTIONS)).sni).toBe('real.example.com');
  });

  it('sni is decoded latin1 exactly as sent (validation is the route table’s job)', () => {
    const raw = 'A\u0000b c/\u00e9\u00ff.\u0080*';
    expect(helloOf(readClientHello(wire({ sni: raw }), OPTIONS)).sni).toBe(raw);
  });

  it('GREASE values are reported as sent, and GREASE extensions are skipped', () => {
    const hello = helloOf(readClientHello(wire({ grease: true, alpn: ['h2'] }), OPTIONS));
    expect(GREASE_VALUES).toContain(hello.supportedVersions[0]);
    expect(hello.supportedVersions.slice(1)).toEqual([VERSION_TLS_1_3, VERSION_TLS_1_2]);
    expect(hello.alpn).toEqual(['h2']);
  });

  it('a padding extension (RFC 7685) is skipped', () => {
    const bytes = wire({ sni: 'padded.example.com', padTo: 512 });
    expect(bytes.length).toBe(512 + RECORD_HEADER_BYTES);
    expect(helloOf(readClientHello(bytes, OPTIONS)).sni).toBe('padded.example.com');
  });

  it('a hello without an extensions block (TLS 1.2 style)', () => {
    const hello = helloOf(readClientHello(wire({ omitExtensions: true }), OPTIONS));
    expect(hello).toMatchObject({ sni: null, alpn: [], supportedVersions: [] });
  });

  it('an empty extensions block', () => {
    expect(helloOf(readClientHello(wire({ extensions: [] }), OPTIONS)).sni).toBeNull();
  });

  it('no supported_versions extension (a TLS 1.2 client)', () => {
    expect(helloOf(readClientHello(wire({ supportedVersions: null }), OPTIONS)).supportedVersions).toEqual([]);
  });

  it('the legacy_version field is reported', () => {
    expect(helloOf(readClientHello(wire({ legacyVersion: 0x0301 }), OPTIONS)).legacyVersion).toBe(0x0301);
  });

  it('ALPN names of 1 and 255 bytes', () => {
    const names = ['x', 'y'.repeat(255)];
    expect(helloOf(readClientHello(wire({ alpn: names }), OPTIONS)).alpn).toEqual(names);
  });

  it('a 32-byte session id and an empty one', () => {
    for (const sessionId of [Buffer.alloc(32, 1), Buffer.alloc(0)]) {
      expect(readClientHello(wire({ sessionId }), OPTIONS).kind).toBe('hello');
    }
  });

  it('accepts a plain Uint8Array, and a view into a larger buffer', () => {
    const bytes = wire({ sni: 'view.example.com' });
    const backing = new Uint8Array(bytes.length + 20);
    backing.set(bytes, 10);
    const view = backing.subarray(10, 10 + bytes.length);
    expect(helloOf(readClientHello(view, OPTIONS)).sni).toBe('view.example.com');
    expect(helloOf(readClientHello(new Uint8Array(bytes), OPTIONS)).sni).toBe('view.example.com');
  });
});

describe('answers that are not a hello', () => {
  it('an empty push is need_more', () => {
    expect(new ClientHelloReader(OPTIONS).push(new Uint8Array(0))).toEqual({ kind: 'need_more' });
  });

  it.each([
    ['an HTTP request', Buffer.from('GET / HTTP/1.1\r\nHost: example.com\r\n\r\n'), 1],
    ['a PROXY v1 header', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n'), 1],
    ['an SSLv2-style hello', Buffer.from('802e0103010015000000100700c0030080', 'hex'), 1],
    ['an SSH banner', Buffer.from('SSH-2.0-OpenSSH_9.6\r\n'), 1],
    ['a NUL byte', Buffer.from([0]), 1],
    ['0x16 then a version major of 2', Buffer.from([0x16, 0x02, 0x00, 0x00, 0x30]), 2],
    ['0x16 then a version major of 0x16', Buffer.from([0x16, 0x16, 0x03, 0x01]), 2],
  ])('%s is not_tls, decided after %i byte(s)', (_name, bytes, decidedAfter) => {
    expect(readClientHello(bytes, OPTIONS)).toEqual({ kind: 'not_tls' });
    expect(bytesToDecide(bytes)).toBe(decidedAfter);
  });

  it.each([
    ['one byte 0x16', [0x16]],
    ['0x16 0x03', [0x16, 0x03]],
    ['a record header only', [0x16, 0x03, 0x01, 0x00, 0x40]],
    ['a record header and a handshake type', [0x16, 0x03, 0x01, 0x00, 0x40, 0x01]],
  ])('%s is need_more', (_name, bytes) => {
    expect(readClientHello(Buffer.from(bytes), OPTIONS)).toEqual({ kind: 'need_more' });
  });

  it('every strict prefix of a good hello is need_more', () => {
    const bytes = wire({ alpn: ['h2'], grease: true }, [90, 3]);
    for (let length = 0; length < bytes.length; length += 1) {
      expect(readClientHello(bytes.subarray(0, length), OPTIONS).kind).toBe('need_more');
    }
  });

  describe('too_large', () => {
    it('a hello exactly at the cap parses; one byte over is too_large', () => {
      const atCap = wire({ padTo: 1000 }, 'one');
      const overCap = wire({ padTo: 1001 }, 'one');
      expect(readClientHello(atCap, { maxHelloBytes: atCap.length }).kind).toBe('hello');
      expect(readClientHello(overCap, { maxHelloBytes: atCap.length })).toEqual({ kind: 'too_large' });
      expect(readClientHello(atCap, { maxHelloBytes: atCap.length - 1 })).toEqual({ kind: 'too_large' });
    });

    it('at the cap exactly across several records (the early estimate is not too eager)', () => {
      const bytes = wire({ padTo: 3000 }, [1000, 1000]);
      expect(readClientHello(bytes, { maxHelloBytes: bytes.length }).kind).toBe('hello');
      expect(feedBytewise(bytes, bytes.length).at(-1)?.kind).toBe('hello');
      expect(readClientHello(bytes, { maxHelloBytes: bytes.length - 1 })).toEqual({ kind: 'too_large' });
    });

    it('is decided from the headers, before the body is buffered', () => {
      // One record header, then a handshake header announcing 1 MB: too_large after 9 bytes.
      const bytes = Buffer.concat([recordHeader(MAX_PLAINTEXT_RECORD_BYTES), uint8(1), Buffer.from([0x10, 0x00, 0x00])]);
      const answers = feedBytewise(bytes);
      expect(answers.at(-1)).toEqual({ kind: 'too_large' });
      expect(answers.slice(0, -1).every((answer) => answer.kind === 'need_more')).toBe(true);
      // A first record that is already past the cap: too_large after its 5-byte header.
      const small = { maxHelloBytes: 100 };
      expect(readClientHello(recordHeader(200), small)).toEqual({ kind: 'too_large' });
    });

    it('a hello split into more records than the cap allows for headers is too_large', () => {
      const message = buildClientHello({ padTo: 600 });
      const tiny = toRecords(message, Array.from({ length: 100 }, () => 1));
      expect(readClientHello(tiny, { maxHelloBytes: 1000 })).toEqual({ kind: 'too_large' });
      expect(readClientHello(tiny, { maxHelloBytes: tiny.length }).kind).toBe('hello');
    });
  });

  it('the first final answer is sticky', () => {
    const reader = new ClientHelloReader(OPTIONS);
    const first = reader.push(Buffer.from('GET /'));
    expect(first).toEqual({ kind: 'not_tls' });
    expect(reader.push(wire())).toBe(first);
    const good = new ClientHelloReader(OPTIONS);
    const hello = good.push(wire());
    expect(good.push(Buffer.from('more'))).toBe(hello);
  });

  it('rejects a cap that is not a non-negative integer (a programmer error)', () => {
    expect(() => new ClientHelloReader({ maxHelloBytes: -1 })).toThrow(RangeError);
    expect(() => new ClientHelloReader({ maxHelloBytes: Number.NaN })).toThrow(RangeError);
  });
});

/** A hello whose layout a case can corrupt; built once per case from these options. */
const BASE: HelloOptions = { sni: 'lie.example.com', alpn: ['h2', 'http/1.1'] };

type Corruption = (built: BuiltHello) => Buffer; // returns the whole wire (records included)

function extensionAt(built: BuiltHello, type: number) {
  const found = built.layout.extensions.find((ext) => ext.type === type);
  if (found === undefined) throw new Error(`no extension ${type} in the built hello`);
  return found;
}

const oneRecord = (message: Buffer): Buffer => toRecords(message, 'one');

/** Sets the `width`-byte field at `offset(built)` of the handshake message to `value(built)`; one record. */
const lie =
  (offset: (b: BuiltHello) => number, width: 1 | 2 | 3, value: (b: BuiltHello) => number): Corruption =>
  (b) =>
    oneRecord(withField(b.message, offset(b), width, value(b)));

/** The hello in records of 50 bytes and the rest, with the second record's header byte `at` set to `value`. */
const FIRST_RECORD_BYTES = 50;
const secondRecordHeader =
  (at: number, value: number): Corruption =>
  (b) =>
    withField(toRecords(b.message, [FIRST_RECORD_BYTES]), RECORD_HEADER_BYTES + FIRST_RECORD_BYTES + at, 1, value);

/** BASE with the data of extension `type` replaced (every enclosing length fixed). */
const extensionData =
  (type: number, data: readonly number[]): Corruption =>
  (b) => {
    const extensions = b.layout.extensions.map((ext) =>
      extension(ext.type, ext.type === type ? Buffer.from(data) : b.message.subarray(ext.dataOffset, ext.dataOffset + ext.dataLength)),
    );
    return oneRecord(buildClientHello({ ...BASE, extensions }));
  };

const extensionsLength = (b: BuiltHello): number => b.layout.extensionsLengthOffset ?? Number.NaN;
/** The true value of the extensions length field. */
const extensionsBlockBytes = (b: BuiltHello): number => b.message.length - extensionsLength(b) - 2;

/** Legacy_version and random: the fixed 34-byte start of every ClientHello body. */
const BODY_START = Buffer.concat([uint16(VERSION_TLS_1_2), Buffer.alloc(32, 0x42)]);
const NO_SESSION_ID = [0];
const ONE_SUITE = [0, 2, 0x13, 0x01];
const NULL_COMPRESSION = [1, 0];
/** A ClientHello in one record from raw body parts, for lies the builder cannot express. */
const rawHello =
  (...parts: readonly (readonly number[])[]): Corruption =>
  () => {
    const body = Buffer.concat([BODY_START, ...parts.map((part) => Buffer.from(part))]);
    return oneRecord(Buffer.concat([uint8(1), Buffer.from([0, body.length >> 8, body.length & 0xff]), body]));
  };

const MALFORMED_CASES: readonly (readonly [MalformedReason, string, Corruption])[] = [
  // record layer
  ['record_length_zero', 'first record of length 0', () => recordHeader(0)],
  ['record_length_zero', 'a zero-length record in the middle', (b) => toRecords(b.message, [10, 0])],
  ['record_length_overflow', 'first record of 2^14 + 1 bytes', () => recordHeader(MAX_PLAINTEXT_RECORD_BYTES + 1)],
  ['record_length_overflow', 'a 2^14 + 1 hello in one record', () => wire({ padTo: MAX_PLAINTEXT_RECORD_BYTES + 1 }, 'one')],
  ['record_not_handshake', 'an application_data record in the middle', secondRecordHeader(0, CONTENT_TYPE_APPLICATION_DATA)],
  ['record_not_handshake', 'a change_cipher_spec record in the middle', secondRecordHeader(0, CONTENT_TYPE_CHANGE_CIPHER_SPEC)],
  ['record_not_handshake', 'an alert in the middle', secondRecordHeader(0, CONTENT_TYPE_ALERT)],
  ['record_not_handshake', 'record length 1 short (the next byte read as a content type)', (b) =>
    withField(oneRecord(b.message), 3, 2, b.message.length - 1)],
  ['record_bad_version', 'a later record with version major 2', secondRecordHeader(1, 2)],
  ['record_trailing_data', 'a record longer than the handshake message', (b) =>
    Buffer.concat([recordHeader(b.message.length + 1), b.message, uint8(0)])],
  ['record_trailing_data', 'two handshake messages in one record', (b) =>
    Buffer.concat([recordHeader(b.message.length * 2), b.message, b.message])],
  ['record_trailing_data', 'handshake length 1 short', lie((b) => b.layout.handshakeLengthOffset, 3, (b) => b.message.length - 5)],
  // handshake header
  ['handshake_not_client_hello', 'a ServerHello', lie(() => 0, 1, () => 2)],
  ['handshake_not_client_hello', 'msg_type 0', lie(() => 0, 1, () => 0)],
  ['handshake_too_short', 'handshake length 40', () => Buffer.concat([recordHeader(44), uint8(1), Buffer.from([0, 0, 40]), Buffer.alloc(40)])],
  ['handshake_too_short', 'handshake length 0', () => Buffer.concat([recordHeader(4), uint8(1), Buffer.from([0, 0, 0])])],
  // ClientHello body
  ['session_id_too_long', 'session id length 33', lie((b) => b.layout.sessionIdLengthOffset, 1, () => 33)],
  ['session_id_too_long', 'session id length 255', lie((b) => b.layout.sessionIdLengthOffset, 1, () => 255)],
  ['session_id_overflow', 'session id past the end', rawHello([32], Array(6).fill(0))],
  ['cipher_suites_bad_length', 'odd cipher suites length', lie((b) => b.layout.cipherSuitesLengthOffset, 2, () => 3)],
  ['cipher_suites_bad_length', 'empty cipher suites', lie((b) => b.layout.cipherSuitesLengthOffset, 2, () => 0)],
  ['cipher_suites_overflow', 'cipher suites past the end', lie((b) => b.layout.cipherSuitesLengthOffset, 2, () => 0xfffe)],
  ['cipher_suites_overflow', 'no room for the cipher suites length', rawHello([5], Array(5).fill(0), [0])],
  ['compression_methods_bad_length', 'no compression methods', lie((b) => b.layout.compressionMethodsLengthOffset, 1, () => 0)],
  ['compression_methods_overflow', 'compression methods past the end', lie((b) => b.layout.compressionMethodsLengthOffset, 1, () => 255)],
  ['compression_methods_overflow', 'no room for the compression length', rawHello(NO_SESSION_ID, [0, 4, 0x13, 0x01, 0x13, 0x02])],
  ['extensions_overflow', 'extensions length 1 too long', lie(extensionsLength, 2, (b) => extensionsBlockBytes(b) + 1)],
  ['extensions_overflow', 'a single byte where the extensions length goes', rawHello(NO_SESSION_ID, ONE_SUITE, NULL_COMPRESSION, [0])],
  ['extensions_trailing_data', 'extensions length 1 too short', lie(extensionsLength, 2, (b) => extensionsBlockBytes(b) - 1)],
  // extensions
  ['extension_header_overflow', '3 bytes where an extension header goes', rawHello(NO_SESSION_ID, ONE_SUITE, NULL_COMPRESSION, [0, 3, 0, 0, 0])],
  ['extension_header_overflow', '3 stray bytes after the last extension',
    rawHello(NO_SESSION_ID, ONE_SUITE, NULL_COMPRESSION, [0, 7], [0, EXT_PADDING, 0, 0], [0xff, 0xff, 0xff])],
  ['extension_length_overflow', 'last extension 1 byte too long',
    lie((b) => b.layout.extensions.at(-1)!.offset + 2, 2, (b) => b.layout.extensions.at(-1)!.dataLength + 1)],
  ['extension_length_overflow', 'first extension claims 65535 bytes', lie((b) => b.layout.extensions[0]!.offset + 2, 2, () => 0xffff)],
  ['duplicate_extension', 'two padding extensions', () => wire({ extraExtensions: [extension(EXT_PADDING), extension(EXT_PADDING)] })],
  ['duplicate_extension', 'two server_name extensions', () => wire({ extraExtensions: [serverNameExtension('second.example.com')] })],
  ['duplicate_extension', 'two supported_versions extensions', () =>
    wire({ extraExtensions: [supportedVersionsExtension([VERSION_TLS_1_3])] })],
  ['duplicate_extension', 'an unknown type twice', () => wire({ extraExtensions: [extension(0x7777), extension(0x7777, uint8(1))] })],
  // server_name
  ['sni_bad_length', 'empty server_name data', extensionData(EXT_SERVER_NAME, [])],
  ['sni_bad_length', 'one byte of server_name data', extensionData(EXT_SERVER_NAME, [0])],
  ['sni_bad_length', 'server_name list length 0', extensionData(EXT_SERVER_NAME, [0, 0])],
  ['sni_bad_length', 'list length 1 too long',
    lie((b) => extensionAt(b, EXT_SERVER_NAME).dataOffset, 2, (b) => extensionAt(b, EXT_SERVER_NAME).dataLength - 1)],
  ['sni_bad_length', 'list length 1 too short',
    lie((b) => extensionAt(b, EXT_SERVER_NAME).dataOffset, 2, (b) => extensionAt(b, EXT_SERVER_NAME).dataLength - 3)],
  ['sni_name_overflow', 'host name length 1 too long',
    lie((b) => extensionAt(b, EXT_SERVER_NAME).dataOffset + 3, 2, (b) => extensionAt(b, EXT_SERVER_NAME).dataLength - 4)],
  ['sni_name_overflow', 'a truncated entry header', extensionData(EXT_SERVER_NAME, [0, 2, 0, 0])],
  ['sni_name_empty', 'a zero-length host name', extensionData(EXT_SERVER_NAME, [0, 3, 0, 0, 0])],
  ['sni_duplicate_host_name', 'two host_name entries', () =>
    wire({ sni: null, extraExtensions: [serverNameExtension('a.example.com', 'b.example.com')] })],
  // ALPN
  ['alpn_bad_length', 'empty ALPN data', extensionData(EXT_ALPN, [])],
  ['alpn_bad_length', 'ALPN list length 0', extensionData(EXT_ALPN, [0, 0])],
  ['alpn_bad_length', 'ALPN list length 1', extensionData(EXT_ALPN, [0, 1, 0])],
  ['alpn_bad_length', 'ALPN list length 1 too long',
    lie((b) => extensionAt(b, EXT_ALPN).dataOffset, 2, (b) => extensionAt(b, EXT_ALPN).dataLength - 1)],
  ['alpn_name_empty', 'a zero-length protocol name', extensionData(EXT_ALPN, [0, 4, 2, 0x68, 0x32, 0])],
  ['alpn_name_overflow', 'a protocol name past the list', extensionData(EXT_ALPN, [0, 3, 3, 0x68, 0x32])],
  ['alpn_name_overflow', 'the first name longer than the list',
    lie((b) => extensionAt(b, EXT_ALPN).dataOffset + 2, 1, () => alpnExtension(['h2', 'http/1.1']).data.length)],
  // supported_versions
  ['supported_versions_bad_length', 'empty supported_versions data', extensionData(EXT_SUPPORTED_VERSIONS, [])],
  ['supported_versions_bad_length', 'versions length 0', extensionData(EXT_SUPPORTED_VERSIONS, [0])],
  ['supported_versions_bad_length', 'versions length odd', extensionData(EXT_SUPPORTED_VERSIONS, [3, 3, 4, 3])],
  ['supported_versions_bad_length', 'versions length past the data', extensionData(EXT_SUPPORTED_VERSIONS, [4, 3, 4])],
  ['supported_versions_bad_length', 'versions length short of the data', extensionData(EXT_SUPPORTED_VERSIONS, [2, 3, 4, 3, 3])],
];

describe('malformed hellos (lying lengths at every level)', () => {
  it.each(MALFORMED_CASES)('%s: %s', (reason, _name, corrupt) => {
    const bytes = corrupt(layoutClientHello(BASE));
    const whole = readClientHello(bytes, OPTIONS);
    expect(whole).toEqual({ kind: 'malformed', reason });
    expect(feedBytewise(bytes).at(-1)).toEqual(whole);
    const middle = bytes.length >> 1;
    expect(feed(bytes, [middle]).at(-1)).toEqual(whole);
  });

  it('every reason in the vocabulary has a case above, and every case uses the vocabulary', () => {
    const covered = new Set(MALFORMED_CASES.map(([reason]) => reason));
    expect([...covered].sort()).toEqual([...MALFORMED_REASONS].sort());
  });

  it('duplicate detection stays right across many hellos (its per-type stamps wrap after 65535 hellos)', () => {
    const good = wire({ sni: 'many.example.com' });
    const duplicate = wire({ extraExtensions: [extension(EXT_PADDING), extension(EXT_PADDING)] });
    let hellos = 0;
    for (let i = 0; i < 70_000; i += 1) if (readClientHello(good, OPTIONS).kind === 'hello') hellos += 1;
    expect(hellos).toBe(70_000);
    expect(readClientHello(duplicate, OPTIONS)).toEqual({ kind: 'malformed', reason: 'duplicate_extension' });
    expect(readClientHello(good, OPTIONS).kind).toBe('hello');
  });

  it('reasons are short snake_case', () => {
    for (const reason of MALFORMED_REASONS) expect(reason).toMatch(/^[a-z0-9]+(_[a-z0-9]+)*$/);
  });

  it('a non-handshake record right after the first record is judged on its first byte', () => {
    const bytes = withField(toRecords(buildClientHello(BASE), [50]), 55, 1, CONTENT_TYPE_APPLICATION_DATA);
    expect(bytesToDecide(bytes)).toBe(56);
  });

  it('record trailing data is judged as soon as the handshake length is known', () => {
    const message = buildClientHello(BASE);
    const bytes = Buffer.concat([recordHeader(message.length + 1), message, uint8(0)]);
    expect(bytesToDecide(bytes)).toBe(RECORD_HEADER_BYTES + 4);
  });
});

describe('hello-builder output is accepted by a real TLS server', () => {
  let dir = '';
  let server: tls.Server;
  let port = 0;
  const seenNames: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hello-builder-'));
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=example.com', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    const context = { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
    server = tls.createServer({
      ...context,
      ALPNProtocols: ['h2', 'http/1.1'],
      SNICallback: (name, callback) => {
        seenNames.push(name);
        callback(null, tls.createSecureContext(context));
      },
    });
    server.on('tlsClientError', () => {});
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as net.AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  /** Sends the records and returns the content type of the server's first record (0x16: a ServerHello). */
  async function firstRecordType(bytes: Buffer): Promise<number | undefined> {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    await once(socket, 'connect');
    socket.write(bytes);
    const [reply] = (await once(socket, 'data')) as [Buffer];
    socket.destroy();
    return reply[0];
  }

  it.each([
    ['default', {}, 'one' as const],
    ['GREASE + post-quantum + ALPN', { grease: true, postQuantum: true, alpn: ['h2', 'http/1.1'] }, 'one' as const],
    ['padded to 2 KB in three records', { padTo: 2048 }, [700, 701]],
    ['a TLS 1.2-only hello', { supportedVersions: null }, 'one' as const],
  ])('%s', async (_name, options: HelloOptions, fragments: readonly number[] | 'one') => {
    const sni = `builder-${seenNames.length}.example.com`;
    const bytes = wire({ ...options, sni }, fragments);
    expect(await firstRecordType(bytes)).toBe(0x16);
    expect(seenNames).toContain(sni);
  });
});
