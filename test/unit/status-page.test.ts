/**
 * The status page as served: self-contained (nothing loaded from elsewhere), its inline script and style allowed by
 * their hashes in the CSP and by nothing else, and a script that never turns a string into markup or code.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { STATUS_PAGE_CSP, STATUS_PAGE_HEADERS, STATUS_PAGE_HTML, STATUS_PAGE_SCRIPT, STATUS_PAGE_STYLE } from '../../src/control/status-page.js';

const hashOf = (text: string): string => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
const directives = new Map(STATUS_PAGE_CSP.split('; ').map((directive) => [directive.split(' ')[0], directive.split(' ').slice(1)]));

describe('the status page', () => {
  it('has exactly one inline script and one inline style, and the CSP allows them by hash', () => {
    const scripts = [...STATUS_PAGE_HTML.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((match) => match[1]);
    const styles = [...STATUS_PAGE_HTML.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((match) => match[1]);
    expect(scripts).toEqual([STATUS_PAGE_SCRIPT]);
    expect(styles).toEqual([STATUS_PAGE_STYLE]);
    expect(directives.get('script-src')).toEqual([hashOf(STATUS_PAGE_SCRIPT)]);
    expect(directives.get('style-src')).toEqual([hashOf(STATUS_PAGE_STYLE)]);
  });

  it('sends a CSP that lets nothing else load, run, frame or submit', () => {
    expect(directives.get('default-src')).toEqual(["'none'"]);
    expect(directives.get('connect-src')).toEqual(["'self'"]);
    for (const name of ['img-src', 'base-uri', 'form-action', 'frame-ancestors']) expect(directives.get(name), name).toEqual(["'none'"]);
    expect(STATUS_PAGE_CSP).not.toMatch(/unsafe-|data:|https?:|\*/);
    expect(STATUS_PAGE_HEADERS).toMatchObject({ 'content-type': 'text/html; charset=utf-8', 'x-content-type-options': 'nosniff', 'x-frame-options': 'DENY' });
  });

  it('loads nothing from elsewhere: no src or href, no URL, no inline handler or style attribute', () => {
    expect(STATUS_PAGE_HTML).not.toMatch(/\s(src|href|srcset|action|style|on[a-z]+)=/i);
    expect(STATUS_PAGE_HTML).not.toMatch(/https?:\/\/|\/\/[a-z]/i);
    expect(STATUS_PAGE_HTML).not.toMatch(/@import|url\(/);
  });

  it('never makes markup or code from a string', () => {
    for (const sink of ['innerHTML', 'outerHTML', 'insertAdjacentHTML', 'document.write', 'eval(', 'new Function', 'setAttribute', 'srcdoc', 'createContextualFragment']) {
      expect(STATUS_PAGE_SCRIPT.includes(sink), sink).toBe(false);
    }
    // The timers are given functions, never strings of code.
    expect(STATUS_PAGE_SCRIPT).not.toMatch(/setTimeout\(\s*['"]/);
  });

  it('is a script that parses, with the embedded formatters in it', () => {
    expect(() => new Function(STATUS_PAGE_SCRIPT)).not.toThrow();
    for (const name of ['formatBytes', 'formatAge', 'formatRate', 'formatSince', 'ratePerSecond']) expect(STATUS_PAGE_SCRIPT).toContain(`function ${name}(`);
    // Every slot of the page's own template was filled (the embedded formatters keep theirs: they are template literals).
    expect(STATUS_PAGE_HTML.replace(STATUS_PAGE_SCRIPT, '')).not.toContain('${');
    expect(STATUS_PAGE_SCRIPT).toMatch(/var REFRESH_MS = \d+;/);
  });
});
