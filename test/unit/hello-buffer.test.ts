/** The hello held once, at about the bytes received, whatever the chunking (src/hello-buffer.ts with the reader). */
import { describe, expect, it } from 'vitest';
import { ClientHelloReader } from '../../src/wire/client-hello.js';
import { HelloBytes } from '../../src/wire/hello-buffer.js';
import { buildClientHello, toRecords } from '../helpers/hello-builder.js';

const BIG_HELLO = toRecords(buildClientHello({ sni: 'app.test', padTo: 65_000 }));

function chunksOf(bytes: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) chunks.push(Buffer.from(bytes.subarray(at, at + size)));
  return chunks;
}

/** Feeds `chunks` as a connection does: kept in HelloBytes, the stored copy pushed to the reader. */
function feed(chunks: readonly Buffer[]): { bytes: HelloBytes; reader: ClientHelloReader; kind: string } {
  const bytes = new HelloBytes();
  const reader = new ClientHelloReader({ maxHelloBytes: 65_536 });
  let kind = 'need_more';
  for (const chunk of chunks) kind = reader.push(bytes.append(chunk)).kind;
  return { bytes, reader, kind };
}

describe('hello held once', () => {
  it('half-sent big hellos hold about the bytes received, not twice (reader reassembly copy)', () => {
    // Failed: each connection kept its chunks to forward them and the reader copied the body into a buffer of its
    // own as it arrived in several records, so a 64 KiB half-sent hello held 132 KiB. The reader now keeps views
    // into the chunks the connection holds and copies only once the body is complete, for the walk.
    const half = BIG_HELLO.subarray(0, BIG_HELLO.length - 100);
    const held: Array<ReturnType<typeof feed>> = [];
    const before = process.memoryUsage().arrayBuffers;
    for (let i = 0; i < 100; i++) held.push(feed(chunksOf(half, 4096)));
    const grown = process.memoryUsage().arrayBuffers - before;
    const received = 100 * half.length;
    expect(held.every((h) => h.kind === 'need_more')).toBe(true);
    expect(held[0]!.bytes.heldBytes).toBe(half.length);
    expect(grown).toBeLessThan(received * 1.3); // was ≥ 2×
  });

  it('a hello dribbled one byte per chunk costs about its bytes (slabs), and still parses', () => {
    const { bytes, kind } = feed(chunksOf(BIG_HELLO, 1));
    expect(kind).toBe('hello');
    expect(bytes.receivedBytes).toBe(BIG_HELLO.length);
    expect(bytes.heldBytes).toBeLessThan(BIG_HELLO.length * 1.3);
    expect(Buffer.concat(bytes.take()).equals(BIG_HELLO)).toBe(true);
  });

  it('keeps the bytes in order across big and small chunks', () => {
    const sizes = [3, 700, 1, 1, 5000, 2, 9000];
    const chunks: Buffer[] = [];
    let at = 0;
    for (const size of sizes) {
      chunks.push(Buffer.from(BIG_HELLO.subarray(at, at + size)));
      at += size;
    }
    chunks.push(Buffer.from(BIG_HELLO.subarray(at)));
    const { bytes, kind } = feed(chunks);
    expect(kind).toBe('hello');
    expect(Buffer.concat(bytes.take()).equals(BIG_HELLO)).toBe(true);
    expect(bytes.heldBytes).toBe(0);
  });
});
