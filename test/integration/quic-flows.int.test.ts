/**
 * The QUIC flow engine on real UDP sockets on loopback, driven by hand-built Initials (src/wire/initial-builder.ts)
 * and plain UDP backends that record what reaches them: ordering, byte-exact forwarding, the pending caps, the
 * hello timeout, rejection and shutdown. The real-client tests are in quic-routing.int.test.ts.
 */
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import type { QuicDecide, QuicFlowLimits, QuicFlowRecord } from '../../src/data-path/quic/flow-types.js';
import { QuicFlowEngine } from '../../src/data-path/quic/quic-flows.js';
import { buildInitialPacket, cryptoFrame, encodeVarint, splitHelloIntoInitials } from '../../src/wire/initial-builder.js';
import { QUIC_VERSION_1 } from '../../src/wire/quic-crypto.js';
import { buildClientHello } from '../helpers/hello-builder.js';
import { waitFor } from '../helpers/wait-for.js';

const HELLO = buildClientHello({ sni: 'app.example.com', alpn: ['h3'], postQuantum: true });
const DCID = Buffer.from('c0ffee00c0ffee00', 'hex');
const [PART_ONE, PART_TWO] = splitHelloIntoInitials(HELLO, { version: QUIC_VERSION_1, dcid: DCID, cuts: [900] }) as [Buffer, Buffer];

const HAS_IPV6 = await new Promise<boolean>((resolve) => {
  const probe = dgram.createSocket('udp6');
  probe.once('error', () => resolve(false));
  probe.bind(0, '::1', () => probe.close(() => resolve(true)));
});

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function udpSocket(host = '127.0.0.1'): Promise<dgram.Socket> {
  const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  await new Promise<void>((resolve) => socket.bind(0, host, resolve));
  cleanups.push(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  return socket;
}

/** A UDP backend that keeps every datagram it receives and answers `pong:<n>` to each. */
async function recordingBackend(): Promise<{ port: number; received: Buffer[] }> {
  const socket = await udpSocket();
  const received: Buffer[] = [];
  socket.on('message', (datagram, peer) => {
    received.push(datagram);
    socket.send(`pong:${received.length}`, peer.port, peer.address);
  });
  return { port: socket.address().port, received };
}

async function startEngine(decide: QuicDecide, limits: Partial<QuicFlowLimits> = {}) {
  const records: QuicFlowRecord[] = [];
  const engine = await QuicFlowEngine.listen({ host: '127.0.0.1', port: 0 }, { decide, limits, onFlowClosed: (record) => records.push(record) });
  cleanups.push(() => engine.close());
  return { engine, records, port: engine.address.port };
}

const toBackend = (port: number): QuicDecide => () => ({ backends: [{ host: '127.0.0.1', port }], route: 'app' });

describe('QUIC flow engine on loopback', () => {
  it('forwards the datagrams buffered during the hello first, in arrival order and byte for byte, then both ways', async () => {
    const backend = await recordingBackend();
    const { port, records, engine } = await startEngine(toBackend(backend.port));
    const client = await udpSocket();
    const replies: string[] = [];
    client.on('message', (datagram) => replies.push(datagram.toString()));
    // A 0-RTT-like datagram between the two Initials: not readable, but it is the client's and must arrive.
    const between = Buffer.concat([Buffer.from([0x41]), Buffer.alloc(60, 0xab)]);
    client.send(PART_TWO, port, '127.0.0.1');
    await waitFor(() => engine.stats().pendingFlows === 1);
    client.send(between, port, '127.0.0.1');
    client.send(PART_ONE, port, '127.0.0.1');
    await waitFor(() => backend.received.length === 3);
    expect(backend.received[0]!.equals(PART_TWO)).toBe(true);
    expect(backend.received[1]!.equals(between)).toBe(true);
    expect(backend.received[2]!.equals(PART_ONE)).toBe(true);
    await waitFor(() => replies.length === 3);
    const later = Buffer.from([0x40, 1, 2, 3]);
    client.send(later, port, '127.0.0.1');
    await waitFor(() => backend.received.length === 4 && replies.length === 4);
    expect(backend.received[3]!.equals(later)).toBe(true);
    expect(replies).toEqual(['pong:1', 'pong:2', 'pong:3', 'pong:4']);
    await engine.close();
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      sni: 'app.example.com',
      alpn: ['h3'],
      route: 'app',
      helloDatagrams: 3,
      datagramsIn: 4,
      datagramsOut: 4,
      bytesIn: PART_ONE.length + PART_TWO.length + between.length + later.length,
      dcid: DCID.toString('hex'),
      reason: 'shutdown',
    });
  });

  it('caps pending flows per client address and in all, counting what it drops', async () => {
    const backend = await recordingBackend();
    const { port, engine } = await startEngine(toBackend(backend.port), { maxPendingFlowsPerAddress: 2, maxPendingFlows: 3 });
    const clients = await Promise.all([udpSocket(), udpSocket(), udpSocket()]);
    for (const client of clients) client.send(PART_ONE, port, '127.0.0.1');
    await waitFor(() => engine.stats().pendingFlows === 2 && engine.stats().drops.pending_limit === 1);
    // Another client address still gets its share, up to the cap in all.
    const others = await Promise.all([udpSocket('127.0.0.2'), udpSocket('127.0.0.2')]);
    for (const client of others) client.send(PART_ONE, port, '127.0.0.1');
    await waitFor(() => engine.stats().pendingFlows === 3 && engine.stats().drops.pending_limit === 2);
    // A flow whose hello completes leaves the pending count and makes room.
    clients[0]!.send(PART_TWO, port, '127.0.0.1');
    await waitFor(() => engine.stats().pendingFlows === 2 && backend.received.length === 2);
  });

  it('drops datagrams past the per-flow buffer cap, and ends a hello that never completes as hello_timeout', async () => {
    const backend = await recordingBackend();
    const { port, engine, records } = await startEngine(toBackend(backend.port), { maxPendingBytesPerFlow: 3_000, helloTimeoutMs: 200 });
    const client = await udpSocket();
    client.send(PART_ONE, port, '127.0.0.1');
    client.send(PART_ONE, port, '127.0.0.1');
    client.send(PART_ONE, port, '127.0.0.1'); // 3 × 1200 > 3000: this one is dropped
    await waitFor(() => records.length === 1);
    expect(engine.stats().drops.pending_bytes).toBe(1);
    expect(records[0]).toMatchObject({ reason: 'hello_timeout', sni: null, backend: null, datagramsIn: 3 });
    expect(backend.received).toHaveLength(0);
  });

  it('rejects a flow whose authenticated Initial breaks the rules, and drops its later datagrams', async () => {
    const backend = await recordingBackend();
    const { port, records } = await startEngine(toBackend(backend.port), { helloTimeoutMs: 200 });
    const client = await udpSocket();
    client.send(PART_ONE, port, '127.0.0.1');
    const streamFrame = Buffer.concat([encodeVarint(0x08), encodeVarint(0), encodeVarint(1), Buffer.from([0])]);
    client.send(buildInitialPacket({ version: QUIC_VERSION_1, dcid: DCID, packetNumber: 1, frames: streamFrame }), port, '127.0.0.1');
    client.send(PART_TWO, port, '127.0.0.1');
    await waitFor(() => records.length === 1);
    expect(records[0]).toMatchObject({ reason: 'hello_malformed', datagramsIn: 3, backend: null });
    expect(backend.received).toHaveLength(0);
  });

  it('drops an unrouted hello without a word, and caps flows in all', async () => {
    const { port, engine, records } = await startEngine(() => null, { maxFlows: 1, helloTimeoutMs: 200 });
    const first = await udpSocket();
    const second = await udpSocket();
    const heard: Buffer[] = [];
    first.on('message', (datagram) => heard.push(datagram));
    first.send(cryptoFrameInitial(), port, '127.0.0.1');
    await waitFor(() => engine.stats().flows === 1);
    second.send(cryptoFrameInitial(), port, '127.0.0.1');
    await waitFor(() => engine.stats().drops.flow_limit === 1);
    await waitFor(() => records.length === 1);
    expect(records[0]).toMatchObject({ reason: 'no_route', sni: 'app.example.com' });
    expect(heard).toHaveLength(0);
  });

  it('moves a flow whose backend stays silent to the next backend, replaying what was sent, in order', async () => {
    const silent = await udpSocket();
    const heardBySilent: Buffer[] = [];
    silent.on('message', (datagram) => heardBySilent.push(datagram));
    const backend = await recordingBackend();
    const decide: QuicDecide = () => ({ backends: [{ host: '127.0.0.1', port: silent.address().port }, { host: '127.0.0.1', port: backend.port }], route: 'app' });
    const { port, records, engine } = await startEngine(decide, { backendAnswerTimeoutMs: 200 });
    const client = await udpSocket();
    client.send(PART_ONE, port, '127.0.0.1');
    client.send(PART_TWO, port, '127.0.0.1');
    await waitFor(() => backend.received.length === 2);
    expect(heardBySilent).toHaveLength(2);
    expect(backend.received[0]!.equals(PART_ONE) && backend.received[1]!.equals(PART_TWO)).toBe(true);
    await engine.close();
    expect(records[0]).toMatchObject({ backend: `127.0.0.1:${backend.port}`, reason: 'shutdown' });
  });

  it('ends a flow as backend_unavailable when no backend answers (refused, or silent)', async () => {
    const silent = await udpSocket();
    const refusing = await udpSocket();
    const refusingPort = refusing.address().port;
    await new Promise<void>((resolve) => refusing.close(() => resolve()));
    cleanups.splice(cleanups.length - 1, 1); // closed already
    const backends = [{ host: '127.0.0.1', port: refusingPort }, { host: '127.0.0.1', port: silent.address().port }];
    const { port, records, engine } = await startEngine(() => ({ backends, route: 'app' }), { backendAnswerTimeoutMs: 200 });
    const client = await udpSocket();
    client.send(PART_ONE, port, '127.0.0.1');
    client.send(PART_TWO, port, '127.0.0.1');
    await waitFor(() => records.length === 1);
    expect(records[0]).toMatchObject({ reason: 'backend_unavailable', backend: `127.0.0.1:${silent.address().port}` });
    expect(engine.stats().backendSockets).toBe(0);
  });

  it.skipIf(!HAS_IPV6)('routes a client on an IPv6 listener too', async () => {
    const backend = await recordingBackend();
    const records: QuicFlowRecord[] = [];
    const engine = await QuicFlowEngine.listen({ host: '::1', port: 0 }, { decide: toBackend(backend.port), onFlowClosed: (record) => records.push(record) });
    cleanups.push(() => engine.close());
    const client = await udpSocket('::1');
    const replies: Buffer[] = [];
    client.on('message', (datagram) => replies.push(datagram));
    client.send(PART_ONE, engine.address.port, '::1');
    client.send(PART_TWO, engine.address.port, '::1');
    await waitFor(() => replies.length === 2);
    await engine.close();
    expect(records[0]!.client).toMatch(/^\[::1\]:\d+$/);
  });
});

/** A whole hello in one Initial. */
function cryptoFrameInitial(): Buffer {
  return buildInitialPacket({ version: QUIC_VERSION_1, dcid: DCID, packetNumber: 0, frames: cryptoFrame(0, HELLO) });
}

