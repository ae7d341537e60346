#!/usr/bin/env node
/**
 * Slowloris figures: how fast good clients are served while thousands of connections sit in their hello.
 *
 *   npm run build && node bench/slowloris.js [--connections 5000] [--good 50] [--hello-timeout 10] [--runs 1]
 *
 * The same scenario as test/integration/slowloris.int.test.ts, which asserts only what must hold on any machine
 * (every good client answered while all stalled connections are still open, all stalled closed by the hello
 * timeout, no descriptor left). The latencies live here because they depend on the machine and its load.
 *
 * Per run: starts the router as an operator would (`node dist/cli.js -c FILE --no-watch`, a passthrough route to a
 * backend that answers "ok" to its first bytes), measures 20 good clients alone, opens `connections` sockets (250
 * in flight at a time, from 50 loopback addresses 127.0.1.1–50) that send half of a real ClientHello
 * (fixtures/hellos/curl.bin) and stall, waits until the router holds them all, then `good` good clients one after another from 127.0.0.200 (connect →
 * backend's answer), then waits for the hello timeout to close every stalled socket. Prints good-client
 * p50/p99/max alone and during the flood, the time to open the flood and to see it closed, and the router's
 * descriptors before / with the flood / after. With --runs > 1, min / median / max over the runs. Every loop is
 * bounded in count and time; the router is stopped by its PID.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { DEFAULT_HELLO } from './lib/paths.js';
import { freePort, listenOnLoopback, waitForPort } from './lib/ports.js';
import { openFdCount } from './lib/proc.js';
import { percentile } from './lib/report.js';
import { startRouterCli, writeRouterConfig } from './lib/router-cli.js';

const ADDRESSES = 50;
const IN_FLIGHT = 250;
const ALONE = 20;
const READY_TIMEOUT_MS = 10_000;
const CLIENT_TIMEOUT_MS = 10_000;

function option(name, fallback) {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? fallback : Number(process.argv[index + 1] ?? fallback);
}
const connections = option('connections', 5_000);
const goodCount = option('good', 50);
const helloTimeoutSeconds = option('hello-timeout', 10);
const runs = option('runs', 1);
if (!(connections > 0 && connections <= 9_000) || !(goodCount > 0 && goodCount <= 1_000) || !(helloTimeoutSeconds >= 1 && helloTimeoutSeconds <= 60) || !(runs >= 1 && runs <= 10)) {
  console.error('usage: node bench/slowloris.js [--connections 1..9000] [--good 1..1000] [--hello-timeout 1..60] [--runs 1..10]');
  process.exit(1);
}

const HELLO = readFileSync(DEFAULT_HELLO);
const HALF_HELLO = HELLO.subarray(0, Math.floor(HELLO.length / 2));

const round = (ms) => Math.round(ms * 10) / 10;

/** connect → the backend's first answer through the router, in ms; rejects after CLIENT_TIMEOUT_MS. */
function goodClient(port) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.200' });
    const timer = setTimeout(() => (socket.destroy(), reject(new Error('good client not answered'))), CLIENT_TIMEOUT_MS);
    socket.on('error', (error) => (clearTimeout(timer), reject(error)));
    socket.once('connect', () => socket.write(HELLO));
    socket.once('data', () => {
      clearTimeout(timer);
      resolve(performance.now() - started);
      socket.destroy();
    });
  });
}

async function goodClients(port, count) {
  const latencies = [];
  for (let i = 0; i < count; i++) latencies.push(await goodClient(port));
  return latencies.sort((a, b) => a - b);
}

/** The router's open connections, summed over listeners, from its /metrics (0 when unreachable). */
function activeConnections(adminPort) {
  return new Promise((resolve) => {
    const request = http.get({ host: '127.0.0.1', port: adminPort, path: '/metrics', timeout: 2_000 }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => (body += chunk));
      response.on('end', () => {
        let sum = 0;
        for (const match of body.matchAll(/^sni_router_connections_active(?:\{[^}]*\})? (\d+)/gm)) sum += Number(match[1]);
        resolve(sum);
      });
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(0));
  });
}

/** A socket that sends half a hello and stalls; `closed` resolves when the router closes it. */
function stalledClient(port, localAddress) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress });
    socket.on('error', () => {});
    socket.resume();
    const closed = new Promise((done) => socket.once('close', done));
    socket.once('connect', () => {
      socket.write(HALF_HELLO);
      resolve({ socket, closed });
    });
    socket.once('close', () => reject(new Error('closed before connecting')));
  });
}

async function oneRun() {
  const backend = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.once('data', () => socket.write('ok'));
  });
  const backendPort = await listenOnLoopback(backend);
  const port = await freePort();
  const adminPort = await freePort();
  const config = writeRouterConfig('sni-router-slowloris-', [
    `listen: ["127.0.0.1:${port}"]`,
    'proxy_protocol: none',
    'log_level: warn',
    `admin: 127.0.0.1:${adminPort}`,
    `timeouts: { client_hello: ${helloTimeoutSeconds}s }`,
    `default: [127.0.0.1:${backendPort}]`,
  ]);
  /** @type {import('./lib/children.js').Child | null} */
  let router = null;
  const stalled = [];
  try {
    router = await startRouterCli(['-c', config.file, '--no-watch'], { port });
    await waitForPort(adminPort, READY_TIMEOUT_MS);
    const alone = await goodClients(port, ALONE);
    const fdsBefore = openFdCount(router.pid);
    const openStarted = performance.now();
    for (let i = 0; i < connections; i += IN_FLIGHT) {
      const size = Math.min(IN_FLIGHT, connections - i);
      stalled.push(...(await Promise.all(Array.from({ length: size }, (_, j) => stalledClient(port, `127.0.1.${((i + j) % ADDRESSES) + 1}`)))));
    }
    const openMs = performance.now() - openStarted;
    // As in the test, measure once the router holds the whole flood (the kernel completes a connect before the
    // router accepts it): its sni_router_connections_active, polled with a deadline.
    const acceptDeadline = Date.now() + READY_TIMEOUT_MS;
    while ((await activeConnections(adminPort)) < connections && Date.now() < acceptDeadline) await new Promise((resolve) => setTimeout(resolve, 20));
    const acceptedMs = performance.now() - openStarted;
    const fdsWithFlood = openFdCount(router.pid);
    const during = await goodClients(port, goodCount);
    const stillOpen = stalled.filter(({ socket }) => !socket.destroyed).length;
    const closeStarted = performance.now();
    const deadline = new Promise((resolve) => setTimeout(resolve, (helloTimeoutSeconds + 10) * 1_000).unref());
    await Promise.race([Promise.all(stalled.map(({ closed }) => closed)), deadline]);
    const closeMs = performance.now() - closeStarted;
    const notClosed = stalled.filter(({ socket }) => !socket.destroyed).length;
    return {
      alone_p50_ms: round(percentile(alone, 50)),
      during_p50_ms: round(percentile(during, 50)),
      during_p99_ms: round(percentile(during, 99)),
      during_max_ms: round(during.at(-1)),
      open_flood_ms: Math.round(openMs),
      flood_accepted_ms: Math.round(acceptedMs),
      stalled_open_while_measuring: stillOpen,
      closed_by_timeout_after_ms: Math.round(closeMs),
      not_closed: notClosed,
      router_fds: `${fdsBefore} / ${fdsWithFlood} / ${openFdCount(router.pid)}`,
    };
  } finally {
    for (const { socket } of stalled) socket.destroy();
    await router?.stop(1_000, 'SIGKILL');
    backend.close();
    config.remove();
  }
}

function spread(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return `${sorted[0]} / ${sorted[Math.floor((sorted.length - 1) / 2)]} / ${sorted.at(-1)}`;
}

async function main() {
  console.log(`slowloris: ${connections} stalled half-hellos from ${ADDRESSES} addresses, ${goodCount} good clients, hello timeout ${helloTimeoutSeconds} s, ${runs} run(s)`);
  const results = [];
  for (let run = 1; run <= runs; run++) {
    const result = await oneRun();
    results.push(result);
    console.log(`run ${run}: ${JSON.stringify(result)}`);
  }
  if (runs > 1) {
    for (const key of ['alone_p50_ms', 'during_p50_ms', 'during_p99_ms', 'during_max_ms', 'open_flood_ms', 'flood_accepted_ms', 'closed_by_timeout_after_ms']) {
      console.log(`${key.padEnd(28)} min / median / max: ${spread(results.map((result) => result[key]))}`);
    }
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
