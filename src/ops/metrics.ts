/**
 * Prometheus metrics with prom-client, in a Registry of our own (never prom-client's global one).
 *
 * Two halves, because with `--workers N` they live in different processes:
 *
 *   RouterMetrics   the data path of one router process: connections, bytes, hellos, timings, backend health.
 *                   Implements ConnectionMetrics (src/connection-metrics.ts), which the connection calls.
 *   ControlMetrics  the control plane: config reloads, the loaded config's hash, workers. Kept by whoever reloads
 *                   (the single process, or the cluster primary).
 *
 * With workers, the primary answers /metrics with prom-client's AggregatorRegistry: the workers' registries
 * summed (counters, histograms, active gauges), backend_up as the minimum (down if any worker sees it down), plus
 * the primary's ControlMetrics. Label values are bounded: `route` is a route name from the config, `default`, or
 * `none`; `listener` a configured listen address; `reason` and `outcome` closed vocabularies. A server name never
 * becomes a label.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { CLOSE_REASONS } from './close-reason.js';
import type { ClosedConnection, ConnectionMetrics, DescriptorShortage, HelloOutcome, HelloProtocol } from './connection-metrics.js';
import { QuicFlowMetrics } from './quic-metrics.js';
import { LIMIT_NAMES, type LimitName } from './limit-names.js';
import { openFileWatches } from './file-watch.js';
import { loopWatchdog } from './loop-watchdog.js';
import { type CounterSeries, type GaugeSeries, type HistogramSeries, SeriesCounter, SeriesGauge, SeriesHistogram } from './metric-series.js';

export const METRIC_PREFIX = 'sni_router_';
/** The route label of a connection closed before (or without) a route: no SNI match and no default, bad hello. */
export const NO_ROUTE_LABEL = 'none';
export const DEFAULT_ROUTE_LABEL = 'default';

const HELLO_OUTCOMES: readonly HelloOutcome[] = ['sni_found', 'no_sni', 'not_tls', 'malformed', 'too_large', 'timeout'];
const HELLO_PROTOCOLS: readonly HelloProtocol[] = ['tcp', 'quic'];
const HELLO_BYTES_BUCKETS = [128, 256, 512, 1024, 1536, 2048, 4096, 8192, 16384, 65536];
const CONNECT_SECONDS_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const DURATION_SECONDS_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 600, 1800, 3600];

/** The series of one listener, bound once (see src/ops/metric-series.ts). */
interface ListenerSeries {
  readonly accepted: CounterSeries;
  readonly active: GaugeSeries;
}

/** The series of one route label, bound the first time the route is seen. */
interface RouteSeries {
  readonly bytesIn: CounterSeries;
  readonly bytesOut: CounterSeries;
  readonly connectSeconds: HistogramSeries;
  readonly durationSeconds: HistogramSeries;
  /** connections_closed_total by reason, bound on the reason's first close. */
  readonly closedBy: Map<string, CounterSeries>;
}

export class RouterMetrics implements ConnectionMetrics {
  readonly registry: Registry;
  readonly #accepted: SeriesCounter<'listener'>;
  readonly #active: SeriesGauge<'listener'>;
  readonly #closed: SeriesCounter<'route' | 'reason'>;
  readonly #bytesIn: SeriesCounter<'route'>;
  readonly #bytesOut: SeriesCounter<'route'>;
  /** client_hello_total by protocol, then outcome: bound once. */
  readonly #helloBy: Map<HelloProtocol, Map<HelloOutcome, CounterSeries>>;
  /** The QUIC flows' counters and gauges (src/ops/quic-metrics.ts), in the same registry. */
  readonly quic: QuicFlowMetrics;
  readonly #helloBytes: HistogramSeries;
  readonly #connectSeconds: SeriesHistogram<'route'>;
  readonly #durationSeconds: SeriesHistogram<'route'>;
  readonly #listeners = new Map<string, ListenerSeries>();
  readonly #routes = new Map<string, RouteSeries>();
  readonly #limited: Counter<'limit'>;
  readonly #outOfDescriptors: Counter<'where'>;
  readonly #dataPlane: Gauge<'plane'>;
  #backendStates: (() => Iterable<BackendState>) | null = null;
  #certificateExpiries: (() => Iterable<CertificateExpiry>) | null = null;

  constructor(registry: Registry = new Registry(), options: { processMetrics?: boolean } = {}) {
    this.registry = registry;
    const registers = [registry];
    this.#accepted = new SeriesCounter({
      name: `${METRIC_PREFIX}connections_accepted_total`,
      help: 'Connections accepted, by listener.',
      labelNames: ['listener'],
      registers,
    });
    this.#active = new SeriesGauge({
      name: `${METRIC_PREFIX}connections_active`,
      help: 'Connections open now (any phase), by listener.',
      labelNames: ['listener'],
      registers,
    });
    this.#closed = new SeriesCounter({
      name: `${METRIC_PREFIX}connections_closed_total`,
      help: `Connections closed, by route (name, ${DEFAULT_ROUTE_LABEL} or ${NO_ROUTE_LABEL}) and close reason.`,
      labelNames: ['route', 'reason'],
      registers,
    });
    this.#bytesIn = new SeriesCounter({
      name: `${METRIC_PREFIX}bytes_in_total`,
      help: 'Bytes from clients to backends (hello included), by route; counted when the connection closes.',
      labelNames: ['route'],
      registers,
    });
    this.#bytesOut = new SeriesCounter({
      name: `${METRIC_PREFIX}bytes_out_total`,
      help: 'Bytes from backends to clients, by route; counted when the connection closes.',
      labelNames: ['route'],
      registers,
    });
    const hello = new SeriesCounter<'outcome' | 'protocol'>({
      name: `${METRIC_PREFIX}client_hello_total`,
      help: 'ClientHello outcomes: sni_found, no_sni, not_tls, malformed, too_large, timeout; by protocol (tcp, or quic: the hello in a flow\'s Initials).',
      labelNames: ['outcome', 'protocol'],
      registers,
    });
    const helloBytes = new SeriesHistogram({
      name: `${METRIC_PREFIX}client_hello_bytes`,
      help: 'Size of complete ClientHellos (the TLS records that carried them), in bytes.',
      buckets: HELLO_BYTES_BUCKETS,
      registers,
    });
    this.#connectSeconds = new SeriesHistogram({
      name: `${METRIC_PREFIX}backend_connect_seconds`,
      help: 'From route chosen to backend connected (retries on other backends included), by route.',
      labelNames: ['route'],
      buckets: CONNECT_SECONDS_BUCKETS,
      registers,
    });
    this.#durationSeconds = new SeriesHistogram({
      name: `${METRIC_PREFIX}connection_duration_seconds`,
      help: 'From accept to close, by route.',
      labelNames: ['route'],
      buckets: DURATION_SECONDS_BUCKETS,
      registers,
    });
    const backendUp: Gauge<'backend'> = new Gauge({
      name: `${METRIC_PREFIX}backend_up`,
      help: 'Backend health (active checks and passive failures): 1 up, 0 down, by backend of the served config.',
      labelNames: ['backend'],
      aggregator: 'min',
      registers,
      // Read at scrape time from the router's health state, so the health code needs no metrics hook.
      collect: () => {
        if (this.#backendStates === null) return;
        backendUp.reset();
        for (const state of this.#backendStates()) backendUp.set({ backend: state.backend }, state.isUp ? 1 : 0);
      },
    });
    const certificateExpiry: Gauge<'route'> = new Gauge({
      name: `${METRIC_PREFIX}certificate_expiry_seconds`,
      help: 'Unix time at which the terminate certificate served for a route expires (the earliest, when it has several).',
      labelNames: ['route'],
      aggregator: 'min',
      registers,
      collect: () => {
        if (this.#certificateExpiries === null) return;
        certificateExpiry.reset();
        for (const entry of this.#certificateExpiries()) certificateExpiry.set({ route: entry.route }, entry.notAfterSeconds);
      },
    });
    const fileWatches: Gauge = new Gauge({
      name: `${METRIC_PREFIX}file_watches`,
      help: 'File watches open (folder watch + poll each): the config file unless --no-watch, and certificate, key and CA files; returns to what the served config needs after a reload.',
      registers,
      collect: () => fileWatches.set(openFileWatches()),
    });
    const loopLag: Gauge = new Gauge({
      name: `${METRIC_PREFIX}event_loop_lag_seconds`,
      help: 'Worst event-loop delay of the last second; with workers, the worst worker.',
      aggregator: 'max',
      registers,
      collect: () => loopLag.set(loopWatchdog().lagSeconds),
    });
    // Every outcome and reason exists from the start at 0, so rate() works before the first event.
    this.#helloBy = new Map(HELLO_PROTOCOLS.map((protocol) => [protocol, new Map(HELLO_OUTCOMES.map((outcome) => [outcome, hello.series({ outcome, protocol })]))]));
    this.quic = new QuicFlowMetrics(registry);
    this.#helloBytes = helloBytes.series({});
    for (const reason of CLOSE_REASONS) this.#closed.series({ route: NO_ROUTE_LABEL, reason });
    this.#limited = new Counter({
      name: `${METRIC_PREFIX}limited_connections_total`,
      help: 'Connections refused at accept or evicted from the hello phase, by limit',
      labelNames: ['limit'],
      registers,
    });
    for (const limit of LIMIT_NAMES) this.#limited.inc({ limit }, 0);
    this.#outOfDescriptors = new Counter({
      name: `${METRIC_PREFIX}out_of_descriptors_total`,
      help: 'Times the router was out of file descriptors: a listener probe (at most once a second) or a backend dial',
      labelNames: ['where'],
      registers,
    });
    this.#dataPlane = new Gauge({
      name: `${METRIC_PREFIX}data_plane_info`,
      help: 'The data plane carrying connections: 1 for the one that runs (native: C on Node-API; node: net.Socket).',
      labelNames: ['plane'],
      aggregator: 'max',
      registers,
    });
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  }

  /** Which data plane runs (sni_router_data_plane_info{plane}). */
  dataPlane(plane: 'native' | 'node'): void {
    this.#dataPlane.reset();
    this.#dataPlane.set({ plane }, 1);
  }

  accepted(listener: string): void {
    const series = this.#listenerSeries(listener);
    series.accepted.value++;
    series.active.value++;
  }

  hello(outcome: HelloOutcome, helloBytes: number, protocol: HelloProtocol = 'tcp'): void {
    this.#helloBy.get(protocol)?.get(outcome)?.inc();
    if (protocol === 'tcp' && (outcome === 'sni_found' || outcome === 'no_sni')) this.#helloBytes.observe(helloBytes);
  }

  backendConnected(route: string, connectMs: number): void {
    this.#routeSeries(route).connectSeconds.observe(connectMs / 1000);
  }

  closed(connection: ClosedConnection): void {
    const route = this.#routeSeries(connection.route ?? NO_ROUTE_LABEL);
    this.#listenerSeries(connection.listener).active.value--;
    let closed = route.closedBy.get(connection.reason);
    if (closed === undefined) {
      closed = this.#closed.series({ route: connection.route ?? NO_ROUTE_LABEL, reason: connection.reason });
      route.closedBy.set(connection.reason, closed);
    }
    closed.value++;
    route.bytesIn.value += connection.bytesIn;
    route.bytesOut.value += connection.bytesOut;
    route.durationSeconds.observe(connection.durationMs / 1000);
  }

  #listenerSeries(listener: string): ListenerSeries {
    let series = this.#listeners.get(listener);
    if (series === undefined) {
      series = { accepted: this.#accepted.series({ listener }), active: this.#active.series({ listener }) };
      this.#listeners.set(listener, series);
    }
    return series;
  }

  #routeSeries(route: string): RouteSeries {
    let series = this.#routes.get(route);
    if (series === undefined) {
      series = {
        bytesIn: this.#bytesIn.series({ route }),
        bytesOut: this.#bytesOut.series({ route }),
        connectSeconds: this.#connectSeconds.series({ route }),
        durationSeconds: this.#durationSeconds.series({ route }),
        closedBy: new Map(),
      };
      this.#routes.set(route, series);
    }
    return series;
  }

  limited(limit: LimitName): void {
    this.#limited.inc({ limit });
  }

  outOfDescriptors(where: DescriptorShortage): void {
    this.#outOfDescriptors.inc({ where });
  }

  /** Where `sni_router_backend_up` reads the backends' health at each scrape (the router's health registry). */
  watchBackends(states: () => Iterable<BackendState>): void {
    this.#backendStates = states;
  }

  /** Where `sni_router_certificate_expiry_seconds` reads the served certificates at each scrape. */
  watchCertificates(expiries: () => Iterable<CertificateExpiry>): void {
    this.#certificateExpiries = expiries;
  }

  /** Counts for the admin API's /connections. */
  async connectionCounts(): Promise<ConnectionCounts> {
    return countsFromJson(await this.registry.getMetricsAsJSON());
  }
}

export interface CertificateExpiry {
  readonly route: string;
  /** Unix time, in seconds, of the certificate's notAfter. */
  readonly notAfterSeconds: number;
}

export interface BackendState {
  readonly backend: string;
  readonly isUp: boolean;
}

export interface ConnectionCounts {
  active: number;
  accepted: number;
  activeByListener: Record<string, number>;
  closedByReason: Record<string, number>;
  /** QUIC flows held now (sni_router_quic_flows_active), on every QUIC listener. */
  quicFlows?: number;
  /**
   * Bytes carried (sni_router_bytes_in_total / _out_total): closed connections' bytes here; the run mode adds
   * what the open connections carried so far, so that two samples give a rate that does not wait for closes.
   */
  bytesIn?: number;
  bytesOut?: number;
}

interface MetricJson {
  readonly name: string;
  readonly values: ReadonlyArray<{ readonly value: number; readonly labels: Partial<Record<string, string | number>> }>;
}

/** Reads the counts that /connections reports out of a registry's JSON (one process's, or several summed). */
export function countsFromJson(metrics: readonly MetricJson[], into?: ConnectionCounts): ConnectionCounts {
  const counts: ConnectionCounts = into ?? { active: 0, accepted: 0, activeByListener: {}, closedByReason: {} };
  for (const metric of metrics) {
    for (const { value, labels } of metric.values) {
      if (metric.name === `${METRIC_PREFIX}connections_active`) {
        counts.active += value;
        const listener = String(labels.listener);
        counts.activeByListener[listener] = (counts.activeByListener[listener] ?? 0) + value;
      } else if (metric.name === `${METRIC_PREFIX}quic_flows_active`) {
        counts.quicFlows = (counts.quicFlows ?? 0) + value;
      } else if (metric.name === `${METRIC_PREFIX}connections_accepted_total`) {
        counts.accepted += value;
      } else if (metric.name === `${METRIC_PREFIX}bytes_in_total`) {
        counts.bytesIn = (counts.bytesIn ?? 0) + value;
      } else if (metric.name === `${METRIC_PREFIX}bytes_out_total`) {
        counts.bytesOut = (counts.bytesOut ?? 0) + value;
      } else if (metric.name === `${METRIC_PREFIX}connections_closed_total` && value > 0) {
        const reason = String(labels.reason);
        counts.closedByReason[reason] = (counts.closedByReason[reason] ?? 0) + value;
      }
    }
  }
  return counts;
}

export type ReloadResult = 'success' | 'failure';

export class ControlMetrics {
  readonly registry: Registry;
  readonly #reloads: Counter<'result'>;
  readonly #lastReload: Gauge<'result'>;
  readonly #configInfo: Gauge<'hash'>;
  readonly #workers: Gauge;
  readonly #workerRestarts: Counter;

  constructor(registry: Registry = new Registry()) {
    this.registry = registry;
    const registers = [registry];
    this.#reloads = new Counter({
      name: `${METRIC_PREFIX}config_reloads_total`,
      help: 'Config reloads (SIGHUP, file change, POST /reload), by result: success or failure (config kept).',
      labelNames: ['result'],
      registers,
    });
    this.#lastReload = new Gauge({
      name: `${METRIC_PREFIX}config_last_reload_timestamp_seconds`,
      help: 'Unix time of the last reload attempt, by result.',
      labelNames: ['result'],
      registers,
    });
    this.#configInfo = new Gauge({
      name: `${METRIC_PREFIX}config_info`,
      help: 'Always 1; the hash label identifies the config being served (the same hash as /routes and the reload log).',
      labelNames: ['hash'],
      aggregator: 'max',
      registers,
    });
    this.#workers = new Gauge({
      name: `${METRIC_PREFIX}workers`,
      help: 'Router processes serving (1 without --workers).',
      registers,
    });
    this.#workerRestarts = new Counter({
      name: `${METRIC_PREFIX}worker_restarts_total`,
      help: 'Workers that died and were replaced.',
      registers,
    });
    this.#reloads.inc({ result: 'success' }, 0);
    this.#reloads.inc({ result: 'failure' }, 0);
    this.#workers.set(1);
  }

  reloaded(result: ReloadResult): void {
    this.#reloads.inc({ result });
    this.#lastReload.set({ result }, Date.now() / 1000);
  }

  configLoaded(hash: string): void {
    this.#configInfo.reset();
    this.#configInfo.set({ hash }, 1);
  }

  workers(count: number): void {
    this.#workers.set(count);
  }

  workerRestarted(): void {
    this.#workerRestarts.inc();
  }
}
