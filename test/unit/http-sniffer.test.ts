import { describe, expect, it } from 'vitest';
import { HTTP_SNIFFER } from '../../src/wire/http-sniffer.js';

describe('HTTP sniffer (the second sniffer beside TLS)', () => {
  const limits = { maxBytes: 1024 };
  it('finds the Host name and the head length, split anywhere', () => {
    const head = Buffer.from('GET /x HTTP/1.1\r\nHost: App.Test:80\r\n\r\n');
    for (let cut = 0; cut <= head.length; cut++) {
      const reader = HTTP_SNIFFER.newReader(limits);
      const first = reader.push(head.subarray(0, cut));
      const answer = cut === head.length ? first : reader.push(head.subarray(cut));
      expect(answer).toEqual({ kind: 'found', serverName: 'App.Test', alpn: [], byteLength: head.length });
    }
  });
  it('calls a TLS hello foreign, an IPv6 Host no name, and answers aborts in HTTP', () => {
    expect(HTTP_SNIFFER.newReader(limits).push(Buffer.from([0x16, 0x03, 0x01]))).toEqual({ kind: 'foreign' });
    expect(HTTP_SNIFFER.newReader(limits).push(Buffer.from('GET / HTTP/1.1\r\nHost: [::1]\r\n\r\n'))).toMatchObject({ kind: 'found', serverName: null });
    expect(HTTP_SNIFFER.newReader({ maxBytes: 10 }).push(Buffer.from('GET / HTTP/1.1\r\n')).kind).toBe('too_large');
    expect(HTTP_SNIFFER.abortMessage('malformed')?.toString()).toMatch(/^HTTP\/1\.1 400 /);
    expect(HTTP_SNIFFER.abortMessage('too_large')?.toString()).toMatch(/^HTTP\/1\.1 431 /);
    expect(HTTP_SNIFFER.abortMessage('unknown_name')?.toString()).toMatch(/^HTTP\/1\.1 404 /);
  });
});
