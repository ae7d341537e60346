/**
 * `GET /` on the admin listener: one self-contained HTML page for an operator — listeners, the routing table in
 * precedence order with each backend's health, live connections with a filter, recent reloads, and rates. It loads
 * nothing from elsewhere: inline CSS and one inline script, which reads the JSON twins (/routes, /connections,
 * /connections?list, /reloads) every REFRESH_MS and keeps showing the last good answer, marked stale, when a
 * read fails. Rates are computed here, in the page, from two successive samples of /connections' counters.
 *
 * The page is an attack surface: it runs on loopback with the operator's browser (DNS rebinding is stopped by the
 * admin guard's Host check), and it shows what hostile clients sent (server names). So:
 *   - every value from the router goes into the page as text (textContent, never innerHTML or attributes that run)
 *   - a strict Content-Security-Policy: nothing but this script (by its hash) and this style (by its hash) runs or
 *     applies, requests go to this origin only, no images, no frames, no forms, no <base>
 */
import { createHash } from 'node:crypto';
import { formatAge, formatBytes, formatRate, formatSince, ratePerSecond } from './status-format.js';

export const REFRESH_MS = 2_000;
/** Connections the page lists at most (the filter runs on the router, over all of them). */
export const PAGE_LIST_LIMIT = 200;

const STYLE = `
:root { --fg: #1f2328; --muted: #656d76; --line: #d8dee4; --bg: #f6f8fa; --card: #fff; --up: #1a7f37; --down: #cf222e;
  --warn: #9a6700; --accent: #0969da; color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--fg); background: var(--bg); }
header { display: flex; align-items: baseline; gap: 16px; flex-wrap: wrap; padding: 14px 24px; background: #24292f; color: #fff; }
header h1 { margin: 0; font-size: 18px; font-weight: 600; }
header .about { color: #d0d7de; font-size: 13px; }
header .about code { color: #fff; }
.badge { margin-left: auto; padding: 2px 10px; border-radius: 999px; font-size: 12px; font-weight: 600; background: #57606a; }
.badge.fresh { background: var(--up); }
.badge.stale { background: var(--down); }
main { padding: 16px 24px 40px; display: grid; gap: 16px; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); }
section { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; min-width: 0; }
section.wide { grid-column: 1 / -1; }
.stack { display: grid; gap: 16px; align-content: start; min-width: 0; }
h2 { margin: 0 0 10px; font-size: 15px; font-weight: 600; display: flex; align-items: baseline; gap: 8px; }
h2 small { color: var(--muted); font-weight: 400; font-size: 12px; }
table { width: 100%; border-collapse: collapse; }
th { text-align: left; font-weight: 600; color: var(--muted); font-size: 12px; border-bottom: 1px solid var(--line); padding: 4px 8px; white-space: nowrap; }
td { padding: 5px 8px; border-bottom: 1px solid #eaeef2; vertical-align: top; overflow-wrap: anywhere; }
tr:last-child td { border-bottom: 0; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
.muted { color: var(--muted); }
.empty { color: var(--muted); font-style: italic; }
.pill { display: inline-block; min-width: 42px; text-align: center; padding: 0 6px; margin-right: 6px; border-radius: 4px;
  font-size: 11px; font-weight: 700; text-transform: uppercase; color: #fff; background: var(--muted); }
.pill.up, .pill.ok { background: var(--up); }
.pill.down, .pill.failed { background: var(--down); }
.backend { display: block; padding: 1px 0; }
.backend .detail { color: var(--muted); font-size: 12px; margin-left: 6px; }
.backend .error { color: var(--down); font-size: 12px; margin-left: 6px; }
.pool-label { display: block; color: var(--muted); font-size: 12px; margin-top: 4px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(100px, 1fr)); gap: 10px; margin-bottom: 10px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; }
.card .value { font-size: 20px; font-weight: 600; font-variant-numeric: tabular-nums; }
.card .label { color: var(--muted); font-size: 12px; }
input[type=search] { width: 100%; max-width: 420px; padding: 6px 10px; margin-bottom: 8px; border: 1px solid var(--line);
  border-radius: 6px; font: inherit; }
.changes { font-size: 12.5px; }
.changes .added { color: var(--up); }
.changes .removed { color: var(--down); }
.changes .changed { color: var(--warn); }
.problem { display: -webkit-box; -webkit-line-clamp: 3; -webkit-box-orient: vertical; overflow: hidden; color: var(--down); font-size: 12.5px; }
.meta { display: block; color: var(--muted); font-size: 11.5px; }
.pill { white-space: nowrap; }
`;

/**
 * The page's script. Plain ES2020 for any current browser; the formatting functions are the tested ones
 * (status-format.ts), embedded as source. Values from the router only ever become text nodes.
 */
const SCRIPT = `
'use strict';
${formatBytes.toString()}
${formatAge.toString()}
${ratePerSecond.toString()}
${formatRate.toString()}
${formatSince.toString()}
(function () {
  var REFRESH_MS = ${REFRESH_MS};
  var LIST_LIMIT = ${PAGE_LIST_LIMIT};
  var previous = null;
  var lastGoodAt = 0;
  var timer = null;
  var inFlight = false;

  function byId(id) { return document.getElementById(id); }
  /** An element holding text (never markup). */
  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }
  function cell(content, className) {
    var td = el('td', null, className);
    if (content instanceof Node) td.appendChild(content);
    else td.textContent = content === null || content === undefined || content === '' ? '\\u2014' : String(content);
    return td;
  }
  function row(cells) {
    var tr = document.createElement('tr');
    cells.forEach(function (c) { tr.appendChild(c instanceof HTMLTableCellElement ? c : cell(c)); });
    return tr;
  }
  function fill(id, rows, columns, emptyText) {
    var body = byId(id);
    if (rows.length === 0) {
      var td = el('td', emptyText, 'empty');
      td.colSpan = columns;
      rows = [row([td])];
    }
    body.replaceChildren.apply(body, rows);
  }
  function getJson(path) {
    return fetch(path, { cache: 'no-store', credentials: 'same-origin', headers: { accept: 'application/json' } }).then(function (response) {
      if (!response.ok) throw new Error(path + ': HTTP ' + response.status);
      return response.json();
    });
  }

  function renderAbout(routes) {
    var about = byId('about');
    var parts = [];
    parts.push(el('span', 'config '));
    parts.push(el('code', routes.hash));
    if (routes.config) { parts.push(el('span', ' from ')); parts.push(el('code', routes.config)); }
    if (routes.data_plane) { parts.push(el('span', ' \\u00b7 ' + routes.data_plane + ' plane')); }
    if (routes.workers > 1) { parts.push(el('span', ' \\u00b7 ' + routes.workers + ' workers')); }
    about.replaceChildren.apply(about, parts);
  }

  function renderListeners(routes, counts) {
    var bound = routes.listeners || routes.listen.map(function (label) { return { label: label, address: null, port: null }; });
    var active = (counts && counts.activeByListener) || {};
    fill('listeners', bound.map(function (listener) {
      var address = listener.address === null ? null : (listener.address.indexOf(':') >= 0 ? '[' + listener.address + ']' : listener.address) + ':' + listener.port;
      return row([cell(listener.label, 'mono'), cell(address, 'mono'), cell(active[listener.label] || 0, 'num')]);
    }), 3, 'no listeners');
  }

  function backendLines(pool, label, now) {
    var box = document.createDocumentFragment();
    if (label) box.appendChild(el('span', label, 'pool-label'));
    var health = pool.backend_health || pool.backends.map(function (backend) { return { backend: backend, state: 'unknown', since: null, last_error: null, active: 0 }; });
    health.forEach(function (entry) {
      var line = el('span', null, 'backend');
      line.appendChild(el('span', entry.state, 'pill ' + entry.state));
      line.appendChild(el('span', entry.backend, 'mono'));
      if (entry.since) line.appendChild(el('span', 'since ' + formatSince(entry.since, now), 'detail'));
      line.appendChild(el('span', entry.active + ' open', 'detail'));
      if (entry.state === 'down' && entry.last_error) line.appendChild(el('span', entry.last_error, 'error'));
      box.appendChild(line);
    });
    return box;
  }

  function renderRoutes(routes) {
    var now = Date.now();
    var rows = routes.routes.map(function (route, index) {
      var backends = el('td');
      backends.appendChild(backendLines(route, null, now));
      if (route.alpn) Object.keys(route.alpn).forEach(function (protocol) { backends.appendChild(backendLines(route.alpn[protocol], 'alpn ' + protocol, now)); });
      if (route.fallback) backends.appendChild(backendLines(route.fallback, 'fallback', now));
      return row([cell(index + 1, 'num muted'), cell(route.name, 'mono'), cell(route.kind), cell(route.terminate ? 'terminate' : 'passthrough'), cell(route.balance), backends]);
    });
    if (routes.default) {
      var backends = el('td');
      backends.appendChild(backendLines(routes.default, null, now));
      rows.push(row([cell(rows.length + 1, 'num muted'), cell('default', 'mono muted'), cell('default'), cell('passthrough'), cell(routes.default.balance), backends]));
    }
    fill('routes', rows, 6, 'no routes');
  }

  function renderConnections(list) {
    byId('conn-count').textContent = list.matched === list.total
      ? list.total + ' open' + (list.connections.length < list.matched ? ', first ' + list.connections.length + ' shown' : '')
      : list.matched + ' of ' + list.total + ' open match' + (list.connections.length < list.matched ? ', first ' + list.connections.length + ' shown' : '');
    fill('connections', list.connections.map(function (c) {
      return row([cell(c.client, 'mono'), cell(c.listener, 'mono'), cell(c.sni, 'mono sni'), cell(c.route, 'mono'), cell(c.backend, 'mono'),
        cell(c.mode), cell(c.state), cell(formatAge(c.age_s), 'num'), cell(formatBytes(c.bytes_in), 'num'), cell(formatBytes(c.bytes_out), 'num')]);
    }), 10, byId('filter').value.trim() ? 'no open connection matches the filter' : 'no open connections');
  }

  function changeList(entry) {
    var box = el('div', null, 'changes');
    var c = entry.changes;
    var any = false;
    [['added', 'routes_added', '+'], ['removed', 'routes_removed', '\\u2212'], ['changed', 'routes_changed', '~']].forEach(function (kind) {
      var names = c[kind[1]];
      if (!names || names.length === 0) return;
      any = true;
      var more = c.counts && c.counts[kind[1]] > names.length ? ' \\u2026 (' + c.counts[kind[1]] + ' in all)' : '';
      box.appendChild(el('div', kind[2] + ' ' + names.join(', ') + more, kind[0]));
    });
    [['listeners added', 'listeners_added'], ['listeners removed', 'listeners_removed'], ['settings', 'settings_changed']].forEach(function (kind) {
      var names = c[kind[1]];
      if (!names || names.length === 0) return;
      any = true;
      box.appendChild(el('div', kind[0] + ': ' + names.join(', '), 'muted'));
    });
    if (!any) box.appendChild(el('span', 'no changes', 'muted'));
    return box;
  }

  function renderReloads(reloads) {
    var now = Date.now();
    fill('reloads', reloads.reloads.map(function (entry) {
      var what = el('td');
      what.appendChild(el('span', (entry.ok ? 'now ' : 'kept ') + entry.hash + ' \u00b7 ' + entry.duration_ms + ' ms', 'meta mono'));
      if (entry.ok) what.appendChild(changeList(entry));
      else entry.problems.forEach(function (problem) { var line = el('span', problem, 'problem'); line.title = problem; what.appendChild(line); });
      var when = el('td', formatSince(entry.at, now), 'num');
      when.title = entry.at;
      return row([when, cell(entry.source), cell(el('span', entry.ok ? 'ok' : 'failed', 'pill ' + (entry.ok ? 'ok' : 'failed'))), what]);
    }), 4, 'no reloads since start');
  }

  function renderRates(counts, at) {
    var prev = previous;
    previous = { at: at, counts: counts };
    var elapsed = prev ? at - prev.at : 0;
    var p = prev ? prev.counts : {};
    var cards = [
      ['open now', String(counts.active)],
      ['new conns', formatRate(prev ? ratePerSecond(p.accepted, counts.accepted, elapsed) : null)],
      ['bytes in', prev && typeof counts.bytesIn === 'number' ? formatBytes(ratePerSecond(p.bytesIn, counts.bytesIn, elapsed) || 0) + '/s' : '\\u2014'],
      ['bytes out', prev && typeof counts.bytesOut === 'number' ? formatBytes(ratePerSecond(p.bytesOut, counts.bytesOut, elapsed) || 0) + '/s' : '\\u2014'],
      ['accepted', String(counts.accepted)],
    ];
    var box = byId('rates');
    box.replaceChildren.apply(box, cards.map(function (card) {
      var div = el('div', null, 'card');
      div.appendChild(el('div', card[1], 'value'));
      div.appendChild(el('div', card[0], 'label'));
      return div;
    }));
    var closed = counts.closedByReason || {};
    var before = p.closedByReason || {};
    var reasons = Object.keys(closed).sort(function (a, b) { return closed[b] - closed[a]; });
    fill('closes', reasons.map(function (reason) {
      return row([cell(reason, 'mono'), cell(formatRate(prev ? ratePerSecond(before[reason] || 0, closed[reason], elapsed) : null), 'num'), cell(closed[reason], 'num')]);
    }), 3, 'no connection has closed yet');
  }

  function setFreshness(errors) {
    var badge = byId('freshness');
    if (errors.length === 0) {
      lastGoodAt = Date.now();
      badge.textContent = 'live \\u00b7 ' + new Date(lastGoodAt).toLocaleTimeString();
      badge.className = 'badge fresh';
      badge.title = '';
    } else {
      badge.textContent = 'stale' + (lastGoodAt ? ' \\u00b7 last update ' + formatSince(new Date(lastGoodAt).toISOString(), Date.now()) : '');
      badge.className = 'badge stale';
      badge.title = errors.join('; ');
    }
  }

  function refresh() {
    if (timer !== null) { clearTimeout(timer); timer = null; }
    if (inFlight) return;
    inFlight = true;
    var filter = byId('filter').value.trim();
    var listPath = '/connections?list&limit=' + LIST_LIMIT + (filter ? '&q=' + encodeURIComponent(filter) : '');
    var at = Date.now();
    Promise.allSettled([getJson('/routes'), getJson('/connections'), getJson(listPath), getJson('/reloads')]).then(function (results) {
      var errors = [];
      var value = function (i) { return results[i].status === 'fulfilled' ? results[i].value : (errors.push(String(results[i].reason && results[i].reason.message || results[i].reason)), null); };
      var routes = value(0), counts = value(1), list = value(2), reloads = value(3);
      var steps = [
        function () { if (routes) { renderAbout(routes); renderListeners(routes, counts); renderRoutes(routes); } },
        function () { if (counts) renderRates(counts, at); },
        function () { if (list) renderConnections(list); },
        function () { if (reloads) renderReloads(reloads); },
      ];
      steps.forEach(function (step) { try { step(); } catch (error) { errors.push('render: ' + error.message); } });
      setFreshness(errors);
    }).finally(function () {
      inFlight = false;
      timer = setTimeout(refresh, REFRESH_MS);
    });
  }

  // The filter is part of the page's address (/?q=TEXT), so a filtered view can be bookmarked or shared.
  var initial = new URLSearchParams(location.search).get('q');
  if (initial) byId('filter').value = initial;
  var debounce = null;
  byId('filter').addEventListener('input', function () {
    if (debounce !== null) clearTimeout(debounce);
    debounce = setTimeout(function () {
      debounce = null;
      var filter = byId('filter').value.trim();
      history.replaceState(null, '', filter ? '?q=' + encodeURIComponent(filter) : location.pathname);
      refresh();
    }, 250);
  });
  refresh();
})();
`;

const BODY = `
<header>
  <h1>sni-router</h1>
  <span class="about" id="about"></span>
  <span class="badge" id="freshness">loading\u2026</span>
</header>
<main>
  <section>
    <h2>Traffic <small>rates over the last ${REFRESH_MS / 1000} s</small></h2>
    <div class="cards" id="rates"></div>
    <table><thead><tr><th>closed by reason</th><th class="num">rate</th><th class="num">in all</th></tr></thead><tbody id="closes"></tbody></table>
  </section>
  <div class="stack">
    <section>
      <h2>Listeners</h2>
      <table><thead><tr><th>listener</th><th>bound to</th><th class="num">open</th></tr></thead><tbody id="listeners"></tbody></table>
    </section>
    <section>
      <h2>Reloads <small>the last 20, newest first</small></h2>
      <table><thead><tr><th class="num">when</th><th>asked by</th><th>result</th><th>what changed</th></tr></thead><tbody id="reloads"></tbody></table>
    </section>
  </div>
  <section class="wide">
    <h2>Routes <small>in the order a lookup tries them</small></h2>
    <table><thead><tr><th class="num">#</th><th>route</th><th>kind</th><th>mode</th><th>balance</th><th>backends</th></tr></thead><tbody id="routes"></tbody></table>
  </section>
  <section class="wide">
    <h2>Connections <small id="conn-count"></small></h2>
    <input id="filter" type="search" placeholder="filter by client, name, route, backend, state\u2026" aria-label="filter connections" autocomplete="off" spellcheck="false">
    <table><thead><tr><th>client</th><th>listener</th><th>name (SNI)</th><th>route</th><th>backend</th><th>mode</th><th>state</th><th class="num">age</th><th class="num">in</th><th class="num">out</th></tr></thead><tbody id="connections"></tbody></table>
  </section>
</main>
`;

const sha256 = (text: string): string => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

export const STATUS_PAGE_SCRIPT = SCRIPT;
export const STATUS_PAGE_STYLE = STYLE;

export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>sni-router status</title>
<style>${STYLE}</style>
</head>
<body>${BODY}<script>${SCRIPT}</script>
</body>
</html>
`;

/** Only this page's own script and style, requests to this origin only; nothing else loads, frames or submits. */
export const STATUS_PAGE_CSP = [
  "default-src 'none'",
  `script-src ${sha256(SCRIPT)}`,
  `style-src ${sha256(STYLE)}`,
  "connect-src 'self'",
  "img-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export const STATUS_PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': STATUS_PAGE_CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};
