/**
 * wire/ip-address.ts is the one judge of IP address text (config values, trusted networks, PROXY headers). It
 * must accept exactly what node:net accepts, since a socket is what finally uses the address: compared here on
 * generated addresses, on near-misses built from address characters, and on the spellings that differ between
 * parsers (leading zeros, zones).
 */
import net from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addressBytes, ipVersionOf, unmapIPv4 } from '../../src/wire/ip-address.js';

const nodeVersion = (text: string): number => net.isIP(text);

describe('ipVersionOf agrees with node:net', () => {
  it.each([
    '1.2.3.4', '0.0.0.0', '255.255.255.255', '01.2.3.4', '1.2.3.04', '256.1.1.1', '1.2.3', '1.2.3.4.', ' 1.2.3.4',
    '::', '::1', '::ffff:1.2.3.4', '::ffff:01.2.3.4', 'fe80::1%eth0', 'fe80::1%', 'fe80::1%eth 0', 'fe80::1%a%b',
    '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7::', '::1:2:3:4:5:6:7', '1:2:3:4:5:6:1.2.3.4', '1::2::3', '12345::', 'localhost', '',
  ])('%j', (text) => {
    expect(ipVersionOf(text)).toBe(nodeVersion(text));
  });

  it('on generated IPv4, IPv6 and extended (octal, hex) spellings', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6(), fc.ipV4Extended()), (text) => {
        expect(ipVersionOf(text)).toBe(nodeVersion(text));
      }),
      { numRuns: 2_000 },
    );
  });

  it('on strings made of address characters (the near-misses)', () => {
    const unit = fc.constantFrom(...'0123456789abcdefABCDEFxg:.%- '.split(''));
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 45 }), (text) => {
        expect(ipVersionOf(text)).toBe(nodeVersion(text));
      }),
      { numRuns: 20_000 },
    );
  });
});

describe('addressBytes', () => {
  it('gives 4 bytes for IPv4 and 16 for IPv6, the zone dropped', () => {
    expect(addressBytes('10.1.2.3')).toEqual([10, 1, 2, 3]);
    expect(addressBytes('fe80::1%eth0')).toEqual([0xfe, 0x80, ...new Array<number>(13).fill(0), 1]);
    expect(addressBytes('nope')).toBeNull();
  });

  it('unmapIPv4 folds ::ffff:a.b.c.d to its IPv4 bytes and leaves other addresses alone', () => {
    expect(unmapIPv4(addressBytes('::ffff:192.0.2.7') ?? [])).toEqual([192, 0, 2, 7]);
    expect(unmapIPv4(addressBytes('::1') ?? [])).toHaveLength(16);
  });
});
