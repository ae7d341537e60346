#!/usr/bin/env node
// Regenerates fixtures/quic/<client>.datagrams.hex: the first flight of real QUIC clients (ngtcp2's gtlsclient,
// headless Chromium), captured on a loopback UDP socket that never answers. Datagrams from one client address:port
// are kept, byte for byte and in arrival order, until the built QUIC reader says the ClientHello is complete; then
// the client is stopped (by PID). One datagram per line, hex. fixtures/quic/index.json says what each client was
// asked for (name, ALPN) and what the capture holds (datagrams, QUIC version), so tests check the reader against
// the client's configuration.
//
//   npm run build && node scripts/capture-quic-initials.mjs
//
// gtlsclient takes the SNI from the host name it connects to, so it runs in a private mount namespace with a
// hosts file bind-mounted over /etc/hosts (needs root); Chromium maps the name with --host-resolver-rules.
// A client that is missing is skipped with a warning.
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { QuicInitialReader } from '../dist/wire/quic-hello-reader.js';

const OUT_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'quic');
const SERVER_NAME = 'capture.test';
const CAPTURE_TIMEOUT_MS = 20_000;
const MAX_DATAGRAMS = 16;

function versionOf(binary, args) {
  const result = spawnSync(binary, args, { encoding: 'utf8', timeout: 10_000 });
  return `${result.stdout ?? ''}${result.stderr ?? ''}`.split('\n').find((line) => line.trim() !== '')?.trim() ?? binary;
}

const CLIENTS = [
  {
    name: 'gtlsclient',
    binary: '/usr/bin/gtlsclient',
    alpn: ['h3'],
    describe: () => `ngtcp2 gtlsclient (Debian ${spawnSync('dpkg-query', ['-W', '-f=${Version}', 'ngtcp2-client'], { encoding: 'utf8' }).stdout || 'unknown'})`,
    command: (port, scratch) => {
      const hosts = join(scratch, 'hosts');
      writeFileSync(hosts, `127.0.0.1 ${SERVER_NAME}\n`);
      const script = 'mount --bind "$1" /etc/hosts && exec /usr/bin/gtlsclient -q "$2" "$3" "https://$2:$3/"';
      return ['unshare', ['-m', 'sh', '-c', script, 'sh', hosts, SERVER_NAME, String(port)]];
    },
  },
  {
    name: 'chromium',
    binary: '/usr/bin/chromium',
    alpn: ['h3'],
    describe: () => versionOf('/usr/bin/chromium', ['--version']),
    command: (port, scratch) => [
      '/usr/bin/chromium',
      [
        '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', `--user-data-dir=${join(scratch, 'profile')}`,
        '--enable-quic', `--origin-to-force-quic-on=${SERVER_NAME}:${port}`,
        `--host-resolver-rules=MAP ${SERVER_NAME} 127.0.0.1, MAP * ~NOTFOUND`, '--dump-dom', `https://${SERVER_NAME}:${port}/`,
      ],
    ],
  },
];

async function capture(client) {
  const socket = dgram.createSocket('udp4');
  await new Promise((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const port = socket.address().port;
  const scratch = mkdtempSync(join(tmpdir(), 'capture-quic-'));
  const [binary, args] = client.command(port, scratch);
  // Its own process group, so the client and every process it started (Chromium's helpers) stop together.
  const child = spawn(binary, args, { stdio: 'ignore', detached: true });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const flows = new Map();
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no complete hello from ${client.name} within ${CAPTURE_TIMEOUT_MS} ms`)), CAPTURE_TIMEOUT_MS);
      socket.on('message', (datagram, peer) => {
        const key = `${peer.address}:${peer.port}`;
        let flow = flows.get(key);
        if (flow === undefined) {
          flow = { reader: new QuicInitialReader({ maxHelloBytes: 64 * 1024 }), datagrams: [] };
          flows.set(key, flow);
        }
        if (flow.datagrams.length >= MAX_DATAGRAMS) return;
        flow.datagrams.push(Buffer.from(datagram));
        const answer = flow.reader.push(datagram);
        if (answer.kind === 'hello') {
          clearTimeout(timer);
          resolve({ datagrams: flow.datagrams, answer });
        } else if (answer.kind !== 'need_more') {
          clearTimeout(timer);
          reject(new Error(`${client.name}: the reader says ${JSON.stringify(answer)}`));
        }
      });
    });
  } finally {
    if (child.exitCode === null && child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      await exited;
    }
    socket.close();
    rmSync(scratch, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }
}

const index = [];
for (const client of CLIENTS) {
  if (!existsSync(client.binary)) {
    process.stderr.write(`capture-quic-initials: ${client.binary} missing; ${client.name} skipped\n`);
    continue;
  }
  const { datagrams, answer } = await capture(client);
  const file = `${client.name}.datagrams.hex`;
  writeFileSync(join(OUT_DIR, file), `${datagrams.map((datagram) => datagram.toString('hex')).join('\n')}\n`);
  index.push({
    name: client.name,
    file,
    client: client.describe(),
    sni: SERVER_NAME,
    alpn: client.alpn,
    quicVersion: answer.initial.version,
    datagrams: datagrams.length,
    datagramBytes: datagrams.map((datagram) => datagram.length),
    helloBytes: answer.hello.byteLength,
  });
  process.stderr.write(`capture-quic-initials: ${client.name}: ${datagrams.length} datagram(s), hello ${answer.hello.byteLength} bytes\n`);
}
const indexFile = join(OUT_DIR, 'index.json');
const previous = existsSync(indexFile) ? JSON.parse(readFileSync(indexFile, 'utf8')) : [];
const kept = previous.filter((entry) => !index.some((fresh) => fresh.name === entry.name));
writeFileSync(indexFile, `${JSON.stringify([...kept, ...index], null, 2)}\n`);
