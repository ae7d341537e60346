/**
 * Real parsers judge our PROXY headers: HAProxy 2.6 (`bind ... accept-proxy`) and nginx 1.22
 * (`listen ... proxy_protocol`). Each test writes header + a plain HTTP/1.0 request in one write and reads
 * back what the peer says it saw. Skipped, with the reason, only where the peer binary is not installed.
 */
import { Command, IPv4Address, IPv4ProxyAddress, TransportProtocol, V2ProxyProtocol } from 'proxy-protocol-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeProxyHeader, PP2_OFFSET_LENGTH, PP2_TYPE_AUTHORITY, type ProxyHeaderInput } from '../../src/wire/proxy-header.js';
import { hasHaproxy, hasNginx, PEER_MISSING_REASON, startHaproxy, startNginx, type PeerProcess } from '../helpers/peers.js';
import { canListen, exchange, freePort, LOOPBACK_IPV4, LOOPBACK_IPV6 } from '../helpers/ports.js';

const REQUEST = Buffer.from('GET / HTTP/1.0\r\n\r\n');

/** Sends header + request; returns the HTTP body, or fails with what came back instead. */
async function bodyFor(host: string, port: number, header: Buffer): Promise<string> {
  const reply = await exchange(host, port, Buffer.concat([header, REQUEST]));
  const text = reply.data.toString('latin1');
  const [head = '', body = ''] = text.split('\r\n\r\n', 2);
  expect(head, `reply ended by ${reply.end}${reply.error === undefined ? '' : ` (${reply.error})`}: ${JSON.stringify(text)}`).toMatch(/^HTTP\/1\.[01] 200/);
  return body.trim();
}

const CLIENT_V4: ProxyHeaderInput = {
  source: { address: '203.0.113.9', port: 40001 },
  destination: { address: '198.51.100.7', port: 443 },
  authority: 'app.example.com',
  uniqueId: 'c0ffee-1',
};
const CLIENT_V6: ProxyHeaderInput = {
  source: { address: '2001:db8::9', port: 40002 },
  destination: { address: '2001:db8::443', port: 8443 },
  authority: 'six.example.com',
  uniqueId: 'c0ffee-2',
};
const CLIENT_MAPPED: ProxyHeaderInput = {
  source: { address: '::ffff:203.0.113.10', port: 40003 },
  destination: { address: '::ffff:198.51.100.7', port: 443 },
  authority: 'mapped.example.com',
  uniqueId: 'c0ffee-3',
};
const CLIENT_ALL_TLVS: ProxyHeaderInput = {
  source: { address: '203.0.113.11', port: 40004 },
  destination: { address: '198.51.100.7', port: 443 },
  alpn: 'h2',
  authority: 'tls.example.com',
  uniqueId: 'c0ffee-4',
  ssl: { version: 'TLSv1.3', hasClientCert: true, clientCertVerified: true },
};

describe.skipIf(!hasHaproxy())(`HAProxy accept-proxy reads our header${hasHaproxy() ? '' : ` — skipped: ${PEER_MISSING_REASON.haproxy}`}`, () => {
  let haproxy: PeerProcess | undefined;
  let portV4 = 0;
  let portV6 = 0;
  let hasIPv6 = false;

  beforeAll(async () => {
    hasIPv6 = await canListen(LOOPBACK_IPV6);
    portV4 = await freePort(LOOPBACK_IPV4);
    portV6 = hasIPv6 ? await freePort(LOOPBACK_IPV6) : 0;
    // fc_pp_authority / fc_pp_unique_id are HAProxy's view of PP2_TYPE_AUTHORITY / PP2_TYPE_UNIQUE_ID.
    // 2.6 has no fetch for ALPN or SSL TLVs (fc_pp_tlv came in 2.9); it does walk them and bounds-check each.
    const config = `
global
  log stderr format raw local0 info

defaults
  mode http
  log global
  option httplog
  timeout connect 2s
  timeout client 5s
  timeout server 5s

frontend pp
  bind ${LOOPBACK_IPV4}:${portV4} accept-proxy
  ${hasIPv6 ? `bind ipv6@${LOOPBACK_IPV6}:${portV6} accept-proxy` : ''}
  http-request return status 200 content-type text/plain lf-string "src=%[src] sport=%[src_port] dst=%[dst] dport=%[dst_port] authority=%[fc_pp_authority] uid=%[fc_pp_unique_id]"
`;
    const readyPorts = hasIPv6 ? [portV4, { host: LOOPBACK_IPV6, port: portV6 }] : [portV4];
    haproxy = await startHaproxy(config, { readyPorts });
  });

  afterAll(async () => {
    await haproxy?.stop();
  });

  it.each([
    { name: 'v2 IPv4 with authority and unique id', input: CLIENT_V4, expected: 'src=203.0.113.9 sport=40001 dst=198.51.100.7 dport=443 authority=app.example.com uid=c0ffee-1' },
    { name: 'v2 IPv6', input: CLIENT_V6, expected: 'src=2001:db8::9 sport=40002 dst=2001:db8::443 dport=8443 authority=six.example.com uid=c0ffee-2' },
    { name: 'v2 from IPv4-mapped addresses (sent as TCP4)', input: CLIENT_MAPPED, expected: 'src=203.0.113.10 sport=40003 dst=198.51.100.7 dport=443 authority=mapped.example.com uid=c0ffee-3' },
    { name: 'v2 with ALPN and SSL TLVs around authority and unique id', input: CLIENT_ALL_TLVS, expected: 'src=203.0.113.11 sport=40004 dst=198.51.100.7 dport=443 authority=tls.example.com uid=c0ffee-4' },
  ])('$name on the IPv4 listener', async ({ input, expected }) => {
    expect(await bodyFor(LOOPBACK_IPV4, portV4, encodeProxyHeader('v2', input))).toBe(expected);
  });

  it('v2 IPv6 header on the [::1] listener', async (context) => {
    if (!hasIPv6) context.skip('this machine cannot listen on ::1');
    const body = await bodyFor(LOOPBACK_IPV6, portV6, encodeProxyHeader('v2', CLIENT_V6));
    expect(body).toBe('src=2001:db8::9 sport=40002 dst=2001:db8::443 dport=8443 authority=six.example.com uid=c0ffee-2');
  });

  it('v2 with an IPv4-mapped source and a genuine IPv6 destination (TCP6, ::ffff: kept)', async () => {
    const input: ProxyHeaderInput = { source: CLIENT_MAPPED.source, destination: CLIENT_V6.destination, authority: 'mixed.example.com' };
    const body = await bodyFor(LOOPBACK_IPV4, portV4, encodeProxyHeader('v2', input));
    expect(body).toBe('src=::ffff:203.0.113.10 sport=40003 dst=2001:db8::443 dport=8443 authority=mixed.example.com uid=');
  });

  it.each([
    { name: 'IPv4', input: CLIENT_V4, expected: 'src=203.0.113.9 sport=40001 dst=198.51.100.7 dport=443 authority= uid=' },
    { name: 'IPv6', input: CLIENT_V6, expected: 'src=2001:db8::9 sport=40002 dst=2001:db8::443 dport=8443 authority= uid=' },
    { name: 'mapped', input: CLIENT_MAPPED, expected: 'src=203.0.113.10 sport=40003 dst=198.51.100.7 dport=443 authority= uid=' },
  ])('v1 $name (addresses only)', async ({ input, expected }) => {
    expect(await bodyFor(LOOPBACK_IPV4, portV4, encodeProxyHeader('v1', input))).toBe(expected);
  });

  it('negative: the same v2 header with its length field one byte short is refused', async () => {
    // Proves HAProxy really judges the length: the last TLV then runs past the header and it drops the
    // connection before reading any HTTP.
    const header = encodeProxyHeader('v2', CLIENT_ALL_TLVS);
    header.writeUInt16BE(header.readUInt16BE(PP2_OFFSET_LENGTH) - 1, PP2_OFFSET_LENGTH);
    const reply = await exchange(LOOPBACK_IPV4, portV4, Buffer.concat([header, REQUEST]));
    expect(reply.data.toString('latin1')).toBe('');
    expect(reply.end).not.toBe('timeout');
    await haproxy?.waitForLog(/Received an invalid PROXY protocol header/);
  });

  it('negative: proxy-protocol-js output with TLVs, unpatched, does not carry the TLVs (why we set the length)', async () => {
    // The library's length counts the address block only, so HAProxy ends the header there and parses the
    // TLV bytes as the start of the HTTP request.
    const tlv = Buffer.concat([Buffer.from([PP2_TYPE_AUTHORITY, 0, 'x.test'.length]), Buffer.from('x.test')]);
    const address = new IPv4ProxyAddress(IPv4Address.createFrom([203, 0, 113, 12]), 40005, IPv4Address.createFrom([198, 51, 100, 7]), 443);
    const header = Buffer.from(new V2ProxyProtocol(Command.PROXY, TransportProtocol.STREAM, address, tlv).build());
    const reply = await exchange(LOOPBACK_IPV4, portV4, Buffer.concat([header, REQUEST]));
    expect(reply.data.toString('latin1')).toMatch(/^HTTP\/1\.[01] 400/);
  });
});

describe.skipIf(!hasNginx())(`nginx listen proxy_protocol reads our header${hasNginx() ? '' : ` — skipped: ${PEER_MISSING_REASON.nginx}`}`, () => {
  let nginx: PeerProcess | undefined;
  let port = 0;

  beforeAll(async () => {
    port = await freePort(LOOPBACK_IPV4);
    nginx = await startNginx(
      {
        http: `
  server {
    listen ${LOOPBACK_IPV4}:${port} proxy_protocol;
    default_type text/plain;
    return 200 "$proxy_protocol_addr $proxy_protocol_port $proxy_protocol_server_addr $proxy_protocol_server_port";
  }`,
      },
      { readyPorts: [port] },
    );
  });

  afterAll(async () => {
    await nginx?.stop();
  });

  it.each([
    { name: 'v1 IPv4', version: 'v1', input: CLIENT_V4, expected: '203.0.113.9 40001 198.51.100.7 443' },
    { name: 'v1 IPv6', version: 'v1', input: CLIENT_V6, expected: '2001:db8::9 40002 2001:db8::443 8443' },
    { name: 'v2 IPv4 with authority and unique id', version: 'v2', input: CLIENT_V4, expected: '203.0.113.9 40001 198.51.100.7 443' },
    { name: 'v2 IPv6', version: 'v2', input: CLIENT_V6, expected: '2001:db8::9 40002 2001:db8::443 8443' },
    { name: 'v2 mapped (sent as TCP4)', version: 'v2', input: CLIENT_MAPPED, expected: '203.0.113.10 40003 198.51.100.7 443' },
    { name: 'v2 with ALPN, authority, unique id and SSL TLVs', version: 'v2', input: CLIENT_ALL_TLVS, expected: '203.0.113.11 40004 198.51.100.7 443' },
  ] as const)('$name', async ({ version, input, expected }) => {
    expect(await bodyFor(LOOPBACK_IPV4, port, encodeProxyHeader(version, input))).toBe(expected);
  });

  it('negative: a v2 length field longer than what was sent is refused', async () => {
    const header = encodeProxyHeader('v2', CLIENT_ALL_TLVS);
    header.writeUInt16BE(header.readUInt16BE(PP2_OFFSET_LENGTH) + 2 * REQUEST.length, PP2_OFFSET_LENGTH);
    const reply = await exchange(LOOPBACK_IPV4, port, Buffer.concat([header, REQUEST]));
    expect(reply.data.toString('latin1')).not.toMatch(/ 200 /);
    await nginx?.waitForLog(/(broken header|header is too large).*while reading PROXY protocol/);
  });
});
