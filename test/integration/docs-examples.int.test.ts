/**
 * The documentation's try-it examples work as printed. Every indented block in README.md and docs/ that starts
 * by writing a config (`cat > NAME.yaml <<'EOF'`) and runs the router is run verbatim by bash, from a folder that
 * looks like the repository (dist/, fixtures/, node_modules/), and each `# → …` comment in it is what the output
 * must show: the comment's comma-separated parts, `…` marking an elided rest, each found in what the block printed.
 *
 * Each block runs in network, PID and mount namespaces of its own (unshare, as root): the fixed ports it names
 * (8443, 8080) cannot collide with anything on this machine or with the same block run for the other data plane,
 * and whatever it left running dies with the namespace. No request leaves loopback.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const canUnshare = process.getuid?.() === 0 && spawnSync('sh', ['-c', 'command -v unshare && command -v ip']).status === 0;

interface Example {
  readonly file: string;
  readonly line: number;
  readonly script: string;
  /** Per `# →` comment, the parts the output must contain. */
  readonly expected: readonly string[][];
}

function markdownFiles(): string[] {
  const docs = path.join(ROOT, 'docs');
  const pages = existsSync(docs) ? readdirSync(docs).filter((name) => name.endsWith('.md')).map((name) => path.join('docs', name)) : [];
  return ['README.md', ...pages];
}

/** Indented code blocks (four spaces; blank lines inside kept) that write a config and start the router. */
function examplesIn(file: string, text: string): Example[] {
  const lines = text.split('\n');
  const examples: Example[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^ {4}cat > [\w.-]+\.yaml <<'EOF'$/.test(lines[i]!)) continue;
    const start = i;
    const block: string[] = [];
    while (i < lines.length && (lines[i]!.startsWith('    ') || lines[i]!.trim() === '')) block.push(lines[i++]!.slice(4));
    while (block.length > 0 && block.at(-1)!.trim() === '') block.pop();
    const script = block.join('\n');
    if (!script.includes('node dist/cli.js')) continue;
    const expected = block
      .filter((line) => line.trimStart().startsWith('# →'))
      .map((line) =>
        line
          .trimStart()
          .slice('# →'.length)
          .split(', ')
          .map((part) => part.replace(/….*$/, '').trim())
          .filter((part) => part !== ''),
      );
    examples.push({ file, line: start + 1, script, expected });
  }
  return examples;
}

const EXAMPLES = markdownFiles().flatMap((file) => examplesIn(file, readFileSync(path.join(ROOT, file), 'utf8')));
let work = '';

beforeAll(() => {
  work = mkdtempSync(path.join(tmpdir(), 'sni-router-docs-examples-'));
  // dist's modules resolve their imports from their real path, so node_modules is found through the links too.
  for (const entry of ['dist', 'fixtures', 'node_modules', 'package.json']) symlinkSync(path.join(ROOT, entry), path.join(work, entry));
});

afterAll(() => {
  if (work !== '') rmSync(work, { recursive: true, force: true });
});

describe('documentation examples, run as printed', () => {
  it('finds the examples (the three terminate set-ups at least)', () => {
    const configs = EXAMPLES.map((example) => /^cat > ([\w.-]+)/.exec(example.script)?.[1]);
    expect(configs).toEqual(expect.arrayContaining(['terminate-demo.yaml', 'http-demo.yaml', 'redirect-demo.yaml']));
    for (const example of EXAMPLES) expect(example.expected.length, `${example.file}:${example.line} says what it prints`).toBeGreaterThan(0);
  });

  it.skipIf(!canUnshare).each(EXAMPLES.map((example) => [`${example.file}:${example.line}`, example] as const))(
    '%s prints what it says',
    (_where, example) => {
      const result = spawnSync(
        'unshare',
        ['--net', '--pid', '--fork', '--kill-child', '--mount-proc', 'bash', '-c', 'ip link set lo up && exec bash -c "$1" example 2>&1', 'sh', example.script],
        { cwd: work, encoding: 'utf8', timeout: 45_000, env: { ...process.env, NO_COLOR: '1' } },
      );
      const output = `${result.stdout}${result.stderr}`;
      for (const parts of example.expected) {
        for (const part of parts) expect(output.toLowerCase(), `"${part}" in the output of ${example.file}:${example.line}:\n${output}`).toContain(part.toLowerCase());
      }
      // Nothing the example wrote is left behind in the folder it ran in.
      expect(readdirSync(work).sort()).toEqual(['dist', 'fixtures', 'node_modules', 'package.json']);
    },
    60_000,
  );
});
