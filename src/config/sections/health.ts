/**
 * `health:` on a pool, active checks of its backends:
 *
 *   health: { interval: 5s, timeout: 2s, rise: 2, fall: 3, tls: true }     tls: true, false, or the SNI to send
 */
import { isMap, isScalar, type Node, type Pair } from 'yaml';
import { describeHostNameProblem } from '../../wire/host-name.js';
import { quoteValue } from '../problem.js';
import { suggestionSuffix } from '../suggest.js';
import { DEFAULT_HEALTH, type HealthSettings } from '../types.js';
import { type KeyRule, keyRule, readKeys, type YamlReader } from './yaml-reader.js';

interface HealthContext {
  readonly reader: YamlReader;
  /** Names the pool in messages: "route 'app.example.com'". */
  readonly what: string;
  /** The route's name when it is an exact name: the SNI of `tls: true`. */
  readonly exactName: string | null;
}

/** What `tls:` says: whether to complete a handshake, and the SNI to send. */
type TlsCheck = Pick<HealthSettings, 'tls' | 'tlsServerName'>;
type HealthFields = Omit<HealthSettings, 'tls' | 'tlsServerName'> & { readonly tlsCheck: TlsCheck };

function durationOf(field: 'intervalMs' | 'timeoutMs', key: string): KeyRule<HealthFields, HealthContext> {
  return keyRule(field, ({ reader, what }: HealthContext, _value: Node, pair) => {
    const node = reader.valueOf(pair);
    return reader.duration(node, pair, `health.${key} of ${what}`);
  });
}

function countOf(field: 'rise' | 'fall', key: string): KeyRule<HealthFields, HealthContext> {
  return keyRule(field, ({ reader, what }: HealthContext, value: Node) => reader.count(value, `health.${key} of ${what}`, 1));
}

const HEALTH_RULES: Readonly<Record<string, KeyRule<HealthFields, HealthContext>>> = {
  interval: durationOf('intervalMs', 'interval'),
  timeout: durationOf('timeoutMs', 'timeout'),
  rise: countOf('rise', 'rise'),
  fall: countOf('fall', 'fall'),
  tls: keyRule('tlsCheck', readTlsCheck),
};
export const HEALTH_KEYS = Object.keys(HEALTH_RULES);

export function readHealth(reader: YamlReader, node: Node | null, what: string, exactName: string | null): HealthSettings | null {
  if (node === null || !isMap(node)) {
    reader.report(node, `health of ${what} must be a mapping, as in { interval: 5s, timeout: 2s, rise: 2, fall: 3 }`);
    return null;
  }
  const fields = reader.fields(node, HEALTH_KEYS, (key) => `unknown key ${quoteValue(key)} in health of ${what}${suggestionSuffix(key, HEALTH_KEYS)}`);
  const { values, isBroken } = readKeys(reader, fields, HEALTH_RULES, { reader, what, exactName });
  if (isBroken || fields.hasUnknownKeys) return null;
  const intervalMs = values.intervalMs ?? DEFAULT_HEALTH.intervalMs;
  // A check may not outlast its interval: the default timeout shrinks to a short interval.
  const timeoutMs = values.timeoutMs ?? Math.min(DEFAULT_HEALTH.timeoutMs, intervalMs);
  const { tls, tlsServerName } = values.tlsCheck ?? { tls: false, tlsServerName: null };
  return { intervalMs, timeoutMs, rise: values.rise ?? DEFAULT_HEALTH.rise, fall: values.fall ?? DEFAULT_HEALTH.fall, tls, tlsServerName };
}

function readTlsCheck({ reader, what, exactName }: HealthContext, _value: Node, pair: Pair<unknown, unknown>): TlsCheck | null {
  const node = reader.valueOf(pair);
  const value = isScalar(node) ? node.value : undefined;
  if (typeof value === 'boolean') return { tls: value, tlsServerName: value ? exactName : null };
  if (typeof value === 'string' && describeHostNameProblem(value) === null) return { tls: true, tlsServerName: value.toLowerCase() };
  reader.report(node ?? pair, `health.tls of ${what} must be true, false or the server name to send, as in app.example.com`);
  return null;
}
