/**
 * Plain-HTTP listeners (`node bench/http-listeners.js`; needs `npm run build`):
 *
 *   - head reader: µs per request head (a curl-like head of 91 bytes and a browser-like one of 472), fed whole
 *     and one byte per push (the dribbled case the hello timeout bounds);
 *   - redirect: 308 answers per second from a router in this process, to sequential keep-alive-less clients on
 *     127.0.0.1 (each: connect, request, read the answer, close), over a fixed count.
 *
 * Prints min/median/max of 5 runs. Not a test: nothing here is asserted.
 */
import net from 'node:net';
import path from 'node:path';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import pino from 'pino';
import { DIST_DIR } from './lib/paths.js';

const { HttpHostReader } = await import(path.join(DIST_DIR, 'wire', 'http-host-reader.js'));
const { loadConfig } = await import(path.join(DIST_DIR, 'config', 'load.js'));
const { startRouter } = await import(path.join(DIST_DIR, 'serve', 'router.js'));

const RUNS = 5;
const CURL = Buffer.from('GET /login?next=/ HTTP/1.1\r\nHost: app.example.com\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n');
const BROWSER = Buffer.from(
  'GET /account/settings?tab=security HTTP/1.1\r\nHost: www.example.com\r\nConnection: keep-alive\r\nUpgrade-Insecure-Requests: 1\r\n' +
    'User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36\r\n' +
    'Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8\r\n' +
    'Accept-Encoding: gzip, deflate\r\nAccept-Language: en-GB,en;q=0.9\r\nCookie: session=0123456789abcdef0123456789abcdef; theme=dark\r\n\r\n',
);

const stats = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return { min: sorted[0], median: sorted[Math.floor(sorted.length / 2)], max: sorted.at(-1) };
};
const show = (label, values, unit, digits = 2) => {
  const { min, median, max } = stats(values);
  console.log(`${label.padEnd(44)} ${median.toFixed(digits)} ${unit}  [${min.toFixed(digits)}–${max.toFixed(digits)}]`);
};

function readerMicros(head, isByteByByte, iterations) {
  const pieces = isByteByByte ? [...head].map((_, i) => head.subarray(i, i + 1)) : [head];
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    const reader = new HttpHostReader({ maxHeadBytes: 65536 });
    for (const piece of pieces) reader.push(piece);
  }
  return Number(process.hrtime.bigint() - start) / 1000 / iterations;
}

for (const [name, head] of [['curl head', CURL], ['browser head', BROWSER]]) {
  for (const isByteByByte of [false, true]) {
    const runs = [];
    for (let run = 0; run < RUNS; run++) runs.push(readerMicros(head, isByteByByte, isByteByByte ? 2_000 : 50_000));
    show(`${name} (${head.length} B), ${isByteByByte ? '1-byte pieces' : 'whole'}`, runs, 'µs');
  }
}

const dir = mkdtempSync(path.join(tmpdir(), 'sni-router-bench-'));
writeFileSync(path.join(dir, 'router.yaml'), 'listen: [{ address: "127.0.0.1:0", http: redirect }]\nroutes:\n  app.example.com: [127.0.0.1:9]\n');
const loaded = loadConfig({ configFile: path.join(dir, 'router.yaml') });
rmSync(dir, { recursive: true, force: true });
if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
const router = await startRouter(loaded.config, { logger: pino({ level: 'silent' }) });
const port = router.listeners[0].port;

async function oneRedirect() {
  const socket = net.connect({ port, host: '127.0.0.1' });
  await once(socket, 'connect');
  socket.end(CURL);
  let bytes = 0;
  socket.on('data', (chunk) => (bytes += chunk.length));
  await once(socket, 'close');
  if (bytes === 0) throw new Error('no answer');
}

const REQUESTS = 1_000;
const rates = [];
for (let run = 0; run < RUNS; run++) {
  const start = performance.now();
  for (let i = 0; i < REQUESTS; i++) await oneRedirect();
  rates.push(REQUESTS / ((performance.now() - start) / 1000));
}
show(`redirect 308, sequential clients (${REQUESTS} per run)`, rates, 'answers/s', 0);
await router.close(0);
