/**
 * The native plane under test: the real addon (or the one SNI_ROUTER_NATIVE_ADDON names, e.g. the sanitizer
 * build), a small SNI → backends table as its `decide`, every event recorded, and the descriptor count of this
 * process to prove nothing leaks.
 */
import { afterAll, afterEach, beforeAll } from 'vitest';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { encodeProxyHeader } from '../../../src/wire/proxy-header.js';
import type { ClosedEvent, NativeAddon, NativeBackend } from '../../../src/data-path/native/addon.js';
import { DEFAULT_ADDON_PATH, loadNativeAddon } from '../../../src/data-path/native/load.js';
import { NativeDataPlane, type Decision, type HandedOffSocket, type HelloVerdict } from '../../../src/data-path/native/native-plane.js';

const loaded = loadNativeAddon();
export const addon: NativeAddon | null = 'addon' in loaded ? loaded.addon : null;
export const loadError: string | null = 'error' in loaded ? loaded.error : null;
if (loadError !== null) process.stderr.write(`test/native: skipped, the native addon did not load: ${loadError}\n`);

export interface RouteEntry {
  readonly backends: readonly NativeBackend[];
  /** Default: a PROXY v2 header with the SNI as authority. */
  readonly header?: 'v2' | 'none';
  readonly connectTimeoutMs?: number;
  readonly idleTimeoutMs?: number;
  readonly handoff?: boolean;
}

export interface Closed {
  readonly event: ClosedEvent;
  readonly verdict: HelloVerdict | null;
}

export interface TestPlane {
  readonly plane: NativeDataPlane<HelloVerdict>;
  readonly port: number;
  readonly closed: Closed[];
  readonly headers: Map<number, Buffer>;
  /** Resolves with the n-th (0-based) closed event. */
  closedEvent(index: number, timeoutMs?: number): Promise<Closed>;
  destroy(): void;
}

export interface TestPlaneOptions {
  /** By exact SNI, or a function of it. */
  readonly routes: Readonly<Record<string, RouteEntry>> | ((sni: string) => RouteEntry | undefined);
  readonly host?: string;
  readonly helloTimeoutMs?: number;
  readonly forceCopy?: boolean;
  readonly onHandoff?: (verdict: HelloVerdict, socket: HandedOffSocket) => void;
}

export function startTestPlane(options: TestPlaneOptions): TestPlane {
  if (addon === null) throw new Error(`native addon missing: ${loadError ?? ''}`);
  const closed: Closed[] = [];
  const headers = new Map<number, Buffer>();
  let wake: Array<() => void> = [];
  const decide = (verdict: HelloVerdict): Decision<HelloVerdict> => {
    if (verdict.result.kind !== 'hello') return { kind: 'close', context: verdict, reason: verdict.result.kind === 'not_tls' ? 'not_tls' : verdict.result.kind === 'too_large' ? 'hello_too_large' : 'hello_malformed' };
    const sni = verdict.result.hello.sni;
    const routes = options.routes;
    const entry = sni === null ? undefined : typeof routes === 'function' ? routes(sni) : routes[sni];
    if (entry === undefined) return { kind: 'close', reason: 'no_route', context: verdict };
    if (entry.handoff === true) return { kind: 'handoff' };
    const header = entry.header === 'none' ? null : encodeProxyHeader('v2', { source: verdict.client, destination: verdict.local, authority: sni });
    if (header !== null) headers.set(verdict.connId, header);
    return { kind: 'route', context: verdict, backends: entry.backends, header, connectTimeoutMs: entry.connectTimeoutMs ?? 2_000, idleTimeoutMs: entry.idleTimeoutMs ?? 30_000 };
  };
  const plane = new NativeDataPlane<HelloVerdict>(addon, {
    maxHelloBytes: 64 * 1024,
    helloTimeoutMs: options.helloTimeoutMs ?? 5_000,
    ...(options.forceCopy === undefined ? {} : { forceCopy: options.forceCopy }),
    decide,
    ...(options.onHandoff === undefined ? {} : { onHandoff: options.onHandoff }),
    onClosed: (event, verdict) => {
      closed.push({ event, verdict });
      const current = wake;
      wake = [];
      for (const fn of current) fn();
    },
    onError: (error) => {
      throw error;
    },
  });
  const { port } = plane.listen({ host: options.host ?? '127.0.0.1', port: 0 });
  return {
    plane,
    port,
    closed,
    headers,
    closedEvent: async (index, timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = closed[index];
        if (found !== undefined) return found;
        const remaining = deadline - Date.now();
        if (remaining <= 0) throw new Error(`no closed event #${index} within ${timeoutMs} ms (have ${closed.length})`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, remaining);
          wake.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
    destroy: () => plane.destroy(),
  };
}

export function openFdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/**
 * Waits (on the event loop, bounded) until this process holds no more descriptors than `baseline`: sockets the
 * tests closed are released by libuv a turn or two later.
 */
export async function expectFdsBackTo(baseline: number, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (openFdCount() > baseline) {
    if (Date.now() > deadline) {
      const list = readdirSync('/proc/self/fd').length;
      throw new Error(`descriptor leak: ${list} open, ${baseline} before`);
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

export type Cleanup = () => Promise<unknown> | void;

/**
 * The hooks a native test file opens with: what a test pushes onto the returned list is undone after it, newest
 * first (anything still there at the end of the file too), and once the file is done this process must hold no
 * more descriptors than before its first test.
 */
export function registerCleanupsAndLeakCheck(): Cleanup[] {
  const cleanups: Cleanup[] = [];
  const runCleanups = async (): Promise<void> => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  };
  let fdsBefore = 0;
  afterEach(runCleanups);
  beforeAll(() => {
    fdsBefore = openFdCount();
  });
  afterAll(async () => {
    await runCleanups();
    await expectFdsBackTo(fdsBefore);
  });
  return cleanups;
}

const PLANE_CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'plane-child.mjs');

export function statusKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const match = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
  if (match === null) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]);
}

export interface PlaneChild {
  readonly pid: number;
  readonly port: number;
  stats(): Promise<Record<string, unknown>>;
  /** Ends it (stdin closed, then SIGTERM by PID) and waits for its exit. */
  stop(): Promise<void>;
}

/**
 * A native plane alone in a child process (test/native/plane-child.mjs), routing every connection to
 * `backendPort`: its memory is its own in /proc, and its limits can be set (`maxOpenFiles`, through prlimit).
 */
export async function startPlaneChild(backendPort: number, maxOpenFiles?: number): Promise<PlaneChild> {
  const args = [PLANE_CHILD, String(backendPort), DEFAULT_ADDON_PATH];
  const child =
    maxOpenFiles === undefined
      ? spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] })
      : spawn('prlimit', [`--nofile=${maxOpenFiles}:${maxOpenFiles}`, process.execPath, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = once(child, 'exit');
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done === true) throw new Error('the plane child exited before listening');
  const { port } = JSON.parse(String(first.value)) as { port: number };
  return {
    pid: child.pid!,
    port,
    stats: async () => {
      child.stdin!.write('stats\n');
      const line = await lines.next();
      if (line.done === true) throw new Error('the plane child is gone');
      return JSON.parse(String(line.value)) as Record<string, unknown>;
    },
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.stdin!.end();
      child.kill('SIGTERM');
      await exited;
    },
  };
}
