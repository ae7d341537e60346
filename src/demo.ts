/**
 * `npm run demo`: two demo HTTPS backends (alpha.test, beta.test) that read the PROXY v2 header we send, and a
 * router in front of them on 127.0.0.1:8443 (or --port N). Prints the routing table and, for every route, a curl
 * or openssl line that works as printed. Runs until Ctrl-C; its temporary config folder goes with it.
 */
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { V2ProxyProtocol } from 'proxy-protocol-js';
import { loadConfig, formatProblem } from './config/load.js';
import { describeConfig } from './config/describe.js';
import { startRouter } from './serve/router.js';
import { createLogger } from './ops/log.js';

const CERT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/certs');
const PP2_HEADER_FIXED_BYTES = 16;
const PP2_SIGNATURE = Buffer.from('\r\n\r\n\0\r\nQUIT\n', 'latin1');
const PP2_TYPE_AUTHORITY = 0x02;

/** An HTTPS server that expects a PROXY v2 header first and reports what it says in every response. */
async function startDemoBackend(name: string): Promise<number> {
  // What each connection's PROXY header said, by the router-side address (the TLS socket shares it).
  const headers = new Map<string, string>();
  const peerKey = (socket: net.Socket): string => `${socket.remoteAddress}:${socket.remotePort}`;
  const tlsServer = https.createServer(
    { cert: readFileSync(path.join(CERT_DIR, `${name}.pem`)), key: readFileSync(path.join(CERT_DIR, `${name}.key`)) },
    (request, response) => {
      const proxied = headers.get(peerKey(request.socket)) ?? 'no PROXY header';
      response.writeHead(200, { 'content-type': 'text/plain' });
      response.end(`hello from backend ${name}; ${proxied}\n`);
    },
  );
  const front = net.createServer((socket) => {
    socket.on('error', () => {});
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length < PP2_HEADER_FIXED_BYTES) return;
      socket.removeListener('data', onData);
      socket.pause();
      let rest = buffered;
      if (buffered.subarray(0, PP2_SIGNATURE.length).equals(PP2_SIGNATURE)) {
        const length = PP2_HEADER_FIXED_BYTES + buffered.readUInt16BE(14);
        if (buffered.length < length) {
          socket.on('data', onData);
          socket.resume();
          return;
        }
        const header = buffered.subarray(0, length);
        rest = buffered.subarray(length);
        const key = peerKey(socket);
        headers.set(key, describeHeader(header));
        socket.once('close', () => headers.delete(key));
      }
      // Node's TLS wrap reads bytes already buffered on the socket first, so the hello we read past the header
      // is handed back with unshift; the TLS layer then owns the socket (no resume here, it would steal reads).
      socket.unshift(rest);
      tlsServer.emit('connection', socket);
    };
    socket.on('data', onData);
  });
  front.listen(0, '127.0.0.1');
  await once(front, 'listening');
  return (front.address() as net.AddressInfo).port;
}

function describeHeader(header: Buffer): string {
  try {
    // proxy-protocol-js reads the address block; the TLVs after it are read here.
    const parsed = V2ProxyProtocol.parse(header) as unknown as { proxyAddress?: { sourceAddress?: { address?: number[] }; sourcePort?: number } };
    const source = parsed.proxyAddress;
    const address = source?.sourceAddress?.address?.join('.') ?? '?';
    let authority = '-';
    const familyBytes = header[13] === 0x11 ? 12 : header[13] === 0x21 ? 36 : 0;
    for (let offset = PP2_HEADER_FIXED_BYTES + familyBytes; offset + 3 <= header.length; ) {
      const type = header[offset]!;
      const length = header.readUInt16BE(offset + 1);
      if (type === PP2_TYPE_AUTHORITY) authority = header.subarray(offset + 3, offset + 3 + length).toString();
      offset += 3 + length;
    }
    return `PROXY v2 says client ${address}:${source?.sourcePort ?? '?'}, sni ${authority}`;
  } catch (error) {
    return `unreadable PROXY header (${(error as Error).message})`;
  }
}

const USAGE = `usage: npm run demo [-- --port N]      (or: node dist/demo.js [--port N])

Starts two demo HTTPS backends, alpha.test and beta.test, on free loopback ports, and sni-router in front of
them on 127.0.0.1:8443 (--port N for another; 0 picks a free one). It prints the routing table and a command
for every route (curl or openssl s_client, verifying against fixtures/certs/ca.pem), and logs one access line
per connection on stderr. Ctrl-C stops it and removes its temporary config folder.
`;

/** The port from --port N (or --port=N); 8443 when absent; null when it is not a port. */
function readPort(args: readonly string[]): number | null {
  const index = args.findIndex((arg) => arg === '--port' || arg.startsWith('--port='));
  if (index === -1) return 8443;
  const text = args[index]!.includes('=') ? args[index]!.slice('--port='.length) : args[index + 1];
  const port = Number(text);
  return text !== undefined && /^\d+$/.test(text) && port <= 65535 ? port : null;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(USAGE);
    return;
  }
  const unknown = args.filter((arg, index) => !/^--port(=|$)/.test(arg) && !/^--port$/.test(args[index - 1] ?? ''));
  const port = readPort(args);
  if (unknown.length > 0 || port === null) {
    process.stderr.write(`sni-router demo: ${port === null ? 'give --port a number from 0 to 65535' : `unknown argument '${unknown[0]}'`}\n\n${USAGE}`);
    process.exitCode = 1;
    return;
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'sni-router-demo-'));
  // Whatever way the demo ends (Ctrl-C, SIGTERM, an error, a normal exit), its folder goes.
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  // Handlers from the start: a signal that arrives while no handler is set kills at once, folder and all.
  let router: Awaited<ReturnType<typeof startRouter>> | null = null;
  let isStopping = false;
  const stop = (): void => {
    // A second Ctrl-C exits at once, still through process.exit so that the folder is removed.
    if (isStopping || router === null) process.exit(isStopping ? 130 : 0);
    isStopping = true;
    void router.close(0).then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const [alphaPort, betaPort] = await Promise.all([startDemoBackend('alpha.test'), startDemoBackend('beta.test')]);
  const file = path.join(dir, 'demo.yaml');
  writeFileSync(
    file,
    `# sni-router demo config
listen: ["127.0.0.1:${port}"]
proxy_protocol: v2
routes:
  alpha.test: [127.0.0.1:${alphaPort}]
  "*.beta.test": [127.0.0.1:${betaPort}]
  beta.test: [127.0.0.1:${betaPort}]
default: [127.0.0.1:${alphaPort}]
`,
  );
  const result = loadConfig({ configFile: file });
  if (!result.ok) {
    console.error(result.problems.map(formatProblem).join('\n'));
    process.exit(1);
  }
  const logger = createLogger({ level: 'info', fd: 2, sync: true });
  router = await startRouter(result.config, { logger });
  const bound = router.listeners[0]!;
  const ca = path.join(CERT_DIR, 'ca.pem');
  const curl = (name: string): string => `curl --cacert ${ca} --resolve ${name}:${bound.port}:127.0.0.1 https://${name}:${bound.port}/`;
  process.stdout.write(
    [
      `sni-router demo: router on 127.0.0.1:${bound.port}, backends alpha.test on ${alphaPort}, beta.test on ${betaPort}`,
      `config: ${file}`,
      '',
      describeConfig(result.config),
      '',
      'Try one command per route (access log lines appear on stderr):',
      `  ${curl('alpha.test')}`,
      `  ${curl('beta.test')}`,
      `  ${curl('www.beta.test')}`,
      `  openssl s_client -connect 127.0.0.1:${bound.port} -servername nobody.test -CAfile ${ca} -brief </dev/null   # no route: default pool (alpha)`,
      '',
      'Ctrl-C to stop.',
      '',
    ].join('\n'),
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`sni-router demo: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
