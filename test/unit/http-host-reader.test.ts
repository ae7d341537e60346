import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HTTP_MALFORMED_REASONS, HttpHostReader, splitHostAndPort, type HttpHeadResult } from '../../src/wire/http-host-reader.js';

const RUNS = { numRuns: 300 };
const OPTIONS = { maxHeadBytes: 16 * 1024 };
const KINDS = new Set(['need_more', 'request', 'not_http', 'too_large', 'malformed']);
const REASONS: ReadonlySet<string> = new Set(HTTP_MALFORMED_REASONS);

function readWhole(text: string | Uint8Array, maxHeadBytes = OPTIONS.maxHeadBytes): HttpHeadResult {
  return new HttpHostReader({ maxHeadBytes }).push(typeof text === 'string' ? Buffer.from(text, 'latin1') : text);
}

/** Feeds `bytes` cut at the given offsets; returns the last answer. */
function feedSplit(bytes: Uint8Array, cuts: readonly number[]): HttpHeadResult {
  const reader = new HttpHostReader(OPTIONS);
  const offsets = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  let from = 0;
  let answer: HttpHeadResult = { kind: 'need_more' };
  for (const cut of [...offsets, bytes.length]) {
    answer = reader.push(bytes.subarray(from, cut));
    from = cut;
  }
  return answer;
}

const CURL = 'GET /.well-known/acme-challenge/tok?x=1 HTTP/1.1\r\nHost: app.example.com\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n';

describe('good heads', () => {
  it.each([
    ['curl', CURL, { method: 'GET', target: '/.well-known/acme-challenge/tok?x=1', host: 'app.example.com', version: 'HTTP/1.1' }],
    ['host with port', 'GET / HTTP/1.1\r\nhost:  a.test:8080 \r\n\r\n', { host: 'a.test:8080' }],
    ['IPv6 host', 'GET /p HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n', { host: '[::1]:8080' }],
    ['bare LF line ends', 'GET / HTTP/1.1\nHost: a.test\n\n', { host: 'a.test' }],
    ['HTTP/1.0 without Host', 'GET / HTTP/1.0\r\n\r\n', { host: null, version: 'HTTP/1.0' }],
    ['absolute-form wins over Host', 'GET http://b.test/x HTTP/1.1\r\nHost: a.test\r\n\r\n', { host: 'b.test', target: 'http://b.test/x' }],
    ['OPTIONS *', 'OPTIONS * HTTP/1.1\r\nHost: a.test\r\n\r\n', { target: '*' }],
  ])('%s', (_name, text, expected) => {
    const result = readWhole(text);
    expect(result.kind).toBe('request');
    if (result.kind !== 'request') return;
    expect(result.request).toMatchObject(expected);
    expect(result.request.headersEnd).toBe(Buffer.byteLength(text, 'latin1'));
  });

  it('headersEnd points past the blank line when a body follows in the same chunk', () => {
    const head = 'POST /upload HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\n\r\n';
    const result = readWhole(`${head}hello`);
    expect(result.kind === 'request' && result.request.headersEnd).toBe(head.length);
  });

  it('gives the same answer whole, byte by byte, and split at every offset', () => {
    const bytes = Buffer.from(CURL, 'latin1');
    const whole = readWhole(bytes);
    const reader = new HttpHostReader(OPTIONS);
    let byByte: HttpHeadResult = { kind: 'need_more' };
    for (let i = 0; i < bytes.length; i++) {
      byByte = reader.push(bytes.subarray(i, i + 1));
      if (i < bytes.length - 1) expect(byByte.kind).toBe('need_more');
    }
    expect(byByte).toEqual(whole);
    for (let cut = 0; cut <= bytes.length; cut++) expect(feedSplit(bytes, [cut])).toEqual(whole);
  });
});

describe('final answers other than request', () => {
  it.each([
    ['TLS ClientHello', Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]), 'not_http'],
    ['h2 prior knowledge', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'not_http'],
    ['SSH banner', 'SSH-2.0-OpenSSH_9.2\r\n', 'not_http'],
    ['method too long', `${'A'.repeat(40)} / HTTP/1.1\r\n`, 'not_http'],
  ])('%s → %s', (_name, input, kind) => {
    expect(readWhole(input).kind).toBe(kind);
  });

  it('a TLS hello is not_http at its first byte, without waiting for more', () => {
    expect(new HttpHostReader(OPTIONS).push(Buffer.from([0x16])).kind).toBe('not_http');
  });

  it.each([
    ['missing Host on HTTP/1.1', 'GET / HTTP/1.1\r\nAccept: */*\r\n\r\n', 'missing_host'],
    ['two Host fields', 'GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n', 'duplicate_host'],
    ['space before the colon', 'GET / HTTP/1.1\r\nHost : a.test\r\n\r\n', 'bad_header_line'],
    ['obs-fold', 'GET / HTTP/1.1\r\nHost: a.test\r\nX: a\r\n b\r\n\r\n', 'obs_fold'],
    ['no colon', 'GET / HTTP/1.1\r\nHost a.test\r\n\r\n', 'bad_header_line'],
    ['control byte in a value', 'GET / HTTP/1.1\r\nHost: a\x01.test\r\n\r\n', 'bad_header_line'],
    ['two spaces in the request line', 'GET  / HTTP/1.1\r\nHost: a.test\r\n\r\n', 'bad_request_line'],
    ['target not a path', 'GET foo HTTP/1.1\r\nHost: a.test\r\n\r\n', 'bad_target'],
    ['not a version', 'GET / FTP\r\nHost: a.test\r\n\r\n', 'bad_request_line'],
  ])('%s → malformed %s', (_name, text, reason) => {
    expect(readWhole(text)).toEqual({ kind: 'malformed', reason });
  });

  it('a head past maxHeadBytes is too_large, whole or dribbled', () => {
    const text = `GET / HTTP/1.1\r\nHost: a.test\r\nX-Pad: ${'p'.repeat(200)}\r\n\r\n`;
    expect(readWhole(text, 100).kind).toBe('too_large');
    const reader = new HttpHostReader({ maxHeadBytes: 100 });
    let last: HttpHeadResult = { kind: 'need_more' };
    for (const byte of Buffer.from(text)) last = reader.push(Buffer.from([byte]));
    expect(last.kind).toBe('too_large');
    expect(readWhole(text, text.length).kind).toBe('request');
  });

  it('keeps its final answer for later pushes', () => {
    const reader = new HttpHostReader(OPTIONS);
    const first = reader.push(Buffer.from(CURL));
    expect(reader.push(Buffer.from('GET / HTTP/1.1\r\n'))).toBe(first);
  });
});

describe('arbitrary input', () => {
  it('arbitrary bytes never throw and end in one of the result kinds, however they are split', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.array(fc.nat(), { maxLength: 6 }), (bytes, cuts) => {
        const result = feedSplit(bytes, cuts);
        expect(KINDS.has(result.kind)).toBe(true);
        if (result.kind === 'malformed') expect(REASONS.has(result.reason)).toBe(true);
      }),
      RUNS,
    );
  });

  it('heads built from random fields give the same answer whole and split anywhere', () => {
    const token = fc.stringMatching(/^[A-Za-z0-9-]{1,12}$/);
    const value = fc.stringMatching(/^[ -~]{0,40}$/);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(token, value), { maxLength: 8 }),
        fc.stringMatching(/^[a-z0-9-]{1,20}(\.[a-z0-9-]{1,20}){0,3}$/),
        fc.array(fc.nat(), { maxLength: 6 }),
        (fields, host, cuts) => {
          const lines = fields.filter(([name]) => name.toLowerCase() !== 'host').map(([name, v]) => `${name}: ${v}\r\n`);
          const text = `GET /a?b=c HTTP/1.1\r\n${lines.join('')}Host: ${host}\r\n\r\n`;
          const bytes = Buffer.from(text, 'latin1');
          const whole = readWhole(bytes);
          expect(whole).toMatchObject({ kind: 'request', request: { host, headersEnd: bytes.length } });
          expect(feedSplit(bytes, cuts)).toEqual(whole);
        },
      ),
      RUNS,
    );
  });
});

describe('splitHostAndPort', () => {
  it.each([
    ['a.example.com', { name: 'a.example.com', isIpv6: false, port: null }],
    ['A.example.com:8080', { name: 'A.example.com', isIpv6: false, port: 8080 }],
    ['192.0.2.1:80', { name: '192.0.2.1', isIpv6: false, port: 80 }],
    ['[::1]', { name: '::1', isIpv6: true, port: null }],
    ['[2001:db8::5]:8443', { name: '2001:db8::5', isIpv6: true, port: 8443 }],
  ])('%s', (text, expected) => {
    expect(splitHostAndPort(text)).toEqual(expected);
  });
  it.each(['a.test:0', 'a.test:99999', 'a.test:x', '[::1', '[::1]x', '[a.test]', 'a test', 'a/b', 'a.test:80:80', ''])('refuses %j', (text) => {
    expect(splitHostAndPort(text)).toBeNull();
  });
});
