// A native plane alone in a process, so its memory can be read from /proc: routes every connection, as soon as
// it is accepted, to the backend port in argv[2]. Prints its port, then stats on "stats\n" from stdin.
import { createRequire } from 'node:module';

const addon = createRequire(import.meta.url)(process.env.SNI_ROUTER_NATIVE_ADDON || process.argv[3]);
const backendPort = Number(process.argv[2]);
const plane = addon.createPlane((events) => {
  for (const event of events) {
    if (event.kind === 'accepted') plane.route(event.connId, [{ host: '127.0.0.1', port: backendPort }], null, 2000, 30000);
  }
});
const { port } = plane.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`${JSON.stringify({ port })}\n`);
process.stdin.setEncoding('utf8');
process.stdin.on('data', (line) => {
  if (line.startsWith('stats')) process.stdout.write(`${JSON.stringify(plane.stats())}\n`);
});
process.stdin.on('end', () => {
  plane.destroy();
});
