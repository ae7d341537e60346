#!/usr/bin/env node
/**
 * How long a reload of a big config blocks the router's event loop (issue: a 10,000-route reload stalled every
 * connection for 520–790 ms). Starts `node <cli> -c big.yaml` with an admin listener, then RUNS times: SIGHUP, and
 * while the reload runs, asks GET /healthz back to back; the slowest answer during the reload is the block the
 * main thread imposed on everyone. Prints min/median/max of that and of the router's own `duration_ms`.
 *
 * Also prints sni_router_event_loop_lag_seconds scraped right after each reload (the worst lag of the last second;
 * with --workers, of the worst worker — the primary answers /healthz, so only this shows a worker's block).
 *
 *   node bench/reload-block.js [--cli dist/cli.js] [--routes 10000] [--runs 5] [--workers N]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? args[index + 1] : fallback;
};
const cli = path.resolve(option('cli', 'dist/cli.js'));
const routeCount = Number(option('routes', '10000'));
const runs = Number(option('runs', '5'));
const workers = option('workers', null);

function bigConfig(n) {
  let yaml = 'listen: ["127.0.0.1:0"]\nadmin: 127.0.0.1:0\nproxy_protocol: none\nroutes:\n';
  for (let i = 0; i < n; i++) {
    const port = 10000 + (i % 50);
    if (i % 10 === 0) yaml += `  "~^r${i}-[a-z0-9]+\\\\.example\\\\.net$": [127.0.0.1:${port}]\n`;
    else if (i % 3 === 0) yaml += `  "*.w${i}.example.com": [127.0.0.1:${port}]\n`;
    else yaml += `  "c${i}.example.com": [127.0.0.1:${port}, 127.0.0.1:${port + 1000}]\n`;
  }
  return yaml;
}

const dir = mkdtempSync(path.join(tmpdir(), 'sni-router-reload-block-'));
const file = path.join(dir, 'big.yaml');
writeFileSync(file, bigConfig(routeCount));
const child = spawn(process.execPath, [cli, '-c', file, '--no-watch', ...(workers ? ['--workers', workers] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
const lines = [];
let buffered = '';
child.stdout.on('data', (chunk) => {
  buffered += chunk;
  let newline;
  while ((newline = buffered.indexOf('\n')) >= 0) {
    try {
      lines.push(JSON.parse(buffered.slice(0, newline)));
    } catch {
      // not a log line
    }
    buffered = buffered.slice(newline + 1);
  }
});
const cleanup = () => {
  child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
};
process.on('exit', cleanup);

async function waitFor(predicate, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = lines.find(predicate);
    if (found) return found;
    if (Date.now() > deadline) throw new Error('timed out waiting for a log line');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function healthz(port) {
  const startedAt = performance.now();
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path: '/healthz', agent: false }, (response) => {
      response.resume();
      response.on('end', () => resolve(performance.now() - startedAt));
    });
    request.on('error', reject);
  });
}

function lagSeconds(port) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/metrics', agent: false }, (response) => {
      let body = '';
      response.on('data', (chunk) => (body += chunk));
      response.on('end', () => resolve(Number(/^sni_router_event_loop_lag_seconds\S* (\S+)$/m.exec(body)?.[1] ?? NaN)));
    }).on('error', reject);
  });
}

const stats = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return { min: sorted[0], median: sorted[Math.floor(sorted.length / 2)], max: sorted.at(-1) };
};
const fmt = ({ min, median, max }) => `${min.toFixed(1)} / ${median.toFixed(1)} / ${max.toFixed(1)} ms`;

const adminPort = Number((await waitFor((line) => line.msg === 'admin listening')).port);
await waitFor((line) => line.msg === 'sni-router started');
await new Promise((resolve) => setTimeout(resolve, 1_000)); // let start-up settle
const blocks = [];
const durations = [];
const lags = [];
for (let run = 0; run < runs; run++) {
  const before = lines.filter((line) => line.msg === 'config reloaded').length;
  child.kill('SIGHUP');
  let worst = 0;
  const deadline = Date.now() + 30_000;
  while (lines.filter((line) => line.msg === 'config reloaded').length === before && Date.now() < deadline) worst = Math.max(worst, await healthz(adminPort));
  worst = Math.max(worst, await healthz(adminPort)); // the swap itself, if it came after the last probe
  const reloaded = lines.filter((line) => line.msg === 'config reloaded')[before];
  blocks.push(worst);
  lags.push((await lagSeconds(adminPort)) * 1000);
  durations.push(Number(reloaded?.duration_ms ?? NaN));
  await new Promise((resolve) => setTimeout(resolve, 500));
}
console.log(`${routeCount} routes, ${runs} reloads, ${cli}${workers ? `, --workers ${workers}` : ''}`);
console.log(`  worst /healthz answer during a reload (min / median / max): ${fmt(stats(blocks))}`);
console.log(`  router duration_ms (min / median / max):                     ${fmt(stats(durations))}`);
if (lags.some((lag) => !Number.isNaN(lag))) console.log(`  event-loop lag after the reload (min / median / max):        ${fmt(stats(lags))}`);
process.exit(0);
