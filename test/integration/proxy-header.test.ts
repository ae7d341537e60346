import net from 'node:net';
import fc from 'fast-check';
import { IPv4ProxyAddress, IPv6ProxyAddress, V1BinaryProxyProtocol, V2ProxyProtocol, Command, TransportProtocol, IPv4Address } from 'proxy-protocol-js';
import { describe, expect, it } from 'vitest';
import {
  PP2_AUTHORITY_MAX_BYTES,
  PP2_CLIENT_CERT_CONN,
  PP2_CLIENT_CERT_SESS,
  PP2_CLIENT_SSL,
  PP2_HEADER_BYTES,
  PP2_SUBTYPE_SSL_VERSION,
  PP2_TYPE_ALPN,
  PP2_TYPE_AUTHORITY,
  PP2_TYPE_SSL,
  PP2_TYPE_UNIQUE_ID,
  PP2_UNIQUE_ID_MAX_BYTES,
  PP1_MAX_BYTES,
  encodeProxyHeader,
  encodeProxyV2Local,
  type ProxyHeaderInput,
} from '../../src/wire/proxy-header.js';

// --- An independent reader, written from proxy-protocol.txt §2.2 and sharing no code with the encoder ----------

interface Tlv {
  readonly type: number;
  readonly value: Buffer;
}

interface DecodedV2 {
  readonly command: 'LOCAL' | 'PROXY';
  readonly family: 'UNSPEC' | 'TCP4' | 'TCP6';
  /** Address text: dotted quad, or eight full hex groups for IPv6. */
  readonly source: string;
  readonly destination: string;
  readonly sourcePort: number;
  readonly destinationPort: number;
  readonly tlvs: readonly Tlv[];
  /** Bytes after the header, as a receiver would hand them to the application. */
  readonly rest: Buffer;
}

const SIGNATURE_HEX = '0d0a0d0a000d0a515549540a';

function decodeV2(bytes: Buffer): DecodedV2 {
  if (bytes.subarray(0, 12).toString('hex') !== SIGNATURE_HEX) throw new Error('no v2 signature');
  const verCmd = bytes.readUInt8(12);
  if (verCmd >> 4 !== 2) throw new Error(`version ${verCmd >> 4}`);
  const command = (verCmd & 0xf) === 0 ? 'LOCAL' : (verCmd & 0xf) === 1 ? 'PROXY' : null;
  if (command === null) throw new Error(`command ${verCmd & 0xf}`);
  const fam = bytes.readUInt8(13);
  const length = bytes.readUInt16BE(14);
  const end = 16 + length;
  if (bytes.length < end) throw new Error(`length ${length} runs past the ${bytes.length - 16} bytes given`);
  const family = fam === 0x00 ? 'UNSPEC' : fam === 0x11 ? 'TCP4' : fam === 0x21 ? 'TCP6' : null;
  if (family === null) throw new Error(`family byte 0x${fam.toString(16)}`);
  let at = 16;
  let source = '';
  let destination = '';
  let sourcePort = 0;
  let destinationPort = 0;
  if (family !== 'UNSPEC') {
    const size = family === 'TCP4' ? 4 : 16;
    const text = (b: Buffer): string =>
      size === 4 ? [...b].join('.') : Array.from({ length: 8 }, (_, i) => b.readUInt16BE(2 * i).toString(16)).join(':');
    if (length < 2 * size + 4) throw new Error('length shorter than the address block');
    source = text(bytes.subarray(at, at + size));
    destination = text(bytes.subarray(at + size, at + 2 * size));
    sourcePort = bytes.readUInt16BE(at + 2 * size);
    destinationPort = bytes.readUInt16BE(at + 2 * size + 2);
    at += 2 * size + 4;
  } else if (command === 'PROXY') {
    throw new Error('PROXY command with UNSPEC family');
  }
  const tlvs: Tlv[] = [];
  while (at < end) {
    if (at + 3 > end) throw new Error('TLV header cut by the length field');
    const type = bytes.readUInt8(at);
    const valueLength = bytes.readUInt16BE(at + 1);
    if (at + 3 + valueLength > end) throw new Error(`TLV 0x${type.toString(16)} runs past the length field`);
    tlvs.push({ type, value: bytes.subarray(at + 3, at + 3 + valueLength) });
    at += 3 + valueLength;
  }
  return { command, family, source, destination, sourcePort, destinationPort, tlvs, rest: bytes.subarray(end) };
}

function tlvText(decoded: DecodedV2, type: number): string | undefined {
  return decoded.tlvs.find((tlv) => tlv.type === type)?.value.toString('latin1');
}

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');
const ascii = (text: string): string => Buffer.from(text, 'latin1').toString('hex');

const V4: ProxyHeaderInput = {
  source: { address: '192.0.2.1', port: 56324 },
  destination: { address: '198.51.100.7', port: 443 },
};
const V6: ProxyHeaderInput = {
  source: { address: '2001:db8::1', port: 50000 },
  destination: { address: '2001:db8::2', port: 8443 },
};
const MAPPED: ProxyHeaderInput = {
  source: { address: '::ffff:203.0.113.9', port: 40000 },
  destination: { address: '::ffff:127.0.0.1', port: 443 },
};

describe('encodeProxyHeader v2: byte-exact', () => {
  it.each([
    {
      name: 'IPv4, no TLVs',
      input: V4,
      expected: `${SIGNATURE_HEX} 21 11 000c  c0000201 c6336407  dc04 01bb`,
    },
    {
      name: 'IPv6, no TLVs',
      input: V6,
      expected: `${SIGNATURE_HEX} 21 21 0024
        20010db8000000000000000000000001 20010db8000000000000000000000002  c350 20fb`,
    },
    {
      name: 'IPv4-mapped IPv6 on both sides is sent as TCP4',
      input: MAPPED,
      expected: `${SIGNATURE_HEX} 21 11 000c  cb007109 7f000001  9c40 01bb`,
    },
    {
      name: 'mapped source with a genuine IPv6 destination: TCP6, source stays ::ffff:a.b.c.d',
      input: { source: MAPPED.source, destination: V6.destination },
      expected: `${SIGNATURE_HEX} 21 21 0024
        00000000000000000000ffffcb007109 20010db8000000000000000000000002  9c40 20fb`,
    },
    {
      name: 'plain IPv4 source with an IPv6 destination is mapped into TCP6',
      input: { source: { address: '10.1.2.3', port: 1 }, destination: { address: '::1', port: 2 } },
      expected: `${SIGNATURE_HEX} 21 21 0024
        00000000000000000000ffff0a010203 00000000000000000000000000000001  0001 0002`,
    },
    {
      name: 'authority + unique id: length counts the TLVs (12 + 18 + 8 = 38)',
      input: { ...V4, authority: 'app.example.com', uniqueId: 'abc-1' },
      expected: `${SIGNATURE_HEX} 21 11 0026  c0000201 c6336407  dc04 01bb
        02 000f ${ascii('app.example.com')}
        05 0005 ${ascii('abc-1')}`,
    },
    {
      name: 'all TLVs in type order: ALPN, AUTHORITY, UNIQUE_ID, SSL{version} (12 + 5 + 9 + 5 + 18 = 49)',
      input: { ...V4, alpn: 'h2', authority: 'a.test', uniqueId: 'id', ssl: { version: 'TLSv1.3' } },
      expected: `${SIGNATURE_HEX} 21 11 0031  c0000201 c6336407  dc04 01bb
        01 0002 ${ascii('h2')}
        02 0006 ${ascii('a.test')}
        05 0002 ${ascii('id')}
        20 000f 01 00000001  21 0007 ${ascii('TLSv1.3')}`,
    },
    {
      name: 'SSL with a verified client certificate: client bits CONN|SESS, verify 0',
      input: { ...V4, ssl: { version: 'TLSv1.2', hasClientCert: true, clientCertVerified: true } },
      expected: `${SIGNATURE_HEX} 21 11 001e  c0000201 c6336407  dc04 01bb
        20 000f 07 00000000  21 0007 ${ascii('TLSv1.2')}`,
    },
  ])('$name', ({ input, expected }) => {
    expect(encodeProxyHeader('v2', input).toString('hex')).toBe(hex(expected).toString('hex'));
  });

  it('LOCAL: signature, ver|cmd 0x20, family UNSPEC, length 0', () => {
    expect(encodeProxyV2Local().toString('hex')).toBe(`${SIGNATURE_HEX}20000000`);
    const decoded = decodeV2(encodeProxyV2Local());
    expect(decoded.command).toBe('LOCAL');
    expect(decoded.family).toBe('UNSPEC');
  });

  it('LOCAL returns a fresh buffer each call (a caller may not corrupt the next one)', () => {
    const first = encodeProxyV2Local();
    first.fill(0);
    expect(encodeProxyV2Local().subarray(0, 12).toString('hex')).toBe(SIGNATURE_HEX);
  });
});

describe('encodeProxyHeader v2: decoded by the independent reader', () => {
  it('every TLV ends exactly at the length field, and nothing is left over', () => {
    const header = encodeProxyHeader('v2', {
      ...V6,
      alpn: 'http/1.1',
      authority: 'Www.Example.COM',
      uniqueId: 'c0ffee-1z',
      ssl: { version: 'TLSv1.3', hasClientCert: true },
    });
    const decoded = decodeV2(header);
    expect(decoded).toMatchObject({
      command: 'PROXY',
      family: 'TCP6',
      source: '2001:db8:0:0:0:0:0:1',
      destination: '2001:db8:0:0:0:0:0:2',
      sourcePort: 50000,
      destinationPort: 8443,
    });
    expect(decoded.rest.length).toBe(0);
    expect(decoded.tlvs.map((tlv) => tlv.type)).toEqual([PP2_TYPE_ALPN, PP2_TYPE_AUTHORITY, PP2_TYPE_UNIQUE_ID, PP2_TYPE_SSL]);
    expect(tlvText(decoded, PP2_TYPE_ALPN)).toBe('http/1.1');
    expect(tlvText(decoded, PP2_TYPE_AUTHORITY)).toBe('Www.Example.COM');
    expect(tlvText(decoded, PP2_TYPE_UNIQUE_ID)).toBe('c0ffee-1z');

    const ssl = decoded.tlvs.find((tlv) => tlv.type === PP2_TYPE_SSL)?.value;
    expect(ssl).toBeDefined();
    if (ssl === undefined) return;
    expect(ssl.readUInt8(0)).toBe(PP2_CLIENT_SSL | PP2_CLIENT_CERT_CONN | PP2_CLIENT_CERT_SESS);
    expect(ssl.readUInt32BE(1)).not.toBe(0); // a certificate that did not verify
    expect(ssl.readUInt8(5)).toBe(PP2_SUBTYPE_SSL_VERSION);
    expect(ssl.readUInt16BE(6)).toBe(ssl.length - 8);
    expect(ssl.subarray(8).toString('latin1')).toBe('TLSv1.3');
  });

  it('payload written after the header is left for the application', () => {
    const header = encodeProxyHeader('v2', { ...V4, authority: 'x.test' });
    const decoded = decodeV2(Buffer.concat([header, Buffer.from('\x16\x03\x01')]));
    expect(decoded.rest.toString('latin1')).toBe('\x16\x03\x01');
  });

  it('the authority goes out byte-for-byte as the reader decoded it (latin1)', () => {
    const sent = 'caf\u00e9.test'; // the ClientHello reader decodes raw bytes as latin1
    const decoded = decodeV2(encodeProxyHeader('v2', { ...V4, authority: sent }));
    const value = decoded.tlvs.find((tlv) => tlv.type === PP2_TYPE_AUTHORITY)?.value;
    expect(value?.toString('hex')).toBe('636166e92e74657374');
  });

  it('empty or absent TLV values are not sent', () => {
    const header = encodeProxyHeader('v2', { ...V4, authority: '', uniqueId: null, alpn: undefined, ssl: null });
    expect(decodeV2(header).tlvs).toEqual([]);
    expect(header.length).toBe(PP2_HEADER_BYTES + 12);
  });

  it(`an authority over ${PP2_AUTHORITY_MAX_BYTES} bytes is left out (HAProxy would refuse the whole header)`, () => {
    const atLimit = `${'a'.repeat(PP2_AUTHORITY_MAX_BYTES - 5)}.test`;
    expect(tlvText(decodeV2(encodeProxyHeader('v2', { ...V4, authority: atLimit })), PP2_TYPE_AUTHORITY)).toBe(atLimit);
    const tooLong = `a${atLimit}`;
    const decoded = decodeV2(encodeProxyHeader('v2', { ...V4, authority: tooLong, uniqueId: 'kept' }));
    expect(tlvText(decoded, PP2_TYPE_AUTHORITY)).toBeUndefined();
    expect(tlvText(decoded, PP2_TYPE_UNIQUE_ID)).toBe('kept');
  });

  it(`a unique id over ${PP2_UNIQUE_ID_MAX_BYTES} bytes is a programmer error`, () => {
    const atLimit = 'u'.repeat(PP2_UNIQUE_ID_MAX_BYTES);
    expect(tlvText(decodeV2(encodeProxyHeader('v2', { ...V4, uniqueId: atLimit })), PP2_TYPE_UNIQUE_ID)).toBe(atLimit);
    expect(() => encodeProxyHeader('v2', { ...V4, uniqueId: `${atLimit}u` })).toThrow(RangeError);
  });
});

describe('encodeProxyHeader v2: read back by proxy-protocol-js', () => {
  it('IPv4 addresses and ports', () => {
    const parsed = V2ProxyProtocol.parse(encodeProxyHeader('v2', V4));
    expect(parsed.command).toBe(Command.PROXY);
    expect(parsed.transportProtocol).toBe(TransportProtocol.STREAM);
    expect(parsed.proxyAddress).toBeInstanceOf(IPv4ProxyAddress);
    const address = parsed.proxyAddress as IPv4ProxyAddress;
    expect(address.sourceAddress.address).toEqual([192, 0, 2, 1]);
    expect(address.destinationAddress.address).toEqual([198, 51, 100, 7]);
    expect([address.sourcePort, address.destinationPort]).toEqual([56324, 443]);
  });

  it('IPv6 addresses and ports', () => {
    const parsed = V2ProxyProtocol.parse(encodeProxyHeader('v2', { ...V6, authority: 'six.test' }));
    expect(parsed.proxyAddress).toBeInstanceOf(IPv6ProxyAddress);
    const address = parsed.proxyAddress as IPv6ProxyAddress;
    expect(Buffer.from(address.sourceAddress.address).toString('hex')).toBe('20010db8000000000000000000000001');
    expect([address.sourcePort, address.destinationPort]).toEqual([50000, 8443]);
  });

  it('quirk: its parser ignores the length field, so TLVs and payload come back together as `data`', () => {
    const header = encodeProxyHeader('v2', { ...V4, authority: 'a.test' });
    const parsed = V2ProxyProtocol.parse(Buffer.concat([header, Buffer.from('GET')]));
    expect(Buffer.from(parsed.data ?? []).toString('latin1')).toBe('\x02\x00\x06a.testGET');
  });

  it('quirk: its builder writes the address-block length only, which is why we patch offset 14', () => {
    const tlv = Buffer.from([PP2_TYPE_AUTHORITY, 0x00, 0x01, 0x61]);
    const address = new IPv4ProxyAddress(IPv4Address.createFrom([192, 0, 2, 1]), 56324, IPv4Address.createFrom([198, 51, 100, 7]), 443);
    const built = Buffer.from(new V2ProxyProtocol(Command.PROXY, TransportProtocol.STREAM, address, tlv).build());
    expect(built.readUInt16BE(14)).toBe(12); // should be 16: a receiver would read the TLV as payload
    expect(decodeV2(built).tlvs).toEqual([]);
    const ours = encodeProxyHeader('v2', { ...V4, authority: 'a' });
    expect(ours.subarray(16).equals(built.subarray(16))).toBe(true);
    expect(ours.readUInt16BE(14)).toBe(16);
  });
});

describe('encodeProxyHeader v1', () => {
  it.each([
    { name: 'IPv4', input: V4, expected: 'PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n' },
    { name: 'IPv6', input: V6, expected: 'PROXY TCP6 2001:db8::1 2001:db8::2 50000 8443\r\n' },
    { name: 'mapped on both sides', input: MAPPED, expected: 'PROXY TCP4 203.0.113.9 127.0.0.1 40000 443\r\n' },
    {
      name: 'mapped with IPv6',
      input: { source: MAPPED.source, destination: V6.destination },
      expected: 'PROXY TCP6 ::ffff:203.0.113.9 2001:db8::2 40000 8443\r\n',
    },
    {
      name: 'TLV fields are ignored',
      input: { ...V4, authority: 'a.test', uniqueId: 'id', alpn: 'h2', ssl: { version: 'TLSv1.3' } },
      expected: 'PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n',
    },
  ])('$name', ({ input, expected }) => {
    const header = encodeProxyHeader('v1', input);
    expect(header.toString('latin1')).toBe(expected);
    const parsed = V1BinaryProxyProtocol.parse(header);
    expect(parsed.inetProtocol).toBe(expected.slice(6, 10));
    expect(parsed.source.port).toBe(input.source.port);
    expect(parsed.destination.port).toBe(input.destination.port);
    expect(parsed.data?.length ?? 0).toBe(0);
  });

  it.each([
    ['0:0:0:0:0:0:0:1', '::1'],
    ['::', '::'],
    ['2001:DB8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // the first of two equal zero runs is compressed
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group is not
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'], // the longest run wins
    ['fe80::1%eth0', 'fe80::1'], // a zone id does not travel
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['::1.2.3.4', '::102:304'], // IPv4-compatible (deprecated), not mapped: stays IPv6
  ])('IPv6 text %s is written as %s (RFC 5952)', (address, text) => {
    const header = encodeProxyHeader('v1', { source: { address, port: 1 }, destination: { address: '::1', port: 2 } });
    expect(header.toString('latin1')).toBe(`PROXY TCP6 ${text} ::1 1 2\r\n`);
  });

  it(`the longest possible line fits in ${PP1_MAX_BYTES} bytes`, () => {
    const longest = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe';
    const header = encodeProxyHeader('v1', { source: { address: longest, port: 65535 }, destination: { address: longest, port: 65535 } });
    expect(header.length).toBeLessThanOrEqual(PP1_MAX_BYTES);
  });
});

describe('encodeProxyHeader: programmer errors throw', () => {
  it.each(['', 'localhost', '1.2.3', '1.2.3.4.5', '1.2.3.256', '01234.1.1.1', '1:2:3', ':::', '1::2::3', '12345::', '::g', '1:2:3:4:5:6:7:8:9', '::ffff:1.2.3', '1.2.3.4::', ':1::', '1:', '%eth0', '1:2:3:4:5:6:7:1.2.3.4', '::1.2.3.4:5', '12345::1'])(
    'address %j',
    (address) => {
      expect(() => encodeProxyHeader('v2', { source: { address, port: 1 }, destination: V4.destination })).toThrow(TypeError);
    },
  );

  it.each([-1, 65536, 1.5, Number.NaN])('port %s', (port) => {
    expect(() => encodeProxyHeader('v2', { source: { address: '1.2.3.4', port }, destination: V4.destination })).toThrow(RangeError);
    expect(() => encodeProxyHeader('v1', { source: V4.source, destination: { address: '1.2.3.4', port } })).toThrow(RangeError);
  });
});

describe('encodeProxyHeader: properties', () => {
  /** The oracle for IPv6 text: the WHATWG URL parser's canonical form. */
  const canonicalIPv6 = (text: string): string => new URL(`http://[${text}]/`).hostname.slice(1, -1);
  const isMapped = (text: string): boolean => canonicalIPv6(text).startsWith('::ffff:') && canonicalIPv6(text).split(':').length === 5;
  const address = fc.oneof(fc.ipV4(), fc.ipV6());
  const port = fc.integer({ min: 0, max: 65535 });
  const text = fc.option(fc.string({ unit: 'binary-ascii', maxLength: 64 }), { nil: null });

  it('any address pair and TLV set decodes to the same addresses, ports and TLVs', () => {
    fc.assert(
      fc.property(address, port, address, port, text, text, (src, sport, dst, dport, authority, uniqueId) => {
        const header = encodeProxyHeader('v2', { source: { address: src, port: sport }, destination: { address: dst, port: dport }, authority, uniqueId });
        const decoded = decodeV2(header);
        expect(decoded.rest.length).toBe(0);
        expect([decoded.sourcePort, decoded.destinationPort]).toEqual([sport, dport]);
        const v4 = (a: string): boolean => net.isIPv4(a) || isMapped(a);
        expect(decoded.family).toBe(v4(src) && v4(dst) ? 'TCP4' : 'TCP6');
        const expectText = (sent: string, got: string): void => {
          if (decoded.family === 'TCP4') {
            expect(got).toBe(net.isIPv4(sent) ? sent.split('.').map(Number).join('.') : canonicalIPv6(sent).replace(/^::ffff:/, '').split(':').map((g) => parseInt(g, 16)).flatMap((g) => [g >> 8, g & 0xff]).join('.'));
          } else {
            expect(canonicalIPv6(got)).toBe(canonicalIPv6(net.isIPv4(sent) ? `::ffff:${sent}` : sent));
          }
        };
        expectText(src, decoded.source);
        expectText(dst, decoded.destination);
        expect(tlvText(decoded, PP2_TYPE_AUTHORITY)).toBe(authority === null || authority === '' ? undefined : authority);
        expect(tlvText(decoded, PP2_TYPE_UNIQUE_ID)).toBe(uniqueId === null || uniqueId === '' ? undefined : uniqueId);
      }),
      { numRuns: 500 },
    );
  });

  it('v1 IPv6 text is what the URL parser writes, for every non-mapped IPv6 address', () => {
    fc.assert(
      fc.property(fc.ipV6(), (addr) => {
        fc.pre(!isMapped(addr));
        const line = encodeProxyHeader('v1', { source: { address: addr, port: 1 }, destination: { address: '::1', port: 2 } }).toString('latin1');
        expect(line).toBe(`PROXY TCP6 ${canonicalIPv6(addr)} ::1 1 2\r\n`);
      }),
      { numRuns: 500 },
    );
  });
});
