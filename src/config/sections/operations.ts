/**
 * The operational settings in the file: `admin`, `shutdown_grace`, `workers`, `data_plane` (their pure rules are in
 * src/config/operations.ts, shared with the flags).
 *
 *   admin: 127.0.0.1:9901                                          short form: loopback only
 *   admin: { listen: "0.0.0.0:9901", allow_non_loopback: true }    long form: anything, said explicitly
 */
import { isMap, isScalar, type Node } from 'yaml';
import { parseAdminAddress } from '../addresses.js';
import { ADMIN_KEYS, DATA_PLANE_CHOICES, describeAdminBindProblem, parseWorkers } from '../operations.js';
import { quoteValue } from '../problem.js';
import { suggestionSuffix } from '../suggest.js';
import type { AdminAddress, DataPlaneChoice } from '../types.js';
import { isNull, type YamlReader } from './yaml-reader.js';

export function readAdmin(reader: YamlReader, node: Node | null): AdminAddress | null {
  if (node === null || isNull(node)) return null;
  let addressNode: Node = node;
  let allowNonLoopback = false;
  if (isMap(node)) {
    const fields = reader.fields(node, ADMIN_KEYS, (key) => `unknown key ${quoteValue(key)} in admin${suggestionSuffix(key, ADMIN_KEYS)}`);
    const listenPair = fields.pairs.get('listen');
    if (listenPair === undefined) {
      if (!fields.misspelled.has('listen')) reader.report(node, "admin in long form needs 'listen', as in { listen: \"127.0.0.1:9901\" }");
      return null;
    }
    addressNode = reader.valueOrKey(listenPair);
    const allowPair = fields.pairs.get('allow_non_loopback');
    const allowNode = reader.valueOf(allowPair);
    if (allowPair !== undefined && !(isScalar(allowNode) && typeof allowNode.value === 'boolean')) {
      reader.report(allowNode ?? allowPair, 'admin.allow_non_loopback must be true or false');
      return null;
    }
    allowNonLoopback = isScalar(allowNode) && allowNode.value === true;
  }
  const text = reader.addressText(addressNode, 'admin');
  if (text === null) return null;
  const result = parseAdminAddress(text);
  if (!result.ok) {
    reader.report(addressNode, `admin address ${quoteValue(text)} ${result.reason}`);
    return null;
  }
  const problem = describeAdminBindProblem(result.value.label, result.value.host, allowNonLoopback);
  if (problem !== null) {
    reader.report(addressNode, problem);
    return null;
  }
  return { ...result.value, allowNonLoopback };
}

export function readShutdownGrace(reader: YamlReader, node: Node | null): number | null {
  return reader.duration(node, null, 'shutdown_grace');
}

export function readWorkers(reader: YamlReader, node: Node | null): number | null {
  const result = parseWorkers(isScalar(node) ? node.value : undefined);
  if (result.ok) return result.workers;
  reader.report(node, `workers ${result.reason}`);
  return null;
}

/** `data_plane: auto|native|node`; a bad value is reported and leaves the default. */
export function readDataPlane(reader: YamlReader, node: Node | null): DataPlaneChoice | null {
  return reader.enumOf(node, 'data_plane', DATA_PLANE_CHOICES);
}
