/**
 * Bulk bytes through the native plane: 64 MiB each way at once, SHA-256 compared at both ends, with the client
 * a slow reader (it pauses every 4 MiB) so the backend → client direction runs into backpressure: the bytes must
 * wait in the kernel and in at most one pipe per direction, not in our memory. Then the copy fallback (splice(2)
 * refused) the same way, smaller. The plane runs in a child process (test/native/plane-child.mjs) so that its
 * peak RSS (VmHWM) is its own, not this test's JavaScript buffers.
 */
import { describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { startCaptureBackend } from '../../helpers/backends.js';
import { buildClientHello, toRecords } from '../../helpers/hello-builder.js';
import { addon, registerCleanupsAndLeakCheck, startPlaneChild, startTestPlane, statusKiB } from './harness.js';

const MIB = 1024 * 1024;
const HELLO = toRecords(buildClientHello({ sni: 'bulk.test' }), 'one');
const cleanups = registerCleanupsAndLeakCheck();

/** Writes `totalBytes` of fresh random bytes with backpressure, then FIN; resolves with their SHA-256. */
async function sendRandom(socket: net.Socket, totalBytes: number): Promise<string> {
  const hash = createHash('sha256');
  for (let sent = 0; sent < totalBytes; sent += MIB) {
    const block = randomBytes(Math.min(MIB, totalBytes - sent));
    hash.update(block);
    if (!socket.write(block)) await once(socket, 'drain');
  }
  socket.end();
  return hash.digest('hex');
}

interface Received {
  readonly sha256: string;
  readonly bytes: number;
}

/** Hashes everything after `skipBytes`; pauses for `pauseMs` after every `pauseEveryBytes` (a slow reader). */
function receiveAll(socket: net.Socket, skipBytes: number, pauseEveryBytes = 0, pauseMs = 0): Promise<Received> {
  const hash = createHash('sha256');
  let skipped = 0;
  let bytes = 0;
  let sincePause = 0;
  socket.on('data', (chunk: Buffer) => {
    let data = chunk;
    if (skipped < skipBytes) {
      const skip = Math.min(skipBytes - skipped, data.length);
      skipped += skip;
      data = data.subarray(skip);
    }
    hash.update(data);
    bytes += data.length;
    sincePause += data.length;
    if (pauseEveryBytes > 0 && sincePause >= pauseEveryBytes) {
      sincePause = 0;
      socket.pause();
      setTimeout(() => socket.resume(), pauseMs);
    }
  });
  return new Promise((resolve) => socket.once('end', () => resolve({ sha256: hash.digest('hex'), bytes })));
}

async function transferBothWays(totalBytes: number, forceCopy: boolean, isChild: boolean): Promise<void> {
  let backendSent: Promise<string> = Promise.resolve('');
  let backendReceived: Promise<Received> = Promise.resolve({ sha256: '', bytes: 0 });
  const backend = await startCaptureBackend((socket) => {
    socket.removeAllListeners('data'); // hash instead of recording 64 MiB
    backendReceived = receiveAll(socket, HELLO.length);
    backendSent = sendRandom(socket, totalBytes);
  });
  cleanups.push(() => backend.close());
  const routed = isChild ? null : startTestPlane({ forceCopy, routes: { 'bulk.test': { backends: [{ host: '127.0.0.1', port: backend.port }], header: 'none' } } });
  if (routed !== null) cleanups.push(() => routed.destroy());
  const child = isChild ? await startPlaneChild(backend.port) : null;
  if (child !== null) cleanups.push(() => child.stop());
  const rssBeforeKiB = child === null ? 0 : statusKiB(child.pid, 'VmRSS');
  const port = child?.port ?? routed!.port;
  const client = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  await once(client, 'connect');
  client.write(HELLO);
  const clientReceived = receiveAll(client, 0, 4 * MIB, 20);
  const clientSent = await sendRandom(client, totalBytes);
  const down = await clientReceived;
  await backend.connection(0);
  expect(down.bytes).toBe(totalBytes);
  expect(down.sha256).toBe(await backendSent);
  const up = await backendReceived;
  expect(up.bytes).toBe(totalBytes);
  expect(up.sha256).toBe(clientSent);
  if (routed !== null) {
    const { event } = await routed.closedEvent(0);
    expect(event).toMatchObject({ reason: 'done', bytesIn: totalBytes + HELLO.length, bytesOut: totalBytes });
    expect(routed.plane.stats()).toMatchObject({ pipesInUse: 0, openConnections: 0 });
  }
  if (child !== null) {
    // Bounded: the bytes waited in the kernel and in the pipes, not in the plane's memory. Its peak RSS grew by
    // far less than one direction's bytes (a Node process's own growth under load is a few MiB).
    const grownKiB = statusKiB(child.pid, 'VmHWM') - rssBeforeKiB;
    if (process.env.SNIR_TEST_VERBOSE === '1') process.stderr.write(`plane child peak RSS growth: ${grownKiB} KiB\n`);
    expect(grownKiB * 1024).toBeLessThan(totalBytes / 8);
    expect(await child.stats()).toMatchObject({ pipesInUse: 0, closed: 1 });
  }
}

describe.skipIf(addon === null)('native plane: bulk transfer', () => {
  it('moves 64 MiB each way at once through splice(2), byte-exact, with a slow reader', async () => {
    await transferBothWays(64 * MIB, false, true);
  });

  it('moves 16 MiB each way through the copy fallback, byte-exact', async () => {
    await transferBothWays(16 * MIB, true, false);
  });
});
