/**
 * How the status page writes numbers and times. Each function stands alone (no imports, no outer names): the page
 * embeds their source text (`fn.toString()`) in its inline script, so the page and the unit tests run the same code.
 */

/** `0 B`, `999 B`, `1.5 KiB`, `12 MiB`, … (binary units; three significant digits at most). */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = Math.max(0, bytes);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = unit === 0 || value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${units[unit]}`;
}

/** A duration in seconds for people: `0.4 s`, `12 s`, `3 m 05 s`, `2 h 07 m`, `3 d 04 h`. */
export function formatAge(seconds: number): string {
  const s = Math.max(0, seconds);
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 60) return `${Math.floor(s)} s`;
  const whole = Math.floor(s);
  if (whole < 3600) return `${Math.floor(whole / 60)} m ${String(whole % 60).padStart(2, '0')} s`;
  if (whole < 86400) return `${Math.floor(whole / 3600)} h ${String(Math.floor((whole % 3600) / 60)).padStart(2, '0')} m`;
  return `${Math.floor(whole / 86400)} d ${String(Math.floor((whole % 86400) / 3600)).padStart(2, '0')} h`;
}

/** A per-second rate from two samples of a counter; null without a usable pair (first sample, reset, no time). */
export function ratePerSecond(before: number | null | undefined, after: number | null | undefined, elapsedMs: number): number | null {
  if (typeof before !== 'number' || typeof after !== 'number' || !(elapsedMs > 0) || after < before) return null;
  return ((after - before) * 1000) / elapsedMs;
}

/** `12.3/s`, `0/s`, `—` for no rate yet. */
export function formatRate(perSecond: number | null): string {
  if (perSecond === null) return '—';
  if (perSecond === 0) return '0/s';
  return `${perSecond >= 100 ? Math.round(perSecond) : perSecond.toFixed(perSecond >= 10 ? 1 : 2)}/s`;
}

/** How long ago an ISO time was, from `nowMs`: `12 s ago`; the time itself when unreadable. */
export function formatSince(iso: string | null, nowMs: number): string {
  if (iso === null) return '—';
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return iso;
  const seconds = Math.max(0, (nowMs - at) / 1000);
  const s = Math.floor(seconds);
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} m ago`;
  return `${Math.floor(s / 86400)} d ago`;
}
