/**
 * Every relative link of README.md and docs/*.md leads somewhere: the file (or folder) exists and, where the link
 * has a #anchor, the page has a heading with that slug. Slugs as GitHub makes them: lower case, punctuation other
 * than `-` and `_` dropped, each space a `-`, and `-1`, `-2`, … after a heading seen before.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PAGES = ['README.md', ...readdirSync(path.join(ROOT, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];

/** The page without its fenced and indented code blocks (a `# comment` there is no heading, `](x)` no link). */
function withoutCodeBlocks(text: string): string {
  return text.replace(/^```[\s\S]*?^```$/gm, '').replace(/^(?: {4}|\t).*$/gm, '');
}

/** GitHub's heading slug. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function anchorsOf(file: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const match of withoutCodeBlocks(readFileSync(file, 'utf8')).matchAll(/^#{1,6} (.+)$/gm)) {
    // Inline code in a heading keeps its text in the slug, without the backticks.
    const base = slug(match[1]!.replace(/`/g, ''));
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

/** [text](target) links whose target is not a URL (`scheme:`), outside code blocks and inline code spans. */
function relativeLinks(page: string): string[] {
  const text = withoutCodeBlocks(readFileSync(path.join(ROOT, page), 'utf8')).replace(/`[^`\n]*`/g, '``');
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((match) => match[1]!).filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target));
}

/** Why `target` (linked from `page`) leads nowhere, or null when it leads somewhere. */
function brokenBecause(page: string, target: string): string | null {
  const [file = '', anchor] = target.split('#', 2);
  const resolved = file === '' ? path.join(ROOT, page) : path.resolve(path.dirname(path.join(ROOT, page)), decodeURIComponent(file));
  if (!resolved.startsWith(ROOT)) return 'points outside the repository';
  if (!existsSync(resolved)) return `${path.relative(ROOT, resolved)} does not exist`;
  if (anchor === undefined) return null;
  if (statSync(resolved).isDirectory() || !resolved.endsWith('.md')) return `#${anchor} on something that is not a markdown page`;
  return anchorsOf(resolved).has(anchor) ? null : `${path.relative(ROOT, resolved)} has no heading with the slug '${anchor}'`;
}

describe('relative links in README.md and docs/', () => {
  it('finds the pages and their links (a reader that sees none would pass everything)', () => {
    expect(PAGES).toEqual(expect.arrayContaining(['README.md', 'docs/README.md', 'docs/configuration.md']));
    expect(PAGES.flatMap(relativeLinks).length).toBeGreaterThan(50);
  });

  it('slugs headings as GitHub does', () => {
    expect(slug('Certificates: several per route, OCSP, expiry')).toBe('certificates-several-per-route-ocsp-expiry');
    expect(slug('QUIC (HTTP/3)')).toBe('quic-http3');
    expect(slug('Pools, balancing and health')).toBe('pools-balancing-and-health');
    expect(slug('Plain-HTTP listeners: redirect and ACME')).toBe('plain-http-listeners-redirect-and-acme');
    expect(slug('max_hello_bytes and `limits`'.replace(/`/g, ''))).toBe('max_hello_bytes-and-limits');
  });

  it.each(PAGES)('every relative link of %s leads to a file and, with #anchor, to a heading', (page) => {
    const broken = relativeLinks(page)
      .map((target) => [target, brokenBecause(page, target)] as const)
      .filter(([, because]) => because !== null)
      .map(([target, because]) => `${page}: (${target}) ${because}`);
    expect(broken, `\n${broken.join('\n')}\n`).toEqual([]);
  });
});
