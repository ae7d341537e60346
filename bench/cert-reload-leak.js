#!/usr/bin/env node
/**
 * Certificate watches across reloads: RELOADS reloads, each pointing a terminate route at a new certificate
 * folder, in one process (dist/ of the given checkout); prints inotify watches, RSS, and errors logged after the
 * old folders are deleted (waiting one stat-poll interval and a bit).
 *
 *   node bench/cert-reload-leak.js [--dist dist] [--reloads 100]
 */
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import pino from 'pino';

const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : fallback);
const dist = path.resolve(option('dist', 'dist'));
const reloads = Number(option('reloads', '100'));
const { loadConfig } = await import(pathToFileURL(path.join(dist, 'config/load.js')).href);
const { startRouter } = await import(pathToFileURL(path.join(dist, 'router.js')).href);
const certs = path.resolve('fixtures/certs');

const inotify = () => {
  let count = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (!readlinkSync(`/proc/self/fd/${fd}`).includes('inotify')) continue;
      count += readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').split('\n').filter((line) => line.startsWith('inotify wd:')).length;
    } catch {
      // gone meanwhile
    }
  }
  return count;
};
const rssMb = () => Math.round((process.memoryUsage().rss / 2 ** 20) * 10) / 10;
const heapMb = () => Math.round((process.memoryUsage().heapUsed / 2 ** 20) * 10) / 10;
const dirs = [];
const folder = () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sni-router-bench-certs-'));
  dirs.push(dir);
  copyFileSync(path.join(certs, 'router.test.pem'), path.join(dir, 'cert.pem'));
  copyFileSync(path.join(certs, 'router.test.key'), path.join(dir, 'key.pem'));
  return dir;
};
const configDir = mkdtempSync(path.join(tmpdir(), 'sni-router-bench-config-'));
const configFor = (dir) => {
  const file = path.join(configDir, 'router.yaml');
  writeFileSync(file, `listen: ["127.0.0.1:0"]\nroutes:\n  router.test:\n    backends: [127.0.0.1:9]\n    terminate: { cert: ${dir}/cert.pem, key: ${dir}/key.pem }\n`);
  const result = loadConfig({ configFile: file });
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.config;
};
let errors = 0;
const logger = pino({ level: 'info' }, new Writable({ write(chunk, _e, done) { errors += (String(chunk).match(/reload failed/g) ?? []).length; done(); } }));

const before = { inotify: inotify(), rss: rssMb(), heap: heapMb() };
const router = await startRouter(configFor(folder()), { logger });
for (let i = 0; i < reloads; i++) await router.reload(configFor(folder()));
globalThis.gc?.();
const after = { inotify: inotify(), rss: rssMb(), heap: heapMb() };
for (const dir of dirs.slice(0, -1)) rmSync(dir, { recursive: true, force: true });
await new Promise((resolve) => setTimeout(resolve, 2_600));
console.log(`${reloads} reloads to new certificate folders, ${dist}`);
console.log(`  inotify watches: ${before.inotify} before, ${after.inotify} after`);
console.log(`  RSS: ${before.rss} MB before, ${after.rss} MB after; JS heap used ${before.heap} MB before, ${after.heap} MB after (after a GC)`);
console.log(`  "reload failed" lines within 2.6 s of deleting the old folders: ${errors}`);
await router.close();
for (const dir of [...dirs, configDir]) rmSync(dir, { recursive: true, force: true });
process.exit(0);
