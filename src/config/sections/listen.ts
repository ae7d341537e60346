/**
 * `listen:` a list of addresses, each in short form (`"127.0.0.1:443"`) or long form:
 *
 *   { address: "10.0.0.1:443", accept_proxy_protocol: { trusted: [10.0.0.0/8] },
 *     max_connections: 10000, max_connections_per_client: 100, quic: true }
 *   { address: ":80", http: redirect, https_port: 8443 }      a plain-HTTP listener (http: redirect | route)
 *
 * `quic: true` binds UDP beside TCP on the same address and port and routes QUIC by SNI (src/config/quic-keys.ts).
 */
import { isMap, isScalar, isSeq, type Node, type YAMLMap } from 'yaml';
import { parseCidr, type Cidr } from '../../wire/cidr.js';
import { parseListenAddress } from '../addresses.js';
import { quoteValue } from '../problem.js';
import { suggestionSuffix } from '../suggest.js';
import { type AcceptProxySettings, DEFAULT_LISTEN_SETTINGS, type ListenAddress, PLAIN_HTTP_MODES } from '../types.js';
import { isLongForm, type KeyRule, keyRule, readKeys, type YamlReader } from './yaml-reader.js';

/** What the long form adds to an address. */
type ListenSettings = Pick<ListenAddress, 'acceptProxy' | 'maxConnections' | 'maxConnectionsPerClient' | 'quic' | 'http' | 'httpsPort'>;

const LISTEN_RULES: Readonly<Record<string, KeyRule<ListenSettings, YamlReader>>> = {
  accept_proxy_protocol: keyRule('acceptProxy', (reader: YamlReader, value: Node) => readAcceptProxy(reader, value)),
  max_connections: keyRule('maxConnections', (reader: YamlReader, value: Node) => reader.count(value, 'max_connections', 1)),
  max_connections_per_client: keyRule('maxConnectionsPerClient', (reader: YamlReader, value: Node) => reader.count(value, 'max_connections_per_client', 1)),
  quic: keyRule('quic', (reader: YamlReader, value: Node) => readBoolean(reader, value, 'quic of a listen entry')),
  http: keyRule('http', (reader: YamlReader, value: Node) => reader.enumOf(value, 'http of a listen entry', PLAIN_HTTP_MODES)),
  https_port: keyRule('httpsPort', (reader: YamlReader, value: Node) => {
    const port = reader.count(value, 'https_port', 1);
    if (port === null || port <= 65_535) return port;
    reader.report(value, `https_port ${port} is outside 1–65535`);
    return null;
  }),
};
/** The keys of `accept_proxy_protocol`. */
export const ACCEPT_PROXY_KEYS = ['trusted'];
/** `address` is read on its own: it is required, and the rest only make sense beside it. */
export const LISTEN_KEYS = ['address', ...Object.keys(LISTEN_RULES)];

export function readListen(reader: YamlReader, node: Node | null): ListenAddress[] {
  const listen: ListenAddress[] = [];
  const items = reader.listOf(node, 'listen', 'a list of addresses, as in ["127.0.0.1:8443", "[::1]:8443"]');
  const firstLine = new Map<string, number>();
  for (const item of items) {
    const isLong = isLongForm(item, LISTEN_KEYS);
    const long = isLong ? readLongForm(reader, item) : null;
    if (isLong && long === null) continue;
    const text = long !== null ? long.address : reader.addressText(item, 'listen address');
    if (text === null) continue;
    const parsed = parseListenAddress(text);
    if (!parsed.ok) {
      reader.report(long?.addressNode ?? item, `listen address ${quoteValue(text)} ${parsed.reason}`);
      continue;
    }
    const address: ListenAddress = { ...parsed.value, ...(long?.settings ?? DEFAULT_LISTEN_SETTINGS) };
    const seenAt = firstLine.get(address.label);
    if (seenAt !== undefined) {
      reader.report(item, `listen address '${address.label}' is listed twice (first at line ${seenAt})`);
      continue;
    }
    firstLine.set(address.label, reader.position(item).line);
    listen.push(address);
  }
  if (node !== null && isSeq(node) && node.items.length === 0) {
    reader.report(node, 'listen is empty; give at least one address, as in ["127.0.0.1:8443"]');
  }
  return listen;
}

function readLongForm(reader: YamlReader, node: YAMLMap): { address: string; addressNode: Node; settings: ListenSettings } | null {
  const fields = reader.fields(node, LISTEN_KEYS, (key) => `unknown key ${quoteValue(key)} in a listen entry${suggestionSuffix(key, LISTEN_KEYS)}`);
  const addressPair = fields.pairs.get('address');
  if (addressPair === undefined) {
    if (!fields.misspelled.has('address')) reader.report(node, "a listen entry in long form needs 'address', as in { address: \"127.0.0.1:443\" }");
    return null;
  }
  const addressNode = reader.valueOrKey(addressPair);
  const address = reader.addressText(addressNode, 'listen address');
  const read = readKeys(reader, fields, LISTEN_RULES, reader);
  if (read.isBroken || address === null) return null;
  const http = read.values.http ?? null;
  if (read.values.httpsPort != null && http !== 'redirect') {
    reader.report(reader.valueOrKey(fields.pairs.get('https_port')!), "https_port only applies to a listen entry with 'http: redirect'");
    return null;
  }
  if (http !== null && read.values.acceptProxy) {
    reader.report(node, `accept_proxy_protocol is not supported on a plain-HTTP listen entry (http: ${http})`);
    return null;
  }
  if (http !== null && read.values.quic) {
    reader.report(reader.valueOrKey(fields.pairs.get('quic')!), `quic does not apply to a plain-HTTP listen entry (http: ${http}): QUIC is TLS`);
    return null;
  }
  const settings: ListenSettings = {
    acceptProxy: read.values.acceptProxy ?? null,
    maxConnections: read.values.maxConnections ?? null,
    maxConnectionsPerClient: read.values.maxConnectionsPerClient ?? null,
    quic: read.values.quic ?? DEFAULT_LISTEN_SETTINGS.quic,
    http,
    httpsPort: http === 'redirect' ? (read.values.httpsPort ?? null) : null,
  };
  return { address, addressNode, settings };
}

function readAcceptProxy(reader: YamlReader, node: Node): AcceptProxySettings | null {
  const example = 'accept_proxy_protocol must be a mapping, as in { trusted: ["10.0.0.0/8", "::1/128"] }';
  if (!isMap(node)) {
    reader.report(node, example);
    return null;
  }
  const fields = reader.fields(node, ACCEPT_PROXY_KEYS, (key) => `unknown key ${quoteValue(key)} in accept_proxy_protocol${suggestionSuffix(key, ACCEPT_PROXY_KEYS)}`);
  const trustedPair = fields.pairs.get('trusted');
  if (trustedPair === undefined) {
    if (!fields.misspelled.has('trusted')) reader.report(node, "accept_proxy_protocol needs 'trusted', the peers allowed to send a header");
    return null;
  }
  const items = reader.listOf(reader.valueOf(trustedPair), 'trusted', 'a list of networks, as in ["10.0.0.0/8"]');
  const trusted: Cidr[] = [];
  let isBroken = items.length === 0;
  for (const item of items) {
    const text = isScalar(item) ? String(item.value) : null;
    const result = text === null ? null : parseCidr(text);
    if (result === null || !result.ok) {
      reader.report(item, `trusted network ${quoteValue(text ?? '')} ${result === null ? 'must be a string' : result.reason}`);
      isBroken = true;
      continue;
    }
    trusted.push(result.value);
  }
  return isBroken ? null : { trusted };
}

function readBoolean(reader: YamlReader, node: Node, setting: string): boolean | null {
  if (isScalar(node) && typeof node.value === 'boolean') return node.value;
  reader.report(node, `${setting} must be true or false, not ${isScalar(node) ? quoteValue(String(node.source ?? node.value)) : 'a list or mapping'}`);
  return null;
}
