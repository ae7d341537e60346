/**
 * `GET /connections?list[&limit=N][&offset=M][&q=TEXT]`: the open connections, a page at a time. Pure: the query's
 * reading, the filter, the order and the page; where the connections come from (one router, or every worker) is
 * the run mode's business.
 *
 *   limit    connections per page: default LIST_DEFAULT_LIMIT, at most LIST_MAX_LIMIT (larger asks are capped,
 *            and the answer's `limit` says so)
 *   offset   connections to skip, in the list's order: oldest first (by `opened_at`, then by id)
 *   q        keeps connections whose id, client, listener, sni, route, backend, mode or state contains TEXT,
 *            ignoring case
 *
 * The answer: `total` (open now), `matched` (after `q`), `offset`, `limit`, `connections`.
 */
import type { ConnectionInfo } from '../data-path/connection-info.js';

export const LIST_DEFAULT_LIMIT = 100;
export const LIST_MAX_LIMIT = 1000;
/** Longer filters are refused: no name is longer than 255 characters in the list anyway. */
export const LIST_MAX_FILTER_CHARS = 256;

export interface ListQuery {
  readonly limit: number;
  readonly offset: number;
  /** Lower case; null = every connection. */
  readonly filter: string | null;
}

export type ListQueryResult = { readonly ok: true; readonly query: ListQuery } | { readonly ok: false; readonly error: string };

export interface ConnectionPage<Item extends ConnectionInfo = ConnectionInfo> {
  readonly total: number;
  readonly matched: number;
  readonly offset: number;
  readonly limit: number;
  readonly connections: readonly Item[];
}

/** Whether `?list` was asked for (`/connections?list`, `?list=1`, `?list&limit=5`). */
export function isListRequest(params: URLSearchParams): boolean {
  return params.has('list') && params.get('list') !== '0' && params.get('list') !== 'false';
}

const DECIMAL = /^[0-9]{1,15}$/;

function readCount(params: URLSearchParams, name: string, fallback: number): number | string {
  const raw = params.get(name);
  if (raw === null || raw === '') return fallback;
  if (!DECIMAL.test(raw)) return `${name} must be a whole number of 0 or more, not '${raw.slice(0, 40)}'`;
  return Number(raw);
}

export function parseListQuery(params: URLSearchParams): ListQueryResult {
  const limit = readCount(params, 'limit', LIST_DEFAULT_LIMIT);
  if (typeof limit === 'string') return { ok: false, error: limit };
  const offset = readCount(params, 'offset', 0);
  if (typeof offset === 'string') return { ok: false, error: offset };
  const q = params.get('q');
  if (q !== null && q.length > LIST_MAX_FILTER_CHARS) return { ok: false, error: `q is longer than ${LIST_MAX_FILTER_CHARS} characters` };
  const filter = q === null || q.trim() === '' ? null : q.trim().toLowerCase();
  return { ok: true, query: { limit: Math.min(limit, LIST_MAX_LIMIT), offset, filter } };
}

/** Whether the connection has `filter` (lower case) in one of its text fields. */
export function matchesFilter(connection: ConnectionInfo, filter: string | null): boolean {
  if (filter === null) return true;
  const fields = [connection.id, connection.client, connection.listener, connection.sni, connection.route, connection.backend, connection.mode, connection.state];
  return fields.some((field) => field !== null && field.toLowerCase().includes(filter));
}

/**
 * Oldest first, by the accept time each connection keeps for its life (ages move between two requests, and are
 * measured at different moments in different workers); equal times by id. So pages asked one after the other cut
 * one order, wherever the list came from.
 */
export function compareConnections(a: ConnectionInfo, b: ConnectionInfo): number {
  return a.opened_at < b.opened_at ? -1 : a.opened_at > b.opened_at ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** One page of `connections` (any order) for `query`. */
export function pageOf<Item extends ConnectionInfo>(connections: readonly Item[], query: ListQuery): ConnectionPage<Item> {
  const matched = connections.filter((connection) => matchesFilter(connection, query.filter)).sort(compareConnections);
  return {
    total: connections.length,
    matched: matched.length,
    offset: query.offset,
    limit: query.limit,
    connections: matched.slice(query.offset, query.offset + query.limit),
  };
}

/**
 * One page put together from several sources' (workers') pages, each asked for the first `offset + limit` of its
 * own matches: merged in the list's order, then cut to the page. Exact: the first offset + limit of the whole
 * list are among the first offset + limit of each part.
 */
export function mergePages<Item extends ConnectionInfo>(pages: readonly ConnectionPage<Item>[], query: ListQuery): ConnectionPage<Item> {
  const all = pages.flatMap((page) => page.connections).sort(compareConnections);
  return {
    total: pages.reduce((sum, page) => sum + page.total, 0),
    matched: pages.reduce((sum, page) => sum + page.matched, 0),
    offset: query.offset,
    limit: query.limit,
    connections: all.slice(query.offset, query.offset + query.limit),
  };
}

/** Bytes carried so far by the open connections (the closed ones are in the metrics). */
export function openBytes(connections: readonly ConnectionInfo[]): { bytesIn: number; bytesOut: number } {
  let bytesIn = 0;
  let bytesOut = 0;
  for (const connection of connections) {
    bytesIn += connection.bytes_in;
    bytesOut += connection.bytes_out;
  }
  return { bytesIn, bytesOut };
}
