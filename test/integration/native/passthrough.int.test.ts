/**
 * The native plane end to end with real sockets: a node:tls client routed by SNI to a real TLS backend, the PROXY
 * v2 header ahead of the peeked hello byte for byte, a hello dribbled a byte per segment, and the handoff of a
 * socket to a node TLS server (the terminate path). No descriptor may outlive the file.
 */
import { describe, expect, it } from 'vitest';
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { CA_FILE, certFor, startCaptureBackend, startTlsBackend } from '../../helpers/backends.js';
import { collect, connectRaw } from '../../helpers/clients.js';
import { buildClientHello, toRecords } from '../../helpers/hello-builder.js';
import { addon, registerCleanupsAndLeakCheck, startTestPlane, type TestPlane } from './harness.js';

const CA = readFileSync(CA_FILE);
const cleanups = registerCleanupsAndLeakCheck();

function plane(options: Parameters<typeof startTestPlane>[0]): TestPlane {
  const started = startTestPlane(options);
  cleanups.push(() => started.destroy());
  return started;
}

/** An HTTPS request over a node:tls connection to `port` with this SNI; resolves with the whole answer. */
async function httpsThrough(host: string, port: number, servername: string): Promise<string> {
  const socket = tls.connect({ host, port, servername, ca: CA });
  socket.on('error', () => {});
  await once(socket, 'secureConnect');
  socket.write(`GET / HTTP/1.1\r\nhost: ${servername}\r\nconnection: close\r\n\r\n`);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  await once(socket, 'close');
  return Buffer.concat(chunks).toString();
}

describe.skipIf(addon === null)('native plane: passthrough', () => {
  it.each(['127.0.0.1', '::1'])('routes a node:tls client by SNI to the matching TLS backend (%s)', async (host) => {
    const alpha = await startTlsBackend('alpha', 'alpha.test', host);
    const beta = await startTlsBackend('beta', 'beta.test', host);
    cleanups.push(() => alpha.close(), () => beta.close());
    const routed = plane({
      host,
      routes: {
        'alpha.test': { backends: [{ host, port: alpha.port }], header: 'none' },
        'beta.test': { backends: [{ host, port: beta.port }], header: 'none' },
      },
    });
    expect(await httpsThrough(host, routed.port, 'beta.test')).toContain('backend=beta');
    expect(await httpsThrough(host, routed.port, 'alpha.test')).toContain('backend=alpha');
    const first = await routed.closedEvent(0);
    const second = await routed.closedEvent(1);
    for (const { event, verdict } of [first, second]) {
      expect(event.reason).toBe('done');
      expect(event.bytesIn).toBeGreaterThan(0);
      expect(event.bytesOut).toBeGreaterThan(0);
      expect(event.backendIndex).toBe(0);
      expect(verdict?.client.address).toBe(host);
    }
    expect(first.verdict?.result.kind === 'hello' && first.verdict.result.hello.sni).toBe('beta.test');
    expect(routed.plane.stats()).toMatchObject({ openConnections: 0, pipesInUse: 0 });
  });

  it.each(['127.0.0.1', '::1'])('sends the PROXY v2 header, then the peeked hello, byte for byte (%s)', async (host) => {
    const backend = await startCaptureBackend(undefined, host);
    cleanups.push(() => backend.close());
    const routed = plane({ host, routes: { 'app.test': { backends: [{ host, port: backend.port }] } } });
    const hello = toRecords(buildClientHello({ sni: 'app.test', alpn: ['h2'] }), 'one');
    const client = await connectRaw(routed.port, host);
    const done = collect(client);
    client.write(Buffer.concat([hello, Buffer.from('early bytes')]));
    const header = await waitForHeader(routed);
    const received = await backend.receivedAtLeast(0, header.length + hello.length + 11);
    expect(received.equals(Buffer.concat([header, hello, Buffer.from('early bytes')]))).toBe(true);
    expect(header.subarray(0, 12).toString('latin1')).toBe('\r\n\r\n\0\r\nQUIT\n');
    client.end();
    await done;
    const { event } = await routed.closedEvent(0);
    expect(event).toMatchObject({ reason: 'done', bytesIn: hello.length + 11, tries: 1 });
  });

  it('reads a hello dribbled one byte per TCP segment, across three records', async () => {
    const backend = await startCaptureBackend();
    cleanups.push(() => backend.close());
    const routed = plane({ routes: { 'dribble.test': { backends: [{ host: '127.0.0.1', port: backend.port }] } } });
    const handshake = buildClientHello({ sni: 'dribble.test' });
    const hello = toRecords(handshake, [40, 100, handshake.length - 140]);
    const client = await connectRaw(routed.port);
    const done = collect(client);
    for (const byte of hello) {
      client.write(Buffer.of(byte));
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    const header = await waitForHeader(routed);
    const received = await backend.receivedAtLeast(0, header.length + hello.length);
    expect(received.equals(Buffer.concat([header, hello]))).toBe(true);
    client.end();
    await done;
    expect((await routed.closedEvent(0)).event.reason).toBe('done');
  });

  it('hands a terminate-route socket to a node TLS server with the peeked bytes (handoff)', async () => {
    const handedOff: net.Socket[] = [];
    const routed = plane({
      routes: { 'router.test': { backends: [], handoff: true } },
      onHandoff: (_verdict, { fd, peeked }) => {
        const raw = new net.Socket({ fd, readable: true, writable: true });
        handedOff.push(raw);
        raw.unshift(peeked);
        const secure = new tls.TLSSocket(raw, { isServer: true, ...certFor('router.test') });
        secure.on('error', () => {});
        secure.on('data', (chunk: Buffer) => secure.end(`terminated: ${chunk.toString()}`));
      },
    });
    const client = tls.connect({ host: '127.0.0.1', port: routed.port, servername: 'router.test', ca: CA });
    client.on('error', () => {});
    await once(client, 'secureConnect');
    client.write('hi');
    const chunks: Buffer[] = [];
    client.on('data', (chunk: Buffer) => chunks.push(chunk));
    await once(client, 'close');
    expect(Buffer.concat(chunks).toString()).toBe('terminated: hi');
    expect(routed.plane.stats()).toMatchObject({ handedOff: 1, openConnections: 0 });
    expect(routed.closed).toEqual([]); // the plane forgot it: no closed event of its own
    for (const socket of handedOff) socket.destroy();
  });

  it('closes a connection whose hello routes nowhere, with the reason decide gave', async () => {
    const routed = plane({ routes: {} });
    const client = await connectRaw(routed.port);
    const done = collect(client);
    client.write(toRecords(buildClientHello({ sni: 'nowhere.test' }), 'one'));
    await done;
    expect((await routed.closedEvent(0)).event).toMatchObject({ reason: 'no_route', backendIndex: -1, tries: 0 });
  });

  it('lists open connections with their state', async () => {
    const backend = await startCaptureBackend();
    cleanups.push(() => backend.close());
    const routed = plane({ routes: { 'app.test': { backends: [{ host: '127.0.0.1', port: backend.port }] } } });
    const waiting = await connectRaw(routed.port);
    const spliced = await connectRaw(routed.port);
    const hello = toRecords(buildClientHello({ sni: 'app.test' }), 'one');
    spliced.write(hello);
    await backend.receivedAtLeast(0, hello.length);
    const states = routed.plane.connections().map((c) => c.state).sort();
    expect(states).toEqual(['hello', 'splicing']);
    waiting.destroy();
    spliced.destroy();
    await routed.closedEvent(1);
    // FIN before a complete hello: nothing to route; FIN while spliced: passed on, the backend finished too.
    expect(routed.closed.map((c) => c.event.reason).sort()).toEqual(['client_reset', 'done']);
  });
});

async function waitForHeader(routed: TestPlane): Promise<Buffer> {
  for (let turn = 0; turn < 10_000; turn++) {
    const header = [...routed.headers.values()][0];
    if (header !== undefined) return header;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  throw new Error('no route decision was made');
}
