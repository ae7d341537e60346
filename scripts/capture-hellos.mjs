#!/usr/bin/env node
// Regenerates fixtures/hellos/: real ClientHellos from real clients (openssl s_client, curl, node:tls), captured on
// a loopback server that reads the first bytes of each connection until the hello is complete, then closes.
//
//   node scripts/capture-hellos.mjs          (npm run fixtures)
//
// Writes fixtures/hellos/<name>.bin (the TLS records that carried the hello, byte for byte) and
// fixtures/hellos/index.json: for each capture, what the client was asked to send (sni, alpn, whether
// supported_versions offers TLS 1.3), so tests check the reader against the client's configuration rather than
// against another parser. `records` and `bytes` are measured from the capture (informational).
// Plain Node ESM on purpose (no build step); needs `openssl` and `curl` on PATH. A client that is missing is
// skipped with a warning, and index.json lists only what was captured.

import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';

const OUT_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'hellos');
const LOOPBACK = '127.0.0.1';
const SERVER_NAME = 'capture.example.com';
const CAPTURE_TIMEOUT_MS = 10_000;
const MAX_CAPTURE_BYTES = 64 * 1024;

// TLS record and handshake header layout (RFC 8446 §5.1, §4): just enough to know when the hello is complete.
const CONTENT_TYPE_HANDSHAKE = 0x16;
const RECORD_HEADER_BYTES = 5; // content_type 1 + legacy_record_version 2 + length 2
const RECORD_OFFSET_LENGTH = 3;
const HANDSHAKE_HEADER_BYTES = 4; // msg_type 1 + uint24 length 3
const HANDSHAKE_OFFSET_LENGTH = 1;

/**
 * Walks the records in `bytes`; returns { end, records } once the first handshake message is complete,
 * null when more bytes are needed. Throws on anything that is not a handshake record stream (a capture bug).
 */
function helloExtent(bytes) {
  const fragments = [];
  let fragmentBytes = 0;
  let at = 0;
  let records = 0;
  while (at + RECORD_HEADER_BYTES <= bytes.length) {
    if (bytes[at] !== CONTENT_TYPE_HANDSHAKE) throw new Error(`record ${records} is not a handshake record`);
    const length = bytes.readUInt16BE(at + RECORD_OFFSET_LENGTH);
    const fragmentEnd = at + RECORD_HEADER_BYTES + length;
    if (fragmentEnd > bytes.length) return null;
    fragments.push(bytes.subarray(at + RECORD_HEADER_BYTES, fragmentEnd));
    fragmentBytes += length;
    records += 1;
    at = fragmentEnd;
    if (fragmentBytes >= HANDSHAKE_HEADER_BYTES) {
      const message = Buffer.concat(fragments);
      const messageLength = HANDSHAKE_HEADER_BYTES + message.readUIntBE(HANDSHAKE_OFFSET_LENGTH, 3);
      if (fragmentBytes >= messageLength) return { end: at, records };
    }
  }
  return null;
}

/** A loopback server on port 0 whose next connection's hello is handed to `nextCapture`'s promise. */
function startCaptureServer() {
  let pending = null;
  const server = net.createServer((socket) => {
    const chunks = [];
    let total = 0;
    socket.on('error', () => {});
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      total += chunk.length;
      const bytes = Buffer.concat(chunks);
      let extent;
      try {
        extent = helloExtent(bytes);
      } catch (error) {
        pending?.reject(error);
        socket.destroy();
        return;
      }
      if (extent === null && total <= MAX_CAPTURE_BYTES) return;
      socket.destroy();
      if (extent === null) pending?.reject(new Error(`no complete hello in ${total} bytes`));
      else pending?.resolve({ bytes: Buffer.from(bytes.subarray(0, extent.end)), records: extent.records });
      pending = null;
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => {
      const { port } = server.address();
      resolve({
        port,
        close: () => new Promise((done) => server.close(done)),
        nextCapture: () =>
          new Promise((resolveCapture, rejectCapture) => {
            pending = { resolve: resolveCapture, reject: rejectCapture };
          }),
      });
    });
  });
}

/** Starts a client process; it is killed (by its own pid) when the capture ends or times out. */
function runProcess(command, args) {
  const child = spawn(command, args, { stdio: ['pipe', 'ignore', 'ignore'] });
  const exited = new Promise((resolve) => {
    child.once('error', (error) => resolve(error));
    child.once('exit', () => resolve(null));
  });
  return {
    exited,
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

function runNodeTls(port, options) {
  const socket = tls.connect({ host: LOOPBACK, port, rejectUnauthorized: false, ...options });
  socket.on('error', () => {});
  const exited = new Promise((resolve) => socket.once('close', () => resolve(null)));
  return { exited, stop: () => (socket.destroy(), exited) };
}

function hasCommand(command, versionArgs) {
  try {
    return execFileSync(command, versionArgs, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return null;
  }
}

/** A long ALPN list: with -max_send_frag 512 it makes openssl split its hello over several records. */
const LONG_ALPN = Array.from({ length: 12 }, (_, i) => `proto-${String(i).padStart(2, '0')}-${'x'.repeat(50)}`);

function captures(port, tools) {
  const target = `${LOOPBACK}:${port}`;
  const url = `https://${SERVER_NAME}:${port}/`;
  const resolveArg = `${SERVER_NAME}:${port}:${LOOPBACK}`;
  const list = [];
  if (tools.openssl) {
    const sClient = (args) => () => runProcess('openssl', ['s_client', '-connect', target, ...args]);
    list.push(
      {
        name: 'openssl-sni',
        client: tools.openssl,
        command: `openssl s_client -connect ${LOOPBACK}:PORT -servername ${SERVER_NAME}`,
        start: sClient(['-servername', SERVER_NAME]),
        expect: { sni: SERVER_NAME, alpn: [], tls13: true },
      },
      {
        name: 'openssl-alpn',
        client: tools.openssl,
        command: `openssl s_client -connect ${LOOPBACK}:PORT -servername ${SERVER_NAME} -alpn h2,http/1.1`,
        start: sClient(['-servername', SERVER_NAME, '-alpn', 'h2,http/1.1']),
        expect: { sni: SERVER_NAME, alpn: ['h2', 'http/1.1'], tls13: true },
      },
      {
        name: 'openssl-tls12',
        client: tools.openssl,
        command: `openssl s_client -connect ${LOOPBACK}:PORT -servername ${SERVER_NAME} -tls1_2`,
        start: sClient(['-servername', SERVER_NAME, '-tls1_2']),
        expect: { sni: SERVER_NAME, alpn: [], tls13: false },
      },
      {
        name: 'openssl-no-sni',
        client: tools.openssl,
        command: `openssl s_client -connect ${LOOPBACK}:PORT -noservername`,
        start: sClient(['-noservername']),
        expect: { sni: null, alpn: [], tls13: true },
      },
      {
        name: 'openssl-multi-record',
        client: tools.openssl,
        command: `openssl s_client -connect ${LOOPBACK}:PORT -servername ${SERVER_NAME} -max_send_frag 512 -alpn <12 names of 59 bytes>`,
        start: sClient(['-servername', SERVER_NAME, '-max_send_frag', '512', '-alpn', LONG_ALPN.join(',')]),
        expect: { sni: SERVER_NAME, alpn: LONG_ALPN, tls13: true },
      },
    );
  }
  if (tools.curl) {
    // curl built with HTTP/2 offers h2 then http/1.1 by default for https; without it, http/1.1 only.
    const defaultAlpn = tools.curlHttp2 ? ['h2', 'http/1.1'] : ['http/1.1'];
    const curl = (args) => () => runProcess('curl', ['-sk', '--max-time', '5', '--resolve', resolveArg, ...args, url]);
    list.push({
      name: 'curl',
      client: tools.curl,
      command: `curl --resolve ${SERVER_NAME}:PORT:${LOOPBACK} https://${SERVER_NAME}:PORT/ -k`,
      start: curl([]),
      expect: { sni: SERVER_NAME, alpn: defaultAlpn, tls13: true },
    });
    if (tools.curlHttp2) {
      list.push({
        name: 'curl-http2',
        client: tools.curl,
        command: `curl --http2 --resolve ${SERVER_NAME}:PORT:${LOOPBACK} https://${SERVER_NAME}:PORT/ -k`,
        start: curl(['--http2']),
        expect: { sni: SERVER_NAME, alpn: ['h2', 'http/1.1'], tls13: true },
      });
    }
  }
  list.push(
    {
      name: 'node-tls',
      client: `node ${process.version}`,
      command: `tls.connect({ servername: '${SERVER_NAME}', ALPNProtocols: ['h2', 'http/1.1'] })`,
      start: () => runNodeTls(port, { servername: SERVER_NAME, ALPNProtocols: ['h2', 'http/1.1'] }),
      expect: { sni: SERVER_NAME, alpn: ['h2', 'http/1.1'], tls13: true },
    },
    {
      name: 'node-tls-no-sni',
      client: `node ${process.version}`,
      command: `tls.connect({ host: '${LOOPBACK}' }) (no servername is sent for an IP address)`,
      start: () => runNodeTls(port, {}),
      expect: { sni: null, alpn: [], tls13: true },
    },
  );
  return list;
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no hello within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function main() {
  const opensslVersion = hasCommand('openssl', ['version']);
  const curlVersion = hasCommand('curl', ['--version']);
  const tools = {
    openssl: opensslVersion?.trim() ?? null,
    curl: curlVersion?.split('\n')[0]?.trim() ?? null,
    curlHttp2: curlVersion !== null && /^Features:.*\bHTTP2\b/m.test(curlVersion),
  };
  if (!tools.openssl) console.warn('openssl not found: skipping openssl captures');
  if (!tools.curl) console.warn('curl not found: skipping curl captures');

  mkdirSync(OUT_DIR, { recursive: true });
  for (const file of readdirSync(OUT_DIR)) {
    if (file.endsWith('.bin')) rmSync(join(OUT_DIR, file));
  }

  const server = await startCaptureServer();
  const index = [];
  try {
    for (const capture of captures(server.port, tools)) {
      const captured = server.nextCapture();
      const client = capture.start();
      try {
        const { bytes, records } = await withTimeout(captured, CAPTURE_TIMEOUT_MS, capture.name);
        writeFileSync(join(OUT_DIR, `${capture.name}.bin`), bytes);
        index.push({
          name: capture.name,
          file: `${capture.name}.bin`,
          client: capture.client,
          command: capture.command,
          sni: capture.expect.sni,
          alpn: capture.expect.alpn,
          supportedVersionsIncludesTls13: capture.expect.tls13,
          bytes: bytes.length,
          records,
        });
        console.log(`${capture.name.padEnd(22)} ${String(bytes.length).padStart(5)} bytes in ${records} record(s)`);
      } catch (error) {
        console.warn(`${capture.name}: skipped (${error instanceof Error ? error.message : String(error)})`);
        process.exitCode = 1;
      } finally {
        await client.stop();
      }
    }
  } finally {
    await server.close();
  }
  writeFileSync(join(OUT_DIR, 'index.json'), `${JSON.stringify(index, null, 2)}\n`);
  console.log(`wrote ${index.length} captures to ${OUT_DIR}`);
}

await main();
