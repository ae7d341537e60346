/**
 * The admin status page (GET /) and its JSON twins, on the real CLI router (child process, this project's data
 * plane) with real TLS backends and clients: /connections?list shows a held-open TLS connection with its name,
 * route, backend and growing byte counts, and pages and caps; /routes shows a backend going down when its server
 * is killed, with since when and why; headless Chromium shows all of it on the page, and a hostile server name
 * (`<img src=x onerror=…>`) as text, never as markup.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RouterProcess, startRouterProcess } from '../helpers/cli-process.js';
import { CA_FILE, certFor, deadPort, listenOnLoopback } from '../helpers/backends.js';
import { type EchoBackend, openStream, type Stream, startEchoBackend } from '../helpers/streams.js';
import { waitFor } from '../helpers/wait-for.js';
import { elementById, hasChromium, runChromium, tableRows } from '../helpers/chromium.js';

/** A TLS server that says its name, then echoes: a passthrough connection that stays open as long as we like. */
interface TlsEchoBackend {
  readonly name: string;
  readonly label: string;
  close(): Promise<void>;
}

async function startTlsEchoBackend(name: string): Promise<TlsEchoBackend> {
  const server = tls.createServer(certFor(name), (socket) => {
    socket.on('error', () => {});
    socket.write(`${name}\n`);
    socket.on('data', (chunk: Buffer) => socket.write(chunk));
  });
  server.on('tlsClientError', () => {});
  const { label, close } = await listenOnLoopback(server);
  return { name, label, close };
}

/** A real TLS client through the router, kept open: send n bytes, wait for their echo. */
interface TlsClient {
  readonly socket: tls.TLSSocket;
  echo(bytes: number): Promise<void>;
}

async function openTlsClient(port: number, servername: string): Promise<TlsClient> {
  const socket = tls.connect({ host: '127.0.0.1', port, servername, ca: readFileSync(CA_FILE) });
  socket.on('error', () => {});
  let received = 0;
  let expected = 0;
  let wake: (() => void) | null = null;
  socket.on('data', (chunk: Buffer) => {
    received += chunk.length;
    wake?.();
  });
  const until = (probe: () => boolean, what: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 10_000);
      const check = (): void => {
        if (!probe()) return;
        clearTimeout(timer);
        wake = null;
        resolve();
      };
      wake = check;
      check();
    });
  await once(socket, 'secureConnect');
  const greeting = `${servername}\n`.length; // the backends are named after the name they serve
  expected = greeting;
  await until(() => received >= expected, 'the greeting');
  return {
    socket,
    async echo(bytes) {
      expected += bytes;
      socket.write(Buffer.alloc(bytes, 0x61));
      await until(() => received >= expected, `the echo of ${bytes} bytes`);
    },
  };
}

interface Listed {
  id: string;
  client: string | null;
  listener: string;
  sni: string | null;
  route: string | null;
  backend: string | null;
  mode: string;
  state: string;
  opened_at: string;
  age_s: number;
  bytes_in: number;
  bytes_out: number;
}
interface ListPage {
  total: number;
  matched: number;
  offset: number;
  limit: number;
  connections: Listed[];
}
interface HealthEntry {
  backend: string;
  state: string;
  since: string | null;
  last_error: string | null;
  active: number;
}
interface RoutesBody {
  routes: Array<{ name: string; backends: string[]; backend_health: HealthEntry[] }>;
  default: { backends: string[]; backend_health: HealthEntry[] } | null;
  listeners: Array<{ label: string; address: string; port: number }>;
}

const HOSTILE_SNI = '<img src=x onerror="document.title=\'pwned\'">';

let dir = '';
let alpha: TlsEchoBackend;
let beta: TlsEchoBackend;
let fallback: EchoBackend;
let router: RouterProcess;
let port = 0;
let adminPort = 0;
let held: TlsClient | null = null;
const streams: Stream[] = [];
let betaKilledAt = 0;
let configFile = '';

async function admin<T>(pathAndQuery: string): Promise<{ status: number; body: T; headers: Headers }> {
  const response = await fetch(`http://127.0.0.1:${adminPort}${pathAndQuery}`);
  const text = await response.text();
  const isJson = (response.headers.get('content-type') ?? '').startsWith('application/json');
  return { status: response.status, body: (isJson ? JSON.parse(text) : text) as T, headers: response.headers };
}

const list = async (query = ''): Promise<ListPage> => {
  const { status, body } = await admin<ListPage>(`/connections?list${query}`);
  expect(status).toBe(200);
  return body;
};

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'sni-router-status-page-'));
  [alpha, beta, fallback] = await Promise.all([startTlsEchoBackend('alpha.test'), startTlsEchoBackend('beta.test'), startEchoBackend('fallback')]);
  const file = path.join(dir, 'router.yaml');
  configFile = file;
  writeFileSync(
    file,
    [
      'listen: ["127.0.0.1:0"]',
      'admin: 127.0.0.1:0',
      'proxy_protocol: none',
      'routes:',
      `  alpha.test: [${alpha.label}]`,
      '  beta.test:',
      `    backends: [${beta.label}]`,
      '    health: { interval: 200ms, timeout: 200ms, rise: 1, fall: 1 }',
      `default: [${fallback.label}]`,
      '',
    ].join('\n'),
  );
  router = await startRouterProcess(['-c', file, '--no-watch']);
  port = Number((await router.waitForLine((line) => line.msg === 'listening')).port);
  adminPort = Number((await router.waitForLine((line) => line.msg === 'admin listening')).port);
  await router.waitForLine((line) => line.msg === 'sni-router started');
});

afterAll(async () => {
  held?.socket.destroy();
  for (const stream of streams) stream.socket.destroy();
  await router?.stop('SIGKILL');
  await Promise.all([alpha?.close(), beta?.close(), fallback?.close()]);
  rmSync(dir, { recursive: true, force: true });
});

describe('GET /connections?list', () => {
  it('shows a held-open TLS connection with its name, route and backend, and bytes that grow', async () => {
    held = await openTlsClient(port, 'alpha.test');
    await held.echo(1_000);
    const first = (await list()).connections.find((connection) => connection.sni === 'alpha.test');
    expect(first).toMatchObject({
      client: `127.0.0.1:${held.socket.localPort}`,
      listener: '127.0.0.1:0',
      route: 'alpha.test',
      backend: alpha.label,
      mode: 'passthrough',
      state: 'splicing',
    });
    expect(Date.now() - Date.parse(first!.opened_at)).toBeGreaterThanOrEqual(0);
    expect(Date.now() - Date.parse(first!.opened_at)).toBeLessThan(10_000);
    // The ClientHello and the handshake went through too: more than the 1,000 bytes of data each way.
    expect(first!.bytes_in).toBeGreaterThan(1_000);
    expect(first!.bytes_out).toBeGreaterThan(1_000);

    await held.echo(20_000);
    const second = (await list()).connections.find((connection) => connection.id === first!.id);
    expect(second!.bytes_in).toBeGreaterThanOrEqual(first!.bytes_in + 20_000);
    expect(second!.bytes_out).toBeGreaterThanOrEqual(first!.bytes_out + 20_000);
    expect(second!.age_s).toBeGreaterThanOrEqual(first!.age_s);

    // The plain counts answer as before, with the bytes of open connections counted in.
    const { body: counts } = await admin<{ active: number; bytesIn: number; bytesOut: number }>('/connections');
    expect(counts.active).toBe(1);
    expect(counts.bytesIn).toBeGreaterThanOrEqual(second!.bytes_in);
  });

  it('a hostile server name is listed as sent, on the default route', async () => {
    const stream = await openStream(port, HOSTILE_SNI);
    streams.push(stream);
    expect(stream.backend).toBe('fallback');
    const page = await list(`&q=${encodeURIComponent('onerror')}`);
    expect(page.matched).toBe(1);
    expect(page.connections[0]).toMatchObject({ sni: HOSTILE_SNI, route: 'default', backend: fallback.label });
  });

  it('pages with limit and offset, caps the limit, counts the total, and refuses a bad query', async () => {
    for (let i = 0; i < 5; i++) {
      const stream = await openStream(port, `page-${i}.example`);
      streams.push(stream);
    }
    const all = await list();
    expect(all.total).toBe(7);
    expect(all.connections).toHaveLength(7);
    // Oldest first: the held TLS connection opened first.
    expect(all.connections[0]!.sni).toBe('alpha.test');

    const ids: string[] = [];
    for (let offset = 0; offset < 7; offset += 3) {
      const page = await list(`&limit=3&offset=${offset}`);
      expect(page).toMatchObject({ total: 7, matched: 7, offset, limit: 3 });
      expect(page.connections.length).toBe(Math.min(3, 7 - offset));
      ids.push(...page.connections.map((connection) => connection.id));
    }
    expect(ids).toEqual(all.connections.map((connection) => connection.id));

    expect((await list('&limit=5000')).limit).toBe(1000);
    expect((await list('&offset=100')).connections).toEqual([]);
    const filtered = await list('&q=PAGE-3');
    expect(filtered).toMatchObject({ total: 7, matched: 1 });
    expect(filtered.connections[0]!.sni).toBe('page-3.example');
    expect((await admin('/connections?list&limit=-1')).status).toBe(400);
    expect((await admin('/connections?list&offset=abc')).status).toBe(400);
  });
});

describe('GET /routes', () => {
  it('keeps its fields and adds backend_health; a killed backend turns down, with since and why', async () => {
    const before = (await admin<RoutesBody>('/routes')).body;
    const alphaRoute = before.routes.find((route) => route.name === 'alpha.test')!;
    expect(alphaRoute.backends).toEqual([alpha.label]);
    expect(alphaRoute.backend_health).toEqual([{ backend: alpha.label, state: 'up', since: expect.any(String), last_error: null, active: 1 }]);
    const betaBefore = before.routes.find((route) => route.name === 'beta.test')!.backend_health[0]!;
    expect(betaBefore).toMatchObject({ backend: beta.label, state: 'up', last_error: null, active: 0 });
    expect(before.default!.backend_health[0]).toMatchObject({ backend: fallback.label, state: 'up', active: 6 });
    expect(before.listeners).toEqual([{ label: '127.0.0.1:0', address: '127.0.0.1', port }]);

    betaKilledAt = Date.now();
    await beta.close();
    let down: HealthEntry | undefined;
    await waitFor(async () => {
      const routes = (await admin<RoutesBody>('/routes')).body;
      down = routes.routes.find((route) => route.name === 'beta.test')!.backend_health[0];
      return down?.state === 'down';
    }, 'beta.test to be shown down');
    expect(Date.parse(down!.since!)).toBeGreaterThanOrEqual(betaKilledAt - 5);
    expect(down!.last_error).toMatch(/ECONNREFUSED|refused/i);
    await router.waitForLine((line) => line.msg === 'backend down' && line.backend === beta.label);
  });
});

interface ReloadsBody {
  reloads: Array<{ at: string; source: string; ok: boolean; hash: string; changes?: { routes_added: string[] }; problems?: string[] }>;
}

describe('GET /reloads', () => {
  it('keeps the last reloads, newest first: what changed, or what was wrong', async () => {
    expect((await admin<ReloadsBody>('/reloads')).body.reloads).toEqual([]);
    const good = readFileSync(configFile, 'utf8');
    writeFileSync(configFile, good.replace('default:', `  gamma.test: [${alpha.label}]\ndefault:`));
    const ok = await fetch(`http://127.0.0.1:${adminPort}/reload`, { method: 'POST' });
    expect(ok.status).toBe(200);
    writeFileSync(configFile, `${readFileSync(configFile, 'utf8')}bogus: 1\n`);
    const failed = await fetch(`http://127.0.0.1:${adminPort}/reload`, { method: 'POST' });
    expect(failed.status).toBe(422);
    const { reloads } = (await admin<ReloadsBody>('/reloads')).body;
    expect(reloads).toHaveLength(2);
    expect(reloads[0]).toMatchObject({ source: 'admin', ok: false, problems: [expect.stringMatching(/bogus/)] });
    expect(reloads[1]).toMatchObject({ source: 'admin', ok: true, changes: { routes_added: ['gamma.test'] } });
    expect(reloads[0]!.hash).toBe(reloads[1]!.hash); // the failed one kept the running config
    expect(Date.parse(reloads[0]!.at)).toBeGreaterThanOrEqual(Date.parse(reloads[1]!.at));
  });
});

describe.skipIf(!hasChromium())('the status page in headless Chromium', () => {
  it('is served with a strict CSP and passes the admin guard only for this listener', async () => {
    const page = await admin<string>('/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/default-src 'none'/);
    expect(csp).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'(;|$)/);
    expect(csp).toMatch(/connect-src 'self'/);
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
    expect(page.body).not.toMatch(/<script[^>]+src=|<link[^>]+href=|https?:\/\/(?!127\.)/);
    // A DNS-rebinding page asks with its own name as Host: refused, the page is not served.
    const rebound = await new Promise<number>((resolve, reject) => {
      const socket = net.connect(adminPort, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: attacker.example\r\nConnection: close\r\n\r\n'));
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
      socket.on('error', reject);
      socket.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? 0)));
    });
    expect(rebound).toBe(403);
  });

  it('shows the routes, the killed backend down, the live connections, and the hostile name as text', async () => {
    const { stdout: dom } = await runChromium(`http://127.0.0.1:${adminPort}/`, { tempDir: dir });
    expect(dom).toContain('id="routes"');

    const routes = tableRows(elementById(dom, 'routes'));
    expect(routes.map((cells) => cells[1])).toEqual(['alpha.test', 'beta.test', 'gamma.test', 'default']);
    const betaRow = routes.find((cells) => cells[1] === 'beta.test')!;
    expect(betaRow[5]).toMatch(new RegExp(`^down ${beta.label.replace(/\./g, '\\.')} since \\d+ s ago 0 open .*refused`, 'i'));
    expect(routes.find((cells) => cells[1] === 'alpha.test')![5]).toMatch(/^up 127\.0\.0\.1:\d+ since .* 1 open$/);

    const connections = tableRows(elementById(dom, 'connections'));
    expect(connections).toHaveLength(7);
    const alphaRow = connections.find((cells) => cells[2] === 'alpha.test')!;
    expect(alphaRow.slice(0, 7)).toEqual([`127.0.0.1:${held!.socket.localPort}`, '127.0.0.1:0', 'alpha.test', 'alpha.test', alpha.label, 'passthrough', 'splicing']);
    expect(alphaRow[8]).toMatch(/KiB$/);

    // The hostile name is a text node: escaped in the DOM, no element made of it, nothing ran.
    expect(connections.some((cells) => cells[2] === HOSTILE_SNI)).toBe(true);
    expect(dom).toContain('&lt;img src=x onerror="document.title=\'pwned\'"&gt;');
    expect(dom).not.toMatch(/<img/i);
    expect(dom).toContain('<title>sni-router status</title>');

    const reloads = tableRows(elementById(dom, 'reloads'));
    expect(reloads.map((cells) => cells.slice(1, 3))).toEqual([['admin', 'failed'], ['admin', 'ok']]);
    expect(reloads[0]![3]).toMatch(/^kept [0-9a-f]{12} · [\d.]+ ms .*bogus/);
    expect(reloads[1]![3]).toMatch(/^now [0-9a-f]{12} · [\d.]+ ms \+ gamma\.test( |$)/);

    const listeners = tableRows(elementById(dom, 'listeners'));
    expect(listeners).toEqual([['127.0.0.1:0', `127.0.0.1:${port}`, '7']]);
    expect(elementById(dom, 'freshness')).toMatch(/^live/);
    // Two samples were taken (the page refreshes every 2 s): the rates are numbers, not dashes.
    const newConnections = /<div class="value">([^<]*)<\/div><div class="label">new conns/.exec(dom)?.[1];
    expect(newConnections).toMatch(/^\d+(\.\d+)?\/s$/);
  });

  it('filters by ?q=, and shows "stale" while a read fails, keeping the rest', async () => {
    const filtered = await runChromium(`http://127.0.0.1:${adminPort}/?q=page-4`, { tempDir: dir, budgetMs: 3_000 });
    const rows = tableRows(elementById(filtered.stdout, 'connections'));
    expect(rows.map((cells) => cells[2])).toEqual(['page-4.example']);
    expect(elementById(filtered.stdout, 'conn-count')).toBe('1 of 7 open match');

    // A filter longer than the router takes makes /connections?list answer 400: the page says stale, the rest stays.
    const failing = await runChromium(`http://127.0.0.1:${adminPort}/?q=${'x'.repeat(300)}`, { tempDir: dir, budgetMs: 3_000 });
    expect(elementById(failing.stdout, 'freshness')).toMatch(/^stale/);
    expect(tableRows(elementById(failing.stdout, 'routes')).map((cells) => cells[1])).toEqual(['alpha.test', 'beta.test', 'gamma.test', 'default']);
  });

  it('writes a screenshot (.tmp/status-page.png) to look at', async () => {
    const out = path.resolve('.tmp');
    mkdirSync(out, { recursive: true });
    const plane = process.env.SNI_ROUTER_DATA_PLANE;
    const file = path.join(out, plane === undefined || plane === 'node' ? 'status-page.png' : `status-page-${plane}.png`);
    await runChromium(`http://127.0.0.1:${adminPort}/`, { tempDir: dir, screenshot: file, windowSize: '1280,900' });
    expect(readFileSync(file).subarray(1, 4).toString()).toBe('PNG');
  });
});

describe('with --workers 2', () => {
  let workers: RouterProcess | null = null;
  const clients: TlsClient[] = [];
  afterAll(async () => {
    for (const client of clients) client.socket.destroy();
    await workers?.stop('SIGKILL');
  });

  it('the primary gathers the list, the health and the counts from every worker', async () => {
    const dead = `127.0.0.1:${await deadPort()}`;
    const file = path.join(dir, 'workers.yaml');
    writeFileSync(
      file,
      [
        'listen: ["127.0.0.1:0"]',
        'admin: 127.0.0.1:0',
        'proxy_protocol: none',
        'routes:',
        `  alpha.test: [${alpha.label}]`,
        '  dead.test:',
        `    backends: [${dead}]`,
        '    health: { interval: 200ms, timeout: 200ms, rise: 1, fall: 1 }',
        '',
      ].join('\n'),
    );
    workers = await startRouterProcess(['-c', file, '--workers', '2', '--no-watch']);
    const started = await workers.waitForLine((line) => line.msg === 'sni-router started', 20_000);
    const routerPort = Number((workers.lines().find((line) => line.msg === 'listening') ?? {}).port);
    const primaryAdmin = Number((workers.lines().find((line) => line.msg === 'admin listening') ?? {}).port);
    expect(started).toMatchObject({ workers: 2 });
    for (let i = 0; i < 6; i++) clients.push(await openTlsClient(routerPort, 'alpha.test'));
    await Promise.all(clients.map((client) => client.echo(500)));

    const get = async <T>(query: string): Promise<T> => (await (await fetch(`http://127.0.0.1:${primaryAdmin}${query}`)).json()) as T;
    const all = await get<Omit<ListPage, 'connections'> & { connections: Array<Listed & { worker: number }> }>('/connections?list');
    expect(all).toMatchObject({ total: 6, matched: 6 });
    expect(all.connections.every((connection) => connection.route === 'alpha.test' && connection.bytes_in > 500)).toBe(true);
    const clientPorts = clients.map((client) => `127.0.0.1:${client.socket.localPort}`).sort();
    expect(all.connections.map((connection) => connection.client).sort()).toEqual(clientPorts);
    expect(new Set(all.connections.map((connection) => connection.worker)).size).toBeGreaterThanOrEqual(1);
    // Pages cut from the workers' lists merged: the same connections, in the same order, a page at a time.
    const first = await get<ListPage>('/connections?list&limit=4');
    const second = await get<ListPage>('/connections?list&limit=4&offset=4');
    expect([...first.connections, ...second.connections].map((connection) => connection.id)).toEqual(all.connections.map((connection) => connection.id));

    const counts = await get<{ active: number; workers: number; bytesIn: number }>('/connections');
    expect(counts).toMatchObject({ active: 6, workers: 2 });
    expect(counts.bytesIn).toBeGreaterThan(6 * 500);

    let routes: RoutesBody | null = null;
    await waitFor(async () => {
      routes = await get<RoutesBody>('/routes');
      return routes.routes.find((route) => route.name === 'dead.test')?.backend_health[0]?.state === 'down';
    }, 'dead.test to be shown down by the workers\' checks');
    const alphaHealth = routes!.routes.find((route) => route.name === 'alpha.test')!.backend_health[0];
    expect(alphaHealth).toMatchObject({ backend: alpha.label, state: 'up', active: 6 });
    expect(routes!.routes.find((route) => route.name === 'dead.test')!.backend_health[0]!.last_error).toMatch(/ECONNREFUSED|refused/i);
  });
});
