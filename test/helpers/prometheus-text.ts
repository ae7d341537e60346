/**
 * A strict parser of the Prometheus text exposition format (version 0.0.4), for judging /metrics: it throws on
 * anything a Prometheus server would reject or that is suspect, rather than skipping it.
 *
 *   # HELP <name> <docstring>          at most once per family, before its samples
 *   # TYPE <name> <type>               at most once per family, before its samples
 *   <name>{<label>="<value>",…} <value> [<timestamp ms>]
 *
 * Checks: metric and label name grammar; label values' escapes (\\, \", \n only); values as Go's ParseFloat
 * takes them (NaN, +Inf, -Inf, in any case); every sample belongs to a declared family (histograms: _bucket with `le`, _sum,
 * _count); no series twice; no family split by another; histogram buckets cumulative, ending at +Inf = _count;
 * counters non-negative.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Family {
  readonly name: string;
  type: MetricType;
  help: string | null;
  readonly samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES: readonly MetricType[] = ['counter', 'gauge', 'histogram', 'summary', 'untyped'];

export function parsePrometheusText(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const seenSeries = new Set<string>();
  const closedFamilies = new Set<string>();
  let current: Family | null = null;
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline');

  const lines = text.split('\n');
  lines.pop();
  lines.forEach((line, index) => {
    const where = `line ${index + 1}: ${JSON.stringify(line)}`;
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const match = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!match) return; // other comments are allowed
      const [, keyword, name, rest] = match as unknown as [string, string, string, string];
      if (!METRIC_NAME.test(name)) throw new Error(`bad metric name in ${where}`);
      const family = enter(name, where);
      if (keyword === 'HELP') {
        if (family.help !== null) throw new Error(`second HELP in ${where}`);
        family.help = rest;
      } else {
        if (family.samples.length > 0) throw new Error(`TYPE after samples in ${where}`);
        if (!TYPES.includes(rest as MetricType)) throw new Error(`unknown type in ${where}`);
        family.type = rest as MetricType;
      }
      return;
    }
    const sample = parseSample(line, where);
    const familyName = familyOf(sample.name, families);
    const family = enter(familyName, where);
    if (familyName !== sample.name) {
      const suffix = sample.name.slice(familyName.length);
      const allowed = family.type === 'histogram' ? ['_bucket', '_sum', '_count'] : family.type === 'summary' ? ['_sum', '_count'] : [];
      if (!allowed.includes(suffix)) throw new Error(`sample ${sample.name} does not fit ${family.type} ${familyName} in ${where}`);
    }
    const key = `${sample.name}{${Object.entries(sample.labels).sort().map(([k, v]) => `${k}=${v}`).join(',')}}`;
    if (seenSeries.has(key)) throw new Error(`duplicate series ${key} in ${where}`);
    seenSeries.add(key);
    if (family.type === 'counter' && !(sample.value >= 0)) throw new Error(`negative counter in ${where}`);
    family.samples.push(sample);
  });

  function enter(name: string, where: string): Family {
    if (current?.name === name) return current;
    if (closedFamilies.has(name)) throw new Error(`family ${name} appears in two places (${where})`);
    if (current) closedFamilies.add(current.name);
    const family: Family = families.get(name) ?? { name, type: 'untyped', help: null, samples: [] };
    families.set(name, family);
    current = family;
    return family;
  }

  for (const family of families.values()) if (family.type === 'histogram') checkHistogram(family);
  return families;
}

function familyOf(sampleName: string, families: Map<string, Family>): string {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!sampleName.endsWith(suffix)) continue;
    const base = sampleName.slice(0, -suffix.length);
    const family = families.get(base);
    if (family && (family.type === 'histogram' || family.type === 'summary')) return base;
  }
  return sampleName;
}

function parseSample(line: string, where: string): Sample {
  const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
  if (!nameMatch) throw new Error(`bad sample name in ${where}`);
  const name = nameMatch[0];
  let i = name.length;
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    while (line[i] !== '}') {
      const labelMatch = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(i));
      if (!labelMatch || !LABEL_NAME.test(labelMatch[0])) throw new Error(`bad label name in ${where}`);
      const labelName = labelMatch[0];
      i += labelName.length;
      if (line[i] !== '=' || line[i + 1] !== '"') throw new Error(`expected =" after label ${labelName} in ${where}`);
      i += 2;
      let value = '';
      for (;;) {
        const ch = line[i];
        if (ch === undefined) throw new Error(`unterminated label value in ${where}`);
        if (ch === '"') break;
        if (ch === '\\') {
          const next = line[i + 1];
          if (next === '\\') value += '\\';
          else if (next === '"') value += '"';
          else if (next === 'n') value += '\n';
          else throw new Error(`bad escape in ${where}`);
          i += 2;
          continue;
        }
        value += ch;
        i++;
      }
      i++;
      if (labelName in labels) throw new Error(`label ${labelName} twice in ${where}`);
      labels[labelName] = value;
      if (line[i] === ',') i++;
      else if (line[i] !== '}') throw new Error(`expected , or } in ${where}`);
    }
    i++;
  }
  if (line[i] !== ' ') throw new Error(`expected a space before the value in ${where}`);
  const parts = line.slice(i + 1).split(' ');
  if (parts.length > 2 || parts[0] === undefined || parts[0] === '') throw new Error(`bad value part in ${where}`);
  const value = parseValue(parts[0], where);
  if (parts[1] !== undefined && !/^-?\d+$/.test(parts[1])) throw new Error(`bad timestamp in ${where}`);
  return { name, labels, value };
}

function parseValue(text: string, where: string): number {
  // As Go's strconv.ParseFloat reads them (Prometheus does): NaN and Inf in any case (prom-client writes 'Nan').
  if (/^nan$/i.test(text)) return Number.NaN;
  if (/^\+?inf(inity)?$/i.test(text)) return Number.POSITIVE_INFINITY;
  if (/^-inf(inity)?$/i.test(text)) return Number.NEGATIVE_INFINITY;
  if (!/^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(text)) throw new Error(`bad value '${text}' in ${where}`);
  return Number(text);
}

function checkHistogram(family: Family): void {
  const groups = new Map<string, { buckets: Array<[number, number]>; count?: number }>();
  for (const sample of family.samples) {
    const { le, ...rest } = sample.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const group = groups.get(key) ?? { buckets: [] };
    groups.set(key, group);
    if (sample.name.endsWith('_bucket')) {
      if (le === undefined) throw new Error(`${sample.name} without le`);
      group.buckets.push([parseValue(le, sample.name), sample.value]);
    } else if (sample.name.endsWith('_count')) group.count = sample.value;
  }
  for (const [key, group] of groups) {
    const sorted = [...group.buckets].sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i]![1] < sorted[i - 1]![1]) throw new Error(`${family.name}${key}: buckets not cumulative`);
    }
    const last = sorted[sorted.length - 1];
    if (!last || last[0] !== Number.POSITIVE_INFINITY) throw new Error(`${family.name}${key}: no +Inf bucket`);
    if (group.count !== last[1]) throw new Error(`${family.name}${key}: +Inf bucket ${last[1]} != _count ${String(group.count)}`);
  }
}

/** The value of one series (labels must match exactly those given; others ignored), or undefined. */
export function valueOf(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  const familyName = familyOf(name, families);
  const family = families.get(familyName);
  const sample = family?.samples.find(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  return sample?.value;
}
