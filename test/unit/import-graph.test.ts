/**
 * The walker behind the layer test, on a tiny synthetic tree: it must see every kind of arrow, and catch a cycle
 * and an upward arrow while letting same-folder and downward arrows pass. If it could not see an arrow, the layer
 * test on src/ could not fail.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  formatEdge,
  importEdges,
  importSpecifiers,
  type LayerOrder,
  layerViolations,
  readSourceTree,
  unplacedFiles,
} from '../helpers/import-graph.js';

const ORDER: LayerOrder = [['main.ts'], ['top'], ['middle'], ['bottom']];

function tree(files: Record<string, string>): Map<string, string> {
  return new Map(Object.entries(files));
}

describe('importSpecifiers', () => {
  it('sees static, type-only, multi-line, re-export, dynamic and worker-URL imports', () => {
    const text = [
      "import { a } from './a.js';",
      "import type { B } from './b.js';",
      'import {',
      '  c,',
      '  d,',
      "} from './c.js';",
      "export { e } from './e.js';",
      "export * from './f.js';",
      "const g = await import('./g.js');",
      "new Worker(new URL('./h.js', import.meta.url));",
      "import pino from 'pino';",
    ].join('\n');
    expect(importSpecifiers('x.ts', text)).toEqual(['./a.js', './b.js', './c.js', './e.js', './f.js', './g.js', './h.js', 'pino']);
  });

  it('does not take comments, strings or URLs that are not module references for imports', () => {
    const text = [
      "// import { a } from './a.js';",
      "/* export * from './b.js'; */",
      "const text = \"import { c } from './c.js'\";",
      "const page = new URL('/admin', 'http://admin');",
      'const self = new URL(import.meta.url);',
    ].join('\n');
    expect(importSpecifiers('x.ts', text)).toEqual([]);
  });
});

describe('importEdges', () => {
  it('resolves ./x.js to x.ts across folders, skips packages and paths out of the tree, and reports dangling ones', () => {
    const { edges, unresolved } = importEdges(
      tree({
        'top/a.ts': "import { b } from '../middle/b.js';\nimport 'pino';\nconst p = new URL('../../package.json', import.meta.url);",
        'middle/b.ts': "import { c } from './nested/c.js';\nimport { gone } from './gone.js';",
        'middle/nested/c.ts': 'export const c = 1;',
      }),
    );
    expect(edges).toEqual([
      { from: 'top/a.ts', to: 'middle/b.ts' },
      { from: 'middle/b.ts', to: 'middle/nested/c.ts' },
    ]);
    expect(unresolved).toEqual([{ from: 'middle/b.ts', to: 'middle/gone.js' }]);
  });
});

describe('layerViolations', () => {
  it('lets arrows point down or stay within a folder (subfolders included)', () => {
    const { edges } = importEdges(
      tree({
        'main.ts': "import './top/a.js';\nimport './bottom/d.js';",
        'top/a.ts': "import './a2.js';\nimport '../middle/b.js';",
        'top/a2.ts': '',
        'middle/b.ts': "import './sub/c.js';\nimport '../bottom/d.js';",
        'middle/sub/c.ts': "import '../b2.js';",
        'middle/b2.ts': '',
        'bottom/d.ts': '',
      }),
    );
    expect(edges.length).toBe(7);
    expect(layerViolations(edges, ORDER)).toEqual([]);
  });

  it('catches an upward arrow, naming both layers', () => {
    const { edges } = importEdges(
      tree({
        'top/a.ts': "import '../middle/b.js';",
        'middle/b.ts': '',
        'bottom/d.ts': "import type { B } from '../middle/b.js';",
        'middle/sub/c.ts': "import '../../top/a.js';",
      }),
    );
    expect(layerViolations(edges, ORDER).map((v) => `${formatEdge(v)} ${v.rule}: ${v.detail}`)).toEqual([
      'bottom/d.ts → middle/b.ts upward: bottom is below middle',
      'middle/sub/c.ts → top/a.ts upward: middle is below top',
    ]);
  });

  it('catches a cycle inside one folder, naming every edge in it and the cycle each one closes', () => {
    const { edges } = importEdges(
      tree({
        'middle/a.ts': "import './b.js';",
        'middle/b.ts': "import './c.js';",
        'middle/c.ts': "import './a.js';\nimport '../bottom/d.js';",
        'bottom/d.ts': '',
      }),
    );
    expect(layerViolations(edges, ORDER).map((v) => `${formatEdge(v)} ${v.rule}: ${v.detail}`)).toEqual([
      'middle/a.ts → middle/b.ts cycle: closes the cycle middle/a.ts → middle/b.ts → middle/c.ts → middle/a.ts',
      'middle/b.ts → middle/c.ts cycle: closes the cycle middle/b.ts → middle/c.ts → middle/a.ts → middle/b.ts',
      'middle/c.ts → middle/a.ts cycle: closes the cycle middle/c.ts → middle/a.ts → middle/b.ts → middle/c.ts',
    ]);
  });

  it('reports a cycle across layers under both rules', () => {
    const { edges } = importEdges(
      tree({
        'top/a.ts': "import { b } from '../bottom/b.js';",
        'bottom/b.ts': "export { a } from '../top/a.js';",
      }),
    );
    expect(layerViolations(edges, ORDER).map((v) => `${formatEdge(v)} ${v.rule}`)).toEqual([
      'bottom/b.ts → top/a.ts cycle',
      'bottom/b.ts → top/a.ts upward',
      'top/a.ts → bottom/b.ts cycle',
    ]);
  });

  it('names the files of a folder the order does not place', () => {
    expect(unplacedFiles(['top/a.ts', 'attic/x.ts', 'stray.ts', 'main.ts'], ORDER)).toEqual(['attic/x.ts', 'stray.ts']);
  });
});

describe('readSourceTree', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'import-graph-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('reads .ts files at every depth with / separators, leaving out declarations and other files', () => {
    mkdirSync(path.join(root, 'middle', 'sub'), { recursive: true });
    writeFileSync(path.join(root, 'main.ts'), "import './middle/sub/c.js';");
    writeFileSync(path.join(root, 'middle', 'sub', 'c.ts'), '');
    writeFileSync(path.join(root, 'middle', 'types.d.ts'), '');
    writeFileSync(path.join(root, 'middle', 'README.md'), '');
    const files = readSourceTree(root);
    expect([...files.keys()].sort()).toEqual(['main.ts', 'middle/sub/c.ts']);
    expect(importEdges(files).edges).toEqual([{ from: 'main.ts', to: 'middle/sub/c.ts' }]);
  });
});
