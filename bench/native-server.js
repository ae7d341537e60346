/**
 * The native data plane alone, for the benchmark: one listener, a fixed SNI → backend table, a PROXY v2 header
 * (with the SNI as PP2_TYPE_AUTHORITY, like sni-router's -p v2) from the project's encoder, per connection. No
 * access log yet (the router's batching log lands with the wiring), so it measures the plane and the hello path.
 *
 *   node bench/native-server.js --listen 127.0.0.1:PORT --route SNI=127.0.0.1:PORT [--route ...]
 *
 * Needs `npm run build` (dist/) and the addon (npm install builds it). Stops on SIGTERM / SIGINT.
 */
import { parseArgs } from 'node:util';
import { encodeProxyHeader } from '../dist/wire/proxy-header.js';
import { loadNativeAddon } from '../dist/data-path/native/load.js';
import { NativeDataPlane } from '../dist/data-path/native/native-plane.js';

const { values } = parseArgs({ options: { listen: { type: 'string' }, route: { type: 'string', multiple: true } } });
const [listenHost, listenPort] = splitHostPort(values.listen ?? '127.0.0.1:0');
/** @type {Map<string, { host: string, port: number }[]>} */
const routes = new Map();
for (const route of values.route ?? []) {
  const [sni, target] = route.split('=');
  if (!sni || !target) throw new Error(`--route ${route}: expected SNI=HOST:PORT`);
  const [host, port] = splitHostPort(target);
  routes.set(sni.toLowerCase(), [{ host, port }]);
}

/** @param {string} text @returns {[string, number]} */
function splitHostPort(text) {
  const at = text.lastIndexOf(':');
  return [text.slice(0, at).replace(/^\[|\]$/g, ''), Number(text.slice(at + 1))];
}

const loaded = loadNativeAddon();
if ('error' in loaded) {
  process.stderr.write(`native-server: ${loaded.error}\n`);
  process.exit(2);
}
const closedByReason = /** @type {Record<string, number>} */ ({});
const plane = new NativeDataPlane(loaded.addon, {
  maxHelloBytes: 64 * 1024,
  helloTimeoutMs: 10_000,
  decide: (verdict) => {
    if (verdict.result.kind !== 'hello') return { kind: 'close', reason: verdict.result.kind === 'not_tls' ? 'not_tls' : 'hello_malformed' };
    const sni = verdict.result.hello.sni;
    const backends = sni === null ? undefined : routes.get(sni.toLowerCase());
    if (backends === undefined) return { kind: 'close', reason: 'no_route' };
    const header = encodeProxyHeader('v2', { source: verdict.client, destination: verdict.local, authority: sni });
    return { kind: 'route', backends, header, connectTimeoutMs: 5_000, idleTimeoutMs: 600_000 };
  },
  onClosed: (event) => {
    closedByReason[event.reason] = (closedByReason[event.reason] ?? 0) + 1;
  },
});
const { port } = plane.listen({ host: listenHost, port: listenPort, backlog: 4096 });
process.stdout.write(`native-server listening on ${listenHost}:${port}\n`);

function stop() {
  plane.destroy();
  process.stdout.write(`${JSON.stringify({ closed_by_reason: closedByReason })}\n`);
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
