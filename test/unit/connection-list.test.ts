/** The pure half of GET /connections?list: reading the query, the filter, the order, the page, and pages merged. */
import { describe, expect, it } from 'vitest';
import {
  LIST_DEFAULT_LIMIT,
  LIST_MAX_LIMIT,
  isListRequest,
  mergePages,
  openBytes,
  pageOf,
  parseListQuery,
  type ListQuery,
} from '../../src/control/connection-list.js';
import type { ConnectionInfo } from '../../src/data-path/connection-info.js';

const connection = (id: string, age: number, fields: Partial<ConnectionInfo> = {}): ConnectionInfo => ({
  id,
  client: '127.0.0.1:50000',
  listener: ':8443',
  sni: `${id}.example`,
  route: 'default',
  backend: '10.0.0.1:443',
  mode: 'passthrough',
  state: 'splicing',
  opened_at: new Date(Date.UTC(2026, 11, 1, 12) - age * 1000).toISOString(),
  age_s: age,
  bytes_in: 10,
  bytes_out: 20,
  ...fields,
});

const query = (params: string): ListQuery => {
  const result = parseListQuery(new URLSearchParams(params));
  if (!result.ok) throw new Error(result.error);
  return result.query;
};

describe('isListRequest', () => {
  it.each([
    ['list', true],
    ['list=1', true],
    ['list&limit=5', true],
    ['', false],
    ['limit=5', false],
    ['list=0', false],
    ['list=false', false],
  ])('?%s → %s', (params, expected) => {
    expect(isListRequest(new URLSearchParams(params))).toBe(expected);
  });
});

describe('parseListQuery', () => {
  it.each([
    ['list', { limit: LIST_DEFAULT_LIMIT, offset: 0, filter: null }],
    ['list&limit=5&offset=10', { limit: 5, offset: 10, filter: null }],
    ['list&limit=0', { limit: 0, offset: 0, filter: null }],
    [`list&limit=${LIST_MAX_LIMIT + 1}`, { limit: LIST_MAX_LIMIT, offset: 0, filter: null }],
    ['list&limit=99999999', { limit: LIST_MAX_LIMIT, offset: 0, filter: null }],
    ['list&q=%20App.Example%20', { limit: LIST_DEFAULT_LIMIT, offset: 0, filter: 'app.example' }],
    ['list&q=%20%20', { limit: LIST_DEFAULT_LIMIT, offset: 0, filter: null }],
    ['list&limit=', { limit: LIST_DEFAULT_LIMIT, offset: 0, filter: null }],
  ])('?%s', (params, expected) => {
    expect(parseListQuery(new URLSearchParams(params))).toEqual({ ok: true, query: expected });
  });

  it.each(['list&limit=-1', 'list&limit=1.5', 'list&limit=ten', 'list&offset=-3', 'list&offset=0x10', 'list&limit=1e3', `list&q=${'x'.repeat(257)}`])(
    'refuses ?%s with a sentence',
    (params) => {
      const result = parseListQuery(new URLSearchParams(params));
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.error).toMatch(/^(limit|offset|q) /);
    },
  );
});

describe('pageOf', () => {
  const open = [connection('c', 1), connection('a', 30), connection('b', 5), connection('d', 5)];

  it('lists oldest first (equal ages by id), and counts the total', () => {
    const page = pageOf(open, query('list'));
    expect(page.connections.map((c) => c.id)).toEqual(['a', 'b', 'd', 'c']);
    expect(page).toMatchObject({ total: 4, matched: 4, offset: 0, limit: LIST_DEFAULT_LIMIT });
  });

  it('pages: every connection once, in order, whatever the page size', () => {
    for (let limit = 1; limit <= 5; limit++) {
      const ids: string[] = [];
      for (let offset = 0; offset < 4; offset += limit) ids.push(...pageOf(open, query(`list&limit=${limit}&offset=${offset}`)).connections.map((c) => c.id));
      expect(ids).toEqual(['a', 'b', 'd', 'c']);
    }
    expect(pageOf(open, query('list&offset=4')).connections).toEqual([]);
    expect(pageOf(open, query('list&limit=0')).connections).toEqual([]);
  });

  it('filters on the text fields, ignoring case, and says how many matched', () => {
    const mixed = [
      connection('x1', 3, { sni: 'Shop.Example.COM' }),
      connection('x2', 2, { client: '[::1]:40000', sni: null }),
      connection('x3', 1, { backend: null, route: null, state: 'peeking' }),
    ];
    const ids = (q: string): string[] => pageOf(mixed, query(`list&q=${encodeURIComponent(q)}`)).connections.map((c) => c.id);
    expect(ids('shop.example')).toEqual(['x1']);
    expect(ids('[::1]')).toEqual(['x2']);
    expect(ids('PEEKING')).toEqual(['x3']);
    expect(ids('10.0.0.1')).toEqual(['x1', 'x2']);
    expect(ids('nothing-like-it')).toEqual([]);
    expect(pageOf(mixed, query('list&q=shop'))).toMatchObject({ total: 3, matched: 1 });
  });
});

describe('mergePages', () => {
  it('gives the page one list would have given, from each part asked for its first offset + limit', () => {
    const parts = [
      [connection('w1-a', 9), connection('w1-b', 4), connection('w1-c', 1)],
      [connection('w2-a', 7), connection('w2-b', 6), connection('w2-c', 2), connection('w2-d', 0.5)],
      [],
    ];
    const whole = parts.flat();
    for (const params of ['list', 'list&limit=2', 'list&limit=2&offset=2', 'list&limit=3&offset=5', 'list&limit=1&offset=6', 'list&q=w2&limit=2&offset=1']) {
      const wanted = query(params);
      const asked: ListQuery = { ...wanted, offset: 0, limit: wanted.offset + wanted.limit };
      const merged = mergePages(parts.map((part) => pageOf(part, asked)), wanted);
      expect(merged, params).toEqual(pageOf(whole, wanted));
    }
  });
});

describe('openBytes', () => {
  it('adds up both directions', () => {
    expect(openBytes([connection('a', 1, { bytes_in: 5, bytes_out: 7 }), connection('b', 1, { bytes_in: 1, bytes_out: 2 })])).toEqual({ bytesIn: 6, bytesOut: 9 });
    expect(openBytes([])).toEqual({ bytesIn: 0, bytesOut: 0 });
  });
});
