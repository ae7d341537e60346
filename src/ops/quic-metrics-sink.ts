/**
 * What the QUIC listeners report to the metrics, and a sink that does nothing: as connection-metrics.ts is for
 * TCP, so that the router does not load prom-client unless metrics are on (src/ops/quic-metrics.ts implements it).
 */

/** One ended flow, as the metrics see it (the flow record without what is only for the log). */
export interface ClosedFlow {
  readonly route: string | null;
  readonly reason: string;
  readonly datagramsIn: number;
  readonly datagramsOut: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly durationMs: number;
}

/** What the engines hold now, summed over the QUIC listeners; read at each scrape. */
export interface QuicFlowGauges {
  readonly flows: number;
  readonly pendingFlows: number;
  /** Cumulative drops by reason since start. */
  readonly drops: Readonly<Record<string, number>>;
}

export interface QuicFlowMetricsSink {
  flowClosed(flow: ClosedFlow): void;
  /** Where the gauges and drop counts are read at scrape time. */
  watchFlows(read: () => QuicFlowGauges): void;
}

export const NO_QUIC_METRICS: QuicFlowMetricsSink = Object.freeze({
  flowClosed(): void {},
  watchFlows(): void {},
});
