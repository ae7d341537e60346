/**
 * The native plane sends PROXY v2 headers filled into a template (wire/proxy-header-template.ts); proxy-protocol-js,
 * through encodeProxyHeader, stays the encoder of record. The two must agree byte for byte on every input.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeProxyHeader, type ProxyEndpoint } from '../../src/wire/proxy-header.js';
import { ProxyV2Template } from '../../src/wire/proxy-header-template.js';
import { ProxyHeaderTemplates } from '../../src/serve/proxy-header-templates.js';

const hex = (length: number): fc.Arbitrary<string> => fc.string({ minLength: length, maxLength: length, unit: fc.constantFrom(...'0123456789abcdef') });
const port = fc.integer({ min: 0, max: 0xffff });
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((parts) => parts.join('.'));
const ipv6 = fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }).map((groups) => groups.map((group) => group.toString(16)).join(':'));
/** What node reports on a dual-stack socket for an IPv4 client: folded to IPv4 in the header. */
const mapped = ipv4.map((address) => `::ffff:${address}`);
const endpoint = (address: fc.Arbitrary<string>): fc.Arbitrary<ProxyEndpoint> => fc.record({ address, port });
/** Host names, empty, and ones past the AUTHORITY limit (left out by both encoders). */
const authority = fc.oneof(
  fc.constant(null),
  fc.constant(''),
  fc.domain(),
  fc.string({ minLength: 256, maxLength: 300, unit: fc.constantFrom('a', 'b', '.') }),
);
/** Connection ids as nextConnectionId makes them, and any other ASCII of 1–128 bytes. */
const uniqueId = fc.oneof(
  fc.tuple(hex(8), fc.nat().map((n) => n.toString(36))).map(([prefix, count]) => `${prefix}-${count}`),
  fc.string({ minLength: 1, maxLength: 128, unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)) }),
);
const addresses = fc.oneof(
  fc.tuple(endpoint(ipv4), endpoint(ipv4)),
  fc.tuple(endpoint(ipv6), endpoint(ipv6)),
  fc.tuple(endpoint(mapped), endpoint(ipv4)),
  fc.tuple(endpoint(ipv4), endpoint(ipv6)),
);

describe('PROXY v2 header template', () => {
  it('fills the same bytes encodeProxyHeader writes, over generated addresses, ports, names and ids', () => {
    fc.assert(
      fc.property(addresses, authority, uniqueId, ([source, destination], name, id) => {
        const expected = encodeProxyHeader('v2', { source, destination, authority: name, uniqueId: id });
        const viaCache = new ProxyHeaderTemplates().encode('v2', { source, destination, authority: name, uniqueId: id });
        expect(viaCache.equals(expected)).toBe(true);
      }),
      { numRuns: 2_000 },
    );
  });

  it('one template serves many connections: each fill is whole and independent of the last', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(endpoint(ipv4), endpoint(ipv4), hex(12)), { minLength: 2, maxLength: 20 }), (connections) => {
        const template = new ProxyV2Template({ isIPv4: true, authority: 'app.example.com', uniqueIdBytes: 12 });
        const filled = connections.map(([source, destination, id]) => template.fill(source, destination, id));
        connections.forEach(([source, destination, id], index) => {
          expect(filled[index]!.equals(encodeProxyHeader('v2', { source, destination, authority: 'app.example.com', uniqueId: id }))).toBe(true);
        });
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a connection that does not fit the template instead of sending a wrong header', () => {
    const template = new ProxyV2Template({ isIPv4: true, authority: null, uniqueIdBytes: 4 });
    expect(() => template.fill({ address: '::1', port: 1 }, { address: '::1', port: 2 }, 'abcd')).toThrow(/family/);
    expect(() => template.fill({ address: '10.0.0.1', port: 1 }, { address: '10.0.0.2', port: 2 }, 'abc')).toThrow(/length/);
  });
});
