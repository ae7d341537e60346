/**
 * prom-client metrics whose per-connection updates cost a field increment, not a label lookup.
 *
 * prom-client hashes and validates the label object on every `inc()`/`observe()` — its `labels()` children too
 * (they bind the object, not the series) — which measured ~2 µs per call here, several per connection. Here a
 * caller asks once for the series of a label set (`series(labels)`, kept per listener/route/reason) and updates
 * plain numbers on it; prom-client still names, formats and aggregates everything at scrape time:
 *
 *   SeriesCounter, SeriesGauge   publish their series into the prom-client metric in its `collect` hook;
 *   SeriesHistogram              a prom-client Histogram whose export reads our bucket counts.
 *
 * Label values stay bounded as before (route names from the config, listeners, closed vocabularies), so the number
 * of series kept is what prom-client would have kept.
 */
import { Counter, type CounterConfiguration, Gauge, type GaugeConfiguration, Histogram, type HistogramConfiguration, type LabelValues } from 'prom-client';

/** prom-client's own identity of a label set: values in label-name order. */
function keyOf<L extends string>(labelNames: readonly L[], labels: LabelValues<L>): string {
  return labelNames.map((name) => String(labels[name] ?? '')).join('\u0000');
}

export class CounterSeries {
  value = 0;
  constructor(readonly labels: LabelValues<string>) {}
  inc(by = 1): void {
    this.value += by;
  }
}

export class SeriesCounter<L extends string> {
  readonly #labelNames: readonly L[];
  readonly #series = new Map<string, CounterSeries>();

  constructor(configuration: CounterConfiguration<L> & { labelNames: readonly L[] }) {
    this.#labelNames = configuration.labelNames;
    const series = this.#series;
    const counter: Counter<L> = new Counter<L>({
      ...configuration,
      collect() {
        counter.reset();
        for (const one of series.values()) counter.inc(one.labels as LabelValues<L>, one.value);
      },
    });
  }

  /** The series of `labels`, created at 0 (so it is exported before its first event); keep it and reuse it. */
  series(labels: LabelValues<L>): CounterSeries {
    const key = keyOf(this.#labelNames, labels);
    let one = this.#series.get(key);
    if (one === undefined) {
      one = new CounterSeries({ ...labels });
      this.#series.set(key, one);
    }
    return one;
  }
}

export class GaugeSeries {
  value = 0;
  constructor(readonly labels: LabelValues<string>) {}
}

export class SeriesGauge<L extends string> {
  readonly #labelNames: readonly L[];
  readonly #series = new Map<string, GaugeSeries>();

  constructor(configuration: GaugeConfiguration<L> & { labelNames: readonly L[] }) {
    this.#labelNames = configuration.labelNames;
    const series = this.#series;
    const gauge: Gauge<L> = new Gauge<L>({
      ...configuration,
      collect() {
        for (const one of series.values()) gauge.set(one.labels as LabelValues<L>, one.value);
      },
    });
  }

  series(labels: LabelValues<L>): GaugeSeries {
    const key = keyOf(this.#labelNames, labels);
    let one = this.#series.get(key);
    if (one === undefined) {
      one = new GaugeSeries({ ...labels });
      this.#series.set(key, one);
    }
    return one;
  }
}

export class HistogramSeries {
  /** Observations per bucket (not cumulative); the last slot is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(
    readonly labels: LabelValues<string>,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.sum += value;
    this.count++;
  }
}

interface ExportedValue {
  value: number;
  labels: LabelValues<string>;
  metricName: string;
}

type HistogramExport<L extends string> = Awaited<ReturnType<Histogram<L>['get']>>;

/**
 * A prom-client Histogram (same name, help, buckets, registry, aggregation with workers) whose values are our
 * series': `get()` is the metric contract the Registry and the AggregatorRegistry read; prom-client's text
 * exporter prefers `getForPromString()` when a metric has one, so both answer the same.
 */
export class SeriesHistogram<L extends string> extends Histogram<L> {
  readonly #name: string;
  readonly #help: string;
  readonly #labelNames: readonly L[];
  readonly #bounds: readonly number[];
  readonly #series = new Map<string, HistogramSeries>();

  constructor(configuration: HistogramConfiguration<L> & { labelNames?: readonly L[]; buckets: readonly number[] }) {
    super({ ...configuration, buckets: [...configuration.buckets] });
    this.#name = configuration.name;
    this.#help = configuration.help;
    this.#labelNames = configuration.labelNames ?? [];
    this.#bounds = [...configuration.buckets].sort((a, b) => a - b);
  }

  series(labels: LabelValues<L>): HistogramSeries {
    const key = keyOf(this.#labelNames, labels);
    let one = this.#series.get(key);
    if (one === undefined) {
      one = new HistogramSeries({ ...labels }, this.#bounds);
      this.#series.set(key, one);
    }
    return one;
  }

  /** prom-client's reset (also called by its constructor, before our fields exist): forget every series. */
  override reset(): void {
    if (#series in this) this.#series.clear();
  }

  override async get(): Promise<HistogramExport<L>> {
    const bucket = `${this.#name}_bucket`;
    const values: ExportedValue[] = [];
    for (const one of this.#series.values()) {
      let cumulative = 0;
      this.#bounds.forEach((bound, i) => {
        cumulative += one.counts[i] ?? 0;
        values.push({ value: cumulative, labels: { le: bound, ...one.labels }, metricName: bucket });
      });
      values.push({ value: one.count, labels: { le: '+Inf', ...one.labels }, metricName: bucket });
      values.push({ value: one.sum, labels: { ...one.labels }, metricName: `${this.#name}_sum` });
      values.push({ value: one.count, labels: { ...one.labels }, metricName: `${this.#name}_count` });
    }
    // prom-client's typings call `type` an enum; at run time (and in the exposition format) it is the string.
    return { name: this.#name, help: this.#help, type: 'histogram', values, aggregator: 'sum' } as unknown as HistogramExport<L>;
  }

  async getForPromString(): Promise<HistogramExport<L>> {
    return this.get();
  }
}
