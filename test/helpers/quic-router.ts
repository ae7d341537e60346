/**
 * A standalone QUIC router for tests: the flow engine on 127.0.0.1:0 routed by the real RouteTable, compiled from a
 * Config that loadConfig builds out of command-line style routes (the same path `--route` takes). Records every
 * flow record it is handed.
 */
import { loadConfig } from '../../src/config/load.js';
import { RouteTable } from '../../src/routing/route-table.js';
import type { QuicFlowLimits, QuicFlowRecord } from '../../src/data-path/quic/flow-types.js';
import { QuicFlowEngine } from '../../src/data-path/quic/quic-flows.js';
import { decideByRouteTable } from '../../src/data-path/quic/route-decision.js';

export interface TestQuicRouter {
  readonly engine: QuicFlowEngine;
  readonly port: number;
  readonly records: QuicFlowRecord[];
  /** Resolves with the records once `predicate` holds for them; rejects after `timeoutMs`. */
  waitForRecords(predicate: (records: readonly QuicFlowRecord[]) => boolean, timeoutMs?: number): Promise<QuicFlowRecord[]>;
  close(): Promise<void>;
}

export async function startQuicRouter(options: {
  readonly routes: readonly string[];
  readonly defaultBackends?: string;
  readonly limits?: Partial<QuicFlowLimits>;
}): Promise<TestQuicRouter> {
  const loaded = loadConfig({ listen: ['127.0.0.1:0'], routes: options.routes, defaultBackends: options.defaultBackends });
  if (!loaded.ok) throw new Error(`bad test config: ${JSON.stringify(loaded.problems)}`);
  const table = RouteTable.compile(loaded.config.routes, loaded.config.defaultPool);
  const records: QuicFlowRecord[] = [];
  let waiters: Array<() => void> = [];
  const record = (closed: QuicFlowRecord): void => {
    records.push(closed);
    const current = waiters;
    waiters = [];
    for (const wake of current) wake();
  };
  const engine = await QuicFlowEngine.listen(
    { host: '127.0.0.1', port: 0 },
    { decide: decideByRouteTable(() => table), onFlowClosed: record, limits: options.limits },
  );
  return {
    engine,
    port: engine.address.port,
    records,
    // Checked now and again on every record the engine hands over: no polling.
    async waitForRecords(predicate, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(records)) {
        const remaining = deadline - Date.now();
        if (remaining <= 0) throw new Error(`flow records not as expected: ${JSON.stringify(records)}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, remaining);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      return records;
    },
    close: () => engine.close(),
  };
}
