/**
 * A bounded fuzz of the native hello buffering (also run against the ASAN + UBSAN build in CI): real hellos with
 * random names, cut at random split points into real TCP segments, and a random ending — the whole hello and a
 * tail (routed: the backend must get header + hello + tail byte for byte), an early FIN, or an RST partway.
 * Every connection must end with the expected reason, and nothing may leak.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { once } from 'node:events';
import net from 'node:net';
import { startCaptureBackend, type CaptureBackend } from '../../helpers/backends.js';
import { buildClientHello, toRecords } from '../../helpers/hello-builder.js';
import { addon, expectFdsBackTo, openFdCount, startTestPlane, type TestPlane } from './harness.js';

const RUNS = Number(process.env.SNIR_FUZZ_RUNS ?? 60);

let fdsBefore = 0;
let backend: CaptureBackend;
let routed: TestPlane;
beforeAll(async () => {
  fdsBefore = openFdCount();
  if (addon === null) return;
  backend = await startCaptureBackend();
  routed = startTestPlane({ routes: (sni) => (sni.endsWith('.fuzz.test') ? { backends: [{ host: '127.0.0.1', port: backend.port }] } : undefined) });
});
afterAll(async () => {
  if (addon !== null) {
    routed.destroy();
    await backend.close();
  }
  await expectFdsBackTo(fdsBefore);
});

type Ending = 'complete' | 'fin' | 'rst';

interface Case {
  readonly name: string;
  readonly recordSizes: readonly number[];
  readonly cuts: readonly number[];
  readonly ending: Ending;
  readonly stopAtPermille: number;
  readonly tail: number;
}

const caseArbitrary: fc.Arbitrary<Case> = fc.record({
  name: fc.stringMatching(/^[a-z0-9]{1,40}$/),
  recordSizes: fc.array(fc.integer({ min: 1, max: 300 }), { maxLength: 3 }),
  cuts: fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 0, maxLength: 12 }),
  ending: fc.constantFrom<Ending>('complete', 'fin', 'rst'),
  stopAtPermille: fc.integer({ min: 0, max: 999 }),
  tail: fc.integer({ min: 0, max: 2000 }),
});

function split(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((cut) => cut % bytes.length).filter((cut) => cut > 0))].sort((a, b) => a - b);
  const parts: Buffer[] = [];
  let from = 0;
  for (const point of [...points, bytes.length]) {
    parts.push(bytes.subarray(from, point));
    from = point;
  }
  return parts.filter((part) => part.length > 0);
}

let served = 0;

async function runCase(testCase: Case): Promise<void> {
  const sni = `${testCase.name}.fuzz.test`;
  const handshake = buildClientHello({ sni });
  const fragmentSizes: number[] = [];
  let left = handshake.length;
  for (const size of testCase.recordSizes) {
    if (size >= left) break;
    fragmentSizes.push(size);
    left -= size;
  }
  fragmentSizes.push(left);
  const hello = toRecords(handshake, fragmentSizes);
  const tail = Buffer.alloc(testCase.tail, 0x5a);
  const stopAt = Math.floor((hello.length * testCase.stopAtPermille) / 1000);
  const stream = testCase.ending === 'complete' ? Buffer.concat([hello, tail]) : hello.subarray(0, stopAt);
  const closedBefore = routed.closed.length;
  const client = net.connect({ port: routed.port, host: '127.0.0.1', allowHalfOpen: true, noDelay: true });
  client.on('error', () => {});
  client.on('data', () => {});
  const clientClosed = once(client, 'close');
  await once(client, 'connect');
  for (const part of split(stream, testCase.cuts)) {
    client.write(part);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  if (testCase.ending === 'rst') client.resetAndDestroy();
  else client.end();
  const { event } = await routed.closedEvent(closedBefore);
  await clientClosed;
  if (testCase.ending === 'complete') {
    expect(event.reason).toBe('done');
    const header = routed.headers.get(event.connId)!;
    const received = backend.connections[served]!.received();
    served++;
    expect(received.equals(Buffer.concat([header, hello, tail]))).toBe(true);
  } else {
    expect(event.reason).toBe('client_reset');
    expect(event.backendIndex).toBe(-1);
  }
}

describe.skipIf(addon === null)('native plane: hello buffering fuzz', () => {
  it(`survives ${RUNS} random split/early-close/RST hellos with the right outcome`, async () => {
    await fc.assert(fc.asyncProperty(caseArbitrary, runCase), { numRuns: RUNS, interruptAfterTimeLimit: 40_000 });
    expect(routed.plane.stats()).toMatchObject({ openConnections: 0, pipesInUse: 0 });
  });
});
