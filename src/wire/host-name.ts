/**
 * Server names as the route table compares them (SPEC "Routing rules").
 *
 * A host name here is letters, digits, `-`, `_` and dots; labels of 1–63 bytes; at most 253 bytes in all. Names
 * compare case-insensitively with one trailing dot removed, so the canonical form is lower case without it.
 * Anything else (NUL, spaces, `/`, raw UTF-8, `*`, empty labels) is not a host name and never matches a route.
 *
 * `normalizeServerName` runs once per connection on the SNI the client sent: one pass over the characters with a
 * lookup table, no regex, and no allocation when the name is already canonical. `describeHostNameProblem` is its
 * slow twin for config messages: same rules, but it says what is wrong.
 */

export const MAX_HOST_NAME_BYTES = 253;
export const MAX_LABEL_BYTES = 63;

const CHAR_DOT = 0x2e;
const ASCII_LIMIT = 0x80;

/** Per ASCII code: 0 not allowed, 1 allowed as is, 2 upper-case letter (allowed, needs lower-casing). */
const CLASS_INVALID = 0;
const CLASS_ALLOWED = 1;
const CLASS_UPPER = 2;
const CHAR_CLASS = buildCharClass();

function buildCharClass(): Uint8Array {
  const table = new Uint8Array(ASCII_LIMIT);
  const allow = (from: string, to: string, value: number): void => {
    for (let c = from.charCodeAt(0); c <= to.charCodeAt(0); c++) table[c] = value;
  };
  allow('a', 'z', CLASS_ALLOWED);
  allow('0', '9', CLASS_ALLOWED);
  allow('-', '-', CLASS_ALLOWED);
  allow('_', '_', CLASS_ALLOWED);
  allow('A', 'Z', CLASS_UPPER);
  return table;
}

/**
 * The canonical form of a raw server name (lower case, one trailing dot removed), or null when it is not a host
 * name. Safe on any string: the SNI may carry any bytes a client chose to send.
 */
export function normalizeServerName(raw: string): string | null {
  let end = raw.length;
  if (end > 0 && raw.charCodeAt(end - 1) === CHAR_DOT) end -= 1;
  if (end === 0 || end > MAX_HOST_NAME_BYTES) return null;

  let labelBytes = 0;
  let hasUpper = false;
  for (let i = 0; i < end; i++) {
    const code = raw.charCodeAt(i);
    if (code === CHAR_DOT) {
      if (labelBytes === 0) return null; // empty label: leading dot or two dots in a row
      labelBytes = 0;
      continue;
    }
    const charClass = code < ASCII_LIMIT ? (CHAR_CLASS[code] ?? CLASS_INVALID) : CLASS_INVALID;
    if (charClass === CLASS_INVALID) return null;
    if (charClass === CLASS_UPPER) hasUpper = true;
    labelBytes += 1;
    if (labelBytes > MAX_LABEL_BYTES) return null;
  }
  if (labelBytes === 0) return null; // ended on a dot after the one we removed: 'example.com..'

  const name = end === raw.length ? raw : raw.slice(0, end);
  return hasUpper ? name.toLowerCase() : name;
}

/**
 * Why `name` is not a host name, as the end of a sentence ("it contains a space"), or null when it is one.
 * Accepts the same names as `normalizeServerName` (one trailing dot included).
 */
export function describeHostNameProblem(name: string): string | null {
  const body = name.endsWith('.') ? name.slice(0, -1) : name;
  if (body.length === 0) return 'it is empty';
  for (const char of body) {
    const code = char.codePointAt(0) ?? 0;
    if (code === CHAR_DOT) continue;
    const charClass = code < ASCII_LIMIT ? (CHAR_CLASS[code] ?? CLASS_INVALID) : CLASS_INVALID;
    if (charClass === CLASS_INVALID) {
      return `it contains ${describeChar(char)}; only letters, digits, '-', '_' and dots are allowed`;
    }
  }
  const labels = body.split('.');
  if (labels.some((label) => label.length === 0)) return 'it has an empty label (two dots in a row, or a leading dot)';
  const long = labels.find((label) => label.length > MAX_LABEL_BYTES);
  if (long !== undefined) {
    return `its label '${long.slice(0, 16)}…' is ${long.length} bytes, over the limit of ${MAX_LABEL_BYTES}`;
  }
  if (body.length > MAX_HOST_NAME_BYTES) return `it is ${body.length} bytes long, over the limit of ${MAX_HOST_NAME_BYTES}`;
  return null;
}

function describeChar(char: string): string {
  const code = char.codePointAt(0) ?? 0;
  if (char === ' ') return 'a space';
  if (code === 0) return 'a NUL byte';
  if (code < 0x20 || code === 0x7f) return `a control character (0x${code.toString(16).padStart(2, '0')})`;
  if (code >= ASCII_LIMIT) return `'${char}', which is not ASCII (write the name in its xn-- form)`;
  return `'${char}'`;
}
