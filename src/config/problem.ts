/**
 * One thing wrong with the config or the command line: where, and one plain sentence saying what.
 */

export interface ConfigProblem {
  readonly file: string; // path as given, or '<command line>'
  readonly line: number; // 1-based; 0 when unknown
  readonly col: number; // 1-based; 0 when unknown
  readonly message: string; // one plain sentence
}

/** The `file` of problems that come from flags. */
export const COMMAND_LINE = '<command line>';

export function formatProblem(p: ConfigProblem): string {
  const message = shortenMessage(p.message);
  return p.line > 0 ? `${p.file}:${p.line}:${p.col}: ${message}` : `${p.file}: ${message}`;
}

/** Longest value quoted whole in a problem; longer ones are cut with an ellipsis and their length. */
export const MAX_SHOWN_VALUE_CHARS = 80;
/** Longest message printed whole: a safety net for any value quoted without quoteValue. */
const MAX_MESSAGE_CHARS = 1_000;

/** A value from the config as a problem quotes it: `'value'`, or `'start…' (N characters)` when it is long. */
export function quoteValue(value: string): string {
  if (value.length <= MAX_SHOWN_VALUE_CHARS) return `'${value}'`;
  return `'${value.slice(0, MAX_SHOWN_VALUE_CHARS)}…' (${value.length} characters)`;
}

function shortenMessage(message: string): string {
  if (message.length <= MAX_MESSAGE_CHARS) return message;
  return `${message.slice(0, MAX_MESSAGE_CHARS)}… (message cut; ${message.length} characters)`;
}

/**
 * File problems first, in the order they appear in the file and then those about the whole file (line 0), then
 * command-line ones in the order found.
 */
export function sortProblems(problems: readonly ConfigProblem[]): ConfigProblem[] {
  const rank = (p: ConfigProblem): number => (p.file === COMMAND_LINE ? 1 : 0);
  const line = (p: ConfigProblem): number => (p.line > 0 ? p.line : Number.MAX_SAFE_INTEGER);
  return problems
    .map((problem, index) => ({ problem, index }))
    .sort(
      (a, b) =>
        rank(a.problem) - rank(b.problem) ||
        line(a.problem) - line(b.problem) ||
        a.problem.col - b.problem.col ||
        a.index - b.index,
    )
    .map((entry) => entry.problem);
}
