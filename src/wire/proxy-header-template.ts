/**
 * A PROXY v2 header built once and filled per connection: what is the same for every connection of a route
 * (signature, family, length, the AUTHORITY TLV of an exact route's name, the layout of the UNIQUE_ID TLV) is
 * encoded by encodeProxyHeader — proxy-protocol-js stays the encoder of record — and each connection only writes
 * its two addresses, two ports and its id into a copy. test/unit/proxy-header-template.test.ts checks the result
 * byte for byte against encodeProxyHeader.
 */
import { IPV4_ADDRESS_BYTES, IPV6_ADDRESS_BYTES } from './ip-address.js';
import { addressPair, checkPort, encodeProxyHeader, PP2_HEADER_BYTES, type ProxyEndpoint } from './proxy-header.js';

const IPV4_ZERO: ProxyEndpoint = { address: '0.0.0.0', port: 0 };
const IPV6_ZERO: ProxyEndpoint = { address: '::', port: 0 };

export interface ProxyV2TemplateKey {
  readonly isIPv4: boolean;
  /** The AUTHORITY TLV's value (an over-long one is left out, as encodeProxyHeader does), or null. */
  readonly authority: string | null;
  /** Length of the UNIQUE_ID TLV's value (the connection id), 1–128. */
  readonly uniqueIdBytes: number;
}

export class ProxyV2Template {
  readonly key: ProxyV2TemplateKey;
  readonly #bytes: Buffer;
  readonly #uniqueIdAt: number;

  constructor(key: ProxyV2TemplateKey) {
    this.key = key;
    const zero = key.isIPv4 ? IPV4_ZERO : IPV6_ZERO;
    this.#bytes = encodeProxyHeader('v2', { source: zero, destination: zero, authority: key.authority, uniqueId: 'x'.repeat(key.uniqueIdBytes) });
    // UNIQUE_ID is the last TLV when there is no ALPN/SSL (passthrough): its value ends the header.
    this.#uniqueIdAt = this.#bytes.length - key.uniqueIdBytes;
  }

  /** The header for one connection. Throws as encodeProxyHeader does on a bad address or port. */
  fill(source: ProxyEndpoint, destination: ProxyEndpoint, uniqueId: string): Buffer {
    const pair = addressPair({ source, destination });
    if (pair.isIPv4 !== this.key.isIPv4) throw new RangeError('PROXY header template: address family differs from the template');
    if (uniqueId.length !== this.key.uniqueIdBytes) throw new RangeError('PROXY header template: unique id length differs from the template');
    const out = Buffer.allocUnsafe(this.#bytes.length);
    this.#bytes.copy(out);
    const size = pair.isIPv4 ? IPV4_ADDRESS_BYTES : IPV6_ADDRESS_BYTES;
    let at = PP2_HEADER_BYTES;
    for (let i = 0; i < size; i++) out[at + i] = pair.source[i]!;
    at += size;
    for (let i = 0; i < size; i++) out[at + i] = pair.destination[i]!;
    at += size;
    out.writeUInt16BE(checkPort(source.port), at);
    out.writeUInt16BE(checkPort(destination.port), at + 2);
    out.write(uniqueId, this.#uniqueIdAt, 'latin1');
    return out;
  }
}
