#!/usr/bin/env node
/**
 * QUIC passthrough cost: datagrams per second and added latency per datagram through the router — the real CLI
 * (`node dist/cli.js -l 127.0.0.1:0 --quic -r bench.test=ECHO`, UDP beside TCP as an operator runs it), or with
 * --standalone the bare flow engine (scripts/quic-router.mjs) — against the same UDP echo backend reached directly. Each round opens a new flow with a real Initial (a built ClientHello for bench.test), then:
 *
 *   latency     ping-pong: one 1200-byte datagram at a time, PINGS per round; the median round trip.
 *               added per datagram = (median via router − median direct) / 2, since a round trip crosses twice.
 *   throughput  WINDOW datagrams in flight, TOTAL per round; echoed datagrams per second (each echo is two
 *               datagrams through the router: one each way). Losses are counted, not retried.
 *
 * Prints min / median / max over ROUNDS for each figure. Loopback only; every loop bounded in count and time.
 *
 *   npm run build && node bench/quic-bench.js [--rounds 5] [--pings 2000] [--total 20000] [--window 32] [--standalone]
 */
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { buildInitialPacket, cryptoFrame } from '../dist/wire/initial-builder.js';
import { QUIC_VERSION_1 } from '../dist/wire/quic-crypto.js';

const REPO = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    pings: { type: 'string', default: '2000' },
    total: { type: 'string', default: '20000' },
    window: { type: 'string', default: '32' },
    standalone: { type: 'boolean', default: false },
  },
});
const ROUNDS = Number(values.rounds);
const PINGS = Number(values.pings);
const TOTAL = Number(values.total);
const WINDOW = Number(values.window);
const PAYLOAD_BYTES = 1200;
const LOSS_TIMEOUT_MS = 200;
const ROUND_DEADLINE_MS = 60_000;

const children = [];
process.on('exit', () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
});

/** Starts a child and resolves with the first stdout line that matches. */
function startChild(args, pattern) {
  const child = spawn(process.execPath, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`child did not start: ${args.join(' ')}`)), 10_000);
    child.stdout.on('data', (chunk) => {
      text += chunk;
      const match = pattern.exec(text);
      if (match !== null) {
        clearTimeout(timer);
        resolve({ child, match });
      }
    });
    child.once('exit', () => reject(new Error(`child exited: ${args.join(' ')}`)));
  });
}

const ECHO = `
const socket = require('node:dgram').createSocket('udp4');
socket.on('message', (m, peer) => socket.send(m, peer.port, peer.address));
socket.bind(0, '127.0.0.1', () => process.stdout.write('echo ' + socket.address().port + '\\n'));
`;

// A 1-RTT-looking datagram (short header); the echo and the router's forwarding path do not look inside.
const DATA = Buffer.alloc(PAYLOAD_BYTES, 0x5a);
DATA[0] = 0x40;

function hello() {
  // A minimal TLS 1.3 ClientHello for bench.test, offering h3: record-free handshake message.
  const name = Buffer.from('bench.test');
  const sni = Buffer.concat([Buffer.from([0, 0]), u16(name.length + 5), u16(name.length + 3), Buffer.from([0]), u16(name.length), name]);
  const alpn = Buffer.concat([Buffer.from([0, 16]), u16(5), u16(3), Buffer.from([2]), Buffer.from('h3')]);
  const versions = Buffer.from([0, 43, 0, 3, 2, 3, 4]);
  const extensions = Buffer.concat([sni, alpn, versions]);
  const body = Buffer.concat([Buffer.from([3, 3]), Buffer.alloc(32, 1), Buffer.from([0]), u16(2), Buffer.from([0x13, 0x01]), Buffer.from([1, 0]), u16(extensions.length), extensions]);
  return Buffer.concat([Buffer.from([1, 0, body.length >> 8, body.length & 0xff]), body]);
}
function u16(value) {
  return Buffer.from([value >> 8, value & 0xff]);
}

async function newFlow(port) {
  const socket = dgram.createSocket('udp4');
  await /** @type {Promise<void>} */ (new Promise((resolve) => socket.bind(0, '127.0.0.1', resolve)));
  const initial = buildInitialPacket({ version: QUIC_VERSION_1, dcid: Buffer.from(`benchdc${Math.random()}`.slice(0, 8)), packetNumber: 0, frames: cryptoFrame(0, hello()) });
  const answered = /** @type {Promise<void>} */ (new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no echo of the Initial: is the flow routed?')), 5_000);
    socket.once('message', () => {
      clearTimeout(timer);
      resolve();
    });
  }));
  socket.send(initial, port, '127.0.0.1');
  await answered;
  return socket;
}

async function pingPong(port) {
  const socket = await newFlow(port);
  const rtts = [];
  let sentAt = 0;
  let resolveEcho = () => {};
  socket.on('message', () => resolveEcho());
  const deadline = performance.now() + ROUND_DEADLINE_MS;
  for (let i = 0; i < PINGS && performance.now() < deadline; i += 1) {
    const echoed = /** @type {Promise<void>} */ (new Promise((resolve) => {
      resolveEcho = resolve;
      setTimeout(resolve, LOSS_TIMEOUT_MS).unref();
    }));
    sentAt = performance.now();
    socket.send(DATA, port, '127.0.0.1');
    await echoed;
    rtts.push(performance.now() - sentAt);
  }
  socket.close();
  rtts.sort((a, b) => a - b);
  return rtts[Math.floor(rtts.length / 2)];
}

async function windowed(port) {
  const socket = await newFlow(port);
  let sent = 0;
  let echoed = 0;
  let lost = 0;
  let inFlight = 0;
  let lastProgress = performance.now();
  const started = performance.now();
  let watchdog;
  await /** @type {Promise<void>} */ (new Promise((resolve) => {
    const pump = () => {
      while (inFlight < WINDOW && sent < TOTAL) {
        socket.send(DATA, port, '127.0.0.1');
        sent += 1;
        inFlight += 1;
      }
      if (echoed + lost >= TOTAL) resolve();
    };
    socket.on('message', () => {
      echoed += 1;
      inFlight -= 1;
      lastProgress = performance.now();
      pump();
    });
    // A stalled window means losses: what is still in flight counts as lost, and the window refills.
    watchdog = setInterval(() => {
      if (performance.now() - lastProgress > LOSS_TIMEOUT_MS) {
        lost += inFlight;
        inFlight = 0;
        lastProgress = performance.now();
        pump();
      }
      if (performance.now() - started > ROUND_DEADLINE_MS) resolve();
    }, LOSS_TIMEOUT_MS / 4);
    pump();
  }));
  clearInterval(watchdog);
  const seconds = (performance.now() - started) / 1000;
  socket.close();
  return { echoesPerSecond: echoed / seconds, lost };
}

function spread(values_) {
  const sorted = [...values_].sort((a, b) => a - b);
  return { min: sorted[0], median: sorted[Math.floor(sorted.length / 2)], max: sorted.at(-1) };
}
const fmt = (value, digits = 1) => value.toFixed(digits);

const echo = await startChild(['-e', ECHO], /echo (\d+)/);
const echoPort = Number(echo.match[1]);
const router = values.standalone
  ? await startChild(['scripts/quic-router.mjs', '--listen', '127.0.0.1:0', '--route', `bench.test=127.0.0.1:${echoPort}`, '--quiet'], /listening [^:]+:(\d+)/)
  : await startChild(['dist/cli.js', '-l', '127.0.0.1:0', '--quic', '-r', `bench.test=127.0.0.1:${echoPort}`], /"port":(\d+),"protocol":"quic","msg":"quic listening"/);
const routerPort = Number(router.match[1]);

const rows = { direct: { rtt: [], rate: [], lost: [] }, router: { rtt: [], rate: [], lost: [] } };
const added = [];
for (let round = 0; round < ROUNDS; round += 1) {
  for (const [name, port] of [['direct', echoPort], ['router', routerPort]]) {
    rows[name].rtt.push((await pingPong(port)) * 1000);
    const { echoesPerSecond, lost } = await windowed(port);
    rows[name].rate.push(echoesPerSecond);
    rows[name].lost.push(lost);
  }
  added.push((rows.router.rtt[round] - rows.direct.rtt[round]) / 2);
}

const out = [];
out.push(`QUIC passthrough on loopback via ${values.standalone ? 'the standalone engine' : 'the CLI (--quic)'}, ${ROUNDS} rounds; ${PAYLOAD_BYTES}-byte datagrams; node ${process.version}`);
out.push('                                   min       median    max');
for (const name of ['direct', 'router']) {
  const rtt = spread(rows[name].rtt);
  const rate = spread(rows[name].rate);
  out.push(`${name.padEnd(7)} round trip (µs)          ${fmt(rtt.min).padStart(8)}  ${fmt(rtt.median).padStart(8)}  ${fmt(rtt.max).padStart(8)}`);
  out.push(`${name.padEnd(7)} echoes/s (window ${String(WINDOW).padEnd(3)})    ${fmt(rate.min, 0).padStart(8)}  ${fmt(rate.median, 0).padStart(8)}  ${fmt(rate.max, 0).padStart(8)}   lost ${rows[name].lost.join('/')}`);
}
const addedSpread = spread(added);
out.push(`added latency per datagram (µs)  ${fmt(addedSpread.min).padStart(8)}  ${fmt(addedSpread.median).padStart(8)}  ${fmt(addedSpread.max).padStart(8)}`);
const routerDatagrams = spread(rows.router.rate.map((rate) => rate * 2));
out.push(`router datagrams/s (both ways)   ${fmt(routerDatagrams.min, 0).padStart(8)}  ${fmt(routerDatagrams.median, 0).padStart(8)}  ${fmt(routerDatagrams.max, 0).padStart(8)}`);
process.stdout.write(`${out.join('\n')}\n`);
for (const child of children) child.kill('SIGTERM');
