/**
 * The floor plan of src/ as a test: every import arrow points down the layer order of docs/architecture.md's
 * "Layers" section (or stays in its own folder), and no set of files imports itself in a circle. A new
 * folder has to be placed in LAYER_ORDER before it can land, so the order stays the one place that says it.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  formatEdge,
  importEdges,
  type LayerOrder,
  type LayerRule,
  layerViolations,
  readSourceTree,
  unplacedFiles,
} from '../helpers/import-graph.js';

const SOURCE_ROOT = fileURLToPath(new URL('../../src/', import.meta.url));
const ARCHITECTURE = readFileSync(new URL('../../docs/architecture.md', import.meta.url), 'utf8');

/** Top first. A folder may import itself and anything below it; subfolders (data-path/native) count as their folder. */
const LAYER_ORDER: LayerOrder = [
  ['cli.ts', 'demo.ts'], // entry points
  ['control'], // run loop, supervisor, workers, reload, admin
  ['serve'], // router, listener, snapshot, limits
  ['data-path'], // connection stages, splice, terminate, TLS contexts, native and QUIC planes
  ['pools'], // pool, balancers, health, resolve, dial
  ['routing'], // route table, explain
  ['config'], // load → validate → resolved Config; diff, to-yaml, describe
  ['wire'], // bytes on the wire: TLS, QUIC, PROXY protocol, addresses, host names
  ['ops'], // log, metrics, errors, close reasons, file watch
];

interface KnownViolation {
  readonly edge: string;
  readonly rule: LayerRule;
  /** The work that removes it; the coordinator deletes the entry when that work lands on main. */
  readonly removedBy: string;
}

/**
 * The arrows that break the rules on main as of the layer-folder move, each with the work removing it. This list
 * may only shrink: the test fails on any violation not listed here AND on any entry that no longer occurs, so a
 * fixed arrow has to be struck off (and so cannot quietly come back). The goal is an empty list.
 */
const KNOWN_VIOLATIONS: readonly KnownViolation[] = [];

function key(edge: string, rule: LayerRule): string {
  return `${edge} [${rule}]`;
}

describe('layers of src/', () => {
  const files = readSourceTree(SOURCE_ROOT);
  const { edges, unresolved } = importEdges(files);

  it('finds the source tree and its arrows (a walker that sees nothing would pass everything)', () => {
    expect(files.size).toBeGreaterThan(40);
    expect(edges.length).toBeGreaterThan(100);
    expect(edges).toContainEqual({ from: 'cli.ts', to: 'control/supervisor.ts' });
  });

  it('places every file of src/ in a layer', () => {
    expect(unplacedFiles(files.keys(), LAYER_ORDER), 'add the folder to LAYER_ORDER (and to the diagram in docs/architecture.md)').toEqual([]);
  });

  it('resolves every relative import to a file of src/', () => {
    expect(unresolved.map(formatEdge)).toEqual([]);
  });

  it('has no upward or circular import beyond the known ones, and every known one still exists', () => {
    const known = new Map(KNOWN_VIOLATIONS.map((entry) => [key(entry.edge, entry.rule), entry]));
    const found = layerViolations(edges, LAYER_ORDER);
    const foundKeys = new Set(found.map((violation) => key(formatEdge(violation), violation.rule)));
    const problems: string[] = [];
    for (const violation of found) {
      if (known.has(key(formatEdge(violation), violation.rule))) continue;
      const rule = violation.rule === 'upward' ? 'imports point down the layer order only' : 'no import cycles';
      problems.push(`${formatEdge(violation)}  breaks "${rule}": ${violation.detail}`);
    }
    for (const entry of KNOWN_VIOLATIONS) {
      if (foundKeys.has(key(entry.edge, entry.rule))) continue;
      problems.push(`${entry.edge}  [${entry.rule}] is gone (${entry.removedBy}): strike it from KNOWN_VIOLATIONS`);
    }
    expect(problems, `\n${problems.join('\n')}\n`).toEqual([]);
  });

  it('lists each known violation once', () => {
    const keys = KNOWN_VIOLATIONS.map((entry) => key(entry.edge, entry.rule));
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe('docs/architecture.md "Layers"', () => {
  it('draws the layers in the order this test enforces', () => {
    const start = ARCHITECTURE.indexOf('\n## Layers\n');
    expect(start, 'docs/architecture.md has a "Layers" section').toBeGreaterThanOrEqual(0);
    const end = ARCHITECTURE.indexOf('\n## ', start + 1);
    const section = ARCHITECTURE.slice(start, end === -1 ? undefined : end);
    // The diagram's lines are indented code; each names its layer first ("control/", "cli.ts, demo.ts").
    const drawn = [...section.matchAll(/^ {4}([a-z][a-z-]*\/|[a-z-]+\.ts(?:, [a-z-]+\.ts)*)\s/gm)].map((match) => match[1]);
    const enforced = LAYER_ORDER.map((entries) => entries.map((entry) => (entry.endsWith('.ts') ? entry : `${entry}/`)).join(', '));
    expect(drawn).toEqual(enforced);
  });
});
