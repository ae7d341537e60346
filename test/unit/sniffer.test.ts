/** The sniffer as a value: the TLS sniffer's verdicts over ClientHelloReader, and the alert records it answers with. */
import { describe, expect, it } from 'vitest';
import { TLS_SNIFFER, tlsAlertRecord } from '../../src/wire/sniffer.js';
import { buildClientHello, toRecords } from '../helpers/hello-builder.js';

const limits = { maxBytes: 64 * 1024 };

describe('TLS sniffer', () => {
  it('finds the server name and ALPN of a hello fed one byte at a time', () => {
    const hello = toRecords(buildClientHello({ sni: 'app.test', alpn: ['h2', 'http/1.1'] }), 'one');
    const reader = TLS_SNIFFER.newReader(limits);
    for (let i = 0; i < hello.length - 1; i++) expect(reader.push(hello.subarray(i, i + 1)).kind).toBe('need_more');
    expect(reader.push(hello.subarray(hello.length - 1))).toEqual({ kind: 'found', serverName: 'app.test', alpn: ['h2', 'http/1.1'], byteLength: hello.length });
  });

  it('reports a hello without SNI as found with no name, and plain text as foreign', () => {
    const noSni = TLS_SNIFFER.newReader(limits).push(toRecords(buildClientHello({ sni: null }), 'one'));
    expect(noSni).toMatchObject({ kind: 'found', serverName: null });
    expect(TLS_SNIFFER.newReader(limits).push(Buffer.from('GET / HTTP/1.1\r\n'))).toEqual({ kind: 'foreign' });
  });

  it('answers malformed with decode_error (50), an unknown name with unrecognized_name (112), the rest with nothing', () => {
    expect(TLS_SNIFFER.abortMessage('malformed')).toEqual(Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 50]));
    expect(TLS_SNIFFER.abortMessage('unknown_name')).toEqual(Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 112]));
    expect(TLS_SNIFFER.abortMessage('no_name')).toBeNull();
    expect(TLS_SNIFFER.abortMessage('too_large')).toBeNull();
    expect(tlsAlertRecord(40)[6]).toBe(40);
  });
});
