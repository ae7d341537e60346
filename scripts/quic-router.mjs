#!/usr/bin/env node
// A standalone QUIC-by-SNI router from the built engine (dist/) and the real route table, without the rest of the
// router (no TCP, no access log, no metrics): `bench/quic-bench.js --standalone` measures the bare engine with it.
// The product is `sni-router -l ADDR --quic` (docs/quic.md):
//
//   npm run build
//   node scripts/quic-router.mjs --listen 127.0.0.1:4433 --route alpha.test=127.0.0.1:5001 [--route …]
//        [--default 127.0.0.1:5009] [--idle-ms 30000] [--hello-ms 5000]
//
// Routes take the `--route` flag's syntax and go through the same config loader. Prints `listening HOST:PORT`
// once bound, then one JSON line per flow (the flow record) on stdout; SIGTERM/SIGINT close every flow.
import { parseArgs } from 'node:util';
import { loadConfig, formatProblem } from '../dist/config/load.js';
import { RouteTable } from '../dist/routing/route-table.js';
import { QuicFlowEngine } from '../dist/data-path/quic/quic-flows.js';
import { decideByRouteTable } from '../dist/data-path/quic/route-decision.js';

const { values } = parseArgs({
  options: {
    listen: { type: 'string', default: '127.0.0.1:4433' },
    route: { type: 'string', multiple: true, default: [] },
    default: { type: 'string' },
    'idle-ms': { type: 'string' },
    'hello-ms': { type: 'string' },
    quiet: { type: 'boolean', default: false },
  },
});

const loaded = loadConfig({ listen: [values.listen], routes: values.route, defaultBackends: values.default });
if (!loaded.ok) {
  for (const problem of loaded.problems) process.stderr.write(`${formatProblem(problem)}\n`);
  process.exit(1);
}
const [address] = loaded.config.listen;
const table = RouteTable.compile(loaded.config.routes, loaded.config.defaultPool);
const limits = {};
if (values['idle-ms'] !== undefined) limits.idleTimeoutMs = Number(values['idle-ms']);
if (values['hello-ms'] !== undefined) limits.helloTimeoutMs = Number(values['hello-ms']);

let engine;
try {
  engine = await QuicFlowEngine.listen(
    { host: address.host, port: address.port, ipv6Only: address.ipv6Only },
    {
      decide: decideByRouteTable(() => table),
      limits,
      onFlowClosed: (record) => {
        if (!values.quiet) process.stdout.write(`${JSON.stringify(record)}\n`);
      },
      onError: (error) => process.stderr.write(`quic-router: ${error.message}\n`),
    },
  );
} catch (error) {
  process.stderr.write(`quic-router: cannot listen on ${values.listen}: ${error.message}\n`);
  process.exit(2);
}
const bound = engine.address;
process.stdout.write(`listening ${bound.address}:${bound.port}\n`);

const stop = () => {
  engine.close().then(() => {
    process.stderr.write(`quic-router: stopped; ${JSON.stringify(engine.stats())}\n`);
    process.exit(0);
  });
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
