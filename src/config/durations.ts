/**
 * Durations in the config file: a number and a unit, `500ms`, `5s`, `1.5s`, `10m`, `1h` (SPEC: "Durations accept
 * ms/s/m/h").
 *
 * A bare number is an error, not a guess: HAProxy reads `5` as milliseconds and nginx as seconds, so whichever we
 * picked, an operator coming from the other would be off by 1000. The message shows both spellings.
 */

export type DurationResult = { readonly ok: true; readonly ms: number } | { readonly ok: false; readonly reason: string };

const MS_PER_UNIT = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;

/** Node timers fire at once (with a warning) past 2^31-1 ms, about 24.8 days. */
export const MAX_DURATION_MS = 2 ** 31 - 1;

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;

/**
 * Reads a duration as the YAML parser gave it (string or number). `reason` finishes a sentence that starts with
 * the setting's name: "timeouts.connect <reason>".
 */
export function parseDuration(value: unknown): DurationResult {
  if (typeof value === 'number') {
    return { ok: false, reason: `is a bare number (${value}); give it a unit, such as ${value}s or ${value}ms` };
  }
  if (typeof value !== 'string') {
    return { ok: false, reason: 'must be a duration such as 500ms, 5s, 10m or 1h' };
  }
  const text = value.trim();
  const match = DURATION.exec(text);
  if (match === null) {
    return { ok: false, reason: `must be a duration such as 500ms, 5s, 10m or 1h, not '${value}'` };
  }
  const amount = Number(match[1]);
  const unit = match[2] as keyof typeof MS_PER_UNIT;
  const exact = amount * MS_PER_UNIT[unit];
  const ms = Math.round(exact); // 1.1 * 1000 is 1100.0000000000002 in floating point
  if (Math.abs(exact - ms) > 1e-6) return { ok: false, reason: `must be a whole number of milliseconds, not '${value}'` };
  if (ms === 0) return { ok: false, reason: 'must be longer than zero' };
  if (ms > MAX_DURATION_MS) return { ok: false, reason: 'is longer than the longest timer Node.js allows (about 24 days)' };
  return { ok: true, ms };
}

/** The shortest exact spelling of `ms`: 600000 → '10m', 1500 → '1500ms'. */
export function formatDuration(ms: number): string {
  for (const unit of ['h', 'm', 's'] as const) {
    const per = MS_PER_UNIT[unit];
    if (ms >= per && ms % per === 0) return `${ms / per}${unit}`;
  }
  return `${ms}ms`;
}
