#!/usr/bin/env node
/**
 * HTTP termination against nginx `proxy_pass`, same backend, same run.
 *
 *   npm run build && node bench/http-terminate.js [--seconds 4] [--concurrency 16] [--rounds 3] [--protocol h1|h2]
 *
 * One node `http` backend (its own process) answers every request with a 1 KiB body. In front of it, each with
 * the same certificate: the router (`--terminate-http`, one process) and nginx (one worker, `proxy_pass` with an
 * upstream keepalive pool and proxy_http_version 1.1, access log off). A load process runs `concurrency` request
 * loops over kept-alive TLS connections (h1: one connection per loop; h2: one session carrying every loop's
 * streams) for `seconds`, after a one-second warm-up, and reports requests/s and the p50/p99 latency. The
 * targets alternate per round, so drift on this shared machine hits both; figures are min/median/max over rounds.
 * Everything listens on 127.0.0.1 and every process started here is stopped by its PID.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'dist/cli.js');
const CERTS = path.join(ROOT, 'fixtures/certs');
const NAME = 'router.test';
const READY_TIMEOUT_MS = 10_000;

function option(name, fallback) {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? fallback : process.argv[index + 1];
}
const SECONDS = Number(option('seconds', 4));
const CONCURRENCY = Number(option('concurrency', 16));
const ROUNDS = Number(option('rounds', 3));
const PROTOCOL = option('protocol', 'h1');
const DATA_PLANE = option('data-plane', 'auto');
const BODY_BYTES = Number(option('body-bytes', 1024));

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function start(command, args, options = {}) {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'inherit'], ...options });
  child.on('exit', (code) => code !== 0 && code !== null && console.error(`${path.basename(command)} exited with ${code}`));
  return child;
}

async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await once(child, 'exit');
  clearTimeout(timer);
}

const BACKEND = `
const http = require('node:http');
const body = Buffer.alloc(Number(process.argv[2]), 'x');
const server = http.createServer((q, s) => { q.resume(); q.on('end', () => { s.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length }); s.end(body); }); });
server.keepAliveTimeout = 60000;
server.listen(Number(process.argv[1]), '127.0.0.1');
`;

const LOAD = `
const https = require('node:https');
const http2 = require('node:http2');
const [port, seconds, concurrency, protocol] = process.argv.slice(1);
const ca = require('node:fs').readFileSync(${JSON.stringify(path.join(CERTS, 'ca.pem'))});
const latencies = [];
let counting = false, done = false, count = 0, errors = 0;
const agent = new https.Agent({ keepAlive: true, maxSockets: Number(concurrency) });
const session = protocol === 'h2' ? http2.connect('https://127.0.0.1:' + port, { ca, servername: ${JSON.stringify(NAME)} }) : null;
session?.on('error', () => errors++);
function one() {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const finish = (ok) => { if (!ok) errors++; else if (counting) { count++; latencies.push(Number(process.hrtime.bigint() - t0) / 1e6); } resolve(); };
    if (session) {
      let stream; try { stream = session.request({ ':path': '/', ':authority': ${JSON.stringify(NAME)} }); } catch { done = true; return finish(false); }
      stream.on('data', () => {}); stream.on('end', () => finish(true)); stream.on('error', () => finish(false));
    } else {
      const q = https.get({ host: '127.0.0.1', port: Number(port), servername: ${JSON.stringify(NAME)}, headers: { host: ${JSON.stringify(NAME)} }, ca, agent, path: '/' }, (s) => { s.on('data', () => {}); s.on('end', () => finish(s.statusCode === 200)); });
      q.on('error', () => finish(false));
    }
  });
}
async function loop() { while (!done) await one(); }
const loops = Array.from({ length: Number(concurrency) }, loop);
setTimeout(() => { counting = true; const started = Date.now();
  setTimeout(async () => { done = true; counting = false; const elapsed = (Date.now() - started) / 1000; await Promise.all(loops);
    latencies.sort((a, b) => a - b); const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
    process.stdout.write(JSON.stringify({ rps: count / elapsed, p50: q(0.5), p99: q(0.99), errors }) + '\\n'); session?.close(); agent.destroy(); }, Number(seconds) * 1000);
}, 1000);
`;

async function load(port) {
  const child = spawn(process.execPath, ['-e', LOAD, String(port), String(SECONDS), String(CONCURRENCY), PROTOCOL], { stdio: ['ignore', 'pipe', 'inherit'] });
  child.on('exit', (code) => code !== 0 && console.error(`load process exited with ${code}`));
  let out = '';
  child.stdout.on('data', (chunk) => (out += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), (SECONDS + 30) * 1000);
  await once(child, 'exit');
  clearTimeout(timer);
  return JSON.parse(out);
}

function nginxConf(dir, port, backendPort) {
  const user = process.getuid?.() === 0 ? 'user root;\n' : '';
  return `${user}worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;   # nginx 1.22 sends GOAWAY after 1000 requests by default; the router does not
  client_body_temp_path ${dir}/cb; proxy_temp_path ${dir}/px; fastcgi_temp_path ${dir}/fc; uwsgi_temp_path ${dir}/uw; scgi_temp_path ${dir}/sc;
  upstream app { server 127.0.0.1:${backendPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${port} ssl http2;
    server_name ${NAME};
    ssl_certificate ${CERTS}/router.test.pem;
    ssl_certificate_key ${CERTS}/router.test.key;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto https;
    }
  }
}
`;
}

const summary = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return { min: sorted[0], median: sorted[Math.floor(sorted.length / 2)], max: sorted[sorted.length - 1] };
};
const fmt = ({ min, median, max }, digits) => `${min.toFixed(digits)} / ${median.toFixed(digits)} / ${max.toFixed(digits)}`;

async function main() {
  const [backendPort, routerPort, nginxPort] = [await freePort(), await freePort(), await freePort()];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-http-'));
  const children = [];
  try {
    children.push(start(process.execPath, ['-e', BACKEND, String(backendPort), String(BODY_BYTES)]));
    children.push(
      start(process.execPath, [CLI, '-l', `127.0.0.1:${routerPort}`, '-r', `${NAME}=127.0.0.1:${backendPort}`, '--terminate-http', NAME,
        '--cert', path.join(CERTS, 'router.test.pem'), '--key', path.join(CERTS, 'router.test.key'), '--log-level', 'warn', '--data-plane', DATA_PLANE]),
    );
    writeFileSync(path.join(dir, 'nginx.conf'), nginxConf(dir, nginxPort, backendPort));
    children.push(start('/usr/sbin/nginx', ['-p', `${dir}/`, '-c', path.join(dir, 'nginx.conf'), '-g', 'daemon off;']));
    await Promise.all([waitForPort(backendPort), waitForPort(routerPort), waitForPort(nginxPort)]);
    const results = { router: [], nginx: [] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, port] of round % 2 === 0 ? [['router', routerPort], ['nginx', nginxPort]] : [['nginx', nginxPort], ['router', routerPort]]) {
        results[name].push(await load(port));
      }
    }
    console.log(`http-terminate ${PROTOCOL}, ${CONCURRENCY} loops, ${SECONDS}s x ${ROUNDS} rounds, ${BODY_BYTES}-byte responses, data plane ${DATA_PLANE} (min / median / max)`);
    for (const name of ['router', 'nginx']) {
      const runs = results[name];
      console.log(
        `  ${name.padEnd(6)} req/s ${fmt(summary(runs.map((r) => r.rps)), 0)}   p50 ms ${fmt(summary(runs.map((r) => r.p50)), 2)}   p99 ms ${fmt(summary(runs.map((r) => r.p99)), 2)}   errors ${runs.reduce((n, r) => n + r.errors, 0)}`,
      );
    }
    const ratios = results.router.map((r, i) => r.rps / results.nginx[i].rps);
    console.log(`  router/nginx req/s per round: ${ratios.map((r) => r.toFixed(2)).join(', ')}`);
  } finally {
    for (const child of children.reverse()) await stop(child);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
