/**
 * The import graph of a source tree and the two rules the layer test holds it to: no cycle, and no arrow from
 * a lower layer up to a higher one. Pure over a map of path → text, so the rules themselves are unit-tested on a
 * synthetic tree; `readSourceTree` is the only part that touches the disk.
 *
 * Imports are found with the TypeScript parser (not a regex) so that multi-line imports, comments and strings
 * cannot fool it. Every kind of arrow counts, because each one is a dependency the layering has to survive:
 * static `import … from` (type-only too: a type import still ties the lower file to the higher one's shape),
 * `export … from`, dynamic `import()`, and `new URL('./x.js', import.meta.url)` (how a worker file is named).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/** One arrow: `from` imports `to`; both are paths relative to the tree's root, with '/' separators. */
export interface ImportEdge {
  readonly from: string;
  readonly to: string;
}

export type LayerRule = 'cycle' | 'upward';

export interface LayerViolation extends ImportEdge {
  readonly rule: LayerRule;
  /** Why this edge breaks its rule, for the failure message (the cycle it closes, or the two layers). */
  readonly detail: string;
}

/**
 * The layers, top first. An entry is either a folder directly under the root ('config') or a top-level file
 * ('cli.ts'); entries in the same inner array share one layer. A file in a subfolder belongs to its top folder.
 */
export type LayerOrder = readonly (readonly string[])[];

/** Every `.ts` file under `root` (declaration files excluded), keyed by its path relative to `root`. */
export function readSourceTree(root: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts') || entry.name.endsWith('.d.ts')) continue;
    const full = path.join(entry.parentPath, entry.name);
    files.set(toPosix(path.relative(root, full)), readFileSync(full, 'utf8'));
  }
  return files;
}

function toPosix(relative: string): string {
  return relative.split(path.sep).join('/');
}

/** The module specifiers a file names: static, re-export, dynamic import, and `new URL(…, import.meta.url)`. */
export function importSpecifiers(fileName: string, text: string): string[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      found.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [first] = node.arguments;
      if (first && ts.isStringLiteralLike(first)) found.push(first.text);
    } else if (ts.isNewExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === 'URL') {
      const [first, second] = node.arguments ?? [];
      if (first && second && ts.isStringLiteralLike(first) && isImportMetaUrl(second)) found.push(first.text);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      const reference = node.moduleReference.expression;
      if (ts.isStringLiteral(reference)) found.push(reference.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

function isImportMetaUrl(node: ts.Node): boolean {
  return (
    ts.isPropertyAccessExpression(node) &&
    node.name.text === 'url' &&
    ts.isMetaProperty(node.expression) &&
    node.expression.keywordToken === ts.SyntaxKind.ImportKeyword
  );
}

/**
 * The arrows between files of the tree. Relative specifiers are resolved the way NodeNext resolves them in
 * TypeScript sources ('./x.js' names './x.ts'); package imports and paths that leave the tree (package.json)
 * are not arrows between layers and are skipped. A relative specifier that names no file of the tree is
 * returned in `unresolved`, because an arrow the walker cannot follow is an arrow it cannot judge.
 */
export function importEdges(files: ReadonlyMap<string, string>): { edges: ImportEdge[]; unresolved: ImportEdge[] } {
  const edges: ImportEdge[] = [];
  const unresolved: ImportEdge[] = [];
  for (const [from, text] of files) {
    const seen = new Set<string>();
    for (const specifier of importSpecifiers(from, text)) {
      if (!specifier.startsWith('./') && !specifier.startsWith('../')) continue;
      const joined = path.posix.normalize(path.posix.join(path.posix.dirname(from), specifier));
      if (joined.startsWith('../')) continue;
      const to = resolveInTree(files, joined);
      if (to === undefined) {
        if (/\.(js|ts|mjs|mts)$/.test(joined)) unresolved.push({ from, to: joined });
        continue;
      }
      if (to === from || seen.has(to)) continue;
      seen.add(to);
      edges.push({ from, to });
    }
  }
  return { edges, unresolved };
}

function resolveInTree(files: ReadonlyMap<string, string>, joined: string): string | undefined {
  const candidates = [joined, joined.replace(/\.js$/, '.ts'), joined.replace(/\.mjs$/, '.mts'), `${joined}.ts`, `${joined}/index.ts`];
  return candidates.find((candidate) => files.has(candidate));
}

/** The layer entry a file belongs to: its top folder, or the file itself when it sits at the root. */
export function layerEntryOf(file: string): string {
  const slash = file.indexOf('/');
  return slash === -1 ? file : file.slice(0, slash);
}

/** Files whose layer entry is not in the order: a new folder must be placed before the rules can judge it. */
export function unplacedFiles(files: Iterable<string>, order: LayerOrder): string[] {
  const placed = new Set(order.flat());
  return [...files].filter((file) => !placed.has(layerEntryOf(file))).sort();
}

/** Every edge that breaks a rule, sorted; an edge that is both upward and in a cycle is reported once per rule. */
export function layerViolations(edges: readonly ImportEdge[], order: LayerOrder): LayerViolation[] {
  const rank = new Map<string, number>();
  order.forEach((entries, index) => entries.forEach((entry) => rank.set(entry, index)));
  const violations: LayerViolation[] = [];
  for (const edge of edges) {
    const fromLayer = layerEntryOf(edge.from);
    const toLayer = layerEntryOf(edge.to);
    const fromRank = rank.get(fromLayer);
    const toRank = rank.get(toLayer);
    // Rank 0 is the top; an arrow may point at its own layer or a larger rank (further down).
    if (fromRank !== undefined && toRank !== undefined && toRank < fromRank) {
      violations.push({ ...edge, rule: 'upward', detail: `${fromLayer} is below ${toLayer}` });
    }
  }
  for (const component of stronglyConnected(edges)) {
    const members = new Set(component);
    for (const edge of edges) {
      if (!members.has(edge.from) || !members.has(edge.to)) continue;
      violations.push({ ...edge, rule: 'cycle', detail: `closes the cycle ${cycleThrough(edge, edges, members).join(' → ')}` });
    }
  }
  return violations.sort((a, b) => formatEdge(a).localeCompare(formatEdge(b)) || a.rule.localeCompare(b.rule));
}

export function formatEdge(edge: ImportEdge): string {
  return `${edge.from} → ${edge.to}`;
}

/** Tarjan's strongly connected components with more than one file (self-imports are dropped by importEdges). */
function stronglyConnected(edges: readonly ImportEdge[]): string[][] {
  const next = adjacency(edges);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  let counter = 0;
  const connect = (node: string): void => {
    index.set(node, counter);
    low.set(node, counter);
    counter++;
    stack.push(node);
    onStack.add(node);
    for (const target of next.get(node) ?? []) {
      if (!index.has(target)) {
        connect(target);
        low.set(node, Math.min(low.get(node)!, low.get(target)!));
      } else if (onStack.has(target)) {
        low.set(node, Math.min(low.get(node)!, index.get(target)!));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string | undefined;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1) components.push(component.sort());
  };
  for (const node of [...next.keys()].sort()) if (!index.has(node)) connect(node);
  return components;
}

function adjacency(edges: readonly ImportEdge[]): Map<string, string[]> {
  const next = new Map<string, string[]>();
  for (const { from, to } of edges) {
    next.set(from, [...(next.get(from) ?? []), to]);
    if (!next.has(to)) next.set(to, []);
  }
  for (const targets of next.values()) targets.sort();
  return next;
}

/** The shortest path back from `edge.to` to `edge.from` inside the component, as the cycle the edge closes. */
function cycleThrough(edge: ImportEdge, edges: readonly ImportEdge[], members: ReadonlySet<string>): string[] {
  const next = adjacency(edges.filter((e) => members.has(e.from) && members.has(e.to)));
  const cameFrom = new Map<string, string>([[edge.to, edge.to]]);
  const queue = [edge.to];
  while (queue.length > 0) {
    const node = queue.shift()!;
    if (node === edge.from) break;
    for (const target of next.get(node) ?? []) {
      if (cameFrom.has(target)) continue;
      cameFrom.set(target, node);
      queue.push(target);
    }
  }
  // Walk back from edge.from to edge.to, then read it forwards: from → to → … → from.
  const route: string[] = [edge.from];
  for (let node = edge.from; node !== edge.to; ) {
    node = cameFrom.get(node)!;
    route.push(node);
  }
  return [edge.from, ...route.reverse()];
}
