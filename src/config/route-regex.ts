/**
 * Regex routes, compiled for V8's linear-time engine so that no server name can make one backtrack.
 *
 * V8's usual engine backtracks: `^(a+)+$` against 26 a's and a b takes seconds, and the router runs on one thread,
 * so one hostile ClientHello would freeze every connection. The experimental engine (`--enable-experimental-regexp-
 * engine`, then the `l` flag) simulates an automaton instead: time grows with name length × pattern size, never
 * exponentially. It cannot run backreferences, lookahead or lookbehind, counted repetitions that unroll past 16
 * copies, or the `i` flag (on Node 20). Patterns that need them are refused with a sentence saying which; the
 * router never falls back to the backtracking engine.
 *
 * Case-insensitivity (SPEC: names compare case-insensitively) without `i`: the name a regex sees is already lower
 * case (normalizeServerName), so folding the pattern's letters to lower case gives the same answers. Outside
 * brackets an upper-case letter becomes its lower-case twin; a bracket class gains the lower-case twin of every
 * upper-case letter it holds (worked out by V8 itself on the class alone), so `[A-Z]` reads `[A-Za-z]` and
 * `[^A-Z]` still refuses every letter, exactly as `i` would for an ASCII name.
 *
 * Every module that compiles route regexes imports this one, so the engine flag is set before any of them runs
 * (worker threads share V8's flags, worker processes import this file too).
 */
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--enable-experimental-regexp-engine');

/** `l`: V8's linear-time engine. No `g`/`y`: `test()` must not carry `lastIndex` from one connection to the next. */
export const ROUTE_REGEX_FLAGS = 'l';

/** Longest pattern (after the `~`) that `check` accepts. */
export const MAX_ROUTE_REGEX_LENGTH = 1_000;
/**
 * At most this many regex routes, and this many pattern characters in all: a name that matches no route is tested
 * against all of them (joined into one alternation), at a cost of about name length × total pattern size, so these
 * keep that miss within a few milliseconds (bench figures in docs/configuration.md) and the compiled tree within V8's limits.
 */
export const MAX_REGEX_ROUTES = 10_000;
export const MAX_REGEX_ROUTES_TOTAL_LENGTH = 500_000;
/**
 * Regexes without an anchored literal prefix (see anchoredLiteralPrefix) are tried on every connection that no
 * exact name, wildcard or prefix picks, one by one: a 253-byte name costs up to ~3 µs per pattern character of
 * them all (nested quantifiers; ~1 µs for plain ones), so they may hold this many characters together (~3 ms at
 * worst, bench/regex-routes.js).
 */
export const MAX_UNANCHORED_REGEX_TOTAL_LENGTH = 1_000;
/** More regexes than this behind one literal prefix are tried as unanchored ones (the prefix saves little). */
export const MAX_REGEXES_PER_PREFIX = 16;

/** Whether this Node.js has the linear-time engine at all; without it every regex route is refused. */
export const HAS_LINEAR_ENGINE = probeLinearEngine();

function probeLinearEngine(): boolean {
  try {
    return new RegExp('^(a+)+$', ROUTE_REGEX_FLAGS).test('ab') === false;
  } catch {
    return false;
  }
}

export type RouteRegexResult =
  | { readonly ok: true; readonly regex: RegExp; readonly folded: string }
  | { readonly ok: false; readonly reason: string };

/**
 * Compiles a regex route's source (the name without its `~`) as the route table runs it. `reason` finishes a
 * sentence that starts with "route '~…' ".
 */
export function compileRouteRegex(source: string): RouteRegexResult {
  if (!HAS_LINEAR_ENGINE) {
    return { ok: false, reason: "cannot be used: regex routes need V8's linear-time regex engine, which this Node.js does not provide" };
  }
  if (source.length > MAX_ROUTE_REGEX_LENGTH) {
    return { ok: false, reason: `is a regex of ${source.length} characters, over the limit of ${MAX_ROUTE_REGEX_LENGTH}` };
  }
  const pcreAnchor = /(?:^|[^\\])(?:\\\\)*\\([AZz])/.exec(source);
  if (pcreAnchor !== null) {
    return { ok: false, reason: `uses '\\${pcreAnchor[1] ?? ''}', a PCRE anchor that JavaScript reads as a letter; write ^ and $ instead` };
  }
  const folded = foldCase(source);
  try {
    new RegExp(folded, ROUTE_REGEX_FLAGS); // with its groups, so that a backreference is refused, not read as octal
    const runnable = withoutCaptures(folded);
    // V8 compiles on first use: compileFoldedRegex does it now, at load time, not on a connection's path.
    return { ok: true, regex: compileFoldedRegex(runnable), folded: runnable };
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    if (!detail.includes('linear time')) return { ok: false, reason: `is not a valid regular expression: ${detail}` };
    return { ok: false, reason: `cannot be run in linear time: ${describeUnsupported(source)}` };
  }
}

/**
 * Compiles a source already folded and accepted (or a join of accepted ones); throws when V8 refuses it.
 * `sticky` (for sources that start with `^`): the engine tries position 0 only, instead of starting a thread at
 * every position that dies at once on `^`; the caller resets `lastIndex` to 0 before each test.
 */
export function compileFoldedRegex(folded: string, sticky = false): RegExp {
  const regex = new RegExp(folded, sticky ? `${ROUTE_REGEX_FLAGS}y` : ROUTE_REGEX_FLAGS);
  regex.test('');
  regex.lastIndex = 0;
  return regex;
}

/** Which construct the linear-time engine refused, as the end of a sentence. */
function describeUnsupported(source: string): string {
  const unescaped = (pattern: string): RegExp => new RegExp(`(?:^|[^\\\\])(?:\\\\\\\\)*${pattern}`);
  if (unescaped('\\(\\?<?[=!]').test(source)) return 'it uses lookahead or lookbehind ((?=, (?!, (?<=, (?<!), which is not supported';
  if (unescaped('\\\\(?:[1-9]|k<)').test(source)) return 'it uses a backreference (\\1 or \\k<name>), which is not supported';
  const counted = /\{\d+(?:,\d*)?\}/.exec(source);
  if (counted !== null) {
    return `it uses the counted repetition ${counted[0]}, and the engine unrolls counts only up to 16 copies (nested ones multiply); write + or * instead (labels are already limited to 63 bytes)`;
  }
  return 'it uses a construct that only a backtracking engine can run (backreferences, lookaround, or a large counted repetition)';
}

const UPPER_A = 0x41;
const UPPER_Z = 0x5a;
const isUpper = (code: number): boolean => code >= UPPER_A && code <= UPPER_Z;

/** Escapes whose letter means something (classes, assertions, controls): kept as written. */
const MEANINGFUL_ESCAPES = new Set(['d', 'D', 'w', 'W', 's', 'S', 'b', 'B', 'n', 'r', 't', 'v', 'f', 'k']);

/** The pattern rewritten so that, without `i`, it matches a lower-case name exactly as `source` with `i` would. */
export function foldCase(source: string): string {
  let out = '';
  let i = 0;
  while (i < source.length) {
    const char = source.charAt(i);
    if (char === '\\') {
      const escape = readEscape(source, i);
      out += foldEscape(escape);
      i += escape.length;
    } else if (char === '[') {
      const end = classEnd(source, i);
      if (end === -1) return out + source.slice(i); // unterminated: let V8 report it
      out += foldClass(source.slice(i + 1, end));
      i = end + 1;
    } else if (source.startsWith('(?<', i) && source[i + 3] !== '=' && source[i + 3] !== '!') {
      const close = source.indexOf('>', i);
      const end = close === -1 ? source.length : close + 1;
      out += source.slice(i, end); // a group's name is not matched against anything: keep its case
      i = end;
    } else {
      out += isUpper(char.charCodeAt(0)) ? char.toLowerCase() : char;
      i += 1;
    }
  }
  return out;
}

/** The escape starting at `at` (a backslash): `\x41`, `\u0041`, `\cA`, or a backslash and one character. */
function readEscape(source: string, at: number): string {
  const letter = source.charAt(at + 1);
  if (letter === 'x' && /^[0-9a-fA-F]{2}$/.test(source.slice(at + 2, at + 4))) return source.slice(at, at + 4);
  if (letter === 'u' && /^[0-9a-fA-F]{4}$/.test(source.slice(at + 2, at + 6))) return source.slice(at, at + 6);
  if (letter === 'c' && /^[a-zA-Z]$/.test(source.charAt(at + 2))) return source.slice(at, at + 3);
  return source.slice(at, at + 2);
}

function foldEscape(escape: string): string {
  const letter = escape.charAt(1);
  if (letter === 'x' || letter === 'u') {
    const code = Number.parseInt(escape.slice(2), 16);
    return isUpper(code) ? `\\x${(code + 0x20).toString(16)}` : escape;
  }
  if (escape.length === 2 && isUpper(letter.charCodeAt(0)) && !MEANINGFUL_ESCAPES.has(letter)) {
    return letter.toLowerCase(); // an identity escape (`\P` is the letter P): its lower-case twin
  }
  return escape;
}

/** Index of the `]` that closes the class opened at `open`, or -1. In JavaScript `[]` is an empty class. */
function classEnd(source: string, open: number): number {
  for (let i = open + 1; i < source.length; i++) {
    const char = source.charAt(i);
    if (char === '\\') i += 1;
    else if (char === ']') return i;
  }
  return -1;
}

/** `[body]` with the lower-case twin of every upper-case letter it holds added, as `i` would match them. */
function foldClass(body: string): string {
  const isNegated = body.startsWith('^');
  const members = isNegated ? body.slice(1) : body;
  let twins = '';
  try {
    const probe = new RegExp(`[${members}]`);
    for (let code = UPPER_A; code <= UPPER_Z; code++) {
      if (probe.test(String.fromCharCode(code))) twins += String.fromCharCode(code + 0x20);
    }
  } catch {
    return `[${body}]`; // invalid: the whole pattern fails to compile and V8 says why
  }
  // A trailing unescaped '-' would turn into a range with the first twin: escape it.
  const trailingBackslashes = /\\*-$/.exec(members)?.[0].length ?? 0;
  const safe = trailingBackslashes > 0 && trailingBackslashes % 2 === 1 ? `${members.slice(0, -1)}\\-` : members;
  return `[${isNegated ? '^' : ''}${safe}${twins}]`;
}

/**
 * `(x)` and `(?<name>x)` as `(?:x)`: a route only asks whether the name matches, and the linear-time engine
 * copies capture registers along every thread it runs (~6× slower on `(a+)+b` against 253 a's). Without
 * backreferences (refused) the groups change no answer.
 */
export function withoutCaptures(source: string): string {
  let out = '';
  for (let i = 0; i < source.length; i++) {
    const char = source.charAt(i);
    if (char === '\\') {
      out += source.slice(i, i + 2);
      i += 1;
    } else if (char === '[') {
      const end = classEnd(source, i);
      if (end === -1) return out + source.slice(i);
      out += source.slice(i, end + 1);
      i = end;
    } else if (char === '(' && source.charAt(i + 1) !== '?') {
      out += '(?:';
    } else if (source.startsWith('(?<', i) && source.charAt(i + 3) !== '=' && source.charAt(i + 3) !== '!') {
      const close = source.indexOf('>', i);
      if (close === -1) return out + source.slice(i);
      out += '(?:';
      i = close;
    } else {
      out += char;
    }
  }
  return out;
}

/** Characters a literal prefix may hold: what a canonical server name can contain. */
const PREFIX_CHAR = /^[a-z0-9_-]$/;
const QUANTIFIER_START = /^[?*+{]$/;

/**
 * The literal text every match must start the name with (`^api-` → 'api-'), or '' when there is none: the source
 * does not start with `^`, has a top-level `|`, or starts with something other than name characters. The route
 * table uses it to skip, with one Map probe, regexes that cannot match, which matters because the linear-time
 * engine pays ~40 ns per alternative on every test where the backtracking one pays almost nothing.
 */
export function anchoredLiteralPrefix(folded: string): string {
  if (!folded.startsWith('^') || hasTopLevelAlternation(folded)) return '';
  let prefix = '';
  let i = 1;
  while (i < folded.length) {
    let char = folded.charAt(i);
    let width = 1;
    if (char === '\\') {
      char = folded.charAt(i + 1);
      width = 2;
      if (char !== '.' && char !== '-' && char !== '_') break;
    } else if (!PREFIX_CHAR.test(char)) {
      break;
    }
    if (QUANTIFIER_START.test(folded.charAt(i + width))) break; // `^ab?`: the b is optional
    prefix += char;
    i += width;
  }
  return prefix;
}

/** Whether `source` has a `|` outside every group and class (then `^` anchors only its first alternative). */
function hasTopLevelAlternation(source: string): boolean {
  let depth = 0;
  for (let i = 0; i < source.length; i++) {
    const char = source.charAt(i);
    if (char === '\\') i += 1;
    else if (char === '[') {
      const end = classEnd(source, i);
      if (end === -1) return true;
      i = end;
    } else if (char === '(') depth += 1;
    else if (char === ')') depth -= 1;
    else if (char === '|' && depth === 0) return true;
  }
  return false;
}

/**
 * For folded sources in file order, the literal prefix each is looked up by, or '' for those tried on every
 * miss (no prefix, or more than MAX_REGEXES_PER_PREFIX before it share theirs). RouteTable and check share it,
 * so the limit check counts exactly the regexes the table scans.
 */
export function prefixKeys(folded: readonly string[]): string[] {
  const counts = new Map<string, number>();
  return folded.map((source) => {
    const prefix = anchoredLiteralPrefix(source);
    if (prefix === '') return '';
    const count = (counts.get(prefix) ?? 0) + 1;
    counts.set(prefix, count);
    return count > MAX_REGEXES_PER_PREFIX ? '' : prefix;
  });
}
