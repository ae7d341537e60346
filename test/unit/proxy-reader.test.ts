/**
 * The inbound PROXY reader: v1 and v2 headers as real balancers send them (our own encoder's output, which HAProxy
 * and nginx accept, plus hand-built variants), fed whole, byte by byte and split at every offset; every
 * malformed form gives its reason; arbitrary bytes never throw.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { encodeProxyHeader, encodeProxyV2Local, PP2_SIGNATURE } from '../../src/wire/proxy-header.js';
import { PROXY_MALFORMED_REASONS, ProxyHeaderReader, type ProxyReadResult } from '../../src/wire/proxy-reader.js';

const HELLO_START = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]);

function feed(bytes: Buffer, splits: readonly number[] = []): { result: ProxyReadResult; rest: Buffer } {
  const reader = new ProxyHeaderReader();
  let result: ProxyReadResult = { kind: 'need_more' };
  let from = 0;
  for (const at of [...splits, bytes.length]) {
    result = reader.push(bytes.subarray(from, at));
    from = at;
    if (result.kind !== 'need_more') {
      // What the reader did not take, plus what was never pushed, is the rest of the stream.
      const rest = result.kind === 'done' ? Buffer.concat([result.rest, bytes.subarray(from)]) : Buffer.alloc(0);
      return { result, rest };
    }
  }
  return { result, rest: Buffer.alloc(0) };
}

const v2ipv4 = encodeProxyHeader('v2', {
  source: { address: '203.0.113.9', port: 51234 },
  destination: { address: '192.0.2.1', port: 443 },
  authority: 'app.example.com',
  uniqueId: 'abc-1',
});
const v2ipv6 = encodeProxyHeader('v2', { source: { address: '2001:db8::9', port: 40000 }, destination: { address: '2001:db8::1', port: 8443 } });
const v1ipv4 = Buffer.from('PROXY TCP4 203.0.113.9 192.0.2.1 51234 443\r\n', 'latin1');
const v1ipv6 = Buffer.from('PROXY TCP6 2001:DB8:0:0:0:0:0:9 2001:db8::1 40000 8443\r\n', 'latin1');

const GOOD = [
  { name: 'v2 TCP4 with TLVs', bytes: v2ipv4, source: '203.0.113.9:51234', destination: '192.0.2.1:443', version: 2 },
  { name: 'v2 TCP6', bytes: v2ipv6, source: '2001:db8::9:40000', destination: '2001:db8::1:8443', version: 2 },
  { name: 'v1 TCP4', bytes: v1ipv4, source: '203.0.113.9:51234', destination: '192.0.2.1:443', version: 1 },
  { name: 'v1 TCP6 (canonicalised)', bytes: v1ipv6, source: '2001:db8::9:40000', destination: '2001:db8::1:8443', version: 1 },
  { name: 'v2 LOCAL', bytes: encodeProxyV2Local(), source: null, destination: null, version: 2 },
  { name: 'v1 UNKNOWN', bytes: Buffer.from('PROXY UNKNOWN\r\n'), source: null, destination: null, version: 1 },
  { name: 'v1 UNKNOWN with addresses', bytes: Buffer.from('PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n'), source: null, destination: null, version: 1 },
] as const;

describe('ProxyHeaderReader: good headers', () => {
  it.each(GOOD)('$name: whole, byte by byte, and split at every offset give the same header and rest', ({ bytes, source, destination, version }) => {
    const stream = Buffer.concat([bytes, HELLO_START]);
    const check = ({ result, rest }: ReturnType<typeof feed>): void => {
      expect(result.kind).toBe('done');
      if (result.kind !== 'done') return;
      const { header } = result;
      expect(header.version).toBe(version);
      expect(header.byteLength).toBe(bytes.length);
      expect(header.source ? `${header.source.address}:${header.source.port}` : null).toBe(source);
      expect(header.destination ? `${header.destination.address}:${header.destination.port}` : null).toBe(destination);
      expect(header.command).toBe(source === null ? 'local' : 'proxy');
      expect(rest.equals(HELLO_START)).toBe(true);
    };
    check(feed(stream));
    check(feed(stream, Array.from({ length: stream.length - 1 }, (_, i) => i + 1)));
    for (let at = 1; at < stream.length; at++) check(feed(stream, [at]));
  });

  it('answers once: later pushes return the same result', () => {
    const reader = new ProxyHeaderReader();
    const first = reader.push(v1ipv4);
    expect(reader.push(Buffer.from('more'))).toBe(first);
  });
});

function v2(verCmd: number, family: number, body: Buffer): Buffer {
  const prefix = Buffer.alloc(16);
  PP2_SIGNATURE.copy(prefix);
  prefix[12] = verCmd;
  prefix[13] = family;
  prefix.writeUInt16BE(body.length, 14);
  return Buffer.concat([prefix, body]);
}

const BAD: Array<{ name: string; bytes: Buffer; reason: string }> = [
  { name: 'a TLS hello (no header)', bytes: HELLO_START, reason: 'not_proxy' },
  { name: 'HTTP', bytes: Buffer.from('GET / HTTP/1.1\r\n'), reason: 'not_proxy' },
  { name: 'lower-case proxy', bytes: Buffer.from('proxy TCP4 1.2.3.4 1.2.3.5 1 2\r\n'), reason: 'not_proxy' },
  { name: 'v1 UDP4', bytes: Buffer.from('PROXY UDP4 1.2.3.4 1.2.3.5 1 2\r\n'), reason: 'v1_bad_protocol' },
  { name: 'v1 TCP4 with an IPv6 address', bytes: Buffer.from('PROXY TCP4 ::1 1.2.3.5 1 2\r\n'), reason: 'v1_bad_address' },
  { name: 'v1 bad octet', bytes: Buffer.from('PROXY TCP4 1.2.3.256 1.2.3.5 1 2\r\n'), reason: 'v1_bad_address' },
  { name: 'v1 port 65536', bytes: Buffer.from('PROXY TCP4 1.2.3.4 1.2.3.5 65536 2\r\n'), reason: 'v1_bad_port' },
  { name: 'v1 port with leading zero', bytes: Buffer.from('PROXY TCP4 1.2.3.4 1.2.3.5 01 2\r\n'), reason: 'v1_bad_port' },
  { name: 'v1 double space', bytes: Buffer.from('PROXY TCP4  1.2.3.4 1.2.3.5 1 2\r\n'), reason: 'v1_bad_syntax' },
  { name: 'v1 missing field', bytes: Buffer.from('PROXY TCP4 1.2.3.4 1.2.3.5 1\r\n'), reason: 'v1_bad_syntax' },
  { name: 'v1 LF without CR', bytes: Buffer.from('PROXY TCP4 1.2.3.4 1.2.3.5 1 2\n'), reason: 'v1_bad_syntax' },
  { name: 'v1 CR not followed by LF', bytes: Buffer.from('PROXY TCP4 1.2.3.4 1.2.3.5 1 2\rX'), reason: 'v1_bad_syntax' },
  { name: 'v1 without CRLF in 107 bytes', bytes: Buffer.from(`PROXY UNKNOWN ${'x'.repeat(120)}`), reason: 'v1_too_long' },
  { name: 'v2 version 1', bytes: v2(0x11, 0x11, Buffer.alloc(12)), reason: 'v2_bad_version' },
  { name: 'v2 command 2', bytes: v2(0x22, 0x11, Buffer.alloc(12)), reason: 'v2_bad_command' },
  { name: 'v2 UDP over IPv4', bytes: v2(0x21, 0x12, Buffer.alloc(12)), reason: 'v2_bad_family' },
  { name: 'v2 AF_UNIX', bytes: v2(0x21, 0x31, Buffer.alloc(216)), reason: 'v2_bad_family' },
  { name: 'v2 TCP4 length below 12', bytes: v2(0x21, 0x11, Buffer.alloc(8)), reason: 'v2_length_short' },
  { name: 'v2 TCP6 length below 36', bytes: v2(0x21, 0x21, Buffer.alloc(12)), reason: 'v2_length_short' },
  { name: 'v2 longer than 4 KiB', bytes: v2(0x21, 0x11, Buffer.alloc(5000)), reason: 'v2_too_long' },
  { name: 'v2 TLV running past the header', bytes: v2(0x21, 0x11, Buffer.concat([Buffer.alloc(12), Buffer.from([0x02, 0x00, 0x09, 0x61])])), reason: 'v2_tlv_overflow' },
  { name: 'v2 half a TLV header', bytes: v2(0x21, 0x11, Buffer.concat([Buffer.alloc(12), Buffer.from([0x02, 0x00])])), reason: 'v2_tlv_overflow' },
  { name: 'v2 broken signature', bytes: Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0b]), reason: 'not_proxy' },
];

describe('ProxyHeaderReader: malformed headers are refused, whole or byte by byte', () => {
  it.each(BAD)('$name → $reason', ({ bytes, reason }) => {
    expect(PROXY_MALFORMED_REASONS).toContain(reason);
    expect(feed(bytes).result).toEqual({ kind: 'malformed', reason });
    expect(feed(bytes, Array.from({ length: bytes.length - 1 }, (_, i) => i + 1)).result).toEqual({ kind: 'malformed', reason });
  });

  it('fails on the first wrong byte, without waiting for more', () => {
    const reader = new ProxyHeaderReader();
    expect(reader.push(Buffer.from([0x16])).kind).toBe('malformed');
  });
});

describe('ProxyHeaderReader: arbitrary input', () => {
  it('never throws and always ends in one of the result kinds (bounded run)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(300), { maxLength: 6 }), (bytes, cuts) => {
        const buffer = Buffer.from(bytes);
        const splits = [...new Set(cuts.filter((c) => c > 0 && c < buffer.length))].sort((a, b) => a - b);
        const { result } = feed(buffer, splits);
        expect(['need_more', 'done', 'malformed']).toContain(result.kind);
        if (result.kind === 'malformed') expect(PROXY_MALFORMED_REASONS).toContain(result.reason);
      }),
      { numRuns: 2_000 },
    );
  });

  it('arbitrary bytes after a good v2 prefix never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (tail) => {
        const { result } = feed(Buffer.concat([PP2_SIGNATURE, Buffer.from(tail)]));
        expect(['need_more', 'done', 'malformed']).toContain(result.kind);
      }),
      { numRuns: 2_000 },
    );
  });
});
