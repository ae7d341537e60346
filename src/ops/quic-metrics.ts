/**
 * The QUIC flows' metrics, in the router's registry beside the TCP ones (src/ops/metrics.ts). Flows report once,
 * when they end; what is counted per datagram inside the engine (drops, flows open, flows pending) is read at
 * scrape time from the engines' stats, so the datagram path has no metrics call at all.
 *
 *   sni_router_quic_flows_closed_total{route, reason}     flows ended, as their access lines say
 *   sni_router_quic_datagrams_total{route, direction}      in = client → backend, out = backend → client
 *   sni_router_quic_bytes_total{route, direction}          UDP payload bytes
 *   sni_router_quic_flow_duration_seconds{route}          first datagram to end (the idle timeout included)
 *   sni_router_quic_flows_active / _flows_pending          now (pending: waiting for the rest of the hello)
 *   sni_router_quic_dropped_datagrams_total{reason}        datagrams that made no flow (junk, caps, draining)
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { CLOSE_REASONS } from './close-reason.js';
import type { ClosedFlow, QuicFlowGauges, QuicFlowMetricsSink } from './quic-metrics-sink.js';

export const QUIC_METRIC_PREFIX = 'sni_router_quic_';
const NO_ROUTE_LABEL = 'none';
const DURATION_SECONDS_BUCKETS = [0.1, 0.5, 1, 5, 10, 30, 60, 300, 600, 1800, 3600];

export class QuicFlowMetrics implements QuicFlowMetricsSink {
  readonly #closed: Counter<'route' | 'reason'>;
  readonly #datagrams: Counter<'route' | 'direction'>;
  readonly #bytes: Counter<'route' | 'direction'>;
  readonly #duration: Histogram<'route'>;
  #read: (() => QuicFlowGauges) | null = null;

  constructor(registry: Registry) {
    const registers = [registry];
    this.#closed = new Counter({
      name: `${QUIC_METRIC_PREFIX}flows_closed_total`,
      help: 'QUIC flows ended, by route (name, default or none) and close reason.',
      labelNames: ['route', 'reason'],
      registers,
    });
    this.#datagrams = new Counter({
      name: `${QUIC_METRIC_PREFIX}datagrams_total`,
      help: 'QUIC datagrams forwarded, by route and direction (in: client to backend, out: backend to client); counted when the flow ends.',
      labelNames: ['route', 'direction'],
      registers,
    });
    this.#bytes = new Counter({
      name: `${QUIC_METRIC_PREFIX}bytes_total`,
      help: 'QUIC UDP payload bytes, by route and direction; counted when the flow ends.',
      labelNames: ['route', 'direction'],
      registers,
    });
    this.#duration = new Histogram({
      name: `${QUIC_METRIC_PREFIX}flow_duration_seconds`,
      help: 'QUIC flows from first datagram to end (the idle timeout included), by route.',
      labelNames: ['route'],
      buckets: DURATION_SECONDS_BUCKETS,
      registers,
    });
    const active: Gauge = new Gauge({
      name: `${QUIC_METRIC_PREFIX}flows_active`,
      help: 'QUIC flows held now (any state).',
      registers,
      collect: () => active.set(this.#read?.().flows ?? 0),
    });
    const pending: Gauge = new Gauge({
      name: `${QUIC_METRIC_PREFIX}flows_pending`,
      help: 'QUIC flows waiting for the rest of their ClientHello now.',
      registers,
      collect: () => pending.set(this.#read?.().pendingFlows ?? 0),
    });
    const dropped: Counter<'reason'> = new Counter({
      name: `${QUIC_METRIC_PREFIX}dropped_datagrams_total`,
      help: 'Datagrams from unknown peers that made no QUIC flow, by reason; never answered.',
      labelNames: ['reason'],
      registers,
      collect: () => {
        if (this.#read === null) return;
        dropped.reset();
        for (const [reason, count] of Object.entries(this.#read().drops)) dropped.inc({ reason }, count);
      },
    });
    for (const reason of CLOSE_REASONS) this.#closed.inc({ route: NO_ROUTE_LABEL, reason }, 0);
  }

  flowClosed(flow: ClosedFlow): void {
    const route = flow.route ?? NO_ROUTE_LABEL;
    this.#closed.inc({ route, reason: flow.reason });
    if (flow.datagramsIn > 0) this.#datagrams.inc({ route, direction: 'in' }, flow.datagramsIn);
    if (flow.datagramsOut > 0) this.#datagrams.inc({ route, direction: 'out' }, flow.datagramsOut);
    if (flow.bytesIn > 0) this.#bytes.inc({ route, direction: 'in' }, flow.bytesIn);
    if (flow.bytesOut > 0) this.#bytes.inc({ route, direction: 'out' }, flow.bytesOut);
    this.#duration.observe({ route }, flow.durationMs / 1000);
  }

  watchFlows(read: () => QuicFlowGauges): void {
    this.#read = read;
  }
}
