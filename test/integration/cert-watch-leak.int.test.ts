/**
 * Certificate watchers leaked across reloads. Every terminate setting got a ServerTlsContext with a folder watch
 * and a 2 s stat poll, kept in a process-wide map forever: 100 reloads that each pointed a route at a new folder
 * left 100 inotify watches and 100 polls, and once the old folders were deleted each poll logged "certificate
 * reload failed". Now every snapshot holds the material it uses by reference count (src/cert-store.ts) and a
 * reload releases what only the previous snapshot used, so watches return to what the served config needs; the
 * backend CA file (`backend_tls.ca`) is held and watched the same way.
 */
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { heldTlsMaterial } from '../../src/data-path/cert-store.js';
import { formatProblem, loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { openFileWatches } from '../../src/ops/file-watch.js';
import { type RunningRouter, startRouter } from '../../src/serve/router.js';
import { CA_FILE, CERT_DIR } from '../helpers/backends.js';

const RELOADS = 100;
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** inotify watches this process holds: the `inotify wd:` lines of its inotify descriptors (Linux only). */
function inotifyWatches(): number | null {
  try {
    let count = 0;
    for (const fd of readdirSync('/proc/self/fd')) {
      let target: string;
      try {
        target = readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        continue;
      }
      if (!target.includes('inotify')) continue;
      const info = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
      count += info.split('\n').filter((line) => line.startsWith('inotify wd:')).length;
    }
    return count;
  } catch {
    return null;
  }
}

/** A folder holding a copy of the router.test certificate, key and the CA (as a renewal tool would lay it out). */
function certFolder(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'sni-router-certwatch-'));
  dirs.push(dir);
  copyFileSync(path.join(CERT_DIR, 'router.test.pem'), path.join(dir, 'cert.pem'));
  copyFileSync(path.join(CERT_DIR, 'router.test.key'), path.join(dir, 'key.pem'));
  copyFileSync(CA_FILE, path.join(dir, 'ca.pem'));
  return dir;
}

function configFor(folder: string, configDir: string): Config {
  const file = path.join(configDir, 'router.yaml');
  writeFileSync(
    file,
    `listen: ["127.0.0.1:0"]
routes:
  router.test:
    backends: [127.0.0.1:9]
    terminate:
      cert: ${folder}/cert.pem
      key: ${folder}/key.pem
      backend_tls: { ca: ${folder}/ca.pem, verify: true }
`,
  );
  const result = loadConfig({ configFile: file });
  if (!result.ok) throw new Error(result.problems.map(formatProblem).join('\n'));
  return result.config;
}

function capturingLogger(): { logger: pino.Logger; lines: Array<Record<string, unknown>>; next(match: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const waiters: Array<{ match: (line: Record<string, unknown>) => boolean; resolve: (line: Record<string, unknown>) => void }> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const text of chunk.toString().split('\n')) {
        if (text.trim() === '') continue;
        const line = JSON.parse(text) as Record<string, unknown>;
        lines.push(line);
        for (const waiter of [...waiters]) {
          if (!waiter.match(line)) continue;
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
      done();
    },
  });
  return {
    logger: pino({ level: 'info' }, stream),
    lines,
    next: (match) => new Promise((resolve) => waiters.push({ match, resolve })),
  };
}

describe('certificate watchers across reloads', () => {
  it('certificate watchers leak across reloads: watches, contexts and errors return to baseline', async () => {
    const baselineWatches = openFileWatches();
    const baselineInotify = inotifyWatches();
    const configDir = mkdtempSync(path.join(tmpdir(), 'sni-router-certwatch-config-'));
    dirs.push(configDir);
    const { logger, lines, next } = capturingLogger();
    const folders = [certFolder()];
    const router: RunningRouter = await startRouter(configFor(folders[0]!, configDir), { logger });
    try {
      // One terminate context + one backend CA file, each one watch (same folder: one inotify watch each).
      expect(openFileWatches()).toBe(baselineWatches + 2);
      for (let i = 0; i < RELOADS; i++) {
        const folder = certFolder();
        folders.push(folder);
        await router.reload(configFor(folder, configDir));
      }
      expect(openFileWatches()).toBe(baselineWatches + 2);
      expect(heldTlsMaterial()).toEqual({ serverContexts: 1, backendCas: 1 });
      const inotify = inotifyWatches();
      if (baselineInotify !== null && inotify !== null) {
        // Both watch the same folder; inotify gives one descriptor per (instance, folder), at most two here.
        expect(inotify - baselineInotify).toBeLessThanOrEqual(2);
      }

      // The new folder serves.
      const port = router.listeners[0]!.port;
      const client = tls.connect({ port, host: '127.0.0.1', servername: 'router.test', ca: readFileSync(CA_FILE) });
      client.on('error', () => {});
      await once(client, 'secureConnect');
      client.destroy();

      // Delete every old folder, then break the current certificate: its failure line proves the watches ran
      // after the deletes; a leaked watch of an old folder would have logged its own failure by then.
      const current = folders.pop()!;
      for (const folder of folders) rmSync(folder, { recursive: true, force: true });
      const failed = next((line) => line.msg === 'certificate reload failed; keeping the previous certificate');
      writeFileSync(path.join(current, 'cert.pem'), 'not a certificate\n');
      const line = await failed;
      expect(line.file).toBe(path.join(current, 'cert.pem'));
      const failures = lines.filter((entry) => String(entry.msg).includes('reload failed'));
      expect(failures.map((entry) => entry.file)).toEqual([path.join(current, 'cert.pem')]);
    } finally {
      await router.close();
    }
    expect(openFileWatches()).toBe(baselineWatches);
    expect(heldTlsMaterial()).toEqual({ serverContexts: 0, backendCas: 0 });
    const after = inotifyWatches();
    if (baselineInotify !== null && after !== null) expect(after).toBe(baselineInotify);
  });

  it('backend CA files are watched like certificates: a rotated CA is read without a reload', async () => {
    const configDir = mkdtempSync(path.join(tmpdir(), 'sni-router-certwatch-config-'));
    dirs.push(configDir);
    const { logger, next } = capturingLogger();
    const folder = certFolder();
    const router = await startRouter(configFor(folder, configDir), { logger });
    try {
      const reloaded = next((line) => line.msg === 'backend CA reloaded');
      // Same CA, new inode and mtime: what a rotation tool's rename-into-place looks like.
      writeFileSync(path.join(folder, 'ca.pem.new'), readFileSync(CA_FILE));
      renameSync(path.join(folder, 'ca.pem.new'), path.join(folder, 'ca.pem'));
      expect((await reloaded).file).toBe(path.join(folder, 'ca.pem'));
    } finally {
      await router.close();
    }
  });
});
