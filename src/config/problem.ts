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
  return p.line > 0 ? `${p.file}:${p.line}:${p.col}: ${p.message}` : `${p.file}: ${p.message}`;
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
