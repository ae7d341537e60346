/**
 * Run mode in one process (no --workers): start the router, then let the run loop (src/control/run-loop.ts)
 * supervise it until a signal ends it. The cluster primary (src/control/workers.ts) runs the same loop with the
 * router in its workers.
 */
import { certificateWarnings } from '../config/certificate-warnings.js';
import { Registry } from 'prom-client';
import { describeStartError, exitOnStartFailure } from './exit.js';
import { logListening, type RunOptions, RunLoop, warnRestartOnly } from './run-loop.js';
import type { LoadSpec } from '../config/load-with-flags.js';
import type { Config } from '../config/types.js';
import { type RunningRouter, startRouter } from '../serve/router.js';
import type { Logger } from '../ops/log.js';
import { loopWatchdog } from '../ops/loop-watchdog.js';
import { ControlMetrics, RouterMetrics } from '../ops/metrics.js';
import { openBytes, pageOf } from './connection-list.js';

/** Starts the router in this process and supervises it; resolves once it runs (the process lives on its sockets). */
export async function runSingle(spec: LoadSpec, config: Config, logger: Logger, options: RunOptions): Promise<void> {
  const registry = new Registry();
  // Metrics are only readable through the admin listener, so without one they are not kept at all.
  const routerMetrics = config.admin === null ? undefined : new RouterMetrics(registry);
  let router: RunningRouter;
  const loop = new RunLoop({
    spec,
    config,
    logger,
    metrics: new ControlMetrics(registry),
    run: options,
    apply: async (next) => {
      const before = new Set(router.listeners.map((listener) => listener.label));
      const previous = router.config;
      await router.reload(next);
      logListening(router.listeners, logger, before);
      warnRestartOnly(previous, next, logger);
    },
  });

  try {
    router = await startRouter(config, { logger, ...(routerMetrics ? { metrics: routerMetrics, quicMetrics: routerMetrics.quic } : {}) });
    routerMetrics?.watchBackends(() => router.backendStates());
    routerMetrics?.dataPlane(router.dataPlane);
    routerMetrics?.watchCertificates(() => router.certificateExpiries());
    for (const warning of certificateWarnings(config)) logger.warn({ file: warning.file, line: warning.line }, warning.message);
    await loop.startAdmin({
      isReady: () => !router.isClosing && router.listeners.length > 0,
      loopHealth: () => {
        const watchdog = loopWatchdog();
        return { isHealthy: watchdog.isHealthy, lagSeconds: watchdog.lagSeconds };
      },
      connections: async () => {
        const counts = routerMetrics ? await routerMetrics.connectionCounts() : null;
        const open = openBytes(router.connectionInfos());
        return {
          ...counts,
          active: router.activeConnections,
          quicFlows: router.activeFlows,
          draining: router.isClosing,
          bytesIn: (counts?.bytesIn ?? 0) + open.bytesIn,
          bytesOut: (counts?.bytesOut ?? 0) + open.bytesOut,
        };
      },
      connectionList: async (query) => pageOf(router.connectionInfos(), query),
      backendStatuses: async () => router.backendStatuses(),
      serving: () => ({ listeners: router.listeners, dataPlane: router.dataPlane, workers: 1 }),
      metrics: async () => ({ contentType: registry.contentType, body: await registry.metrics() }),
    });
  } catch (error) {
    exitOnStartFailure(logger, describeStartError(error));
    return;
  }

  // Signal handlers first: whoever reads the lines below may signal us at once.
  loop.handleSignals({
    drain: (graceMs) => router.close(graceMs),
    shutdownFields: () => ({ active: router.activeConnections }),
  });
  loop.started(router.listeners, { data_plane: router.dataPlane });
}
