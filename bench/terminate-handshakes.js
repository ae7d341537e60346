#!/usr/bin/env node
/**
 * Full TLS handshakes per second through terminate mode.
 *
 *   npx tsc -p tsconfig.build.json && node bench/terminate-handshakes.js [--seconds 5] [--concurrency 32] [--resume]
 *
 * Starts the router as an operator would (`node dist/cli.js --listen … --route … --terminate … --cert … --key …`)
 * in front of a plaintext TCP backend, then runs `concurrency` node:tls client loops against it: connect, finish
 * the handshake (certificate verified against the test CA), send one line, read the backend's answer through the
 * router, close, repeat. Counts completed round trips for `seconds` after a one-second warm-up, prints one line,
 * and stops the router by its PID. Clients, backend and router share this machine: on a small box the clients'
 * own handshake work is a large part of the load, so treat the figure as a floor.
 * `--resume` reuses TLS session tickets (resumed handshakes) instead of full ones. `--clients N` runs the client
 * loops in N processes (default 1). The router's own CPU time over the window (from /proc) is printed too, and
 * handshakes per router CPU-second: what one core of router would sustain if the clients were elsewhere.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { runForJson } from './lib/children.js';
import { CERTS_DIR } from './lib/paths.js';
import { freePort, listenOnLoopback } from './lib/ports.js';
import { treeCpuSeconds } from './lib/proc.js';
import { startRouterCli } from './lib/router-cli.js';

const CA = readFileSync(path.join(CERTS_DIR, 'ca.pem'));
const NAME = 'router.test';
const WARMUP_MS = 1_000;
/** A client process gets this long past its warm-up and window before it is killed. */
const CLIENT_SLACK_MS = 30_000;

function option(name, fallback) {
  const index = process.argv.indexOf(`--${name}`);
  if (index === -1) return fallback;
  const value = process.argv[index + 1];
  return value === undefined || value.startsWith('--') ? true : value;
}

const seconds = Number(option('seconds', 5));
const concurrency = Number(option('concurrency', 32));
const resume = option('resume', false) === true;
const clients = Number(option('clients', 1));
// e.g. --router-node-args "--cpu-prof --cpu-prof-dir=/tmp/prof" (then: node bench/profile-summary.js FILE)
const routerNodeArgs = String(option('router-node-args', '')).split(' ').filter((arg) => arg !== '' && arg !== 'true');
const clientPort = Number(option('client-port', 0)); // internal: this process is one of the client processes
if (!(seconds > 0 && seconds <= 120) || !(concurrency > 0 && concurrency <= 1024)) {
  console.error('usage: node bench/terminate-handshakes.js [--seconds 1..120] [--concurrency 1..1024] [--resume]');
  process.exit(1);
}

/**
 * What the client loops of one process counted over the window.
 * @typedef {{ done: number, failed: number, elapsedS: number, cpuS: number }} ClientTotals
 */

let counting = false;
let done = 0;
let failed = 0;
let running = true;
/** @type {Buffer | undefined} */
let session;

/** @param {number} port */
function oneRoundTrip(port) {
  return /** @type {Promise<void>} */ (new Promise((resolve) => {
    const socket = tls.connect({ port, host: '127.0.0.1', servername: NAME, ca: CA, ALPNProtocols: ['http/1.1'], ...(resume && session ? { session } : {}) });
    if (resume) socket.once('session', (ticket) => (session = ticket));
    const finish = (ok) => {
      socket.destroy();
      if (counting) ok ? done++ : failed++;
      resolve();
    };
    socket.once('secureConnect', () => socket.write('ping\n'));
    socket.once('data', () => finish(true));
    socket.once('error', () => finish(false));
    socket.setTimeout(5_000, () => finish(false));
  }));
}

/**
 * Runs the client loops against `port`: warm-up, then counts for `seconds`.
 * @param {number} port
 * @returns {Promise<ClientTotals>}
 */
async function runClients(port, onCountingStart = () => {}) {
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) await oneRoundTrip(port);
  });
  await new Promise((resolve) => setTimeout(resolve, WARMUP_MS));
  const startUsage = process.cpuUsage();
  onCountingStart();
  counting = true;
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1_000));
  counting = false;
  const elapsedS = (performance.now() - started) / 1_000;
  const usage = process.cpuUsage(startUsage);
  running = false;
  await Promise.all(loops);
  return { done, failed, elapsedS, cpuS: (usage.user + usage.system) / 1e6 };
}

if (clientPort > 0) {
  console.log(JSON.stringify(await runClients(clientPort)));
  process.exit(0);
}

/** utime + stime of the router (and any process it started) in seconds, NaN when it is gone. @param {number} pid */
const cpuSecondsOf = (pid) => treeCpuSeconds(pid) ?? Number.NaN;

// A plaintext backend: answers each line with "ok\n" and closes when the client does.
const backend = net.createServer({ allowHalfOpen: true }, (socket) => {
  socket.on('error', () => {});
  socket.on('data', () => socket.write('ok\n'));
  socket.on('end', () => socket.end());
});
const backendPort = await listenOnLoopback(backend);

const port = await freePort();
const routerArgs = [
  '--listen', `127.0.0.1:${port}`,
  '--route', `${NAME}=127.0.0.1:${backendPort}`,
  '--terminate', NAME,
  '--cert', path.join(CERTS_DIR, 'router.test.pem'),
  '--key', path.join(CERTS_DIR, 'router.test.key'),
  '--log-level', 'warn',
];
/** @type {import('./lib/children.js').Child} */
let router;
try {
  router = await startRouterCli(routerArgs, { port, nodeArgs: routerNodeArgs, stderr: 'pipe' });
} catch (error) {
  console.error(/** @type {Error} */ (error).message);
  process.exit(1);
}

let routerCpuBefore = Number.NaN;
const sampleRouterCpu = () => (routerCpuBefore = cpuSecondsOf(router.pid));
/** @type {ClientTotals} */
let totals;
if (clients === 1) {
  totals = await runClients(port, sampleRouterCpu);
} else {
  setTimeout(sampleRouterCpu, WARMUP_MS); // the client processes start counting after their warm-up too
  const clientArgs = [fileURLToPath(import.meta.url), ...process.argv.slice(2), '--client-port', String(port)];
  const timeoutMs = WARMUP_MS + seconds * 1_000 + CLIENT_SLACK_MS;
  /** @type {ClientTotals[]} */
  const results = await Promise.all(Array.from({ length: clients }, (_, i) => runForJson(`client ${i + 1}`, process.execPath, clientArgs, timeoutMs)));
  totals = results.reduce((sum, r) => ({ done: sum.done + r.done, failed: sum.failed + r.failed, elapsedS: Math.max(sum.elapsedS, r.elapsedS), cpuS: sum.cpuS + r.cpuS }), { done: 0, failed: 0, elapsedS: 0, cpuS: 0 });
}
const routerCpuS = cpuSecondsOf(router.pid) - routerCpuBefore;
await router.stop();
backend.close();
const { done: doneTotal, failed: failedTotal, elapsedS } = totals;
const rate = doneTotal / elapsedS;
const result = {
  bench: 'terminate-handshakes',
  handshakes_per_s: Math.round(rate),
  handshakes: doneTotal,
  failed: failedTotal,
  seconds: Number(elapsedS.toFixed(2)),
  concurrency,
  resumed: resume,
  clients,
  client_cpu_s: Number(totals.cpuS.toFixed(2)),
  router_cpu_s: Number(routerCpuS.toFixed(2)),
  handshakes_per_router_cpu_s: Math.round(doneTotal / routerCpuS),
  cpus: os.cpus().length,
  node: process.version,
};
console.log(
  `${result.handshakes_per_s} handshakes/s (${resume ? 'resumed' : 'full'}, ${concurrency} concurrent x ${clients} client process(es), ` +
    `${result.seconds} s, ${failedTotal} failed); router CPU ${result.router_cpu_s} s → ${result.handshakes_per_router_cpu_s} per router CPU-second`,
);
console.log(JSON.stringify(result));
process.exit(failedTotal > 0 && doneTotal === 0 ? 1 : 0);
