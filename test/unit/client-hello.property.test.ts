import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ClientHelloReader, MALFORMED_REASONS, readClientHello, type HelloResult } from '../../src/wire/client-hello.js';
import { CONTENT_TYPE_HANDSHAKE, RECORD_HEADER_BYTES } from '../../src/wire/tls-wire.js';
import { buildClientHello, recordHeader, toRecords, type HelloOptions } from '../helpers/hello-builder.js';

// Bounded so the whole file runs in a few seconds; a failing seed printed by fast-check becomes a named fixture.
const RUNS = { numRuns: 300 };
const OPTIONS = { maxHelloBytes: 64 * 1024 };
const KINDS = new Set(['need_more', 'hello', 'not_tls', 'too_large', 'malformed']);
const REASONS: ReadonlySet<string> = new Set(MALFORMED_REASONS);

/** Feeds `bytes` cut at the given offsets (any order, duplicates allowed); returns the last answer. */
function feedSplit(bytes: Uint8Array, cuts: readonly number[], maxHelloBytes = OPTIONS.maxHelloBytes): HelloResult {
  const reader = new ClientHelloReader({ maxHelloBytes });
  const offsets = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  let from = 0;
  let answer: HelloResult = { kind: 'need_more' };
  for (const cut of [...offsets, bytes.length]) {
    answer = reader.push(bytes.subarray(from, cut));
    from = cut;
  }
  return answer;
}

function expectWellFormedAnswer(result: HelloResult): void {
  expect(KINDS.has(result.kind)).toBe(true);
  if (result.kind === 'malformed') expect(REASONS.has(result.reason)).toBe(true);
}

const latin1 = (min: number, max: number) =>
  fc.uint8Array({ minLength: min, maxLength: max }).map((bytes) => Buffer.from(bytes).toString('latin1'));

const helloOptions: fc.Arbitrary<HelloOptions> = fc.record({
  sni: fc.option(latin1(1, 300), { nil: null }),
  alpn: fc.array(latin1(1, 255), { maxLength: 6 }),
  supportedVersions: fc.option(fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 1, maxLength: 20 }), { nil: null }),
  grease: fc.boolean(),
  postQuantum: fc.boolean(),
});

/** A good hello (options, then records cut at random fragment sizes). */
const goodHello = fc
  .tuple(helloOptions, fc.array(fc.integer({ min: 1, max: 600 }), { maxLength: 8 }), fc.option(fc.integer({ min: 0, max: 3000 }), { nil: undefined }))
  .map(([options, fragmentSizes, extraPadding]) => {
    const plain = buildClientHello(options);
    const message = extraPadding === undefined ? plain : buildClientHello({ ...options, padTo: plain.length + 4 + extraPadding });
    // Keep only the fragment sizes that fit; the rest of the message goes in a final record.
    const sizes: number[] = [];
    let used = 0;
    for (const size of fragmentSizes) {
      if (used + size >= message.length) break;
      sizes.push(size);
      used += size;
    }
    return { options, message, bytes: toRecords(message, sizes) };
  });

describe('arbitrary input', () => {
  it('arbitrary bytes never throw and end in one of the result kinds, however they are split', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), fc.array(fc.nat(), { maxLength: 8 }), (bytes, cuts) => {
        const whole = readClientHello(bytes, OPTIONS);
        expectWellFormedAnswer(whole);
        expect(feedSplit(bytes, cuts)).toEqual(whole);
      }),
      RUNS,
    );
  });

  it('arbitrary bytes behind a plausible record header never throw (reaches the handshake walk)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4, maxLength: 3000 }), fc.array(fc.nat(), { maxLength: 8 }), (body, cuts) => {
        // A ClientHello type and a length that matches the record, then noise: the body walk sees hostile bytes.
        const message = Buffer.concat([Buffer.from([1, 0, (body.length - 4) >> 8, (body.length - 4) & 0xff]), body.subarray(4)]);
        const bytes = toRecords(message, 'one');
        const whole = readClientHello(bytes, OPTIONS);
        expectWellFormedAnswer(whole);
        expect(whole.kind).not.toBe('not_tls');
        expect(feedSplit(bytes, cuts)).toEqual(whole);
      }),
      RUNS,
    );
  });

  it('a good hello with bytes overwritten never throws and is split-invariant', () => {
    fc.assert(
      fc.property(
        goodHello,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        ({ bytes }, edits, cuts) => {
          const mutated = Buffer.from(bytes);
          for (const [at, value] of edits) mutated[at % mutated.length] = value;
          const whole = readClientHello(mutated, OPTIONS);
          expectWellFormedAnswer(whole);
          expect(feedSplit(mutated, cuts)).toEqual(whole);
        },
      ),
      RUNS,
    );
  });

  it('random record streams (handshake records of random sizes and contents) never throw', () => {
    const record = fc
      .tuple(fc.constantFrom(CONTENT_TYPE_HANDSHAKE, CONTENT_TYPE_HANDSHAKE, CONTENT_TYPE_HANDSHAKE, 0x14, 0x17), fc.uint8Array({ maxLength: 300 }))
      .map(([type, fragment]) => Buffer.concat([recordHeader(fragment.length, type), fragment]));
    fc.assert(
      fc.property(fc.array(record, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 8 }), (records, cuts) => {
        const bytes = Buffer.concat(records);
        const whole = readClientHello(bytes, OPTIONS);
        expectWellFormedAnswer(whole);
        expect(feedSplit(bytes, cuts)).toEqual(whole);
      }),
      RUNS,
    );
  });
});

describe('good hellos', () => {
  it('parse to what was built, and every split gives the same answer as whole', () => {
    fc.assert(
      fc.property(goodHello, fc.array(fc.nat(), { maxLength: 12 }), ({ options, bytes }, cuts) => {
        const whole = readClientHello(bytes, OPTIONS);
        if (whole.kind !== 'hello') throw new Error(`not a hello: ${JSON.stringify(whole)}`);
        expect(whole.hello.sni).toBe(options.sni);
        expect(whole.hello.alpn).toEqual(options.alpn);
        if (options.supportedVersions !== null && options.supportedVersions !== undefined) {
          expect(whole.hello.supportedVersions.slice(options.grease ? 1 : 0)).toEqual(options.supportedVersions);
        }
        expect(whole.hello.byteLength).toBe(bytes.length);
        expect(feedSplit(bytes, cuts)).toEqual(whole);
      }),
      RUNS,
    );
  });

  it('every strict prefix is need_more (fed byte by byte, the answer is final only at the last byte)', () => {
    fc.assert(
      fc.property(goodHello, ({ bytes }) => {
        const reader = new ClientHelloReader(OPTIONS);
        for (let i = 0; i < bytes.length - 1; i += 1) {
          if (reader.push(bytes.subarray(i, i + 1)).kind !== 'need_more') throw new Error(`final after ${i + 1} bytes`);
        }
        expect(reader.push(bytes.subarray(bytes.length - 1)).kind).toBe('hello');
      }),
      { numRuns: 100 },
    );
  });

  it('a fresh reader given a random strict prefix answers need_more', () => {
    fc.assert(
      fc.property(goodHello, fc.nat(), ({ bytes }, cut) => {
        expect(readClientHello(bytes.subarray(0, cut % bytes.length), OPTIONS)).toEqual({ kind: 'need_more' });
      }),
      RUNS,
    );
  });

  it('fits a cap of exactly its size, and is too_large under a cap one byte smaller', () => {
    fc.assert(
      fc.property(goodHello, fc.array(fc.nat(), { maxLength: 6 }), ({ bytes }, cuts) => {
        expect(feedSplit(bytes, cuts, bytes.length).kind).toBe('hello');
        expect(feedSplit(bytes, cuts, bytes.length - 1)).toEqual({ kind: 'too_large' });
        expect(bytes.length).toBeGreaterThan(RECORD_HEADER_BYTES);
      }),
      RUNS,
    );
  });
});
