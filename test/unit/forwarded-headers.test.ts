/** The header rules of HTTP mode, as pure functions: who is trusted to extend X-Forwarded-For, what is hop-by-hop. */
import { describe, expect, it } from 'vitest';
import { backendRequestHeaders, clientResponseHeaders } from '../../src/data-path/http/forwarded-headers.js';

const untrusted = { clientAddress: '192.0.2.7', isPeerTrusted: false, localPort: 443 };
const trusted = { ...untrusted, isPeerTrusted: true };

describe('backendRequestHeaders', () => {
  it('replaces X-Forwarded-For and Forwarded from an untrusted peer, appends to a trusted one\'s', () => {
    const incoming = { 'x-forwarded-for': '6.6.6.6', forwarded: 'for=6.6.6.6' };
    expect(backendRequestHeaders(incoming, 'a.test', untrusted)).toMatchObject({ 'x-forwarded-for': '192.0.2.7', forwarded: 'for=192.0.2.7;host=a.test;proto=https' });
    expect(backendRequestHeaders(incoming, 'a.test', trusted)).toMatchObject({
      'x-forwarded-for': '6.6.6.6, 192.0.2.7',
      forwarded: 'for=6.6.6.6, for=192.0.2.7;host=a.test;proto=https',
    });
  });

  it('quotes an IPv6 client and a host with a port in Forwarded (RFC 7239 §6)', () => {
    const headers = backendRequestHeaders({}, 'a.test:8443', { ...untrusted, clientAddress: '2001:db8::1' });
    expect(headers.forwarded).toBe('for="[2001:db8::1]";host="a.test:8443";proto=https');
    expect(headers['x-forwarded-for']).toBe('2001:db8::1');
  });

  it('drops hop-by-hop headers, those Connection names, pseudo-headers and Expect; sets Host and the X-Forwarded set', () => {
    const headers = backendRequestHeaders(
      { ':method': 'GET', ':authority': 'a.test', connection: 'keep-alive, x-private', 'x-private': '1', 'keep-alive': '5', te: 'trailers', upgrade: 'h2c', expect: '100-continue', accept: '*/*' },
      'a.test',
      untrusted,
    );
    expect(headers).toEqual({
      accept: '*/*',
      host: 'a.test',
      'x-forwarded-for': '192.0.2.7',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'a.test',
      'x-forwarded-port': '443',
      forwarded: 'for=192.0.2.7;host=a.test;proto=https',
    });
  });

  it('keeps Upgrade and Connection: upgrade for a WebSocket handshake', () => {
    const headers = backendRequestHeaders({ connection: 'Upgrade', upgrade: 'websocket' }, 'a.test', untrusted, true);
    expect(headers).toMatchObject({ connection: 'upgrade', upgrade: 'websocket' });
  });
});

describe('clientResponseHeaders', () => {
  it('drops hop-by-hop headers (h2 forbids them) and adds HSTS when set', () => {
    const out = clientResponseHeaders({ connection: 'keep-alive', 'keep-alive': 'timeout=5', 'transfer-encoding': 'chunked', 'content-type': 'text/html' }, 'max-age=600');
    expect(out).toEqual({ 'content-type': 'text/html', 'strict-transport-security': 'max-age=600' });
    expect(clientResponseHeaders({ 'content-type': 'text/html' }, null)).toEqual({ 'content-type': 'text/html' });
  });
});
