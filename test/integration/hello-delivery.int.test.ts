/**
 * However the ClientHello arrives — one byte per segment, across several TLS records, post-quantum sized — the
 * router routes it and forwards the peeked bytes byte-for-byte after the PROXY header.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import tls from 'node:tls';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { startTestRouter, type TestRouter } from '../helpers/router-harness.js';
import { startTlsBackend, startCaptureBackend, CA_FILE, type TlsBackend, type CaptureBackend } from '../helpers/backends.js';
import { curlGet, connectRaw, collect } from '../helpers/clients.js';
import { startDribbler } from '../helpers/dribble.js';
import { decodeV2 } from '../helpers/proxy-decode.js';
import { buildClientHello, toRecords } from '../helpers/hello-builder.js';
import { waitFor } from '../helpers/wait-for.js';

async function sendSlowly(port: number, bytes: Buffer, pieceSize: number): Promise<void> {
  const socket = await connectRaw(port);
  socket.on('error', () => {});
  for (let offset = 0; offset < bytes.length; offset += pieceSize) {
    socket.write(bytes.subarray(offset, offset + pieceSize));
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  // Keep the socket open; the backend side checks what arrived.
  socketsToClose.push(socket);
}
const socketsToClose: import('node:net').Socket[] = [];

describe('ClientHello delivery', () => {
  let alpha: TlsBackend;
  let capture: CaptureBackend;
  let router: TestRouter;

  beforeAll(async () => {
    alpha = await startTlsBackend('alpha.test');
    capture = await startCaptureBackend();
    router = await startTestRouter(`
listen: ["127.0.0.1:0"]
timeouts: { client_hello: 10s }
routes:
  alpha.test:
    backends: [${alpha.label}]
    proxy_protocol: none
  capture.test: [${capture.label}]
`);
  });

  afterAll(async () => {
    for (const s of socketsToClose) s.destroy();
    await router?.stop();
    await Promise.all([alpha?.close(), capture?.close()]);
  });

  it('a real curl hello delivered one byte per TCP segment is routed and the handshake completes', async () => {
    const dribbler = await startDribbler(router.port(), 4096);
    try {
      const result = await curlGet('alpha.test', dribbler.port);
      expect(result.stderr).toBe('');
      expect(result.stdout.trim()).toBe('backend=alpha.test');
      // curl's hello is several hundred bytes: each went out in its own write.
      expect(dribbler.writes).toBeGreaterThan(200);
    } finally {
      await dribbler.close();
    }
  });

  it('a node:tls hello delivered one byte at a time is routed (certificate proves it)', async () => {
    const dribbler = await startDribbler(router.port(), 4096);
    try {
      const socket = tls.connect({ port: dribbler.port, host: '127.0.0.1', servername: 'alpha.test', ca: readFileSync(CA_FILE) });
      await once(socket, 'secureConnect');
      expect(socket.getPeerCertificate().subject.CN).toBe('alpha.test');
      socket.destroy();
    } finally {
      await dribbler.close();
    }
  });

  it.each([
    ['one record', 'one' as const, 0],
    ['two records', [100] as number[], 0],
    ['five odd-sized records', [1, 7, 64, 90] as number[], 0],
    ['a 2 KB post-quantum-sized hello in three records', [700, 700] as number[], 2048],
  ])('a hello in %s is forwarded verbatim after the PROXY v2 header', async (_name, fragments, padTo) => {
    const index = capture.connections.length;
    const handshake = buildClientHello({ sni: 'capture.test', alpn: ['h2', 'http/1.1'], ...(padTo ? { padTo } : {}) });
    const wire = toRecords(handshake, fragments);
    if (padTo) expect(wire.length).toBeGreaterThanOrEqual(padTo);
    const trailer = Buffer.from('application bytes after the hello');
    await sendSlowly(router.port(), Buffer.concat([wire, trailer]), padTo ? 1 : 13);
    const header = decodeV2(await capture.receivedAtLeast(index, 16));
    const received = await capture.receivedAtLeast(index, header.headerLength + wire.length + trailer.length);
    expect(received.subarray(header.headerLength)).toEqual(Buffer.concat([wire, trailer]));
    expect(header.tlvs.get(0x02)?.toString()).toBe('capture.test');
    expect(header.source?.address).toBe('127.0.0.1');
  });
});

describe('hostile input among good clients', () => {
  let alpha: TlsBackend;
  let router: TestRouter;

  beforeAll(async () => {
    alpha = await startTlsBackend('alpha.test');
    router = await startTestRouter(`
listen: ["127.0.0.1:0"]
proxy_protocol: none
timeouts: { client_hello: 2s }
# Every client here is 127.0.0.1: lift the per-client hello cap so that this test is about malformed input alone.
limits: { max_hello_connections_per_client: 5000 }
routes:
  alpha.test: [${alpha.label}]
`);
  });

  afterAll(async () => {
    await router?.stop();
    await alpha?.close();
  });

  /** Deterministic PRNG (mulberry32) so a failure can be replayed. */
  function prng(seed: number): () => number {
    let a = seed;
    return () => {
      a = (a + 0x6d2b79f5) | 0;
      let t = Math.imul(a ^ (a >>> 15), 1 | a);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  function hostileHellos(count: number): Buffer[] {
    const random = prng(0x5e1f);
    const good = toRecords(buildClientHello({ sni: 'alpha.test', alpn: ['h2'] }), 'one');
    const out: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      const kind = i % 4;
      if (kind === 0) {
        // A valid record header in front of random garbage.
        const body = Buffer.alloc(1 + Math.floor(random() * 300));
        for (let j = 0; j < body.length; j++) body[j] = Math.floor(random() * 256);
        const header = Buffer.from([0x16, 0x03, 0x01, 0, 0]);
        header.writeUInt16BE(body.length, 3);
        out.push(Buffer.concat([header, body]));
      } else if (kind === 1) {
        // The good hello with bytes flipped inside the handshake.
        const copy = Buffer.from(good);
        for (let flips = 0; flips < 3; flips++) {
          const at = 5 + Math.floor(random() * (copy.length - 5));
          copy[at] = copy[at]! ^ (1 + Math.floor(random() * 255));
        }
        out.push(copy);
      } else if (kind === 2) {
        // A record length of zero, then more.
        out.push(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x00, 0x01, 0x00]));
      } else {
        // Lying handshake length: claims more than the record holds, then the record ends and a non-handshake starts.
        const copy = Buffer.from(good);
        copy.writeUInt8(0xff, 6);
        out.push(Buffer.concat([copy, Buffer.from([0x17, 0x03, 0x03, 0x00, 0x01, 0x00])]));
      }
    }
    return out;
  }

  it('every good connection is routed while 400 malformed hellos arrive alongside', async () => {
    const bad = hostileHellos(400);
    const ca = readFileSync(CA_FILE);
    const goodResults: Array<Promise<string | undefined>> = [];
    const badResults: Array<Promise<unknown>> = [];
    for (let i = 0; i < bad.length; i++) {
      badResults.push(
        connectRaw(router.port()).then((socket) => {
          const closed = collect(socket);
          socket.end(bad[i]!);
          return closed;
        }),
      );
      if (i % 4 === 0) {
        goodResults.push(
          new Promise((resolve, reject) => {
            const socket = tls.connect({ port: router.port(), host: '127.0.0.1', servername: 'alpha.test', ca });
            socket.once('secureConnect', () => {
              resolve(String(socket.getPeerCertificate().subject.CN));
              socket.destroy();
            });
            socket.once('error', reject);
          }),
        );
      }
    }
    const names = await Promise.all(goodResults);
    expect(names).toHaveLength(100);
    expect(new Set(names)).toEqual(new Set(['alpha.test']));
    await Promise.all(badResults);
    // Every connection, good or bad, ends with exactly one access line and none stays open.
    await waitFor(() => router.router.activeConnections === 0, () => `no open connection (have ${router.router.activeConnections})`, { timeoutMs: 10_000 });
    expect(router.router.activeConnections).toBe(0);
    const reasons = new Set(router.accessLines().map((l) => l.reason));
    expect(reasons.has('hello_malformed')).toBe(true);
    expect(router.accessLines().length).toBe(500);
  });
});
