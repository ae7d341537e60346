/**
 * 256 MiB each way through the router process, byte-exact (SHA-256 compared at both ends), with slow readers on
 * both far sides. Backpressure must hold the router's memory down: the test asserts that the router's RSS never
 * grows more than MAX_RSS_GROWTH_MIB above its level before the transfer, which is far below the 512 MiB that
 * unbounded buffering would hold.
 */
import { afterEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { startRouterProcess, type RouterProcess } from '../helpers/cli-process.js';
import { buildClientHello, toRecords } from '../helpers/hello-builder.js';

const MIB = 1024 * 1024;
const TOTAL_BYTES = 256 * MIB;
const BLOCK_BYTES = 1 * MIB;
const MAX_RSS_GROWTH_MIB = 64;
/** A slow reader pauses this long after each SLOW_EVERY_BYTES it reads. */
const SLOW_PAUSE_MS = 15;
const SLOW_EVERY_BYTES = 8 * MIB;

/** Block i of a stream: a fixed random megabyte stamped with its index, so reordering changes the hash. */
const BASE_BLOCK = Buffer.alloc(BLOCK_BYTES);
for (let i = 0; i < BLOCK_BYTES; i += 4) BASE_BLOCK.writeUInt32LE((Math.imul(i, 2654435761) ^ (i >>> 7)) >>> 0, i);
function block(index: number, salt: number): Buffer {
  const copy = Buffer.from(BASE_BLOCK);
  copy.writeUInt32BE(index, 0);
  copy.writeUInt32BE(salt, 4);
  return copy;
}
function expectedHash(salt: number): string {
  const hash = createHash('sha256');
  for (let i = 0; i < TOTAL_BYTES / BLOCK_BYTES; i++) hash.update(block(i, salt));
  return hash.digest('hex');
}

/** Writes TOTAL_BYTES honouring backpressure, then ends. */
async function sendStream(socket: net.Socket, salt: number): Promise<void> {
  for (let i = 0; i < TOTAL_BYTES / BLOCK_BYTES; i++) {
    if (!socket.write(block(i, salt))) await once(socket, 'drain');
  }
  socket.end();
}

/** Reads until EOF, hashing, pausing now and then so the sender outruns it. */
function slowHash(socket: net.Socket, skipBytes: number): Promise<{ hash: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  let skip = skipBytes;
  let sinceLastPause = 0;
  return new Promise((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      if (skip > 0) {
        const dropped = Math.min(skip, chunk.length);
        skip -= dropped;
        chunk = chunk.subarray(dropped);
      }
      hash.update(chunk);
      bytes += chunk.length;
      sinceLastPause += chunk.length;
      if (sinceLastPause >= SLOW_EVERY_BYTES) {
        sinceLastPause = 0;
        socket.pause();
        setTimeout(() => socket.resume(), SLOW_PAUSE_MS);
      }
    });
    socket.on('end', () => resolve({ hash: hash.digest('hex'), bytes }));
    socket.on('error', reject);
  });
}

let router: RouterProcess | null = null;
let backendServer: net.Server | null = null;
afterEach(async () => {
  await router?.stop();
  router = null;
  backendServer?.close();
  backendServer = null;
});

describe('bulk transfer through the router process', () => {
  it('moves 256 MiB each way byte-exact with slow readers, and the router memory stays bounded', async () => {
    const hello = toRecords(buildClientHello({ sni: 'bulk.test', alpn: ['h2'] }), 'one');
    let backendResult!: Promise<{ hash: string; bytes: number }>;
    let backendSent!: Promise<void>;
    const backendConnected = new Promise<void>((resolve) => {
      backendServer = net.createServer({ allowHalfOpen: true }, (socket) => {
        backendResult = slowHash(socket, hello.length);
        backendSent = sendStream(socket, 2);
        resolve();
      });
    });
    backendServer!.listen(0, '127.0.0.1');
    await once(backendServer!, 'listening');
    const backendPort = (backendServer!.address() as net.AddressInfo).port;

    router = await startRouterProcess(['-l', '127.0.0.1:0', '-r', `bulk.test=127.0.0.1:${backendPort}`, '--log-level', 'info']);
    const listening = await router.waitForLine((l) => l.msg === 'listening');
    const port = Number(listening.port);

    const baselineRss = router.rssBytes();
    let peakRss = baselineRss;
    const sampler = setInterval(() => {
      try {
        peakRss = Math.max(peakRss, router!.rssBytes());
      } catch {
        /* process gone */
      }
    }, 50);

    const client = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    await once(client, 'connect');
    client.write(hello);
    const clientResult = slowHash(client, 0);
    const clientSent = sendStream(client, 1);
    await backendConnected;
    const [down, up] = await Promise.all([clientResult, backendResult, clientSent, backendSent]);
    clearInterval(sampler);

    expect(up.bytes).toBe(TOTAL_BYTES);
    expect(down.bytes).toBe(TOTAL_BYTES);
    expect(up.hash).toBe(expectedHash(1));
    expect(down.hash).toBe(expectedHash(2));
    const growthMib = (peakRss - baselineRss) / MIB;
    console.log(`router RSS: baseline ${(baselineRss / MIB).toFixed(1)} MiB, peak ${(peakRss / MIB).toFixed(1)} MiB, growth ${growthMib.toFixed(1)} MiB (bound ${MAX_RSS_GROWTH_MIB})`);
    expect(growthMib).toBeLessThan(MAX_RSS_GROWTH_MIB);

    const line = await router.waitForLine((l) => l.msg === 'connection closed');
    expect(line).toMatchObject({ reason: 'done', sni: 'bulk.test', bytes_in: TOTAL_BYTES + hello.length, bytes_out: TOTAL_BYTES });
  }, 120_000);
});
