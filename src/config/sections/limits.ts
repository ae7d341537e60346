/**
 * `limits:` (caps on connections still in their hello phase, and a per-client connection rate) and
 * `max_hello_bytes` (the cap on one ClientHello).
 *
 *   limits: { max_hello_connections: 10000, max_hello_connections_per_client: 256,
 *             max_hello_bytes_total: 67108864, max_connection_rate_per_client: 50 }
 */
import { isMap, isScalar, type Node } from 'yaml';
import { MIN_MAX_HELLO_BYTES } from '../draft.js';
import { quoteValue } from '../problem.js';
import { suggestionSuffix } from '../suggest.js';
import { DEFAULT_LIMITS, type Limits, MAX_MAX_HELLO_BYTES } from '../types.js';
import { type KeyRule, keyRule, readKeys, shownValue, type YamlReader } from './yaml-reader.js';

/** A whole number of at least `min`, reported as `limits.<key>`. */
function countOf(field: keyof Limits, key: string, min: number): KeyRule<Limits, YamlReader> {
  return keyRule(field, (reader: YamlReader, value: Node) => reader.count(value, `limits.${key}`, min));
}

const LIMIT_RULES: Readonly<Record<string, KeyRule<Limits, YamlReader>>> = {
  max_hello_connections: countOf('maxHelloConnections', 'max_hello_connections', 1),
  max_hello_connections_per_client: countOf('maxHelloConnectionsPerClient', 'max_hello_connections_per_client', 1),
  // Bytes, like max_hello_bytes; at least 1 MiB, so that one hello of the largest size allowed always fits.
  max_hello_bytes_total: countOf('maxHelloBytesTotal', 'max_hello_bytes_total', MAX_MAX_HELLO_BYTES),
  max_connection_rate_per_client: countOf('maxConnectionRatePerClient', 'max_connection_rate_per_client', 1),
};
export const LIMITS_KEYS = Object.keys(LIMIT_RULES);

/** Defaults for what is left out; a bad value is reported and its default kept. */
export function readLimits(reader: YamlReader, node: Node | null): Limits {
  if (node === null || !isMap(node)) {
    reader.report(node, 'limits must be a mapping, as in { max_hello_connections: 10000, max_hello_connections_per_client: 256 }');
    return { ...DEFAULT_LIMITS };
  }
  const fields = reader.fields(node, LIMITS_KEYS, (key) => `unknown key ${quoteValue(key)} in limits${suggestionSuffix(key, LIMITS_KEYS)}`);
  return { ...DEFAULT_LIMITS, ...readKeys(reader, fields, LIMIT_RULES, reader).values };
}

/** A whole number of bytes within MIN_MAX_HELLO_BYTES and MAX_MAX_HELLO_BYTES, or null after reporting. */
export function readMaxHelloBytes(reader: YamlReader, node: Node | null): number | null {
  const value = isScalar(node) ? node.value : undefined;
  if (typeof value === 'number' && Number.isInteger(value) && value >= MIN_MAX_HELLO_BYTES && value <= MAX_MAX_HELLO_BYTES) {
    return value;
  }
  if (typeof value === 'number' && Number.isInteger(value) && value > MAX_MAX_HELLO_BYTES) {
    const limit = `${MAX_MAX_HELLO_BYTES} (1 MiB)`;
    reader.report(node, `max_hello_bytes ${value} is over the limit of ${limit}; a real ClientHello is a few KiB`);
  } else {
    const range = `${MIN_MAX_HELLO_BYTES} to ${MAX_MAX_HELLO_BYTES}`;
    reader.report(node, `max_hello_bytes must be a whole number of bytes from ${range}, not ${shownValue(node)}`);
  }
  return null;
}
