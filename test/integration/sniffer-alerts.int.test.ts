/**
 * What a client is told when its connection is given up before a backend: real TLS clients (node:tls, openssl
 * s_client) read the TLS alert the sniffer sends — decode_error (50) for a ClientHello that breaks the grammar,
 * unrecognized_name (112) for a name no route serves — instead of a bare close they cannot tell from a crash.
 */
import { afterEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';
import { startTestRouter, type TestRouter } from '../helpers/router-harness.js';
import { startCaptureBackend } from '../helpers/backends.js';
import { collect, connectRaw, opensslConnect } from '../helpers/clients.js';
import { buildClientHello, toRecords } from '../helpers/hello-builder.js';

/** Offset of legacy_session_id's length byte: record header 5, handshake header 4, version 2, random 32. */
const SESSION_ID_LENGTH_OFFSET = 5 + 4 + 2 + 32;
const DECODE_ERROR_ALERT = Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 50]);

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function router(): Promise<TestRouter> {
  const backend = await startCaptureBackend();
  cleanups.push(() => backend.close());
  const started = await startTestRouter(`listen: ["127.0.0.1:0"]\nroutes:\n  app.test: [${backend.label}]\n`);
  cleanups.push(() => started.stop());
  return started;
}

/**
 * A loopback relay in front of the router that breaks the client's first write: legacy_session_id's length set
 * to 33, one more than RFC 8446 allows. Everything else passes untouched both ways.
 */
async function startCorruptingRelay(targetPort: number): Promise<number> {
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    let isFirst = true;
    client.on('data', (chunk: Buffer) => {
      if (isFirst && chunk.length > SESSION_ID_LENGTH_OFFSET) {
        chunk = Buffer.from(chunk);
        chunk[SESSION_ID_LENGTH_OFFSET] = 33;
      }
      isFirst = false;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    upstream.on('end', () => client.end());
    client.on('end', () => upstream.end());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as net.AddressInfo).port;
}

function tlsError(port: number, servername: string): Promise<NodeJS.ErrnoException> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ port, host: '127.0.0.1', servername, ca: [], rejectUnauthorized: false });
    socket.on('secureConnect', () => {
      socket.destroy();
      reject(new Error('handshake completed'));
    });
    socket.on('error', (error: NodeJS.ErrnoException) => resolve(error));
  });
}

describe('sniffer alerts', () => {
  it('node:tls reports decode_error (alert 50) for a hello the router cannot parse, and the line says why', async () => {
    const started = await router();
    const relayPort = await startCorruptingRelay(started.port());
    const error = await tlsError(relayPort, 'app.test');
    expect(error.code).toBe('ERR_SSL_TLSV1_ALERT_DECODE_ERROR');
    const line = await started.waitForAccessLine(() => true);
    expect(line).toMatchObject({ reason: 'hello_malformed', detail: 'session_id_too_long', hello: null, backend: null });
  });

  it('a raw client gets exactly one fatal decode_error record, then a FIN (not a reset)', async () => {
    const started = await router();
    const hello = Buffer.from(toRecords(buildClientHello({ sni: 'app.test' }), 'one'));
    hello[SESSION_ID_LENGTH_OFFSET] = 33;
    const client = await connectRaw(started.port());
    const result = collect(client);
    client.write(hello);
    const { data, hadError } = await result;
    expect(hadError).toBe(false);
    expect(data).toEqual(DECODE_ERROR_ALERT);
  });

  it('node:tls reports unrecognized_name (alert 112) for a name no route serves; openssl s_client names it too', async () => {
    const started = await router();
    const error = await tlsError(started.port(), 'nobody.test');
    expect(error.code).toBe('ERR_SSL_TLSV1_UNRECOGNIZED_NAME');
    const { result } = await opensslConnect(started.port(), 'nobody.test');
    expect(result.stdout + result.stderr).toMatch(/unrecognized name|alert number 112/i);
    const lines = started.accessLines();
    expect(lines).toHaveLength(2);
    expect(lines.every((line) => line.reason === 'no_route' && line.sni === 'nobody.test' && line.hello === 'sni')).toBe(true);
  });

  it('a hello without SNI and no default pool is still closed without an alert', async () => {
    const started = await router();
    const client = await connectRaw(started.port());
    const result = collect(client);
    client.write(toRecords(buildClientHello({ sni: null }), 'one'));
    const { data } = await result;
    expect(data.length).toBe(0);
    expect(await started.waitForAccessLine(() => true)).toMatchObject({ reason: 'no_route', hello: 'no_sni' });
  });
});

