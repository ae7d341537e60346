/**
 * `quic:` the QUIC flow engine's bounds (the key names and their defaults are in src/config/quic-keys.ts). A bad
 * value is reported and keeps its default; keys left out take QUIC_DEFAULTS.
 *
 *   quic: { idle_timeout: 30s, hello_timeout: 5s, backend_answer_timeout: 3s, max_flows: 16384,
 *           max_pending_flows: 1024, max_pending_flows_per_client: 32, max_pending_bytes_per_flow: 16384 }
 */
import { isMap, isScalar, type Node } from 'yaml';
import { parseDuration } from '../durations.js';
import { quoteValue } from '../problem.js';
import { QUIC_COUNT_KEYS, QUIC_DEFAULTS, QUIC_DURATION_KEYS, QUIC_KEYS, type QuicSettings } from '../quic-keys.js';
import { suggestionSuffix } from '../suggest.js';
import { type KeyRule, keyRule, readKeys, type YamlReader } from './yaml-reader.js';

/** A duration longer than 0. */
function durationRule(key: string, field: keyof QuicSettings): KeyRule<QuicSettings, YamlReader> {
  return keyRule(field, (reader: YamlReader, value: Node): number | null => {
    const result = parseDuration(isScalar(value) ? value.value : undefined);
    if (result.ok && result.ms > 0) return result.ms;
    reader.report(value, `quic.${key} ${result.ok ? 'must be longer than 0' : result.reason}`);
    return null;
  });
}

/** A whole number of at least `min`. */
function countRule(key: string, field: keyof QuicSettings, min: number): KeyRule<QuicSettings, YamlReader> {
  return keyRule(field, (reader: YamlReader, value: Node): number | null => reader.count(value, `quic.${key}`, min));
}

const QUIC_RULES: Readonly<Record<string, KeyRule<QuicSettings, YamlReader>>> = Object.fromEntries([
  ...Object.entries(QUIC_DURATION_KEYS).map(([key, field]) => [key, durationRule(key, field)] as const),
  ...Object.entries(QUIC_COUNT_KEYS).map(
    ([key, { field, min }]) => [key, countRule(key, field, min)] as const,
  ),
]);

export function readQuic(reader: YamlReader, node: Node | null): QuicSettings {
  if (node === null || !isMap(node)) {
    reader.report(node, 'quic must be a mapping, as in { idle_timeout: 30s, max_flows: 16384 }');
    return QUIC_DEFAULTS;
  }
  const fields = reader.fields(node, QUIC_KEYS, (key) => `unknown key ${quoteValue(key)} in quic${suggestionSuffix(key, QUIC_KEYS)}`);
  const { values } = readKeys(reader, fields, QUIC_RULES, reader);
  return { ...QUIC_DEFAULTS, ...values };
}
