/**
 * `npm run demo` works as printed: every command it prints, run as printed, reaches the backend its route names;
 * every route it shows has such a command; it has --help; it removes its temporary folder however it is stopped;
 * `npm run demo` does not rebuild when dist/ is current; and the demo is not in the published package.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../helpers/clients.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DEMO = path.join(ROOT, 'dist/demo.js');
let demo: ChildProcess | null = null;
const isGroupAlive = (pgid: number): boolean => {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
};

afterEach(async () => {
  // The demo runs in a process group of its own: `npm run demo` is npm → sh → node, and killing npm alone
  // left the other two running (one pair per run of this file, until the machine was rebooted).
  const pgid = demo?.pid;
  demo = null;
  if (pgid === undefined || !isGroupAlive(pgid)) return;
  process.kill(-pgid, 'SIGKILL');
  const deadline = Date.now() + 5_000;
  while (isGroupAlive(pgid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  expect(isGroupAlive(pgid), 'every process of the demo is gone').toBe(false);
});

interface Started {
  readonly child: ChildProcess;
  readonly out: string;
  readonly err: () => string;
  readonly exited: Promise<number | null>;
}

/** Starts the demo (node dist/demo.js, or the given command) and resolves once it has printed its instructions. */
async function startDemo(command = process.execPath, args: readonly string[] = [DEMO, '--port', '0']): Promise<Started> {
  const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  demo = child;
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`demo did not print its instructions: ${out} ${err}`)), 15_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Ctrl-C')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then((code) => reject(new Error(`demo exited ${code}: ${out} ${err}`)));
  });
  return { child, out, err: () => err, exited };
}

/** The backend a name reaches, by the demo's routes: beta.test and *.beta.test go to beta, the rest to alpha. */
const backendFor = (name: string): string => (name === 'beta.test' || name.endsWith('.beta.test') ? 'beta.test' : 'alpha.test');
const escape = (text: string): string => text.replace(/[.*]/g, (c) => `\\${c}`);

describe('demo', () => {
  it('prints curl lines that work as printed', async () => {
    const { out } = await startDemo();
    expect(out).toContain('routes, in the order a lookup tries them');
    const curls = out.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('curl '));
    expect(curls.length).toBeGreaterThanOrEqual(3);
    for (const line of curls) {
      const args = line.split(/\s+/).slice(1);
      const name = /https:\/\/([^:/]+)/.exec(line)![1]!;
      const result = await run('curl', ['-sS', '--max-time', '10', ...args]);
      expect(result.stderr).toBe('');
      expect(result.stdout).toMatch(new RegExp(`^hello from backend ${escape(backendFor(name))}; PROXY v2 says client 127\\.0\\.0\\.1:\\d+, sni ${escape(name)}`));
    }
  });

  it('every route it shows has a printed command, and the openssl lines work as printed through a shell', async () => {
    const { out } = await startDemo();
    const lines = out.split('\n').map((l) => l.trim());
    const commands = lines.filter((l) => l.startsWith('curl ') || l.startsWith('openssl '));
    const names = commands.map((l) => /https:\/\/([^:/]+)|-servername (\S+)/.exec(l)!.slice(1).find(Boolean)!);
    // The table's rows: "1  exact  alpha.test  …", "-  default  (anything else)  …".
    const routes = lines.filter((l) => /^(\d+|-)\s+(exact|wildcard|regex|default)\s/.test(l)).map((l) => l.split(/\s+/));
    expect(routes.map((row) => row[1])).toEqual(['exact', 'exact', 'wildcard', 'default']);
    for (const [, kind, name] of routes) {
      const covered = names.some((sni) =>
        kind === 'exact' ? sni === name : kind === 'wildcard' ? sni.endsWith(name!.slice(1)) : sni !== undefined && backendFor(sni) === 'alpha.test' && sni !== 'alpha.test',
      );
      expect(covered, `route ${name} (${kind}) has no printed command; printed: ${names.join(', ')}`).toBe(true);
    }
    for (const line of commands.filter((l) => l.startsWith('openssl '))) {
      const result = await run('sh', ['-c', line], '', 15_000);
      const name = /-servername (\S+)/.exec(line)![1]!;
      expect(result.stderr).toMatch(new RegExp(`Peer certificate: CN = ${escape(backendFor(name))}`));
      expect(result.stderr).toContain('Verification: OK');
    }
  });

  it('--help prints the usage and exits 0 without starting anything', () => {
    const result = spawnSync(process.execPath, [DEMO, '--help'], { encoding: 'utf8', timeout: 10_000 });
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^usage: npm run demo \[-- --port N\]/);
    expect(result.stdout).toContain('Ctrl-C stops it and removes its temporary config folder');
    const bad = spawnSync(process.execPath, [DEMO, '--prot', '1'], { encoding: 'utf8', timeout: 10_000 });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^sni-router demo: unknown argument '--prot'/);
  });

  it.each(['SIGINT', 'SIGTERM'] as const)('demo left its /tmp/sni-router-demo-* folder behind: removed on %s', async (signal) => {
    // Every run left its config folder in /tmp (nothing removed it); now process 'exit' removes it, and both
    // signals end the demo through process.exit.
    const { child, out, exited } = await startDemo();
    const folder = path.dirname(/^config: (.+)$/m.exec(out)![1]!);
    expect(path.basename(folder)).toMatch(/^sni-router-demo-/);
    expect(existsSync(folder)).toBe(true);
    child.kill(signal);
    expect(await exited).toBe(0);
    expect(existsSync(folder)).toBe(false);
  });

  it('npm run demo starts the built demo without rebuilding when dist/ is current', async () => {
    const { err } = await startDemo('npm', ['run', 'demo', '--silent', '--', '--port', '0']);
    expect(err()).not.toContain('building first');
  });
});

describe('scripts/demo.mjs isDistStale', () => {
  it('is stale when dist is missing or older than a source, current otherwise', async () => {
    const { isDistStale } = (await import(path.join(ROOT, 'scripts/demo.mjs'))) as { isDistStale: (root: string) => boolean };
    const root = mkdtempSync(path.join(tmpdir(), 'sni-router-stale-'));
    try {
      mkdirSync(path.join(root, 'src/config'), { recursive: true });
      writeFileSync(path.join(root, 'src/config/a.ts'), '');
      expect(isDistStale(root)).toBe(true); // no dist at all
      mkdirSync(path.join(root, 'dist/config'), { recursive: true });
      writeFileSync(path.join(root, 'dist/demo.js'), '');
      writeFileSync(path.join(root, 'dist/config/a.js'), '');
      const then = new Date(Date.now() - 60_000);
      utimesSync(path.join(root, 'src/config/a.ts'), then, then);
      expect(isDistStale(root)).toBe(false);
      // An old output whose source was removed since (tsc never deletes it) does not make the build stale.
      writeFileSync(path.join(root, 'dist/config/removed.js'), '');
      const long = new Date(Date.now() - 3_600_000);
      utimesSync(path.join(root, 'dist/config/removed.js'), long, long);
      expect(isDistStale(root)).toBe(false);
      writeFileSync(path.join(root, 'src/config/b.ts'), ''); // a source with no output yet
      utimesSync(path.join(root, 'src/config/b.ts'), then, then);
      expect(isDistStale(root)).toBe(true);
      rmSync(path.join(root, 'src/config/b.ts'));
      const later = new Date(Date.now() + 60_000);
      utimesSync(path.join(root, 'src/config/a.ts'), later, later); // a source edited after the build
      expect(isDistStale(root)).toBe(true);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('the published package holds the router but not the demo or its scripts', () => {
    // package.json "files" ships dist/ minus dist/demo.*; scripts/demo.mjs stays in the repo only.
    const packed = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8' });
    expect(packed.status, packed.stderr).toBe(0);
    const files = (JSON.parse(packed.stdout) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((file) => file.path);
    expect(files).toContain('dist/cli.js');
    expect(files).toContain('dist/serve/router.js');
    expect(files.filter((file) => /demo/.test(file))).toEqual([]);
    expect(files.filter((file) => file.startsWith('scripts/'))).toEqual(['scripts/build-native.mjs']);
  });
});
