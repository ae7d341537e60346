/**
 * Summarizes a V8 .cpuprofile (what `node --cpu-prof` writes): self time per function, from the sample
 * timeline (`samples` + `timeDeltas`), so a frame's figure is the time the CPU spent in that function itself.
 * Frames are merged by function name and location (one function appears as several nodes, one per call path).
 *
 * The share is given of all sampled time and of busy time ("(idle)" left out: the router waiting in epoll).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * @typedef {{ id: number, callFrame: { functionName: string, url: string, lineNumber: number, columnNumber: number },
 *             children?: number[] }} ProfileNode
 * @typedef {{ nodes: ProfileNode[], samples: number[], timeDeltas: number[], startTime: number, endTime: number }} CpuProfile
 * @typedef {{ function: string, location: string, self_ms: number, self_pct: number, busy_pct: number | null }} Frame
 */

/** A short location: path relative to `root` for files under it, `node:` built-ins as they are. */
function locate(url, lineNumber, root) {
  if (url === '') return '';
  let file = url;
  if (url.startsWith('file://')) {
    try {
      file = fileURLToPath(url);
    } catch {
      file = url;
    }
    const relative = path.relative(root, file);
    if (!relative.startsWith('..')) file = relative;
  }
  return `${file}:${lineNumber + 1}`;
}

/**
 * @param {CpuProfile} profile
 * @param {{ top?: number, root?: string }} [options]
 */
export function summarizeProfile(profile, options = {}) {
  const top = options.top ?? 15;
  const root = options.root ?? process.cwd();
  /** @type {Map<number, ProfileNode>} */
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  /** @type {Map<number, number>} self microseconds per node id */
  const selfUs = new Map();
  const { samples, timeDeltas } = profile;
  // timeDeltas[i] is the time since the previous sample; the time of sample i is credited to sample i - 1's
  // node would be more exact, but V8's own tools credit sample i with delta i + 1. Follow DevTools.
  for (let i = 0; i < samples.length; i += 1) {
    const id = /** @type {number} */ (samples[i]);
    const delta = timeDeltas[i + 1] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, delta));
  }
  /** @type {Map<string, { function: string, location: string, us: number }>} */
  const merged = new Map();
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const name = functionName === '' ? '(anonymous)' : functionName;
    const location = locate(url, lineNumber, root);
    const key = `${name}\u0000${location}`;
    const entry = merged.get(key) ?? { function: name, location, us: 0 };
    entry.us += us;
    merged.set(key, entry);
    totalUs += us;
    if (name === '(idle)') idleUs += us;
  }
  const busyUs = totalUs - idleUs;
  const frames = [...merged.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, top)
    .map((entry) => ({
      function: entry.function,
      location: entry.location,
      self_ms: Math.round(entry.us / 100) / 10,
      self_pct: totalUs > 0 ? Math.round((entry.us / totalUs) * 1000) / 10 : 0,
      busy_pct: entry.function === '(idle)' || busyUs <= 0 ? null : Math.round((entry.us / busyUs) * 1000) / 10,
    }));
  /** @type {Map<string, number>} busy time per file, to see which module the time goes to */
  const perFile = new Map();
  for (const entry of merged.values()) {
    if (entry.function === '(idle)') continue;
    const file = entry.location === '' ? entry.function : entry.location.replace(/:\d+$/, '');
    perFile.set(file, (perFile.get(file) ?? 0) + entry.us);
  }
  const files = [...perFile.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 10)
    .map(([file, us]) => ({ file, self_ms: Math.round(us / 100) / 10, busy_pct: busyUs > 0 ? Math.round((us / busyUs) * 1000) / 10 : 0 }));
  /** @type {Map<string, number>} busy time per kind of code */
  const perCategory = new Map();
  for (const entry of merged.values()) {
    const category = categorize(entry.function, entry.location);
    if (category !== null) perCategory.set(category, (perCategory.get(category) ?? 0) + entry.us);
  }
  const categories = [...perCategory.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([category, us]) => ({ category, self_ms: Math.round(us / 100) / 10, busy_pct: busyUs > 0 ? Math.round((us / busyUs) * 1000) / 10 : 0 }));
  const ownInclusive = inclusiveOfOwnCode(profile, byId, selfUs, root)
    .slice(0, top)
    .map((entry) => ({ ...entry, busy_pct: busyUs > 0 ? Math.round((entry.total_ms * 1000 / busyUs) * 1000) / 10 : 0 }));
  return { total_ms: Math.round(totalUs / 100) / 10, busy_ms: Math.round(busyUs / 100) / 10, frames, categories, files, own_inclusive: ownInclusive };
}

/**
 * Inclusive ("total") time of sni-router's own functions (dist/): the function and everything it called,
 * counted once per call path even when the function recurses.
 */
function inclusiveOfOwnCode(profile, byId, selfUs, root) {
  /** @type {Map<number, number>} */
  const parentOf = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const rootNode = profile.nodes.find((node) => !parentOf.has(node.id));
  if (!rootNode) return [];
  const keyOf = (node) => {
    const { functionName, url, lineNumber } = node.callFrame;
    return `${functionName === '' ? '(anonymous)' : functionName}\u0000${locate(url, lineNumber, root)}`;
  };
  // Post-order: inclusive time of every node.
  /** @type {Map<number, number>} */
  const inclusive = new Map();
  const order = [];
  const stack = [rootNode.id];
  while (stack.length > 0) {
    const id = /** @type {number} */ (stack.pop());
    order.push(id);
    for (const child of byId.get(id)?.children ?? []) stack.push(child);
  }
  for (let i = order.length - 1; i >= 0; i -= 1) {
    const id = /** @type {number} */ (order[i]);
    let total = selfUs.get(id) ?? 0;
    for (const child of byId.get(id)?.children ?? []) total += inclusive.get(child) ?? 0;
    inclusive.set(id, total);
  }
  // Pre-order with the keys on the current path, so a recursive call is not counted twice.
  /** @type {Map<string, number>} */
  const byKey = new Map();
  /** @type {Map<string, number>} */
  const onPath = new Map();
  /** @type {Array<{ id: number, leaving: boolean }>} */
  const walk = [{ id: rootNode.id, leaving: false }];
  while (walk.length > 0) {
    const step = /** @type {{ id: number, leaving: boolean }} */ (walk.pop());
    const node = byId.get(step.id);
    if (!node) continue;
    const key = keyOf(node);
    if (step.leaving) {
      onPath.set(key, (onPath.get(key) ?? 1) - 1);
      continue;
    }
    if ((onPath.get(key) ?? 0) === 0) byKey.set(key, (byKey.get(key) ?? 0) + (inclusive.get(step.id) ?? 0));
    onPath.set(key, (onPath.get(key) ?? 0) + 1);
    walk.push({ id: step.id, leaving: true });
    for (const child of node.children ?? []) walk.push({ id: child, leaving: false });
  }
  return [...byKey.entries()]
    .filter(([key]) => categorize('', key.split('\u0000')[1] ?? '') === 'sni-router (dist/)')
    .sort((a, b) => b[1] - a[1])
    .map(([key, us]) => {
      const [fn, location] = key.split('\u0000');
      return { function: fn ?? '', location: location ?? '', total_ms: Math.round(us / 100) / 10 };
    });
}

/** What kind of code a frame is; null for idle. */
function categorize(name, location) {
  if (name === '(idle)') return null;
  if (name === '(garbage collector)') return 'garbage collector';
  if (name === '(program)') return '(program): V8/libuv native work outside JS';
  if (location === '') return 'native bindings (syscalls: writev, write, close, connect, ...)';
  if (location.startsWith('node:')) return 'Node.js core (node:net, streams, ...)';
  const dependency = location.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (dependency) return `dependency: ${dependency[1]}`;
  if (location.startsWith('dist/') || location.includes('/dist/')) return 'sni-router (dist/)';
  return 'other';
}

/** @param {string} file */
export function summarizeProfileFile(file, options = {}) {
  return summarizeProfile(JSON.parse(readFileSync(file, 'utf8')), options);
}

/** @param {ReturnType<typeof summarizeProfile>} summary */
export function formatProfileSummary(summary, title = 'profile') {
  const lines = [`${title}: ${summary.total_ms} ms sampled, ${summary.busy_ms} ms busy (not idle)`];
  lines.push('   self ms   % all  % busy  function  (location)');
  for (const frame of summary.frames) {
    lines.push(
      `${String(frame.self_ms.toFixed(1)).padStart(10)} ${frame.self_pct.toFixed(1).padStart(7)} ${(frame.busy_pct === null ? '-' : frame.busy_pct.toFixed(1)).padStart(7)}  ${frame.function}${frame.location ? `  (${frame.location})` : ''}`,
    );
  }
  lines.push('  busy time by kind of code:');
  for (const c of summary.categories) lines.push(`${String(c.self_ms.toFixed(1)).padStart(10)} ${c.busy_pct.toFixed(1).padStart(7)}%  ${c.category}`);
  lines.push("  sni-router's own functions, inclusive time (with everything they call):");
  for (const f of summary.own_inclusive ?? []) lines.push(`${String(f.total_ms.toFixed(1)).padStart(10)} ${f.busy_pct.toFixed(1).padStart(7)}%  ${f.function}  (${f.location})`);
  lines.push('  busy time by file:');
  for (const file of summary.files) lines.push(`${String(file.self_ms.toFixed(1)).padStart(10)} ${file.busy_pct.toFixed(1).padStart(7)}%  ${file.file}`);
  return lines.join('\n');
}
