/**
 * Balancing through real sockets (a smaller run than the unit tests): weights honoured by round-robin exactly,
 * by random within a stated tolerance, and source-hash stable for a client address (distinct loopback addresses
 * 127.0.0.x stand in for distinct clients).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { once } from 'node:events';
import { startTestRouter, type TestRouter } from '../helpers/router-harness.js';

interface Backend {
  readonly name: string;
  readonly port: number;
  close(): Promise<void>;
}

async function startNamed(name: string): Promise<Backend> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.end(`${name}\n`);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const close = (): Promise<void> =>
    new Promise((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
  return { name, port: (server.address() as net.AddressInfo).port, close };
}

function ask(port: number, localAddress = '127.0.0.1'): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress });
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
    socket.on('error', () => {});
    socket.on('close', () => resolve(text.trim()));
    socket.on('connect', () => socket.write('ping\n'));
  });
}

async function countAnswers(port: number, count: number, localAddress?: (i: number) => string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (let i = 0; i < count; i += 20) {
    const batch = await Promise.all(Array.from({ length: Math.min(20, count - i) }, (_, j) => ask(port, localAddress?.(i + j))));
    for (const answer of batch) counts.set(answer, (counts.get(answer) ?? 0) + 1);
  }
  return counts;
}

let backends: Backend[] = [];
let router: TestRouter;

beforeAll(async () => {
  backends = [await startNamed('a'), await startNamed('b'), await startNamed('c')];
  const list = (weights: number[]): string =>
    `[${backends.map((b, i) => `{ address: "127.0.0.1:${b.port}", weight: ${weights[i]} }`).join(', ')}]`;
  // Non-TLS clients go to `default`; each algorithm gets its own router below through reload.
  router = await startTestRouter(`
listen: ["127.0.0.1:0"]
proxy_protocol: none
default: { backends: ${list([3, 1, 1])}, balance: round-robin }
`);
});

afterAll(async () => {
  await router?.stop();
  for (const backend of backends) await backend.close();
});

describe('balancing through the router', () => {
  it('round-robin with weights 3:1:1 gives exactly 300/100/100 of 500 connections', async () => {
    const counts = await countAnswers(router.port(), 500);
    expect(Object.fromEntries(counts)).toEqual({ a: 300, b: 100, c: 100 });
  });

  it('random (power of two) with weights 1:1:2 stays within ±7 percentage points over 600 connections', async () => {
    const { loadYaml } = await import('../helpers/router-harness.js');
    await router.router.reload(
      loadYaml(`
listen: ["127.0.0.1:0"]
proxy_protocol: none
default:
  balance: random
  backends: [${backends.map((b, i) => `{ address: "127.0.0.1:${b.port}", weight: ${[1, 1, 2][i]} }`).join(', ')}]
`),
    );
    const counts = await countAnswers(router.port(), 600);
    const share = (name: string): number => (counts.get(name) ?? 0) / 600;
    expect(Math.abs(share('a') - 0.25)).toBeLessThan(0.07);
    expect(Math.abs(share('b') - 0.25)).toBeLessThan(0.07);
    expect(Math.abs(share('c') - 0.5)).toBeLessThan(0.07);
  });

  it('source-hash sends each client address to one backend, every time, and spreads 20 addresses', async () => {
    const { loadYaml } = await import('../helpers/router-harness.js');
    await router.router.reload(
      loadYaml(`
listen: ["127.0.0.1:0"]
proxy_protocol: none
default: { balance: source-hash, backends: [${backends.map((b) => `"127.0.0.1:${b.port}"`).join(', ')}] }
`),
    );
    const seen = new Map<string, Set<string>>();
    for (let round = 0; round < 5; round++) {
      for (let host = 2; host < 22; host++) {
        const address = `127.0.0.${host}`;
        const answer = await ask(router.port(), address);
        if (!seen.has(address)) seen.set(address, new Set());
        seen.get(address)!.add(answer);
      }
    }
    for (const answers of seen.values()) expect(answers.size).toBe(1);
    const used = new Set([...seen.values()].map((answers) => [...answers][0]));
    expect(used.size).toBeGreaterThanOrEqual(2);
    // The access log shows the client address the hash used.
    expect(router.accessLines().some((l) => String(l.client).startsWith('127.0.0.7:'))).toBe(true);
  });
});
