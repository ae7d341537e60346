import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MALFORMED_REASONS } from '../../src/wire/client-hello.js';
import { buildInitialPacket, cryptoFrame, encodeVarint, splitHelloIntoInitials } from '../../src/wire/initial-builder.js';
import { deriveClientInitialKeys, QUIC_VERSION_1, QUIC_VERSION_2, sealPayload } from '../../src/wire/quic-crypto.js';
import {
  NOT_QUIC_REASONS,
  QUIC_MALFORMED_REASONS,
  QuicInitialReader,
  readQuicHello,
  type QuicHelloResult,
} from '../../src/wire/quic-hello-reader.js';
import { openInitial, readLongHeader, decodePacketNumber } from '../../src/wire/quic-initial.js';
import { buildClientHello } from '../helpers/hello-builder.js';

const fixture = (name: string): Buffer =>
  Buffer.from(readFileSync(new URL(`../../fixtures/quic/${name}`, import.meta.url), 'utf8').replace(/\s+/g, ''), 'hex');

const RFC_DCID = Buffer.from('8394c8f03e515708', 'hex');
const OPTIONS = { maxHelloBytes: 64 * 1024 };
const KINDS = new Set(['need_more', 'hello', 'not_quic', 'too_large', 'malformed']);
const REASONS: ReadonlySet<string> = new Set<string>([...QUIC_MALFORMED_REASONS, ...MALFORMED_REASONS, ...NOT_QUIC_REASONS]);

function expectHello(result: QuicHelloResult) {
  if (result.kind !== 'hello') throw new Error(`expected a hello, got ${JSON.stringify(result)}`);
  return result;
}

function expectWellFormedAnswer(result: QuicHelloResult): void {
  expect(KINDS.has(result.kind)).toBe(true);
  if (result.kind === 'malformed' || result.kind === 'not_quic') expect(REASONS.has(result.reason)).toBe(true);
}

/** A browser-sized (post-quantum) hello: about 1.9 KB, so it needs two Initials at least. */
const BIG_HELLO = buildClientHello({ sni: 'app.example.com', alpn: ['h3'], postQuantum: true });
const SMALL_HELLO = buildClientHello({ sni: 'small.example.com', alpn: ['h3', 'h3-29'] });

describe('Initial keys (RFC 9001 Appendix A.1)', () => {
  it('derives the published client key, iv and hp from the sample DCID', () => {
    const keys = deriveClientInitialKeys(QUIC_VERSION_1, RFC_DCID);
    expect(keys.key.toString('hex')).toBe('1f369613dd76d5467730efcbe3b1a22d');
    expect(keys.iv.toString('hex')).toBe('fa044b2f42a3fd3b46fb255c');
    expect(keys.hpKey.toString('hex')).toBe('9f50449e04a0e810283a1e9933adedd2');
  });
});

describe('RFC samples', () => {
  it('RFC 9001 A.2: the sample client Initial decrypts to the published CRYPTO frame and ClientHello', () => {
    const datagram = fixture('rfc9001-a2-client-initial.hex');
    expect(datagram.length).toBe(1200);
    const packet = readLongHeader(datagram, 0);
    if (typeof packet === 'string') throw new Error(packet);
    expect(packet.type).toBe('initial');
    const opened = openInitial(datagram, packet, deriveClientInitialKeys(QUIC_VERSION_1, packet.dcid), -1);
    if (typeof opened === 'string') throw new Error(opened);
    expect(opened.packetNumber).toBe(2);
    const frame = fixture('rfc9001-a2-crypto-frame.hex');
    expect(opened.payload.length).toBe(1162);
    expect(opened.payload.subarray(0, frame.length).equals(frame)).toBe(true);
    expect(opened.payload.subarray(frame.length).every((byte) => byte === 0)).toBe(true);

    const answer = expectHello(readQuicHello([datagram], OPTIONS));
    expect(answer.hello.sni).toBe('example.com');
    expect(answer.hello.alpn).toEqual(['alpn']);
    expect(answer.hello.supportedVersions).toEqual([0x0304]);
    expect(answer.hello.byteLength).toBe(frame.length - 4); // the message inside the 4-byte CRYPTO frame header
    expect(answer.initial.version).toBe(QUIC_VERSION_1);
    expect(answer.initial.dcid.equals(RFC_DCID)).toBe(true);
  });

  it('RFC 9001 A.2: sealing the published plaintext under the derived keys gives the published packet', () => {
    // The builder is the reader's inverse; this pins it to the RFC, so tests built with it test the real thing.
    const header = Buffer.from('c300000001088394c8f03e5157080000449e00000002', 'hex');
    const plaintext = Buffer.concat([fixture('rfc9001-a2-crypto-frame.hex'), Buffer.alloc(917)]);
    const keys = deriveClientInitialKeys(QUIC_VERSION_1, RFC_DCID);
    const sealed = sealPayload(keys, 2, header, plaintext);
    expect(sealed.equals(fixture('rfc9001-a2-client-initial.hex').subarray(header.length))).toBe(true);
    const rebuilt = buildInitialPacket({
      version: QUIC_VERSION_1,
      dcid: RFC_DCID,
      packetNumber: 2,
      packetNumberLength: 4,
      frames: fixture('rfc9001-a2-crypto-frame.hex'),
    });
    expect(rebuilt.equals(fixture('rfc9001-a2-client-initial.hex'))).toBe(true);
  });

  it('RFC 9369 A.2: the QUIC v2 sample client Initial decrypts to the same ClientHello', () => {
    const answer = expectHello(readQuicHello([fixture('rfc9369-a2-client-initial.hex')], OPTIONS));
    expect(answer.hello.sni).toBe('example.com');
    expect(answer.initial.version).toBe(QUIC_VERSION_2);
  });
});

interface CaptureEntry {
  readonly name: string;
  readonly file: string;
  readonly sni: string;
  readonly alpn: readonly string[];
  readonly quicVersion: number;
  readonly datagrams: number;
}
const CAPTURES: readonly CaptureEntry[] = JSON.parse(readFileSync(new URL('../../fixtures/quic/index.json', import.meta.url), 'utf8'));
const captured = (entry: CaptureEntry): Buffer[] =>
  readFileSync(new URL(`../../fixtures/quic/${entry.file}`, import.meta.url), 'utf8').trim().split('\n').map((line) => Buffer.from(line, 'hex'));

describe('captures from real clients (scripts/capture-quic-initials.mjs)', () => {
  it('holds Chromium, whose hello spans two Initials, and gtlsclient', () => {
    expect(CAPTURES.map((entry) => entry.name).sort()).toEqual(['chromium', 'gtlsclient']);
    expect(CAPTURES.find((entry) => entry.name === 'chromium')!.datagrams).toBeGreaterThanOrEqual(2);
  });

  it.each(CAPTURES.map((entry) => [entry.name, entry] as const))('%s: every order of its datagrams gives the SNI and ALPN it was asked for', (_name, entry) => {
    const datagrams = captured(entry);
    expect(datagrams).toHaveLength(entry.datagrams);
    const orders = datagrams.length === 1 ? [datagrams] : [datagrams, [...datagrams].reverse()];
    for (const order of orders) {
      const answer = expectHello(readQuicHello(order, OPTIONS));
      expect(answer.hello.sni).toBe(entry.sni);
      for (const protocol of entry.alpn) expect(answer.hello.alpn).toContain(protocol);
      expect(answer.initial.version).toBe(entry.quicVersion);
    }
  });

  it('chromium: the hello alone is incomplete in each of its datagrams', () => {
    for (const datagram of captured(CAPTURES.find((entry) => entry.name === 'chromium')!)) {
      expect(readQuicHello([datagram], OPTIONS).kind).toBe('need_more');
    }
  });
});

describe('reassembly across Initials', () => {
  const dcid = Buffer.from('0011223344556677', 'hex');

  function permutations<T>(items: readonly T[]): T[][] {
    if (items.length <= 1) return [[...items]];
    return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));
  }

  it.each([QUIC_VERSION_1, QUIC_VERSION_2])('a hello in one Initial and in several give the same answer (version %s)', (version) => {
    const whole = expectHello(readQuicHello(splitHelloIntoInitials(BIG_HELLO, { version, dcid, cuts: [] }), OPTIONS));
    expect(whole.hello.sni).toBe('app.example.com');
    expect(whole.hello.alpn).toEqual(['h3']);
    expect(whole.hello.byteLength).toBe(BIG_HELLO.length);
    const pieces = splitHelloIntoInitials(BIG_HELLO, { version, dcid, cuts: [500, 1000, 1500] });
    for (const order of permutations(pieces)) {
      const reader = new QuicInitialReader(OPTIONS);
      const answers = order.map((datagram) => reader.push(datagram));
      expect(answers.slice(0, -1).every((answer) => answer.kind === 'need_more')).toBe(true);
      expect(expectHello(answers.at(-1)!).hello).toEqual(whole.hello);
    }
  });

  it('every cut of a hello into two Initials, in either order, gives the same answer', () => {
    const expected = expectHello(readQuicHello(splitHelloIntoInitials(SMALL_HELLO, { version: QUIC_VERSION_1, dcid, cuts: [] }), OPTIONS));
    for (let cut = 1; cut < SMALL_HELLO.length; cut += 1) {
      const [first, second] = splitHelloIntoInitials(SMALL_HELLO, { version: QUIC_VERSION_1, dcid, cuts: [cut] });
      expect(expectHello(readQuicHello([first!, second!], OPTIONS)).hello).toEqual(expected.hello);
      expect(expectHello(readQuicHello([second!, first!], OPTIONS)).hello).toEqual(expected.hello);
    }
  });

  it('reads Initials coalesced in one datagram, and CRYPTO frames out of order inside one packet', () => {
    const mid = 700;
    const first = buildInitialPacket({ version: QUIC_VERSION_1, dcid, packetNumber: 0, padToBytes: 0, frames: cryptoFrame(mid, BIG_HELLO.subarray(mid)) });
    const second = buildInitialPacket({ version: QUIC_VERSION_1, dcid, packetNumber: 1, padToBytes: 0, frames: cryptoFrame(0, BIG_HELLO.subarray(0, mid)) });
    expect(expectHello(readQuicHello([Buffer.concat([first, second])], OPTIONS)).hello.sni).toBe('app.example.com');

    const frames = Buffer.concat([
      cryptoFrame(mid, BIG_HELLO.subarray(mid, 1200)),
      Buffer.from([0x01]), // PING
      Buffer.from([0x02, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00]), // ACK: largest 0, delay 0, one range of 0 and gap 0
      cryptoFrame(0, BIG_HELLO.subarray(0, mid)),
    ]);
    const rest = buildInitialPacket({ version: QUIC_VERSION_1, dcid, packetNumber: 3, frames: cryptoFrame(1200, BIG_HELLO.subarray(1200)) });
    const mixed = buildInitialPacket({ version: QUIC_VERSION_1, dcid, packetNumber: 2, frames });
    expect(expectHello(readQuicHello([rest, mixed], OPTIONS)).hello.sni).toBe('app.example.com');
  });

  it('reassembles a hello sent as 1-byte CRYPTO frames in reverse order, holding only the bytes that came', () => {
    // Many tiny frames, each landing before all the others: the worst order for a reassembler.
    const frames = [];
    for (let at = SMALL_HELLO.length - 1; at >= 0; at -= 1) frames.push(cryptoFrame(at, SMALL_HELLO.subarray(at, at + 1)));
    const perPacket = 250;
    const datagrams = [];
    for (let i = 0; i < frames.length; i += perPacket) {
      datagrams.push(buildInitialPacket({ version: QUIC_VERSION_1, dcid, packetNumber: i / perPacket, frames: Buffer.concat(frames.slice(i, i + perPacket)) }));
    }
    const reader = new QuicInitialReader(OPTIONS);
    let answer: QuicHelloResult = { kind: 'need_more' };
    for (const datagram of datagrams) answer = reader.push(datagram);
    expect(expectHello(answer).hello.sni).toBe('small.example.com');
    expect(reader.bytesBuffered).toBe(SMALL_HELLO.length);
  });

  it('a CRYPTO frame far out in the stream costs its own bytes, not a buffer up to its offset', () => {
    const reader = new QuicInitialReader(OPTIONS);
    const far = buildInitialPacket({ version: QUIC_VERSION_1, dcid, packetNumber: 0, frames: cryptoFrame(60_000, Buffer.from([1, 2, 3])) });
    expect(reader.push(far).kind).toBe('need_more');
    expect(reader.bytesBuffered).toBe(3);
  });

  it('accepts retransmitted, overlapping CRYPTO data that agrees, and rejects data that does not', () => {
    const overlapping = [
      buildInitialPacket({ version: QUIC_VERSION_1, dcid, packetNumber: 0, frames: cryptoFrame(0, BIG_HELLO.subarray(0, 900)) }),
      buildInitialPacket({ version: QUIC_VERSION_1, dcid, packetNumber: 1, frames: cryptoFrame(0, BIG_HELLO.subarray(0, 900)) }),
      buildInitialPacket({ version: QUIC_VERSION_1, dcid, packetNumber: 2, frames: cryptoFrame(600, BIG_HELLO.subarray(600)) }),
    ];
    expect(readQuicHello(overlapping, OPTIONS).kind).toBe('hello');
    const forged = Buffer.from(BIG_HELLO.subarray(600));
    forged[10] = forged[10]! ^ 0xff;
    const conflicting = [overlapping[0]!, buildInitialPacket({ version: QUIC_VERSION_1, dcid, packetNumber: 2, frames: cryptoFrame(600, forged) })];
    expect(readQuicHello(conflicting, OPTIONS)).toEqual({ kind: 'malformed', reason: 'crypto_data_mismatch' });
    expect(readQuicHello([...conflicting].reverse(), OPTIONS)).toEqual({ kind: 'malformed', reason: 'crypto_data_mismatch' });
  });
});

describe('what is not a readable first flight', () => {
  const dcid = Buffer.from('a1a2a3a4a5a6a7a8', 'hex');
  const good = splitHelloIntoInitials(BIG_HELLO, { version: QUIC_VERSION_1, dcid, cuts: [1000] });

  it.each([
    ['a short-header packet', Buffer.concat([Buffer.from([0x40]), Buffer.alloc(1300, 7)]), 'short_header'],
    ['a Version Negotiation packet', Buffer.concat([Buffer.from([0xc0, 0, 0, 0, 0, 8]), dcid, Buffer.from([0, 0, 0, 0, 1])]), 'version_negotiation'],
    ['an unknown version', Buffer.concat([Buffer.from([0xc0, 0x1a, 0x2a, 0x3a, 0x4a, 8]), dcid, Buffer.alloc(1200)]), 'unsupported_version'],
    ['an Initial in a datagram under 1200 bytes', buildInitialPacket({ version: QUIC_VERSION_1, dcid, packetNumber: 0, frames: cryptoFrame(0, BIG_HELLO.subarray(0, 900)), padToBytes: 1199 }), 'initial_too_small'],
    ['a Handshake packet first', Buffer.concat([Buffer.from([0xe0, 0, 0, 0, 1, 8]), dcid, Buffer.from([0, 0x40, 0x20]), Buffer.alloc(1300)]), 'not_initial'],
    ['the fixed bit clear', Buffer.concat([Buffer.from([0x80, 0, 0, 0, 1]), Buffer.alloc(1300)]), 'fixed_bit_clear'],
  ])('%s is not_quic', (_name, datagram, reason) => {
    expect(readQuicHello([datagram], OPTIONS)).toEqual({ kind: 'not_quic', reason });
  });

  it('an Initial sealed with other keys is malformed first, and ignored once the flow has a good one', () => {
    const otherKeys = deriveClientInitialKeys(QUIC_VERSION_1, Buffer.from('ffffffffffffffff', 'hex'));
    const badKeys = buildInitialPacket({ version: QUIC_VERSION_1, dcid, packetNumber: 0, frames: cryptoFrame(0, BIG_HELLO), keys: otherKeys });
    expect(readQuicHello([badKeys], OPTIONS)).toEqual({ kind: 'malformed', reason: 'decrypt_failed' });
    const reader = new QuicInitialReader(OPTIONS);
    expect(reader.push(good[0]!).kind).toBe('need_more');
    expect(reader.push(badKeys).kind).toBe('need_more');
    expect(reader.push(Buffer.from('junk')).kind).toBe('need_more');
    expect(reader.push(good[1]!).kind).toBe('hello');
    expect(reader.datagramsIgnored).toBe(2);
  });

  it('a frame that RFC 9000 §12.4 forbids in Initials makes the flow malformed', () => {
    const stream = Buffer.concat([encodeVarint(0x08), encodeVarint(0), encodeVarint(1), Buffer.from([0])]);
    const datagram = buildInitialPacket({ version: QUIC_VERSION_1, dcid, packetNumber: 0, frames: Buffer.concat([cryptoFrame(0, BIG_HELLO.subarray(0, 10)), stream]) });
    expect(readQuicHello([datagram], OPTIONS)).toEqual({ kind: 'malformed', reason: 'frame_not_allowed' });
  });

  it('a CRYPTO stream that is not a ClientHello, or grows past the cap, ends the read', () => {
    const serverHello = Buffer.from(BIG_HELLO);
    serverHello[0] = 2;
    expect(readQuicHello(splitHelloIntoInitials(serverHello, { version: QUIC_VERSION_1, dcid, cuts: [] }), OPTIONS)).toEqual({
      kind: 'malformed',
      reason: 'handshake_not_client_hello',
    });
    expect(readQuicHello(good, { maxHelloBytes: 1024 })).toEqual({ kind: 'too_large' });
    const far = buildInitialPacket({ version: QUIC_VERSION_1, dcid, packetNumber: 0, frames: cryptoFrame(1_000_000, Buffer.from([1])) });
    expect(readQuicHello([far], OPTIONS)).toEqual({ kind: 'too_large' });
  });

  it('a truncated CRYPTO frame and a lying long-header length are malformed, not a crash', () => {
    const lying = Buffer.concat([Buffer.from([0x06]), encodeVarint(0), encodeVarint(5000), Buffer.alloc(10)]);
    expect(readQuicHello([buildInitialPacket({ version: QUIC_VERSION_1, dcid, packetNumber: 0, frames: lying })], OPTIONS)).toEqual({
      kind: 'malformed',
      reason: 'frame_truncated',
    });
    const header = Buffer.from(good[0]!);
    header.writeUInt16BE(0x7fff, 1 + 4 + 1 + 8 + 1 + 1); // the Length field now runs past the datagram
    expect(readQuicHello([header], OPTIONS)).toEqual({ kind: 'malformed', reason: 'header_truncated' });
  });

  it('expands truncated packet numbers as RFC 9000 Appendix A.3 does', () => {
    expect(decodePacketNumber(0xa82f30ea, 0x9b32, 16)).toBe(0xa82f9b32);
    expect(decodePacketNumber(-1, 0, 8)).toBe(0);
    expect(decodePacketNumber(0xff, 0x01, 8)).toBe(0x101);
  });
});

describe('never throws (fast-check, bounded)', () => {
  const dcid = Buffer.from('0102030405060708', 'hex');
  const valid = splitHelloIntoInitials(BIG_HELLO, { version: QUIC_VERSION_1, dcid, cuts: [800] });
  const RUNS = { numRuns: 300 };

  it('arbitrary datagrams always end in one of the result kinds', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 1500 }), { minLength: 1, maxLength: 4 }), (datagrams) => {
        expectWellFormedAnswer(readQuicHello(datagrams, OPTIONS));
      }),
      RUNS,
    );
  });

  it('arbitrary datagrams that start like an Initial (long header, v1/v2) never throw', () => {
    const prefix = fc.constantFrom(Buffer.from([0xc0, 0, 0, 0, 1]), Buffer.from([0xd0, 0x6b, 0x33, 0x43, 0xcf]));
    fc.assert(
      fc.property(prefix, fc.uint8Array({ minLength: 0, maxLength: 1400 }), (head, rest) => {
        expectWellFormedAnswer(readQuicHello([Buffer.concat([head, rest])], OPTIONS));
      }),
      RUNS,
    );
  });

  it('a valid flight with bytes flipped anywhere never throws', () => {
    fc.assert(
      fc.property(fc.nat(valid[0]!.length - 1), fc.integer({ min: 1, max: 255 }), fc.boolean(), (at, xor, flipFirst) => {
        const target = Buffer.from(valid[flipFirst ? 0 : 1]!);
        target[at % target.length] = target[at % target.length]! ^ xor;
        const datagrams = flipFirst ? [target, valid[1]!] : [valid[0]!, target];
        expectWellFormedAnswer(readQuicHello(datagrams, OPTIONS));
      }),
      RUNS,
    );
  });

  it('authenticated Initials carrying arbitrary frame bytes never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 600 }), (frames) => {
        const datagram = buildInitialPacket({ version: QUIC_VERSION_1, dcid, packetNumber: 0, frames });
        expectWellFormedAnswer(readQuicHello([datagram], OPTIONS));
      }),
      RUNS,
    );
  });
});
