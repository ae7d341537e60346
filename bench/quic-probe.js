#!/usr/bin/env node
/**
 * Replays captured QUIC first flights (fixtures/quic/, from scripts/capture-quic-initials.mjs) against a running
 * router: byte for byte once, then with the client's frames re-sealed under a fresh Destination Connection ID (in
 * order and reversed), then re-cut (the Source Connection ID stays: the hello's transport parameters name it): the captured hello is taken out of its Initials, cut into 1, 2, 3 or 5 new
 * Initials (a fresh DCID, so each replay is a new connection to the backend), and sent in order,
 * reversed, shuffled, and coalesced in one datagram. Each variant goes out from its own UDP socket (its own
 * flow) and counts as routed when the backend's first flight comes back (a full-size datagram: its certificate).
 *
 *   npm run build
 *   node bench/quic-probe.js --router 127.0.0.1:4433 [--compare 127.0.0.1:BACKEND] [--fixture chromium] [--timeout-ms 1500]
 *
 * With --compare BACKEND each variant is also sent straight to the backend: a backend may itself refuse some
 * orders (ngtcp2 0.12 answers a first flight with its packet numbers descending by ACKs only), and what counts is
 * that the router changes no outcome. Prints one line per variant; exits 1 when a variant got no server flight
 * through the router (or, with --compare, when router and direct differ). Loopback only; bounded in time.
 */
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { CryptoStream, readInitialFrames } from '../dist/wire/crypto-frames.js';
import { buildInitialPacket, cryptoFrame } from '../dist/wire/initial-builder.js';
import { deriveClientInitialKeys } from '../dist/wire/quic-crypto.js';
import { openInitial, readLongHeader } from '../dist/wire/quic-initial.js';

const SERVER_FLIGHT_MIN_BYTES = 1_000;
const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'quic');
const { values } = parseArgs({
  options: {
    router: { type: 'string', default: '127.0.0.1:4433' },
    fixture: { type: 'string', multiple: true },
    'timeout-ms': { type: 'string', default: '1500' },
    compare: { type: 'string' },
  },
});

/**
 * @param {string} text  host:port or [v6]:port
 * @returns {[string, number]}
 */
function splitHostPort(text) {
  return text.startsWith('[')
    ? [text.slice(1, text.indexOf(']')), Number(text.slice(text.indexOf(']') + 2))]
    : [text.slice(0, text.lastIndexOf(':')), Number(text.slice(text.lastIndexOf(':') + 1))];
}
const router = splitHostPort(values.router);
const direct = values.compare === undefined ? null : splitHostPort(values.compare);
const timeoutMs = Number(values['timeout-ms']);
for (const [host] of [router, ...(direct === null ? [] : [direct])]) {
  if (host !== '::1' && !host.startsWith('127.')) {
    process.stderr.write('quic-probe: loopback addresses only\n');
    process.exit(2);
  }
}

/** @typedef {{ version: number, dcid: Buffer, scid: Buffer, message: Buffer }} CapturedHello */

/**
 * The hello message, version and connection IDs out of captured datagrams.
 * @param {Buffer[]} datagrams
 * @returns {CapturedHello}
 */
function unpack(datagrams) {
  const stream = new CryptoStream(64 * 1024);
  let first = null;
  for (const datagram of datagrams) {
    for (let at = 0; at < datagram.length; ) {
      const packet = readLongHeader(datagram, at);
      if (typeof packet === 'string') break;
      at = packet.end;
      if (packet.type !== 'initial') continue;
      first ??= { version: packet.version, dcid: Buffer.from(packet.dcid), scid: Buffer.from(packet.scid) };
      const opened = openInitial(datagram, packet, deriveClientInitialKeys(packet.version, packet.dcid), -1);
      if (typeof opened !== 'string') readInitialFrames(opened.payload, stream);
    }
  }
  if (first === null) throw new Error('no Initial packet in the captured datagrams');
  const length = 4 + stream.prefix(4).readUIntBE(1, 3);
  return { ...first, message: Buffer.from(stream.prefix(length)) };
}

/**
 * The captured datagrams with their packets' frames kept exactly (the client's own CRYPTO layout, padding and
 * packet numbers) but sealed again under fresh connection IDs: the backend sees a new connection each replay.
 */
function reseal(datagrams, scid, dcidLength) {
  // Same DCID length as captured, so every datagram keeps its size (a client Initial datagram must be ≥ 1200 B).
  const dcid = randomBytes(dcidLength);
  return datagrams.map((datagram) => {
    const opened = [];
    for (let at = 0; at < datagram.length; ) {
      const packet = readLongHeader(datagram, at);
      if (typeof packet === 'string') break;
      at = packet.end;
      if (packet.type !== 'initial') continue;
      const initial = openInitial(datagram, packet, deriveClientInitialKeys(packet.version, packet.dcid), -1);
      if (typeof initial !== 'string') opened.push({ version: packet.version, initial });
    }
    const packets = [];
    let bytes = 0;
    for (const [i, { version, initial }] of opened.entries()) {
      // The last packet is padded so the datagram keeps at least its captured size (packet number lengths differ).
      const padToBytes = i === opened.length - 1 ? Math.max(0, datagram.length - bytes) : 0;
      const packet = buildInitialPacket({ version, dcid, scid, packetNumber: initial.packetNumber, frames: initial.payload, padToBytes });
      packets.push(packet);
      bytes += packet.length;
    }
    return Buffer.concat(packets);
  });
}

/** Deterministic shuffle (a fixed LCG), so a failing order can be replayed. */
function shuffled(items, seed) {
  const out = [...items];
  let state = seed;
  for (let i = out.length - 1; i > 0; i -= 1) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const j = state % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

function recut(hello, pieces, coalesce) {
  const dcid = randomBytes(8);
  const scid = hello.scid;
  const step = Math.ceil(hello.message.length / pieces);
  const packets = [];
  for (let i = 0, from = 0; from < hello.message.length; i += 1, from += step) {
    const to = Math.min(hello.message.length, from + step);
    packets.push(buildInitialPacket({ version: hello.version, dcid, scid, packetNumber: i, frames: cryptoFrame(from, hello.message.subarray(from, to)), padToBytes: coalesce ? 0 : 1200 }));
  }
  if (!coalesce) return packets;
  const joined = Buffer.concat(packets);
  return [joined.length >= 1200 ? joined : Buffer.concat([joined, Buffer.alloc(1200 - joined.length)])];
}

/**
 * @param {Buffer[]} datagrams
 * @param {[string, number]} address
 */
async function replay(datagrams, [host, port]) {
  const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  await /** @type {Promise<void>} */ (new Promise((resolve) => socket.bind(0, resolve)));
  let answers = 0;
  let bytes = 0;
  let largest = 0;
  socket.on('message', (datagram) => {
    answers += 1;
    bytes += datagram.length;
    largest = Math.max(largest, datagram.length);
  });
  const started = performance.now();
  for (const datagram of datagrams) socket.send(datagram, port, host);
  const deadline = started + timeoutMs;
  while (answers === 0 && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  const firstAnswerMs = answers > 0 ? performance.now() - started : null;
  // Let the rest of the server's flight arrive (bounded).
  const flightDeadline = performance.now() + 200;
  while (largest < SERVER_FLIGHT_MIN_BYTES && answers > 0 && performance.now() < flightDeadline) await new Promise((resolve) => setTimeout(resolve, 5));
  socket.close();
  return { answers, bytes, firstAnswerMs, largest };
}

const index = JSON.parse(readFileSync(path.join(FIXTURES, 'index.json'), 'utf8'));
const chosen = index.filter((entry) => values.fixture === undefined || values.fixture.includes(entry.name));
let failures = 0;
for (const entry of chosen) {
  const datagrams = readFileSync(path.join(FIXTURES, entry.file), 'utf8').trim().split('\n').map((line) => Buffer.from(line, 'hex'));
  const hello = unpack(datagrams);
  /** @type {[label: string, datagrams: Buffer[]][]} */
  const variants = [
    ['captured, in order', datagrams],
    ['captured frames, new CIDs, in order', reseal(datagrams, hello.scid, hello.dcid.length)],
    ['captured frames, new CIDs, reversed', reseal(datagrams, hello.scid, hello.dcid.length).reverse()],
  ];
  for (const pieces of [1, 2, 3, 5]) {
    const packets = recut(hello, pieces, false);
    variants.push([`${pieces} Initial(s), in order`, packets]);
    if (pieces > 1) {
      variants.push([`${pieces} Initials, reversed`, [...recut(hello, pieces, false)].reverse()]);
      variants.push([`${pieces} Initials, shuffled (seed ${pieces})`, shuffled(recut(hello, pieces, false), pieces)]);
      variants.push([`${pieces} Initials coalesced in 1 datagram`, recut(hello, pieces, true)]);
    }
  }
  for (const [label, variant] of variants) {
    const result = await replay(variant, router);
    // A server's first flight carries its certificate: a full-size datagram. An ACK or a CONNECTION_CLOSE is small.
    const isServerFlight = result.largest >= SERVER_FLIGHT_MIN_BYTES;
    let line = `${entry.name.padEnd(11)} ${label.padEnd(36)} router: ${describe(result)}`;
    if (direct === null) {
      if (!isServerFlight) failures += 1;
    } else if (variant === datagrams) {
      // Byte for byte means the captured DCID, which the backend has just seen through the router: no fair twin.
      if (!isServerFlight) failures += 1;
      line += ' | direct: not compared (same DCID)';
    } else {
      // The same variant straight to the backend (fresh connection IDs again): the router must not change the outcome.
      const straight = await replay(rebuild(label, hello, datagrams), direct);
      const isSame = isServerFlight === straight.largest >= SERVER_FLIGHT_MIN_BYTES;
      if (!isSame) failures += 1;
      line += ` | direct: ${describe(straight)}${isSame ? '' : '   <-- DIFFERS'}`;
    }
    process.stdout.write(`${line}\n`);
  }
}

function describe(result) {
  if (result.answers === 0) return 'no answer';
  const kind = result.largest >= SERVER_FLIGHT_MIN_BYTES ? 'handshake' : 'short answer';
  return `${kind} (${result.answers} dgram, ${result.bytes} B, ${result.firstAnswerMs.toFixed(1)} ms)`;
}

/** The same variant again with fresh connection IDs, so the backend does not take it for a duplicate. */
function rebuild(label, hello, datagrams) {
  const pieces = Number(/^(\d+) Initial/.exec(label)?.[1] ?? 0);
  if (pieces === 0) {
    const resealed = reseal(datagrams, hello.scid, hello.dcid.length);
    return label.endsWith('reversed') ? resealed.reverse() : resealed;
  }
  const coalesce = label.includes('coalesced');
  const packets = recut(hello, pieces, coalesce);
  if (label.includes('reversed')) return packets.reverse();
  if (label.includes('shuffled')) return shuffled(packets, pieces);
  return packets;
}
process.exit(failures === 0 ? 0 : 1);
