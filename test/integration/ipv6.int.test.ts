/**
 * IPv6 and dual-stack listeners: clients from ::1 and 127.0.0.1 are routed, and the PROXY v2 header always
 * carries one family — a `::ffff:a.b.c.d` client of a dual-stack listener goes out as IPv4.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRouter, type TestRouter } from '../helpers/router-harness.js';
import { startCaptureBackend, type CaptureBackend } from '../helpers/backends.js';
import { connectRaw } from '../helpers/clients.js';
import { decodeV2 } from '../helpers/proxy-decode.js';
import { buildClientHello, toRecords } from '../helpers/hello-builder.js';
import { deadPort } from '../helpers/backends.js';
import type net from 'node:net';

const HELLO = toRecords(buildClientHello({ sni: 'six.test' }), 'one');

describe('IPv6 and dual-stack', () => {
  let backend: CaptureBackend;
  let router: TestRouter;
  let dualPort: number;
  const open: net.Socket[] = [];

  beforeAll(async () => {
    backend = await startCaptureBackend(undefined, '::1');
    dualPort = await deadPort('::');
    router = await startTestRouter(`
listen: ["[::1]:0", ":${dualPort}"]
routes:
  six.test: ["${backend.label}"]
`);
  });

  afterAll(async () => {
    for (const s of open) s.destroy();
    await router?.stop();
    await backend?.close();
  });

  async function headerFor(port: number, host: string): Promise<ReturnType<typeof decodeV2>> {
    const index = backend.connections.length;
    const socket = await connectRaw(port, host);
    open.push(socket);
    socket.write(HELLO);
    const received = await backend.receivedAtLeast(index, 16 + 36 + HELLO.length);
    const header = decodeV2(received);
    expect(received.subarray(header.headerLength)).toEqual(HELLO);
    return header;
  }

  it('a client on ::1 through the [::1] listener is sent as TCP6', async () => {
    const header = await headerFor(router.port(0), '::1');
    expect(header.family).toBe('TCP6');
    expect(header.source?.address).toBe('0:0:0:0:0:0:0:1');
    expect(header.destination).toEqual({ address: '0:0:0:0:0:0:0:1', port: router.port(0) });
    expect(header.tlvs.get(0x02)?.toString()).toBe('six.test');
  });

  it('a client on ::1 through the dual-stack listener is sent as TCP6', async () => {
    const header = await headerFor(dualPort, '::1');
    expect(header.family).toBe('TCP6');
    expect(header.destination?.port).toBe(dualPort);
  });

  it('a 127.0.0.1 client of the dual-stack listener (::ffff:127.0.0.1) is sent as TCP4', async () => {
    const header = await headerFor(dualPort, '127.0.0.1');
    expect(header.family).toBe('TCP4');
    expect(header.source?.address).toBe('127.0.0.1');
    expect(header.destination).toEqual({ address: '127.0.0.1', port: dualPort });
  });

  it('the access log shows a mapped client as plain IPv4 and names the listener', async () => {
    for (const s of open.splice(0)) s.destroy();
    const line = await router.waitForAccessLine((l) => String(l.client).startsWith('127.0.0.1:'));
    expect(line.listener).toBe(`:${dualPort}`);
  });
});
