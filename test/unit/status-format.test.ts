/** How the status page writes numbers and times (the same functions run in the page, embedded as source). */
import { describe, expect, it } from 'vitest';
import { formatAge, formatBytes, formatRate, formatSince, ratePerSecond } from '../../src/control/status-format.js';

describe('formatBytes', () => {
  it.each([
    [0, '0 B'],
    [-5, '0 B'],
    [999, '999 B'],
    [1023, '1023 B'],
    [1024, '1.00 KiB'],
    [1536, '1.50 KiB'],
    [10 * 1024 + 512, '10.5 KiB'],
    [200 * 1024, '200 KiB'],
    [5 * 1024 ** 2, '5.00 MiB'],
    [3.25 * 1024 ** 3, '3.25 GiB'],
    [2 * 1024 ** 6, '2048 PiB'],
  ])('%d → %s', (bytes, text) => expect(formatBytes(bytes)).toBe(text));
});

describe('formatAge', () => {
  it.each([
    [0, '0.0 s'],
    [0.44, '0.4 s'],
    [9.96, '10.0 s'],
    [12.7, '12 s'],
    [60, '1 m 00 s'],
    [185, '3 m 05 s'],
    [3600, '1 h 00 m'],
    [7620, '2 h 07 m'],
    [86400 * 3 + 4 * 3600 + 59, '3 d 04 h'],
    [-1, '0.0 s'],
  ])('%d s → %s', (seconds, text) => expect(formatAge(seconds)).toBe(text));
});

describe('ratePerSecond and formatRate', () => {
  it.each([
    [10, 30, 2000, 10],
    [0, 0, 2000, 0],
    [5, 6, 500, 2],
  ])('%d → %d over %d ms is %d/s', (before, after, ms, rate) => expect(ratePerSecond(before, after, ms)).toBe(rate));

  it.each([
    [null, 5, 1000],
    [undefined, 5, 1000],
    [5, undefined, 1000],
    [5, 6, 0],
    [5, 6, -10],
    [9, 3, 1000], // a counter that went back: a restarted worker, not a negative rate
  ])('no rate from %s → %s over %d ms', (before, after, ms) => expect(ratePerSecond(before, after, ms)).toBeNull());

  it.each([
    [null, '—'],
    [0, '0/s'],
    [0.5, '0.50/s'],
    [12.345, '12.3/s'],
    [1234.4, '1234/s'],
  ])('%s → %s', (rate, text) => expect(formatRate(rate)).toBe(text));
});

describe('formatSince', () => {
  const now = Date.parse('2026-12-01T12:00:00.000Z');
  it.each([
    ['2026-12-01T12:00:00.000Z', '0 s ago'],
    ['2026-12-01T11:59:15.500Z', '44 s ago'],
    ['2026-12-01T11:55:00.000Z', '5 m ago'],
    ['2026-12-01T09:30:00.000Z', '2 h 30 m ago'],
    ['2026-11-28T12:00:00.000Z', '3 d ago'],
    ['2026-12-01T12:00:05.000Z', '0 s ago'], // a clock a little ahead of the page's
    ['not a time', 'not a time'],
    [null, '—'],
  ])('%s → %s', (iso, text) => expect(formatSince(iso, now)).toBe(text));
});
