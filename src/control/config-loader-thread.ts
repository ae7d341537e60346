/**
 * Reload work off the event loop. Reading, parsing and validating a config of 10,000 routes (and hashing it and
 * diffing it against the running one) takes hundreds of milliseconds; on the main thread that stalled every
 * connection for as long. Here it runs in a node:worker_threads thread:
 *
 *   main:   prepare(baseHash) ──► thread: loadWithFlags(spec) → configHash → diff against the config `baseHash`
 *   main:   ◄── { config (a structured clone: plain data), hash, diff }   → deepFreeze → Snapshot (main thread)
 *
 * Only plain data crosses: the validated Config, its hash, the diff. What cannot cross (RegExps of the route
 * table, SecureContexts, pools) is built on the main thread by the Snapshot, as before. Even taking the data in
 * costs: deserializing and freezing 10,000 routes in one go is 100–300 ms. So the routes come in chunks of
 * ROUTES_PER_CHUNK on a port of their own, and the main thread takes one chunk per turn of the event loop
 * (receiveMessageOnPort, then setImmediate), so connections are served between chunks. The thread keeps the last
 * few configs it produced by hash, so the diff against the running config is computed there too; it loads the
 * start-up config once itself to know the first one. Start-up stays synchronous (src/cli.ts).
 *
 * The same module is both sides: imported on the main thread it exports ConfigLoaderThread; run as a thread it
 * answers requests.
 */
import { isMainThread, MessageChannel, type MessagePort, parentPort, receiveMessageOnPort, Worker, workerData } from 'node:worker_threads';
import { type ConfigDiff, configHash, diffConfigs } from '../config/diff.js';
import { deepFreeze } from '../config/freeze.js';
import { loadWithFlags, type LoadSpec } from '../config/load-with-flags.js';
import type { ConfigProblem } from '../config/load.js';
import type { Config, RouteConfig } from '../config/types.js';

export type PreparedConfig =
  | { readonly ok: true; readonly config: Config; readonly hash: string; readonly diff: ConfigDiff | null }
  | { readonly ok: false; readonly problems: readonly ConfigProblem[] };

interface Request {
  readonly id: number;
  readonly baseHash: string;
}

/** A valid config comes as its top level (routes: []) here, and its routes in `chunks` messages on the route port. */
type Reply =
  | { readonly id: number; readonly result: PreparedConfig; readonly chunks: number }
  | { readonly id: number; readonly error: string };

interface ThreadData {
  readonly spec: LoadSpec;
  readonly routePort: MessagePort;
}

/**
 * Configs kept in the thread to diff against: the running one (the next request's base) and the one just loaded
 * (which becomes the base once applied). A config of 10,000 routes is tens of MB, so no more than that.
 */
const KEPT_CONFIGS = 2;
/** Routes deserialized and frozen per turn of the main thread's event loop (~2–5 ms each). */
export const ROUTES_PER_CHUNK = 250;

export class ConfigLoaderThread {
  readonly #spec: LoadSpec;
  #worker: Worker | null = null;
  #routePort: MessagePort | null = null;
  #nextId = 1;
  readonly #pending = new Map<number, { resolve: (result: PreparedConfig) => void; reject: (error: Error) => void }>();

  constructor(spec: LoadSpec) {
    this.#spec = spec;
    this.#start();
  }

  /** Loads the config as a reload would, off the main thread; the diff is against the config with `baseHash`. */
  prepare(baseHash: string): Promise<PreparedConfig> {
    const worker = this.#worker ?? this.#start();
    const id = this.#nextId++;
    return new Promise<PreparedConfig>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      worker.postMessage({ id, baseHash } satisfies Request);
    });
  }

  close(): Promise<number> | null {
    const worker = this.#worker;
    this.#worker = null;
    this.#routePort?.close();
    return worker ? worker.terminate() : null;
  }

  #start(): Worker {
    const { port1, port2 } = new MessageChannel();
    port1.unref();
    const worker = new Worker(new URL(import.meta.url), { workerData: { spec: this.#spec, routePort: port2 } satisfies ThreadData, transferList: [port2] });
    worker.unref(); // never what keeps the process alive
    this.#routePort = port1;
    // Replies are handled one at a time, in order, so each one's chunks are the next ones on the port.
    let chain: Promise<void> = Promise.resolve();
    worker.on('message', (reply: Reply) => {
      chain = chain.then(() => this.#settle(reply, port1));
    });
    const fail = (error: Error): void => {
      if (this.#worker === worker) this.#worker = null; // the next prepare() starts a new thread
      for (const waiter of this.#pending.values()) waiter.reject(error);
      this.#pending.clear();
    };
    worker.on('error', (error) => fail(error));
    worker.on('exit', (code) => fail(new Error(`the config loader thread exited (${code})`)));
    this.#worker = worker;
    return worker;
  }

  async #settle(reply: Reply, routePort: MessagePort): Promise<void> {
    const waiter = this.#pending.get(reply.id);
    this.#pending.delete(reply.id);
    if ('error' in reply) return waiter?.reject(new Error(reply.error));
    if (!reply.result.ok) return waiter?.resolve(reply.result);
    const routes: RouteConfig[] = [];
    for (let chunk = 0; chunk < reply.chunks; chunk++) {
      await new Promise<void>((resolve) => setImmediate(resolve)); // connections get their turn between chunks
      const received = receiveMessageOnPort(routePort);
      if (received === undefined) return waiter?.reject(new Error('the config loader thread sent fewer route chunks than announced'));
      for (const route of received.message as RouteConfig[]) routes.push(deepFreeze(route));
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
    const config = deepFreeze({ ...reply.result.config, routes: Object.freeze(routes) });
    waiter?.resolve({ ...reply.result, config });
  }
}

// ── the thread ──────────────────────────────────────────────────────────────────────────────────────────────

function serveRequests({ spec, routePort }: ThreadData): void {
  const kept = new Map<string, Config>();
  const keep = (hash: string, config: Config, baseHash: string | null): void => {
    kept.delete(hash);
    kept.set(hash, config);
    for (const old of kept.keys()) {
      if (kept.size <= KEPT_CONFIGS) break;
      if (old !== baseHash && old !== hash) kept.delete(old);
    }
  };
  const initial = loadWithFlags(spec);
  if (initial.ok) keep(configHash(initial.config), initial.config, null);

  parentPort?.on('message', (request: Request) => {
    let reply: Reply;
    try {
      const result = loadWithFlags(spec);
      if (!result.ok) reply = { id: request.id, result, chunks: 0 };
      else {
        const hash = configHash(result.config);
        const base = kept.get(request.baseHash);
        const diff = base ? diffConfigs(base, result.config) : null;
        keep(hash, result.config, request.baseHash);
        const { routes } = result.config;
        let chunks = 0;
        for (let start = 0; start < routes.length; start += ROUTES_PER_CHUNK, chunks++) routePort.postMessage(routes.slice(start, start + ROUTES_PER_CHUNK));
        reply = { id: request.id, result: { ok: true, config: { ...result.config, routes: [] }, hash, diff }, chunks };
      }
    } catch (error) {
      reply = { id: request.id, error: error instanceof Error ? (error.stack ?? error.message) : String(error) };
    }
    parentPort?.postMessage(reply);
  });
}

if (!isMainThread && (workerData as ThreadData | undefined)?.routePort !== undefined) serveRequests(workerData as ThreadData);
