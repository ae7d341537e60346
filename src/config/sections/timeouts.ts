/**
 * `timeouts: { client_hello: 5s, connect: 3s, idle: 10m }`: each a duration; what is left out keeps its default.
 */
import { isMap, type Node } from 'yaml';
import { quoteValue } from '../problem.js';
import { suggestionSuffix } from '../suggest.js';
import { DEFAULT_TIMEOUTS, type Timeouts } from '../types.js';
import { type KeyRule, keyRule, readKeys, type YamlReader } from './yaml-reader.js';

function durationOf(field: keyof Timeouts, key: string): KeyRule<Timeouts, YamlReader> {
  return keyRule(field, (reader: YamlReader, _value: Node, pair) => {
    const node = reader.valueOf(pair);
    return reader.duration(node, pair, `timeouts.${key}`);
  });
}

const TIMEOUT_RULES: Readonly<Record<string, KeyRule<Timeouts, YamlReader>>> = {
  client_hello: durationOf('clientHelloMs', 'client_hello'),
  connect: durationOf('connectMs', 'connect'),
  idle: durationOf('idleMs', 'idle'),
};
export const TIMEOUT_KEYS = Object.keys(TIMEOUT_RULES);

export function readTimeouts(reader: YamlReader, node: Node | null): Timeouts {
  if (node === null || !isMap(node)) {
    reader.report(node, 'timeouts must be a mapping, as in { client_hello: 5s, connect: 3s, idle: 10m }');
    return { ...DEFAULT_TIMEOUTS };
  }
  const fields = reader.fields(node, TIMEOUT_KEYS, (key) => `unknown key ${quoteValue(key)} in timeouts${suggestionSuffix(key, TIMEOUT_KEYS)}`);
  return { ...DEFAULT_TIMEOUTS, ...readKeys(reader, fields, TIMEOUT_RULES, reader).values };
}
