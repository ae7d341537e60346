/**
 * `npm run demo`: two demo HTTPS backends (alpha.test, beta.test) that read the PROXY v2 header we send, and a
 * router in front of them on 127.0.0.1:8443 (or --port N). Prints the routing table and curl lines that work as
 * printed. Runs until Ctrl-C.
 */
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { V2ProxyProtocol } from 'proxy-protocol-js';
import { loadConfig, formatProblem } from './config/load.js';
import { describeConfig } from './config/describe.js';
import { startRouter } from './router.js';
import { createLogger } from './log.js';

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

async function main(): Promise<void> {
  const portArg = process.argv.indexOf('--port');
  const port = portArg > 0 ? Number(process.argv[portArg + 1]) : 8443;
  const [alphaPort, betaPort] = await Promise.all([startDemoBackend('alpha.test'), startDemoBackend('beta.test')]);
  const dir = mkdtempSync(path.join(tmpdir(), 'sni-router-demo-'));
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
  const router = await startRouter(result.config, { logger });
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
      'Try (access log lines appear on stderr):',
      `  ${curl('alpha.test')}`,
      `  ${curl('beta.test')}`,
      `  openssl s_client -connect 127.0.0.1:${bound.port} -servername beta.test -CAfile ${ca} -brief </dev/null`,
      `  openssl s_client -connect 127.0.0.1:${bound.port} -servername nobody.test -CAfile ${ca} -brief </dev/null   # no route: default pool (alpha)`,
      '',
      'Ctrl-C to stop.',
      '',
    ].join('\n'),
  );
  const stop = (): void => {
    void router.close(0).then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

void main();
