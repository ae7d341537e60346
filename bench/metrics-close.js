/**
 * What the metrics cost per connection: ns for one accepted + hello + backendConnected + closed round of
 * RouterMetrics calls (what the data path does once per connection), over a realistic label spread (4 listeners,
 * 200 routes, a few close reasons). Run after `npm run build`:
 *
 *   node bench/metrics-close.js [--quick]
 *
 * Prints one JSON object: median and min ns per connection over several timed samples after a warm-up.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DIST_DIR } from './lib/paths.js';

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
const SAMPLES = values.quick ? 3 : 9;
const CONNECTIONS_PER_SAMPLE = values.quick ? 20_000 : 100_000;
const WARMUP_CONNECTIONS = 50_000;
const LISTENERS = ['127.0.0.1:8443', '[::1]:8443', '0.0.0.0:443', '127.0.0.1:9443'];
const ROUTES = Array.from({ length: 200 }, (_, i) => `app${i}.example.com`);
const REASONS = ['done', 'client_reset', 'backend_reset', 'idle_timeout'];

const { RouterMetrics } = await import(path.join(DIST_DIR, 'ops', 'metrics.js'));
const { Registry } = await import('prom-client');
const metrics = new RouterMetrics(new Registry(), { processMetrics: false });

/** @param {number} count */
function connections(count) {
  for (let i = 0; i < count; i++) {
    const listener = LISTENERS[i & 3] ?? '';
    const route = ROUTES[i % ROUTES.length] ?? null;
    metrics.accepted(listener);
    metrics.hello('sni_found', 517);
    metrics.backendConnected(route, 0.8);
    metrics.closed({ listener, route, reason: REASONS[i % 7 === 0 ? 1 + (i % 3) : 0], bytesIn: 1200, bytesOut: 48_000, durationMs: 35 });
  }
}

connections(WARMUP_CONNECTIONS);
const samples = [];
for (let s = 0; s < SAMPLES; s++) {
  const started = process.hrtime.bigint();
  connections(CONNECTIONS_PER_SAMPLE);
  samples.push(Number(process.hrtime.bigint() - started) / CONNECTIONS_PER_SAMPLE);
}
samples.sort((a, b) => a - b);
const round = (/** @type {number} */ n) => Math.round(n);
process.stdout.write(
  `${JSON.stringify({ ns_per_connection: { median: round(samples[samples.length >> 1] ?? 0), min: round(samples[0] ?? 0), max: round(samples[samples.length - 1] ?? 0) }, samples: SAMPLES, connections_per_sample: CONNECTIONS_PER_SAMPLE })}\n`,
);
