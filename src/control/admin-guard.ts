/**
 * Who may drive the admin API. It listens on loopback, but every web page the operator's browser opens can send
 * requests to loopback too: a cross-site `POST /reload` (a "simple" request needs no CORS preflight), or a DNS
 * rebinding page whose own name resolves to 127.0.0.1 and then reads /routes. Two checks stop both:
 *
 *   Host            must name the admin listener: an IP literal (loopback or the bound one), `localhost`, or the
 *                   host the config gave. A rebinding page's requests carry its own domain name as Host. Only
 *                   for a loopback listener: one bound beyond it (`allow_non_loopback`) is reached by names
 *                   (a Service's DNS name for Prometheus) that it cannot know.
 *   Origin, Sec-Fetch-Site
 *                   browsers send these; a request from another site (Origin not this listener, Sec-Fetch-Site
 *                   `cross-site`/`same-site`) is refused. curl, Prometheus and probes send neither.
 *
 * And reloads are rate-limited (a token bucket): each reload of a big config costs real work, so a loop of
 * requests must not turn the admin API into a way of stalling the data plane.
 */
import { isIP } from 'node:net';
import type http from 'node:http';

/** Reloads by POST /reload: up to RELOAD_BURST at once, then one per RELOAD_REFILL_MS. */
export const RELOAD_BURST = 5;
export const RELOAD_REFILL_MS = 1_000;

/** The host part of a Host header value (`[::1]:9901` → `::1`, `localhost:9901` → `localhost`), lower case. */
function hostnameOf(hostHeader: string): string {
  const value = hostHeader.trim().toLowerCase();
  if (value.startsWith('[')) {
    const end = value.indexOf(']');
    return end < 0 ? value : value.slice(1, end);
  }
  const colon = value.lastIndexOf(':');
  return colon >= 0 && value.indexOf(':') === colon ? value.slice(0, colon) : value;
}

function isLoopbackHost(host: string): boolean {
  const name = host.toLowerCase().replace(/^\[|\]$/g, '');
  return name === 'localhost' || name === '::1' || name.startsWith('127.');
}

/**
 * Why the request is refused (one sentence for the 403 body), or null when it may go on. `configuredHost` is the
 * admin host as written in the config (a name like `localhost`, or an address).
 */
export function refusalOfAdminRequest(request: http.IncomingMessage, configuredHost: string): string | null {
  const host = request.headers.host;
  if (host === undefined || host === '') return 'a Host header is required';
  if (isLoopbackHost(configuredHost)) {
    const name = hostnameOf(host);
    const allowed = isIP(name) !== 0 || name === 'localhost' || name.endsWith('.localhost') || name === configuredHost.toLowerCase();
    if (!allowed) return `Host '${host.slice(0, 100)}' is not this admin listener (use its address or localhost)`;
  }
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return `browser requests from another site are refused (Sec-Fetch-Site: ${String(site).slice(0, 40)})`;
  const origin = request.headers.origin;
  if (origin !== undefined) {
    let originHost: string | null = null;
    try {
      originHost = new URL(origin).host;
    } catch {
      originHost = null;
    }
    if (originHost === null || originHost.toLowerCase() !== host.trim().toLowerCase()) return `browser requests from another origin are refused (Origin: ${origin.slice(0, 100)})`;
  }
  return null;
}

/** A token bucket: `take()` is true when a token was there, else the caller refuses (429). */
export class RateLimit {
  readonly #burst: number;
  readonly #refillMs: number;
  #tokens: number;
  #updatedAt: number;

  constructor(burst = RELOAD_BURST, refillMs = RELOAD_REFILL_MS) {
    this.#burst = burst;
    this.#refillMs = refillMs;
    this.#tokens = burst;
    this.#updatedAt = performance.now();
  }

  take(now = performance.now()): boolean {
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#updatedAt) / this.#refillMs);
    this.#updatedAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Whole seconds until the next token (for Retry-After). */
  retryAfterSeconds(): number {
    return Math.max(1, Math.ceil(((1 - this.#tokens) * this.#refillMs) / 1000));
  }
}
