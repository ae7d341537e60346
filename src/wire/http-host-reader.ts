/**
 * Pure, incremental HTTP/1.x request-head reader for plain-HTTP listeners: push the bytes of a connection as they
 * arrive, in chunks of any size, and get `need_more` until the answer is final (`request`, `not_http`,
 * `malformed` or `too_large`). No I/O, no timers: the timeout lives in the connection, as for the ClientHello.
 *
 *   request-line = method SP request-target SP HTTP-version CRLF          (RFC 9112 §3)
 *   field-line   = field-name ":" OWS field-value OWS CRLF               (RFC 9112 §5)
 *   head         = request-line *( field-line ) CRLF
 *
 * Bytes are kept as the chunks that came (a list and a byte count, copied once when the head is complete) and
 * scanned once for the blank line that ends the head, so a head dribbled one byte per segment costs O(n). The
 * method is judged as its bytes arrive: a TLS ClientHello (0x16) or any other non-token byte is `not_http` at once.
 * Bare LF line ends are accepted (RFC 9112 §2.2 allows it, as nginx and node do); everything else is strict:
 * obs-fold, a space before the colon, control bytes in a value, two Host fields, or an HTTP/1.1 request without
 * Host are `malformed` (RFC 9112 §3.2: answer 400). The reader never throws on input.
 */

export interface HttpRequestHead {
  /** As sent: `GET`, `POST`, … */
  readonly method: string;
  /** As sent: origin-form `/path?query`, absolute-form `http://host/path`, or `*`. */
  readonly target: string;
  /** `HTTP/1.1` or `HTTP/1.0`. */
  readonly version: string;
  /** The authority the request names: the absolute-form target's, else the Host field's (trimmed); null if none. */
  readonly host: string | null;
  /** Bytes of the head, blank line included, from the first byte of the stream: where the body (if any) starts. */
  readonly headersEnd: number;
}

export type HttpHeadResult =
  | { readonly kind: 'need_more' }
  | { readonly kind: 'request'; readonly request: HttpRequestHead }
  | { readonly kind: 'not_http' }
  | { readonly kind: 'too_large' }
  | { readonly kind: 'malformed'; readonly reason: HttpMalformedReason };

/** Why a head is `malformed`: a closed vocabulary, safe as a log field or metric label. */
export const HTTP_MALFORMED_REASONS = [
  'bad_request_line',
  'bad_target',
  'bad_header_line',
  'obs_fold',
  'duplicate_host',
  'missing_host',
] as const;
export type HttpMalformedReason = (typeof HTTP_MALFORMED_REASONS)[number];

export interface HttpHostReaderOptions {
  /** Cap on the head's bytes (request line, fields and blank line); past it the answer is `too_large`. */
  readonly maxHeadBytes: number;
}

const CHAR_CR = 0x0d;
const CHAR_LF = 0x0a;
const CHAR_SP = 0x20;
const CHAR_HTAB = 0x09;
const CHAR_COLON = 0x3a;
/** Longest method we wait for before calling the stream something else (the longest registered one is 17). */
const MAX_METHOD_BYTES = 32;

/** RFC 9110 §5.6.2 tchar: `!#$%&'*+-.^_\`|~`, digits, letters. */
const TOKEN_CHARS = buildTokenTable();
function buildTokenTable(): Uint8Array {
  const table = new Uint8Array(256);
  for (const char of "!#$%&'*+-.^_`|~") table[char.charCodeAt(0)] = 1;
  for (let c = 0x30; c <= 0x39; c++) table[c] = 1;
  for (let c = 0x41; c <= 0x5a; c++) table[c] = 1;
  for (let c = 0x61; c <= 0x7a; c++) table[c] = 1;
  return table;
}

/** Scan states for the end of the head. */
const IN_METHOD = 0; // first bytes: each must be a tchar until the first SP
const IN_LINE = 1; // inside a line
const AT_LINE_START = 2; // just after a LF
const AFTER_CR_AT_LINE_START = 3; // CR at the start of a line: the blank line's LF comes next
const DONE = 4;
type ScanState = typeof IN_METHOD | typeof IN_LINE | typeof AT_LINE_START | typeof AFTER_CR_AT_LINE_START | typeof DONE;

const VERSION = /^HTTP\/1\.[01]$/;
const ABSOLUTE_TARGET = /^https?:\/\/([^/?#]*)/i;

export class HttpHostReader {
  private readonly maxHeadBytes: number;
  private readonly chunks: Uint8Array[] = [];
  private heldBytes = 0;
  private state: ScanState = IN_METHOD;
  private methodBytes = 0;
  private final: HttpHeadResult | null = null;

  constructor(options: HttpHostReaderOptions) {
    this.maxHeadBytes = options.maxHeadBytes;
  }

  /** Feeds the next bytes; after a final answer, further pushes return it again. */
  push(chunk: Uint8Array): HttpHeadResult {
    if (this.final !== null) return this.final;
    const start = this.heldBytes;
    this.chunks.push(chunk);
    this.heldBytes += chunk.length;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i]!;
      const offset = start + i;
      if (offset >= this.maxHeadBytes) return this.finish({ kind: 'too_large' });
      switch (this.state) {
        case IN_METHOD:
          if (byte === CHAR_SP && this.methodBytes > 0) this.state = IN_LINE;
          else if (TOKEN_CHARS[byte] === 1 && this.methodBytes < MAX_METHOD_BYTES) this.methodBytes++;
          else return this.finish({ kind: 'not_http' });
          break;
        case IN_LINE:
          if (byte === CHAR_LF) this.state = AT_LINE_START;
          break;
        case AT_LINE_START:
          if (byte === CHAR_LF) return this.finish(this.parse(offset + 1));
          this.state = byte === CHAR_CR ? AFTER_CR_AT_LINE_START : IN_LINE;
          break;
        case AFTER_CR_AT_LINE_START:
          if (byte === CHAR_LF) return this.finish(this.parse(offset + 1));
          this.state = IN_LINE; // a CR inside a field line: parse() says what is wrong with it
          break;
      }
    }
    return { kind: 'need_more' };
  }

  private finish(result: HttpHeadResult): HttpHeadResult {
    this.final = result;
    this.state = DONE;
    this.chunks.length = 0;
    return result;
  }

  /** The head is complete at `headersEnd`: walk its lines. */
  private parse(headersEnd: number): HttpHeadResult {
    const whole = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const text = Buffer.from(whole.buffer, whole.byteOffset, headersEnd).toString('latin1');
    const lines = text.split('\n');
    // The last two entries are the blank line's remains ('' or '\r') and the '' after its LF.
    lines.length -= 2;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      lines[i] = line.endsWith('\r') ? line.slice(0, -1) : line;
    }
    const requestLine = parseRequestLine(lines[0] ?? '');
    if (requestLine.kind !== 'request_line') return requestLine;
    let host: string | null = null;
    for (let i = 1; i < lines.length; i++) {
      const field = parseFieldLine(lines[i]!);
      if (field.kind === 'malformed') return field;
      if (field.name.toLowerCase() !== 'host') continue;
      if (host !== null) return { kind: 'malformed', reason: 'duplicate_host' };
      host = field.value;
    }
    const absolute = ABSOLUTE_TARGET.exec(requestLine.target);
    // RFC 9112 §3.2.2: an absolute-form target's authority wins over the Host field.
    if (absolute !== null) host = absolute[1]!;
    if (host === null && requestLine.version === 'HTTP/1.1') return { kind: 'malformed', reason: 'missing_host' };
    const request: HttpRequestHead = {
      method: requestLine.method,
      target: requestLine.target,
      version: requestLine.version,
      host: host === null || host.length === 0 ? null : host,
      headersEnd,
    };
    return { kind: 'request', request };
  }
}

type RequestLine = { kind: 'request_line'; method: string; target: string; version: string };

function parseRequestLine(line: string): RequestLine | HttpHeadResult {
  const parts = line.split(' ');
  if (parts.length !== 3) return { kind: 'malformed', reason: 'bad_request_line' };
  const [method, target, version] = parts as [string, string, string];
  if (!VERSION.test(version)) {
    // `PRI * HTTP/2.0` (h2c prior knowledge), HTTP/0.9 or HTTP/3: not the HTTP/1.x this listener speaks.
    return version.startsWith('HTTP/') ? { kind: 'not_http' } : { kind: 'malformed', reason: 'bad_request_line' };
  }
  if (!isTargetText(target)) return { kind: 'malformed', reason: 'bad_target' };
  if (target !== '*' && !target.startsWith('/') && !ABSOLUTE_TARGET.test(target)) return { kind: 'malformed', reason: 'bad_target' };
  return { kind: 'request_line', method, target, version };
}

/** Visible ASCII only (RFC 3986 characters; anything else a client must percent-encode). */
function isTargetText(target: string): boolean {
  if (target.length === 0) return false;
  for (let i = 0; i < target.length; i++) {
    const code = target.charCodeAt(i);
    if (code <= CHAR_SP || code >= 0x7f) return false;
  }
  return true;
}

type FieldLine = { kind: 'field'; name: string; value: string };

function parseFieldLine(line: string): FieldLine | { kind: 'malformed'; reason: HttpMalformedReason } {
  const first = line.charCodeAt(0);
  if (first === CHAR_SP || first === CHAR_HTAB) return { kind: 'malformed', reason: 'obs_fold' };
  const colon = line.indexOf(':');
  if (colon <= 0) return { kind: 'malformed', reason: 'bad_header_line' };
  for (let i = 0; i < colon; i++) {
    // A space before the colon is a request-smuggling vector: RFC 9112 §5.1 says reject.
    if (TOKEN_CHARS[line.charCodeAt(i)] !== 1) return { kind: 'malformed', reason: 'bad_header_line' };
  }
  for (let i = colon + 1; i < line.length; i++) {
    const code = line.charCodeAt(i);
    if ((code < CHAR_SP && code !== CHAR_HTAB) || code === 0x7f) return { kind: 'malformed', reason: 'bad_header_line' };
  }
  return { kind: 'field', name: line.slice(0, colon), value: line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '') };
}

/** A Host value split into its name (IPv6 without brackets) and port; null when it is not `name[:port]`. */
export interface HostAndPort {
  /** Host name or IPv4 as sent (not lower-cased), or an IPv6 literal without its brackets. */
  readonly name: string;
  readonly isIpv6: boolean;
  /** The port given, or null. */
  readonly port: number | null;
}

const HOST_NAME_TEXT = /^[A-Za-z0-9._-]+$/;
const IPV6_TEXT = /^[0-9A-Fa-f:.]+$/;
const PORT_TEXT = /^[0-9]{1,5}$/;

/**
 * Splits `example.com`, `example.com:8080`, `[::1]` or `[::1]:8080`. Only host-name characters are accepted, so
 * the name is safe to write back into a `Location` header.
 */
export function splitHostAndPort(host: string): HostAndPort | null {
  let name: string;
  let portText: string | null = null;
  let isIpv6 = false;
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    if (close < 0) return null;
    name = host.slice(1, close);
    const rest = host.slice(close + 1);
    if (rest.length > 0) {
      if (!rest.startsWith(':')) return null;
      portText = rest.slice(1);
    }
    if (!IPV6_TEXT.test(name) || !name.includes(':')) return null;
    isIpv6 = true;
  } else {
    const colon = host.lastIndexOf(':');
    name = colon < 0 ? host : host.slice(0, colon);
    if (colon >= 0) portText = host.slice(colon + 1);
    if (!HOST_NAME_TEXT.test(name)) return null;
  }
  let port: number | null = null;
  if (portText !== null) {
    if (!PORT_TEXT.test(portText)) return null;
    port = Number(portText);
    if (port < 1 || port > 65_535) return null;
  }
  return { name, isIpv6, port };
}
