/**
 * What every config section reads YAML with: a mapping's keys checked against a key table, values of the common
 * kinds (one of some words, a whole number, a duration, a host:port text, a list), and every problem recorded at
 * the node it is about. A reader never throws and never stops at a problem: it reports, answers null, and the
 * section carries on, so one run of `sni-router check` lists everything to fix.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, type Document, type Node, type Pair, type YAMLMap } from 'yaml';
import { parseDuration } from '../durations.js';
import { type ConfigProblem, quoteValue } from '../problem.js';
import { closestWord, oneOf } from '../suggest.js';
import type { SourcePosition } from '../types.js';
import type { YamlSource } from '../yaml-source.js';

/** A mapping's pairs by key, after duplicate and unknown keys were reported. */
export interface Fields {
  readonly pairs: Map<string, Pair<unknown, unknown>>;
  /** Unknown keys were found (and reported). */
  hasUnknownKeys: boolean;
  /** Known keys that an unknown one was probably meant to be: no "needs 'backends'" after "did you mean 'backends'?". */
  readonly misspelled: Set<string>;
}

export class YamlReader {
  readonly problems: ConfigProblem[] = [];
  /** The config file's folder: relative file paths (cert, key, CA) resolve against it. */
  readonly baseDir: string;
  readonly #source: YamlSource;
  readonly #document: Document.Parsed;

  constructor(source: YamlSource, baseDir: string) {
    this.#source = source;
    this.#document = source.document;
    this.baseDir = baseDir;
  }

  /** The document's top node, aliases resolved. */
  root(): Node | null {
    return this.deref(this.#document.contents);
  }

  /**
   * The pairs of a mapping by key. Reports keys that are not plain words, duplicates (at the second one, naming
   * the line of the first), and — when `known` is given — unknown keys with `unknownMessage(key)`.
   */
  fields(map: YAMLMap, known: readonly string[] | null, unknownMessage: (key: string) => string): Fields {
    const fields: Fields = { pairs: new Map(), hasUnknownKeys: false, misspelled: new Set() };
    for (const pair of map.items) {
      const keyNode = this.deref(pair.key as Node | null);
      if (!isScalar(keyNode) || keyNode.value === null || typeof keyNode.value === 'object') {
        this.report(keyNode ?? map, 'a key must be a plain word or name, not a list or mapping');
        continue;
      }
      const key = String(keyNode.value);
      const first = fields.pairs.get(key);
      if (first !== undefined) {
        this.report(keyNode, `duplicate key '${key}' (first given at line ${this.position(first.key as Node).line})`);
        continue;
      }
      if (known !== null && !known.includes(key)) {
        this.report(keyNode, unknownMessage(key));
        fields.hasUnknownKeys = true;
        const closest = closestWord(key, known);
        if (closest !== null) fields.misspelled.add(closest);
        continue;
      }
      fields.pairs.set(key, pair);
    }
    return fields;
  }

  /** One of `allowed`, written exactly (case too), or null after reporting it with a "did you mean". */
  enumOf<T extends string>(node: Node | null, setting: string, allowed: readonly T[]): T | null {
    const value = isScalar(node) ? node.value : undefined;
    const match = allowed.find((word) => word === value);
    if (match !== undefined) return match;
    if (!isScalar(node)) {
      this.report(node, `${setting} must be ${oneOf(allowed)}, not ${isSeq(node) ? 'a list' : 'a mapping'}`);
      return null;
    }
    const shown = String(node.source ?? node.value);
    const closest = closestWord(shown, allowed);
    const hint = closest !== null ? `; did you mean '${closest}'?` : '';
    this.report(node, `${setting} must be ${oneOf(allowed)}, not ${quoteValue(shown)}${hint}`);
    return null;
  }

  /** A whole number ≥ `min`, or null after reporting it. */
  count(node: Node, setting: string, min: number): number | null {
    const value = isScalar(node) ? node.value : undefined;
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= min) return value;
    this.report(node, `${setting} must be a whole number of at least ${min}, not ${shownValue(node)}`);
    return null;
  }

  /** A duration (`5s`) in milliseconds, or null after reporting it; `setting` starts the sentence. */
  duration(node: Node | null, at: Node | Pair<unknown, unknown> | null, setting: string): number | null {
    const result = parseDuration(isScalar(node) ? node.value : undefined);
    if (result.ok) return result.ms;
    this.report(node ?? at, `${setting} ${result.reason}`);
    return null;
  }

  /** The items of a list (a lone value counts as a list of one). `expected` describes the list for messages. */
  listOf(node: Node | null, setting: string, expected: string): Node[] {
    if (node === null || isNull(node)) {
      this.report(node, `${setting} is empty${expected.length > 0 ? `; give ${expected}` : ''}`);
      return [];
    }
    if (isSeq(node)) return node.items.map((item) => this.deref(item as Node) ?? node);
    if (isScalar(node)) return [node];
    this.report(node, `${setting} must be ${expected.length > 0 ? expected : 'a list'}`);
    return [];
  }

  /**
   * An address must be a string; an unquoted `[::1]:8443` reaches us as a list or mapping. `what` and `owner`
   * make "backend '8443' of route 'x'".
   */
  addressText(node: Node, what: string, owner = ''): string | null {
    if (isScalar(node) && typeof node.value === 'string') return node.value;
    if (isScalar(node)) {
      this.report(node, `${what} ${quoteValue(String(node.source ?? node.value))}${owner} must be host:port, as in '10.0.0.5:8443'`);
    } else {
      this.report(node, `${what}${owner} must be a string such as '10.0.0.5:8443'; quote IPv6 addresses, as in "[::1]:8443"`);
    }
    return null;
  }

  valueOf(pair: Pair<unknown, unknown> | undefined): Node | null {
    return pair === undefined ? null : this.deref(pair.value as Node | null);
  }

  /** The value of a pair, or its key when the value is empty (`key:` with nothing after it): where to report. */
  valueOrKey(pair: Pair<unknown, unknown>): Node {
    return this.valueOf(pair) ?? (pair.key as Node);
  }

  deref(node: Node | null | undefined): Node | null {
    if (node === null || node === undefined) return null;
    if (isAlias(node)) return (node.resolve(this.#document) as Node | undefined) ?? null;
    return node;
  }

  position(node: Node | Pair<unknown, unknown> | null): SourcePosition {
    const offset = node === null ? undefined : isPair(node) ? (node.key as Node | null)?.range?.[0] : node.range?.[0];
    if (offset === undefined) return { file: this.#source.file, line: 0, col: 0 };
    const { line, col } = this.#source.positionOf(offset);
    return { file: this.#source.file, line, col };
  }

  report(node: Node | Pair<unknown, unknown> | null, message: string): void {
    this.problems.push({ ...this.position(node), message });
  }
}

/** How a problem quotes a value that is not what it should be: `'abc'`, `a list`, `a mapping`. */
export function shownValue(node: Node | null): string {
  return isScalar(node) ? quoteValue(String(node.source ?? node.value)) : isSeq(node) ? 'a list' : 'a mapping';
}

/**
 * A mapping in a list of addresses is a long form when it uses one of its keys; any other mapping is most likely
 * an unquoted IPv6 address (`[::1]:8443` reads as one) and keeps the "quote it" message.
 */
export function isLongForm(node: Node, keys: readonly string[]): node is YAMLMap {
  return (
    isMap(node) &&
    node.items.some((pair) => isScalar(pair.key) && (keys.includes(String(pair.key.value)) || closestWord(String(pair.key.value), keys) !== null))
  );
}

export function isNull(node: Node | null): boolean {
  return node === null || (isScalar(node) && node.value === null);
}

/**
 * One key of a mapping: which field of the section's result it fills, and how its value is read. `read` answers
 * null after reporting a bad value. A section's keys are a table of these, so adding a key is one entry here
 * and one field in its type (src/config/types.ts).
 */
export interface KeyRule<T, C> {
  readonly field: keyof T;
  read(context: C, value: Node, pair: Pair<unknown, unknown>): T[keyof T] | null;
}

/** A rule whose reader is checked against the field's type. */
export function keyRule<T, C, K extends keyof T>(field: K, read: (context: C, value: Node, pair: Pair<unknown, unknown>) => T[K] | null): KeyRule<T, C> {
  return { field, read: read as KeyRule<T, C>['read'] };
}

export interface ReadKeys<T> {
  /** The fields whose keys were given and read well. */
  readonly values: Partial<T>;
  /** Some given key had a bad value (reported). */
  readonly isBroken: boolean;
}

/** Reads the keys of `fields` that `rules` knows, in the table's order. */
export function readKeys<T, C>(reader: YamlReader, fields: Fields, rules: Readonly<Record<string, KeyRule<T, C>>>, context: C): ReadKeys<T> {
  const values: Partial<T> = {};
  let isBroken = false;
  for (const [key, rule] of Object.entries(rules)) {
    const pair = fields.pairs.get(key);
    if (pair === undefined) continue;
    const value = rule.read(context, reader.valueOrKey(pair), pair);
    if (value === null) isBroken = true;
    else values[rule.field] = value;
  }
  return { values, isBroken };
}
