/**
 * The bound-series metrics export what prom-client would have exported for the same calls: same names, labels,
 * cumulative buckets, sums and counts, in the text format and as JSON (what the cluster aggregator reads).
 */
import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { SeriesCounter, SeriesHistogram } from '../../src/ops/metric-series.js';

const BUCKETS = [0.01, 0.1, 1];

function lines(text: string): string[] {
  return text.split('\n').filter((line) => line !== '' && !line.startsWith('#')).sort();
}

describe('series metrics', () => {
  it('a SeriesHistogram exports the same lines as a prom-client Histogram fed the same observations', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const histogram = new SeriesHistogram({ name: 'h', help: 'h', labelNames: ['route'], buckets: BUCKETS, registers: [ours] });
    const reference = new Histogram({ name: 'h', help: 'h', labelNames: ['route'], buckets: BUCKETS, registers: [theirs] });
    const observations: Array<[string, number]> = [['a', 0.005], ['a', 0.01], ['a', 0.5], ['b', 7], ['a', 2]];
    const series = { a: histogram.series({ route: 'a' }), b: histogram.series({ route: 'b' }) };
    for (const [route, value] of observations) {
      series[route as 'a' | 'b'].observe(value);
      reference.observe({ route }, value);
    }
    expect(lines(await ours.metrics())).toEqual(lines(await theirs.metrics()));
    const json = await ours.getMetricsAsJSON();
    expect(json[0]?.values).toContainEqual({ value: 2, labels: { route: 'a', le: 0.01 }, metricName: 'h_bucket' });
  });

  it('a SeriesCounter exports every bound series, at 0 before its first event, and the same series for the same labels', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const counter = new SeriesCounter({ name: 'c_total', help: 'c', labelNames: ['route', 'reason'], registers: [ours] });
    const reference = new Counter({ name: 'c_total', help: 'c', labelNames: ['route', 'reason'], registers: [theirs] });
    const done = counter.series({ route: 'a', reason: 'done' });
    counter.series({ route: 'a', reason: 'limit' });
    reference.inc({ route: 'a', reason: 'limit' }, 0);
    done.inc();
    counter.series({ reason: 'done', route: 'a' }).inc(2);
    reference.inc({ route: 'a', reason: 'done' }, 3);
    expect(lines(await ours.metrics())).toEqual(lines(await theirs.metrics()));
    expect(lines(await ours.metrics())).toEqual(lines(await ours.metrics())); // a scrape does not count twice
  });
});
