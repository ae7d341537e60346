/**
 * YAML text → a document whose every node knows its line and column, plus the syntax problems found.
 *
 * Duplicate keys are not left to the YAML library (`uniqueKeys: false`): the validator reports them itself, with
 * the key's name and where it was first given. Syntax errors stop validation (a broken tree only yields confusing
 * follow-up messages), but every syntax error in the file is reported.
 */
import { type Document, LineCounter, type Node, parseDocument, type YAMLError } from 'yaml';
import type { ConfigProblem } from './problem.js';

export interface YamlSource {
  /** The path as the operator gave it: what messages show. */
  readonly file: string;
  readonly document: Document.Parsed;
  /** Syntax errors and warnings, each at its position. Empty when the document can be validated. */
  readonly syntaxProblems: readonly ConfigProblem[];
  /** 1-based line and column of a character offset. */
  positionOf(offset: number): { readonly line: number; readonly col: number };
}

export function parseYamlSource(text: string, file: string): YamlSource {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, uniqueKeys: false, prettyErrors: false });
  const positionOf = (offset: number): { line: number; col: number } => lineCounter.linePos(offset);
  const syntaxProblems = [...document.errors, ...document.warnings].map((error) => {
    const { line, col } = positionOf(error.pos[0]);
    return { file, line, col, message: describeYamlError(error, text) };
  });
  return { file, document, syntaxProblems, positionOf };
}

/** Where a node starts (its first character), or null for nodes the parser made up (no range). */
export function startOf(node: Node | null | undefined): number | null {
  return node?.range?.[0] ?? null;
}

/** The library's message as one sentence, with a hint for the mistakes config files make most often. */
function describeYamlError(error: YAMLError, text: string): string {
  // Drop the library's closing '.' or ':', but not an escaped one ('Invalid escape sequence \.').
  const message = error.message.split('\n')[0]?.replace(/(?<!\\)[.:]\s*$/, '') ?? error.code;
  const lineText = lineAround(text, error.pos[0]);
  if (error.code === 'BAD_DQ_ESCAPE') {
    return `YAML syntax error: ${message}; inside double quotes write a regex's backslash twice ("\\\\.") or use single quotes`;
  }
  if (error.code === 'MULTIPLE_DOCS') return 'YAML syntax error: the file holds more than one document (a second ---)';
  if (/\[[0-9a-fA-F:]*:[0-9a-fA-F:]*\]:\d/.test(lineText)) {
    return `YAML syntax error: ${message}; quote IPv6 addresses, as in "[::1]:8443"`;
  }
  return `YAML syntax error: ${message}`;
}

function lineAround(text: string, offset: number): string {
  const start = text.lastIndexOf('\n', offset - 1) + 1;
  const end = text.indexOf('\n', offset);
  return text.slice(start, end === -1 ? text.length : end);
}
