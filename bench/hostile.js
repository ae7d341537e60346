#!/usr/bin/env node
/**
 * Hostile floods against a running router, with good clients measured during each.
 *
 *   npm run build && node bench/hostile.js [--connections 2000] [--seconds 5]
 *
 * Starts the router as an operator would (`node dist/cli.js -c FILE --no-watch`, default limits except a
 * per-client connection rate of 100/s) in front of an echo backend, then runs each flood in turn:
 *
 *   big-hellos   `connections` sockets from 40 loopback addresses (50 each, under the rate limit), each sending 65,000 bytes of a 65,535-byte
 *                hello and stalling (limits.max_hello_bytes_total, 64 MiB, bounds what they hold);
 *   handshakes   `connections` sockets sending a complete ClientHello for a terminate route, then stalling inside
 *                the TLS handshake (counted in the hello caps: 256 per address);
 *   conn-rate    64 loops of full TLS handshakes from one address (127.0.0.3) for `seconds`
 *                (limits.max_connection_rate_per_client refuses what is over 100/s).
 *
 * For each: good-client p50/p99 (4 loops, each one connect → 517-byte hello + 100 B → echo → close per 80 ms, from
 * 127.0.0.1: 50/s, under the rate limit) before
 * and during the flood, router RSS before / peak / after (2 s after the flood's sockets closed), descriptors before /
 * after. Every loop is bounded in count and time; the router is stopped by its PID.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { runForJson } from './lib/children.js';
import { CERTS_DIR, DEFAULT_HELLO } from './lib/paths.js';
import { freePort, listenOnLoopback } from './lib/ports.js';
import { openFdCount, rssKiB } from './lib/proc.js';
import { percentile } from './lib/report.js';
import { startRouterCli, writeRouterConfig } from './lib/router-cli.js';

const CA = readFileSync(path.join(CERTS_DIR, 'ca.pem'));
const GOOD_HELLO = readFileSync(DEFAULT_HELLO);
const TLS_NAME = 'router.test';
const RATE_LIMIT = 100;
const GOOD_LOOPS = 4;
/** 4 loops × one round trip per 80 ms = 50 connections/s from 127.0.0.1, half the configured rate limit. */
const GOOD_PERIOD_MS = 80;
const SETTLE_MS = 2_000;
/** A second RSS reading after the flood: V8 and malloc give memory back lazily. */
const LATE_MS = 10_000;

function option(name, fallback) {
  const index = process.argv.indexOf(`--${name}`);
  if (index === -1) return fallback;
  return process.argv[index + 1] ?? fallback;
}
const connections = Number(option('connections', 2000));
const seconds = Number(option('seconds', 5));
if (!(connections > 0 && connections <= 9000) || !(seconds > 0 && seconds <= 60)) {
  console.error('usage: node bench/hostile.js [--connections 1..9000] [--seconds 1..60]');
  process.exit(1);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** @param {number} pid */
const rssOf = (pid) => (rssKiB(pid) ?? 0) * 1024;
const mb = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

/**
 * A 65,500-byte ClientHello (padding extension) in records of 2^14, 65,520 bytes with their headers (just under
 * max_hello_bytes, 65,536): the big-hello flood sends 65,000 bytes of it and stalls.
 */
function bigHello(total = 65_500) {
  const sni = Buffer.from('flood.test');
  const sniExt = Buffer.concat([u16(0), u16(sni.length + 5), u16(sni.length + 3), Buffer.from([0]), u16(sni.length), sni]);
  const fixed = Buffer.concat([u16(0x0303), Buffer.alloc(32, 7), Buffer.from([0]), u16(2), u16(0x1301), Buffer.from([1, 0])]);
  const padLength = total - 4 - fixed.length - 2 - sniExt.length - 4;
  const extensions = Buffer.concat([sniExt, u16(21), u16(padLength), Buffer.alloc(padLength)]);
  const body = Buffer.concat([fixed, u16(extensions.length), extensions]);
  const handshake = Buffer.concat([Buffer.from([1, body.length >> 16, (body.length >> 8) & 0xff, body.length & 0xff]), body]);
  const records = [];
  for (let at = 0; at < handshake.length; at += 16_384) {
    const fragment = handshake.subarray(at, at + 16_384);
    records.push(Buffer.from([0x16, 3, 1]), u16(fragment.length), fragment);
  }
  return Buffer.concat(records);
}
function u16(value) {
  return Buffer.from([value >> 8, value & 0xff]);
}

/** A real node:tls ClientHello for the terminate route, captured once from a local socket. */
async function capturedTlsHello() {
  const server = net.createServer();
  const port = await listenOnLoopback(server);
  const captured = new Promise((resolve) => server.once('connection', (socket) => socket.once('data', (data) => (resolve(data), socket.destroy()))));
  const client = tls.connect({ port, host: '127.0.0.1', servername: TLS_NAME, ca: CA });
  client.on('error', () => {});
  const hello = await captured;
  client.destroy();
  server.close();
  return hello;
}

async function startEcho() {
  const sockets = new Set();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    socket.pipe(socket);
  });
  const port = await listenOnLoopback(server);
  return { port, close: () => (sockets.forEach((s) => s.destroy()), server.close()) };
}

/** One good round trip: connect, hello + 100 B, read the echo back, close. Resolves its latency in ms (or null). */
function goodRoundTrip(port) {
  return new Promise((resolve) => {
    const started = performance.now();
    const expected = GOOD_HELLO.length + 100;
    let received = 0;
    const socket = net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.1' });
    const timer = setTimeout(() => finish(null), 5_000);
    const finish = (value) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    socket.on('error', () => finish(null));
    socket.on('connect', () => socket.write(Buffer.concat([GOOD_HELLO, Buffer.alloc(100, 1)])));
    socket.on('data', (data) => {
      received += data.length;
      if (received >= expected) finish(performance.now() - started);
    });
  });
}

/**
 * GOOD_LOOPS loops of good round trips, each starting one every GOOD_PERIOD_MS (so the good address stays well under
 * max_connection_rate_per_client), until `until()` is false; latencies and failures.
 */
async function goodClients(port, until) {
  const latencies = [];
  let failures = 0;
  const loop = async () => {
    for (let i = 0; i < 100_000 && until(); i++) {
      const started = Date.now();
      const ms = await goodRoundTrip(port);
      if (ms === null) failures++;
      else latencies.push(ms);
      await sleep(Math.max(0, GOOD_PERIOD_MS - (Date.now() - started)));
    }
  };
  await Promise.all(Array.from({ length: GOOD_LOOPS }, loop));
  latencies.sort((a, b) => a - b);
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), count: latencies.length, failures };
}

/** Opens `count` sockets from 40 loopback addresses, each sent `bytes` and left stalled. */
async function stalledSockets(port, count, bytes) {
  const sockets = [];
  for (let i = 0; i < count; i++) {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress: `127.0.1.${10 + (i % 40)}` });
    socket.on('error', () => {});
    socket.on('connect', () => socket.write(bytes));
    socket.resume();
    sockets.push(socket);
    if (i % 100 === 99) await sleep(5); // let the router accept as they come
  }
  return sockets;
}

/** 64 loops of full TLS handshakes from one address until `until()` is false; counts completed and refused. */
async function handshakeFlood(port, until) {
  let completed = 0;
  let refused = 0;
  const loop = async () => {
    for (let i = 0; i < 1_000_000 && until(); i++) {
      const ok = await new Promise((resolve) => {
        const socket = tls.connect(/** @type {tls.ConnectionOptions} */ ({ port, host: '127.0.0.1', localAddress: '127.0.0.3', servername: TLS_NAME, ca: CA }));
        const timer = setTimeout(() => (socket.destroy(), resolve(false)), 5_000);
        socket.once('secureConnect', () => (clearTimeout(timer), socket.destroy(), resolve(true)));
        socket.once('error', () => (clearTimeout(timer), socket.destroy(), resolve(false)));
        socket.once('close', () => (clearTimeout(timer), resolve(false)));
      });
      if (ok) completed++;
      else refused++;
    }
  };
  await Promise.all(Array.from({ length: 64 }, loop));
  return { completed, refused };
}

/** Runs handshakeFlood in a child `node bench/hostile.js --flood-port P --seconds S`; its counts. */
function floodInChild(port, floodSeconds) {
  const args = [fileURLToPath(import.meta.url), '--flood-port', String(port), '--seconds', String(floodSeconds)];
  return runForJson('conn-rate flood', process.execPath, args, (floodSeconds + 15) * 1000);
}

async function main() {
  const floodPort = Number(option('flood-port', 0));
  if (floodPort > 0) {
    const end = Date.now() + seconds * 1000;
    process.stdout.write(JSON.stringify(await handshakeFlood(floodPort, () => Date.now() < end)));
    return;
  }
  const echo = await startEcho();
  const port = await freePort();
  const config = writeRouterConfig('sni-router-hostile-', [
    `listen: ["127.0.0.1:${port}"]`,
    'proxy_protocol: none',
    'log_level: warn',
    `limits: { max_connection_rate_per_client: ${RATE_LIMIT} }`,
    'routes:',
    `  ${TLS_NAME}:`,
    `    backends: [127.0.0.1:${echo.port}]`,
    `    terminate: { cert: ${path.join(CERTS_DIR, 'router.test.pem')}, key: ${path.join(CERTS_DIR, 'router.test.key')} }`,
    `default: [127.0.0.1:${echo.port}]`,
  ]);
  // e.g. --router-node-args "--expose-gc --require ./gc-every-second.cjs" to see what a collection gives back
  const nodeArgs = String(option('router-node-args', '')).split(' ').filter((arg) => arg !== '');
  /** @type {import('./lib/children.js').Child | null} */
  let router = null;
  try {
    router = await startRouterCli(['-c', config.file, '--no-watch'], { port, nodeArgs });
    const tlsHello = await capturedTlsHello();
    const big = bigHello().subarray(0, 65_000);
    const baseline = await timed(seconds * 1000, () => goodClients(port, running));
    console.log(`router pid ${router.pid}; good clients alone: p50 ${baseline.p50.toFixed(2)} ms, p99 ${baseline.p99.toFixed(2)} ms (${baseline.count} round trips, ${baseline.failures} failed)`);
    console.log('flood        good p50 / p99 (ms)   good ok/failed   router RSS before / peak / after 2 s (after 10 s)   fds before / after   notes');

    const floods = [
      { name: 'big-hellos', run: async (until) => ({ sockets: await stalledSockets(port, connections, big), until }) },
      { name: 'handshakes', run: async (until) => ({ sockets: await stalledSockets(port, connections, tlsHello), until }) },
      // In a child process: the clients' handshake crypto must not slow this process's good-client loops.
      { name: 'conn-rate', run: async () => ({ sockets: [], stats: await floodInChild(port, seconds) }) },
    ];
    const pid = router.pid;
    for (const flood of floods) {
      const rssBefore = rssOf(pid);
      const fdsBefore = openFdCount(pid);
      let peak = rssBefore;
      let peakFds = fdsBefore;
      const sampler = setInterval(() => {
        peak = Math.max(peak, rssOf(pid));
        peakFds = Math.max(peakFds, openFdCount(pid));
      }, 100);
      const end = Date.now() + seconds * 1000;
      const until = () => Date.now() < end;
      const [result, good] = await Promise.all([flood.run(until), goodClients(port, until)]);
      while (until()) await sleep(50);
      for (const socket of result.sockets) socket.destroy();
      await sleep(SETTLE_MS);
      clearInterval(sampler);
      const rssAfter = rssOf(pid);
      await sleep(LATE_MS - SETTLE_MS);
      const rssLate = rssOf(pid);
      const fdsAfter = openFdCount(pid);
      const notes = result.stats ? `${result.stats.completed} handshakes done, ${result.stats.refused} refused; peak fds ${peakFds}` : `${result.sockets.length} sockets; peak fds ${peakFds}`;
      console.log(
        `${flood.name.padEnd(12)} ${`${good.p50.toFixed(2)} / ${good.p99.toFixed(2)}`.padEnd(21)} ${`${good.count}/${good.failures}`.padEnd(16)} ` +
          `${`${mb(rssBefore)} / ${mb(peak)} / ${mb(rssAfter)} (${mb(rssLate)} at ${LATE_MS / 1000} s)`.padEnd(48)} ${`${fdsBefore} / ${fdsAfter}`.padEnd(20)} ${notes}`,
      );
    }
  } finally {
    await router?.stop(1_000, 'SIGKILL');
    echo.close();
    config.remove();
  }
}

let isRunning = true;
const running = () => isRunning;
/** Runs `fn` with `running()` true for `ms`. */
async function timed(ms, fn) {
  isRunning = true;
  const timer = setTimeout(() => (isRunning = false), ms);
  const result = await fn();
  clearTimeout(timer);
  return result;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
